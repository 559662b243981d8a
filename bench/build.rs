//! Links LevelDB when `libleveldb` is installed and tells the crate so through the
//! `have_leveldb` cfg; without it the benchmark still builds and runs siltdb alone.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rustc-check-cfg=cfg(have_leveldb)");
    println!("cargo:rerun-if-env-changed=LEVELDB_LIB_DIR");
    println!("cargo:rerun-if-env-changed=LIBRARY_PATH");
    println!("cargo:rerun-if-env-changed=SILTDB_BENCH_NO_LEVELDB");

    // For proving the fallback on a machine that has the library.
    if env::var_os("SILTDB_BENCH_NO_LEVELDB").is_some_and(|v| !v.is_empty() && v != "0") {
        println!("cargo:warning=SILTDB_BENCH_NO_LEVELDB set: building without LevelDB");
        return;
    }
    match find_leveldb() {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=leveldb");
            println!("cargo:rustc-cfg=have_leveldb");
        }
        None => println!(
            "cargo:warning=libleveldb not found (install libleveldb-dev or set \
             LEVELDB_LIB_DIR): db_bench will run siltdb only"
        ),
    }
}

/// The first library directory holding a linkable `libleveldb` (the unversioned name
/// `-lleveldb` resolves to, which only the -dev package installs).
fn find_leveldb() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = env::var_os("LEVELDB_LIB_DIR") {
        dirs.push(dir.into());
    }
    if let Some(paths) = env::var_os("LIBRARY_PATH") {
        dirs.extend(env::split_paths(&paths));
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    for base in ["/usr/local/lib", "/usr/lib", "/lib", "/opt/homebrew/lib"] {
        dirs.push(Path::new(base).join(format!("{arch}-linux-gnu")));
        dirs.push(base.into());
    }
    dirs.push("/usr/lib64".into());
    // Shared libraries only: the static archive would also need libstdc++ and snappy.
    let found = dirs.into_iter().find_map(|dir| {
        ["libleveldb.so", "libleveldb.dylib"]
            .iter()
            .map(|name| dir.join(name))
            .find(|lib| lib.exists())
    })?;
    println!("cargo:rerun-if-changed={}", found.display());
    found.parent().map(Path::to_path_buf)
}
