//! Listeners see every flush in order, on the event thread, including failed ones and
//! recovery's; callbacks may call back into the Db; `flush(wait)` returns after the
//! completed event ran; nothing is delivered after `close` returns.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;

use common::{files_of_type, options, put, value_for};
use siltdb::filename::FileType;
use siltdb::fs::fault::{FaultInjectionFs, FsOp};
use siltdb::fs::PosixFs;
use siltdb::{
    Db, ErrorKind, EventListener, FlushJobInfo, FlushOptions, FlushReason, Options, ReadOptions,
    WriteOptions,
};

#[derive(Debug, Clone)]
enum Seen {
    Begin(u64),
    Completed(Box<FlushJobInfo>),
    Sealed,
    Created(u64),
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Seen>>,
    threads: Mutex<Vec<ThreadId>>,
}

impl Recorder {
    fn completed(&self) -> Vec<FlushJobInfo> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|e| match e {
                Seen::Completed(i) => Some((**i).clone()),
                _ => None,
            })
            .collect()
    }
    fn record(&self, e: Seen) {
        self.events.lock().expect("lock").push(e);
        self.threads
            .lock()
            .expect("lock")
            .push(std::thread::current().id());
    }
}

impl EventListener for Recorder {
    fn on_flush_begin(&self, info: &FlushJobInfo) {
        self.record(Seen::Begin(info.job_id));
    }
    fn on_flush_completed(&self, info: &FlushJobInfo) {
        self.record(Seen::Completed(Box::new(info.clone())));
    }
    fn on_memtable_sealed(&self, _info: &siltdb::MemTableInfo) {
        self.record(Seen::Sealed);
    }
    fn on_table_file_created(&self, info: &siltdb::TableFileInfo) {
        self.record(Seen::Created(info.file_number.0));
    }
}

fn with_listener(l: Arc<dyn EventListener>) -> Options {
    Options {
        write_buffer_size: 64 << 10,
        ..options()
    }
    .listener(l)
}

#[test]
fn one_completed_event_per_flushed_table_in_file_number_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = Arc::new(Recorder::default());
    let db = Db::open(dir.path(), with_listener(rec.clone())).expect("open");
    for i in 0..6000u64 {
        put(&db, format!("key{i:08}").as_bytes(), &value_for(i, 100));
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    // flush(wait) returned: its completed event has run already.
    let completed = rec.completed();
    let last = completed.last().expect("at least one flush");
    assert_eq!(last.reason, FlushReason::Manual);
    assert!(completed.len() >= 8, "{} flushes", completed.len());
    assert!(completed.iter().all(|c| c.error.is_none()));
    let numbers: Vec<u64> = completed.iter().map(|c| c.file_number.0).collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_eq!(
        numbers, sorted,
        "completed events arrive in file-number order"
    );
    assert_eq!(
        numbers,
        files_of_type(dir.path(), FileType::Table),
        "one event per table file on disk"
    );
    for c in &completed[..completed.len() - 1] {
        assert_eq!(c.reason, FlushReason::WriteBufferFull);
    }
    // Levels reported match the levels the DB reports.
    for level in 0..7 {
        let n = completed.iter().filter(|c| c.level == level).count();
        assert_eq!(
            db.property(&format!("leveldb.num-files-at-level{level}")),
            Some(n.to_string())
        );
    }
    let total_entries: u64 = completed.iter().map(|c| c.num_entries).sum();
    assert_eq!(total_entries, 6000);
    for c in &completed {
        assert!(c.file_size > 0 && c.smallest_user_key <= c.largest_user_key);
        assert!(c.smallest_seqno <= c.largest_seqno);
        assert!(c.file_path.ends_with(format!("{:06}.ldb", c.file_number.0)));
    }
    // Begin comes before completed for each job; created between them.
    let events = rec.events.lock().expect("lock").clone();
    for c in &completed {
        let begin = events
            .iter()
            .position(|e| matches!(e, Seen::Begin(j) if *j == c.job_id))
            .expect("begin event");
        let created = events
            .iter()
            .position(|e| matches!(e, Seen::Created(n) if *n == c.file_number.0))
            .expect("created event");
        let done = events
            .iter()
            .position(|e| matches!(e, Seen::Completed(i) if i.job_id == c.job_id))
            .expect("completed event");
        assert!(begin < created && created < done);
    }
    assert!(events.iter().any(|e| matches!(e, Seen::Sealed)));
    // Delivered on one thread that is not this one.
    let threads = rec.threads.lock().expect("lock").clone();
    assert!(threads.iter().all(|t| *t == threads[0]));
    assert_ne!(threads[0], std::thread::current().id());
    let stats = db.stats().expect("stats");
    assert_eq!(stats.flushes_completed, completed.len() as u64);
    assert_eq!(
        stats.bytes_flushed,
        completed.iter().map(|c| c.file_size).sum::<u64>()
    );
    assert_eq!(
        db.property("siltdb.num-flushes"),
        Some(completed.len().to_string())
    );
}

#[test]
fn a_failed_flush_produces_a_completed_event_with_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = Arc::new(Recorder::default());
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let opts = Options {
        fs: fs.clone(),
        ..with_listener(rec.clone())
    };
    let db = Db::open(dir.path(), opts).expect("open");
    put(&db, b"a", b"1");
    fs.fail(FsOp::Sync, ".ldb", 0, usize::MAX);
    let err = db
        .flush(&FlushOptions { wait: true })
        .expect_err("flush fails");
    assert_eq!(err.kind(), ErrorKind::Io);
    let completed = rec.completed();
    let last = completed.last().expect("completed event");
    assert_eq!(last.error.as_ref().map(|e| e.kind()), Some(ErrorKind::Io));
    assert_eq!(db.stats().expect("stats").flushes_failed, 1);
    assert!(db
        .property("siltdb.background-error")
        .is_some_and(|m| m.contains("injected")));
}

/// Calls back into the Db from inside the callback.
struct Reentrant {
    db: OnceLock<Db>,
    calls: AtomicUsize,
    busy_flush: AtomicBool,
    busy_close: AtomicBool,
}

impl EventListener for Reentrant {
    fn on_flush_completed(&self, _info: &FlushJobInfo) {
        let Some(db) = self.db.get() else { return };
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(db.get(&ReadOptions::default(), b"key00000001").is_ok());
        assert!(db.property("leveldb.stats").is_some());
        // A put big enough to fill the memtable and wait for the next flush.
        if n < 3 {
            let _ = db.put(
                &WriteOptions::default(),
                format!("cb{n}").as_bytes(),
                &[7u8; 70_000],
            );
        }
        if let Err(e) = db.flush(&FlushOptions { wait: true }) {
            self.busy_flush
                .store(e.kind() == ErrorKind::Busy, Ordering::SeqCst);
        }
        if let Err(e) = db.close() {
            self.busy_close
                .store(e.kind() == ErrorKind::Busy, Ordering::SeqCst);
        }
    }
}

#[test]
fn callbacks_may_read_write_and_query_without_deadlock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Arc::new(Reentrant {
        db: OnceLock::new(),
        calls: AtomicUsize::new(0),
        busy_flush: AtomicBool::new(false),
        busy_close: AtomicBool::new(false),
    });
    let db = Db::open(dir.path(), with_listener(l.clone())).expect("open");
    let _ = l.db.set(db.clone());
    for i in 0..3000u64 {
        put(&db, format!("key{i:08}").as_bytes(), &value_for(i, 100));
    }
    db.flush(&FlushOptions { wait: true }).expect("flush");
    assert!(l.calls.load(Ordering::SeqCst) >= 3);
    assert!(
        l.busy_flush.load(Ordering::SeqCst),
        "flush(wait) in a callback is Busy"
    );
    assert!(
        l.busy_close.load(Ordering::SeqCst),
        "close in a callback is Busy"
    );
    assert!(!db.is_closed());
    for n in 0..3 {
        assert_eq!(
            db.get(&ReadOptions::default(), format!("cb{n}").as_bytes())
                .expect("get")
                .map(|v| v.len()),
            Some(70_000)
        );
    }
    // The listener holds a clone of the Db; close explicitly.
    db.close().expect("close");
}

struct Panicky(AtomicUsize);

impl EventListener for Panicky {
    fn on_flush_completed(&self, _info: &FlushJobInfo) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("listener bug");
    }
}

#[test]
fn a_panicking_listener_is_contained_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l = Arc::new(Panicky(AtomicUsize::new(0)));
    let db = Db::open(dir.path(), with_listener(l.clone())).expect("open");
    for round in 0..3u64 {
        put(&db, format!("k{round}").as_bytes(), b"v");
        db.flush(&FlushOptions { wait: true })
            .expect("flush still works");
    }
    assert_eq!(l.0.load(Ordering::SeqCst), 3);
    assert_eq!(db.stats().expect("stats").listener_panics, 3);
    assert_eq!(
        db.get(&ReadOptions::default(), b"k2").expect("get"),
        Some(b"v".to_vec())
    );
}

#[test]
fn recovery_and_shutdown_flushes_are_reported_and_nothing_runs_after_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Db::open(dir.path(), options()).expect("open");
        put(&db, b"from-the-wal", b"1");
        db.close().expect("close");
    }
    let rec = Arc::new(Recorder::default());
    let opts = Options {
        flush_on_close: true,
        ..options()
    }
    .listener(rec.clone());
    let db = Db::open(dir.path(), opts).expect("reopen");
    let completed = rec.completed();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].reason, FlushReason::Recovery);
    assert_eq!(completed[0].smallest_user_key, b"from-the-wal");
    put(&db, b"at-close", b"2");
    db.close().expect("close");
    let after_close = rec.events.lock().expect("lock").len();
    let completed = rec.completed();
    assert_eq!(
        completed.last().map(|c| c.reason),
        Some(FlushReason::Shutdown)
    );
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(
        rec.events.lock().expect("lock").len(),
        after_close,
        "no callback after close"
    );
    // flush_on_close left nothing in the WAL: the tables hold it.
    let db = Db::open(dir.path(), options()).expect("reopen");
    assert_eq!(
        db.get(&ReadOptions::default(), b"at-close").expect("get"),
        Some(b"2".to_vec())
    );
}

#[test]
fn properties_answer_leveldb_names_and_refuse_unknown_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    for i in 0..100u64 {
        put(&db, format!("k{i:03}").as_bytes(), b"v");
    }
    assert_eq!(
        db.property("siltdb.num-immutable-mem-table"),
        Some("0".into())
    );
    assert_eq!(
        db.property("siltdb.mem-table-flush-pending"),
        Some("0".into())
    );
    assert_eq!(db.property("siltdb.background-error"), Some(String::new()));
    let mem: usize = db
        .property("siltdb.cur-size-active-mem-table")
        .and_then(|s| s.parse().ok())
        .expect("number");
    assert!(mem > 100 * 12);
    db.flush(&FlushOptions::default()).expect("flush");
    assert_eq!(db.property("leveldb.num-files-at-level2"), Some("1".into()));
    assert_eq!(db.property("leveldb.num-files-at-level0"), Some("0".into()));
    for bad in [
        "leveldb.num-files-at-level7",
        "leveldb.num-files-at-level",
        "leveldb.num-files-at-level01",
        "nope",
        "",
    ] {
        assert_eq!(db.property(bad), None, "{bad}");
    }
    let stats = db.property("leveldb.stats").expect("stats");
    assert!(stats.starts_with("                               Compactions\nLevel  Files Size(MB) Time(sec) Read(MB) Write(MB)\n"), "{stats}");
    assert!(
        stats.lines().any(|l| l.starts_with("  2        1 ")),
        "{stats}"
    );
    let sstables = db.property("leveldb.sstables").expect("sstables");
    assert!(sstables.contains("--- level 2 ---\n "), "{sstables}");
    assert!(
        sstables.contains("['k000' @ 1 : 1 .. 'k099' @ 100 : 1]"),
        "{sstables}"
    );
    let s = db.stats().expect("stats");
    assert_eq!(s.levels.len(), 7);
    assert_eq!(s.levels[2].files, 1);
    assert_eq!(s.levels[2].compaction.count, 1);
    db.close().expect("close");
    assert_eq!(db.property("leveldb.stats"), None);
    assert_eq!(db.stats().expect_err("closed").kind(), ErrorKind::Closed);
}
