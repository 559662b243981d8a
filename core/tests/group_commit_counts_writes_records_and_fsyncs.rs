//! Group commit's counters (`Db::stats`, `siltdb.num-writes` / `-write-groups` /
//! `-wal-syncs`) add up, and concurrent sync writers all land, however they were grouped.

mod common;

use std::sync::Arc;

use common::{get, options};
use siltdb::{Db, WriteBatch, WriteOptions};

fn counter(db: &Db, name: &str) -> u64 {
    db.property(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} is not a number"))
}

#[test]
fn one_writer_makes_one_record_per_write_and_one_fsync_per_sync_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    let sync = WriteOptions { sync: true };
    db.put(&WriteOptions::default(), b"a", b"1").expect("put");
    db.delete(&WriteOptions::default(), b"b").expect("delete");
    db.put(&sync, b"c", b"3").expect("sync put");
    let mut batch = WriteBatch::new();
    batch.put(b"d", b"4");
    batch.put(b"e", b"5");
    db.write(&sync, &batch).expect("sync batch");
    assert_eq!(counter(&db, "siltdb.num-writes"), 4, "a batch is one write");
    assert_eq!(counter(&db, "siltdb.num-write-groups"), 4);
    assert_eq!(counter(&db, "siltdb.num-wal-syncs"), 2);
    let stats = db.stats().expect("stats");
    assert_eq!(
        (stats.writes, stats.write_groups, stats.wal_syncs),
        (4, 4, 2)
    );
}

#[test]
fn concurrent_sync_writers_all_land_and_every_group_is_synced_once() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 100;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Db::open(dir.path(), options()).expect("open"));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let key = format!("t{t}-{i:04}");
                    db.put(&WriteOptions { sync: true }, key.as_bytes(), b"v")
                        .expect("sync put");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer");
    }
    let writes = counter(&db, "siltdb.num-writes");
    let groups = counter(&db, "siltdb.num-write-groups");
    let syncs = counter(&db, "siltdb.num-wal-syncs");
    assert_eq!(writes, THREADS * PER_THREAD);
    assert!(
        groups >= 1 && groups <= writes,
        "{groups} groups for {writes} writes"
    );
    assert_eq!(syncs, groups, "all writes sync: each group syncs once");
    println!("{writes} sync writes in {groups} groups");
    db.close().expect("close");
    let db = Db::open(dir.path(), options()).expect("reopen");
    for t in 0..THREADS {
        for i in 0..PER_THREAD {
            let key = format!("t{t}-{i:04}");
            assert_eq!(
                get(&db, key.as_bytes()).as_deref(),
                Some(&b"v"[..]),
                "{key}"
            );
        }
    }
}
