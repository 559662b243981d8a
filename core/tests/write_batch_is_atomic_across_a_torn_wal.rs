//! A write batch is one WAL record: if a crash tears that record, reopening shows none of
//! the batch — not its first half — while every earlier write is intact. The tear either
//! ends the file or, as in a WAL sized ahead of its contents, is followed by zeros.

mod common;

use std::path::PathBuf;

use common::files_of_type;
use siltdb::filename::FileType;
use siltdb::{Db, Options, WriteBatch, WriteOptions};

fn wal_path(dir: &std::path::Path) -> PathBuf {
    let logs = files_of_type(dir, FileType::Log);
    let last = logs.last().expect("a WAL");
    dir.join(format!("{last:06}.log"))
}

/// Bytes of the WAL up to its last nonzero byte: the contents of an open WAL, whose
/// size runs ahead of them (every record written here ends in a nonzero byte).
fn written_len(wal: &std::path::Path) -> u64 {
    let bytes = std::fs::read(wal).expect("read WAL");
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1)
}

#[test]
fn torn_batch_record_leaves_no_part_of_the_batch() {
    tear_a_batch_record(false);
}

#[test]
fn batch_record_torn_into_unwritten_space_leaves_no_part_of_the_batch() {
    tear_a_batch_record(true);
}

fn tear_a_batch_record(zeros_after_the_tear: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sync = WriteOptions { sync: true };
    let db = Db::open(dir.path(), common::options()).expect("open");
    for i in 0..20 {
        db.put(&sync, format!("before{i:02}").as_bytes(), b"kept")
            .expect("put");
    }
    let wal = wal_path(dir.path());
    let size_before = written_len(&wal);

    // Large enough to span several 32 KiB log blocks (FIRST/MIDDLE/LAST fragments).
    let mut batch = WriteBatch::new();
    for i in 0..200 {
        batch.put(format!("batch{i:03}").as_bytes(), &vec![b'b'; 500]);
    }
    batch.delete(b"before00");
    assert_eq!(batch.count(), 201);
    db.write(&sync, &batch).expect("write");
    db.close().expect("close");
    let size_after = std::fs::metadata(&wal).expect("metadata").len();
    assert!(
        size_after > size_before + (64 << 10),
        "the batch spans blocks"
    );

    // Tear the record in its middle, as a crash during the append would.
    let torn = size_before + (size_after - size_before) / 2;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .expect("open WAL");
    file.set_len(torn).expect("truncate");
    if zeros_after_the_tear {
        file.set_len(size_after + (1 << 20)).expect("extend");
    }
    drop(file);

    // Under paranoid checks a reported WAL corruption fails the open: a torn end must
    // not be taken for one.
    let paranoid = Options {
        paranoid_checks: true,
        ..common::options()
    };
    let db = Db::open(dir.path(), paranoid).expect("reopen");
    for i in 0..20 {
        assert_eq!(
            common::get(&db, format!("before{i:02}").as_bytes()),
            Some(b"kept".to_vec()),
            "earlier write {i} survives (and the batch's delete did not happen)"
        );
    }
    let mut it = db.iter(&Default::default()).expect("iter");
    it.seek(b"batch");
    assert!(
        !it.valid() || !it.key().starts_with(b"batch"),
        "no key of the torn batch is visible"
    );
    it.status().expect("status");

    // Whole batches apply whole: the same batch written again is all there.
    db.write(&sync, &batch).expect("write");
    assert_eq!(common::get(&db, b"before00"), None);
    assert_eq!(common::get(&db, b"batch199"), Some(vec![b'b'; 500]));
}
