//! The crash loop. A child process (`crash-writer`) runs the workload — sync and non-sync
//! puts, deletes, batches, manual flushes, with memtables small enough that flushes run
//! all the time — and acknowledges each operation on stdout. The parent kills it with
//! SIGKILL at a random moment: after a random number of acknowledgements, or right after
//! the child reports that a flush began. Then it reopens the directory and checks:
//! - every acknowledged write is there with its value, and acknowledged deletes hold;
//! - the one operation that may have been in flight is all there or not at all (batches
//!   are atomic);
//! - nothing that was never written appears (slot 7 of every operation, and the keys of
//!   the operations after the in-flight one).
//!
//! SIGKILL does not lose what was handed to the OS, so every acknowledged write must
//! survive, synced or not. The next cycle's child continues in the same directory.
//!
//! Cycles: 20 (`SILTDB_CRASH_CYCLES=N` for more); seed: the clock (`SILTDB_CRASH_SEED`).
//! A fresh directory is started every 25 cycles, since every reopen's recovery flush adds
//! a level-0 file that nothing drains until major compaction exists.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use siltdb::filename::table_file_name;
use siltdb::fs::PosixFs;
use siltdb::version::VersionSet;
use siltdb::{Db, FileNumber, ReadOptions};
use siltdb_crash_tests::{key_bytes, op, options, NEVER_WRITTEN_SLOT, SLOTS};

const CYCLES_PER_DIRECTORY: u64 = 25;

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

/// What the child said before it died.
#[derive(Default)]
struct Transcript {
    last_ack: Option<u64>,
    /// Flush jobs that began: (job id, table file number).
    flushes_begun: Vec<(u64, u64)>,
    flushes_ended: Vec<u64>,
}

impl Transcript {
    fn hear(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let mut number = || words.next().and_then(|w| w.parse::<u64>().ok());
        if let Some(rest) = line.strip_prefix("ACK ") {
            self.last_ack = rest.trim().parse().ok().or(self.last_ack);
        } else if line.starts_with("FLUSH_BEGIN ") {
            number();
            if let (Some(job), Some(file)) = (number(), number()) {
                self.flushes_begun.push((job, file));
            }
        } else if line.starts_with("FLUSH_END ") {
            number();
            if let Some(job) = number() {
                self.flushes_ended.push(job);
            }
        }
    }
}

/// When to pull the trigger.
#[derive(Debug, Clone, Copy)]
enum Kill {
    AfterAcks(u64),
    /// Right after the child reports the n-th flush begin of this cycle.
    AfterFlushBegins(usize),
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

/// Listens until `kill` says so (or the child ends), kills, and drains what was written.
fn run_until_killed(mut child: Child, kill: Kill) -> Transcript {
    let stdout: ChildStdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut heard = Transcript::default();
    let (mut acks, mut begins) = (0u64, 0usize);
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        heard.hear(&line);
        acks += u64::from(line.starts_with("ACK "));
        begins += usize::from(line.starts_with("FLUSH_BEGIN "));
        let now = match kill {
            Kill::AfterAcks(n) => acks >= n,
            Kill::AfterFlushBegins(n) => begins >= n,
        };
        if now {
            break;
        }
    }
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
    let (mut flush_kills, mut interrupted, mut acknowledged, mut verified) = (0, 0, 0u64, 0u64);
    let mut in_flight_applied = 0;

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
        let kill = if rng.below(3) == 0 {
            flush_kills += 1;
            Kill::AfterFlushBegins(1 + rng.below(3) as usize)
        } else {
            Kill::AfterAcks(50 + rng.below(1500))
        };
        let heard = run_until_killed(spawn(&dir, seed, next), kill);

        // Flushes that began but whose table never made it into the MANIFEST were cut
        // short by the kill (the end event alone could lag behind the flush).
        let installed = installed_tables(&dir);
        interrupted += heard
            .flushes_begun
            .iter()
            .filter(|(job, file)| !heard.flushes_ended.contains(job) && !installed.contains(file))
            .count();
        for (_, file) in &heard.flushes_begun {
            let exists = table_file_name(&dir, FileNumber(*file)).exists();
            assert!(
                exists || !installed.contains(file),
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
        acknowledged += in_flight - next;

        let db = Db::open(&dir, options()).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
        // The in-flight operation: every record that would change something must agree
        // on whether it was applied.
        let mut applied = None;
        for (k, v) in op(seed, in_flight).records() {
            let before = model.get(&k).cloned().flatten();
            if before == v {
                continue; // deleting an absent key tells nothing
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
                "{ctx}: in-flight op {in_flight} ({:?}) was applied in part",
                op(seed, in_flight)
            );
            applied = Some(this);
        }
        if applied == Some(true) {
            in_flight_applied += 1;
            for (k, v) in op(seed, in_flight).records() {
                model.insert(k, v);
            }
        }

        for (k, v) in &model {
            assert_eq!(
                &read(&db, *k),
                v,
                "{ctx}: key {k} (op {}) lost or wrong; op {in_flight} was in flight",
                k / SLOTS
            );
            verified += 1;
        }
        for n in next..in_flight + 50 {
            let k = n * SLOTS + NEVER_WRITTEN_SLOT;
            assert_eq!(read(&db, k), None, "{ctx}: key {k} was never written");
        }
        for n in in_flight + 1..in_flight + 50 {
            for slot in 0..SLOTS {
                let k = n * SLOTS + slot;
                assert_eq!(read(&db, k), None, "{ctx}: op {n} never ran");
            }
        }
        db.close().expect("close");
        next = in_flight + 1;
    }
    println!(
        "crash loop: {cycles} cycles ({flush_kills} killed right after a flush began), \
         {interrupted} flushes interrupted, {acknowledged} acknowledged operations, \
         {in_flight_applied} in-flight operations found applied, {verified} values verified, \
         0 lost, in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
