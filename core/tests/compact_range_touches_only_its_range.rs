//! `compact_range` with bounds rewrites only the files holding keys in the range: files
//! of other keys keep their numbers and levels, while the range's data from every level
//! ends up merged into one file on the deepest level it reached.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{get, options, put, version_on_disk};
use siltdb::version::NUM_LEVELS;
use siltdb::{Db, FlushOptions};

const PER_PREFIX: u64 = 1000;

fn key(prefix: char, i: u64) -> Vec<u8> {
    format!("{prefix}-{i:05}").into_bytes()
}

fn value(prefix: char, i: u64, round: u64) -> Vec<u8> {
    format!("{prefix}{i}-round{round}").into_bytes()
}

/// (level, file number, first byte of its smallest key) of every table file.
fn layout(dir: &Path) -> BTreeSet<(usize, u64, u8)> {
    let v = version_on_disk(dir);
    let mut out = BTreeSet::new();
    for level in 0..NUM_LEVELS {
        for f in &v.files[level] {
            let first = f.smallest.user_key().first().copied().unwrap_or(0);
            assert_eq!(
                Some(&first),
                f.largest.user_key().first(),
                "file {} mixes prefixes",
                f.number
            );
            out.insert((level, f.number.0, first));
        }
    }
    out
}

fn of_prefix(layout: &BTreeSet<(usize, u64, u8)>, prefix: u8) -> Vec<(usize, u64)> {
    layout
        .iter()
        .filter(|(_, _, p)| *p == prefix)
        .map(|&(level, number, _)| (level, number))
        .collect()
}

#[test]
fn bounded_compact_range_leaves_other_files_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    // Three rounds over two key ranges, one flush per range and round: each range
    // stacks a file on level 2, level 1 and level 0 (a flush stops above what it overlaps).
    for round in 1..=3 {
        for prefix in ['a', 'z'] {
            for i in 0..PER_PREFIX {
                put(&db, &key(prefix, i), &value(prefix, i, round));
            }
            db.flush(&FlushOptions { wait: true }).expect("flush");
        }
    }
    db.close().expect("close");
    let before = layout(dir.path());
    let levels = |files: &[(usize, u64)]| files.iter().map(|f| f.0).collect::<Vec<_>>();
    assert_eq!(
        levels(&of_prefix(&before, b'a')),
        vec![0, 1, 2],
        "{before:?}"
    );
    assert_eq!(
        levels(&of_prefix(&before, b'z')),
        vec![0, 1, 2],
        "{before:?}"
    );

    let db = Db::open(dir.path(), options()).expect("reopen");
    db.compact_range(Some(b"a"), Some(b"a~"))
        .expect("compact_range");
    for prefix in ['a', 'z'] {
        for i in 0..PER_PREFIX {
            assert_eq!(get(&db, &key(prefix, i)), Some(value(prefix, i, 3)));
        }
    }
    db.close().expect("close");

    let after = layout(dir.path());
    assert_eq!(
        of_prefix(&after, b'z'),
        of_prefix(&before, b'z'),
        "files outside the range were touched"
    );
    let a_after = of_prefix(&after, b'a');
    assert_eq!(a_after.len(), 1, "the range is one file: {after:?}");
    assert_eq!(a_after[0].0, 2, "on the deepest level it reached");
    assert!(
        of_prefix(&before, b'a').iter().all(|f| f.1 < a_after[0].1),
        "the range's file was rewritten"
    );

    let db = Db::open(dir.path(), options()).expect("reopen");
    for prefix in ['a', 'z'] {
        for i in 0..PER_PREFIX {
            assert_eq!(get(&db, &key(prefix, i)), Some(value(prefix, i, 3)));
        }
    }
}

#[test]
fn compact_range_of_an_empty_database_or_range_is_a_no_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    db.compact_range(None, None).expect("empty database");
    put(&db, b"m", b"1");
    db.compact_range(Some(b"x"), Some(b"y"))
        .expect("range without data");
    assert_eq!(get(&db, b"m"), Some(b"1".to_vec()));
    db.close().expect("close");
    assert_eq!(
        layout(dir.path()).len(),
        1,
        "the memtable was flushed, nothing else"
    );
    let db = Db::open(dir.path(), options()).expect("reopen");
    db.close().expect("close");
    assert!(db.compact_range(None, None).is_err(), "closed");
}
