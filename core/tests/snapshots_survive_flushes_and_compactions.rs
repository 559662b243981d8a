//! A snapshot keeps the values it saw through overwrites, deletes, flushes and full
//! compactions, for both `get` and iterators; releasing it lets compaction drop them.

mod common;

use common::put;
use siltdb::{Db, ErrorKind, FlushOptions, Options, ReadOptions, WriteOptions};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:04}").into_bytes()
}

#[test]
fn snapshot_reads_survive_flush_and_compact_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        create_if_missing: true,
        write_buffer_size: 16 << 10,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    for i in 0..500 {
        put(&db, &key(i), format!("old{i}").as_bytes());
    }
    db.flush(&FlushOptions::default()).expect("flush");
    put(&db, b"only-in-memtable", b"mem");

    let snap = db.snapshot().expect("snapshot");
    let at_snap = ReadOptions::at(&snap);
    assert_eq!(at_snap.snapshot, Some(snap.id()));

    // Overwrite half, delete the other half, add new keys; push it all down the tree.
    for i in 0..500 {
        if i % 2 == 0 {
            put(&db, &key(i), format!("new{i}").as_bytes());
        } else {
            db.delete(&WriteOptions::default(), &key(i))
                .expect("delete");
        }
    }
    db.delete(&WriteOptions::default(), b"only-in-memtable")
        .expect("delete");
    put(&db, b"zzz-after", b"late");
    db.flush(&FlushOptions::default()).expect("flush");
    db.compact_range(None, None).expect("compact_range");

    // Point reads at the snapshot.
    for i in 0..500 {
        let got = db.get(&at_snap, &key(i)).expect("get at snapshot");
        assert_eq!(got, Some(format!("old{i}").into_bytes()), "key {i}");
    }
    assert_eq!(
        db.get(&at_snap, b"only-in-memtable").expect("get"),
        Some(b"mem".to_vec())
    );
    assert_eq!(db.get(&at_snap, b"zzz-after").expect("get"), None);

    // An iterator at the snapshot sees exactly the old state, both ways.
    let mut expected: Vec<(Vec<u8>, Vec<u8>)> = (0..500)
        .map(|i| (key(i), format!("old{i}").into_bytes()))
        .collect();
    expected.push((b"only-in-memtable".to_vec(), b"mem".to_vec()));
    let got: Vec<_> = db
        .iter(&at_snap)
        .expect("iter")
        .entries()
        .collect::<Result<_, _>>()
        .expect("entries");
    assert_eq!(got, expected);
    let mut it = db.iter(&at_snap).expect("iter");
    assert_eq!(it.sequence(), snap.sequence());
    it.seek_to_last();
    let mut back = Vec::new();
    while it.valid() {
        back.push((it.key().to_vec(), it.value().to_vec()));
        it.prev();
    }
    expected.reverse();
    assert_eq!(back, expected);

    // The latest view is the new one.
    assert_eq!(common::get(&db, &key(0)), Some(b"new0".to_vec()));
    assert_eq!(common::get(&db, &key(1)), None);

    // Released: reading at it is an error, not an answer.
    let id = snap.id();
    snap.release();
    let err = db
        .get(
            &ReadOptions {
                snapshot: Some(id),
                ..ReadOptions::default()
            },
            &key(0),
        )
        .expect_err("released snapshot");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = db
        .iter(&ReadOptions {
            snapshot: Some(id),
            ..ReadOptions::default()
        })
        .expect_err("released snapshot");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn two_snapshots_read_their_own_sequences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), common::options()).expect("open");
    put(&db, b"k", b"1");
    let s1 = db.snapshot().expect("snapshot");
    put(&db, b"k", b"2");
    let s2 = db.snapshot().expect("snapshot");
    put(&db, b"k", b"3");
    db.flush(&FlushOptions::default()).expect("flush");
    db.compact_range(None, None).expect("compact");
    assert!(s1.sequence() < s2.sequence());
    assert_eq!(
        db.get(&ReadOptions::at(&s1), b"k").expect("get"),
        Some(b"1".to_vec())
    );
    assert_eq!(
        db.get(&ReadOptions::at(&s2), b"k").expect("get"),
        Some(b"2".to_vec())
    );
    drop(s1);
    db.compact_range(None, None).expect("compact");
    assert_eq!(
        db.get(&ReadOptions::at(&s2), b"k").expect("get"),
        Some(b"2".to_vec())
    );
    assert_eq!(common::get(&db, b"k"), Some(b"3".to_vec()));
}
