//! The `compact` benchmark (LevelDB db_bench's name): compact the whole database as the
//! benchmarks before it left it, and wait. Beside the time it reports the table bytes
//! it started from and ended with, and the CPU the engine's process spent meanwhile: a
//! compaction's wall time includes waiting for the disk, its CPU time is the work.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::flush::table_file_sizes;
use crate::report::{size, BenchResult};
use crate::rss;
use crate::runner::Runner;

/// How often the directory is looked at for signs of progress (for the stall watchdog).
const PROGRESS_POLL: Duration = Duration::from_millis(500);

pub fn run(r: &mut Runner<'_>) -> Result<BenchResult, String> {
    let before = table_file_sizes(&r.dir);
    r.watchdog.begin("compact", r.dir.clone());
    let db = r.engine()?;
    rss::reset_peak();
    let cpu_before = process_cpu();
    let start = Instant::now();
    let (dir, watchdog) = (&r.dir, &r.watchdog);
    let (finished, wait) = mpsc::channel::<()>();
    let (outcome, elapsed, cpu_after) = std::thread::scope(|scope| {
        // One call that may run for minutes: each new or deleted table file counts as
        // progress, so only a compaction that stops writing is reported as stalled.
        // The watcher ends as soon as the call returns (the sender is dropped).
        scope.spawn(move || {
            let mut seen = table_file_sizes(dir).len();
            while let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(PROGRESS_POLL) {
                let now = table_file_sizes(dir).len();
                if now != seen {
                    watchdog.touch();
                    seen = now;
                }
            }
        });
        let outcome = db.compact();
        let measured = (start.elapsed(), process_cpu());
        drop(finished);
        (outcome, measured.0, measured.1)
    });
    let cpu = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let peak = rss::peak_kib();
    r.watchdog.end();
    outcome.map_err(|e| format!("compact error: {e}"))?;

    let after = table_file_sizes(&r.dir);
    let bytes_in: u64 = before.iter().sum();
    let message = describe(&before, &after, cpu);
    Ok(BenchResult::one_call(
        "compact",
        elapsed,
        bytes_in as f64,
        peak,
        message,
    ))
}

/// "(tables before: 12, 110.20 MiB; after: 52, 99.80 MiB; CPU 1.23 s, all threads)".
fn describe(before: &[u64], after: &[u64], cpu: Option<Duration>) -> String {
    let tables = |t: &[u64]| format!("{}, {}", t.len(), size(t.iter().sum::<u64>() as f64));
    let cpu = match cpu {
        Some(c) => format!("CPU {:.2} s, all threads", c.as_secs_f64()),
        None => "CPU not measured: no /proc/self/stat".to_string(),
    };
    format!(
        "(tables before: {}; after: {}; {cpu})",
        tables(before),
        tables(after)
    )
}

/// User plus system CPU time of this process, all threads, from /proc/self/stat.
fn process_cpu() -> Option<Duration> {
    parse_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Fields 14 and 15 of /proc/<pid>/stat (utime, stime) in USER_HZ ticks, which the
/// kernel fixes at 100 per second for this interface. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its last ')'.
fn parse_cpu(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // A command name with a space and a ')' in it; utime 123, stime 45 ticks.
        let stat = "4242 (db bench) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 123 45 0 0 20 0";
        assert_eq!(parse_cpu(stat), Some(Duration::from_millis(1680)));
        assert_eq!(parse_cpu("4242 (db_bench) S 1"), None);
        assert_eq!(parse_cpu("no name here"), None);
        let own = process_cpu().expect("this process has /proc/self/stat");
        assert!(own < Duration::from_secs(24 * 3600));
    }

    /// Both engines' `compact` empties level 0 of a database that has several files
    /// there, with every entry still readable.
    #[test]
    fn engine_compact_pushes_every_level_zero_file_down() {
        use crate::engine::{self, EngineConfig};
        use crate::flags::{Compression, EngineChoice};

        let mut engines = vec![EngineChoice::Siltdb];
        if crate::leveldb::AVAILABLE {
            engines.push(EngineChoice::Leveldb);
        }
        for which in engines {
            let dir = tempfile::tempdir().expect("temp dir");
            let config = EngineConfig {
                create_if_missing: true,
                write_buffer_size: 64 << 10,
                compression: Compression::None,
                bloom_bits: 0,
                cache_size: None,
            };
            let db = engine::open(which, dir.path(), &config).expect("open");
            let level0 = |db: &dyn engine::Engine| {
                db.property("leveldb.num-files-at-level0")
                    .and_then(|n| n.parse::<u32>().ok())
                    .expect("level-0 file count")
            };
            // Five flushes of interleaved keys. Both engines place the first on level 2
            // and the second on level 1 (nothing below overlaps them), the other three
            // on level 0, which neither compacts below four files.
            for round in 0..5u32 {
                for k in 0..300u32 {
                    let key = format!("{:016}", k * 5 + round);
                    db.put(key.as_bytes(), &[round as u8; 100], false)
                        .expect("put");
                }
                db.flush().expect("flush");
            }
            assert_eq!(level0(&*db), 3, "{which:?}");
            db.compact().expect("compact");
            assert_eq!(level0(&*db), 0, "{which:?}");
            for k in [0u32, 1, 2, 3, 4, 1499] {
                let key = format!("{k:016}");
                assert!(db.get(key.as_bytes()).expect("get"), "{which:?}: {key}");
            }
            db.close().expect("close");
        }
    }

    #[test]
    fn description_counts_tables_and_bytes() {
        let text = describe(
            &[1 << 20, 1 << 20],
            &[3 << 20],
            Some(Duration::from_millis(1250)),
        );
        assert_eq!(
            text,
            "(tables before: 2, 2.00 MiB; after: 1, 3.00 MiB; CPU 1.25 s, all threads)"
        );
        assert!(describe(&[], &[], None).ends_with("not measured: no /proc/self/stat)"));
    }
}
