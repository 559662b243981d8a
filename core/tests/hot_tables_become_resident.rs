//! Tables that point lookups keep reading from disk are loaded whole into memory, within
//! `resident_table_budget`, and then answer from there: the same values, damage still
//! reported as Corruption, the memory counted, and given back when compaction deletes
//! the files.

mod common;

use common::{files_of_type, mix64, options, put, table_sizes, value_for};
use siltdb::filename::FileType;
use siltdb::{CompressionType, Db, ErrorKind, FlushOptions, Options, ReadOptions};

const KEYS: u64 = 20_000;

fn key(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

/// A database of `KEYS` keys in several tables, no block cache (so every lookup reads its
/// block from the file until the table is resident).
fn filled(dir: &std::path::Path, compression: CompressionType, budget: usize) -> Options {
    let opts = Options {
        write_buffer_size: 160 << 10,
        max_file_size: 160 << 10,
        block_cache_size: 0,
        compression,
        resident_table_budget: budget,
        ..options()
    };
    let db = Db::open(dir, opts.clone()).expect("open");
    for i in 0..KEYS {
        put(&db, &key(i), &value_for(i, 100));
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    db.close().expect("close");
    opts
}

fn resident_bytes(db: &Db) -> u64 {
    db.property("siltdb.resident-table-bytes")
        .and_then(|s| s.parse().ok())
        .expect("resident-table-bytes is a number")
}

fn table_bytes(dir: &std::path::Path) -> u64 {
    table_sizes(dir).iter().sum()
}

/// Reads every key `rounds` times in a scattered order, checking each value.
fn read_all(db: &Db, rounds: u64) {
    for r in 0..rounds {
        for j in 0..KEYS {
            let i = mix64(j + r * KEYS) % KEYS;
            let got = db.get(&ReadOptions::default(), &key(i)).expect("get");
            assert_eq!(got, Some(value_for(i, 100)), "key {i}");
        }
    }
}

#[test]
fn hot_tables_answer_from_memory_even_with_their_files_gone() {
    for compression in [CompressionType::None, CompressionType::Snappy] {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = filled(dir.path(), compression, 256 << 20);
        let on_disk = table_bytes(dir.path());
        assert!(files_of_type(dir.path(), FileType::Table).len() >= 2);
        let db = Db::open(dir.path(), opts).expect("reopen");
        assert_eq!(resident_bytes(&db), 0, "nothing read yet");
        read_all(&db, 3);
        assert_eq!(
            resident_bytes(&db),
            on_disk,
            "{compression:?}: every table was read more than its size"
        );
        let memory: u64 = db
            .property("leveldb.approximate-memory-usage")
            .and_then(|s| s.parse().ok())
            .expect("number");
        assert!(memory >= on_disk, "resident tables count: {memory}");
        // The tables are open and resident: lookups no longer touch the files.
        for n in files_of_type(dir.path(), FileType::Table) {
            std::fs::remove_file(dir.path().join(format!("{n:06}.ldb"))).expect("rm");
        }
        read_all(&db, 1);
        assert_eq!(
            db.get(&ReadOptions::default(), b"key99999999")
                .expect("get"),
            None
        );
    }
}

#[test]
fn a_budget_of_zero_or_one_too_small_keeps_tables_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = filled(dir.path(), CompressionType::None, 0);
    let db = Db::open(dir.path(), opts.clone()).expect("reopen");
    read_all(&db, 2);
    assert_eq!(resident_bytes(&db), 0);
    db.close().expect("close");

    // Room for some tables (a table may take an eighth of the budget), not all of them.
    let one = table_sizes(dir.path()).into_iter().max().expect("tables");
    let budget = (one * 8) as usize;
    assert!(
        table_bytes(dir.path()) > budget as u64,
        "the test needs more tables"
    );
    let db = Db::open(
        dir.path(),
        Options {
            resident_table_budget: budget,
            ..opts
        },
    )
    .expect("reopen");
    read_all(&db, 3);
    let held = resident_bytes(&db);
    assert!(held > 0 && held <= budget as u64, "{held} of {budget}");
    assert!(held < table_bytes(dir.path()));
}

#[test]
fn damage_in_a_resident_table_is_corruption_and_hurts_no_other_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = filled(dir.path(), CompressionType::None, 256 << 20);
    // Flip a byte inside the first data block of the table holding the smallest keys.
    let first = files_of_type(dir.path(), FileType::Table)
        .into_iter()
        .find(|n| {
            let bytes = std::fs::read(dir.path().join(format!("{n:06}.ldb"))).expect("read");
            bytes.windows(11).any(|w| w == b"key00000000")
        })
        .expect("a table holds key 0");
    let path = dir.path().join(format!("{first:06}.ldb"));
    let mut bytes = std::fs::read(&path).expect("read table");
    bytes[100] ^= 0x40;
    std::fs::write(&path, &bytes).expect("write table");

    let db = Db::open(dir.path(), opts).expect("reopen");
    let unverified = ReadOptions {
        verify_checksums: false,
        ..ReadOptions::default()
    };
    // Make every table resident, reading around the damaged block.
    for _ in 0..3 {
        for i in 100..KEYS {
            assert_eq!(
                db.get(&unverified, &key(i)).expect("get"),
                Some(value_for(i, 100))
            );
        }
    }
    assert_eq!(resident_bytes(&db), table_bytes(dir.path()));
    for read in [&unverified, &ReadOptions::default()] {
        let err = db.get(read, &key(0)).expect_err("damaged block");
        assert_eq!(err.kind(), ErrorKind::Corruption, "{err}");
        assert!(err.to_string().contains("checksum"), "{err}");
    }
    assert_eq!(
        db.get(&ReadOptions::default(), &key(5000)).expect("get"),
        Some(value_for(5000, 100))
    );
}

/// The deleted tables' buffers are kept, counted, for the new tables, and freed once
/// the new tables are resident and no open table could take them.
#[test]
fn compaction_gives_back_the_memory_of_the_tables_it_deletes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = filled(dir.path(), CompressionType::None, 256 << 20);
    let db = Db::open(dir.path(), opts).expect("reopen");
    read_all(&db, 3);
    let before = resident_bytes(&db);
    assert_eq!(before, table_bytes(dir.path()));
    assert_eq!(spare_bytes(&db), 0);
    // Overwrite half the keys and compact everything: every old table is replaced.
    for i in (0..KEYS).step_by(2) {
        put(&db, &key(i), &value_for(i + 1, 100));
    }
    db.compact_range(None, None).expect("compact");
    let after = resident_bytes(&db);
    assert!(
        after < before,
        "deleted tables' images were freed: {after} vs {before}"
    );
    assert_eq!(after, 0, "the new tables have not been looked up yet");
    let spare = spare_bytes(&db);
    assert!(spare > 0 && spare <= before, "{spare} of {before}");
    for j in 0..3 * KEYS {
        let i = mix64(j) % KEYS;
        let want = value_for(if i % 2 == 0 { i + 1 } else { i }, 100);
        assert_eq!(
            db.get(&ReadOptions::default(), &key(i)).expect("get"),
            Some(want)
        );
    }
    assert_eq!(resident_bytes(&db), table_bytes(dir.path()));
    assert_eq!(spare_bytes(&db), 0, "left over once the new tables loaded");
}

fn number(db: &Db, property: &str) -> u64 {
    db.property(property)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{property} is a number"))
}

/// Memory counted beyond the memtable and the resident images: the spare buffers of
/// closed resident tables (the test runs without a block cache).
fn spare_bytes(db: &Db) -> u64 {
    number(db, "leveldb.approximate-memory-usage")
        - number(db, "siltdb.cur-size-active-mem-table")
        - resident_bytes(db)
}
