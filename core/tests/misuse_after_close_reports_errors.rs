//! Misuse gives errors, never a crash or a wrong answer: an iterator used after its
//! database closed reports Closed; a snapshot of another database, or one used after
//! close, is refused.

mod common;

use common::put;
use siltdb::{Db, Error, ErrorKind, ReadOptions};

#[test]
fn iterator_after_close_is_invalid_with_closed_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), common::options()).expect("open");
    for i in 0..10 {
        put(&db, format!("k{i}").as_bytes(), b"v");
    }
    let mut it = db.iter(&ReadOptions::default()).expect("iter");
    it.seek_to_first();
    assert!(it.valid());
    let snap = db.snapshot().expect("snapshot");
    db.close().expect("close");

    assert!(!it.valid(), "closing invalidates the iterator");
    assert_eq!(it.key(), b"");
    assert_eq!(it.value(), b"");
    assert!(matches!(it.status(), Err(Error::Closed)));
    it.next();
    it.prev();
    it.seek(b"k5");
    it.seek_to_first();
    it.seek_to_last();
    assert!(!it.valid());
    assert!(matches!(it.status(), Err(Error::Closed)));
    let items: Vec<_> = it.entries().collect();
    assert_eq!(items.len(), 1, "one error item");
    assert!(matches!(items[0], Err(Error::Closed)));

    // A fresh iterator, a snapshot read, a new snapshot: all Closed.
    assert_eq!(
        db.iter(&ReadOptions::default()).expect_err("iter").kind(),
        ErrorKind::Closed
    );
    assert_eq!(
        db.get(&ReadOptions::at(&snap), b"k1")
            .expect_err("get")
            .kind(),
        ErrorKind::Closed
    );
    assert_eq!(
        db.snapshot().expect_err("snapshot").kind(),
        ErrorKind::Closed
    );
    // Releasing a snapshot of a closed (or dropped) database is harmless.
    drop(snap);
    drop(db);
}

#[test]
fn iterator_outliving_every_db_handle_is_safe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), common::options()).expect("open");
    put(&db, b"a", b"1");
    let mut it = db.iter(&ReadOptions::default()).expect("iter");
    let snap = db.snapshot().expect("snapshot");
    drop(db); // the last handle: closes the database
    it.seek_to_first();
    assert!(!it.valid());
    assert!(matches!(it.status(), Err(Error::Closed)));
    drop(snap);
    // The LOCK was released: the directory opens again.
    let db = Db::open(dir.path(), common::options()).expect("reopen");
    assert_eq!(common::get(&db, b"a"), Some(b"1".to_vec()));
}

#[test]
fn snapshot_of_another_database_is_invalid_argument() {
    let d1 = tempfile::tempdir().expect("tempdir");
    let d2 = tempfile::tempdir().expect("tempdir");
    let db1 = Db::open(d1.path(), common::options()).expect("open");
    let db2 = Db::open(d2.path(), common::options()).expect("open");
    put(&db1, b"a", b"1");
    put(&db2, b"a", b"2");
    let s1 = db1.snapshot().expect("snapshot");
    let err = db2
        .get(&ReadOptions::at(&s1), b"a")
        .expect_err("foreign snapshot");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        db1.get(&ReadOptions::at(&s1), b"a").expect("own snapshot"),
        Some(b"1".to_vec())
    );
}
