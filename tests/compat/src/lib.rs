//! siltdb-compat: proves siltdb's files are LevelDB 1.23's files, against the real
//! library (DESIGN.md §5). The scenarios live in `tests/`; this crate holds the LevelDB
//! C API wrapper, the workload and its model, and directory helpers.
//!
//! build.rs sets `cfg(has_leveldb)` when the system libleveldb is installed. Without it
//! every test writes "SKIPPED: libleveldb not installed" and passes, unless
//! `SILTDB_REQUIRE_LEVELDB=1` asks for the library, in which case it fails.
//!
//! FFI needs `unsafe`; it is confined to [`leveldb_ffi`], one small block per call, each
//! with a SAFETY comment. Nothing in this crate is part of siltdb.

use std::io::Write;

pub mod layout;
#[cfg(has_leveldb)]
pub mod leveldb_ffi;
pub mod model;

/// Set to `1` to turn a skip (no libleveldb) into a failure, as CI does.
pub const REQUIRE_ENV: &str = "SILTDB_REQUIRE_LEVELDB";

/// True when `test` must stop because libleveldb is not installed; it then says so on
/// stderr directly (not through `eprintln!`, which the test harness captures), so the
/// SKIPPED line shows in a plain `cargo test`, with or without `--nocapture`. Panics instead under `SILTDB_REQUIRE_LEVELDB=1`.
#[track_caller]
pub fn skip_without_leveldb(test: &str) -> bool {
    if cfg!(has_leveldb) {
        return false;
    }
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("{test}: libleveldb is not installed, but {REQUIRE_ENV}=1 requires it");
    }
    // One write, starting a line of its own, so it stays whole among the harness's output.
    let line = format!("\nSKIPPED: libleveldb not installed ({test})\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    true
}

/// A test that needs the real LevelDB: skipped (visibly) when the library is absent.
/// The body is compiled only when it is present.
#[macro_export]
macro_rules! leveldb_test {
    ($(#[$attr:meta])* fn $name:ident() $body:block) => {
        $(#[$attr])*
        #[test]
        fn $name() {
            if $crate::skip_without_leveldb(stringify!($name)) {
                return;
            }
            #[cfg(has_leveldb)]
            $body
        }
    };
}
