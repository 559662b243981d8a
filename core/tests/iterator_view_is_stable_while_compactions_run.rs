//! An iterator keeps the view of its creation while a writer fills memtables (flushes)
//! and another thread runs `compact_range` (which replaces and deletes table files): every
//! key it shows carries the same generation, because each generation was one atomic batch.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use siltdb::{Db, Options, ReadOptions, WriteBatch, WriteOptions};

const KEYS: u64 = 300;

fn key(i: u64) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(generation: u64, i: u64) -> Vec<u8> {
    format!("{generation:08}:{i:05}:{}", "p".repeat(60)).into_bytes()
}

/// Reads a whole generation from the iterator, slowly, in `reverse` or forward order, and
/// returns the generation seen; panics if keys disagree or are missing.
fn read_generation(db: &Db, reverse: bool) -> Option<u64> {
    let mut it = db.iter(&ReadOptions::default()).expect("iter");
    let mut seen = Vec::new();
    if reverse {
        it.seek_to_last();
    } else {
        it.seek_to_first();
    }
    while it.valid() {
        let v = it.value();
        let generation: u64 = std::str::from_utf8(&v[..8])
            .expect("utf8")
            .parse()
            .expect("generation");
        seen.push((it.key().to_vec(), generation, v.to_vec()));
        if seen.len() % 50 == 0 {
            // Let flushes and compactions replace files under the iterator.
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        if reverse {
            it.prev();
        } else {
            it.next();
        }
    }
    it.status().expect("iterator status");
    if seen.is_empty() {
        return None;
    }
    assert_eq!(seen.len() as u64, KEYS, "every key present");
    let generation = seen[0].1;
    for (n, (k, g, v)) in seen.iter().enumerate() {
        let i = if reverse {
            KEYS - 1 - n as u64
        } else {
            n as u64
        };
        assert_eq!(k, &key(i), "key order");
        assert_eq!(*g, generation, "one generation per iterator (key {i})");
        assert_eq!(v, &value(generation, i));
    }
    Some(generation)
}

#[test]
fn iterators_see_one_generation_while_files_are_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        create_if_missing: true,
        write_buffer_size: 48 << 10,
        max_file_size: 16 << 10,
        level0_file_num_compaction_trigger: 2,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            let mut generation = 0u64;
            while generation < 150 {
                generation += 1;
                let mut batch = WriteBatch::new();
                for i in 0..KEYS {
                    batch.put(&key(i), &value(generation, i));
                }
                db.write(&WriteOptions::default(), &batch).expect("write");
            }
            done.store(true, Ordering::Release);
            generation
        })
    };
    let compactor = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            loop {
                db.compact_range(None, None).expect("compact_range");
                n += 1;
                if done.load(Ordering::Acquire) {
                    return n;
                }
            }
        })
    };

    let mut generations = Vec::new();
    let mut round = 0;
    while !done.load(Ordering::Acquire) {
        if let Some(g) = read_generation(&db, round % 2 == 1) {
            generations.push(g);
        }
        round += 1;
    }
    let written = writer.join().expect("writer");
    let compactions = compactor.join().expect("compactor");
    assert!(compactions > 0, "compactions ran");
    assert!(
        generations.len() > 3,
        "iterators ran meanwhile: {generations:?}"
    );
    assert!(
        generations.windows(2).all(|w| w[0] <= w[1]),
        "later iterators never see older data: {generations:?}"
    );
    assert_eq!(read_generation(&db, false), Some(written));
}
