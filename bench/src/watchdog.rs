//! Notices a benchmark that stops making progress (an engine waiting forever, say for a
//! compaction that never comes) and ends the run with a STALLED report instead of
//! hanging `make bench`. Threads publish their op counts in padded atomics of their own,
//! so watching costs the measured loop one uncontended store per operation.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// One thread's operation count, alone on its cache line.
#[repr(align(64))]
#[derive(Default)]
pub struct OpCounter(AtomicU64);

impl OpCounter {
    pub fn set(&self, ops: u64) {
        self.0.store(ops, Ordering::Relaxed);
    }
}

/// What a stall report needs to know about the running benchmark.
struct Current {
    name: String,
    db_dir: PathBuf,
    counters: Vec<Arc<OpCounter>>,
}

/// Shared between the runner (which registers benchmarks and counters) and the
/// watching thread.
#[derive(Clone)]
pub struct Watchdog {
    current: Arc<Mutex<Option<Current>>>,
    /// Bumped whenever a benchmark starts or ends, which also counts as progress.
    phase: Arc<AtomicU64>,
}

impl Watchdog {
    /// Starts the watching thread. `on_stall(name, message)` reports and must not
    /// return (it ends the process).
    pub fn start(timeout: Duration, on_stall: fn(&str, &str) -> !) -> Watchdog {
        let dog = Watchdog {
            current: Arc::new(Mutex::new(None)),
            phase: Arc::new(AtomicU64::new(0)),
        };
        let watcher = dog.clone();
        thread::Builder::new()
            .name("bench-watchdog".to_string())
            .spawn(move || watcher.watch(timeout, on_stall))
            .map(drop)
            .unwrap_or_else(|e| eprintln!("watchdog not started: {e}"));
        dog
    }

    /// Marks the start of benchmark `name` on the database in `db_dir`.
    pub fn begin(&self, name: &str, db_dir: PathBuf) {
        *self.lock() = Some(Current {
            name: name.to_string(),
            db_dir,
            counters: Vec::new(),
        });
        self.phase.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter for one benchmark thread (or phase) to publish its progress in.
    pub fn counter(&self) -> Arc<OpCounter> {
        let counter = Arc::new(OpCounter::default());
        if let Some(current) = self.lock().as_mut() {
            current.counters.push(Arc::clone(&counter));
        }
        counter
    }

    /// Counts as progress: for steps that are one long operation (a flush).
    pub fn touch(&self) {
        self.phase.fetch_add(1, Ordering::Relaxed);
    }

    pub fn end(&self) {
        *self.lock() = None;
        self.phase.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Current>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn watch(&self, timeout: Duration, on_stall: fn(&str, &str) -> !) {
        let mut last_total = u64::MAX;
        let mut last_change = Instant::now();
        loop {
            thread::sleep(Duration::from_millis(250));
            let guard = self.lock();
            let Some(current) = guard.as_ref() else {
                last_change = Instant::now();
                continue;
            };
            let ops: u64 = current
                .counters
                .iter()
                .map(|c| c.0.load(Ordering::Relaxed))
                .sum();
            let total = ops.wrapping_add(self.phase.load(Ordering::Relaxed) << 40);
            if total != last_total {
                last_total = total;
                last_change = Instant::now();
            } else if last_change.elapsed() >= timeout {
                let message = format!(
                    "no operation finished for {} s, after {} ops; {} table files in {}",
                    timeout.as_secs(),
                    ops,
                    crate::flush::table_file_sizes(&current.db_dir).len(),
                    current.db_dir.display()
                );
                on_stall(&current.name, &message);
            }
        }
    }
}
