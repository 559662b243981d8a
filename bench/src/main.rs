//! db_bench: LevelDB's benchmark program, for siltdb and LevelDB side by side. With
//! `--engine=both` this process only coordinates: it re-executes itself once per engine
//! (`--engine=X --child=1`) so that each engine's peak RSS is its own, relays the
//! children's output and prints the table of ratios.

mod compact;
mod engine;
mod flags;
mod flush;
mod header;
mod histogram;
mod leveldb;
mod report;
mod rss;
mod runner;
mod sync_floor;
mod watchdog;
mod workload;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use flags::{Command, EngineChoice, Flags, HELP, KNOWN_BENCHMARKS};
use report::{BenchResult, Status};
use runner::Runner;
use watchdog::Watchdog;

/// Set in a per-engine child: results are also printed as records for the parent.
static EMIT_RECORDS: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match flags::parse(&args) {
        Ok(Command::Run(flags)) => flags,
        Ok(Command::Help) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(bad) = flags
        .benchmarks
        .iter()
        .find(|b| !KNOWN_BENCHMARKS.contains(&b.as_str()))
    {
        eprintln!(
            "unknown benchmark '{bad}' (known: {})",
            KNOWN_BENCHMARKS.join(",")
        );
        return ExitCode::FAILURE;
    }
    EMIT_RECORDS.store(flags.child, Ordering::Relaxed);
    let code = match flags.engine {
        EngineChoice::Both => run_both(&flags, &args),
        one => {
            if !flags.child {
                println!("{}", header::header(&flags, &engine::version(one)));
            }
            run_engine(&flags, one)
        }
    };
    ExitCode::from(code)
}

/// Runs every benchmark against one engine in this process. Returns the exit code: 0,
/// 1 after an error, 3 after a stall (from the watchdog).
fn run_engine(flags: &Flags, which: EngineChoice) -> u8 {
    println!("== {} ==", engine::version(which));
    if which == EngineChoice::Leveldb && !leveldb::AVAILABLE {
        println!("leveldb: {}", leveldb::NOT_INSTALLED);
        return 0;
    }
    let watchdog = Watchdog::start(Duration::from_secs(flags.stall_timeout.max(1)), on_stall);
    let mut runner = Runner::new(flags, which, watchdog);
    if let Err(e) = runner.open_initial() {
        println!("open error: {e}");
        return 1;
    }
    for name in &flags.benchmarks {
        match runner.run(name) {
            Ok(result) => emit(&result),
            Err(e) => {
                emit(&BenchResult::not_run(
                    name,
                    Status::Failed(format!("FAILED: {e}")),
                ));
                return 1;
            }
        }
    }
    if let Err(e) = runner.close() {
        println!("close error: {e}");
        return 1;
    }
    println!("Load at end: {}", header::load_average());
    0
}

fn emit(result: &BenchResult) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", result.leveldb_line());
    if let Some(detail) = result.detail_line() {
        let _ = writeln!(out, "{detail}");
    }
    if let Some(h) = &result.histogram {
        let _ = writeln!(out, "Microseconds per op:\n{h}");
    }
    if EMIT_RECORDS.load(Ordering::Relaxed) {
        let _ = writeln!(out, "{}", result.to_record());
    }
    let _ = out.flush();
}

/// The watchdog's report: the engine is stuck inside a call, so the run ends here.
fn on_stall(name: &str, message: &str) -> ! {
    emit(&BenchResult::not_run(
        name,
        Status::Failed(format!("STALLED: {message}")),
    ));
    std::process::exit(3);
}

/// Runs each engine in a child process of its own and prints both side by side.
fn run_both(flags: &Flags, args: &[String]) -> u8 {
    let versions = format!(
        "{} vs {}",
        engine::version(EngineChoice::Siltdb),
        engine::version(EngineChoice::Leveldb)
    );
    println!("{}", header::header(flags, &versions));
    let mut code = 0;
    let mut results: Vec<Vec<BenchResult>> = Vec::new();
    for which in [EngineChoice::Siltdb, EngineChoice::Leveldb] {
        if which == EngineChoice::Leveldb && !leveldb::AVAILABLE {
            println!("== leveldb ==\nleveldb: {}", leveldb::NOT_INSTALLED);
            continue;
        }
        match run_children(which, args, flags) {
            Ok((list, ok)) => {
                if !ok {
                    code = 1;
                }
                results.push(list);
            }
            Err(e) => {
                println!("{}: could not run: {e}", which.as_str());
                code = 1;
            }
        }
        println!();
    }
    if let [silt, level] = results.as_slice() {
        println!("== side by side: ratio = siltdb / leveldb (below 1: siltdb faster or smaller); s = siltdb, l = leveldb ==");
        print!("{}", report::side_by_side(silt, level, &flags.benchmarks));
        // Over the benchmarks both engines completed, so that a run cut short does not
        // look small.
        let both_ok = |name: &str| {
            [silt, level].iter().all(|list| {
                list.iter()
                    .any(|r| r.name == name && r.status == Status::Ok)
            })
        };
        let peak = |list: &[BenchResult]| {
            list.iter()
                .filter(|r| both_ok(&r.name))
                .filter_map(|r| r.peak_rss_kib)
                .max()
        };
        if let (Some(s), Some(l)) = (peak(silt), peak(level)) {
            println!(
                "peak RSS over the benchmarks both completed: siltdb {:.1} MiB, leveldb {:.1} MiB, ratio {:.2}",
                s as f64 / 1024.0,
                l as f64 / 1024.0,
                s as f64 / l as f64
            );
        }
        if flags.benchmarks.iter().any(|b| b == "fillsync") {
            // A WAL record of one put: 12-byte batch header, tag, two varint lengths, key,
            // value, plus the 7-byte log record header.
            let bytes = 12 + 1 + 1 + 16 + 1 + flags.value_size + 7;
            match sync_floor::append_fdatasync_median(&flags.db, bytes, 1000) {
                Ok(t) => println!(
                    "fillsync floor: one {bytes}-byte append + fdatasync on this disk: {:.1} micros (median of 1000)",
                    t.as_secs_f64() * 1e6
                ),
                Err(e) => println!("fillsync floor: not measured: {e}"),
            }
        }
        println!("Load at end: {}", header::load_average());
    }
    code
}

/// Runs one engine's benchmarks in child processes: one, unless a benchmark fails or
/// stalls; then the benchmarks that depend on its database are reported as not run and
/// a new child resumes at the next benchmark that starts from a fresh database.
/// Returns the results and whether every child ended normally.
fn run_children(
    which: EngineChoice,
    args: &[String],
    flags: &Flags,
) -> Result<(Vec<BenchResult>, bool), String> {
    let mut results = Vec::new();
    let mut all_ok = true;
    let mut remaining: Vec<String> = flags.benchmarks.clone();
    while !remaining.is_empty() {
        let (list, ok) = run_child(which, args, &remaining)?;
        let done = list.len();
        results.extend(list);
        all_ok &= ok;
        if ok || done >= remaining.len() {
            break;
        }
        // The benchmark that was running when the child died left no record.
        let failed = match results.last() {
            Some(r) if done > 0 && r.status != Status::Ok => done - 1,
            _ => {
                let name = remaining.get(done).cloned().unwrap_or_default();
                results.push(BenchResult::not_run(
                    &name,
                    Status::Failed("FAILED: the engine's process died".to_string()),
                ));
                done
            }
        };
        let resume = (failed + 1..remaining.len())
            .find(|&i| runner::starts_fresh(&remaining[i]) && !flags.use_existing_db)
            .unwrap_or(remaining.len());
        for name in &remaining[failed + 1..resume] {
            let why = "not run: its database is from a benchmark that failed".to_string();
            let r = BenchResult::not_run(name, Status::Skipped(why));
            println!("{}", r.leveldb_line());
            results.push(r);
        }
        remaining.drain(..resume);
        if !remaining.is_empty() {
            println!(
                "(resuming {} in a new process at {})",
                which.as_str(),
                remaining[0]
            );
        }
    }
    Ok((results, all_ok))
}

/// Re-executes this program for one engine and `benchmarks`, relaying its output;
/// returns its results and whether it ended normally.
fn run_child(
    which: EngineChoice,
    args: &[String],
    benchmarks: &[String],
) -> Result<(Vec<BenchResult>, bool), String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    let mut child = Process::new(exe)
        .args(args.iter().filter(|a| {
            !a.starts_with("--engine")
                && !a.starts_with("--child")
                && !a.starts_with("--benchmarks")
        }))
        .arg(format!("--benchmarks={}", benchmarks.join(",")))
        .arg(format!("--engine={}", which.as_str()))
        .arg("--child=1")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the child: {e}"))?;
    let mut results = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.map_err(|e| format!("reading the child's output: {e}"))?;
            match BenchResult::from_record(&line) {
                Some(r) => results.push(r),
                None => println!("{line}"),
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the child: {e}"))?;
    if !status.success() {
        println!("({} process ended: {status})", which.as_str());
    }
    Ok((results, status.success()))
}
