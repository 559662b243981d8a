//! An I/O error while a `get` reads a table — opening the file or reading a block — makes
//! that `get` fail with Io: never a wrong value, never "not found". It is not sticky (reads
//! change nothing on disk), the failure is not cached, and the same `get` succeeds once
//! the file system recovers.

mod common;

use std::sync::Arc;

use common::{get, options, put, value_for};
use siltdb::fs::fault::{FaultInjectionFs, FsOp};
use siltdb::fs::PosixFs;
use siltdb::{Db, ErrorKind, FlushOptions, Options, ReadOptions};

fn key(i: u64) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

/// A closed DB whose keys all live in table files, reopened through `fs`, so that the
/// first read of each table goes to the file system.
fn db_with_keys_in_tables(fs: &Arc<FaultInjectionFs>) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    for i in 0..1000 {
        put(&db, &key(i), &value_for(i, 50));
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    db.close().expect("close");
    let db = Db::open(
        dir.path(),
        Options {
            fs: fs.clone(),
            // Every block read must reach the file system for the faults to hit it.
            block_cache_size: 0,
            ..options()
        },
    )
    .expect("reopen");
    (dir, db)
}

fn assert_not_sticky(db: &Db) {
    assert_eq!(db.property("siltdb.background-error").as_deref(), Some(""));
    put(db, b"writes", b"still work");
    assert_eq!(get(db, b"writes"), Some(b"still work".to_vec()));
}

#[test]
fn a_failed_block_read_fails_the_get_with_io_and_heals() {
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let (_dir, db) = db_with_keys_in_tables(&fs);
    assert_eq!(get(&db, &key(1)), Some(value_for(1, 50)), "table opened");
    fs.fail(FsOp::Read, ".ldb", 0, 3);
    for i in [500, 10, 999] {
        let err = db
            .get(&ReadOptions::default(), &key(i))
            .expect_err("the block read fails");
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(err.to_string().contains(".ldb"), "names the file: {err}");
    }
    assert_eq!(fs.failures_injected(), 3);
    assert_not_sticky(&db);
    for i in 0..1000 {
        assert_eq!(get(&db, &key(i)), Some(value_for(i, 50)), "key {i}");
    }
}

#[test]
fn a_failed_table_open_fails_the_get_and_is_not_cached() {
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let (_dir, db) = db_with_keys_in_tables(&fs);
    fs.fail(FsOp::Open, ".ldb", 0, 2);
    for _ in 0..2 {
        let err = db
            .get(&ReadOptions::default(), &key(7))
            .expect_err("the table cannot be opened");
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    }
    assert_not_sticky(&db);
    assert_eq!(get(&db, &key(7)), Some(value_for(7, 50)));
}

#[test]
fn a_failed_read_while_opening_a_table_fails_the_get_and_heals() {
    // The footer, index and filter are read when the table is opened.
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let (_dir, db) = db_with_keys_in_tables(&fs);
    fs.fail(FsOp::Read, ".ldb", 0, 1);
    let err = db
        .get(&ReadOptions::default(), &key(3))
        .expect_err("the footer read fails");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_not_sticky(&db);
    assert_eq!(get(&db, &key(3)), Some(value_for(3, 50)));
}

#[test]
fn a_present_key_is_never_reported_absent_when_its_read_fails() {
    // With the table's index and filter already in memory, only the data block is read:
    // its failure must surface as an error for every key, never as None.
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let (_dir, db) = db_with_keys_in_tables(&fs);
    assert_eq!(get(&db, &key(0)), Some(value_for(0, 50)), "table opened");
    fs.fail(FsOp::Read, ".ldb", 0, usize::MAX);
    let mut errors = 0;
    for i in 0..1000 {
        match db.get(&ReadOptions::default(), &key(i)) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Io);
                errors += 1;
            }
            Ok(v) => panic!("key {i}: a failed read answered {v:?}"),
        }
    }
    assert_eq!(errors, 1000);
    fs.clear_faults();
    assert_not_sticky(&db);
}
