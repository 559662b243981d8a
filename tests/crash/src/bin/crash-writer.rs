//! The child of the crash loop: opens the database in `<dir>` and performs operations
//! `<start>..` of the workload for `<seed>` until it is killed, printing `ACK n` once
//! operation `n` has returned, `FLUSH_BEGIN job file` / `FLUSH_END job ok|error` as its
//! event listener hears of flushes and `COMPACTION_BEGIN job trivial|merge file,file..` /
//! `COMPACTION_END job ok|error` of compactions, so that the parent can kill it mid-job.
//!
//! Usage: crash-writer <dir> <seed> <start> [<count>]

use std::io::Write;
use std::sync::Arc;

use siltdb::{CompactionJobInfo, Db, EventListener, FlushJobInfo, FlushOptions, WriteOptions};
use siltdb_crash_tests::{key_bytes, op, options, write_batch, Op};

/// Prints flush and compaction events; stdout's lock keeps each line whole.
struct JobReporter;

impl EventListener for JobReporter {
    fn on_flush_begin(&self, info: &FlushJobInfo) {
        say(&format!(
            "FLUSH_BEGIN {} {}",
            info.job_id, info.file_number.0
        ));
    }

    fn on_flush_completed(&self, info: &FlushJobInfo) {
        let outcome = if info.error.is_none() { "ok" } else { "error" };
        say(&format!("FLUSH_END {} {outcome}", info.job_id));
    }

    fn on_compaction_begin(&self, info: &CompactionJobInfo) {
        let kind = if info.trivial_move {
            "trivial"
        } else {
            "merge"
        };
        let inputs: Vec<String> = info.input_files.iter().map(|f| f.0.to_string()).collect();
        say(&format!(
            "COMPACTION_BEGIN {} {kind} {}",
            info.job_id,
            inputs.join(",")
        ));
    }

    fn on_compaction_completed(&self, info: &CompactionJobInfo) {
        let outcome = if info.error.is_none() { "ok" } else { "error" };
        say(&format!("COMPACTION_END {} {outcome}", info.job_id));
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent may have stopped listening; the child is about to be killed anyway.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parse = |i: usize| -> Option<u64> { args.get(i)?.parse().ok() };
    let (Some(dir), Some(seed), Some(start)) = (args.get(1), parse(2), parse(3)) else {
        eprintln!("usage: crash-writer <dir> <seed> <start> [<count>]");
        std::process::exit(2);
    };
    let count = parse(4).unwrap_or(u64::MAX);
    let db = match Db::open(dir, options().listener(Arc::new(JobReporter))) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("crash-writer: open {dir}: {e}");
            std::process::exit(1);
        }
    };
    for n in start..start.saturating_add(count) {
        let op = op(seed, n);
        let done = match &op {
            Op::Put { key, value, sync } => {
                db.put(&WriteOptions { sync: *sync }, &key_bytes(*key), value)
            }
            Op::Delete { key, sync } => db.delete(&WriteOptions { sync: *sync }, &key_bytes(*key)),
            Op::Batch { records, sync } => {
                db.write(&WriteOptions { sync: *sync }, &write_batch(records))
            }
            Op::Flush { wait } => db.flush(&FlushOptions { wait: *wait }),
            Op::CompactRange { begin, end } => {
                db.compact_range(Some(&key_bytes(*begin)), Some(&key_bytes(*end)))
            }
        };
        if let Err(e) = done {
            eprintln!("crash-writer: operation {n} ({op:?}) failed: {e}");
            std::process::exit(1);
        }
        say(&format!("ACK {n}"));
    }
}
