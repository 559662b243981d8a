//! The block cache serves repeated reads from memory, and only ever holds blocks whose
//! checksum was verified: a read that skips verification cannot plant a damaged block
//! that a later verifying read would trust.

mod common;

use common::{files_of_type, options, put, value_for};
use siltdb::filename::FileType;
use siltdb::{Db, ErrorKind, FlushOptions, ReadOptions};

#[test]
fn a_damaged_block_is_never_cached_and_hot_blocks_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Db::open(dir.path(), options()).expect("open");
        for i in 0..2000u64 {
            put(&db, format!("key{i:06}").as_bytes(), &value_for(i, 100));
        }
        db.flush(&FlushOptions { wait: true }).expect("flush");
        db.close().expect("close");
    }
    // Flip a byte inside the first data block (offset 100 holds key/value bytes).
    let table = files_of_type(dir.path(), FileType::Table)[0];
    let path = dir.path().join(format!("{table:06}.ldb"));
    let mut bytes = std::fs::read(&path).expect("read table");
    bytes[100] ^= 0x40;
    std::fs::write(&path, &bytes).expect("write table");

    let db = Db::open(dir.path(), options()).expect("reopen");
    let unverified = ReadOptions {
        verify_checksums: false,
        fill_cache: true,
        ..ReadOptions::default()
    };
    // Filling the cache verifies, so the damage is reported, not cached.
    let err = db
        .get(&unverified, b"key000000")
        .expect_err("damaged block");
    assert_eq!(err.kind(), ErrorKind::Corruption, "{err}");
    let err = db
        .get(&ReadOptions::default(), b"key000000")
        .expect_err("still damaged");
    assert_eq!(err.kind(), ErrorKind::Corruption, "{err}");
    // Undamaged blocks are read once, then come from the cache.
    let key = b"key001500";
    assert_eq!(
        db.get(&unverified, key).expect("get"),
        Some(value_for(1500, 100))
    );
    let before: usize = db
        .property("leveldb.approximate-memory-usage")
        .and_then(|s| s.parse().ok())
        .expect("number");
    assert!(
        before >= 4000,
        "a cached block counts towards memory usage: {before}"
    );
    std::fs::remove_file(&path).expect("remove the table file");
    // The table is open and its block cached: the read needs no file access.
    assert_eq!(
        db.get(&ReadOptions::default(), key).expect("cached"),
        Some(value_for(1500, 100))
    );
}
