//! Random 16-byte keys with 100-byte values through a 1 MiB write buffer: without major
//! compaction level 0 would reach the stop trigger after a dozen flushes and every writer
//! would wait forever. With it, no put waits longer than a bound, level 0 ends below the
//! stop trigger, the directory stays within 1.5× the live data, and every key reads back,
//! also after reopen and after `compact_range` has put everything on one level.
//!
//! 2,000,000 keys in release builds (`make test`), 200,000 in debug builds, 10,000,000
//! with SILTDB_LONG_TESTS=1.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{dir_size, levels_on_disk, mix64, non_empty_levels};
use siltdb::{CompressionType, Db, Options, ReadOptions, WriteOptions};

const VALUE_LEN: usize = 100;
const KEY_LEN: usize = 16;
/// A bound on any single put, not a speed goal: a stall that never ends fails it.
const MAX_PUT: Duration = Duration::from_secs(10);
const SEED: u64 = 0x5117_db00_c0ff_ee11;

fn key_count() -> u64 {
    if std::env::var("SILTDB_LONG_TESTS").is_ok_and(|v| v == "1") {
        10_000_000
    } else if cfg!(debug_assertions) {
        200_000
    } else {
        2_000_000
    }
}

fn options() -> Options {
    Options {
        create_if_missing: true,
        write_buffer_size: 1 << 20,
        // Uncompressed, so that the size comparison with the live data is honest.
        compression: CompressionType::None,
        ..Options::default()
    }
}

/// The whole load is regenerated from the seed instead of being kept.
fn key(i: u64) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&mix64(SEED ^ (2 * i)).to_be_bytes());
    k[8..].copy_from_slice(&mix64(SEED ^ (2 * i + 1)).to_be_bytes());
    k
}

fn value(i: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(VALUE_LEN);
    let mut x = mix64(i ^ !SEED);
    while v.len() < VALUE_LEN {
        v.extend_from_slice(&x.to_le_bytes());
        x = mix64(x);
    }
    v.truncate(VALUE_LEN);
    v
}

fn verify_all(db: &Db, n: u64, when: &str) {
    let read = ReadOptions::default();
    for i in 0..n {
        let got = db.get(&read, &key(i)).expect("get");
        assert!(
            got.as_deref() == Some(value(i).as_slice()),
            "{when}: key {i} read back {got:?}"
        );
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

fn check_size(dir: &Path, live: u64, when: &str) -> u64 {
    let size = dir_size(dir);
    println!(
        "{when}: directory {:.1} MiB, live data {:.1} MiB ({:.3}x)",
        mib(size),
        mib(live),
        size as f64 / live as f64
    );
    assert!(
        size as f64 <= 1.5 * live as f64,
        "{when}: the directory holds {size} bytes for {live} bytes of live data"
    );
    size
}

#[test]
fn random_load_never_stalls_and_reads_back_after_compaction() {
    let n = key_count();
    let live = n * (KEY_LEN + VALUE_LEN) as u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();

    let db = Db::open(dir.path(), options()).expect("open");
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let t = Instant::now();
        db.put(&WriteOptions::default(), &key(i), &value(i))
            .expect("put");
        let took = t.elapsed();
        if took > slowest {
            slowest = took;
        }
        assert!(took <= MAX_PUT, "put {i} took {took:?}");
    }
    let load_time = started.elapsed();
    println!("{n} puts in {load_time:?}, slowest put {slowest:?}");
    verify_all(&db, n, "after the load");
    db.close().expect("close");

    let levels = levels_on_disk(dir.path());
    let counts: Vec<usize> = levels.iter().map(Vec::len).collect();
    println!("files per level after the load: {counts:?}");
    assert!(
        counts[0] < Options::default().level0_stop_writes_trigger,
        "level 0 ended at the stop trigger: {counts:?}"
    );
    check_size(dir.path(), live, "after the load");

    let db = Db::open(dir.path(), options()).expect("reopen");
    verify_all(&db, n, "after reopen");
    let t = Instant::now();
    db.compact_range(None, None).expect("compact_range");
    println!("compact_range(None, None) took {:?}", t.elapsed());
    db.close().expect("close");
    let levels = non_empty_levels(dir.path());
    assert_eq!(levels.len(), 1, "all data on one level: {levels:?}");
    check_size(dir.path(), live, "after compact_range");

    let db = Db::open(dir.path(), options()).expect("reopen");
    verify_all(&db, n, "after compact_range and reopen");
    db.close().expect("close");
    println!("total {:?}", started.elapsed());
}
