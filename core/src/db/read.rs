//! The read path: active memtable → immutable memtables newest first → level-0 tables
//! newest first → one table per deeper level. The lock is held only to take `Arc`s of
//! the memtables and the current version (and the read sequence), never while reading.
//! Point reads (`get`), iterators (`iter`) and `approximate_sizes` live here.

use std::sync::Arc;

use super::iter::DbIterator;
use super::snapshot::read_sequence;
use super::{Db, DbInner};
use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{
    compare_internal_keys, make_internal_key, LookupResult, SequenceNumber, VALUE_TYPE_FOR_SEEK,
};
use crate::memtable::MemTable;
use crate::options::ReadOptions;
use crate::table::MergingIterator;
use crate::version::{LevelIterator, Version, NUM_LEVELS};

impl Db {
    /// The value stored under `key`, or `None` if it is absent or deleted. Reads at
    /// `opts.snapshot` when set (InvalidArgument if that snapshot was released).
    pub fn get(&self, opts: &ReadOptions, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner().get(opts, key)
    }

    /// An iterator over the whole database as of now (or as of `opts.snapshot`). See
    /// [`DbIterator`]; it is returned unpositioned. Level-0 tables are opened here (their
    /// index blocks read), deeper levels' tables only as the walk reaches them.
    pub fn iter(&self, opts: &ReadOptions) -> Result<DbIterator> {
        DbInner::new_iterator(self.inner(), opts)
    }

    /// For each `(start, limit)` user-key range, the approximate bytes of table files that
    /// hold keys in `[start, limit)` (LevelDB's `GetApproximateSizes`). Data still only in
    /// memtables is not counted; a range with `limit <= start` is 0.
    pub fn approximate_sizes(&self, ranges: &[(&[u8], &[u8])]) -> Result<Vec<u64>> {
        self.inner().approximate_sizes(ranges)
    }
}

/// What a read needs, taken under the lock: memtables newest first (the active one, then
/// the immutable ones — usually none, so collecting them allocates nothing), the version,
/// the sequence to read at.
struct ReadView {
    mem: Arc<MemTable>,
    imm: Vec<Arc<MemTable>>,
    version: Arc<Version>,
    sequence: SequenceNumber,
}

impl ReadView {
    fn mems(&self) -> impl Iterator<Item = &Arc<MemTable>> {
        std::iter::once(&self.mem).chain(&self.imm)
    }
}

impl DbInner {
    fn read_view(&self, opts: &ReadOptions) -> Result<ReadView> {
        let st = self.state.lock();
        DbInner::check_open(&st)?;
        let sequence = read_sequence(&st, opts.snapshot)?;
        Ok(ReadView {
            mem: st.mem.clone(),
            imm: st.imm.iter().rev().map(|i| i.mem.clone()).collect(),
            version: st.versions.current(),
            sequence,
        })
    }

    fn effective(&self, opts: &ReadOptions) -> ReadOptions {
        let mut read = *opts;
        read.verify_checksums |= self.options.paranoid_checks;
        read
    }

    fn get(&self, opts: &ReadOptions, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let view = self.read_view(opts)?;
        let read = self.effective(opts);
        let seq = view.sequence;
        let found = match view.mems().find_map(|m| m.get(key, seq)) {
            Some(r) => Some(r),
            None => {
                // One lookup key and one key buffer serve every table consulted.
                let target = make_internal_key(key, seq, VALUE_TYPE_FOR_SEEK);
                let mut scratch = Vec::new();
                let (found, seek_compaction_due) = view.version.get(key, |file| {
                    self.table_cache
                        .get(&read, file.number, file.file_size, &target, &mut scratch)
                })?;
                if seek_compaction_due {
                    self.maybe_schedule_compaction(&mut self.state.lock());
                }
                found
            }
        };
        Ok(match found {
            Some(LookupResult::Found(value)) => Some(value),
            Some(LookupResult::Deleted) | None => None,
        })
    }

    fn new_iterator(this: &Arc<DbInner>, opts: &ReadOptions) -> Result<DbIterator> {
        let view = this.read_view(opts)?;
        let read = this.effective(opts);
        let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
        for mem in view.mems() {
            children.push(Box::new(mem.iter()));
        }
        for f in view.version.files[0].iter().rev() {
            children.push(Box::new(this.table_cache.iter(
                &read,
                f.number,
                f.file_size,
            )?));
        }
        for level in 1..NUM_LEVELS {
            let files = &view.version.files[level];
            if !files.is_empty() {
                children.push(Box::new(LevelIterator::new(
                    Arc::clone(&this.table_cache),
                    read,
                    files.clone(),
                )));
            }
        }
        Ok(DbIterator::new(
            Arc::clone(this),
            Box::new(MergingIterator::new(children)),
            view.sequence,
            view.mems().cloned().collect(),
            view.version,
        ))
    }

    fn approximate_sizes(&self, ranges: &[(&[u8], &[u8])]) -> Result<Vec<u64>> {
        let version = {
            let st = self.state.lock();
            DbInner::check_open(&st)?;
            st.versions.current()
        };
        ranges
            .iter()
            .map(|&(start, limit)| {
                if limit <= start {
                    return Ok(0);
                }
                let a = self.approximate_offset_of(&version, start)?;
                let b = self.approximate_offset_of(&version, limit)?;
                Ok(b.saturating_sub(a))
            })
            .collect()
    }

    /// Bytes of table data, over all levels, that sort before `user_key`.
    fn approximate_offset_of(&self, version: &Version, user_key: &[u8]) -> Result<u64> {
        let ikey = make_internal_key(user_key, SequenceNumber::MAX, VALUE_TYPE_FOR_SEEK);
        let mut total = 0;
        for (level, files) in version.files.iter().enumerate() {
            for f in files {
                if compare_internal_keys(f.largest.encoded(), &ikey).is_le() {
                    // Entirely before the key.
                    total += f.file_size;
                } else if compare_internal_keys(f.smallest.encoded(), &ikey).is_gt() {
                    // Entirely after; deeper levels are sorted, so the rest are after too.
                    if level > 0 {
                        break;
                    }
                } else {
                    let table = self.table_cache.find_table(f.number, f.file_size)?;
                    total += table.approximate_offset_of(&ikey);
                }
            }
        }
        Ok(total)
    }
}
