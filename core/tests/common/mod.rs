//! Helpers shared by the engine scenario tests.
#![allow(dead_code)]

use std::path::Path;

use siltdb::filename::{parse_file_name, FileType};
use siltdb::version::{VersionSet, NUM_LEVELS};
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

/// Table file numbers per level, as the MANIFEST on disk records them (the DB must be closed).
pub fn levels_on_disk(dir: &Path) -> Vec<Vec<u64>> {
    let mut vs = VersionSet::new(dir, std::sync::Arc::new(siltdb::fs::PosixFs));
    vs.recover().expect("recover MANIFEST");
    let v = vs.current();
    (0..NUM_LEVELS)
        .map(|l| v.files[l].iter().map(|f| f.number.0).collect())
        .collect()
}
