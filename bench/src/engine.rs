//! The operations a benchmark performs, over either engine, and the options both are
//! opened with. Keeping the surface this small is what makes the comparison fair: each
//! call maps to one public call of each engine (`Db::put` / `leveldb_put`, ...).

use std::path::Path;

use siltdb::{CompressionType, Db, FlushOptions, Options, ReadOptions, WriteOptions};

use crate::flags::{Compression, EngineChoice, Flags};

/// One open database. Shared by the benchmark threads, so every method takes `&self`.
pub trait Engine: Sync {
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), String>;
    /// Whether `key` was found; the value is fetched (and copied out) as a caller would.
    fn get(&self, key: &[u8]) -> Result<bool, String>;
    /// Iterates up to `limit` entries from the first, calling `each(key_len + value_len)`
    /// per entry.
    fn scan(&self, limit: usize, each: &mut dyn FnMut(usize)) -> Result<(), String>;
    /// Flushes the memtable to a table and waits until it is installed.
    fn flush(&self) -> Result<(), String>;
    /// Compacts the whole key range and waits: siltdb's `compact_range(None, None)`,
    /// LevelDB's `CompactRange(nullptr, nullptr)`.
    fn compact(&self) -> Result<(), String>;
    fn property(&self, name: &str) -> Option<String>;
    /// Closes, reporting an error if the engine has one to report.
    fn close(self: Box<Self>) -> Result<(), String>;
}

/// Options applied identically to both engines.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    pub create_if_missing: bool,
    pub write_buffer_size: usize,
    pub compression: Compression,
    /// 0: no filter.
    pub bloom_bits: usize,
    /// LevelDB only; `None` is its default 8 MiB cache.
    #[cfg_attr(not(have_leveldb), allow(dead_code))]
    pub cache_size: Option<usize>,
}

impl EngineConfig {
    pub fn from_flags(flags: &Flags) -> EngineConfig {
        EngineConfig {
            create_if_missing: !flags.use_existing_db,
            write_buffer_size: flags.write_buffer_size,
            compression: flags.compression,
            bloom_bits: flags.bloom_bits.unwrap_or(0),
            cache_size: flags.cache_size,
        }
    }
}

/// Opens engine `which` (siltdb or leveldb) in `dir`.
pub fn open(
    which: EngineChoice,
    dir: &Path,
    config: &EngineConfig,
) -> Result<Box<dyn Engine>, String> {
    match which {
        EngineChoice::Siltdb => Ok(Box::new(SiltEngine::open(dir, config)?)),
        EngineChoice::Leveldb => crate::leveldb::open(dir, config),
        EngineChoice::Both => Err("open: pick one engine".to_string()),
    }
}

/// A version string for the header, e.g. "siltdb 0.1.0".
pub fn version(which: EngineChoice) -> String {
    match which {
        EngineChoice::Siltdb => format!("siltdb {}", siltdb::VERSION),
        EngineChoice::Leveldb => crate::leveldb::version(),
        EngineChoice::Both => String::new(),
    }
}

struct SiltEngine {
    db: Db,
    /// LevelDB reads with `verify_checksums` false by default, siltdb with true: the
    /// benchmark reads with LevelDB's default on both.
    read: ReadOptions,
}

impl SiltEngine {
    fn open(dir: &Path, config: &EngineConfig) -> Result<SiltEngine, String> {
        let options = Options {
            create_if_missing: config.create_if_missing,
            write_buffer_size: config.write_buffer_size,
            compression: match config.compression {
                Compression::None => CompressionType::None,
                Compression::Snappy => CompressionType::Snappy,
            },
            bloom_bits_per_key: config.bloom_bits,
            // Same block cache as LevelDB's: its default 8 MiB unless --cache_size.
            block_cache_size: config.cache_size.unwrap_or(8 << 20),
            ..Options::default()
        };
        let db = Db::open(dir, options).map_err(|e| format!("siltdb open: {e}"))?;
        let read = ReadOptions {
            verify_checksums: false,
            fill_cache: true,
            snapshot: None,
        };
        Ok(SiltEngine { db, read })
    }
}

impl Engine for SiltEngine {
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), String> {
        self.db
            .put(&WriteOptions { sync }, key, value)
            .map_err(|e| e.to_string())
    }

    fn get(&self, key: &[u8]) -> Result<bool, String> {
        self.db
            .get(&self.read, key)
            .map(|v| v.is_some())
            .map_err(|e| e.to_string())
    }

    fn scan(&self, limit: usize, each: &mut dyn FnMut(usize)) -> Result<(), String> {
        let mut it = self.db.iter(&self.read).map_err(|e| e.to_string())?;
        it.seek_to_first();
        let mut n = 0;
        while it.valid() && n < limit {
            each(it.key().len() + it.value().len());
            n += 1;
            it.next();
        }
        it.status().map_err(|e| e.to_string())
    }

    fn flush(&self) -> Result<(), String> {
        self.db
            .flush(&FlushOptions { wait: true })
            .map_err(|e| e.to_string())
    }

    fn compact(&self) -> Result<(), String> {
        self.db.compact_range(None, None).map_err(|e| e.to_string())
    }

    fn property(&self, name: &str) -> Option<String> {
        self.db.property(name)
    }

    fn close(self: Box<Self>) -> Result<(), String> {
        self.db.close().map_err(|e| e.to_string())
    }
}
