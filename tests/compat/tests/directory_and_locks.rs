//! Directory-level compatibility: a directory siltdb creates has LevelDB's `CURRENT`,
//! `MANIFEST-NNNNNN`, `LOCK` and `LOG`, and LevelDB opens it (empty or not); the two
//! libraries exclude each other through `LOCK` (fcntl locks are per process, so the other
//! library runs in a child process: this test binary re-executed); and siltdb refuses a
//! database LevelDB created with another comparator, with InvalidArgument naming it.

use siltdb_compat::leveldb_test;

leveldb_test! {
    fn new_siltdb_directory_has_leveldb_files_and_opens_in_leveldb() {
        scenario::new_directory_opens_in_leveldb(false);
    }
}

leveldb_test! {
    fn empty_siltdb_directory_opens_in_leveldb() {
        scenario::new_directory_opens_in_leveldb(true);
    }
}

leveldb_test! {
    fn empty_leveldb_directory_opens_in_siltdb() {
        scenario::empty_leveldb_directory_opens_in_siltdb();
    }
}

leveldb_test! {
    fn huge_keys_and_values_cross_both_ways() {
        scenario::huge_entries_cross_both_ways();
    }
}

leveldb_test! {
    fn leveldb_cannot_open_while_siltdb_holds_the_lock() {
        scenario::leveldb_locked_out_by_siltdb();
    }
}

leveldb_test! {
    fn siltdb_cannot_open_while_leveldb_holds_the_lock() {
        scenario::siltdb_locked_out_by_leveldb();
    }
}

leveldb_test! {
    fn siltdb_refuses_a_database_with_another_comparator() {
        scenario::foreign_comparator_is_refused();
    }
}

leveldb_test! {
    /// Run by the child process only: opens the DB named in the environment with one of
    /// the two libraries and prints the outcome.
    #[ignore = "child process of the lock tests"]
    fn child_opens_the_database() {
        scenario::child_main();
    }
}

#[cfg(has_leveldb)]
mod scenario {
    use std::path::Path;
    use std::process::Command;

    use siltdb::filename::parse_file_name;
    use siltdb::{Db, ErrorKind, Options, ReadOptions, WriteOptions};
    use siltdb_compat::layout::file_names;
    use siltdb_compat::leveldb_ffi::{LevelDb, LevelOptions, REVERSE_COMPARATOR_NAME};

    const CHILD_ENV: &str = "SILTDB_COMPAT_CHILD";

    fn siltdb_options() -> Options {
        Options {
            create_if_missing: true,
            ..Options::default()
        }
    }

    fn get(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
        db.get(&ReadOptions::default(), key).expect("siltdb get")
    }

    /// `CURRENT` names an existing `MANIFEST-NNNNNN` (six digits at least) and ends in a
    /// newline; `LOCK` and `LOG` exist; every other file has a LevelDB name.
    fn assert_leveldb_layout(dir: &Path) {
        let current = std::fs::read_to_string(dir.join("CURRENT")).expect("CURRENT");
        let manifest = current
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("CURRENT lacks its newline: {current:?}"));
        let number = manifest
            .strip_prefix("MANIFEST-")
            .unwrap_or_else(|| panic!("CURRENT does not name a MANIFEST: {current:?}"));
        assert!(
            number.len() >= 6 && number.bytes().all(|b| b.is_ascii_digit()),
            "CURRENT: {current:?}"
        );
        assert!(dir.join(manifest).is_file(), "{manifest} is missing");
        assert!(dir.join("LOCK").is_file(), "LOCK is missing");
        assert!(dir.join("LOG").is_file(), "LOG is missing");
        for name in file_names(dir).expect("list the DB") {
            assert!(
                parse_file_name(&name).is_some(),
                "{name} is not a LevelDB file name"
            );
        }
    }

    pub fn new_directory_opens_in_leveldb(empty: bool) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("db");
        let db = Db::open(&dir, siltdb_options()).expect("siltdb create");
        let w = WriteOptions::default();
        if !empty {
            db.put(&w, b"in-a-table", b"1").expect("put");
            db.flush(&Default::default()).expect("flush");
            db.put(&w, b"in-the-wal", b"2").expect("put");
        }
        assert_leveldb_layout(&dir);
        db.close().expect("close");
        assert_leveldb_layout(&dir);

        let opts = LevelOptions {
            paranoid_checks: true,
            ..LevelOptions::default()
        };
        let ldb = LevelDb::open(&dir, &opts).expect("LevelDB opens siltdb's new DB");
        let entries: Vec<_> = ldb.iter().map(|e| e.expect("scan")).collect();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = if empty {
            Vec::new()
        } else {
            vec![
                (b"in-a-table".to_vec(), b"1".to_vec()),
                (b"in-the-wal".to_vec(), b"2".to_vec()),
            ]
        };
        assert_eq!(entries, expected);
        ldb.put(b"from-leveldb", b"3").expect("LevelDB put");
        ldb.close();
        assert_leveldb_layout(&dir);

        let db = Db::open(&dir, siltdb_options()).expect("siltdb reopens");
        assert_eq!(get(&db, b"from-leveldb"), Some(b"3".to_vec()));
        assert_eq!(get(&db, b"in-the-wal"), (!empty).then(|| b"2".to_vec()));
        db.close().expect("close");
    }

    pub fn empty_leveldb_directory_opens_in_siltdb() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = LevelOptions {
            create_if_missing: true,
            ..LevelOptions::default()
        };
        LevelDb::open(tmp.path(), &opts)
            .expect("LevelDB create")
            .close();
        let db = Db::open(tmp.path(), Options::default()).expect("siltdb opens LevelDB's new DB");
        assert_eq!(get(&db, b"anything"), None);
        db.put(&WriteOptions::default(), b"k", b"v").expect("put");
        db.close().expect("close");
        assert_leveldb_layout(tmp.path());
        let ldb = LevelDb::open(tmp.path(), &LevelOptions::default()).expect("LevelDB reopen");
        assert_eq!(ldb.get(b"k"), Ok(Some(b"v".to_vec())));
        ldb.close();
    }

    /// A key longer than 64 KiB and multi-MiB values, in the WAL and in tables, written by
    /// each library and read by the other.
    pub fn huge_entries_cross_both_ways() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let huge_key = |tag: u8| {
            let mut k = vec![tag; 70_000];
            k[69_999] = 0xff;
            k
        };
        let huge_value =
            |tag: u8, len: usize| (0..len).map(|i| (i % 251) as u8 ^ tag).collect::<Vec<u8>>();
        let w = WriteOptions::default();

        let db = Db::open(tmp.path(), siltdb_options()).expect("siltdb create");
        db.put(&w, &huge_key(1), &huge_value(1, 3 << 20))
            .expect("put");
        db.flush(&Default::default()).expect("flush");
        db.put(&w, &huge_key(2), &huge_value(2, 5 << 20))
            .expect("put");
        db.close().expect("close");

        let ldb = LevelDb::open(tmp.path(), &LevelOptions::default()).expect("LevelDB open");
        assert!(
            ldb.get(&huge_key(1)) == Ok(Some(huge_value(1, 3 << 20))),
            "table entry"
        );
        assert!(
            ldb.get(&huge_key(2)) == Ok(Some(huge_value(2, 5 << 20))),
            "WAL entry"
        );
        ldb.put(&huge_key(3), &huge_value(3, 6 << 20))
            .expect("LevelDB put");
        ldb.compact_range(None, None);
        ldb.put(&huge_key(4), &huge_value(4, 2 << 20))
            .expect("LevelDB put");
        ldb.close();

        let db = Db::open(tmp.path(), siltdb_options()).expect("siltdb reopen");
        for (tag, len) in [(1, 3 << 20), (2, 5 << 20), (3, 6 << 20), (4, 2 << 20)] {
            assert!(
                get(&db, &huge_key(tag)) == Some(huge_value(tag, len)),
                "entry {tag} differs"
            );
        }
        db.close().expect("close");
    }

    /// Runs this test binary's child test, which opens `dir` with `library`, and returns
    /// its `RESULT` line.
    fn open_in_child(library: &str, dir: &Path) -> String {
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--ignored",
                "--exact",
                "child_opens_the_database",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{library}:{}", dir.display()))
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The harness prints "test child_opens_the_database ... " on the same line.
        stdout
            .split_once("RESULT ")
            .and_then(|(_, rest)| rest.lines().next())
            .map(str::to_string)
            .unwrap_or_else(|| {
                panic!(
                    "the child printed no RESULT: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    }

    pub fn child_main() {
        let Ok(spec) = std::env::var(CHILD_ENV) else {
            return;
        };
        let (library, dir) = spec.split_once(':').unwrap_or(("", ""));
        let dir = Path::new(dir);
        let outcome = match library {
            "leveldb" => match LevelDb::open(dir, &LevelOptions::default()) {
                Ok(_) => "opened".to_string(),
                Err(e) => format!("error {e}"),
            },
            "siltdb" => match Db::open(dir, Options::default()) {
                Ok(_) => "opened".to_string(),
                Err(e) => format!("{:?} {e}", e.kind()),
            },
            other => format!("unknown library {other:?}"),
        };
        println!("RESULT {outcome}");
    }

    pub fn leveldb_locked_out_by_siltdb() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = Db::open(tmp.path(), siltdb_options()).expect("siltdb create");
        let result = open_in_child("leveldb", tmp.path());
        assert!(
            result.starts_with("error") && result.contains("lock"),
            "LevelDB should fail to take the lock siltdb holds: {result}"
        );
        db.close().expect("close");
        assert_eq!(open_in_child("leveldb", tmp.path()), "opened");
    }

    pub fn siltdb_locked_out_by_leveldb() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = LevelOptions {
            create_if_missing: true,
            ..LevelOptions::default()
        };
        let ldb = LevelDb::open(tmp.path(), &opts).expect("LevelDB create");
        let result = open_in_child("siltdb", tmp.path());
        assert!(
            result.starts_with(&format!("{:?}", ErrorKind::Busy)),
            "siltdb should report Busy for the lock LevelDB holds: {result}"
        );
        ldb.close();
        assert_eq!(open_in_child("siltdb", tmp.path()), "opened");
    }

    pub fn foreign_comparator_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = LevelOptions {
            create_if_missing: true,
            reverse_comparator: true,
            ..LevelOptions::default()
        };
        let ldb = LevelDb::open(tmp.path(), &opts).expect("LevelDB create");
        for k in [&b"a"[..], b"b", b"c"] {
            ldb.put(k, k).expect("LevelDB put");
        }
        ldb.close();

        let err = Db::open(tmp.path(), Options::default())
            .expect_err("siltdb must refuse another comparator's DB");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(REVERSE_COMPARATOR_NAME), "{msg}");
        assert!(msg.contains("leveldb.BytewiseComparator"), "{msg}");

        // The refused open changed nothing: LevelDB still reads its DB, in its order.
        let ldb = LevelDb::open(tmp.path(), &opts).expect("LevelDB reopen");
        let keys: Vec<Vec<u8>> = ldb.iter().map(|e| e.expect("scan").0).collect();
        assert_eq!(keys, vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
        ldb.close();
    }
}
