//! The DB iterator over data spread across the memtable, level 0 and deeper levels, with
//! overwrites and deletes, walks forward, backward and from seeks exactly as a BTreeMap
//! model does — before and after reopen.

mod common;

use std::collections::BTreeMap;

use common::mix64;
use siltdb::{Db, DbIterator, FlushOptions, Options, ReadOptions, WriteOptions};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: u64) -> Vec<u8> {
    format!("k{:05}", i % 3000).into_bytes()
}

/// One round of random writes: puts (often overwrites) and deletes.
fn write_round(db: &Db, model: &mut Model, seed: u64, n: u64) {
    let w = WriteOptions::default();
    for j in 0..n {
        let x = mix64(seed * 1_000_003 + j);
        let k = key(x);
        if x % 5 == 0 {
            db.delete(&w, &k).expect("delete");
            model.remove(&k);
        } else {
            let v = format!("v{seed}-{j}-{}", "x".repeat((x % 60) as usize)).into_bytes();
            db.put(&w, &k, &v).expect("put");
            model.insert(k, v);
        }
    }
}

fn forward(it: &mut DbIterator) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    it.seek_to_first();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    it.status().expect("status");
    out
}

fn backward(it: &mut DbIterator) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    it.seek_to_last();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.prev();
    }
    it.status().expect("status");
    out
}

fn check(db: &Db, model: &Model) {
    let mut it = db.iter(&ReadOptions::default()).expect("iter");
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(forward(&mut it), expected, "forward walk");
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(backward(&mut it), reversed, "backward walk");

    // Seeks, then a mix of steps in both directions, each checked against the model.
    for s in 0..200u64 {
        let x = mix64(s + 77);
        let target = format!("k{:05}", x % 3100).into_bytes();
        it.seek(&target);
        let mut pos = model.range(target.clone()..).next().map(|(k, _)| k.clone());
        for step in 0..6u64 {
            match &pos {
                None => {
                    assert!(!it.valid(), "seek {target:?} step {step}: expected end");
                    break;
                }
                Some(k) => {
                    assert!(it.valid(), "seek {target:?} step {step}: expected {k:?}");
                    assert_eq!(it.key(), k.as_slice());
                    assert_eq!(it.value(), model[k].as_slice());
                }
            }
            let k = pos.clone().expect("checked above");
            if mix64(x + step) % 2 == 0 {
                it.next();
                pos = model
                    .range((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                    .next()
                    .map(|(k, _)| k.clone());
            } else {
                it.prev();
                pos = model.range(..k).next_back().map(|(k, _)| k.clone());
            }
        }
    }
    it.status().expect("status after seeks");

    // The convenience adapter agrees too.
    let entries: Vec<_> = db
        .iter(&ReadOptions::default())
        .expect("iter")
        .entries()
        .collect::<Result<_, _>>()
        .expect("entries");
    assert_eq!(entries, expected, "entries()");
}

#[test]
fn iteration_matches_a_model_across_memtable_and_levels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        create_if_missing: true,
        write_buffer_size: 32 << 10,
        max_file_size: 16 << 10,
        // Level 0 is emptied only by compact_range, so that tables stay on it for the
        // check below however fast background compaction is.
        level0_file_num_compaction_trigger: 1000,
        level0_slowdown_writes_trigger: 1000,
        level0_stop_writes_trigger: 1000,
        ..Options::default()
    };
    let mut model = Model::new();
    {
        let db = Db::open(dir.path(), opts.clone()).expect("open");
        check(&db, &model);
        for round in 0..6 {
            write_round(&db, &mut model, round, 1500);
            if round == 2 {
                db.compact_range(None, None).expect("compact_range");
            }
            if round == 4 {
                db.flush(&FlushOptions { wait: true }).expect("flush");
            }
        }
        // Some of the data is only in the memtable, some on level 0, some deeper.
        write_round(&db, &mut model, 99, 300);
        let levels: Vec<String> = (0..7)
            .map(|l| {
                db.property(&format!("leveldb.num-files-at-level{l}"))
                    .expect("num-files property")
            })
            .collect();
        assert!(
            levels.iter().skip(1).any(|n| n != "0") && levels[0] != "0",
            "tables on level 0 and below: {levels:?}"
        );
        check(&db, &model);
        db.close().expect("close");
    }
    let db = Db::open(dir.path(), opts).expect("reopen");
    check(&db, &model);
}

#[test]
fn empty_database_iterates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), common::options()).expect("open");
    let mut it = db.iter(&ReadOptions::default()).expect("iter");
    assert!(!it.valid(), "unpositioned");
    it.seek_to_first();
    assert!(!it.valid());
    it.seek_to_last();
    assert!(!it.valid());
    it.seek(b"a");
    assert!(!it.valid());
    assert_eq!(it.key(), b"");
    it.status().expect("status");
}
