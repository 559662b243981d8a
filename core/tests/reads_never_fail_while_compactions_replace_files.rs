//! Readers keep working while compactions replace and delete table files: a read that
//! took its version before a compaction was installed still finds that version's files,
//! because files stay on disk as long as any version naming them is held.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::{mix64, put, value_for};
use siltdb::{Db, Options, ReadOptions};

const N: u64 = 25_000;

fn key(i: u64) -> Vec<u8> {
    format!("{:016x}", mix64(i)).into_bytes()
}

#[test]
fn reads_during_compactions_see_every_written_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        create_if_missing: true,
        write_buffer_size: 128 << 10,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).expect("open");
    let written = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (db, written, done) = (db.clone(), written.clone(), done.clone());
            std::thread::spawn(move || {
                let mut x = mix64(r + 1);
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) {
                    let upto = written.load(Ordering::Acquire);
                    if upto == 0 {
                        std::thread::yield_now();
                        continue;
                    }
                    x = mix64(x);
                    let i = x % upto;
                    let got = db
                        .get(&ReadOptions::default(), &key(i))
                        .unwrap_or_else(|e| panic!("read of key {i} failed: {e}"));
                    assert_eq!(got, Some(value_for(i, 100)), "key {i}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for i in 0..N {
        put(&db, &key(i), &value_for(i, 100));
        written.store(i + 1, Ordering::Release);
    }
    db.compact_range(None, None).expect("compact_range");
    done.store(true, Ordering::Release);
    let reads: u64 = readers
        .into_iter()
        .map(|r| r.join().expect("reader panicked"))
        .sum();
    println!("{reads} reads checked while writing and compacting");
    assert!(reads > 0);
}
