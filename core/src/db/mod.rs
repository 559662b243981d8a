//! The `Db` handle and the state it shares with its background worker.
//!
//! One `parking_lot::Mutex` guards [`DbState`] (memtable pointers, the immutable queue, the
//! version set, background flags and error, stats); long work — WAL appends, table
//! building, fsync, file deletion — runs with it released (DESIGN.md §4). Functions that
//! need the lock take `&mut MutexGuard<DbState>` (or `&mut DbState`), so the type system
//! says the lock is held.

mod background;
mod compaction;
mod destroy;
mod flush;
mod iter;
mod manual;
mod notifier;
mod obsolete;
mod properties;
mod read;
mod recovery;
mod repair;
mod snapshot;
mod table_build;
mod write;
mod writer_queue;

pub use destroy::destroy_db;
pub use iter::{DbIterator, Entries};
pub use repair::repair_db;
pub use snapshot::{Snapshot, SnapshotId};

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::sync::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::events::{CompactionStats, FlushReason, WriteStallCondition};
use crate::filename::FileNumber;
use crate::fs::{FileLock, FileSystem};
use crate::info_log::InfoLog;
use crate::key::SequenceNumber;
use crate::log;
use crate::memtable::MemTable;
use crate::options::{FlushOptions, Options};
use crate::table::TableCache;
use crate::version::{VersionSet, NUM_LEVELS};

use manual::ManualCompaction;
use notifier::Notifier;
use write::WriteRequest;
use writer_queue::WriterQueue;

/// An open database. Cheap to clone (all clones share one engine) and safe to use from
/// many threads at once. The database closes when [`Db::close`] is called or the last
/// clone is dropped.
#[derive(Clone)]
pub struct Db {
    handle: Arc<DbHandle>,
}

/// Closes the engine when the last `Db` clone goes away. The background worker holds
/// `Arc<DbInner>` directly, so this must be a separate owner to avoid a cycle.
struct DbHandle {
    inner: Arc<DbInner>,
}

impl Drop for DbHandle {
    fn drop(&mut self) {
        let _ = self.inner.close();
    }
}

/// A sealed memtable waiting to be flushed, and the WAL that took over from its WAL:
/// once it is in a table, every log older than `next_log_number` is obsolete.
struct ImmutableMemTable {
    mem: Arc<MemTable>,
    next_log_number: FileNumber,
    reason: FlushReason,
    /// A writer had to wait while this memtable was queued.
    stalled_writers: bool,
}

/// WALs that `switch_memtable` sealed and nobody has synced yet, each with the number of
/// the WAL that replaced it, and whether that newest WAL's directory entry still needs a
/// sync. A sync write syncs them first (it must not be durable while earlier writes are
/// not); a flush that makes one obsolete drops it unsynced, as LevelDB does, since its
/// table holds the writes. Neither the put that fills a memtable nor the flush waits on
/// an fsync of the old WAL.
#[derive(Default)]
struct SealedLogs {
    logs: Vec<(FileNumber, log::Writer)>,
    dir_sync: bool,
}

/// Mutable state, guarded by `DbInner::state`.
struct DbState {
    mem: Arc<MemTable>,
    /// Oldest first; at most `max_write_buffer_number - 1` of them.
    imm: VecDeque<ImmutableMemTable>,
    versions: VersionSet,
    /// Sticky: set by `record_background_error`, cleared only by reopening.
    bg_error: Option<Error>,
    /// The worker is running `background_call` right now.
    bg_running: bool,
    /// Table files being written and not yet in a version: never obsolete.
    pending_outputs: HashSet<FileNumber>,
    stats: [CompactionStats; NUM_LEVELS],
    /// Memtables sealed / flushed since open; `flush(wait)` waits for the second to reach
    /// the value the first had when it was called.
    memtables_sealed: u64,
    memtables_flushed: u64,
    /// The `compact_range` request the worker serves before automatic compactions.
    manual_compaction: Option<ManualCompaction>,
    next_manual_compaction_id: u64,
    /// A major compaction is writing outputs not yet installed: a memtable flushed
    /// meanwhile goes to level 0, where it cannot collide with them.
    major_compaction_running: bool,
    writers: WriterQueue<WriteRequest, Result<()>>,
    closed: bool,
    /// Live snapshots and the sequence each reads at (see snapshot.rs).
    snapshots: BTreeMap<SnapshotId, SequenceNumber>,
    /// Numbers flush and compaction jobs for events.
    next_job_id: u64,
    counters: Counters,
    stall_condition: WriteStallCondition,
    /// Writers in the last group that synced (see `gather_sync_writers`).
    last_sync_group: usize,
}

/// Totals behind `Db::stats` and the `siltdb.*` properties.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    flushes_completed: u64,
    flushes_failed: u64,
    bytes_flushed: u64,
    compactions_completed: u64,
    write_stalls: u64,
    write_stall_micros: u64,
    writes: u64,
    write_groups: u64,
    wal_syncs: u64,
}

pub(crate) struct DbInner {
    dir: PathBuf,
    options: Options,
    fs: Arc<dyn FileSystem>,
    table_cache: Arc<TableCache>,
    info_log: Arc<InfoLog>,
    notifier: Arc<Notifier>,
    state: Mutex<DbState>,
    /// Signalled when background work finishes or the state a waiting writer or flusher
    /// waits for changes.
    bg_cv: Condvar,
    /// Wakes the background worker.
    work_cv: Condvar,
    shutting_down: AtomicBool,
    /// Writers are being delayed or stopped (`stall_condition` is not Normal), readable
    /// without the DB mutex: a compaction then lets its outputs sync while it goes on.
    writes_held_back: AtomicBool,
    /// The WAL. Only the writer-queue leader (and `make_room_for_write`, which the leader
    /// runs) touches it; lock order is `state` before `log`.
    log: Mutex<Option<log::Writer>>,
    /// WALs sealed with their memtables and not yet synced (see `sync_sealed_logs`).
    /// Lock order: `state`, then `log`, then this.
    sealed_logs: Mutex<SealedLogs>,
    worker: Mutex<Option<JoinHandle<()>>>,
    lock: Mutex<Option<FileLock>>,
    /// Held for the whole of `close`, so a second `close` returns only once the first
    /// has finished (threads stopped, events delivered, LOCK released).
    closing: Mutex<()>,
}

impl Db {
    /// Opens (or creates, with `create_if_missing`) the database in `path`, replaying its
    /// write-ahead logs.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let inner = recovery::open(path.as_ref(), options)?;
        Ok(Db {
            handle: Arc::new(DbHandle { inner }),
        })
    }

    /// The directory this database lives in.
    pub fn path(&self) -> &Path {
        &self.handle.inner.dir
    }

    /// True once `close` has been called.
    pub fn is_closed(&self) -> bool {
        self.handle.inner.state.lock().closed
    }

    /// Waits for running background work, syncs the WAL and releases `LOCK`. The memtable
    /// is not flushed: the WAL holds it. Idempotent; every other call afterwards returns
    /// [`Error::Closed`].
    pub fn close(&self) -> Result<()> {
        self.handle.inner.close()
    }

    pub(crate) fn inner(&self) -> &Arc<DbInner> {
        &self.handle.inner
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path()).finish()
    }
}

impl DbInner {
    fn close(&self) -> Result<()> {
        if self.notifier.on_event_thread() {
            // close waits for the event thread, which is running this very callback.
            return Err(Error::Busy(
                "close called from inside an event listener callback".to_string(),
            ));
        }
        let _closing = self.closing.lock();
        // A failed shutdown flush still closes: the WAL keeps the data.
        let mut result = Ok(());
        if self.options.flush_on_close && !self.state.lock().closed {
            result = self.flush(&FlushOptions { wait: true }, FlushReason::Shutdown);
        }
        let mut st = self.state.lock();
        if st.closed {
            return Ok(());
        }
        st.closed = true;
        // Writers already in the queue finish; new ones see `closed`.
        while !st.writers.is_empty() {
            self.bg_cv.wait(&mut st);
        }
        self.shutting_down.store(true, Ordering::Release);
        self.work_cv.notify_all();
        self.bg_cv.notify_all();
        drop(st);
        // The worker finishes a flush it has started (shutting down mid-flush loses
        // nothing either way: the WAL still holds the memtable).
        if let Some(worker) = self.worker.lock().take() {
            let _ = worker.join();
        }
        // Pending events are delivered; after this no callback runs.
        self.notifier.shutdown();
        result = result.and(self.sync_sealed_logs());
        if let Some(mut log) = self.log.lock().take() {
            result = result.and(log.sync());
        }
        self.info_log.log("closed");
        self.lock.lock().take();
        result
    }

    /// True once `close` has stopped the engine: iterators check it on every move.
    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// `Err(Closed)` once `close` has begun.
    fn check_open(st: &DbState) -> Result<()> {
        if st.closed {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }
}
