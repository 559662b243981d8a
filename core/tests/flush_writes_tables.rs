//! Minor compaction with real files: a load of 10× the write buffer becomes table files
//! recorded in the MANIFEST, the WAL files they replace are deleted, and every key reads
//! back before and after reopen; manual flushes; level placement of flushed files.

mod common;

use common::{files_of_type, get, levels_on_disk, options, put, value_for};
use siltdb::filename::FileType;
use siltdb::{CompressionType, Db, FlushOptions, Options, WriteOptions};

const WRITE_BUFFER: usize = 64 << 10;

fn small_buffer() -> Options {
    Options {
        write_buffer_size: WRITE_BUFFER,
        ..options()
    }
}

#[test]
fn ten_write_buffers_become_tables_and_old_logs_disappear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), small_buffer()).expect("open");
    let value_len = 100;
    let n = (10 * WRITE_BUFFER / (value_len + 16)) as u64;
    for i in 0..n {
        put(
            &db,
            format!("key{i:08}").as_bytes(),
            &value_for(i, value_len),
        );
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    let tables = files_of_type(dir.path(), FileType::Table);
    assert!(tables.len() >= 9, "expected ~10 tables, found {tables:?}");
    let logs = files_of_type(dir.path(), FileType::Log);
    assert_eq!(logs.len(), 1, "only the live WAL remains: {logs:?}");
    for i in 0..n {
        assert_eq!(
            get(&db, format!("key{i:08}").as_bytes()),
            Some(value_for(i, value_len))
        );
    }
    db.close().expect("close");

    let on_disk: Vec<u64> = levels_on_disk(dir.path()).into_iter().flatten().collect();
    let mut sorted = on_disk.clone();
    sorted.sort();
    assert_eq!(
        sorted, tables,
        "the MANIFEST names exactly the table files on disk"
    );

    let db = Db::open(dir.path(), small_buffer()).expect("reopen");
    for i in 0..n {
        assert_eq!(
            get(&db, format!("key{i:08}").as_bytes()),
            Some(value_for(i, value_len))
        );
    }
}

#[test]
fn flushes_go_as_deep_as_level_2_unless_they_overlap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    // Three disjoint, ascending key ranges: nothing overlaps, each lands on level 2.
    for batch in 0..3u64 {
        for i in 0..100 {
            put(&db, format!("seq{batch}-{i:04}").as_bytes(), b"v");
        }
        db.flush(&FlushOptions { wait: true }).expect("flush");
    }
    // Two flushes over the same range: the first overlaps level 2 so it stops above it on
    // level 1; the second overlaps level 1 so it stays on level 0.
    for round in 0..2 {
        for i in 0..100 {
            put(
                &db,
                format!("seq1-{i:04}").as_bytes(),
                format!("round{round}").as_bytes(),
            );
        }
        db.flush(&FlushOptions { wait: true }).expect("flush");
    }
    assert_eq!(get(&db, b"seq1-0042"), Some(b"round1".to_vec()));
    db.close().expect("close");
    let levels = levels_on_disk(dir.path());
    assert_eq!(levels[2].len(), 3, "levels: {levels:?}");
    assert_eq!(levels[1].len(), 1, "levels: {levels:?}");
    assert_eq!(levels[0].len(), 1, "levels: {levels:?}");
    assert!(
        levels[0][0] > levels[1][0],
        "the newer flush is on level 0: {levels:?}"
    );
}

#[test]
fn flush_with_nothing_to_flush_creates_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    db.flush(&FlushOptions { wait: true }).expect("empty flush");
    db.flush(&FlushOptions { wait: false })
        .expect("empty flush, no wait");
    assert!(files_of_type(dir.path(), FileType::Table).is_empty());
    put(&db, b"a", b"1");
    db.flush(&FlushOptions { wait: true }).expect("flush");
    db.flush(&FlushOptions { wait: true })
        .expect("second flush has nothing to do");
    assert_eq!(files_of_type(dir.path(), FileType::Table).len(), 1);
}

/// A waited-for flush of a big memtable is built on several threads and its table is
/// synced every couple of MiB as it is written (`table::write_behind`): the one table it
/// makes holds every entry, before and after reopen.
#[test]
fn a_big_flush_synced_as_it_is_written_holds_every_entry() {
    use siltdb::table::write_behind::WRITE_BEHIND_BYTES;
    let dir = tempfile::tempdir().expect("tempdir");
    let big = Options {
        write_buffer_size: 64 << 20,
        compression: CompressionType::None,
        ..options()
    };
    let db = Db::open(dir.path(), big.clone()).expect("open");
    let n = 60_000u64;
    for i in 0..n {
        put(
            &db,
            format!("key{:08}", i * 7919 % n).as_bytes(),
            &value_for(i, 150),
        );
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    let tables = files_of_type(dir.path(), FileType::Table);
    assert_eq!(tables.len(), 1, "{tables:?}");
    let table = dir.path().join(format!("{:06}.ldb", tables[0]));
    let size = std::fs::metadata(&table).expect("table").len();
    assert!(
        size > 3 * WRITE_BEHIND_BYTES,
        "{size} bytes: several stretches"
    );
    let check = |db: &Db| {
        for i in 0..n {
            let key = format!("key{:08}", i * 7919 % n);
            assert_eq!(get(db, key.as_bytes()), Some(value_for(i, 150)), "{key}");
        }
    };
    check(&db);
    db.close().expect("close");
    let db = Db::open(dir.path(), big).expect("reopen");
    check(&db);
}

#[test]
fn flush_without_wait_is_installed_eventually_and_by_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    for i in 0..1000u64 {
        put(&db, format!("k{i}").as_bytes(), &value_for(i, 30));
    }
    db.flush(&FlushOptions { wait: false }).expect("flush");
    put(&db, b"after", b"flush");
    db.close().expect("close");
    let db = Db::open(dir.path(), options()).expect("reopen");
    for i in 0..1000u64 {
        assert_eq!(get(&db, format!("k{i}").as_bytes()), Some(value_for(i, 30)));
    }
    assert_eq!(get(&db, b"after"), Some(b"flush".to_vec()));
}

#[test]
fn deletions_and_overwrites_shadow_older_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    for i in 0..500u64 {
        put(&db, format!("k{i:04}").as_bytes(), b"old");
    }
    db.flush(&FlushOptions::default()).expect("flush");
    for i in (0..500u64).step_by(2) {
        db.delete(&WriteOptions::default(), format!("k{i:04}").as_bytes())
            .expect("delete");
    }
    for i in (1..500u64).step_by(4) {
        put(&db, format!("k{i:04}").as_bytes(), b"new");
    }
    db.flush(&FlushOptions::default()).expect("flush");
    let check = |db: &Db| {
        for i in 0..500u64 {
            let want: Option<&[u8]> = if i % 2 == 0 {
                None
            } else if i % 4 == 1 {
                Some(b"new")
            } else {
                Some(b"old")
            };
            assert_eq!(
                get(db, format!("k{i:04}").as_bytes()).as_deref(),
                want,
                "k{i:04}"
            );
        }
    };
    check(&db);
    db.close().expect("close");
    let db = Db::open(dir.path(), options()).expect("reopen");
    check(&db);
}

#[test]
fn recovery_of_a_large_log_flushes_to_level_0_in_write_buffer_sized_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = Options {
        write_buffer_size: 64 << 20,
        ..options()
    };
    let n = 20_000u64;
    {
        let db = Db::open(dir.path(), big.clone()).expect("open");
        for i in 0..n {
            put(&db, format!("key{i:08}").as_bytes(), &value_for(i, 100));
        }
        db.close().expect("close");
    }
    assert!(
        files_of_type(dir.path(), FileType::Table).is_empty(),
        "all data still in the WAL"
    );
    // No compaction, so that the level-0 files recovery made stay where it put them.
    let no_compaction = Options {
        level0_file_num_compaction_trigger: 1000,
        ..small_buffer()
    };
    let db = Db::open(dir.path(), no_compaction).expect("reopen with a small buffer");
    let tables = files_of_type(dir.path(), FileType::Table);
    assert!(
        tables.len() >= 20,
        "the replay was flushed in pieces: {tables:?}"
    );
    for i in 0..n {
        assert_eq!(
            get(&db, format!("key{i:08}").as_bytes()),
            Some(value_for(i, 100))
        );
    }
    db.close().expect("close");
    let levels = levels_on_disk(dir.path());
    assert_eq!(
        levels[0].len(),
        tables.len(),
        "recovery flushes go to level 0: {levels:?}"
    );
}

#[test]
fn several_sealed_memtables_queue_up_and_flush_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        write_buffer_size: 16 << 10,
        max_write_buffer_number: 5,
        ..options()
    };
    let db = Db::open(dir.path(), opts.clone()).expect("open");
    let mut most_queued = 0;
    for i in 0..20_000u64 {
        put(
            &db,
            format!("key{:08}", (i * 7919) % 20_000).as_bytes(),
            &value_for(i, 60),
        );
        if i % 100 == 0 {
            let queued: usize = db
                .property("siltdb.num-immutable-mem-table")
                .and_then(|s| s.parse().ok())
                .expect("property");
            assert!(
                queued <= 4,
                "at most max_write_buffer_number - 1 sealed: {queued}"
            );
            most_queued = most_queued.max(queued);
        }
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    assert_eq!(
        db.property("siltdb.num-immutable-mem-table"),
        Some("0".into())
    );
    let check = |db: &Db| {
        for i in 0..20_000u64 {
            assert_eq!(
                get(db, format!("key{:08}", (i * 7919) % 20_000).as_bytes()),
                Some(value_for(i, 60))
            );
        }
    };
    check(&db);
    db.close().expect("close");
    let db = Db::open(dir.path(), opts).expect("reopen");
    check(&db);
    println!("most sealed memtables queued at once: {most_queued}");
    let bad = Options {
        max_write_buffer_number: 1,
        ..options()
    };
    let err = Db::open(dir.path(), bad).expect_err("invalid");
    assert!(err.to_string().contains("max_write_buffer_number"), "{err}");
}
