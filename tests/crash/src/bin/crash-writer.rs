//! The child of the crash loop: opens the database in `<dir>` and performs operations
//! `<start>..` of the workload for `<seed>` until it is killed, printing `ACK n` once
//! operation `n` has returned, and `FLUSH_BEGIN job file` / `FLUSH_END job ok|error` as
//! its event listener hears of flushes, so that the parent can kill it mid-flush.
//!
//! Usage: crash-writer <dir> <seed> <start> [<count>]

use std::io::Write;
use std::sync::Arc;

use siltdb::{Db, EventListener, FlushJobInfo, FlushOptions, WriteOptions};
use siltdb_crash_tests::{key_bytes, op, options, write_batch, Op};

/// Prints flush events; stdout's lock keeps each line whole.
struct FlushReporter;

impl EventListener for FlushReporter {
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
    let db = match Db::open(dir, options().listener(Arc::new(FlushReporter))) {
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
        };
        if let Err(e) = done {
            eprintln!("crash-writer: operation {n} ({op:?}) failed: {e}");
            std::process::exit(1);
        }
        say(&format!("ACK {n}"));
    }
}
