//! A failing file system during a flush (table write, sync, sync behind the writer,
//! read-back and directory sync; MANIFEST write and sync) leaves a sticky background
//! error that every later write and flush reports, loses nothing, and is cleared by
//! reopening on a healthy file system.

mod common;

use std::sync::Arc;

use common::{get, options, put, value_for};
use siltdb::fs::fault::{FaultInjectionFs, FsOp};
use siltdb::fs::PosixFs;
use siltdb::{CompressionType, Db, ErrorKind, FlushOptions, Options, WriteOptions};

fn run_failing_flush(op: FsOp, pattern: &str) {
    run_failing_flush_after(op, pattern, 0);
}

/// As `run_failing_flush`, letting the first `skip` matching calls of the flush succeed.
fn run_failing_flush_after(op: FsOp, pattern: &str, skip: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let opts = Options {
        fs: fs.clone(),
        ..options()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    for i in 0..2000u64 {
        put(&db, format!("key{i:06}").as_bytes(), &value_for(i, 64));
    }
    fs.fail(op, pattern, skip, usize::MAX);
    let err = db
        .flush(&FlushOptions { wait: true })
        .expect_err("the flush must fail");
    assert_eq!(err.kind(), ErrorKind::Io, "{op:?} {pattern}: {err}");
    assert!(fs.failures_injected() > 0);
    // Sticky: writes and flushes keep failing with the kind of the cause...
    let err = db
        .put(&WriteOptions::default(), b"later", b"x")
        .expect_err("writes are refused after a background error");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.is_background(), "{err}");
    assert_eq!(
        db.flush(&FlushOptions::default())
            .expect_err("sticky")
            .kind(),
        ErrorKind::Io
    );
    // ...while reads still see everything.
    for i in 0..2000u64 {
        assert_eq!(
            get(&db, format!("key{i:06}").as_bytes()),
            Some(value_for(i, 64))
        );
    }
    let _ = db.close();
    fs.clear_faults();

    let db = Db::open(dir.path(), options()).expect("reopen on a healthy file system");
    for i in 0..2000u64 {
        assert_eq!(
            get(&db, format!("key{i:06}").as_bytes()),
            Some(value_for(i, 64)),
            "{op:?} {pattern}: key{i:06} lost"
        );
    }
    assert_eq!(get(&db, b"later"), None, "a refused write is not applied");
    put(&db, b"healthy", b"again");
    db.flush(&FlushOptions::default())
        .expect("flush works after reopen");
    assert_eq!(get(&db, b"healthy"), Some(b"again".to_vec()));
}

#[test]
fn table_write_failure_is_sticky_and_loses_nothing() {
    run_failing_flush(FsOp::Write, ".ldb");
}

#[test]
fn table_sync_failure_is_sticky_and_loses_nothing() {
    run_failing_flush(FsOp::Sync, ".ldb");
}

#[test]
fn table_create_failure_is_sticky_and_loses_nothing() {
    run_failing_flush(FsOp::Create, ".ldb");
}

#[test]
fn table_verification_open_failure_is_sticky_and_loses_nothing() {
    // A new table is reopened before it is installed: a table that cannot be read back
    // must not be installed.
    run_failing_flush(FsOp::Open, ".ldb");
}

#[test]
fn table_verification_read_failure_is_sticky_and_loses_nothing() {
    run_failing_flush(FsOp::Read, ".ldb");
}

#[test]
fn directory_sync_failure_at_the_memtable_switch_is_sticky_and_loses_nothing() {
    // The first directory sync of a flush makes the new WAL's name durable.
    run_failing_flush(FsOp::SyncDir, "");
}

#[test]
fn directory_sync_failure_after_the_table_is_written_is_sticky_and_loses_nothing() {
    // The flush's directory sync makes the new table's name durable before the MANIFEST
    // names it. (Sealing the memtable syncs no directory: the next sync write does.)
    run_failing_flush(FsOp::SyncDir, "");
}

#[test]
fn manifest_write_failure_is_sticky_and_loses_nothing() {
    run_failing_flush(FsOp::Write, "MANIFEST");
}

#[test]
fn manifest_sync_failure_is_sticky_and_loses_nothing() {
    run_failing_flush(FsOp::Sync, "MANIFEST");
}

#[test]
fn wal_append_failure_is_sticky_and_the_write_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let db = Db::open(
        dir.path(),
        Options {
            fs: fs.clone(),
            ..options()
        },
    )
    .expect("open");
    put(&db, b"before", b"1");
    fs.fail(FsOp::Write, ".log", 0, usize::MAX);
    let err = db
        .put(&WriteOptions::default(), b"failed", b"2")
        .expect_err("the WAL append fails");
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(
        get(&db, b"failed"),
        None,
        "a write that failed is not visible"
    );
    fs.clear_faults();
    let err = db
        .put(&WriteOptions::default(), b"after", b"3")
        .expect_err("sticky until reopen");
    assert!(err.is_background());
    let _ = db.close();
    let db = Db::open(dir.path(), options()).expect("reopen");
    assert_eq!(get(&db, b"before"), Some(b"1".to_vec()));
    assert_eq!(get(&db, b"after"), None);
}

#[test]
fn a_big_flush_built_in_many_ranges_that_fails_midway_leaves_no_table_and_loses_nothing() {
    // A memtable of about 12 MiB is cut into several key ranges, built by several
    // threads where there are cores; a table write fails after a few MiB were written.
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let big_buffer = Options {
        write_buffer_size: 64 << 20,
        ..options()
    };
    let db = Db::open(
        dir.path(),
        Options {
            fs: fs.clone(),
            ..big_buffer.clone()
        },
    )
    .expect("open");
    let keys = 80_000u64;
    // splitmix64 is a bijection: distinct keys in scattered order.
    let key = |i: u64| format!("key{:016x}", common::mix64(i));
    for i in 0..keys {
        put(&db, key(i).as_bytes(), &value_for(i, 64));
    }
    fs.fail(FsOp::Write, ".ldb", 3, 1);
    let err = db
        .flush(&FlushOptions { wait: true })
        .expect_err("the flush must fail");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(fs.failures_injected(), 1);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".ldb")),
        "the failed table is removed: {names:?}"
    );
    let _ = db.close();

    let db = Db::open(dir.path(), big_buffer).expect("reopen");
    for i in (0..keys).step_by(7) {
        assert_eq!(
            get(&db, key(i).as_bytes()),
            Some(value_for(i, 64)),
            "{} lost",
            key(i)
        );
    }
    db.flush(&FlushOptions { wait: true })
        .expect("the flush works after reopen");
    for i in (0..keys).step_by(5) {
        assert_eq!(get(&db, key(i).as_bytes()), Some(value_for(i, 64)));
    }
}

/// A memtable big enough that its table is synced behind its writer (every
/// `WRITE_BEHIND_BYTES`, 2 MiB) before the final sync.
const BIG_ENTRIES: u64 = 30_000;
const BIG_VALUE: usize = 200;

fn big_options(fs: &Arc<FaultInjectionFs>) -> Options {
    Options {
        fs: fs.clone(),
        write_buffer_size: 16 << 20,
        compression: CompressionType::None,
        ..options()
    }
}

/// Puts `BIG_ENTRIES` under `prefix`, flushes and waits: the syncs the flush made.
fn big_flush(db: &Db, fs: &FaultInjectionFs, prefix: &str) -> siltdb::Result<usize> {
    for i in 0..BIG_ENTRIES {
        put(
            db,
            format!("{prefix}{i:06}").as_bytes(),
            &value_for(i, BIG_VALUE),
        );
    }
    let before = fs.calls(FsOp::Sync);
    db.flush(&FlushOptions { wait: true })?;
    Ok(fs.calls(FsOp::Sync) - before)
}

#[test]
fn table_sync_behind_the_writer_failure_is_sticky_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let db = Db::open(dir.path(), big_options(&fs)).expect("open");
    // A small flush syncs its table once; a big one also syncs behind the writer, and
    // those syncs go through the file system too, where a fault can reach them.
    put(&db, b"small", b"flush");
    let before = fs.calls(FsOp::Sync);
    db.flush(&FlushOptions { wait: true }).expect("small flush");
    let small_syncs = fs.calls(FsOp::Sync) - before;
    let big_syncs = big_flush(&db, &fs, "a").expect("healthy big flush");
    assert!(
        big_syncs > small_syncs,
        "a {} MiB table is synced behind its writer: {big_syncs} syncs, small flush {small_syncs}",
        (BIG_ENTRIES as usize * BIG_VALUE) >> 20
    );

    // Only the first sync of the next table fails, one started behind the writer: the
    // file's final sync succeeds, and the flush must still report the failure.
    fs.fail(FsOp::Sync, ".ldb", 0, 1);
    let err = big_flush(&db, &fs, "b").expect_err("the flush must fail");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(fs.failures_injected(), 1);
    let err = db
        .put(&WriteOptions::default(), b"later", b"x")
        .expect_err("writes are refused after a background error");
    assert!(err.is_background() && err.kind() == ErrorKind::Io, "{err}");
    let _ = db.close();

    let db = Db::open(dir.path(), big_options(&fs)).expect("reopen");
    for prefix in ["a", "b"] {
        for i in (0..BIG_ENTRIES).step_by(97) {
            assert_eq!(
                get(&db, format!("{prefix}{i:06}").as_bytes()),
                Some(value_for(i, BIG_VALUE)),
                "{prefix}{i:06} lost"
            );
        }
    }
    assert_eq!(get(&db, b"later"), None, "a refused write is not applied");
    db.close().expect("close");
}
