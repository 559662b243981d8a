//! Failing to delete an obsolete file (an old WAL, an old MANIFEST, an orphan table) is
//! harmless and, unlike a failed write, not sticky: writes, flushes and opens go on, the
//! leftover files are deleted at the next flush or open, and no data is lost.

mod common;

use std::sync::Arc;

use common::{assert_no_orphan_files, files_of_type, get, options, put, value_for};
use siltdb::filename::FileType;
use siltdb::fs::fault::{FaultInjectionFs, FsOp};
use siltdb::fs::PosixFs;
use siltdb::{Db, ErrorKind, FlushOptions, Options};

fn key(i: u64) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn faulty(fs: &Arc<FaultInjectionFs>) -> Options {
    Options {
        fs: fs.clone(),
        write_buffer_size: 16 << 10,
        ..options()
    }
}

fn assert_keys(db: &Db, n: u64) {
    for i in 0..n {
        assert_eq!(get(db, &key(i)), Some(value_for(i, 50)), "key {i} lost");
    }
}

#[test]
fn old_wals_that_cannot_be_deleted_are_deleted_after_the_next_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let db = Db::open(dir.path(), faulty(&fs)).expect("open");
    fs.fail(FsOp::Remove, "", 0, usize::MAX);
    for i in 0..3000 {
        put(&db, &key(i), &value_for(i, 50));
    }
    db.flush(&FlushOptions { wait: true })
        .expect("a failed deletion does not fail the flush");
    assert!(fs.failures_injected() > 0, "some deletion was attempted");
    assert_eq!(
        db.property("siltdb.background-error").as_deref(),
        Some(""),
        "not sticky"
    );
    let stranded = files_of_type(dir.path(), FileType::Log).len();
    assert!(stranded > 1, "obsolete WALs stay while deletion fails");
    put(&db, b"still", b"writable");

    fs.clear_faults();
    put(&db, b"one more", b"flush");
    db.flush(&FlushOptions { wait: true }).expect("flush");
    assert_eq!(
        files_of_type(dir.path(), FileType::Log).len(),
        1,
        "the next flush deletes every obsolete WAL, not just its own"
    );
    assert_keys(&db, 3000);
    db.close().expect("close");

    let db = Db::open(dir.path(), options()).expect("reopen");
    assert_keys(&db, 3000);
    assert_eq!(get(&db, b"still"), Some(b"writable".to_vec()));
}

#[test]
fn an_open_that_cannot_delete_anything_succeeds_and_the_next_open_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("create");
    for i in 0..500 {
        put(&db, &key(i), &value_for(i, 50));
    }
    db.close().expect("close");

    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    fs.fail(FsOp::Remove, "", 0, usize::MAX);
    let db = Db::open(dir.path(), faulty(&fs)).expect("open despite failing deletions");
    assert_keys(&db, 500);
    put(&db, b"after", b"open");
    db.close().expect("close");
    assert!(fs.failures_injected() > 0);
    assert!(
        files_of_type(dir.path(), FileType::Manifest).len() > 1,
        "the replaced MANIFEST could not be deleted"
    );

    let db = Db::open(dir.path(), options()).expect("healthy open");
    assert_keys(&db, 500);
    assert_eq!(get(&db, b"after"), Some(b"open".to_vec()));
    db.close().expect("close");
    assert_eq!(files_of_type(dir.path(), FileType::Manifest).len(), 1);
    assert_eq!(files_of_type(dir.path(), FileType::Log).len(), 1);
}

#[test]
fn a_partial_table_that_cannot_be_removed_after_a_failed_flush_is_removed_at_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    // A buffer far above the 100 entries: only the manual flush below may write a table.
    let roomy = Options {
        write_buffer_size: 1 << 20,
        ..faulty(&fs)
    };
    let db = Db::open(dir.path(), roomy).expect("open");
    for i in 0..100 {
        put(&db, &key(i), &value_for(i, 50));
    }
    fs.fail(FsOp::Sync, ".ldb", 0, usize::MAX);
    fs.fail(FsOp::Remove, "", 0, usize::MAX);
    let err = db
        .flush(&FlushOptions { wait: true })
        .expect_err("the table sync fails");
    assert_eq!(err.kind(), ErrorKind::Io);
    let _ = db.close();
    assert_eq!(
        files_of_type(dir.path(), FileType::Table).len(),
        1,
        "the partial table is stranded"
    );
    fs.clear_faults();

    let db = Db::open(dir.path(), options()).expect("reopen");
    assert_keys(&db, 100);
    db.close().expect("close");
    assert_no_orphan_files(dir.path());
}
