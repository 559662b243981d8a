//! siltdb: an embeddable, LevelDB-compatible LSM key-value engine.
//!
//! A put goes through the writer queue (`db/write.rs`, group commit in
//! `db/writer_queue.rs`) into the write-ahead log (`log/`) and the memtable
//! (`memtable/`: LevelDB's skiplist, laid out in an arena of words). A full memtable is
//! sealed and flushed by
//! the background worker — minor compaction, LevelDB's steps in snake_case:
//! `maybe_schedule_compaction` → `background_call` → `background_compaction` →
//! `compact_memtable` → `write_level0_table` → `build_table` (`db/flush.rs`,
//! `db/table_build.rs`, `table/builder.rs`) → `log_and_apply` (`version/set.rs`) → `remove_obsolete_files`
//! (`db/obsolete.rs`). A flush somebody waits for appends its table on a thread of its
//! own (`table/background_file.rs`) and syncs it every couple of MiB as it grows
//! (`table/write_behind.rs`). WAL files are sized ahead of their contents (`fs/mod.rs`),
//! so a sync after a small append need not write the inode. Leveled compaction (`db/compaction.rs`, `version/compaction.rs`)
//! keeps level 0 small, and moves down tables that reads check in vain (seek compaction);
//! while writers are held back, its outputs sync on a thread of their own
//! (`table/background_sync.rs`) as it builds the next.
//! Reads merge memtables and tables (`db/read.rs`, `db/iter.rs`); blocks come from the
//! block cache (`table/block_cache.rs`), or in place from a table that lookups read often
//! enough to hold whole in memory (`table/resident.rs`).
//! Listeners (`events.rs`) hear about every flush and compaction, in order, on a per-Db
//! event thread (`db/notifier.rs`). Files are LevelDB 1.23's, byte for byte.
//!
//! ```
//! use std::sync::Arc;
//! use siltdb::{Db, EventListener, FlushJobInfo, FlushOptions, Options, ReadOptions, WriteOptions};
//!
//! struct Printer;
//! impl EventListener for Printer {
//!     fn on_flush_completed(&self, info: &FlushJobInfo) {
//!         println!("flushed {} entries into {:?} on level {}", info.num_entries, info.file_path, info.level);
//!     }
//! }
//!
//! # fn main() -> siltdb::Result<()> {
//! # let dir = tempfile::tempdir().expect("tempdir");
//! let options = Options { create_if_missing: true, ..Options::default() }.listener(Arc::new(Printer));
//! let db = Db::open(dir.path(), options)?;
//! db.put(&WriteOptions::default(), b"key", b"value")?;
//! db.flush(&FlushOptions { wait: true })?; // returns after on_flush_completed ran
//! assert_eq!(db.get(&ReadOptions::default(), b"key")?, Some(b"value".to_vec()));
//! assert_eq!(db.property("leveldb.num-files-at-level2").as_deref(), Some("1"));
//! let mut it = db.iter(&ReadOptions::default())?;
//! it.seek_to_first();
//! assert_eq!((it.key(), it.value()), (&b"key"[..], &b"value"[..]));
//! db.close()?;
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_code)]

pub mod batch;
pub mod coding;
pub mod crc;
mod db;
pub mod error;
pub mod events;
pub mod filename;
pub mod fs;
mod info_log;
pub mod iterator;
pub mod key;
pub mod log;
pub mod memtable;
pub mod options;
mod sync;
pub mod table;
pub mod version;

pub use batch::WriteBatch;
pub use db::{destroy_db, repair_db, Db, DbIterator, Entries, Snapshot, SnapshotId};
pub use error::{Error, ErrorKind, Result};
pub use events::{
    CompactionJobInfo, CompactionStats, DbStats, EventListener, FlushJobInfo, FlushReason,
    LevelStats, MemTableInfo, TableFileInfo, TableFileReason, WriteStallCause, WriteStallCondition,
    WriteStallInfo,
};
pub use filename::FileNumber;
pub use key::{LookupResult, SequenceNumber};
pub use options::{CompressionType, FlushOptions, Options, ReadOptions, WriteOptions};

/// The version of this crate (and of libsiltdb and the Python module built from it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
