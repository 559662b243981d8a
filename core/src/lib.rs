//! siltdb: an embeddable, LevelDB-compatible LSM key-value engine.

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
