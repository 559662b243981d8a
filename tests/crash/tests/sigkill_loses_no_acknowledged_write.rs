//! The crash loop. A child process (`crash-writer`) runs the workload — random keys;
//! sync and non-sync puts, deletes, batches, manual flushes, an occasional compact_range;
//! a 32 KiB write buffer and LevelDB's default compaction triggers, so flushes and
//! level-0 compactions run all the time — and acknowledges each operation on stdout. The
//! parent kills it with SIGKILL at a random moment: after a random number of
//! acknowledgements, or right after the child reports that a flush or a compaction began.
//! Then it reopens the directory and checks:
//! - every acknowledged write is there with its latest value, and acknowledged deletes
//!   hold (a `get` of every key ever written);
//! - the one operation that may have been in flight is all there or not at all (batches
//!   are atomic);
//! - nothing else is there: a full scan equals the model exactly (so no key that was
//!   never written, such as slot 7 of every key base, and no deleted key, appears);
//! - every table the MANIFEST names exists.
//!
//! SIGKILL does not lose what was handed to the OS, so every acknowledged write must
//! survive, synced or not. The next cycle's child continues in the same directory.
//!
//! Cycles: 20 (`SILTDB_CRASH_CYCLES=N` for more); seed: the clock (`SILTDB_CRASH_SEED`).
//! A fresh directory is started every 100 cycles.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use siltdb::filename::table_file_name;
use siltdb::fs::PosixFs;
use siltdb::version::VersionSet;
use siltdb::{Db, FileNumber, ReadOptions};
use siltdb_crash_tests::{key_bytes, op, options, Op, KEY_BASES, NEVER_WRITTEN_SLOT, SLOTS};

const CYCLES_PER_DIRECTORY: u64 = 100;
/// A cycle waiting for a flush or compaction that does not come ends here anyway.
const MAX_ACKS_PER_CYCLE: u64 = 20_000;

/// Each key's current value (`None`: deleted) for every key ever written.
type Model = BTreeMap<u64, Option<Vec<u8>>>;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A compaction the child reported beginning.
struct CompactionBegun {
    job: u64,
    trivial: bool,
    inputs: Vec<u64>,
}

/// What the child said before it died.
#[derive(Default)]
struct Transcript {
    last_ack: Option<u64>,
    /// Flush jobs that began: (job id, table file number).
    flushes_begun: Vec<(u64, u64)>,
    compactions_begun: Vec<CompactionBegun>,
    /// Job ids of flushes and compactions that ended.
    ended: Vec<u64>,
}

impl Transcript {
    fn hear(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
        match words.first().copied() {
            Some("ACK") => self.last_ack = number(1).or(self.last_ack),
            Some("FLUSH_BEGIN") => {
                if let (Some(job), Some(file)) = (number(1), number(2)) {
                    self.flushes_begun.push((job, file));
                }
            }
            Some("COMPACTION_BEGIN") => {
                if let Some(job) = number(1) {
                    let inputs = words.get(3).map_or(Vec::new(), |list| {
                        list.split(',').filter_map(|f| f.parse().ok()).collect()
                    });
                    self.compactions_begun.push(CompactionBegun {
                        job,
                        trivial: words.get(2) == Some(&"trivial"),
                        inputs,
                    });
                }
            }
            Some("FLUSH_END") | Some("COMPACTION_END") => {
                if let Some(job) = number(1) {
                    self.ended.push(job);
                }
            }
            _ => {}
        }
    }
}

/// When to pull the trigger.
#[derive(Debug, Clone, Copy)]
enum KillAfter {
    Acks(u64),
    /// Right after the child reports the n-th flush begin of this cycle.
    FlushBegins(usize),
    /// Right after the child reports the n-th compaction begin of this cycle.
    CompactionBegins(usize),
}

fn spawn(dir: &Path, seed: u64, start: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_crash-writer"))
        .arg(dir)
        .arg(seed.to_string())
        .arg(start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crash-writer")
}

/// Listens until `kill` says so (or the child ends), waits `delay`, kills, and drains
/// what was written.
fn run_until_killed(mut child: Child, kill: KillAfter, delay: Duration) -> Transcript {
    let stdout: ChildStdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut heard = Transcript::default();
    let (mut acks, mut flushes, mut compactions) = (0u64, 0usize, 0usize);
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        heard.hear(&line);
        acks += u64::from(line.starts_with("ACK "));
        flushes += usize::from(line.starts_with("FLUSH_BEGIN "));
        compactions += usize::from(line.starts_with("COMPACTION_BEGIN "));
        let now = acks >= MAX_ACKS_PER_CYCLE
            || match kill {
                KillAfter::Acks(n) => acks >= n,
                KillAfter::FlushBegins(n) => flushes >= n,
                KillAfter::CompactionBegins(n) => compactions >= n,
            };
        if now {
            break;
        }
    }
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    // Lines already in the pipe were written before the kill: they count.
    for line in lines.map_while(Result::ok) {
        heard.hear(&line);
    }
    assert_eq!(
        status.signal(),
        Some(9),
        "the child must die by SIGKILL, not exit on its own: {status}"
    );
    heard
}

/// Table files the MANIFEST on disk names (the DB must be closed).
fn installed_tables(dir: &Path) -> Vec<u64> {
    let mut versions = VersionSet::new(dir, Arc::new(PosixFs));
    versions.recover().expect("the MANIFEST must replay");
    versions.current().live_files().map(|n| n.0).collect()
}

fn read(db: &Db, k: u64) -> Option<Vec<u8>> {
    db.get(&ReadOptions::default(), &key_bytes(k))
        .unwrap_or_else(|e| panic!("get key {k}: {e}"))
}

/// Every (key, value) in the database, in key order.
fn scan(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut it = db.iter(&ReadOptions::default()).expect("iterator");
    let mut all = Vec::new();
    it.seek_to_first();
    while it.valid() {
        all.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    it.status().expect("the scan must not fail");
    all
}

/// What an operation leaves behind: each key's final value (later records win).
fn net_effect(op: &Op) -> BTreeMap<u64, Option<Vec<u8>>> {
    op.records().into_iter().collect()
}

/// Figures of a run.
#[derive(Default)]
struct Tally {
    flush_kills: u64,
    compaction_kills: u64,
    flushes_interrupted: usize,
    compactions_interrupted: usize,
    compact_ranges_in_flight: u64,
    acknowledged: u64,
    in_flight_applied: u64,
    values_verified: u64,
    lost: u64,
    phantoms: u64,
    /// The deepest level holding a table at any reopen.
    deepest_level: usize,
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_write() {
    let cycles = env_u64("SILTDB_CRASH_CYCLES").unwrap_or(20);
    let seed = env_u64("SILTDB_CRASH_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    }) | 1;
    println!("crash loop seed {seed} (SILTDB_CRASH_SEED replays it)");
    let started = Instant::now();
    let root = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(seed);
    let mut t = Tally::default();

    let mut model = Model::new();
    let mut next = 0u64;
    let mut dir = root.path().join("db0");
    for cycle in 0..cycles {
        if cycle > 0 && cycle % CYCLES_PER_DIRECTORY == 0 {
            dir = root
                .path()
                .join(format!("db{}", cycle / CYCLES_PER_DIRECTORY));
            model.clear();
            next = 0;
        }
        let ctx = format!("seed {seed} cycle {cycle}");
        let (kill, delay) = match rng.below(10) {
            0..=2 => {
                t.flush_kills += 1;
                let n = 1 + rng.below(3) as usize;
                (KillAfter::FlushBegins(n), rng.below(1000))
            }
            3..=5 => {
                t.compaction_kills += 1;
                let n = 1 + rng.below(2) as usize;
                (KillAfter::CompactionBegins(n), rng.below(3000))
            }
            _ => (KillAfter::Acks(50 + rng.below(1500)), 0),
        };
        let heard = run_until_killed(spawn(&dir, seed, next), kill, Duration::from_micros(delay));

        // Jobs that began but whose edit never reached the MANIFEST were cut short by
        // the kill (the end event alone could lag behind the job): a flush's table is
        // not installed, a merging compaction's inputs are all still live.
        let installed = installed_tables(&dir);
        t.flushes_interrupted += heard
            .flushes_begun
            .iter()
            .filter(|(job, file)| !heard.ended.contains(job) && !installed.contains(file))
            .count();
        t.compactions_interrupted += heard
            .compactions_begun
            .iter()
            .filter(|c| {
                !c.trivial
                    && !heard.ended.contains(&c.job)
                    && !c.inputs.is_empty()
                    && c.inputs.iter().all(|f| installed.contains(f))
            })
            .count();
        for file in &installed {
            assert!(
                table_file_name(&dir, FileNumber(*file)).exists(),
                "{ctx}: table {file} is installed but missing"
            );
        }

        // Operations next..in_flight were acknowledged; in_flight may have been under way.
        let in_flight = heard.last_ack.map_or(next, |last| last + 1);
        for n in next..in_flight {
            for (k, v) in op(seed, n).records() {
                model.insert(k, v);
            }
        }
        t.acknowledged += in_flight - next;
        let in_flight_op = op(seed, in_flight);
        t.compact_ranges_in_flight += u64::from(matches!(in_flight_op, Op::CompactRange { .. }));

        let db = Db::open(&dir, options()).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
        // The in-flight operation: every key it would change must agree on whether it
        // was applied.
        let mut applied = None;
        for (k, v) in net_effect(&in_flight_op) {
            let before = model.get(&k).cloned().flatten();
            if before == v {
                continue; // writing what is already there tells nothing
            }
            let now = read(&db, k);
            let this = if now == v {
                true
            } else if now == before {
                false
            } else {
                panic!("{ctx}: key {k} of in-flight op {in_flight} has {now:?}")
            };
            assert!(
                applied.is_none() || applied == Some(this),
                "{ctx}: in-flight op {in_flight} ({in_flight_op:?}) was applied in part"
            );
            applied = Some(this);
        }
        if applied == Some(true) {
            t.in_flight_applied += 1;
            for (k, v) in in_flight_op.records() {
                model.insert(k, v);
            }
        }

        // Every key ever written, by get; then the whole database, by scan.
        let mut problems = Vec::new();
        for (k, v) in &model {
            let now = read(&db, *k);
            if &now != v {
                t.lost += 1;
                problems.push(format!("key {k}: want {v:?}, got {now:?}"));
            }
            t.values_verified += 1;
        }
        for base in 0..KEY_BASES {
            let k = base * SLOTS + NEVER_WRITTEN_SLOT;
            if let Some(v) = read(&db, k) {
                t.phantoms += 1;
                problems.push(format!("key {k} was never written but holds {v:?}"));
            }
        }
        let expected: Vec<(Vec<u8>, Vec<u8>)> = model
            .iter()
            .filter_map(|(k, v)| Some((key_bytes(*k), v.clone()?)))
            .collect();
        let found = scan(&db);
        if found != expected {
            let first = found
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(found.len().min(expected.len()));
            t.phantoms += u64::from(found.len() > expected.len());
            problems.push(format!(
                "scan: {} entries, model {}; first difference at {first}: found {:?}, want {:?}",
                found.len(),
                expected.len(),
                found.get(first).map(|(k, _)| String::from_utf8_lossy(k)),
                expected.get(first).map(|(k, _)| String::from_utf8_lossy(k)),
            ));
        }
        assert!(
            problems.is_empty(),
            "{ctx}: op {in_flight} was in flight ({kill:?}); {} problems, first: {:#?}",
            problems.len(),
            &problems[..problems.len().min(10)]
        );
        for level in (t.deepest_level + 1)..7 {
            let files = db.property(&format!("leveldb.num-files-at-level{level}"));
            if files.is_some_and(|f| f != "0") {
                t.deepest_level = level;
            }
        }
        db.close().expect("close");
        next = in_flight + 1;
    }
    println!(
        "crash loop: {cycles} cycles (killed: {} right after a flush began, {} right after a \
         compaction began, the rest after a random number of acks); {} flushes and {} \
         compactions interrupted, {} compact_range calls in flight; {} acknowledged \
         operations verified ({} in-flight operations found applied), {} values checked, \
         {} lost, {} never-written keys found; tables reached level {}; in {:.1}s",
        t.flush_kills,
        t.compaction_kills,
        t.flushes_interrupted,
        t.compactions_interrupted,
        t.compact_ranges_in_flight,
        t.acknowledged,
        t.in_flight_applied,
        t.values_verified,
        t.lost,
        t.phantoms,
        t.deepest_level,
        started.elapsed().as_secs_f64()
    );
}
