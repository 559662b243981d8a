//! Applies a sequence of `VersionEdit`s to a base `Version` and produces the next one,
//! keeping each level's order and refusing a result whose deeper levels overlap.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::filename::FileNumber;
use crate::key::compare_internal_keys;

use super::edit::{FileMetaData, SeekBudget, VersionEdit};
use super::version::{Version, NUM_LEVELS};

/// Accumulates edits (MANIFEST replay applies thousands) before building one Version.
pub(crate) struct Builder {
    levels: [BTreeMap<FileNumber, Arc<FileMetaData>>; NUM_LEVELS],
}

impl Builder {
    pub(crate) fn new(base: &Version) -> Builder {
        let mut levels: [BTreeMap<FileNumber, Arc<FileMetaData>>; NUM_LEVELS] = Default::default();
        for (files, map) in base.files.iter().zip(levels.iter_mut()) {
            map.extend(files.iter().map(|f| (f.number, Arc::clone(f))));
        }
        Builder { levels }
    }

    /// Deletions first, then additions, so an edit that moves a file (delete on level L,
    /// add on L+1) works in either listing order. Deleting an absent file is a no-op.
    pub(crate) fn apply(&mut self, edit: &VersionEdit) -> Result<()> {
        let levels = edit
            .compact_pointers
            .iter()
            .map(|(l, _)| *l)
            .chain(edit.deleted_files.iter().map(|(l, _)| *l))
            .chain(edit.new_files.iter().map(|(l, _)| *l));
        for level in levels {
            if level >= NUM_LEVELS {
                return Err(Error::invalid_argument(format!(
                    "version edit names level {level}; levels are 0..{NUM_LEVELS}"
                )));
            }
        }
        for (level, number) in &edit.deleted_files {
            self.levels[*level].remove(number);
        }
        for (level, meta) in &edit.new_files {
            let mut meta = meta.clone();
            meta.allowed_seeks = SeekBudget::for_file_size(meta.file_size);
            self.levels[*level].insert(meta.number, Arc::new(meta));
        }
        Ok(())
    }

    /// Level 0 in file-number order; deeper levels by smallest key, which must leave them
    /// disjoint (Corruption otherwise: a MANIFEST describing that cannot be read correctly).
    pub(crate) fn finish(self) -> Result<Version> {
        let mut version = Version::default();
        for (level, map) in self.levels.into_iter().enumerate() {
            let mut files: Vec<Arc<FileMetaData>> = map.into_values().collect();
            if level > 0 {
                files.sort_by(|a, b| {
                    compare_internal_keys(a.smallest.encoded(), b.smallest.encoded())
                        .then(a.number.cmp(&b.number))
                });
            }
            version.files[level] = files;
        }
        if let Some((level, a, b)) = version.first_overlap() {
            return Err(Error::corruption(format!(
                "level {level}: files {a} and {b} overlap"
            )));
        }
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing;

    fn file(number: u64, smallest: &str, largest: &str) -> FileMetaData {
        testing::file(number, smallest, largest, 1)
    }

    fn numbers(v: &Version, level: usize) -> Vec<u64> {
        v.files[level].iter().map(|f| f.number.0).collect()
    }

    #[test]
    fn edits_add_delete_and_move_files_keeping_order() {
        let mut b = Builder::new(&Version::default());
        let mut e1 = VersionEdit::default();
        e1.add_file(0, file(9, "a", "z"));
        e1.add_file(0, file(4, "c", "d"));
        e1.add_file(1, file(7, "m", "p"));
        e1.add_file(1, file(5, "a", "c"));
        b.apply(&e1).expect("apply");
        let mut e2 = VersionEdit::default();
        // Trivial move of file 4 from level 0 to level 1, listed add-first.
        e2.add_file(1, file(4, "e", "f"));
        e2.delete_file(0, FileNumber(4));
        e2.delete_file(3, FileNumber(100));
        b.apply(&e2).expect("apply");
        let v = b.finish().expect("finish");
        assert_eq!(numbers(&v, 0), vec![9]);
        assert_eq!(numbers(&v, 1), vec![5, 4, 7]);

        // A second builder starts from that version.
        let mut b = Builder::new(&v);
        let mut e3 = VersionEdit::default();
        e3.delete_file(1, FileNumber(5));
        e3.add_file(0, file(2, "a", "b"));
        b.apply(&e3).expect("apply");
        let v2 = b.finish().expect("finish");
        assert_eq!(numbers(&v2, 0), vec![2, 9]);
        assert_eq!(numbers(&v2, 1), vec![4, 7]);
        assert_eq!(
            numbers(&v, 1),
            vec![5, 4, 7],
            "the base version is unchanged"
        );
    }

    #[test]
    fn overlapping_files_on_a_deep_level_are_corruption() {
        let mut b = Builder::new(&Version::default());
        let mut e = VersionEdit::default();
        e.add_file(2, file(1, "a", "m"));
        e.add_file(2, file(2, "k", "z"));
        b.apply(&e).expect("apply");
        let err = b.finish().expect_err("overlap");
        assert!(
            matches!(&err, Error::Corruption(m) if m.contains("level 2")),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_level_is_refused_without_panic() {
        let mut b = Builder::new(&Version::default());
        let mut e = VersionEdit::default();
        e.add_file(NUM_LEVELS, file(1, "a", "b"));
        assert!(matches!(b.apply(&e), Err(Error::InvalidArgument(_))));
    }
}
