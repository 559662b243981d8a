//! End to end: the program runs every benchmark on both engines in child processes and
//! prints LevelDB's lines and the side-by-side table.

use std::process::Command;

fn db_bench(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_db_bench"))
        .args(args)
        .arg(format!("--db={}", dir.path().display()))
        .output()
        .expect("run db_bench");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[test]
fn small_run_prints_lines_and_table() {
    let (ok, out) = db_bench(&["--num=2000", "--write_buffer_size=1048576"]);
    assert!(ok, "{out}");
    assert!(out.contains("== siltdb "), "{out}");
    for name in [
        "fillseq",
        "fillsync",
        "fillrandom",
        "overwrite",
        "readrandom",
        "compact",
        "flush",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{name:<12} : ")) && l.contains("micros/op;"))
            .unwrap_or_else(|| panic!("no {name} line in\n{out}"));
        assert!(line.len() > 30, "{line}");
    }
    assert!(
        out.contains("(2 ops)"),
        "fillsync runs num/1000 ops:\n{out}"
    );
    assert!(out.contains("ops > 1 ms · peak RSS"), "{out}");
    assert!(out.contains("(tables before: "), "{out}");
    assert!(
        !out.contains("@@result"),
        "records leaked into the output:\n{out}"
    );
    let leveldb_linked = !out.contains("SKIPPED: libleveldb not installed");
    assert_eq!(out.contains("== side by side"), leveldb_linked, "{out}");
    if leveldb_linked {
        assert!(out.contains("readseq      :"), "{out}");
    }
}

#[test]
fn bad_flags_and_unknown_benchmarks_fail_with_the_name() {
    let (ok, _) = db_bench(&["--frobnicate=1"]);
    assert!(!ok);
    let (ok, _) = db_bench(&["--benchmarks=fillseq,compact_everything"]);
    assert!(!ok);
    let (ok, help) = db_bench(&["--help"]);
    assert!(ok && help.contains("num/1000"), "{help}");
}
