//! What the engine tells observers about its background work: the [`EventListener`]
//! trait and the event payloads (flushes above all), write-stall conditions, and the
//! counters behind `Db::stats` — including the per-level compaction statistics LevelDB
//! keeps (`stats_[level].Add(stats)`).

use std::ops::AddAssign;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::filename::FileNumber;
use crate::key::SequenceNumber;

/// Work done by flushes and compactions whose output landed on one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionStats {
    /// Wall-clock time spent, in microseconds.
    pub micros: u64,
    /// Bytes read from input table files (0 for a memtable flush).
    pub bytes_read: u64,
    /// Bytes of table files written.
    pub bytes_written: u64,
    /// Number of flushes or compactions counted.
    pub count: u64,
}

impl AddAssign for CompactionStats {
    fn add_assign(&mut self, other: CompactionStats) {
        self.micros += other.micros;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.count += other.count;
    }
}

/// Why a memtable was flushed. The numeric values are the C API's (ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum FlushReason {
    /// The active memtable outgrew `write_buffer_size`.
    WriteBufferFull = 1,
    /// `Db::flush` (or `compact_range`) asked for it.
    Manual = 2,
    /// Replaying the WAL at open filled a memtable, or left one to flush.
    Recovery = 3,
    /// `close` with `flush_on_close`.
    Shutdown = 4,
}

impl FlushReason {
    /// The lowercase name used by the Python face: `write_buffer_full`, `manual`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            FlushReason::WriteBufferFull => "write_buffer_full",
            FlushReason::Manual => "manual",
            FlushReason::Recovery => "recovery",
            FlushReason::Shutdown => "shutdown",
        }
    }
}

/// One flush (minor compaction), as seen by `on_flush_begin` and `on_flush_completed`.
/// Fields that are only known at the end (level, size, duration, error) are zero/None in
/// the begin event.
#[derive(Debug, Clone)]
pub struct FlushJobInfo {
    /// Unique per Db, increasing; shared by a flush's begin and completed events.
    pub job_id: u64,
    pub reason: FlushReason,
    /// The table file number; 0 when an empty memtable produced no file.
    pub file_number: FileNumber,
    pub file_path: PathBuf,
    /// The level `pick_level_for_memtable_output` chose (0 in the begin event).
    pub level: usize,
    pub file_size: u64,
    pub num_entries: u64,
    pub num_deletions: u64,
    pub smallest_user_key: Vec<u8>,
    pub largest_user_key: Vec<u8>,
    pub smallest_seqno: SequenceNumber,
    pub largest_seqno: SequenceNumber,
    pub duration: Duration,
    /// Memory the flushed memtable used.
    pub memtable_bytes: u64,
    /// Whether some writer had to wait for this flush.
    pub stalled_writers: bool,
    /// `None` on success.
    pub error: Option<Error>,
}

/// One major compaction.
#[derive(Debug, Clone)]
pub struct CompactionJobInfo {
    pub job_id: u64,
    pub input_level: usize,
    pub output_level: usize,
    pub input_files: Vec<FileNumber>,
    pub output_files: Vec<FileNumber>,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub duration: Duration,
    /// Whether the input was moved to the next level without rewriting it.
    pub trivial_move: bool,
    pub error: Option<Error>,
}

/// The active memtable was sealed and handed to the flush queue.
#[derive(Debug, Clone)]
pub struct MemTableInfo {
    pub reason: FlushReason,
    pub memtable_bytes: u64,
    pub num_entries: u64,
    /// Sealed memtables now waiting for their flush (including this one).
    pub num_immutable: usize,
}

/// How writers are being throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum WriteStallCondition {
    Normal = 0,
    /// Each write is delayed by 1 ms (level 0 at the slowdown trigger).
    Delayed = 1,
    /// Writers wait for background work.
    Stopped = 2,
}

/// Why writers are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum WriteStallCause {
    None = 0,
    /// Every immutable memtable slot is waiting for its flush.
    MemtableLimit = 1,
    /// Level 0 reached `level0_slowdown_writes_trigger`.
    Level0Slowdown = 2,
    /// Level 0 reached `level0_stop_writes_trigger`.
    Level0Stop = 3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteStallInfo {
    pub condition: WriteStallCondition,
    pub previous: WriteStallCondition,
    pub cause: WriteStallCause,
}

/// Why a table file came into being.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableFileReason {
    Flush,
    Compaction,
}

#[derive(Debug, Clone)]
pub struct TableFileInfo {
    pub job_id: u64,
    pub reason: TableFileReason,
    pub file_number: FileNumber,
    pub file_path: PathBuf,
    pub file_size: u64,
}

/// Observes background work. Every method has a no-op default.
///
/// Delivery guarantees (per Db): events arrive in the order they happened (a flush's
/// begin before its completed; completed events in file-number order), on one event
/// thread owned by the Db — never on the thread doing the work and never with the DB
/// mutex held — so a callback may call any `Db` method (`get`, `put`, `property`...),
/// except that `flush(wait)` and `close` return Busy from inside a callback instead of
/// deadlocking. A panic in a callback is caught, logged and counted. `on_flush_completed`
/// fires on failure too, with `error` set. After `close` returns, no callback runs.
pub trait EventListener: Send + Sync {
    fn on_flush_begin(&self, _info: &FlushJobInfo) {}
    fn on_flush_completed(&self, _info: &FlushJobInfo) {}
    fn on_compaction_begin(&self, _info: &CompactionJobInfo) {}
    fn on_compaction_completed(&self, _info: &CompactionJobInfo) {}
    fn on_memtable_sealed(&self, _info: &MemTableInfo) {}
    fn on_write_stall_changed(&self, _info: &WriteStallInfo) {}
    fn on_background_error(&self, _error: &Error) {}
    fn on_table_file_created(&self, _info: &TableFileInfo) {}
    fn on_table_file_deleted(&self, _file_number: FileNumber, _path: &Path) {}
}

/// Statistics of one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelStats {
    pub files: usize,
    pub bytes: u64,
    /// Flushes and compactions whose output landed on this level.
    pub compaction: CompactionStats,
}

/// A structured snapshot of the engine's counters (`Db::stats`): no text to parse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbStats {
    pub levels: Vec<LevelStats>,
    pub flushes_completed: u64,
    pub flushes_failed: u64,
    /// Table bytes written by flushes.
    pub bytes_flushed: u64,
    pub compactions_completed: u64,
    /// Times a writer was delayed or had to wait.
    pub write_stalls: u64,
    pub write_stall_micros: u64,
    /// Panics caught in listener callbacks.
    pub listener_panics: u64,
    /// Batches written (a put or delete is a batch of one).
    pub writes: u64,
    /// WAL records written: group commit makes one record of every group of writes.
    pub write_groups: u64,
    /// WAL fsyncs made for sync writes, one per group.
    pub wal_syncs: u64,
}
