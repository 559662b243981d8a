//! A siltdb process that dies without closing leaves its WAL sized ahead of its contents,
//! the unwritten rest reading as zeros. LevelDB must replay that WAL as siltdb does: the
//! child (this test binary re-executed) writes single puts, sync and not, and a batch that
//! spans log blocks, then aborts; the real LevelDB opens the directory with paranoid
//! checks and finds every write, and so does siltdb afterwards.
//!
//! A second scenario tears the last record (a crash that got only part of an append to
//! disk): the torn record is followed by zeros, not by the end of the file. It pins what
//! README "Known differences" says: siltdb, paranoid or not, and LevelDB by default drop
//! the torn record and keep every write before it; LevelDB with paranoid checks refuses
//! to open.

use siltdb_compat::leveldb_test;

leveldb_test! {
    fn leveldb_replays_the_wal_of_a_killed_siltdb() {
        scenario::leveldb_replays_a_killed_siltdbs_wal();
    }
}

leveldb_test! {
    fn a_torn_last_record_is_dropped_except_by_paranoid_leveldb() {
        scenario::a_torn_last_record_is_dropped_except_by_paranoid_leveldb();
    }
}

leveldb_test! {
    /// Run by the child process only: writes into the DB named in the environment, says
    /// so, and aborts.
    #[ignore = "child process of the killed-writer test"]
    fn child_writes_and_aborts() {
        scenario::child_main();
    }
}

#[cfg(has_leveldb)]
mod scenario {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use siltdb::filename::{parse_file_name, FileType};
    use siltdb::{Db, Options, ReadOptions, WriteBatch, WriteOptions};
    use siltdb_compat::layout::{copy_dir, file_names};
    use siltdb_compat::leveldb_ffi::{LevelDb, LevelOptions};

    const CHILD_ENV: &str = "SILTDB_COMPAT_KILLED_WRITER";
    const PUTS: u32 = 3000;
    const BATCH: u32 = 300;

    fn key(i: u32) -> Vec<u8> {
        format!("key{i:06}").into_bytes()
    }

    fn value(i: u32) -> Vec<u8> {
        format!("value {i} ")
            .repeat(1 + (i % 7) as usize)
            .into_bytes()
    }

    fn batch_key(i: u32) -> Vec<u8> {
        format!("batch{i:04}").into_bytes()
    }

    pub fn child_main() {
        let Ok(dir) = std::env::var(CHILD_ENV) else {
            return;
        };
        let options = Options {
            create_if_missing: true,
            ..Options::default()
        };
        let db = Db::open(&dir, options).expect("child open");
        for i in 0..PUTS {
            let w = WriteOptions { sync: i % 100 == 0 };
            db.put(&w, &key(i), &value(i)).expect("child put");
        }
        let mut batch = WriteBatch::new();
        for i in 0..BATCH {
            batch.put(&batch_key(i), &[b'b'; 400]);
        }
        db.write(&WriteOptions::default(), &batch)
            .expect("child batch");
        println!("RESULT written");
        std::process::abort();
    }

    /// The WAL the child wrote to last.
    fn last_wal_path(dir: &Path) -> PathBuf {
        let number = file_names(dir)
            .expect("list the DB")
            .iter()
            .filter_map(|name| parse_file_name(name))
            .filter(|(_, kind)| *kind == FileType::Log)
            .map(|(number, _)| number.0)
            .max()
            .expect("a WAL");
        dir.join(format!("{number:06}.log"))
    }

    /// The last WAL's size, and how many of its bytes are written (up to the last nonzero
    /// byte; every record here ends in one).
    fn last_wal(dir: &Path) -> (u64, u64) {
        let bytes = std::fs::read(last_wal_path(dir)).expect("read WAL");
        let written = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        (bytes.len() as u64, written as u64)
    }

    fn assert_every_write<E: std::fmt::Debug>(
        library: &str,
        mut get: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, E>,
    ) {
        for i in 0..PUTS {
            let got = get(&key(i)).expect("get");
            assert_eq!(got, Some(value(i)), "{library}: put {i}");
        }
        for i in 0..BATCH {
            let got = get(&batch_key(i)).expect("get");
            assert_eq!(got, Some(vec![b'b'; 400]), "{library}: batch entry {i}");
        }
    }

    /// Runs the child in `dir`, which it leaves as a killed process does.
    fn run_killed_child(dir: &Path) {
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--ignored",
                "--exact",
                "child_writes_and_aborts",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir)
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("RESULT written") && !out.status.success(),
            "the child should write, then abort: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn leveldb_replays_a_killed_siltdbs_wal() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("db");
        run_killed_child(&dir);

        let (size, written) = last_wal(&dir);
        assert!(
            size > written,
            "the WAL ({written} bytes written) was left sized ahead of them: {size} bytes"
        );

        let paranoid = LevelOptions {
            paranoid_checks: true,
            ..LevelOptions::default()
        };
        let ldb = LevelDb::open(&dir, &paranoid).expect("LevelDB opens the killed DB");
        assert_every_write("LevelDB", |k| ldb.get(k));
        ldb.close();

        let options = Options {
            paranoid_checks: true,
            ..Options::default()
        };
        let db = Db::open(&dir, options).expect("siltdb reopens");
        assert_every_write("siltdb", |k| db.get(&ReadOptions::default(), k));
        db.close().expect("close");
    }

    const BLOCK_SIZE: usize = 32 * 1024;
    const HEADER_SIZE: usize = 7;

    /// `(offset, payload length)` of every fragment in `wal`, in order, up to the first
    /// unwritten (all-zero) header: LevelDB's log framing, walked without checksums.
    fn fragments(wal: &[u8]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut at = 0;
        while at + HEADER_SIZE <= wal.len() {
            let left_in_block = BLOCK_SIZE - at % BLOCK_SIZE;
            if left_in_block < HEADER_SIZE {
                at += left_in_block; // the block's zero trailer
                continue;
            }
            let len = usize::from(u16::from_le_bytes([wal[at + 4], wal[at + 5]]));
            if len == 0 && wal[at + 6] == 0 {
                break;
            }
            found.push((at, len));
            at += HEADER_SIZE + len;
        }
        found
    }

    pub fn a_torn_last_record_is_dropped_except_by_paranoid_leveldb() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let killed = tmp.path().join("killed");
        run_killed_child(&killed);

        // Tear the last fragment (the end of the batch): its header reached the disk, the
        // second half of its payload did not, and the zeros the WAL was sized with remain.
        let wal_path = last_wal_path(&killed);
        let mut wal = std::fs::read(&wal_path).expect("read WAL");
        let &(offset, len) = fragments(&wal).last().expect("fragments");
        assert!(
            len >= 2,
            "the last fragment has a payload to tear: {len} bytes"
        );
        let payload = offset + HEADER_SIZE;
        let tear_from = payload + len / 2;
        assert!(
            wal[tear_from..payload + len].iter().any(|&b| b != 0),
            "the torn part held data"
        );
        wal[tear_from..payload + len].fill(0);
        std::fs::write(&wal_path, &wal).expect("write the torn WAL");

        // Every open recovers the WAL and rewrites the directory: each gets its own copy.
        let copy = |name: &str| {
            let dir = tmp.path().join(name);
            copy_dir(&killed, &dir).expect("copy the torn DB");
            dir
        };
        let assert_puts_kept_batch_dropped =
            |library: &str, get: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>| {
                for i in 0..PUTS {
                    assert_eq!(get(&key(i)), Some(value(i)), "{library}: put {i}");
                }
                for i in 0..BATCH {
                    assert_eq!(get(&batch_key(i)), None, "{library}: torn batch entry {i}");
                }
            };

        let paranoid = LevelOptions {
            paranoid_checks: true,
            ..LevelOptions::default()
        };
        match LevelDb::open(&copy("leveldb-paranoid"), &paranoid) {
            Ok(_) => panic!("LevelDB with paranoid checks opened a WAL with a torn record"),
            Err(e) => assert!(
                e.contains("Corruption") && e.contains("checksum mismatch"),
                "LevelDB paranoid: {e}"
            ),
        }

        let ldb = LevelDb::open(&copy("leveldb"), &LevelOptions::default())
            .expect("LevelDB opens the torn DB by default");
        assert_puts_kept_batch_dropped("LevelDB", &mut |k| ldb.get(k).expect("LevelDB get"));
        ldb.close();

        for paranoid_checks in [false, true] {
            let dir = copy(&format!("siltdb-paranoid-{paranoid_checks}"));
            let options = Options {
                paranoid_checks,
                ..Options::default()
            };
            let db = Db::open(&dir, options).expect("siltdb opens the torn DB");
            let library = format!("siltdb (paranoid_checks: {paranoid_checks})");
            assert_puts_kept_batch_dropped(&library, &mut |k| {
                db.get(&ReadOptions::default(), k).expect("siltdb get")
            });
            db.close().expect("close");
        }
    }
}
