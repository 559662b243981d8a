//! `LevelIterator`: the files of one level >= 1 (sorted, disjoint) read as one sorted
//! sequence, opening each table through the table cache only when the walk reaches it —
//! LevelDB's two-level iterator over a level's file list.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::iterator::InternalIterator;
use crate::key::compare_internal_keys;
use crate::options::ReadOptions;
use crate::table::{TableCache, TableIterator};

use super::edit::FileMetaData;

/// Walks `files` in order, in both directions. The first error (opening a table or
/// reading it) ends the walk and is kept for `status`.
pub struct LevelIterator {
    table_cache: Arc<TableCache>,
    read: ReadOptions,
    files: Vec<Arc<FileMetaData>>,
    /// The file `table` reads; meaningless while `table` is `None`.
    index: usize,
    table: Option<TableIterator>,
    status: Option<Error>,
}

impl LevelIterator {
    /// `files` must be one level's files (level >= 1), in the version's order.
    pub fn new(
        table_cache: Arc<TableCache>,
        read: ReadOptions,
        files: Vec<Arc<FileMetaData>>,
    ) -> LevelIterator {
        LevelIterator {
            table_cache,
            read,
            files,
            index: 0,
            table: None,
            status: None,
        }
    }

    /// Opens file `index`, or clears `table` when out of range or after an error.
    fn open(&mut self, index: usize) {
        self.index = index;
        self.table = None;
        if self.status.is_some() {
            return;
        }
        let Some(f) = self.files.get(index) else {
            return;
        };
        match self.table_cache.iter(&self.read, f.number, f.file_size) {
            Ok(it) => self.table = Some(it),
            Err(e) => self.status = Some(e),
        }
    }

    /// True when `table` is positioned; moves an error of the table into `status`.
    fn table_ready(&mut self) -> bool {
        let Some(t) = &self.table else { return false };
        if t.valid() {
            return true;
        }
        if let Err(e) = t.status() {
            self.status.get_or_insert(e);
            self.table = None;
        }
        false
    }

    fn skip_empty_files_forward(&mut self) {
        while !self.table_ready() {
            if self.status.is_some() || self.table.is_none() {
                self.table = None;
                return;
            }
            self.open(self.index + 1);
            if let Some(t) = &mut self.table {
                t.seek_to_first();
            }
        }
    }

    fn skip_empty_files_backward(&mut self) {
        while !self.table_ready() {
            if self.status.is_some() || self.table.is_none() || self.index == 0 {
                self.table = None;
                return;
            }
            self.open(self.index - 1);
            if let Some(t) = &mut self.table {
                t.seek_to_last();
            }
        }
    }
}

impl InternalIterator for LevelIterator {
    fn valid(&self) -> bool {
        self.status.is_none() && self.table.as_ref().is_some_and(|t| t.valid())
    }

    fn seek_to_first(&mut self) {
        self.open(0);
        if let Some(t) = &mut self.table {
            t.seek_to_first();
        }
        self.skip_empty_files_forward();
    }

    fn seek_to_last(&mut self) {
        self.table = None;
        let Some(last) = self.files.len().checked_sub(1) else {
            return;
        };
        self.open(last);
        if let Some(t) = &mut self.table {
            t.seek_to_last();
        }
        self.skip_empty_files_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        // The first file whose largest key is at or after the target.
        let index = self.files.partition_point(|f| {
            compare_internal_keys(f.largest.encoded(), target) == Ordering::Less
        });
        self.open(index);
        if let Some(t) = &mut self.table {
            t.seek(target);
        }
        self.skip_empty_files_forward();
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(t) = &mut self.table {
            t.next();
        }
        self.skip_empty_files_forward();
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(t) = &mut self.table {
            t.prev();
        }
        self.skip_empty_files_backward();
    }

    fn key(&self) -> &[u8] {
        self.table.as_ref().map_or(&[], |t| t.key())
    }

    fn value(&self) -> &[u8] {
        self.table.as_ref().map_or(&[], |t| t.value())
    }

    fn status(&self) -> Result<()> {
        match &self.status {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filename::{table_file_name, FileNumber};
    use crate::key::{make_internal_key, InternalKey, SequenceNumber, ValueType};
    use crate::options::Options;
    use crate::table::TableBuilder;

    /// Writes tables of user keys `k{n:03}` (values `v{n}`), one per range, and a
    /// level iterator over them.
    fn level(dir: &std::path::Path, ranges: &[(u32, u32)]) -> LevelIterator {
        let options = Options::default();
        let mut files = Vec::new();
        for (i, &(first, last)) in ranges.iter().enumerate() {
            let number = FileNumber(10 + i as u64);
            let file = options
                .fs
                .new_writable_file(&table_file_name(dir, number))
                .expect("create");
            let mut b = TableBuilder::new(&options, file);
            let key = |n: u32| {
                make_internal_key(
                    format!("k{n:03}").as_bytes(),
                    SequenceNumber(1),
                    ValueType::Value,
                )
            };
            for n in first..=last {
                b.add(&key(n), format!("v{n}").as_bytes()).expect("add");
            }
            let file_size = b.finish().expect("finish");
            files.push(Arc::new(FileMetaData {
                number,
                file_size,
                smallest: InternalKey::from_encoded(key(first)),
                largest: InternalKey::from_encoded(key(last)),
                allowed_seeks: Default::default(),
            }));
        }
        let cache = Arc::new(TableCache::new(dir, &options, 10));
        LevelIterator::new(cache, ReadOptions::default(), files)
    }

    fn value(it: &LevelIterator) -> String {
        String::from_utf8(it.value().to_vec()).expect("utf8")
    }

    #[test]
    fn walks_every_file_in_both_directions_and_seeks_across_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut it = level(dir.path(), &[(0, 9), (20, 29), (40, 49)]);
        it.seek_to_first();
        let mut forward = Vec::new();
        while it.valid() {
            forward.push(value(&it));
            it.next();
        }
        assert_eq!(forward.len(), 30);
        assert_eq!(forward.first().map(String::as_str), Some("v0"));
        assert_eq!(forward.last().map(String::as_str), Some("v49"));

        it.seek_to_last();
        let mut backward = Vec::new();
        while it.valid() {
            backward.push(value(&it));
            it.prev();
        }
        backward.reverse();
        assert_eq!(backward, forward);

        // Between two files: the first key of the next one.
        it.seek(&make_internal_key(
            b"k015",
            SequenceNumber::MAX,
            ValueType::Value,
        ));
        assert_eq!(value(&it), "v20");
        it.prev();
        assert_eq!(value(&it), "v9");
        it.seek(&make_internal_key(
            b"k99",
            SequenceNumber::MAX,
            ValueType::Value,
        ));
        assert!(!it.valid());
        assert!(it.status().is_ok());
    }

    #[test]
    fn a_missing_table_ends_the_walk_with_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut it = level(dir.path(), &[(0, 4), (10, 14)]);
        std::fs::remove_file(table_file_name(dir.path(), FileNumber(11))).expect("rm");
        it.seek_to_first();
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.next();
        }
        assert_eq!(n, 5);
        assert!(it.status().is_err());
    }

    #[test]
    fn an_empty_level_is_never_valid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut it = level(dir.path(), &[]);
        it.seek_to_first();
        assert!(!it.valid());
        it.seek_to_last();
        assert!(!it.valid());
        it.seek(b"anything");
        assert!(!it.valid());
        assert!(it.status().is_ok());
    }
}
