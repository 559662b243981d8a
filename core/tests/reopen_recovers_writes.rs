//! Writes, deletes and batches come back after close and reopen (replayed from the WAL
//! or read from tables), and opening behaves as LevelDB's does for missing, existing and
//! locked databases.

mod common;

use common::{get, options, put, value_for};
use siltdb::batch::WriteBatch;
use siltdb::{Db, ErrorKind, Options, WriteOptions};

#[test]
fn writes_deletes_and_batches_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Db::open(dir.path(), options()).expect("open");
        for i in 0..5000u64 {
            put(
                &db,
                format!("key{i:06}").as_bytes(),
                &value_for(i, 20 + (i % 200) as usize),
            );
        }
        for i in (0..5000u64).step_by(3) {
            db.delete(&WriteOptions::default(), format!("key{i:06}").as_bytes())
                .expect("delete");
        }
        let mut batch = WriteBatch::new();
        batch.put(b"batch-a", b"1");
        batch.put(b"batch-b", b"2");
        batch.delete(b"key000001");
        db.write(&WriteOptions { sync: true }, &batch)
            .expect("write batch");
        put(&db, b"", b"empty key");
        put(&db, b"empty value", b"");
        db.close().expect("close");
    }
    for _round in 0..2 {
        let db = Db::open(dir.path(), options()).expect("reopen");
        for i in 0..5000u64 {
            let got = get(&db, format!("key{i:06}").as_bytes());
            if i % 3 == 0 || i == 1 {
                assert_eq!(got, None, "key{i:06} was deleted");
            } else {
                assert_eq!(
                    got,
                    Some(value_for(i, 20 + (i % 200) as usize)),
                    "key{i:06}"
                );
            }
        }
        assert_eq!(get(&db, b"batch-a"), Some(b"1".to_vec()));
        assert_eq!(get(&db, b"batch-b"), Some(b"2".to_vec()));
        assert_eq!(get(&db, b""), Some(b"empty key".to_vec()));
        assert_eq!(get(&db, b"empty value"), Some(Vec::new()));
        assert_eq!(get(&db, b"never written"), None);
        db.close().expect("close");
    }
}

#[test]
fn overwrites_return_the_newest_value_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    for round in 0..10u64 {
        put(&db, b"k", &value_for(round, 10));
    }
    drop(db); // dropping the last handle closes too
    let db = Db::open(dir.path(), options()).expect("reopen");
    assert_eq!(get(&db, b"k"), Some(value_for(9, 10)));
}

#[test]
fn missing_database_without_create_if_missing_is_invalid_argument() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope");
    let err = Db::open(&path, Options::default()).expect_err("must not open");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(
        !path.exists(),
        "a failed open must not create the directory"
    );
    // An existing empty directory is not a database either.
    let err = Db::open(dir.path(), Options::default()).expect_err("must not open");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn error_if_exists_refuses_an_existing_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    Db::open(dir.path(), options())
        .expect("create")
        .close()
        .expect("close");
    let opts = Options {
        error_if_exists: true,
        ..options()
    };
    let err = Db::open(dir.path(), opts).expect_err("must refuse");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("exists"), "{err}");
}

#[test]
fn a_second_open_of_the_same_directory_is_busy_until_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    let err = Db::open(dir.path(), options()).expect_err("locked");
    assert_eq!(err.kind(), ErrorKind::Busy);
    put(&db, b"still", b"works");
    db.close().expect("close");
    let db = Db::open(dir.path(), options()).expect("open after close");
    assert_eq!(get(&db, b"still"), Some(b"works".to_vec()));
}

#[test]
fn calls_after_close_report_closed_and_close_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    let clone = db.clone();
    db.close().expect("close");
    db.close().expect("second close is fine");
    assert!(clone.is_closed());
    let kind = |r: siltdb::Result<()>| r.expect_err("closed").kind();
    assert_eq!(
        kind(clone.put(&WriteOptions::default(), b"a", b"b")),
        ErrorKind::Closed
    );
    assert_eq!(
        kind(clone.delete(&WriteOptions::default(), b"a")),
        ErrorKind::Closed
    );
    assert_eq!(
        clone
            .get(&Default::default(), b"a")
            .expect_err("closed")
            .kind(),
        ErrorKind::Closed
    );
    assert_eq!(kind(clone.flush(&Default::default())), ErrorKind::Closed);
}

#[test]
fn invalid_options_are_rejected_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (opts, name) in [
        (
            Options {
                write_buffer_size: 0,
                ..options()
            },
            "write_buffer_size",
        ),
        (
            Options {
                block_size: 0,
                ..options()
            },
            "block_size",
        ),
        (
            Options {
                block_restart_interval: 0,
                ..options()
            },
            "block_restart_interval",
        ),
        (
            Options {
                max_open_files: 0,
                ..options()
            },
            "max_open_files",
        ),
    ] {
        let err = Db::open(dir.path(), opts).expect_err("invalid");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn concurrent_writers_are_all_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(
        dir.path(),
        Options {
            write_buffer_size: 256 << 10,
            ..options()
        },
    )
    .expect("open");
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..2000u64 {
                    let sync = i % 100 == 0;
                    db.put(
                        &WriteOptions { sync },
                        format!("t{t}-{i:05}").as_bytes(),
                        &value_for(i, 50),
                    )
                    .expect("put");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    db.close().expect("close");
    let db = Db::open(dir.path(), options()).expect("reopen");
    for t in 0..4u64 {
        for i in 0..2000u64 {
            assert_eq!(
                get(&db, format!("t{t}-{i:05}").as_bytes()),
                Some(value_for(i, 50))
            );
        }
    }
}

#[test]
fn a_second_concurrent_close_returns_only_after_the_first_finished() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path(), options()).expect("open");
        for i in 0..200u64 {
            put(&db, format!("k{i}").as_bytes(), &value_for(i, 100));
        }
        let other = db.clone();
        let t = std::thread::spawn(move || other.close());
        db.close().expect("close");
        // Whichever close returned here, the LOCK is released by now.
        let reopened = Db::open(dir.path(), options()).expect("LOCK released when close returns");
        t.join().expect("thread").expect("close");
        assert_eq!(get(&reopened, b"k7"), Some(value_for(7, 100)));
    }
}
