//! Options with LevelDB's names, defaults and meanings, plus siltdb's additions.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::events::EventListener;
use crate::fs::{FileSystem, PosixFs};
use crate::{Snapshot, SnapshotId};

/// How table blocks are compressed. The values are LevelDB's on-disk block types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CompressionType {
    None = 0,
    Snappy = 1,
}

/// Options for opening a database.
#[derive(Clone)]
pub struct Options {
    /// Create the database if it is missing (LevelDB default: false).
    pub create_if_missing: bool,
    /// Fail if the database already exists.
    pub error_if_exists: bool,
    /// Check aggressively: a corrupt WAL record fails the open instead of being skipped,
    /// and every block read is checksummed.
    pub paranoid_checks: bool,
    /// Bytes of memtable to build up before it is sealed and flushed to a table (4 MiB).
    pub write_buffer_size: usize,
    /// Table files kept open by the table cache (1000; LevelDB reserves 10 of these).
    pub max_open_files: usize,
    /// Bytes of decoded data blocks kept in memory for reads (8 MiB, LevelDB's default;
    /// plyvel's `lru_cache_size`). 0 disables the cache.
    pub block_cache_size: usize,
    /// Bytes of table files point lookups may hold whole in memory (256 MiB; 0: none).
    /// A table is loaded once lookups have read as many bytes of it from disk as the
    /// file holds; after that its blocks are read in place, with no system call and no
    /// copy. LevelDB gets the same by mapping table files into memory; this is that
    /// memory, counted and bounded. It is heap, on top of the page cache's copy.
    pub resident_table_budget: usize,
    /// Approximate uncompressed size of a table data block (4 KiB).
    pub block_size: usize,
    /// Keys between restart points in a data block (16).
    pub block_restart_interval: usize,
    /// Target size of a table file written by compaction (2 MiB).
    pub max_file_size: u64,
    /// Block compression (snappy, as LevelDB).
    pub compression: CompressionType,
    /// Bloom filter bits per key for new tables; 0 writes no filter (10).
    pub bloom_bits_per_key: usize,
    /// Level-0 file count at which a compaction into level 1 starts (4).
    pub level0_file_num_compaction_trigger: usize,
    /// Memtables held in memory at once: the active one plus up to this minus one sealed
    /// ones waiting for their flush (2, RocksDB's name). More lets writers keep going
    /// while a slow flush runs, at the cost of memory.
    pub max_write_buffer_number: usize,
    /// Level-0 file count at which each write is delayed by 200 us (8; LevelDB delays by
    /// 1 ms, which makes each such write take a millisecond).
    pub level0_slowdown_writes_trigger: usize,
    /// Level-0 file count at which writes wait for compaction (12).
    pub level0_stop_writes_trigger: usize,
    /// Where files live; tests substitute a fault-injecting file system.
    pub fs: Arc<dyn FileSystem>,
    /// Observers of flushes, compactions and stalls; registered before open so that
    /// flushes during recovery are seen too.
    pub listeners: Vec<Arc<dyn EventListener>>,
    /// Flush the memtable at close (reason "shutdown") instead of leaving it in the WAL.
    pub flush_on_close: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create_if_missing: false,
            error_if_exists: false,
            paranoid_checks: false,
            write_buffer_size: 4 << 20,
            max_open_files: 1000,
            block_cache_size: 8 << 20,
            resident_table_budget: 256 << 20,
            block_size: 4 << 10,
            block_restart_interval: 16,
            max_file_size: 2 << 20,
            compression: CompressionType::Snappy,
            bloom_bits_per_key: 10,
            level0_file_num_compaction_trigger: 4,
            max_write_buffer_number: 2,
            level0_slowdown_writes_trigger: 8,
            level0_stop_writes_trigger: 12,
            fs: Arc::new(PosixFs),
            listeners: Vec::new(),
            flush_on_close: false,
        }
    }
}

impl Options {
    /// Adds an event listener (builder style).
    pub fn listener(mut self, listener: Arc<dyn EventListener>) -> Options {
        self.listeners.push(listener);
        self
    }

    /// Rejects settings the engine cannot honour, naming the option.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::invalid_argument(what.to_string()));
        if self.write_buffer_size < 1024 {
            return bad("write_buffer_size must be at least 1024 bytes");
        }
        if self.block_size == 0 || self.block_size > (1 << 30) {
            return bad("block_size must be between 1 byte and 1 GiB");
        }
        if self.block_restart_interval == 0 {
            return bad("block_restart_interval must be at least 1");
        }
        if self.max_open_files == 0 {
            return bad("max_open_files must be at least 1");
        }
        if self.max_file_size == 0 {
            return bad("max_file_size must be at least 1 byte");
        }
        if self.max_write_buffer_number < 2 {
            return bad("max_write_buffer_number must be at least 2");
        }
        if self.level0_file_num_compaction_trigger == 0 {
            return bad("level0_file_num_compaction_trigger must be at least 1");
        }
        if self.level0_stop_writes_trigger == 0
            || self.level0_slowdown_writes_trigger > self.level0_stop_writes_trigger
        {
            return bad("level0 triggers must satisfy 0 < slowdown <= stop");
        }
        Ok(())
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("create_if_missing", &self.create_if_missing)
            .field("error_if_exists", &self.error_if_exists)
            .field("paranoid_checks", &self.paranoid_checks)
            .field("write_buffer_size", &self.write_buffer_size)
            .field("max_open_files", &self.max_open_files)
            .field("block_cache_size", &self.block_cache_size)
            .field("resident_table_budget", &self.resident_table_budget)
            .field("block_size", &self.block_size)
            .field("block_restart_interval", &self.block_restart_interval)
            .field("max_file_size", &self.max_file_size)
            .field("compression", &self.compression)
            .field("bloom_bits_per_key", &self.bloom_bits_per_key)
            .field(
                "level0_file_num_compaction_trigger",
                &self.level0_file_num_compaction_trigger,
            )
            .field(
                "level0_slowdown_writes_trigger",
                &self.level0_slowdown_writes_trigger,
            )
            .field(
                "level0_stop_writes_trigger",
                &self.level0_stop_writes_trigger,
            )
            .field("fs", &self.fs)
            .field("listeners", &self.listeners.len())
            .field("flush_on_close", &self.flush_on_close)
            .finish()
    }
}

/// Options for one write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// fsync the WAL before the write returns, so it survives a machine crash.
    pub sync: bool,
}

/// Options for one read (`Db::get`, `Db::iter`). `Copy`: a snapshot is named by its id.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Verify block checksums (default true, unlike LevelDB; forced on by `paranoid_checks`).
    pub verify_checksums: bool,
    /// Keep blocks read for this call in the block cache.
    pub fill_cache: bool,
    /// Read as of this snapshot (from `Db::snapshot`) instead of the latest state. A
    /// released snapshot, or one of another database, is an InvalidArgument error.
    pub snapshot: Option<SnapshotId>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            verify_checksums: true,
            fill_cache: true,
            snapshot: None,
        }
    }
}

impl ReadOptions {
    /// Default options reading at `snapshot`.
    pub fn at(snapshot: &Snapshot) -> ReadOptions {
        ReadOptions {
            snapshot: Some(snapshot.id()),
            ..ReadOptions::default()
        }
    }
}

/// Options for `Db::flush`.
#[derive(Debug, Clone, Copy)]
pub struct FlushOptions {
    /// Return only once the flushed data is in installed table files (default true).
    pub wait: bool,
}

impl Default for FlushOptions {
    fn default() -> Self {
        FlushOptions { wait: true }
    }
}
