//! Writers, readers and a flusher hammer one Db at once, and every read is checked
//! against what the writers' models allow. Each writer owns its keys, and writes version
//! `v` of a key (a put whose value names the version, or — every fifth version — a delete)
//! only after recording that it started it, and records it committed once the call
//! returned. So a read that began after version `floor` was committed and ended before
//! version `ceil + 1` was started must see a version in `floor..=ceil`: the exact value of
//! a put version, or nothing if that range holds a delete (or `floor` is 0). A reader
//! also never sees a key go back to an older version than one it already saw.
//! Meanwhile a flusher seals and flushes memtables (waiting or not), and the small write
//! buffer makes the writers trigger flushes of their own. Afterwards, and after a
//! reopen, every key holds its last committed version.
//!
//! Runs for 3 seconds (`SILTDB_STRESS_SECS` for longer).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::{seed, Rng};
use siltdb::batch::WriteBatch;
use siltdb::{Db, FlushOptions, Options, ReadOptions, WriteOptions};

const WRITERS: usize = 3;
const READERS: usize = 3;
const KEYS_PER_WRITER: usize = 200;

fn key(writer: usize, j: usize) -> Vec<u8> {
    format!("w{writer}-{j:04}").into_bytes()
}

fn is_delete(version: u64) -> bool {
    version % 5 == 0
}

fn value(writer: usize, j: usize, version: u64) -> Vec<u8> {
    let mut v = format!("w{writer}-{j:04}-v{version}-").into_bytes();
    v.resize(16 + (version as usize * 7 + j) % 200, b'x');
    v
}

/// The version a value names, if it is exactly the value of that version of this key.
fn version_of(writer: usize, j: usize, bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let prefix = format!("w{writer}-{j:04}-v");
    let rest = text.strip_prefix(&prefix)?;
    let version: u64 = rest.split('-').next()?.parse().ok()?;
    (value(writer, j, version) == bytes).then_some(version)
}

/// A writer's model of its keys: the last version started and the last committed.
struct KeyModel {
    started: AtomicU64,
    committed: AtomicU64,
}

struct Shared {
    db: Db,
    models: Vec<Vec<KeyModel>>,
    stop: AtomicBool,
    failures: Mutex<Vec<String>>,
    reads_checked: AtomicU64,
    writes: AtomicU64,
    flushes: AtomicU64,
}

impl Shared {
    fn fail(&self, msg: String) {
        self.failures.lock().expect("failures lock").push(msg);
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn writer(shared: &Shared, me: usize, mut rng: Rng) {
    while !shared.stop.load(Ordering::SeqCst) {
        // One key, or a batch of up to four of this writer's keys.
        let n = if rng.below(4) == 0 {
            2 + rng.below(3)
        } else {
            1
        };
        let mut keys: Vec<usize> = (0..n)
            .map(|_| rng.below(KEYS_PER_WRITER as u64) as usize)
            .collect();
        keys.sort();
        keys.dedup();
        let mut batch = WriteBatch::new();
        let mut versions = Vec::new();
        for &j in &keys {
            let model = &shared.models[me][j];
            let v = model.committed.load(Ordering::SeqCst) + 1;
            model.started.store(v, Ordering::SeqCst);
            if is_delete(v) {
                batch.delete(&key(me, j));
            } else {
                batch.put(&key(me, j), &value(me, j, v));
            }
            versions.push((j, v));
        }
        let opts = WriteOptions {
            sync: rng.below(20) == 0,
        };
        if let Err(e) = shared.db.write(&opts, &batch) {
            shared.fail(format!("writer {me}: {e}"));
            return;
        }
        for (j, v) in versions {
            shared.models[me][j].committed.store(v, Ordering::SeqCst);
        }
        shared.writes.fetch_add(1, Ordering::Relaxed);
    }
}

fn reader(shared: &Shared, me: usize, mut rng: Rng) {
    // The newest version this reader has seen of each key: reads never go back.
    let mut seen: HashMap<(usize, usize), u64> = HashMap::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let w = rng.below(WRITERS as u64) as usize;
        let j = rng.below(KEYS_PER_WRITER as u64) as usize;
        let model = &shared.models[w][j];
        let floor = model.committed.load(Ordering::SeqCst);
        let got = shared.db.get(&ReadOptions::default(), &key(w, j));
        let ceil = model.started.load(Ordering::SeqCst);
        let floor = floor.max(seen.get(&(w, j)).copied().unwrap_or(0));
        let what = format!("reader {me}: key w{w}-{j:04} (allowed versions {floor}..={ceil})");
        match got {
            Err(e) => return shared.fail(format!("{what}: {e}")),
            Ok(Some(bytes)) => match version_of(w, j, &bytes) {
                Some(v) if (floor..=ceil).contains(&v) && !is_delete(v) => {
                    seen.insert((w, j), v);
                }
                found => {
                    return shared.fail(format!(
                        "{what}: read version {found:?}: {:?}",
                        String::from_utf8_lossy(&bytes)
                    ))
                }
            },
            Ok(None) => {
                let deleted = floor == 0 || (floor..=ceil).any(is_delete);
                if !deleted {
                    return shared.fail(format!("{what}: read nothing"));
                }
            }
        }
        shared.reads_checked.fetch_add(1, Ordering::Relaxed);
    }
}

fn flusher(shared: &Shared, mut rng: Rng) {
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(2 + rng.below(20)));
        let wait = rng.below(2) == 0;
        if let Err(e) = shared.db.flush(&FlushOptions { wait }) {
            return shared.fail(format!("flusher: {e}"));
        }
        shared.flushes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every key holds its last committed version.
fn assert_matches_model(db: &Db, shared: &Shared, when: &str) {
    for w in 0..WRITERS {
        for j in 0..KEYS_PER_WRITER {
            let v = shared.models[w][j].committed.load(Ordering::SeqCst);
            let expected = (v > 0 && !is_delete(v)).then(|| value(w, j, v));
            let got = db.get(&ReadOptions::default(), &key(w, j)).expect("get");
            assert_eq!(got, expected, "{when}: key w{w}-{j:04}, version {v}");
        }
    }
}

/// What one thread of the test does.
type Role = Box<dyn FnOnce(&Shared, Rng) + Send>;

fn options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        // Random keys make every flush overlap: level 0 keeps growing until major
        // compaction exists to drain it, and must not stop the writers meanwhile.
        level0_slowdown_writes_trigger: 10_000,
        level0_stop_writes_trigger: 10_000,
        ..common::options()
    }
}

#[test]
fn every_read_is_one_the_writers_models_allow() {
    let secs: u64 = std::env::var("SILTDB_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let seed = seed();
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = Arc::new(Shared {
        db: Db::open(dir.path(), options()).expect("open"),
        models: (0..WRITERS)
            .map(|_| {
                (0..KEYS_PER_WRITER)
                    .map(|_| KeyModel {
                        started: AtomicU64::new(0),
                        committed: AtomicU64::new(0),
                    })
                    .collect()
            })
            .collect(),
        stop: AtomicBool::new(false),
        failures: Mutex::new(Vec::new()),
        reads_checked: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        flushes: AtomicU64::new(0),
    });

    let (done_tx, done_rx) = mpsc::channel();
    let spawn = |i: u64, f: Role| {
        let shared = Arc::clone(&shared);
        let done = done_tx.clone();
        std::thread::spawn(move || {
            f(&shared, Rng::new(seed.wrapping_mul(i + 1)));
            let _ = done.send(());
        });
    };
    for w in 0..WRITERS {
        spawn(w as u64, Box::new(move |s, r| writer(s, w, r)));
    }
    for r in 0..READERS {
        spawn(100 + r as u64, Box::new(move |s, rng| reader(s, r, rng)));
    }
    spawn(1000, Box::new(flusher));
    let threads = WRITERS + READERS + 1;

    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) && !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    shared.stop.store(true, Ordering::SeqCst);
    for _ in 0..threads {
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a thread is stuck: deadlock?");
    }
    let failures = shared.failures.lock().expect("failures lock").clone();
    assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));

    assert_matches_model(&shared.db, &shared, "after the run");
    let flushed = shared.db.stats().expect("stats").flushes_completed;
    shared.db.close().expect("close");
    let db = Db::open(dir.path(), options()).expect("reopen");
    assert_matches_model(&db, &shared, "after reopen");
    println!(
        "stress: {} writes, {} reads checked, {} manual flush calls, {flushed} flushes \
         completed in {secs}s",
        shared.writes.load(Ordering::Relaxed),
        shared.reads_checked.load(Ordering::Relaxed),
        shared.flushes.load(Ordering::Relaxed),
    );
    assert!(shared.reads_checked.load(Ordering::Relaxed) > 0);
    assert!(shared.flushes.load(Ordering::Relaxed) > 0);
}
