//! A failing file system during a major compaction (writing or syncing an output table,
//! or recording the result in the MANIFEST) leaves a sticky background error, keeps
//! every key readable, leaves no orphaned output behind, and loses nothing: after a
//! reopen on a healthy file system the data is intact and compaction works again.

mod common;

use std::sync::Arc;

use common::{files_of_type, get, levels_on_disk, non_empty_levels, options, put, value_for};
use siltdb::filename::FileType;
use siltdb::fs::fault::{FaultInjectionFs, FsOp};
use siltdb::fs::PosixFs;
use siltdb::{Db, ErrorKind, FlushOptions, Options};

const N: u64 = 3000;
const DEFAULT_FILE_SIZE: u64 = 2 << 20;

fn key(i: u64) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    value_for(i * 10 + round, 80)
}

fn assert_all_from_round(db: &Db, round: u64, when: &str) {
    for i in 0..N {
        assert_eq!(get(db, &key(i)), Some(value(i, round)), "{when}: key {i}");
    }
}

/// Table files on disk are exactly those the MANIFEST names (the DB must be closed).
fn assert_no_orphaned_tables(dir: &std::path::Path) {
    let mut named: Vec<u64> = levels_on_disk(dir).into_iter().flatten().collect();
    named.sort();
    assert_eq!(files_of_type(dir, FileType::Table), named);
}

/// Fails every `op` on files matching `pattern` after the first `skip`, during a
/// compaction whose output files are cut at `max_file_size`.
fn run_failing_compaction(op: FsOp, pattern: &str, skip: usize, max_file_size: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let opts = Options {
        fs: fs.clone(),
        max_file_size,
        ..options()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    // Three overlapping flushes: files on levels 2, 1 and 0 that a compaction must merge.
    for round in 1..=3 {
        for i in 0..N {
            put(&db, &key(i), &value(i, round));
        }
        db.flush(&FlushOptions { wait: true }).expect("flush");
    }

    fs.fail(op, pattern, skip, usize::MAX);
    let err = db
        .compact_range(None, None)
        .expect_err("the compaction must fail");
    assert_eq!(err.kind(), ErrorKind::Io, "{op:?} {pattern}: {err}");
    assert!(err.is_background(), "{err}");
    assert!(fs.failures_injected() > 0);
    // Sticky: writes and later compactions are refused...
    let err = db
        .put(&Default::default(), b"later", b"x")
        .expect_err("writes are refused after a background error");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(db.compact_range(None, None).is_err());
    // ...while every key still reads its newest value.
    assert_all_from_round(&db, 3, "after the failure");
    let _ = db.close();
    fs.clear_faults();
    if pattern == ".ldb" {
        assert_no_orphaned_tables(dir.path());
    }

    let db = Db::open(dir.path(), options()).expect("reopen on a healthy file system");
    assert_all_from_round(&db, 3, "after reopen");
    assert_eq!(get(&db, b"later"), None, "a refused write is not applied");
    db.compact_range(None, None)
        .expect("compaction works after reopen");
    assert_all_from_round(&db, 3, "after a successful compaction");
    db.close().expect("close");
    assert_eq!(non_empty_levels(dir.path()).len(), 1);
    assert_no_orphaned_tables(dir.path());
}

#[test]
fn output_table_write_failure_is_sticky_and_loses_nothing() {
    run_failing_compaction(FsOp::Write, ".ldb", 0, DEFAULT_FILE_SIZE);
}

#[test]
fn output_table_sync_failure_is_sticky_and_loses_nothing() {
    run_failing_compaction(FsOp::Sync, ".ldb", 0, DEFAULT_FILE_SIZE);
}

/// Outputs are synced on another thread while the next is built: a sync failing after
/// earlier outputs synced (and later ones were finished) still fails the compaction as a
/// whole and leaves none of its files behind.
#[test]
fn a_later_output_sync_failure_is_sticky_and_loses_nothing() {
    run_failing_compaction(FsOp::Sync, ".ldb", 2, 32 << 10);
}

#[test]
fn manifest_failure_while_installing_is_sticky_and_loses_nothing() {
    run_failing_compaction(FsOp::Sync, "MANIFEST", 0, DEFAULT_FILE_SIZE);
}
