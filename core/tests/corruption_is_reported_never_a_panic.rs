//! Damaged files — flipped bytes or a truncation, in a WAL, a table, the MANIFEST or
//! CURRENT of a real, closed database — are met with an error of the right kind or with
//! correct data, never a panic, a hang or a wrong value:
//! - CURRENT: the open fails with Corruption;
//! - MANIFEST: the open fails with Corruption (InvalidArgument if the comparator name was
//!   hit), or — when the damage looks like a torn last record, which a crash mid-append
//!   also leaves — it opens an older state: every value read was then really written;
//! - a table: the open succeeds (tables are read lazily) and each get answers the right
//!   value or Corruption;
//! - the WAL: the open succeeds; a damaged record in the middle is skipped with the rest
//!   of its 32 KiB block, as in LevelDB (later blocks are read), and a torn tail loses
//!   exactly the records it cut.
//!   Under `paranoid_checks` a damaged record in the middle fails the open with
//!   Corruption; only a torn tail may be dropped.
//!
//! Cases are random (seeded from the clock; `SILTDB_SEED` replays, `SILTDB_CORRUPTION_CASES`
//! sets the count); each runs on its own copy of the database, in a thread with a time
//! limit, and a panic anywhere — engine threads included — fails the test with the seed.

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use common::{copy_dir, files_of_type, seed, value_for, Rng};
use siltdb::filename::{log_file_name, FileType};
use siltdb::fs::{FileSystem, PosixFs};
use siltdb::{Db, ErrorKind, FileNumber, FlushOptions, Options, ReadOptions, WriteOptions};

/// Keys written, flushed into tables, before the WAL phase.
const TABLE_KEYS: u64 = 2000;
/// Keys written in the WAL phase (they stay in the WAL: the memtable never fills).
const WAL_KEYS: u64 = 400;
const CASE_TIME_LIMIT: Duration = Duration::from_secs(60);

fn a_key(i: u64) -> Vec<u8> {
    format!("a{i:06}").into_bytes()
}

fn b_key(i: u64) -> Vec<u8> {
    format!("b{i:06}").into_bytes()
}

fn a_value(i: u64) -> Vec<u8> {
    value_for(i, 20 + (i % 100) as usize)
}

/// Deleted before the flush: a tombstone in a table.
fn deleted_in_tables(i: u64) -> bool {
    i % 7 == 0
}

/// Deleted in the WAL phase (and not before, so that the delete is observable).
fn deleted_in_wal(i: u64) -> bool {
    i % 11 == 0 && !deleted_in_tables(i)
}

/// One write of the WAL phase, in write order: the key, the value before, the value after.
struct WalWrite {
    key: Vec<u8>,
    before: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
}

/// The pristine database and what it must answer.
struct Pristine {
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// Every key and its final value.
    expected: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    wal_writes: Vec<WalWrite>,
    /// File offsets of the WAL records, one per WAL-phase write.
    wal_record_offsets: Vec<u64>,
    wal: PathBuf,
}

/// The memtable never fills by itself: the test decides what is in tables and in the WAL.
fn options() -> Options {
    Options {
        write_buffer_size: 4 << 20,
        ..common::options()
    }
}

fn pristine() -> &'static Pristine {
    static PRISTINE: OnceLock<Pristine> = OnceLock::new();
    PRISTINE.get_or_init(build_pristine)
}

fn build_pristine() -> Pristine {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = Db::open(&path, options()).expect("open");
    let w = WriteOptions::default();
    let mut expected = BTreeMap::new();
    for i in 0..TABLE_KEYS {
        db.put(&w, &a_key(i), &a_value(i)).expect("put");
        expected.insert(a_key(i), Some(a_value(i)));
        if i % 700 == 699 {
            db.flush(&FlushOptions { wait: true }).expect("flush");
        }
    }
    for i in (0..TABLE_KEYS).filter(|i| deleted_in_tables(*i)) {
        db.delete(&w, &a_key(i)).expect("delete");
        expected.insert(a_key(i), None);
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    let mut wal_writes = Vec::new();
    for i in 0..WAL_KEYS {
        let value = value_for(i, 30 + (i % 60) as usize);
        db.put(&w, &b_key(i), &value).expect("put");
        wal_writes.push(WalWrite {
            key: b_key(i),
            before: None,
            after: Some(value.clone()),
        });
        expected.insert(b_key(i), Some(value));
        // Interleave the deletes of a-keys with the puts.
        let a = i * TABLE_KEYS / WAL_KEYS;
        for j in (a..a + TABLE_KEYS / WAL_KEYS).filter(|j| deleted_in_wal(*j)) {
            db.delete(&w, &a_key(j)).expect("delete");
            wal_writes.push(WalWrite {
                key: a_key(j),
                before: Some(a_value(j)),
                after: None,
            });
            expected.insert(a_key(j), None);
        }
    }
    db.close().expect("close");

    let logs = files_of_type(&path, FileType::Log);
    assert_eq!(logs.len(), 1, "one WAL holds the WAL phase");
    let wal = log_file_name(&path, FileNumber(logs[0]));
    let mut reader =
        siltdb::log::Reader::new(PosixFs.new_sequential_file(&wal).expect("open WAL"), true);
    let mut wal_record_offsets = Vec::new();
    while reader.read_record().expect("read WAL").is_some() {
        wal_record_offsets.push(reader.last_record_offset());
    }
    assert_eq!(
        wal_record_offsets.len(),
        wal_writes.len(),
        "one record per write"
    );
    assert!(files_of_type(&path, FileType::Table).len() >= 2);
    Pristine {
        _dir: dir,
        path,
        expected,
        wal_writes,
        wal_record_offsets,
        wal,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Wal,
    Table,
    Manifest,
    Current,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Damage {
    /// (offset, xor mask) pairs.
    Flip(Vec<(usize, u8)>),
    TruncateTo(usize),
}

impl Damage {
    fn random(rng: &mut Rng, len: usize) -> Damage {
        if rng.below(3) == 0 {
            Damage::TruncateTo(rng.below(len as u64) as usize)
        } else {
            let n = 1 + rng.below(4);
            Damage::Flip(
                (0..n)
                    .map(|_| (rng.below(len as u64) as usize, 1 + rng.below(255) as u8))
                    .collect(),
            )
        }
    }

    fn apply(&self, path: &Path) {
        let mut bytes = std::fs::read(path).expect("read victim");
        match self {
            Damage::Flip(flips) => {
                for &(at, mask) in flips {
                    bytes[at] ^= mask;
                }
            }
            Damage::TruncateTo(len) => bytes.truncate(*len),
        }
        std::fs::write(path, bytes).expect("write victim");
    }
}

/// The file of `target` in `dir`: a random table for `Table`.
fn victim(dir: &Path, target: Target, rng: &mut Rng) -> PathBuf {
    let pick = |t: FileType, rng: &mut Rng| {
        let numbers = files_of_type(dir, t);
        numbers[rng.below(numbers.len() as u64) as usize]
    };
    match target {
        Target::Wal => log_file_name(dir, FileNumber(pick(FileType::Log, rng))),
        Target::Table => {
            siltdb::filename::table_file_name(dir, FileNumber(pick(FileType::Table, rng)))
        }
        Target::Manifest => {
            siltdb::filename::descriptor_file_name(dir, FileNumber(pick(FileType::Manifest, rng)))
        }
        Target::Current => dir.join("CURRENT"),
    }
}

/// What one open-and-read-everything produced.
#[derive(Debug)]
enum Outcome {
    OpenFailed(ErrorKind, String),
    Opened(BTreeMap<Vec<u8>, siltdb::Result<Option<Vec<u8>>>>),
}

fn open_and_read_all(dir: &Path, paranoid: bool) -> Outcome {
    let opts = Options {
        paranoid_checks: paranoid,
        create_if_missing: false,
        ..options()
    };
    let db = match Db::open(dir, opts) {
        Ok(db) => db,
        Err(e) => return Outcome::OpenFailed(e.kind(), e.to_string()),
    };
    let reads = pristine()
        .expected
        .keys()
        .map(|k| (k.clone(), db.get(&ReadOptions::default(), k)))
        .collect();
    let _ = db.close();
    Outcome::Opened(reads)
}

/// Runs `f` in its own thread with a time limit, turning a panic into an Err.
fn bounded<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(CASE_TIME_LIMIT) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("{what}: PANIC: {msg}"))
        }
        Err(_) => Err(format!("{what}: HANG: no answer in {CASE_TIME_LIMIT:?}")),
    }
}

/// Counts panics on every thread (engine threads included), since those would not reach
/// `catch_unwind` in the case's thread.
fn count_panics() -> &'static AtomicUsize {
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
    &PANICS
}

/// Which WAL-phase writes the reads show applied; Err if a read is neither before nor after.
fn wal_writes_applied(
    reads: &BTreeMap<Vec<u8>, siltdb::Result<Option<Vec<u8>>>>,
) -> Result<Vec<bool>, String> {
    pristine()
        .wal_writes
        .iter()
        .map(|w| match reads.get(&w.key) {
            Some(Ok(v)) if *v == w.after => Ok(true),
            Some(Ok(v)) if *v == w.before => Ok(false),
            other => Err(format!(
                "{}: read {other:?}",
                String::from_utf8_lossy(&w.key)
            )),
        })
        .collect()
}

fn is_prefix(applied: &[bool]) -> bool {
    let n = applied.iter().take_while(|a| **a).count();
    applied[n..].iter().all(|a| !a)
}

/// Judges one outcome; Err(reason) if it broke the rules in the module docs.
fn judge(
    target: Target,
    damage: &Damage,
    paranoid: bool,
    outcome: &Outcome,
) -> Result<&'static str, String> {
    let p = pristine();
    let reads = match outcome {
        Outcome::OpenFailed(kind, msg) => {
            let allowed = match target {
                Target::Current | Target::Table => *kind == ErrorKind::Corruption,
                Target::Manifest => {
                    matches!(kind, ErrorKind::Corruption | ErrorKind::InvalidArgument)
                }
                Target::Wal => paranoid && *kind == ErrorKind::Corruption,
            };
            return if allowed {
                Ok("open failed as it should")
            } else {
                Err(format!("open failed with {kind:?}: {msg}"))
            };
        }
        Outcome::Opened(reads) => reads,
    };
    match target {
        Target::Current => Err("opened with a damaged CURRENT".to_string()),
        Target::Table => {
            let mut errors = 0;
            for (k, read) in reads {
                match read {
                    Ok(v) if Some(v) == p.expected.get(k) => {}
                    Err(e) if e.kind() == ErrorKind::Corruption => errors += 1,
                    other => return Err(format!("{}: read {other:?}", String::from_utf8_lossy(k))),
                }
            }
            Ok(if errors > 0 {
                "reads reported corruption"
            } else {
                "every read right (damage missed the data)"
            })
        }
        Target::Manifest => {
            // An older state: each value read must be one that was written.
            for (k, read) in reads {
                let ok = match read {
                    Ok(None) => true,
                    Ok(Some(v)) => {
                        Some(v) == p.expected.get(k).and_then(|e| e.as_ref())
                            || (k.starts_with(b"a") && *v == a_value(key_index(k)))
                    }
                    Err(_) => false,
                };
                if !ok {
                    return Err(format!("{}: read {read:?}", String::from_utf8_lossy(k)));
                }
            }
            Ok("opened an older state")
        }
        Target::Wal => {
            for (k, read) in reads.iter().filter(|(k, _)| k.starts_with(b"a")) {
                let i = key_index(k);
                if deleted_in_wal(i) {
                    continue; // judged with the WAL writes
                }
                if read.as_ref().ok() != p.expected.get(k) {
                    return Err(format!(
                        "table key {}: read {read:?}",
                        String::from_utf8_lossy(k)
                    ));
                }
            }
            let applied = wal_writes_applied(reads)?;
            let prefix = is_prefix(&applied);
            if let Damage::TruncateTo(cut) = damage {
                let cut = *cut as u64;
                let offsets = &p.wal_record_offsets;
                let complete = offsets.iter().skip(1).filter(|o| **o <= cut).count();
                let started = offsets.iter().filter(|o| **o < cut).count();
                let n = applied.iter().filter(|a| **a).count();
                if !prefix || n < complete || n > started {
                    return Err(format!(
                        "cut at {cut}: {n} writes applied (prefix: {prefix}), expected \
                         {complete}..={started}"
                    ));
                }
                return Ok("torn tail: the prefix recovered");
            }
            if paranoid && !prefix {
                return Err("paranoid open skipped a record in the middle".to_string());
            }
            Ok(if applied.iter().all(|a| *a) {
                "every write recovered (damage missed the data)"
            } else if prefix {
                "a tail was dropped"
            } else {
                "damaged records skipped"
            })
        }
    }
}

fn key_index(k: &[u8]) -> u64 {
    String::from_utf8_lossy(&k[1..]).parse().unwrap_or(u64::MAX)
}

#[test]
fn random_damage_gives_the_right_error_or_the_right_data() {
    let panics = count_panics();
    let cases: u64 = std::env::var("SILTDB_CORRUPTION_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let seed = seed();
    println!("corruption seed {seed} (SILTDB_SEED replays it)");
    let p = pristine();
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut tally: BTreeMap<(Target, &'static str, bool, &'static str), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in 0..cases {
        let mut rng = Rng::new(seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let target = [
            Target::Wal,
            Target::Table,
            Target::Manifest,
            Target::Current,
        ][rng.below(4) as usize];
        // WAL damage is judged with and without paranoid checks.
        let paranoid_runs: &[bool] = if target == Target::Wal {
            &[false, true]
        } else {
            &[rng.below(2) == 0]
        };
        let mut damage = None;
        for &paranoid in paranoid_runs {
            let dir = scratch.path().join(format!("case{case}-{paranoid}"));
            copy_dir(&p.path, &dir);
            let mut pick = Rng(rng.0);
            let file = victim(&dir, target, &mut pick);
            let len = std::fs::metadata(&file).expect("victim size").len() as usize;
            let d = damage
                .get_or_insert_with(|| Damage::random(&mut pick, len))
                .clone();
            d.apply(&file);
            let what = format!(
                "seed {seed} case {case}: {target:?} {} {d:?} paranoid={paranoid}",
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            let dir_for_thread = dir.clone();
            match bounded(&what, move || open_and_read_all(&dir_for_thread, paranoid)) {
                Ok(outcome) => match judge(target, &d, paranoid, &outcome) {
                    Ok(verdict) => {
                        let kind = if matches!(d, Damage::Flip(_)) {
                            "flip"
                        } else {
                            "truncate"
                        };
                        *tally.entry((target, kind, paranoid, verdict)).or_default() += 1;
                    }
                    Err(why) => failures.push(format!("{what}: {why}")),
                },
                Err(why) => failures.push(why),
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    for ((target, kind, paranoid, verdict), n) in &tally {
        println!("  {target:?} {kind} paranoid={paranoid}: {verdict} x{n}");
    }
    let total: usize = tally.values().sum();
    println!(
        "corruption: {total} damaged opens judged, {} wrong, {} panics",
        failures.len(),
        panics.load(Ordering::SeqCst)
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        panics.load(Ordering::SeqCst),
        0,
        "a thread panicked (see above)"
    );
}

/// Damages one WAL record's payload in place and returns the writes it held.
fn damage_wal_record(dir: &Path, record: usize) -> usize {
    let p = pristine();
    let wal = dir.join(p.wal.file_name().expect("WAL name"));
    let offset = p.wal_record_offsets[record] as usize;
    // Past the 7-byte header and the batch's 12-byte header: inside the key.
    Damage::Flip(vec![(offset + 7 + 12 + 3, 0x55)]).apply(&wal);
    record
}

#[test]
fn a_damaged_wal_record_in_the_middle_is_skipped_unless_paranoid() {
    let p = pristine();
    let scratch = tempfile::tempdir().expect("tempdir");
    let record = p.wal_writes.len() / 2;

    let dir = scratch.path().join("default");
    copy_dir(&p.path, &dir);
    damage_wal_record(&dir, record);
    let Outcome::Opened(reads) = open_and_read_all(&dir, false) else {
        panic!("the default open skips the damaged record");
    };
    let applied = wal_writes_applied(&reads).expect("only right values");
    let missing: Vec<usize> = (0..applied.len()).filter(|i| !applied[*i]).collect();
    // As in LevelDB, a record that fails its checksum takes the rest of its 32 KiB block
    // with it (its length cannot be trusted); reading resumes at the next block.
    let offsets = &p.wal_record_offsets;
    let block_end = (offsets[record] / 32768 + 1) * 32768;
    let lost: Vec<usize> = (record..offsets.len())
        .filter(|i| offsets[*i] < block_end)
        .collect();
    assert!(offsets.last() > Some(&block_end), "later blocks survive");
    assert_eq!(
        missing, lost,
        "the damaged record and the rest of its block are lost"
    );

    let dir = scratch.path().join("paranoid");
    copy_dir(&p.path, &dir);
    damage_wal_record(&dir, record);
    match open_and_read_all(&dir, true) {
        Outcome::OpenFailed(ErrorKind::Corruption, msg) => {
            assert!(msg.contains(".log"), "names the WAL: {msg}")
        }
        other => panic!("paranoid_checks must fail the open: {other:?}"),
    }
}

#[test]
fn a_torn_wal_tail_recovers_the_prefix_even_when_paranoid() {
    let p = pristine();
    let scratch = tempfile::tempdir().expect("tempdir");
    let last = *p.wal_record_offsets.last().expect("records");
    for paranoid in [false, true] {
        let dir = scratch.path().join(format!("torn-{paranoid}"));
        copy_dir(&p.path, &dir);
        let wal = dir.join(p.wal.file_name().expect("WAL name"));
        // Cut the last record in half.
        Damage::TruncateTo(last as usize + 10).apply(&wal);
        let Outcome::Opened(reads) = open_and_read_all(&dir, paranoid) else {
            panic!("a torn tail is what a crash leaves: the open must succeed");
        };
        let applied = wal_writes_applied(&reads).expect("only right values");
        let n = applied.iter().filter(|a| **a).count();
        assert!(is_prefix(&applied));
        assert_eq!(n, applied.len() - 1, "all but the torn record");
    }
}

#[test]
fn missing_files_are_corruption() {
    let p = pristine();
    let scratch = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, FileType); 2] =
        [("manifest", FileType::Manifest), ("table", FileType::Table)];
    for (name, file_type) in cases {
        let dir = scratch.path().join(name);
        copy_dir(&p.path, &dir);
        let n = FileNumber(files_of_type(&dir, file_type)[0]);
        let path = match file_type {
            FileType::Manifest => siltdb::filename::descriptor_file_name(&dir, n),
            _ => siltdb::filename::table_file_name(&dir, n),
        };
        std::fs::remove_file(&path).expect("remove");
        match open_and_read_all(&dir, false) {
            Outcome::OpenFailed(ErrorKind::Corruption, msg) => {
                assert!(
                    msg.contains(&format!("{:06}", n.0)),
                    "names the file: {msg}"
                )
            }
            other => panic!("missing {name}: {other:?}"),
        }
    }
    let dir = scratch.path().join("current");
    copy_dir(&p.path, &dir);
    std::fs::remove_file(dir.join("CURRENT")).expect("remove");
    match open_and_read_all(&dir, false) {
        Outcome::OpenFailed(kind, msg) => assert_eq!(kind, ErrorKind::InvalidArgument, "{msg}"),
        other => panic!("missing CURRENT: {other:?}"),
    }
}
