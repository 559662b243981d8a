//! Helpers shared by the engine scenario tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use siltdb::filename::{parse_file_name, FileType};
use siltdb::version::{Version, VersionSet, NUM_LEVELS};
use siltdb::{Db, Options, ReadOptions, WriteOptions};

pub fn options() -> Options {
    Options {
        create_if_missing: true,
        ..Options::default()
    }
}

pub fn put(db: &Db, key: &[u8], value: &[u8]) {
    db.put(&WriteOptions::default(), key, value).expect("put");
}

pub fn get(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
    db.get(&ReadOptions::default(), key).expect("get")
}

/// Deterministic value for key `i`, of varying length.
pub fn value_for(i: u64, len: usize) -> Vec<u8> {
    let mut v = format!("value-{i:010}-").into_bytes();
    while v.len() < len {
        v.push(b'a' + (i % 26) as u8);
    }
    v.truncate(len.max(1));
    v
}

/// splitmix64: a cheap, well-spread hash, so a test can regenerate random-looking keys
/// from their index instead of keeping them.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// File numbers of one type in `dir`.
pub fn files_of_type(dir: &Path, wanted: FileType) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let (n, t) = parse_file_name(&name)?;
            (t == wanted).then_some(n.0)
        })
        .collect();
    out.sort();
    out
}

/// The version the MANIFEST on disk records (the DB must be closed).
pub fn version_on_disk(dir: &Path) -> Arc<Version> {
    let mut vs = VersionSet::new(dir, Arc::new(siltdb::fs::PosixFs));
    vs.recover().expect("recover MANIFEST");
    vs.current()
}

/// Table file numbers per level, as the MANIFEST on disk records them (the DB must be closed).
pub fn levels_on_disk(dir: &Path) -> Vec<Vec<u64>> {
    let v = version_on_disk(dir);
    (0..NUM_LEVELS)
        .map(|l| v.files[l].iter().map(|f| f.number.0).collect())
        .collect()
}

/// Bytes of every file in `dir`.
/// Sizes of the table files in `dir`, in file-number order.
pub fn table_sizes(dir: &Path) -> Vec<u64> {
    files_of_type(dir, FileType::Table)
        .iter()
        .map(|n| {
            std::fs::metadata(dir.join(format!("{n:06}.ldb")))
                .expect("table file")
                .len()
        })
        .collect()
}

pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Levels holding at least one table file.
pub fn non_empty_levels(dir: &Path) -> Vec<usize> {
    let v = version_on_disk(dir);
    (0..NUM_LEVELS)
        .filter(|&l| !v.files[l].is_empty())
        .collect()
}

/// Copies the regular files of `from` into `to` (created if needed).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy file");
        }
    }
}

/// What CURRENT says, e.g. "MANIFEST-000005\n".
pub fn read_current(dir: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(dir.join("CURRENT")).expect("read CURRENT")).into_owned()
}

/// Every table file on disk is one the MANIFEST names, and no temp file is left
/// (the DB must be closed).
pub fn assert_no_orphan_files(dir: &Path) {
    let mut live: Vec<u64> = levels_on_disk(dir).into_iter().flatten().collect();
    live.sort();
    assert_eq!(files_of_type(dir, FileType::Table), live, "orphan tables");
    assert!(
        files_of_type(dir, FileType::Temp).is_empty(),
        "temp files left"
    );
}

/// xorshift64: a small deterministic generator for randomized tests, replayable from
/// its printed seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform-ish in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The seed of a randomized test: `SILTDB_SEED` if set (to replay a failure), else the clock.
pub fn seed() -> u64 {
    std::env::var("SILTDB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        })
        | 1
}
