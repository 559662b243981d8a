//! Listeners hear each major compaction begin and complete (inputs, outputs, bytes,
//! trivial moves, failures), output tables announce themselves, and the per-level
//! compaction stats behind `Db::stats` and `leveldb.stats` count the work on the level
//! it landed on, as LevelDB does.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{levels_on_disk, options, put, value_for};
use siltdb::fs::fault::{FaultInjectionFs, FsOp};
use siltdb::fs::PosixFs;
use siltdb::{
    CompactionJobInfo, Db, EventListener, FlushOptions, Options, TableFileInfo, TableFileReason,
};

#[derive(Debug, Clone)]
enum Seen {
    Begin(Box<CompactionJobInfo>),
    Completed(Box<CompactionJobInfo>),
    Created(TableFileInfo),
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Seen>>,
}

impl Recorder {
    fn events(&self) -> Vec<Seen> {
        self.events.lock().expect("lock").clone()
    }
    fn completed(&self) -> Vec<CompactionJobInfo> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Seen::Completed(i) => Some(*i),
                _ => None,
            })
            .collect()
    }
}

impl EventListener for Recorder {
    fn on_compaction_begin(&self, info: &CompactionJobInfo) {
        self.events
            .lock()
            .expect("lock")
            .push(Seen::Begin(Box::new(info.clone())));
    }
    fn on_compaction_completed(&self, info: &CompactionJobInfo) {
        self.events
            .lock()
            .expect("lock")
            .push(Seen::Completed(Box::new(info.clone())));
    }
    fn on_table_file_created(&self, info: &TableFileInfo) {
        if info.reason == TableFileReason::Compaction {
            self.events
                .lock()
                .expect("lock")
                .push(Seen::Created(info.clone()));
        }
    }
}

/// Three overlapping flushes of the same keys: files on levels 2, 1 and 0.
fn three_overlapping_flushes(db: &Db) {
    for round in 0..3u64 {
        for i in 0..2000u64 {
            put(
                db,
                format!("key{i:06}").as_bytes(),
                &value_for(i + round, 100),
            );
        }
        db.flush(&FlushOptions { wait: true }).expect("flush");
    }
}

#[test]
fn compact_range_reports_each_compaction_and_counts_it_on_its_output_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = Arc::new(Recorder::default());
    let db = Db::open(dir.path(), options().listener(rec.clone())).expect("open");
    three_overlapping_flushes(&db);
    assert!(rec.completed().is_empty(), "nothing was due yet");

    db.compact_range(None, None).expect("compact_range");
    // compact_range returned: the events of its compactions have been delivered.
    let completed = rec.completed();
    let levels: Vec<(usize, usize)> = completed
        .iter()
        .map(|c| (c.input_level, c.output_level))
        .collect();
    assert_eq!(levels, vec![(0, 1), (1, 2)]);
    let events = rec.events();
    for c in &completed {
        assert!(c.error.is_none() && !c.trivial_move);
        assert_eq!(c.input_files.len(), 2, "one file from each level: {c:?}");
        assert_eq!(c.output_files.len(), 1);
        assert!(
            c.bytes_read > c.bytes_written,
            "the shadowed versions were dropped"
        );
        let begin = events
            .iter()
            .position(|e| matches!(e, Seen::Begin(b) if b.job_id == c.job_id))
            .expect("begin event");
        let created = events
            .iter()
            .position(|e| {
                matches!(e, Seen::Created(t) if t.job_id == c.job_id
                && t.file_number == c.output_files[0])
            })
            .expect("created event");
        let done = events
            .iter()
            .position(|e| matches!(e, Seen::Completed(d) if d.job_id == c.job_id))
            .expect("completed event");
        assert!(begin < created && created < done);
    }

    let stats = db.stats().expect("stats");
    assert_eq!(stats.compactions_completed, 2);
    for (level, c) in [(1, &completed[0]), (2, &completed[1])] {
        let s = stats.levels[level].compaction;
        assert!(s.count >= 1 && s.micros > 0, "level {level}: {s:?}");
        assert!(s.bytes_read >= c.bytes_read, "level {level}: {s:?}");
    }
    assert_eq!(stats.levels[2].files, 1);
    assert_eq!(stats.levels[0].files + stats.levels[1].files, 0);
    let table = db.property("leveldb.stats").expect("leveldb.stats");
    assert!(
        table.lines().any(|l| l.trim_start().starts_with('2')),
        "{table}"
    );
    db.close().expect("close");
    assert_eq!(
        levels_on_disk(dir.path())[2],
        vec![completed[1].output_files[0].0]
    );
}

/// Options that make a single level-0 file due for compaction.
fn eager(rec: &Arc<Recorder>) -> Options {
    Options {
        level0_file_num_compaction_trigger: 1,
        ..options()
    }
    .listener(rec.clone())
}

#[test]
fn a_lone_level0_file_with_nothing_below_is_moved_not_rewritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Db::open(dir.path(), options()).expect("open");
        for i in 0..100u64 {
            put(&db, format!("key{i:04}").as_bytes(), b"v");
        }
        db.close().expect("close");
    }
    // Recovery flushes the WAL to level 0, which is then due.
    let rec = Arc::new(Recorder::default());
    let db = Db::open(dir.path(), eager(&rec)).expect("reopen");
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.property("leveldb.num-files-at-level1").as_deref() != Some("1") {
        assert!(Instant::now() < deadline, "the level-0 file never moved");
        std::thread::sleep(Duration::from_millis(5));
    }
    db.close().expect("close");
    let completed = rec.completed();
    assert_eq!(completed.len(), 1, "{completed:?}");
    let c = &completed[0];
    assert!(c.trivial_move && c.error.is_none());
    assert_eq!((c.input_level, c.output_level), (0, 1));
    assert_eq!(c.input_files, c.output_files);
    assert_eq!(c.bytes_written, 0);
    assert_eq!(levels_on_disk(dir.path())[1], vec![c.input_files[0].0]);
}

#[test]
fn a_failed_automatic_compaction_is_reported_with_its_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = Arc::new(Recorder::default());
    let fs = FaultInjectionFs::new(Arc::new(PosixFs));
    let opts = Options {
        fs: fs.clone(),
        ..eager(&rec)
    };
    let db = Db::open(dir.path(), opts).expect("open");
    // Two overlapping flushes land on levels 2 and 1; nothing is due yet.
    for round in 0..2u64 {
        for i in 0..100u64 {
            put(&db, format!("key{i:04}").as_bytes(), &value_for(round, 10));
        }
        db.flush(&FlushOptions { wait: true }).expect("flush");
    }
    // The third stays on level 0 and makes it due; its own table is the last one that
    // may be created.
    fs.fail(FsOp::Create, ".ldb", 1, usize::MAX);
    put(&db, b"key0050", b"newest");
    db.flush(&FlushOptions { wait: false }).expect("flush");
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        assert!(Instant::now() < deadline, "the compaction never failed");
        match db.put(&Default::default(), b"x", b"y") {
            Err(e) => break e,
            Ok(()) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    assert!(err.is_background(), "{err}");
    let _ = db.close();
    let completed = rec.completed();
    assert_eq!(completed.len(), 1, "{completed:?}");
    let c = &completed[0];
    assert!(c.error.is_some() && !c.trivial_move);
    assert_eq!((c.input_level, c.output_level), (0, 1));
    assert!(c.output_files.is_empty());
    assert_eq!(c.bytes_written, 0);
}
