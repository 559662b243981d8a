//! Finds the system LevelDB (its C header and its library). When both are there, links
//! `-lleveldb` and sets `cfg(has_leveldb)`; when not, the tests compile anyway and each
//! one reports "SKIPPED: libleveldb not installed" (or fails under SILTDB_REQUIRE_LEVELDB=1).
//! `LEVELDB_LIB_DIR` / `LEVELDB_INCLUDE_DIR` point at a non-standard install;
//! `SILTDB_COMPAT_IGNORE_LEVELDB=1` builds as if it were absent.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Set to `1` to build as if LevelDB were absent (to exercise the skip path).
const IGNORE_ENV: &str = "SILTDB_COMPAT_IGNORE_LEVELDB";

const INCLUDE_DIRS: &[&str] = &[
    "/usr/include",
    "/usr/local/include",
    "/opt/homebrew/include",
];
const LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/usr/local/lib64",
    "/opt/homebrew/lib",
];
/// Shared libraries only: the static archive would also need libstdc++ and libsnappy.
const LIB_NAMES: &[&str] = &["libleveldb.so", "libleveldb.dylib"];

fn main() {
    println!("cargo:rustc-check-cfg=cfg(has_leveldb)");
    println!("cargo:rerun-if-env-changed=LEVELDB_LIB_DIR");
    println!("cargo:rerun-if-env-changed=LEVELDB_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed={IGNORE_ENV}");
    let ignored = std::env::var(IGNORE_ENV).is_ok_and(|v| v == "1");
    match find_leveldb().filter(|_| !ignored) {
        Some(lib_dir) => {
            println!("cargo:rustc-link-search=native={}", lib_dir.display());
            println!("cargo:rustc-link-lib=leveldb");
            println!("cargo:rustc-cfg=has_leveldb");
        }
        None => println!(
            "cargo:warning=libleveldb not found: the LevelDB compatibility tests will be skipped"
        ),
    }
}

/// The directory holding the library, if the header and the library are both installed.
/// Cargo reruns this script when a found file changes; while nothing is found it reruns
/// on every build (the watched paths are missing), so installing LevelDB later is noticed.
fn find_leveldb() -> Option<PathBuf> {
    let headers: Vec<PathBuf> = env_dir("LEVELDB_INCLUDE_DIR")
        .into_iter()
        .chain(INCLUDE_DIRS.iter().map(PathBuf::from))
        .chain(pkg_config_dirs("--cflags-only-I", "-I"))
        .map(|dir| dir.join("leveldb/c.h"))
        .collect();
    let libs: Vec<PathBuf> = env_dir("LEVELDB_LIB_DIR")
        .into_iter()
        .chain(LIB_DIRS.iter().map(PathBuf::from))
        .chain(pkg_config_dirs("--libs-only-L", "-L"))
        .flat_map(|dir| LIB_NAMES.iter().map(move |name| dir.join(name)))
        .collect();
    match (
        headers.iter().find(|p| p.exists()),
        libs.iter().find(|p| p.exists()),
    ) {
        (Some(header), Some(lib)) => {
            watch(header);
            watch(lib);
            lib.parent().map(Path::to_path_buf)
        }
        _ => {
            headers.iter().chain(&libs).for_each(|p| watch(p));
            None
        }
    }
}

fn watch(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from)
}

/// Directories `pkg-config` reports for leveldb (none when it or the .pc file is absent).
fn pkg_config_dirs(flag: &str, prefix: &str) -> Vec<PathBuf> {
    let Ok(out) = Command::new("pkg-config").args([flag, "leveldb"]).output() else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|word| word.strip_prefix(prefix).map(PathBuf::from))
        .collect()
}
