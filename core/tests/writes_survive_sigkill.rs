//! A child process writes (with small write buffers, so flushes run all the time) and
//! reports each acknowledged write; the parent kills it with SIGKILL at a random moment,
//! reopens, and checks that every acknowledged write is there with its value and that
//! nothing unwritten appears. Also: the LOCK excludes another process.
//!
//! Cycles: 6 by default; set SILTDB_CRASH_CYCLES for a longer run.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{get, mix64, value_for};
use siltdb::{Db, FlushOptions, Options, WriteOptions};

const CHILD_ENV: &str = "SILTDB_SIGKILL_CHILD";

fn child_options() -> Options {
    Options {
        create_if_missing: true,
        write_buffer_size: 32 << 10,
        ..Options::default()
    }
}

/// Random-looking keys: flushes overlap, so level 0 fills and compactions run (and get
/// killed) all the time.
fn key(i: u64) -> Vec<u8> {
    format!("k{:016x}", mix64(i)).into_bytes()
}

/// Run by the child process only (the parent starts this test binary with `--ignored`).
#[test]
#[ignore = "child process of the SIGKILL tests"]
fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let mode = parts.next().unwrap_or_default().to_string();
    let start: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let dir = parts.next().unwrap_or_default().to_string();
    if mode == "try-open" {
        match Db::open(&dir, child_options()) {
            Ok(_) => println!("RESULT opened"),
            Err(e) => println!("RESULT {:?}", e.kind()),
        }
        return;
    }
    let db = Db::open(&dir, child_options()).expect("child open");
    for i in start..start + 1_000_000 {
        let sync = i % 64 == 0;
        db.put(
            &WriteOptions { sync },
            &key(i),
            &value_for(i, 40 + (i % 300) as usize),
        )
        .expect("child put");
        if i % 512 == 0 {
            db.flush(&FlushOptions {
                wait: i % 1024 == 0,
            })
            .expect("child flush");
        }
        println!("ACK {i}");
    }
}

fn spawn_child(mode: &str, start: u64, dir: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{mode}:{start}:{}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

fn seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(42)
        | 1
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let cycles: u64 = std::env::var("SILTDB_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = seed();
    println!("seed {rng}");
    let mut next = 0u64;
    let mut verified = 0u64;
    let mut acknowledged: Vec<std::ops::RangeInclusive<u64>> = Vec::new();
    for cycle in 0..cycles {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let kill_after = 300 + rng % 4000;
        let mut child = spawn_child("write", next, dir.path());
        let stdout = child.stdout.take().expect("child stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut acked: Option<u64> = None;
        let mut seen = 0;
        while seen < kill_after {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(n) = line.strip_prefix("ACK ") {
                        acked = n.trim().parse().ok();
                        seen += 1;
                    }
                }
                _ => break,
            }
        }
        child.kill().expect("SIGKILL the child");
        // Acknowledgements already in the pipe count too.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("ACK ") {
                acked = n.trim().parse().ok();
            }
        }
        let _ = child.wait();
        let last = acked.expect("the child acknowledged writes before it was killed");
        acknowledged.push(next..=last);
        let db = Db::open(dir.path(), child_options()).expect("reopen after SIGKILL");
        for i in acknowledged.iter().flat_map(|r| r.clone()) {
            assert_eq!(
                get(&db, &key(i)),
                Some(value_for(i, 40 + (i % 300) as usize)),
                "cycle {cycle}: acknowledged write {i} lost"
            );
            verified += 1;
        }
        // A write that was in flight may or may not be there, but never with another value;
        // nothing past it was ever written.
        if let Some(v) = get(&db, &key(last + 1)) {
            assert_eq!(v, value_for(last + 1, 40 + ((last + 1) % 300) as usize));
        }
        for i in last + 2..last + 50 {
            assert_eq!(
                get(&db, &key(i)),
                None,
                "cycle {cycle}: write {i} never happened"
            );
        }
        db.close().expect("close");
        next = last + 2;
    }
    println!("{cycles} SIGKILL cycles, {verified} acknowledged writes verified");
}

#[test]
fn another_process_cannot_open_a_locked_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), child_options()).expect("open");
    let out = spawn_child("try-open", 0, dir.path())
        .wait_with_output()
        .expect("child ran");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RESULT Busy"), "child said: {text}");
    db.close().expect("close");
    let out = spawn_child("try-open", 0, dir.path())
        .wait_with_output()
        .expect("child ran");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RESULT opened"), "child said: {text}");
}
