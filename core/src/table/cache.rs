//! Keeps recently used tables open: opening one costs a footer, index and filter read,
//! so lookups reuse open tables, bounded by `max_open_files` as LevelDB's TableCache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;
use crate::filename::{sst_table_file_name, table_file_name, FileNumber};
use crate::key::{LookupResult, SequenceNumber};
use crate::options::{Options, ReadOptions};
use crate::table::reader::{Table, TableIterator};

/// An LRU of open tables keyed by file number. `Send + Sync`; the lock is held only to
/// look up or insert, never while a file is opened or read.
pub struct TableCache {
    dir: PathBuf,
    options: Options,
    capacity: usize,
    state: Mutex<CacheState>,
}

struct CacheState {
    tables: HashMap<FileNumber, CacheEntry>,
    /// Bumped on every use; the entry with the smallest stamp is evicted first.
    clock: u64,
}

struct CacheEntry {
    table: Arc<Table>,
    last_used: u64,
}

impl TableCache {
    /// `capacity` is the number of tables kept open (LevelDB: max_open_files − 10,
    /// at least 1; the caller computes it).
    pub fn new(dir: &Path, options: &Options, capacity: usize) -> TableCache {
        TableCache {
            dir: dir.to_path_buf(),
            options: options.clone(),
            capacity: capacity.max(1),
            state: Mutex::new(CacheState {
                tables: HashMap::new(),
                clock: 0,
            }),
        }
    }

    /// The open table for `number`, opening `NNNNNN.ldb` (or legacy `NNNNNN.sst`) on a
    /// miss. `file_size` is the size recorded in the MANIFEST. Failures are not cached.
    pub fn find_table(&self, number: FileNumber, file_size: u64) -> Result<Arc<Table>> {
        {
            let mut state = self.state.lock();
            state.clock += 1;
            let now = state.clock;
            if let Some(entry) = state.tables.get_mut(&number) {
                entry.last_used = now;
                return Ok(Arc::clone(&entry.table));
            }
        }
        let table = Arc::new(self.open_table(number, file_size)?);
        let mut state = self.state.lock();
        state.clock += 1;
        let now = state.clock;
        let table = Arc::clone(
            &state
                .tables
                .entry(number)
                .or_insert(CacheEntry {
                    table,
                    last_used: now,
                })
                .table,
        );
        while state.tables.len() > self.capacity {
            let oldest = state
                .tables
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(&n, _)| n);
            match oldest {
                Some(n) => state.tables.remove(&n),
                None => break,
            };
        }
        Ok(table)
    }

    /// Point lookup in table `number`; see [`Table::get`].
    pub fn get(
        &self,
        read: &ReadOptions,
        number: FileNumber,
        file_size: u64,
        user_key: &[u8],
        seq: SequenceNumber,
    ) -> Result<Option<LookupResult>> {
        self.find_table(number, file_size)?.get(read, user_key, seq)
    }

    /// An iterator over table `number`; it keeps the table open even if evicted.
    pub fn iter(
        &self,
        read: &ReadOptions,
        number: FileNumber,
        file_size: u64,
    ) -> Result<TableIterator> {
        Ok(self.find_table(number, file_size)?.iter(read))
    }

    /// Forgets table `number` (its file is about to be deleted).
    pub fn evict(&self, number: FileNumber) {
        self.state.lock().tables.remove(&number);
    }

    /// Number of open tables held by the cache.
    pub fn len(&self) -> usize {
        self.state.lock().tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn open_table(&self, number: FileNumber, file_size: u64) -> Result<Table> {
        let fs = &self.options.fs;
        let ldb = table_file_name(&self.dir, number);
        let (file, path) = match fs.new_random_access_file(&ldb) {
            Ok(f) => (f, ldb),
            Err(ldb_err) => {
                let sst = sst_table_file_name(&self.dir, number);
                match fs.new_random_access_file(&sst) {
                    Ok(f) => (f, sst),
                    Err(_) => return Err(ldb_err),
                }
            }
        };
        Table::open(
            &self.options,
            file,
            file_size,
            &path.display().to_string(),
        )
    }
}
