//! Iterators and snapshots for C: `siltdb_iterator_t` wraps a locked `DbIterator`,
//! `siltdb_snapshot_t` a `Snapshot`. Neither points into the `siltdb_t` it came from (the
//! engine objects keep their own reference to the engine), so closing the database only
//! invalidates them, and destroying them afterwards stays safe.

use std::ffi::{c_char, c_int};
use std::ptr;
use std::sync::Mutex;

use siltdb_core::{DbIterator, ReadOptions, Snapshot};

use crate::args;
use crate::db::siltdb_t;
use crate::options::siltdb_readoptions_t;
use crate::status::{self, ErrPtr, SILTDB_OK};

/// An iterator over a database's keys in order. Not positioned when created.
pub struct siltdb_iterator_t {
    /// A Mutex so that concurrent misuse from two threads cannot corrupt the iterator;
    /// key/value pointers stay valid after the lock is released, until the next move.
    iter: Mutex<DbIterator>,
}

/// A consistent read view; name it in reads with `siltdb_readoptions_set_snapshot`.
pub struct siltdb_snapshot_t {
    snapshot: Snapshot,
}

/// A static empty string for the key or value of length 0 (never a dangling pointer).
const EMPTY: &[u8; 1] = b"\0";

/// Runs `f` on the iterator behind `iter`; None when `iter` is NULL or a panic happened.
///
/// # Safety
/// `iter` is NULL or a live handle from `siltdb_create_iterator`.
unsafe fn with_iter<T>(
    iter: *const siltdb_iterator_t,
    f: impl FnOnce(&mut DbIterator) -> T,
) -> Option<T> {
    // SAFETY: by this function's contract `iter` is NULL or live.
    let handle = unsafe { iter.as_ref() }?;
    status::no_unwind(|| {
        let mut guard = handle
            .iter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    })
    .ok()
}

/// A new iterator over `db` as of now, or as of the snapshot named in `ropts` (NULL means
/// the defaults). Free it with `siltdb_iter_destroy`. Returns NULL when `db` is NULL or
/// closed, or the snapshot in `ropts` was released (LevelDB's shape: no errptr).
/// The iterator outlives `siltdb_close`: it then reads as not valid and
/// `siltdb_iter_get_error` gives SILTDB_CLOSED; it must still be destroyed.
#[no_mangle]
pub unsafe extern "C" fn siltdb_create_iterator(
    db: *mut siltdb_t,
    ropts: *const siltdb_readoptions_t,
) -> *mut siltdb_iterator_t {
    status::no_unwind(|| {
        // SAFETY: header contract: handles NULL or live.
        let (db, ropts) = unsafe { (args::optional(db), args::optional(ropts)) };
        let Some(db) = db else {
            return ptr::null_mut();
        };
        let ropts = ropts.map_or_else(ReadOptions::default, |o| o.engine);
        match db.db.iter(&ropts) {
            Ok(iter) => Box::into_raw(Box::new(siltdb_iterator_t {
                iter: Mutex::new(iter),
            })),
            Err(_) => ptr::null_mut(),
        }
    })
    .unwrap_or(ptr::null_mut())
}

/// Frees an iterator; NULL is a no-op. Safe (and required) after its database was closed.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_destroy(iter: *mut siltdb_iterator_t) {
    if iter.is_null() {
        return;
    }
    let _ = status::no_unwind(|| {
        // SAFETY: header contract: from siltdb_create_iterator (Box::into_raw), freed once.
        drop(unsafe { Box::from_raw(iter) });
    });
}

/// 1 when positioned on an entry, 0 otherwise (also for NULL, after an error, and once
/// the database is closed).
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_valid(iter: *const siltdb_iterator_t) -> u8 {
    // SAFETY: header contract: NULL or a live iterator.
    u8::from(unsafe { with_iter(iter, |it| it.valid()) }.unwrap_or(false))
}

/// Positions at the first key (not valid if the database is empty). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_seek_to_first(iter: *mut siltdb_iterator_t) {
    // SAFETY: header contract: NULL or a live iterator.
    unsafe { with_iter(iter, |it| it.seek_to_first()) };
}

/// Positions at the last key. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_seek_to_last(iter: *mut siltdb_iterator_t) {
    // SAFETY: header contract: NULL or a live iterator.
    unsafe { with_iter(iter, |it| it.seek_to_last()) };
}

/// Positions at the first key >= `k` (NULL `k` with `klen` 0 is the empty key). NULL `k`
/// with `klen` > 0 leaves the iterator not valid; NULL `iter` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_seek(
    iter: *mut siltdb_iterator_t,
    k: *const c_char,
    klen: usize,
) {
    // SAFETY: header contract: `k` NULL or `klen` readable bytes.
    let target = unsafe { args::bytes(k, klen, "k") }.ok();
    // SAFETY: header contract: NULL or a live iterator.
    unsafe {
        with_iter(iter, |it| match target {
            Some(target) => it.seek(target),
            // An unusable target: move past the end rather than stay on a stale entry.
            None => {
                it.seek_to_last();
                if it.valid() {
                    it.next();
                }
            }
        })
    };
}

/// Moves to the next key; no-op when not valid or NULL.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_next(iter: *mut siltdb_iterator_t) {
    // SAFETY: header contract: NULL or a live iterator.
    unsafe {
        with_iter(iter, |it| {
            if it.valid() {
                it.next()
            }
        })
    };
}

/// Moves to the previous key; no-op when not valid or NULL.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_prev(iter: *mut siltdb_iterator_t) {
    // SAFETY: header contract: NULL or a live iterator.
    unsafe {
        with_iter(iter, |it| {
            if it.valid() {
                it.prev()
            }
        })
    };
}

/// The pointer C sees for `bytes`: the static empty string for length 0.
fn c_view(bytes: &[u8], len: &mut usize) -> *const c_char {
    *len = bytes.len();
    if bytes.is_empty() {
        EMPTY.as_ptr().cast()
    } else {
        bytes.as_ptr().cast()
    }
}

/// The current key: `*klen` bytes, not NUL-terminated, owned by the iterator and valid
/// until it moves or is destroyed. NULL (and `*klen` 0) when not valid. `klen` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_key(
    iter: *const siltdb_iterator_t,
    klen: *mut usize,
) -> *const c_char {
    // SAFETY: header contract: NULL or a live iterator; `klen` NULL or writable.
    unsafe { current(iter, klen, |it| it.key()) }
}

/// The current value, as `siltdb_iter_key`.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_value(
    iter: *const siltdb_iterator_t,
    vlen: *mut usize,
) -> *const c_char {
    // SAFETY: header contract: NULL or a live iterator; `vlen` NULL or writable.
    unsafe { current(iter, vlen, |it| it.value()) }
}

/// # Safety
/// `iter` NULL or live; `len` NULL or writable.
unsafe fn current(
    iter: *const siltdb_iterator_t,
    len: *mut usize,
    field: impl FnOnce(&DbIterator) -> &[u8],
) -> *const c_char {
    let mut n = 0;
    // The pointer outlives the lock guard: the bytes belong to the iterator and change
    // only when it moves (a `&mut` call), which the header forbids while they are used.
    // SAFETY: by this function's contract `iter` is NULL or live.
    let view = unsafe {
        with_iter(iter, |it| match it.valid() {
            true => c_view(field(it), &mut n),
            false => ptr::null(),
        })
    }
    .unwrap_or(ptr::null());
    // SAFETY: by this function's contract `len` is NULL or writable.
    if let Some(len) = unsafe { len.as_mut() } {
        *len = if view.is_null() { 0 } else { n };
    }
    view
}

/// The iterator's status: SILTDB_OK, or the error that ended the walk (SILTDB_CLOSED once
/// the database is closed), stored in `*errptr` as every call does. NULL `iter` is
/// SILTDB_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn siltdb_iter_get_error(
    iter: *const siltdb_iterator_t,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: NULL or a live iterator.
        let iter = unsafe { args::handle(iter, "iter") }?;
        let guard = iter
            .iter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.status()?;
        Ok(SILTDB_OK)
    })
}

/// Takes a snapshot of `db` as of now. NULL when `db` is NULL or closed. Release it with
/// `siltdb_release_snapshot`, also after the database was closed.
#[no_mangle]
pub unsafe extern "C" fn siltdb_create_snapshot(db: *mut siltdb_t) -> *const siltdb_snapshot_t {
    status::no_unwind(|| {
        // SAFETY: header contract: NULL or a live handle.
        match unsafe { args::optional(db) }.map(|db| db.db.snapshot()) {
            Some(Ok(snapshot)) => {
                Box::into_raw(Box::new(siltdb_snapshot_t { snapshot })).cast_const()
            }
            Some(Err(_)) | None => ptr::null(),
        }
    })
    .unwrap_or(ptr::null())
}

/// Releases a snapshot; NULL is a no-op. `db` is not used (it may already be closed and
/// freed): the snapshot knows its database. Reads still naming it fail afterwards with
/// SILTDB_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn siltdb_release_snapshot(
    db: *mut siltdb_t,
    snapshot: *const siltdb_snapshot_t,
) {
    let _ = db;
    if snapshot.is_null() {
        return;
    }
    let _ = status::no_unwind(|| {
        // SAFETY: header contract: from siltdb_create_snapshot (Box::into_raw), released
        // once; the const is LevelDB's shape, the handle was never shared as immutable data.
        drop(unsafe { Box::from_raw(snapshot.cast_mut()) });
    });
}

/// Reads with `ropts` see `snapshot` (NULL: the latest state again). The options hold only
/// the snapshot's id: once it is released, reads with them fail (SILTDB_INVALID_ARGUMENT),
/// and after its database is closed with SILTDB_CLOSED. NULL `ropts` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_readoptions_set_snapshot(
    ropts: *mut siltdb_readoptions_t,
    snapshot: *const siltdb_snapshot_t,
) {
    let _ = status::no_unwind(|| {
        // SAFETY: header contract: each NULL or live.
        let (ropts, snapshot) = unsafe { (ropts.as_mut(), snapshot.as_ref()) };
        if let Some(ropts) = ropts {
            ropts.engine.snapshot = snapshot.map(|s| s.snapshot.id());
        }
    });
}
