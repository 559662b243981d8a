//! The C face of siltdb: `libsiltdb.so` and `libsiltdb.a`, declared by `include/siltdb.h`
//! (generated from this crate by cbindgen; `make header`). Each entry point converts its
//! arguments, calls one method of the engine (crate `siltdb`), and converts the result.
//!
//! The contract every entry point keeps, stated once here and in the header:
//! - pointer arguments are NULL or valid for the call; a NULL handle, a NULL pointer with a
//!   nonzero length, or a NULL out-pointer gives `SILTDB_INVALID_ARGUMENT`, never a crash;
//! - no panic unwinds into C: it becomes `SILTDB_INTERNAL` ([`status::call`]);
//! - every buffer siltdb hands out is freed with [`siltdb_free`].

// This is the one crate that may use `unsafe`: the C boundary needs it. Every block is small
// and says why it is sound. The pointer contract is written once (above and in the header)
// rather than as a `# Safety` section on each function.
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(clippy::missing_safety_doc)]
// Handle types carry their C names (`siltdb_t`), so the header and the source read alike.
#![allow(non_camel_case_types)]

// Declared in the order the header presents them (cbindgen follows this order).
pub mod status;

pub mod options;

pub mod db;

mod buffer;

mod args;

use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

pub use buffer::siltdb_free;
pub use db::{
    siltdb_close, siltdb_delete, siltdb_flush, siltdb_get, siltdb_open, siltdb_put, siltdb_t,
};
pub use options::*;
pub use status::*;

/// The library version, e.g. "0.1.0": a static string, do not free it.
#[no_mangle]
pub extern "C" fn siltdb_version() -> *const c_char {
    static VERSION: OnceLock<CString> = OnceLock::new();
    const UNKNOWN: &CStr = match CStr::from_bytes_with_nul(b"unknown\0") {
        Ok(s) => s,
        Err(_) => panic!("literal ends with its only NUL"),
    };
    status::no_unwind(|| {
        VERSION
            .get_or_init(|| CString::new(siltdb_core::VERSION).unwrap_or_else(|_| UNKNOWN.into()))
            .as_ptr()
    })
    .unwrap_or(UNKNOWN.as_ptr())
}
