//! What the engine tells observers about its background work. For now: the per-level
//! compaction statistics LevelDB keeps (`stats_[level].Add(stats)`), updated by every flush.

use std::ops::AddAssign;

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
