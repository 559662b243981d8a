//! `Version`: the table files of each level at one moment, immutable once built. Answers the
//! questions reads and flushes ask of the file layout: which files may hold a key, which
//! overlap a range, and which level a flushed memtable should go to.

use std::sync::{Arc, OnceLock};

use crate::error::Result;
use crate::filename::FileNumber;
use crate::key::{compare_internal_keys, LookupResult};

use super::edit::FileMetaData;

/// Levels 0..=6, as LevelDB.
pub const NUM_LEVELS: usize = 7;

/// The deepest level a flushed memtable may be placed in directly (LevelDB's
/// `kMaxMemCompactLevel`): deeper placement would make later compactions expensive.
pub const MAX_MEM_COMPACT_LEVEL: usize = 2;

// `pick_level_for_memtable_output` looks two levels below the last level it may choose.
const _: () = assert!(MAX_MEM_COMPACT_LEVEL + 1 < NUM_LEVELS);

/// The files of every level. Level 0 is kept in file-number order, oldest first (its files
/// may overlap; a higher number is newer data). Levels >= 1 are sorted by smallest key and
/// do not overlap. Shared as `Arc<Version>`, so readers keep a version alive without a lock.
#[derive(Debug, Clone, Default)]
pub struct Version {
    pub files: [Vec<Arc<FileMetaData>>; NUM_LEVELS],
    /// Set by `finalize` (compaction.rs): the level most in need of compaction, and how
    /// much (1 or more means due).
    pub(super) compaction_score: f64,
    pub(super) compaction_level: usize,
    /// Set once by a read that used up a file's seek budget (see `SeekBudget`).
    file_to_compact: OnceLock<(usize, Arc<FileMetaData>)>,
}

/// Sum of the sizes of `files`.
pub fn total_file_size(files: &[Arc<FileMetaData>]) -> u64 {
    files.iter().map(|f| f.file_size).sum()
}

fn contains_user_key(f: &FileMetaData, user_key: &[u8]) -> bool {
    f.smallest.user_key() <= user_key && user_key <= f.largest.user_key()
}

/// Is `f` entirely after `user_key`? An open end (`None`) is before nothing.
fn before_file(user_key: Option<&[u8]>, f: &FileMetaData) -> bool {
    user_key.is_some_and(|k| k < f.smallest.user_key())
}

/// Is `f` entirely before `user_key`? An open start (`None`) is after nothing.
fn after_file(user_key: Option<&[u8]>, f: &FileMetaData) -> bool {
    user_key.is_some_and(|k| k > f.largest.user_key())
}

impl Version {
    /// Point lookup: level-0 files that may contain the key, newest (highest file number)
    /// first, then the file of each deeper level whose range holds the key, found by binary
    /// search on largest key. `lookup` is called for each candidate file (the caller consults
    /// the table cache) and returns Ok(Some(result)) to stop.
    ///
    /// On a deeper level, compaction may have split one user key's versions across two
    /// adjacent files; both are visited in order, so a snapshot read that finds nothing
    /// old enough in the first still sees the second.
    ///
    /// It also charges a seek to the first file it checked when it had to check more than
    /// one (LevelDB's UpdateStats). The bool is true when that used up the file's budget
    /// and made it this version's `file_to_compact`: the caller schedules a compaction.
    pub fn get(
        &self,
        user_key: &[u8],
        mut lookup: impl FnMut(&FileMetaData) -> Result<Option<LookupResult>>,
    ) -> Result<(Option<LookupResult>, bool)> {
        let mut first_checked: Option<(usize, &Arc<FileMetaData>)> = None;
        let mut checked = 0usize;
        let mut found = None;
        // Level 0 is kept oldest first, so walking it backwards is newest first.
        debug_assert!(self.files[0].windows(2).all(|w| w[0].number < w[1].number));
        let level0 = self.files[0]
            .iter()
            .rev()
            .filter(|f| contains_user_key(f, user_key))
            .map(|f| (0, f));
        let deeper = self.files[1..].iter().enumerate().flat_map(|(i, files)| {
            let first = files.partition_point(|f| f.largest.user_key() < user_key);
            files[first..]
                .iter()
                .take_while(|f| f.smallest.user_key() <= user_key)
                .map(move |f| (i + 1, f))
        });
        for (level, f) in level0.chain(deeper) {
            checked += 1;
            first_checked.get_or_insert((level, f));
            if let Some(result) = lookup(f)? {
                found = Some(result);
                break;
            }
        }
        let due = match first_checked {
            Some((level, f)) if checked > 1 => self.charge_seek(level, f),
            _ => false,
        };
        Ok((found, due))
    }

    /// Charges one seek to `f` (on `level`); true if it became the file to compact. A file
    /// that ran out while another was this version's choice gets its turn in a later
    /// version: its budget stays spent.
    fn charge_seek(&self, level: usize, f: &Arc<FileMetaData>) -> bool {
        level + 1 < NUM_LEVELS
            && f.allowed_seeks.charge()
            && self.file_to_compact.set((level, Arc::clone(f))).is_ok()
    }

    /// The file whose seek budget ran out first in this version, and its level.
    pub fn file_to_compact(&self) -> Option<(usize, &Arc<FileMetaData>)> {
        self.file_to_compact.get().map(|(level, f)| (*level, f))
    }

    pub fn num_files(&self, level: usize) -> usize {
        self.files[level].len()
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        total_file_size(&self.files[level])
    }

    /// Does any file in `level` overlap the user-key range [smallest, largest]?
    /// (None = open end)
    pub fn overlap_in_level(
        &self,
        level: usize,
        smallest: Option<&[u8]>,
        largest: Option<&[u8]>,
    ) -> bool {
        let files = &self.files[level];
        if level == 0 {
            return files
                .iter()
                .any(|f| !after_file(smallest, f) && !before_file(largest, f));
        }
        // Sorted and disjoint: only the first file ending at or after `smallest` can overlap.
        let index = match smallest {
            Some(s) => files.partition_point(|f| f.largest.user_key() < s),
            None => 0,
        };
        files.get(index).is_some_and(|f| !before_file(largest, f))
    }

    /// Files in `level` whose user-key range overlaps [begin, end] (None = open end).
    /// On level 0, a file that reaches past the range widens it and the search restarts,
    /// so that no file left out holds a newer version of a key that is taken.
    pub fn get_overlapping_inputs(
        &self,
        level: usize,
        begin: Option<&[u8]>,
        end: Option<&[u8]>,
    ) -> Vec<Arc<FileMetaData>> {
        let files = &self.files[level];
        let mut user_begin = begin;
        let mut user_end = end;
        let mut inputs = Vec::new();
        let mut i = 0;
        while let Some(f) = files.get(i) {
            i += 1;
            if after_file(user_begin, f) || before_file(user_end, f) {
                continue;
            }
            inputs.push(Arc::clone(f));
            if level == 0 {
                if user_begin.is_some_and(|b| f.smallest.user_key() < b) {
                    user_begin = Some(f.smallest.user_key());
                    inputs.clear();
                    i = 0;
                } else if user_end.is_some_and(|e| f.largest.user_key() > e) {
                    user_end = Some(f.largest.user_key());
                    inputs.clear();
                    i = 0;
                }
            }
        }
        inputs
    }

    /// LevelDB's PickLevelForMemTableOutput: 0 if it overlaps level 0; else push down while
    /// level < MAX_MEM_COMPACT_LEVEL (2), the next level has no overlap, and the overlapping
    /// bytes in level+2 are <= 10 * max_file_size. Skipping levels saves the compactions that
    /// would otherwise just move the file down, without creating a costly one later.
    pub fn pick_level_for_memtable_output(
        &self,
        smallest_user_key: &[u8],
        largest_user_key: &[u8],
        max_file_size: u64,
    ) -> usize {
        let range = (Some(smallest_user_key), Some(largest_user_key));
        let mut level = 0;
        if self.overlap_in_level(0, range.0, range.1) {
            return level;
        }
        let max_grandparent_overlap = max_file_size.saturating_mul(10);
        while level < MAX_MEM_COMPACT_LEVEL {
            if self.overlap_in_level(level + 1, range.0, range.1) {
                break;
            }
            let grandparents = self.get_overlapping_inputs(level + 2, range.0, range.1);
            if total_file_size(&grandparents) > max_grandparent_overlap {
                break;
            }
            level += 1;
        }
        level
    }

    /// Every table file number referenced.
    pub fn live_files(&self) -> impl Iterator<Item = FileNumber> + '_ {
        self.files.iter().flatten().map(|f| f.number)
    }

    /// The first pair of neighbouring files on a level >= 1 that are out of order or overlap
    /// in internal-key order (one user key may still end one file and start the next).
    pub(crate) fn first_overlap(&self) -> Option<(usize, FileNumber, FileNumber)> {
        for (level, files) in self.files.iter().enumerate().skip(1) {
            for pair in files.windows(2) {
                if compare_internal_keys(pair[0].largest.encoded(), pair[1].smallest.encoded())
                    != std::cmp::Ordering::Less
                {
                    return Some((level, pair[0].number, pair[1].number));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::key::{InternalKey, SequenceNumber, ValueType};
    use crate::version::testing::file;
    use crate::version::SeekBudget;

    fn version(levels: &[(usize, FileMetaData)]) -> Version {
        let mut v = Version::default();
        for (level, f) in levels {
            v.files[*level].push(Arc::new(f.clone()));
        }
        // As the builder keeps it.
        v.files[0].sort_by_key(|f| f.number);
        v
    }

    const MAX_FILE: u64 = 2 << 20;

    #[test]
    fn empty_version_pushes_flush_to_level_two() {
        let v = Version::default();
        assert_eq!(v.pick_level_for_memtable_output(b"a", b"z", MAX_FILE), 2);
    }

    #[test]
    fn overlap_with_level_zero_or_one_keeps_flush_at_zero() {
        let v = version(&[(0, file(5, "m", "p", 100))]);
        assert_eq!(v.pick_level_for_memtable_output(b"a", b"n", MAX_FILE), 0);
        // Disjoint from level 0, so the next level is considered.
        assert_eq!(v.pick_level_for_memtable_output(b"q", b"z", MAX_FILE), 2);
        let v = version(&[(1, file(5, "m", "p", 100))]);
        assert_eq!(v.pick_level_for_memtable_output(b"p", b"q", MAX_FILE), 0);
        assert_eq!(v.pick_level_for_memtable_output(b"a", b"b", MAX_FILE), 2);
    }

    #[test]
    fn overlap_only_with_level_two_stops_at_one() {
        let v = version(&[(2, file(5, "c", "d", 100))]);
        assert_eq!(v.pick_level_for_memtable_output(b"a", b"c", MAX_FILE), 1);
    }

    #[test]
    fn heavy_grandparent_overlap_stops_early() {
        // More than 10 * max_file_size in level 2 under the range: stay at level 0.
        let v = version(&[
            (2, file(5, "a", "c", 6 * MAX_FILE)),
            (2, file(6, "d", "f", 5 * MAX_FILE)),
        ]);
        assert_eq!(v.pick_level_for_memtable_output(b"b", b"e", MAX_FILE), 0);
        // Exactly 10 * max_file_size is still allowed.
        let v = version(&[
            (2, file(5, "a", "c", 5 * MAX_FILE)),
            (2, file(6, "d", "f", 5 * MAX_FILE)),
        ]);
        assert_eq!(v.pick_level_for_memtable_output(b"b", b"e", MAX_FILE), 1);
        // Heavy overlap in level 3 only matters once level 1 is the candidate.
        let v = version(&[(3, file(5, "a", "z", 11 * MAX_FILE))]);
        assert_eq!(v.pick_level_for_memtable_output(b"b", b"e", MAX_FILE), 1);
    }

    #[test]
    fn get_visits_level_zero_newest_first_and_stops_at_first_hit() {
        let v = version(&[
            (0, file(3, "a", "z", 1)),
            (0, file(9, "a", "m", 1)),
            (0, file(7, "n", "z", 1)),
            (0, file(5, "k", "q", 1)),
            (1, file(2, "a", "z", 1)),
        ]);
        let mut visited = Vec::new();
        let (got, _) = v
            .get(b"k", |f| {
                visited.push(f.number.0);
                Ok((f.number.0 == 5).then(|| LookupResult::Found(b"v5".to_vec())))
            })
            .expect("get");
        assert_eq!(got, Some(LookupResult::Found(b"v5".to_vec())));
        assert_eq!(visited, vec![9, 5]);

        let mut visited = Vec::new();
        let (got, _) = v
            .get(b"p", |f| {
                visited.push(f.number.0);
                Ok(None)
            })
            .expect("get");
        assert_eq!(got, None);
        assert_eq!(visited, vec![7, 5, 3, 2]);
    }

    #[test]
    fn a_read_that_checks_two_files_charges_the_first_until_its_budget_is_spent() {
        let mut first = file(10, "a", "z", 1);
        first.allowed_seeks = SeekBudget::for_file_size(1);
        let mut second = file(20, "a", "z", 1);
        second.allowed_seeks = SeekBudget::for_file_size(1);
        let v = version(&[(1, first), (2, second)]);
        let miss = |_: &FileMetaData| Ok(None);
        // Found in the first file checked: nothing to charge.
        let (found, due) = v
            .get(b"k", |f| {
                Ok((f.number.0 == 10).then_some(LookupResult::Deleted))
            })
            .expect("get");
        assert_eq!((found, due), (Some(LookupResult::Deleted), false));
        assert_eq!(v.files[1][0].allowed_seeks.remaining(), 100);
        // A key outside every file checks nothing.
        assert!(!v.get(b"~", miss).expect("get").1);
        for i in 1..100 {
            assert!(!v.get(b"k", miss).expect("get").1, "read {i}");
        }
        assert!(v.file_to_compact().is_none());
        assert!(v.get(b"k", miss).expect("get").1, "read 100");
        let (level, f) = v.file_to_compact().expect("file to compact");
        assert_eq!((level, f.number.0), (1, 10));
        // Reported once; the second file checked is never charged.
        assert!(!v.get(b"k", miss).expect("get").1);
        assert_eq!(v.files[2][0].allowed_seeks.remaining(), 100);
    }

    #[test]
    fn budget_grows_with_the_file_one_seek_per_16_kib() {
        assert_eq!(SeekBudget::for_file_size(0).remaining(), 100);
        assert_eq!(SeekBudget::for_file_size(2 << 20).remaining(), 128);
        assert_eq!(SeekBudget::for_file_size(64 << 20).remaining(), 4096);
    }

    #[test]
    fn get_on_deeper_levels_binary_searches_and_propagates_errors() {
        let v = version(&[
            (1, file(10, "a", "c", 1)),
            (1, file(11, "e", "g", 1)),
            (1, file(12, "i", "k", 1)),
            (2, file(20, "a", "z", 1)),
        ]);
        let mut visited = Vec::new();
        v.get(b"f", |f| {
            visited.push(f.number.0);
            Ok(None)
        })
        .expect("get");
        assert_eq!(visited, vec![11, 20]);
        let mut visited = Vec::new();
        v.get(b"d", |f| {
            visited.push(f.number.0);
            Ok(None)
        })
        .expect("get");
        assert_eq!(visited, vec![20]);
        let err = v
            .get(b"a", |_| Err(Error::corruption("bad block")))
            .map(|(found, _)| found);
        assert!(matches!(err, Err(Error::Corruption(_))));
    }

    #[test]
    fn get_visits_both_files_sharing_a_boundary_user_key() {
        let mut left = file(10, "a", "k", 1);
        left.largest = InternalKey::new(b"k", SequenceNumber(50), ValueType::Value);
        let mut right = file(11, "k", "p", 1);
        right.smallest = InternalKey::new(b"k", SequenceNumber(40), ValueType::Value);
        let v = version(&[(1, left), (1, right)]);
        let mut visited = Vec::new();
        v.get(b"k", |f| {
            visited.push(f.number.0);
            Ok(None)
        })
        .expect("get");
        assert_eq!(visited, vec![10, 11]);
        assert_eq!(v.first_overlap(), None);
    }

    #[test]
    fn overlap_in_level_handles_open_ends() {
        let v = version(&[
            (0, file(1, "d", "f", 1)),
            (1, file(2, "b", "c", 1)),
            (1, file(3, "g", "h", 1)),
        ]);
        assert!(v.overlap_in_level(0, Some(b"a"), Some(b"d")));
        assert!(!v.overlap_in_level(0, Some(b"a"), Some(b"c")));
        assert!(v.overlap_in_level(0, None, Some(b"e")));
        assert!(!v.overlap_in_level(0, Some(b"g"), None));
        assert!(!v.overlap_in_level(1, Some(b"d"), Some(b"f")));
        assert!(v.overlap_in_level(1, Some(b"d"), Some(b"g")));
        assert!(v.overlap_in_level(1, Some(b"c"), Some(b"c")));
        assert!(!v.overlap_in_level(1, Some(b"i"), None));
        assert!(v.overlap_in_level(1, None, None));
        assert!(!v.overlap_in_level(2, None, None));
    }

    #[test]
    fn level_zero_overlapping_inputs_expand_the_range() {
        let v = version(&[
            (0, file(1, "a", "c", 1)),
            (0, file(2, "b", "e", 1)),
            (0, file(3, "e", "g", 1)),
            (0, file(4, "x", "z", 1)),
            (1, file(5, "a", "c", 1)),
            (1, file(6, "d", "f", 1)),
        ]);
        // [d, d] touches file 2, which reaches back to b (file 1) and on to e (file 3).
        let numbers = |files: Vec<Arc<FileMetaData>>| -> Vec<u64> {
            files.iter().map(|f| f.number.0).collect()
        };
        assert_eq!(
            numbers(v.get_overlapping_inputs(0, Some(b"d"), Some(b"d"))),
            vec![1, 2, 3]
        );
        // File 1 reaches c, which pulls in file 2 and through it file 3.
        assert_eq!(
            numbers(v.get_overlapping_inputs(0, None, Some(b"a"))),
            vec![1, 2, 3]
        );
        assert_eq!(
            numbers(v.get_overlapping_inputs(0, Some(b"x"), Some(b"y"))),
            vec![4]
        );
        assert_eq!(
            numbers(v.get_overlapping_inputs(1, Some(b"c"), Some(b"d"))),
            vec![5, 6]
        );
        assert_eq!(
            numbers(v.get_overlapping_inputs(1, Some(b"g"), None)),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn sizes_counts_and_live_files() {
        let v = version(&[
            (0, file(1, "a", "c", 10)),
            (0, file(2, "b", "e", 20)),
            (3, file(7, "a", "z", 5)),
        ]);
        assert_eq!(v.num_files(0), 2);
        assert_eq!(v.level_bytes(0), 30);
        assert_eq!(v.level_bytes(3), 5);
        let mut live: Vec<u64> = v.live_files().map(|n| n.0).collect();
        live.sort();
        assert_eq!(live, vec![1, 2, 7]);
    }

    #[test]
    fn overlapping_files_on_level_one_are_detected() {
        let v = version(&[(1, file(1, "a", "d", 1)), (1, file(2, "c", "f", 1))]);
        assert_eq!(v.first_overlap(), Some((1, FileNumber(1), FileNumber(2))));
        let v = version(&[(0, file(1, "a", "d", 1)), (0, file(2, "c", "f", 1))]);
        assert_eq!(v.first_overlap(), None);
    }
}
