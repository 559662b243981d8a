//! Keeps recently used tables open: opening one costs a footer, index and filter read,
//! so lookups reuse open tables, bounded by `max_open_files` as LevelDB's TableCache.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;
use crate::filename::{sst_table_file_name, table_file_name, FileNumber};
use crate::key::LookupResult;
use crate::options::{Options, ReadOptions};
use crate::table::block_cache::{BlockCache, IntMap};
use crate::table::reader::{Table, TableIterator};
use crate::table::resident::ResidentBudget;

/// An LRU of open tables keyed by file number. `Send + Sync`; the lock is held only to
/// look up or insert, never while a file is opened or read.
pub struct TableCache {
    dir: PathBuf,
    options: Options,
    capacity: usize,
    state: Mutex<CacheState>,
    /// Data blocks of every table, shared (None when `block_cache_size` is 0).
    block_cache: Option<Arc<BlockCache>>,
    /// Bytes of tables held whole in memory (None when `resident_table_budget` is 0).
    resident: Option<Arc<ResidentBudget>>,
}

struct CacheState {
    tables: IntMap<FileNumber, CacheEntry>,
    /// Bumped on every use; the entry with the smallest stamp is evicted first.
    clock: u64,
}

struct CacheEntry {
    table: Arc<Table>,
    last_used: u64,
}

/// Every this many table lookups, the resident budget frees the spare buffers left idle
/// too long or beyond what open tables could still take: often enough that they go
/// soon after, rarely enough that lookups do not feel it.
const SPARE_SWEEP_EVERY: u64 = 4096;

impl TableCache {
    /// `capacity` is the number of tables kept open (LevelDB: max_open_files − 10,
    /// at least 1; the caller computes it).
    pub fn new(dir: &Path, options: &Options, capacity: usize) -> TableCache {
        TableCache {
            dir: dir.to_path_buf(),
            options: options.clone(),
            capacity: capacity.max(1),
            state: Mutex::new(CacheState {
                tables: IntMap::default(),
                clock: 0,
            }),
            block_cache: (options.block_cache_size > 0)
                .then(|| Arc::new(BlockCache::new(options.block_cache_size))),
            resident: (options.resident_table_budget > 0)
                .then(|| Arc::new(ResidentBudget::new(options.resident_table_budget))),
        }
    }

    /// Bytes held by resident tables, open or still read by an iterator.
    pub fn resident_usage(&self) -> usize {
        self.resident.as_ref().map_or(0, |r| r.used())
    }

    /// Bytes of closed resident tables' buffers kept for the next tables loaded.
    pub fn resident_spare_usage(&self) -> usize {
        self.resident.as_ref().map_or(0, |r| r.spare())
    }

    /// Bytes held by the block cache.
    pub fn block_cache_usage(&self) -> usize {
        self.block_cache.as_ref().map_or(0, |c| c.usage())
    }

    /// The open table for `number`, opening `NNNNNN.ldb` (or legacy `NNNNNN.sst`) on a
    /// miss. `file_size` is the size recorded in the MANIFEST. Failures are not cached.
    pub fn find_table(&self, number: FileNumber, file_size: u64) -> Result<Arc<Table>> {
        let (hit, demand) = {
            let mut state = self.state.lock();
            state.clock += 1;
            let now = state.clock;
            let hit = state.tables.get_mut(&number).map(|entry| {
                entry.last_used = now;
                Arc::clone(&entry.table)
            });
            // What the open tables that may still be loaded could take from the spares.
            let demand = (now % SPARE_SWEEP_EVERY == 0 && self.resident.is_some()).then(|| {
                state
                    .tables
                    .values()
                    .filter(|e| e.table.may_become_resident())
                    .map(|e| usize::try_from(e.table.file_size()).unwrap_or(usize::MAX))
                    .fold(0usize, usize::saturating_add)
            });
            (hit, demand)
        };
        if let (Some(demand), Some(resident)) = (demand, &self.resident) {
            resident.trim_spares(demand);
        }
        if let Some(table) = hit {
            return Ok(table);
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

    /// Point lookup in table `number` for an internal lookup key; see
    /// [`Table::get_internal`].
    pub fn get(
        &self,
        read: &ReadOptions,
        number: FileNumber,
        file_size: u64,
        target: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<Option<LookupResult>> {
        self.find_table(number, file_size)?
            .get_internal(read, target, scratch)
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
        let mut table = Table::open(&self.options, file, file_size, &path.display().to_string())?;
        if let Some(cache) = &self.block_cache {
            table.attach_block_cache(Arc::clone(cache));
        }
        if let Some(budget) = &self.resident {
            table.attach_resident_budget(Arc::clone(budget));
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::iterator::InternalIterator;
    use crate::key::{make_internal_key, SequenceNumber, ValueType};
    use crate::table::builder::TableBuilder;

    /// Writes a table at `path` holding `key{n}-{i}` for i in 0..100; returns its size.
    fn write_table(options: &Options, path: &Path, n: u64) -> u64 {
        let file = options.fs.new_writable_file(path).expect("create");
        let mut b = TableBuilder::new(options, file);
        for i in 0..100 {
            let k = make_internal_key(
                format!("key{n}-{i:03}").as_bytes(),
                SequenceNumber(i),
                ValueType::Value,
            );
            b.add(&k, format!("value{n}-{i}").as_bytes()).expect("add");
        }
        let size = b.finish().expect("finish");
        b.sync().expect("sync");
        size
    }

    fn lookup(cache: &TableCache, n: u64, size: u64, i: u64) -> Option<LookupResult> {
        let key = format!("key{n}-{i:03}");
        let target = make_internal_key(key.as_bytes(), SequenceNumber::MAX, ValueType::Value);
        cache
            .get(
                &ReadOptions::default(),
                FileNumber(n),
                size,
                &target,
                &mut Vec::new(),
            )
            .expect("get")
    }

    #[test]
    fn capacity_two_keeps_two_tables_open_and_serves_all_five() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = Options::default();
        let sizes: Vec<u64> = (1..=5)
            .map(|n| write_table(&options, &table_file_name(dir.path(), FileNumber(n)), n))
            .collect();
        let cache = TableCache::new(dir.path(), &options, 2);
        assert!(cache.is_empty());
        for round in 0..3u64 {
            for n in 1..=5u64 {
                let size = sizes[n as usize - 1];
                let i = (round * 37 + n) % 100;
                let want = LookupResult::Found(format!("value{n}-{i}").into_bytes());
                assert_eq!(lookup(&cache, n, size, i), Some(want));
                assert!(cache.len() <= 2);
            }
        }
        assert_eq!(cache.len(), 2);
        // Most recently used survive: 4 and 5.
        let mut it = cache
            .iter(&ReadOptions::default(), FileNumber(5), sizes[4])
            .expect("iter");
        cache.evict(FileNumber(5));
        cache.evict(FileNumber(4));
        assert!(cache.is_empty());
        // An iterator keeps its table alive after eviction.
        it.seek_to_first();
        let mut count = 0;
        while it.valid() {
            count += 1;
            it.next();
        }
        assert_eq!(count, 100);
    }

    #[test]
    fn legacy_sst_name_is_found_and_missing_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = Options::default();
        let size = write_table(&options, &sst_table_file_name(dir.path(), FileNumber(7)), 7);
        let cache = TableCache::new(dir.path(), &options, 10);
        assert_eq!(
            lookup(&cache, 7, size, 42),
            Some(LookupResult::Found(b"value7-42".to_vec()))
        );
        let err = cache
            .find_table(FileNumber(8), size)
            .err()
            .expect("no such table");
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("000008.ldb"), "{err}");
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn cache_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TableCache>();
        let dir = tempfile::tempdir().expect("tempdir");
        let options = Options::default();
        let size = write_table(&options, &table_file_name(dir.path(), FileNumber(3)), 3);
        let cache = Arc::new(TableCache::new(dir.path(), &options, 4));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in (0..100).map(|i| (i + t * 25) % 100) {
                        let want = LookupResult::Found(format!("value3-{i}").into_bytes());
                        assert_eq!(lookup(&cache, 3, size, i), Some(want));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(cache.len(), 1);
    }
}
