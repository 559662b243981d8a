//! The read path: active memtable → immutable memtables newest first → level-0 tables
//! newest first → one table per deeper level. The lock is held only to take `Arc`s of
//! the memtables and the current version, never while reading.

use super::{Db, DbInner};
use crate::error::Result;
use crate::key::LookupResult;
use crate::options::ReadOptions;

impl Db {
    /// The value stored under `key`, or `None` if it is absent or deleted.
    pub fn get(&self, opts: &ReadOptions, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner().get(opts, key)
    }
}

impl DbInner {
    fn get(&self, opts: &ReadOptions, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (mem, imms, version, seq) = {
            let st = self.state.lock();
            DbInner::check_open(&st)?;
            let imms: Vec<_> = st.imm.iter().rev().map(|i| i.mem.clone()).collect();
            (
                st.mem.clone(),
                imms,
                st.versions.current(),
                st.versions.last_sequence(),
            )
        };
        let mut read = *opts;
        read.verify_checksums |= self.options.paranoid_checks;

        let found = match mem.get(key, seq) {
            Some(r) => Some(r),
            None => match imms.iter().find_map(|m| m.get(key, seq)) {
                Some(r) => Some(r),
                None => version.get(key, |file| {
                    self.table_cache
                        .get(&read, file.number, file.file_size, key, seq)
                })?,
            },
        };
        Ok(match found {
            Some(LookupResult::Found(value)) => Some(value),
            Some(LookupResult::Deleted) | None => None,
        })
    }
}
