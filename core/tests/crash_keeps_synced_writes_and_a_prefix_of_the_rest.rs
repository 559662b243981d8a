//! A machine crash — simulated by `FaultInjectionFs::drop_unsynced_data`, which cuts every
//! file back to its last sync and forgets directory entries never made durable — keeps
//! every write that was made durable (a `sync` write, and everything before a completed
//! `flush(wait)`), the database opens, and the writes that survive are a prefix of the
//! write order: a later write never survives an earlier one it followed.
//!
//! Staging the crash honestly. A crashed process does no more work, so the Db is brought
//! to rest first: the last `flush(wait)` has returned and the writes after it are too
//! few to seal the memtable, so no background flush is running or pending. Then
//! `drop_unsynced_data` runs with the Db still open (nothing is forgotten with
//! `mem::forget`, and the LOCK is released normally), and every file handle the Db holds
//! dies. Dropping the Db afterwards runs `close`, whose only I/O — a WAL sync on a dead
//! handle — fails; the test checks that the close created, renamed or removed nothing,
//! so the directory the reopen sees is exactly what the crash left.
//!
//! Several crash rounds run on one directory, each continuing from what survived the last.
//! Every other crash keeps a random part of each file's unsynced tail (the OS wrote some
//! dirty pages back in time), so the WAL ends in a torn record and some unsynced writes
//! survive: then the prefix rule has teeth. The WAL keeps the size it had at the crash,
//! so a torn record is followed by zeros, and every open is paranoid.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{seed, Rng};
use siltdb::batch::WriteBatch;
use siltdb::fs::fault::{FaultInjectionFs, FsOp};
use siltdb::fs::PosixFs;
use siltdb::{Db, FlushOptions, Options, ReadOptions, WriteOptions};

const WRITE_BUFFER: usize = 32 << 10;
/// Crash rounds; `SILTDB_CRASH_ROUNDS` for more.
const ROUNDS: usize = 6;
/// A longer run starts a fresh directory every so many rounds: random keys pile flushes
/// up on level 0, and until major compaction drains it, reaching the stop trigger would
/// stop the writers for good.
const ROUNDS_PER_DIRECTORY: usize = 20;

type Key = Vec<u8>;
/// The records of one write, applied atomically: `None` deletes.
type Records = Vec<(Key, Option<Vec<u8>>)>;

fn options(fs: &Arc<FaultInjectionFs>) -> Options {
    Options {
        create_if_missing: true,
        write_buffer_size: WRITE_BUFFER,
        // No automatic compaction: the crash must find the background worker idle (a
        // compaction still deleting its inputs would touch the directory at close).
        // Flushes of random keys pile up on level 0 instead, so the write triggers go up.
        level0_file_num_compaction_trigger: 1000,
        level0_slowdown_writes_trigger: 1000,
        level0_stop_writes_trigger: 1000,
        // What a crash leaves is not damage: a WAL ending in a torn record followed by
        // the zeros it was sized with must open even with paranoid checks.
        paranoid_checks: true,
        fs: fs.clone(),
        ..Options::default()
    }
}

/// Generates writes over a growing key space: new keys, overwrites, deletes, batches.
struct Workload {
    rng: Rng,
    next_key: u64,
    version: u64,
}

impl Workload {
    fn key(&mut self) -> Key {
        if self.next_key == 0 || self.rng.chance(40) {
            self.next_key += 1;
            format!("key{:06}", self.next_key - 1).into_bytes()
        } else {
            format!("key{:06}", self.rng.below(self.next_key)).into_bytes()
        }
    }

    fn value(&mut self) -> Vec<u8> {
        self.version += 1;
        let mut v = format!("v{}-", self.version).into_bytes();
        let len = 10 + self.rng.below(90) as usize;
        v.resize(len, b'a' + (self.version % 26) as u8);
        v
    }

    fn record(&mut self) -> (Key, Option<Vec<u8>>) {
        let key = self.key();
        if self.rng.chance(15) {
            (key, None)
        } else {
            (key, Some(self.value()))
        }
    }

    /// One write: a single put or delete, or a batch of 2–5 records.
    fn write(&mut self) -> Records {
        let n = if self.rng.chance(20) {
            2 + self.rng.below(4)
        } else {
            1
        };
        (0..n).map(|_| self.record()).collect()
    }
}

fn apply(db: &Db, records: &Records, sync: bool) {
    let opts = WriteOptions { sync };
    match records.as_slice() {
        [(k, Some(v))] => db.put(&opts, k, v).expect("put"),
        [(k, None)] => db.delete(&opts, k).expect("delete"),
        _ => {
            let mut batch = WriteBatch::new();
            for (k, v) in records {
                match v {
                    Some(v) => batch.put(k, v),
                    None => batch.delete(k),
                }
            }
            db.write(&opts, &batch).expect("write batch");
        }
    }
}

fn active_memtable_bytes(db: &Db) -> usize {
    db.property("siltdb.cur-size-active-mem-table")
        .and_then(|s| s.parse().ok())
        .expect("memtable size property")
}

/// Durable-naming calls: a close after the crash must make none.
fn namespace_calls(fs: &FaultInjectionFs) -> [usize; 3] {
    [
        fs.calls(FsOp::Create),
        fs.calls(FsOp::Rename),
        fs.calls(FsOp::Remove),
    ]
}

/// Finds the longest prefix of `writes` that, applied to `before`, gives `observed`.
fn surviving_prefix(
    before: &BTreeMap<Key, Option<Vec<u8>>>,
    writes: &[Records],
    observed: &BTreeMap<Key, Option<Vec<u8>>>,
) -> Option<usize> {
    let mut model = before.clone();
    let absent = None;
    let differs = |model: &BTreeMap<Key, Option<Vec<u8>>>, k: &Key| {
        model.get(k).unwrap_or(&absent) != observed.get(k).unwrap_or(&absent)
    };
    let mut mismatches = observed.keys().filter(|k| differs(&model, k)).count();
    let mut best = (mismatches == 0).then_some(0);
    for (i, records) in writes.iter().enumerate() {
        for (k, v) in records {
            let was = differs(&model, k);
            model.insert(k.clone(), v.clone());
            let is = differs(&model, k);
            mismatches = mismatches + usize::from(is) - usize::from(was);
        }
        if mismatches == 0 {
            best = Some(i + 1);
        }
    }
    best
}

#[test]
fn synced_writes_survive_and_unsynced_ones_survive_as_a_prefix() {
    let seed = seed();
    let rounds: usize = std::env::var("SILTDB_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ROUNDS);
    println!("seed {seed} (set SILTDB_SEED to replay)");
    let root = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let mut work = Workload {
        rng: Rng::new(seed),
        next_key: 0,
        version: 0,
    };
    // The state every key had when the last crash round was verified.
    let mut state: BTreeMap<Key, Option<Vec<u8>>> = BTreeMap::new();
    let (mut synced_total, mut unsynced_survived, mut unsynced_lost) = (0usize, 0usize, 0usize);

    for round in 0..rounds {
        let dir = root
            .path()
            .join(format!("db{}", round / ROUNDS_PER_DIRECTORY));
        if round % ROUNDS_PER_DIRECTORY == 0 {
            state.clear();
        }
        let db = Db::open(&dir, options(&fs))
            .unwrap_or_else(|e| panic!("seed {seed} round {round}: open after crash: {e}"));
        let mut writes: Vec<Records> = Vec::new();

        // The body: enough writes to seal the memtable a few times on its own, with
        // some sync writes and manual flushes; then a flush that is waited for makes it
        // all durable and brings the Db to rest.
        let body = 200 + work.rng.below(1200);
        for _ in 0..body {
            let records = work.write();
            apply(&db, &records, work.rng.chance(5));
            writes.push(records);
            if work.rng.chance(1) {
                db.flush(&FlushOptions { wait: true }).expect("flush");
            }
        }
        db.flush(&FlushOptions { wait: true }).expect("flush");
        // Writes [0, durable) were made durable by a sync write or a completed flush.
        let mut durable = writes.len();

        // The tail: too small to seal the memtable, so nothing runs in the background.
        let tail = work.rng.below(60);
        for _ in 0..tail {
            if active_memtable_bytes(&db) > WRITE_BUFFER / 2 {
                break;
            }
            let records = work.write();
            let sync = work.rng.chance(10);
            apply(&db, &records, sync);
            writes.push(records);
            if sync {
                durable = writes.len();
            }
        }
        assert!(active_memtable_bytes(&db) < WRITE_BUFFER);
        assert_eq!(
            db.property("siltdb.mem-table-flush-pending").as_deref(),
            Some("0"),
            "no flush may be pending at the crash"
        );

        if round % 2 == 0 {
            fs.drop_unsynced_data().expect("simulated crash");
        } else {
            // The OS got part of the unsynced tail to disk: the WAL ends in a torn record.
            let rng = &mut work.rng;
            fs.drop_unsynced_data_keeping(|_, unsynced| rng.below(unsynced + 1))
                .expect("simulated crash keeping part of the tail");
        }
        let calls = namespace_calls(&fs);
        drop(db);
        assert_eq!(
            namespace_calls(&fs),
            calls,
            "closing a crashed Db must not touch the directory"
        );

        let db = Db::open(&dir, options(&fs))
            .unwrap_or_else(|e| panic!("seed {seed} round {round}: reopen after crash: {e}"));
        let mut keys: Vec<Key> = state.keys().cloned().collect();
        keys.extend(writes.iter().flatten().map(|(k, _)| k.clone()));
        keys.sort();
        keys.dedup();
        let observed: BTreeMap<Key, Option<Vec<u8>>> = keys
            .into_iter()
            .map(|k| {
                let v = db
                    .get(&ReadOptions::default(), &k)
                    .unwrap_or_else(|e| panic!("seed {seed} round {round}: get: {e}"));
                (k, v)
            })
            .collect();
        let survived = surviving_prefix(&state, &writes, &observed).unwrap_or_else(|| {
            panic!(
                "seed {seed} round {round}: what survived is not a prefix of the {} writes",
                writes.len()
            )
        });
        assert!(
            survived >= durable,
            "seed {seed} round {round}: only {survived} writes survived, {durable} were durable"
        );
        synced_total += durable;
        unsynced_survived += survived - durable;
        unsynced_lost += writes.len() - survived;
        state = observed;
        db.close().expect("close");
    }
    println!(
        "{rounds} crashes: {synced_total} durable writes kept, {unsynced_survived} unsynced \
         writes survived, {unsynced_lost} lost (always a suffix)"
    );
    assert!(
        unsynced_lost > 0 || rounds == 0,
        "the crash must drop something"
    );
}

/// The flush deletes the WAL that held the data, so the table's directory entry must be
/// durable before the MANIFEST edit that names it (it once was not: the reopen failed with
/// "table file(s) named in the MANIFEST are missing" and the data was gone).
#[test]
fn a_table_flushed_just_before_a_crash_is_still_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let db = Db::open(dir.path(), options(&fs)).expect("open");
    for i in 0..100u64 {
        common::put(
            &db,
            format!("k{i:03}").as_bytes(),
            &common::value_for(i, 50),
        );
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    fs.drop_unsynced_data().expect("crash");
    drop(db);
    let db = Db::open(dir.path(), options(&fs)).expect("reopen after the crash");
    for i in 0..100u64 {
        assert_eq!(
            common::get(&db, format!("k{i:03}").as_bytes()),
            Some(common::value_for(i, 50))
        );
    }
}
