//! Overwrite-heavy and delete-heavy workloads: after `compact_range(None, None)` the
//! shadowed versions and the tombstones are gone, the table files shrink to about the
//! live data, everything sits on one level in non-overlapping files, and what reads back
//! (before and after reopen) is exactly the newest state.

mod common;

use std::path::Path;

use common::{files_of_type, get, non_empty_levels, table_sizes, version_on_disk};
use siltdb::filename::FileType;
use siltdb::{CompressionType, Db, Options, WriteOptions};

const N: u64 = 20_000;
const VALUE_LEN: usize = 100;
const KEY_LEN: usize = 11;

fn options() -> Options {
    Options {
        create_if_missing: true,
        write_buffer_size: 256 << 10,
        // Uncompressed, so that sizes compare honestly with the live data.
        compression: CompressionType::None,
        ..Options::default()
    }
}

/// The i-th key written in a round: every key once, in a scattered order.
fn key(i: u64) -> Vec<u8> {
    format!("key{:08}", (i * 7919) % N).into_bytes()
}

fn value(k: &[u8], round: u64) -> Vec<u8> {
    let mut v = format!("round{round}-").into_bytes();
    v.extend_from_slice(k);
    v.resize(VALUE_LEN, b'.');
    v
}

fn table_bytes(dir: &Path) -> u64 {
    table_sizes(dir).iter().sum()
}

/// Every table file on one level, in order and disjoint.
fn assert_one_level_without_overlap(dir: &Path) {
    let levels = non_empty_levels(dir);
    assert_eq!(levels.len(), 1, "data on levels {levels:?}");
    let v = version_on_disk(dir);
    let files = &v.files[levels[0]];
    for pair in files.windows(2) {
        assert!(
            pair[0].largest.user_key() < pair[1].smallest.user_key(),
            "files {} and {} overlap",
            pair[0].number,
            pair[1].number
        );
    }
}

#[test]
fn overwriting_every_key_five_times_shrinks_back_to_the_live_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    for round in 0..6 {
        for i in 0..N {
            let k = key(i);
            db.put(&WriteOptions::default(), &k, &value(&k, round))
                .expect("put");
        }
    }
    db.flush(&Default::default()).expect("flush");
    let before = table_bytes(dir.path());
    db.compact_range(None, None).expect("compact_range");
    let live = N * (KEY_LEN + VALUE_LEN) as u64;
    let after = table_bytes(dir.path());
    println!("tables: {before} bytes before compact_range, {after} after; live data {live}");
    assert!(
        after as f64 <= 1.5 * live as f64,
        "{after} bytes of tables for {live} bytes of live data"
    );
    assert!(after < before, "compaction reclaimed nothing");
    for i in 0..N {
        let k = key(i);
        assert_eq!(get(&db, &k), Some(value(&k, 5)));
    }
    db.close().expect("close");
    assert_one_level_without_overlap(dir.path());

    let db = Db::open(dir.path(), options()).expect("reopen");
    for i in 0..N {
        let k = key(i);
        assert_eq!(get(&db, &k), Some(value(&k, 5)), "after reopen");
    }
}

#[test]
fn deleted_keys_and_their_tombstones_disappear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    for i in 0..N {
        let k = key(i);
        db.put(&WriteOptions::default(), &k, &value(&k, 0))
            .expect("put");
    }
    db.flush(&Default::default()).expect("flush");
    // Delete nine keys in ten; the tenth survives.
    let survives = |i: u64| i % 10 == 0;
    for i in (0..N).filter(|&i| !survives(i)) {
        db.delete(&WriteOptions::default(), &key(i))
            .expect("delete");
    }
    db.compact_range(None, None).expect("compact_range");
    let live = (N / 10) * (KEY_LEN + VALUE_LEN) as u64;
    let after = table_bytes(dir.path());
    println!("tables after compact_range: {after} bytes for {live} bytes of live data");
    assert!(
        after as f64 <= 1.5 * live as f64,
        "{after} bytes of tables for {live} bytes of live data: tombstones kept?"
    );
    for i in 0..N {
        let k = key(i);
        let expected = survives(i).then(|| value(&k, 0));
        assert_eq!(get(&db, &k), expected);
    }
    db.close().expect("close");
    assert_one_level_without_overlap(dir.path());

    // Deleting the survivors too leaves no table file at all.
    let db = Db::open(dir.path(), options()).expect("reopen");
    for i in (0..N).filter(|&i| survives(i)) {
        db.delete(&WriteOptions::default(), &key(i))
            .expect("delete");
    }
    db.compact_range(None, None).expect("compact_range");
    assert_eq!(
        files_of_type(dir.path(), FileType::Table),
        Vec::<u64>::new()
    );
    db.close().expect("close");
    let db = Db::open(dir.path(), options()).expect("reopen");
    for i in 0..N {
        assert_eq!(get(&db, &key(i)), None, "after reopen");
    }
}
