//! Write batches for C: `siltdb_writebatch_t` wraps a `WriteBatch`, applied atomically by
//! `siltdb_write`. Building a batch can only fail on bad arguments, so those calls return
//! a status without an errptr.

use std::ffi::{c_char, c_int};

use siltdb_core::{WriteBatch, WriteOptions};

use crate::args;
use crate::db::siltdb_t;
use crate::options::siltdb_writeoptions_t;
use crate::status::{self, ErrPtr, SILTDB_INVALID_ARGUMENT, SILTDB_OK};

/// A list of puts and deletes applied together by `siltdb_write`.
pub struct siltdb_writebatch_t {
    batch: WriteBatch,
}

/// A new empty batch. Free it with `siltdb_writebatch_destroy`.
#[no_mangle]
pub extern "C" fn siltdb_writebatch_create() -> *mut siltdb_writebatch_t {
    status::no_unwind(|| {
        Box::into_raw(Box::new(siltdb_writebatch_t {
            batch: WriteBatch::new(),
        }))
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Frees a batch; NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_writebatch_destroy(b: *mut siltdb_writebatch_t) {
    if b.is_null() {
        return;
    }
    let _ = status::no_unwind(|| {
        // SAFETY: header contract: from siltdb_writebatch_create (Box::into_raw), freed once.
        drop(unsafe { Box::from_raw(b) });
    });
}

/// Empties the batch; NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_writebatch_clear(b: *mut siltdb_writebatch_t) {
    let _ = status::no_unwind(|| {
        // SAFETY: header contract: NULL or a live batch.
        if let Some(b) = unsafe { b.as_mut() } {
            b.batch.clear();
        }
    });
}

/// Runs a batch edit; SILTDB_INVALID_ARGUMENT (and no change) on bad arguments.
fn edit(body: impl FnOnce() -> Option<()>) -> c_int {
    match status::no_unwind(body) {
        Ok(Some(())) => SILTDB_OK,
        Ok(None) => SILTDB_INVALID_ARGUMENT,
        Err(_) => status::SILTDB_INTERNAL,
    }
}

/// Adds "set `key` to `val`". SILTDB_OK, or SILTDB_INVALID_ARGUMENT for a NULL batch or a
/// NULL buffer with a nonzero length (the batch is then unchanged).
#[no_mangle]
pub unsafe extern "C" fn siltdb_writebatch_put(
    b: *mut siltdb_writebatch_t,
    key: *const c_char,
    keylen: usize,
    val: *const c_char,
    vallen: usize,
) -> c_int {
    edit(|| {
        // SAFETY: header contract: `b` NULL or live; each buffer NULL or `len` bytes.
        let (b, key, val) = unsafe {
            (
                b.as_mut()?,
                args::bytes(key, keylen, "key").ok()?,
                args::bytes(val, vallen, "val").ok()?,
            )
        };
        b.batch.put(key, val);
        Some(())
    })
}

/// Adds "remove `key`", with the same status as `siltdb_writebatch_put`.
#[no_mangle]
pub unsafe extern "C" fn siltdb_writebatch_delete(
    b: *mut siltdb_writebatch_t,
    key: *const c_char,
    keylen: usize,
) -> c_int {
    edit(|| {
        // SAFETY: header contract: `b` NULL or live; `key` NULL or `keylen` bytes.
        let (b, key) = unsafe { (b.as_mut()?, args::bytes(key, keylen, "key").ok()?) };
        b.batch.delete(key);
        Some(())
    })
}

/// Appends the edits of `source` to `destination` (`source` is unchanged; the two may not
/// be the same batch). SILTDB_INVALID_ARGUMENT when either is NULL or they are the same.
#[no_mangle]
pub unsafe extern "C" fn siltdb_writebatch_append(
    destination: *mut siltdb_writebatch_t,
    source: *const siltdb_writebatch_t,
) -> c_int {
    edit(|| {
        if std::ptr::eq(destination.cast_const(), source) {
            return None;
        }
        // SAFETY: header contract: each NULL or live; distinct (checked above).
        let (dst, src) = unsafe { (destination.as_mut()?, source.as_ref()?) };
        dst.batch.append(&src.batch);
        Some(())
    })
}

/// Applies `batch` atomically: all its edits or none. `wopts` NULL means the defaults.
/// An empty batch is SILTDB_OK.
#[no_mangle]
pub unsafe extern "C" fn siltdb_write(
    db: *mut siltdb_t,
    wopts: *const siltdb_writeoptions_t,
    batch: *const siltdb_writebatch_t,
    errptr: *mut *mut c_char,
) -> c_int {
    // SAFETY: header contract: errptr is NULL or a writable `char *` slot.
    let errptr = unsafe { ErrPtr::new(errptr) };
    status::call(errptr, || {
        // SAFETY: header contract: handles NULL or live.
        let (db, wopts, batch) = unsafe {
            (
                args::handle(db, "db")?,
                args::optional(wopts),
                args::handle(batch, "batch")?,
            )
        };
        let wopts = wopts.map_or_else(WriteOptions::default, |o| o.engine);
        db.db.write(&wopts, &batch.batch)?;
        Ok(SILTDB_OK)
    })
}
