//! Runs the benchmark list against one engine in this process, as LevelDB's db_bench
//! does: fresh-database benchmarks destroy and reopen, each benchmark runs on `--threads`
//! threads started together, each thread does the full count, and the thread stats are
//! merged (micros/op over summed thread time, MB/s over wall time).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use crate::engine::{self, Engine, EngineConfig};
use crate::flags::{EngineChoice, Flags};
use crate::histogram::Histogram;
use crate::report::{BenchResult, Status};
use crate::rss;
use crate::watchdog::{OpCounter, Watchdog};
use crate::workload::{KeyBuffer, Random, ValueGenerator};

/// One thread's measurements.
pub struct Stats {
    start: Instant,
    finish: Instant,
    last_op: Instant,
    done: u64,
    bytes: u64,
    hist: Histogram,
    message: String,
    progress: Arc<OpCounter>,
}

impl Stats {
    pub fn new(progress: Arc<OpCounter>) -> Stats {
        let now = Instant::now();
        Stats {
            start: now,
            finish: now,
            last_op: now,
            done: 0,
            bytes: 0,
            hist: Histogram::default(),
            message: String::new(),
            progress,
        }
    }

    fn start(&mut self) {
        let now = Instant::now();
        (self.start, self.finish, self.last_op) = (now, now, now);
    }

    fn stop(&mut self) {
        self.finish = Instant::now();
    }

    /// Records one operation. As db_bench, an operation's latency is the time since the
    /// previous one finished (one clock read per op; includes making the key).
    pub fn finished_op(&mut self) {
        let now = Instant::now();
        self.hist.add((now - self.last_op).as_nanos() as u64);
        self.last_op = now;
        self.done += 1;
        self.progress.set(self.done);
    }

    pub fn add_bytes(&mut self, n: u64) {
        self.bytes += n;
    }

    pub fn add_message(&mut self, msg: &str) {
        if !self.message.is_empty() {
            self.message.push(' ');
        }
        self.message.push_str(msg);
    }

    fn merge(&mut self, other: Stats) {
        self.hist.merge(&other.hist);
        self.done += other.done;
        self.bytes += other.bytes;
        self.start = self.start.min(other.start);
        self.finish = self.finish.max(other.finish);
        if self.message.is_empty() {
            self.message = other.message;
        }
    }

    /// The result of `threads` merged stats whose per-thread times add up to `seconds`.
    fn into_result(self, name: &str, seconds: f64) -> BenchResult {
        let done = self.done.max(1);
        let elapsed = (self.finish - self.start).as_secs_f64();
        BenchResult {
            name: name.to_string(),
            status: Status::Ok,
            micros_per_op: seconds * 1e6 / done as f64,
            mb_per_sec: (self.bytes > 0 && elapsed > 0.0)
                .then(|| self.bytes as f64 / 1_048_576.0 / elapsed),
            ops: self.done,
            p50_ns: self.hist.percentile(50.0),
            p99_ns: self.hist.percentile(99.0),
            p999_ns: self.hist.percentile(99.9),
            max_ns: self.hist.max_nanos(),
            over_1ms: self.hist.over_1ms(),
            peak_rss_kib: None,
            message: self.message,
            histogram: None,
        }
    }
}

/// A thread's view while running a benchmark.
pub struct ThreadState {
    pub rand: Random,
    pub stats: Stats,
}

/// The benchmarks of one engine over one database directory.
pub struct Runner<'a> {
    pub flags: &'a Flags,
    pub which: EngineChoice,
    pub dir: PathBuf,
    pub config: EngineConfig,
    pub db: Option<Box<dyn Engine>>,
    pub watchdog: Watchdog,
    /// Threads started so far, for db_bench's per-thread seeds (1000 + this count).
    threads_started: u32,
}

/// A benchmark body, run on each thread.
type Method = fn(&Flags, &dyn Engine, &mut ThreadState, Op) -> Result<(), String>;

/// What a write or read benchmark does, beyond its method.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Operations per thread.
    pub count: usize,
    pub sync: bool,
    pub sequential: bool,
}

impl<'a> Runner<'a> {
    pub fn new(flags: &'a Flags, which: EngineChoice, watchdog: Watchdog) -> Runner<'a> {
        Runner {
            flags,
            which,
            dir: engine_dir(&flags.db, which),
            config: EngineConfig::from_flags(flags),
            db: None,
            watchdog,
            threads_started: 0,
        }
    }

    /// Opens the database for the run: destroyed first unless `--use_existing_db`.
    pub fn open_initial(&mut self) -> Result<(), String> {
        if self.flags.use_existing_db {
            self.reopen(&self.config.clone())
        } else {
            self.fresh(&self.config.clone())
        }
    }

    /// Closes the database, deletes its directory and opens an empty one with `config`.
    pub fn fresh(&mut self, config: &EngineConfig) -> Result<(), String> {
        self.close()?;
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", self.dir.display())),
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("creating {}: {e}", self.dir.display()))?;
        let create = EngineConfig {
            create_if_missing: true,
            ..*config
        };
        self.db = Some(engine::open(self.which, &self.dir, &create)?);
        Ok(())
    }

    /// Closes and reopens the existing database with `config`.
    pub fn reopen(&mut self, config: &EngineConfig) -> Result<(), String> {
        self.close()?;
        self.db = Some(engine::open(self.which, &self.dir, config)?);
        Ok(())
    }

    pub fn close(&mut self) -> Result<(), String> {
        match self.db.take() {
            Some(db) => db.close(),
            None => Ok(()),
        }
    }

    pub fn engine(&self) -> Result<&dyn Engine, String> {
        self.db
            .as_deref()
            .ok_or_else(|| "database is not open".to_string())
    }

    /// Runs one benchmark by name. Errors end this engine's run (as db_bench exits).
    pub fn run(&mut self, name: &str) -> Result<BenchResult, String> {
        let flags = self.flags;
        let num = flags.num;
        let reads = flags.reads.unwrap_or(num);
        let write = |count, sync, sequential| Op {
            count,
            sync,
            sequential,
        };
        let (method, op): (Method, Op) = match name {
            "fillseq" => (do_write, write(num, false, true)),
            // LevelDB 1.23's db_bench divides by 1000 here (its comment says N/100).
            "fillsync" => (do_write, write((num / 1000).max(1), true, false)),
            "fillrandom" => (do_write, write(num, false, false)),
            "overwrite" => (do_write, write(num, false, false)),
            "readrandom" => (read_random, write(reads, false, false)),
            "readmissing" => (read_missing, write(reads, false, false)),
            "readseq" => (read_seq, write(reads, false, true)),
            "flush" => {
                if flags.use_existing_db {
                    return Ok(skipped_existing(name));
                }
                return crate::flush::run(self);
            }
            "compact" => return crate::compact::run(self),
            _ => return Err(format!("unknown benchmark '{name}'")),
        };
        if starts_fresh(name) {
            if flags.use_existing_db {
                return Ok(skipped_existing(name));
            }
            self.fresh(&self.config.clone())?;
        }
        self.run_threads(name, method, op)
    }

    fn run_threads(&mut self, name: &str, method: Method, op: Op) -> Result<BenchResult, String> {
        let n = self.flags.threads;
        let seeds: Vec<u32> = (0..n)
            .map(|_| {
                self.threads_started += 1;
                1000 + self.threads_started
            })
            .collect();
        self.watchdog.begin(name, self.dir.clone());
        rss::reset_peak();
        let before = self.write_counters();
        let engine = self.engine()?;
        let flags = self.flags;
        let barrier = Barrier::new(n);
        let outcomes: Vec<Result<Stats, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = seeds
                .iter()
                .map(|&seed| {
                    let counter = self.watchdog.counter();
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let mut thread = ThreadState {
                            rand: Random::new(seed),
                            stats: Stats::new(counter),
                        };
                        barrier.wait();
                        thread.stats.start();
                        let r = method(flags, engine, &mut thread, op);
                        thread.stats.stop();
                        r.map(|()| thread.stats)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("benchmark thread panicked".into()))
                })
                .collect()
        });
        self.watchdog.end();
        let mut merged: Option<Stats> = None;
        let mut seconds = 0.0;
        for outcome in outcomes {
            let stats = outcome.map_err(|e| format!("{name}: {e}"))?;
            seconds += (stats.finish - stats.start).as_secs_f64();
            match merged.as_mut() {
                Some(m) => m.merge(stats),
                None => merged = Some(stats),
            }
        }
        let stats = merged.ok_or("no threads ran")?;
        let histogram = self.flags.histogram.then(|| stats.hist.to_leveldb_string());
        let mut result = stats.into_result(name, seconds);
        if let Some(note) = self.group_commit_note(name, before) {
            result.message = [result.message.as_str(), &note]
                .join(" ")
                .trim()
                .to_string();
        }
        result.peak_rss_kib = rss::peak_kib();
        result.histogram = histogram;
        Ok(result)
    }
}

impl Runner<'_> {
    /// siltdb's group-commit counters (writes, WAL records, WAL fsyncs); None for LevelDB,
    /// which has no such properties.
    fn write_counters(&self) -> Option<[u64; 5]> {
        let db = self.db.as_ref()?;
        let get = |name: &str| db.property(name)?.parse::<u64>().ok();
        Some([
            get("siltdb.num-writes")?,
            get("siltdb.num-write-groups")?,
            get("siltdb.num-wal-syncs")?,
            get("siltdb.num-write-stalls")?,
            get("siltdb.write-stall-micros")?,
        ])
    }

    /// For write benchmarks: how many writes each WAL record and each fsync carried.
    fn group_commit_note(&self, name: &str, before: Option<[u64; 5]>) -> Option<String> {
        if !matches!(name, "fillseq" | "fillsync" | "fillrandom" | "overwrite") {
            return None;
        }
        let after = self.write_counters()?;
        let [writes, groups, syncs, stalls, stall_micros] =
            [0, 1, 2, 3, 4].map(|i| after[i] - before.map_or(0, |b| b[i]));
        let mut note = format!("[{writes} writes in {groups} WAL records");
        if syncs > 0 {
            note.push_str(&format!(
                ", {syncs} fsyncs: {:.2} writes/fsync",
                writes as f64 / syncs as f64
            ));
        }
        if stalls > 0 {
            note.push_str(&format!(
                "; {stalls} write stalls, {:.1} ms in all",
                stall_micros as f64 / 1000.0
            ));
        }
        note.push(']');
        Some(note)
    }
}

/// Benchmarks that begin by destroying the database: they do not depend on what ran
/// before them.
pub fn starts_fresh(name: &str) -> bool {
    matches!(name, "fillseq" | "fillsync" | "fillrandom" | "flush")
}

/// Where engine `which` keeps its database under `--db`.
pub fn engine_dir(db: &Path, which: EngineChoice) -> PathBuf {
    db.join(which.as_str())
}

fn skipped_existing(name: &str) -> BenchResult {
    BenchResult::not_run(
        name,
        Status::Skipped("skipped (--use_existing_db is true)".to_string()),
    )
}

fn do_write(flags: &Flags, db: &dyn Engine, t: &mut ThreadState, op: Op) -> Result<(), String> {
    if op.count != flags.num {
        t.stats.add_message(&format!("({} ops)", op.count));
    }
    let mut values = ValueGenerator::new(flags.compression_ratio);
    let mut keys = KeyBuffer::default();
    let mut bytes = 0u64;
    for i in 0..op.count {
        let k = if op.sequential {
            i as u32 // num fits in an i32 (checked by the flags)
        } else {
            t.rand.uniform(flags.num as u32)
        };
        let key = keys.set(k);
        let value = values.generate(flags.value_size);
        db.put(key, value, op.sync)
            .map_err(|e| format!("put error: {e}"))?;
        bytes += (key.len() + value.len()) as u64;
        t.stats.finished_op();
    }
    t.stats.add_bytes(bytes);
    Ok(())
}

fn read_random(flags: &Flags, db: &dyn Engine, t: &mut ThreadState, op: Op) -> Result<(), String> {
    let mut key = KeyBuffer::default();
    let mut found = 0usize;
    for _ in 0..op.count {
        let k = key.set(t.rand.uniform(flags.num as u32));
        if db.get(k).map_err(|e| format!("get error: {e}"))? {
            found += 1;
        }
        t.stats.finished_op();
    }
    t.stats
        .add_message(&format!("({found} of {} found)", flags.num));
    Ok(())
}

fn read_missing(flags: &Flags, db: &dyn Engine, t: &mut ThreadState, op: Op) -> Result<(), String> {
    let mut key = KeyBuffer::default();
    for _ in 0..op.count {
        let k = key.set(t.rand.uniform(flags.num as u32));
        // The key without its last digit: shorter than every stored key, so absent.
        db.get(&k[..k.len() - 1])
            .map_err(|e| format!("get error: {e}"))?;
        t.stats.finished_op();
    }
    Ok(())
}

fn read_seq(_flags: &Flags, db: &dyn Engine, t: &mut ThreadState, op: Op) -> Result<(), String> {
    let mut bytes = 0u64;
    let stats = &mut t.stats;
    let outcome = db.scan(op.count, &mut |len| {
        bytes += len as u64;
        stats.finished_op();
    });
    outcome.map_err(|e| format!("iterator error: {e}"))?;
    t.stats.add_bytes(bytes);
    Ok(())
}
