//! Whole-database maintenance for C: `siltdb_compact_range`, `siltdb_approximate_sizes`,
//! and the calls on a closed database's directory, `siltdb_destroy_db` and
//! `siltdb_repair_db`.

use std::ffi::{c_char, c_int};

use siltdb_core::Options;

use crate::args;
use crate::db::siltdb_t;
use crate::options::siltdb_options_t;
use crate::status::{self, ErrPtr, Failure, SILTDB_OK};

/// An optional range end: NULL is the open end (whatever the length), else `len` bytes.
///
/// # Safety
/// A non-NULL `ptr` points to `len` readable bytes.
unsafe fn range_end<'a>(
    ptr: *const c_char,
    len: usize,
    name: &str,
) -> Result<Option<&'a [u8]>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: by this function's contract.
    unsafe { args::bytes(ptr, len, name) }.map(Some)
}

/// Flushes the memtable, then compacts every table holding keys in [`start`, `limit`]:
/// deleted and overwritten data there is dropped. NULL `start` means from the first key,
/// NULL `limit` to the last. Returns once done (SILTDB_BUSY from inside a listener).
#[no_mangle]
pub unsafe extern "C" fn siltdb_compact_range(
    db: *mut siltdb_t,
    start: *const c_char,
    startlen: usize,
    limit: *const c_char,
    limitlen: usize,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: `db` NULL or live; buffers NULL or `len` bytes.
        let (db, start, limit) = unsafe {
            (
                args::handle(db, "db")?,
                range_end(start, startlen, "start")?,
                range_end(limit, limitlen, "limit")?,
            )
        };
        db.db.compact_range(start, limit)?;
        Ok(SILTDB_OK)
    })
}

/// For each of the `num_ranges` ranges [start, limit), stores in `sizes[i]` the approximate
/// bytes of table files holding its keys (data only in the memtable is not counted).
/// The arrays hold `num_ranges` entries each; they may be NULL when `num_ranges` is 0.
#[no_mangle]
pub unsafe extern "C" fn siltdb_approximate_sizes(
    db: *mut siltdb_t,
    num_ranges: c_int,
    range_start_key: *const *const c_char,
    range_start_key_len: *const usize,
    range_limit_key: *const *const c_char,
    range_limit_key_len: *const usize,
    sizes: *mut u64,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: `db` NULL or live.
        let db = unsafe { args::handle(db, "db") }?;
        let n = usize::try_from(num_ranges)
            .map_err(|_| Failure::invalid_argument(format!("num_ranges is {num_ranges}")))?;
        // SAFETY: header contract: each array NULL or `num_ranges` entries.
        let (starts, start_lens, limits, limit_lens, sizes) = unsafe {
            (
                array(range_start_key, n, "range_start_key")?,
                array(range_start_key_len, n, "range_start_key_len")?,
                array(range_limit_key, n, "range_limit_key")?,
                array(range_limit_key_len, n, "range_limit_key_len")?,
                array_mut(sizes, n, "sizes")?,
            )
        };
        let mut ranges = Vec::with_capacity(n);
        for i in 0..n {
            // SAFETY: header contract: each key NULL or its length's bytes.
            let range = unsafe {
                (
                    args::bytes(starts[i], start_lens[i], "range_start_key[i]")?,
                    args::bytes(limits[i], limit_lens[i], "range_limit_key[i]")?,
                )
            };
            ranges.push(range);
        }
        let found = db.db.approximate_sizes(&ranges)?;
        for (slot, size) in sizes.iter_mut().zip(found) {
            *slot = size;
        }
        Ok(SILTDB_OK)
    })
}

/// # Safety
/// `ptr` NULL or `n` readable `T`s.
unsafe fn array<'a, T>(ptr: *const T, n: usize, name: &str) -> Result<&'a [T], Failure> {
    match (ptr.is_null(), n) {
        (_, 0) => Ok(&[]),
        (true, _) => Err(Failure::invalid_argument(format!("{name} is NULL"))),
        // SAFETY: by this function's contract.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts(ptr, n) }),
    }
}

/// # Safety
/// `ptr` NULL or `n` writable, unaliased `T`s.
unsafe fn array_mut<'a, T>(ptr: *mut T, n: usize, name: &str) -> Result<&'a mut [T], Failure> {
    match (ptr.is_null(), n) {
        (_, 0) => Ok(&mut []),
        (true, _) => Err(Failure::invalid_argument(format!("{name} is NULL"))),
        // SAFETY: by this function's contract.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts_mut(ptr, n) }),
    }
}

/// Options for a directory-level call: `opts`, or the defaults when NULL.
fn engine_options(opts: Option<&siltdb_options_t>) -> Result<Options, Failure> {
    opts.map_or_else(|| Ok(Options::default()), siltdb_options_t::to_engine)
}

/// Deletes the database in directory `name` (its files, then the directory if empty).
/// Files of other names are left alone. A missing directory is SILTDB_OK; SILTDB_BUSY
/// while the database is open.
#[no_mangle]
pub unsafe extern "C" fn siltdb_destroy_db(
    opts: *const siltdb_options_t,
    name: *const c_char,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: `opts` NULL or live; `name` NULL or NUL-terminated.
        let (opts, path) = unsafe { (args::optional(opts), args::path(name)?) };
        siltdb_core::destroy_db(path, &engine_options(opts)?)?;
        Ok(SILTDB_OK)
    })
}

/// Rebuilds the MANIFEST of the database in directory `name` from the table and log files
/// found there, keeping whatever data can be read (unreadable files move to `name/lost/`).
/// SILTDB_BUSY while the database is open.
#[no_mangle]
pub unsafe extern "C" fn siltdb_repair_db(
    opts: *const siltdb_options_t,
    name: *const c_char,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: `opts` NULL or live; `name` NULL or NUL-terminated.
        let (opts, path) = unsafe { (args::optional(opts), args::path(name)?) };
        siltdb_core::repair_db(path, &engine_options(opts)?)?;
        Ok(SILTDB_OK)
    })
}
