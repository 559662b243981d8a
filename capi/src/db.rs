//! The database handle `siltdb_t` and its calls: open, put, get, delete, flush, close.
//! Each converts its arguments, calls the one matching `siltdb::Db` method, and converts
//! the result through [`status::call`].

use std::ffi::{c_char, c_int};
use std::ptr;

use siltdb_core::{Db, FlushOptions, Options, ReadOptions, WriteOptions};

use crate::args;
use crate::buffer;
use crate::options::{siltdb_options_t, siltdb_readoptions_t, siltdb_writeoptions_t};
use crate::status::{self, ErrPtr, SILTDB_NOT_FOUND, SILTDB_OK};

/// An open database. One handle may be used by many threads at once; `siltdb_close`
/// frees it, after which no thread may use it.
pub struct siltdb_t {
    db: Db,
}

/// Opens (or with create_if_missing creates) the database in directory `path` and stores
/// the new handle in `*out` (NULL on failure). `opts` NULL means the defaults.
#[no_mangle]
pub unsafe extern "C" fn siltdb_open(
    path: *const c_char,
    opts: *const siltdb_options_t,
    out: *mut *mut siltdb_t,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: `out` is NULL or a writable `siltdb_t *` slot.
        let out = unsafe { args::out(out, "out") }?;
        *out = ptr::null_mut();
        // SAFETY: header contract: `path` is NULL or NUL-terminated; `opts` NULL or live.
        let (path, opts) = unsafe { (args::path(path)?, args::optional(opts)) };
        let options = match opts {
            Some(opts) => opts.to_engine()?,
            None => Options::default(),
        };
        let db = Db::open(path, options)?;
        *out = Box::into_raw(Box::new(siltdb_t { db }));
        Ok(SILTDB_OK)
    })
}

/// Sets `key` to `val`. `wopts` NULL means the defaults (no sync).
#[no_mangle]
pub unsafe extern "C" fn siltdb_put(
    db: *mut siltdb_t,
    wopts: *const siltdb_writeoptions_t,
    key: *const c_char,
    keylen: usize,
    val: *const c_char,
    vallen: usize,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: handles NULL or live; each buffer NULL or `len` bytes.
        let (db, wopts, key, val) = unsafe {
            (
                args::handle(db, "db")?,
                args::optional(wopts),
                args::bytes(key, keylen, "key")?,
                args::bytes(val, vallen, "val")?,
            )
        };
        db.db.put(&write_options(wopts), key, val)?;
        Ok(SILTDB_OK)
    })
}

/// Reads `key`. SILTDB_OK: `*val` is a new buffer of `*vallen` bytes (plus a NUL not
/// counted), to free with `siltdb_free`, non-NULL even for an empty value.
/// SILTDB_NOT_FOUND: `*val` is NULL and `*errptr` is left alone. `ropts` NULL means the
/// defaults.
#[no_mangle]
pub unsafe extern "C" fn siltdb_get(
    db: *mut siltdb_t,
    ropts: *const siltdb_readoptions_t,
    key: *const c_char,
    keylen: usize,
    val: *mut *mut c_char,
    vallen: *mut usize,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: out-pointers NULL or writable, distinct.
        let (val, vallen) = unsafe { (args::out(val, "val")?, args::out(vallen, "vallen")?) };
        *val = ptr::null_mut();
        *vallen = 0;
        // SAFETY: header contract: handles NULL or live; `key` NULL or `keylen` bytes.
        let (db, ropts, key) = unsafe {
            (
                args::handle(db, "db")?,
                args::optional(ropts),
                args::bytes(key, keylen, "key")?,
            )
        };
        let ropts = ropts.map_or_else(ReadOptions::default, |o| o.engine);
        match db.db.get(&ropts, key)? {
            None => Ok(SILTDB_NOT_FOUND),
            Some(value) => {
                *val = buffer::malloc_value(&value)?;
                *vallen = value.len();
                Ok(SILTDB_OK)
            }
        }
    })
}

/// Removes `key`; removing a missing key is SILTDB_OK. `wopts` NULL means the defaults.
#[no_mangle]
pub unsafe extern "C" fn siltdb_delete(
    db: *mut siltdb_t,
    wopts: *const siltdb_writeoptions_t,
    key: *const c_char,
    keylen: usize,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: handles NULL or live; `key` NULL or `keylen` bytes.
        let (db, wopts, key) = unsafe {
            (
                args::handle(db, "db")?,
                args::optional(wopts),
                args::bytes(key, keylen, "key")?,
            )
        };
        db.db.delete(&write_options(wopts), key)?;
        Ok(SILTDB_OK)
    })
}

/// Writes the in-memory buffer out to a table file. With `wait` nonzero, returns once the
/// table is installed; with 0, once the flush is scheduled.
#[no_mangle]
pub unsafe extern "C" fn siltdb_flush(
    db: *mut siltdb_t,
    wait: u8,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: `db` is NULL or a live handle.
        let db = unsafe { args::handle(db, "db") }?;
        db.db.flush(&FlushOptions { wait: wait != 0 })?;
        Ok(SILTDB_OK)
    })
}

/// Waits for background work, syncs the log, releases the LOCK and frees `db` — also when
/// it reports an error. NULL is a no-op returning SILTDB_OK. No other thread may be using
/// `db` during or after the call.
#[no_mangle]
pub unsafe extern "C" fn siltdb_close(db: *mut siltdb_t, errptr: *mut *mut c_char) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        if db.is_null() {
            return Ok(SILTDB_OK);
        }
        // SAFETY: header contract: from siltdb_open (Box::into_raw), closed once, and no
        // other thread is using it; it is freed when `handle` drops, even on error.
        let handle = unsafe { Box::from_raw(db) };
        handle.db.close()?;
        Ok(SILTDB_OK)
    })
}

fn write_options(wopts: Option<&siltdb_writeoptions_t>) -> WriteOptions {
    wopts.map_or_else(WriteOptions::default, |o| o.engine)
}
