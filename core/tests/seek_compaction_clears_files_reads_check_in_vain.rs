//! Reads that keep checking a table that does not hold their key (because its key range
//! spans them) use up that table's seek budget, and a compaction then moves it down, so
//! that later reads consult one table instead of two. LevelDB does the same.

mod common;

use std::time::{Duration, Instant};

use common::{get, options, put};
use siltdb::{Db, FlushOptions, Options};

fn files_at(db: &Db, level: usize) -> u64 {
    db.property(&format!("leveldb.num-files-at-level{level}"))
        .and_then(|v| v.parse().ok())
        .expect("num-files property")
}

#[test]
fn a_table_read_in_vain_is_compacted_down_and_every_key_still_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        bloom_bits_per_key: 0,
        ..options()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    // Data keys first: with nothing to overlap, the flush lands on level 2.
    for i in 0..1000 {
        put(&db, format!("k{i:04}").as_bytes(), b"data");
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    // Then a table whose range spans them all but holds two other keys: it lands on
    // level 1 (level 2 under it overlaps), and every read of a data key checks it first.
    put(&db, b"k0000-", b"edge");
    put(&db, b"k0999-", b"edge");
    db.flush(&FlushOptions { wait: true }).expect("flush");
    assert_eq!((files_at(&db, 1), files_at(&db, 2)), (1, 1), "setup");

    // Its budget is 100 seeks: reading past it schedules the compaction.
    for i in 0..150 {
        assert_eq!(
            get(&db, format!("k{:04}", i % 1000).as_bytes()).as_deref(),
            Some(&b"data"[..])
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while files_at(&db, 1) != 0 {
        assert!(Instant::now() < deadline, "level 1 was never compacted");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(files_at(&db, 1), 0);
    for i in 0..1000 {
        assert_eq!(
            get(&db, format!("k{i:04}").as_bytes()).as_deref(),
            Some(&b"data"[..])
        );
    }
    assert_eq!(get(&db, b"k0000-").as_deref(), Some(&b"edge"[..]));
    assert_eq!(get(&db, b"k0999-").as_deref(), Some(&b"edge"[..]));
    let compactions = db.stats().expect("stats").compactions_completed;
    assert!(compactions >= 1, "{compactions} compactions");
}
