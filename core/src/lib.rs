//! siltdb: an embeddable, LevelDB-compatible LSM key-value engine.

#![deny(unsafe_code)]

pub mod coding;
pub mod crc;
pub mod error;
pub mod filename;
pub mod fs;
pub mod iterator;
pub mod key;
pub mod log;
pub mod options;
pub mod version;

pub use error::{Error, ErrorKind, Result};
pub use filename::FileNumber;
pub use key::{LookupResult, SequenceNumber};
pub use options::{CompressionType, FlushOptions, Options, ReadOptions, WriteOptions};
