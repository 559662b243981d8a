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

pub mod events;

pub mod options;

pub mod db;

pub mod stats;

pub mod iterator;

pub mod batch;

pub mod maintenance;

mod buffer;

mod args;

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::OnceLock;

pub use batch::*;
pub use buffer::siltdb_free;
pub use db::{
    siltdb_close, siltdb_delete, siltdb_flush, siltdb_get, siltdb_open, siltdb_put, siltdb_t,
};
pub use events::*;
pub use iterator::*;
pub use maintenance::*;
pub use options::*;
pub use stats::*;
pub use status::*;

/// The major version of this header; `siltdb_version()` of the library matches it
/// (written out for cbindgen; a unit test keeps it equal to the crate version).
pub const SILTDB_VERSION_MAJOR: c_int = 0;
/// The minor version of this header.
pub const SILTDB_VERSION_MINOR: c_int = 1;
/// The patch version of this header.
pub const SILTDB_VERSION_PATCH: c_int = 0;

/// The library version, "MAJOR.MINOR.PATCH" as in SILTDB_VERSION_*: a static string, do
/// not free it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_constants_match_the_crate_version() {
        let parts = [
            SILTDB_VERSION_MAJOR,
            SILTDB_VERSION_MINOR,
            SILTDB_VERSION_PATCH,
        ];
        let written = parts.map(|p| p.to_string()).join(".");
        assert_eq!(
            written,
            env!("CARGO_PKG_VERSION"),
            "bump SILTDB_VERSION_* in lib.rs"
        );
        assert_eq!(siltdb_core::VERSION, env!("CARGO_PKG_VERSION"));
    }
}
