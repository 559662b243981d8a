//! Choosing major compactions, as LevelDB's `VersionSet::PickCompaction`/`CompactRange`:
//! level scores computed when a version is finalized, the input files of one compaction
//! (with boundary and expansion rules), and the per-key questions asked while it runs
//! (`should_stop_before`, `is_base_level_for_key`).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{compare_internal_keys, InternalKey};
use crate::options::{Options, ReadOptions};
use crate::table::{MergingIterator, TableCache};

use super::edit::{FileMetaData, VersionEdit};
use super::level_iter::LevelIterator;
use super::set::VersionSet;
use super::version::{total_file_size, Version, NUM_LEVELS};

/// The options that shape compaction choices, copied from [`Options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionConfig {
    /// Level-0 file count that makes level 0 due for compaction.
    pub level0_file_num_compaction_trigger: usize,
    /// Level-0 file count at which writes are slowed down.
    pub level0_slowdown_writes_trigger: usize,
    /// Target size of a compaction output file.
    pub max_file_size: u64,
}

impl CompactionConfig {
    pub fn from_options(options: &Options) -> CompactionConfig {
        CompactionConfig {
            level0_file_num_compaction_trigger: options.level0_file_num_compaction_trigger.max(1),
            level0_slowdown_writes_trigger: options.level0_slowdown_writes_trigger,
            max_file_size: options.max_file_size,
        }
    }

    /// A compaction stops its current output file once the files it overlaps in the level
    /// below the output would make the next compaction of that file this expensive.
    fn max_grandparent_overlap_bytes(&self) -> u64 {
        self.max_file_size.saturating_mul(10)
    }

    /// Input expansion on the upper level is skipped once the whole compaction would read
    /// more than this.
    fn expanded_compaction_byte_size_limit(&self) -> u64 {
        self.max_file_size.saturating_mul(25)
    }
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig::from_options(&Options::default())
    }
}

/// Bytes a level >= 1 may hold before it is due for compaction: 10 MiB on level 1, ten
/// times more on each level below.
pub fn max_bytes_for_level(level: usize) -> f64 {
    let mut bytes = 10.0 * 1048576.0;
    for _ in 1..level {
        bytes *= 10.0;
    }
    bytes
}

impl Version {
    /// Computes which level most needs compaction. Level 0 is scored by file count
    /// (every level-0 file is read by every lookup, so the count is what hurts), deeper
    /// levels by bytes over their budget. The last level is never a compaction source.
    ///
    /// Unlike LevelDB, level 0 goes first, whatever the other scores, once it is two files
    /// short of slowing writes down: a run of level-1 compactions would otherwise let it
    /// reach the slowdown, and every write would then wait a millisecond.
    pub(super) fn finalize(&mut self, config: &CompactionConfig) {
        let level0_files = self.files[0].len();
        if level0_files >= config.level0_file_num_compaction_trigger
            && level0_files + 2 >= config.level0_slowdown_writes_trigger
        {
            self.compaction_level = 0;
            self.compaction_score =
                level0_files as f64 / config.level0_file_num_compaction_trigger as f64;
            return;
        }
        let mut best_level = 0;
        let mut best_score = -1.0;
        for level in 0..NUM_LEVELS - 1 {
            let score = if level == 0 {
                self.files[0].len() as f64 / config.level0_file_num_compaction_trigger as f64
            } else {
                self.level_bytes(level) as f64 / max_bytes_for_level(level)
            };
            if score > best_score {
                best_level = level;
                best_score = score;
            }
        }
        self.compaction_level = best_level;
        self.compaction_score = best_score;
    }

    /// The score `finalize` found: 1 or more means a compaction is due.
    pub fn compaction_score(&self) -> f64 {
        self.compaction_score
    }

    /// The level `finalize` found most in need of compaction.
    pub fn compaction_level(&self) -> usize {
        self.compaction_level
    }
}

/// One major compaction: files of `level` (inputs 0) merged with the overlapping files of
/// `level + 1` (inputs 1) into new files on `level + 1`. Holds the version it was picked
/// from, which keeps its input files alive until it is dropped.
pub struct Compaction {
    level: usize,
    config: CompactionConfig,
    input_version: Arc<Version>,
    /// The compact pointer this compaction advances; the DB adds deletions and outputs.
    edit: VersionEdit,
    inputs: [Vec<Arc<FileMetaData>>; 2],
    /// Files of `level + 2` overlapping the compaction, for `should_stop_before`.
    grandparents: Vec<Arc<FileMetaData>>,
    grandparent_index: usize,
    seen_key: bool,
    overlapped_bytes: u64,
    /// Per level, how far `is_base_level_for_key` has advanced (keys come in order).
    level_ptrs: [usize; NUM_LEVELS],
}

impl Compaction {
    fn new(level: usize, config: CompactionConfig, input_version: Arc<Version>) -> Compaction {
        Compaction {
            level,
            config,
            input_version,
            edit: VersionEdit::default(),
            inputs: Default::default(),
            grandparents: Vec::new(),
            grandparent_index: 0,
            seen_key: false,
            overlapped_bytes: 0,
            level_ptrs: [0; NUM_LEVELS],
        }
    }

    /// The level whose files are pushed down.
    pub fn level(&self) -> usize {
        self.level
    }

    /// Where the outputs go.
    pub fn output_level(&self) -> usize {
        self.level + 1
    }

    /// Input files: `which` 0 for `level`, 1 for `level + 1`.
    pub fn inputs(&self, which: usize) -> &[Arc<FileMetaData>] {
        self.inputs.get(which).map_or(&[], |v| v.as_slice())
    }

    /// Total size of every input file.
    pub fn input_bytes(&self) -> u64 {
        total_file_size(&self.inputs[0]) + total_file_size(&self.inputs[1])
    }

    pub fn input_version(&self) -> &Arc<Version> {
        &self.input_version
    }

    pub fn max_output_file_size(&self) -> u64 {
        self.config.max_file_size
    }

    /// The edit this compaction starts from (its compact pointer).
    pub fn edit(&self) -> &VersionEdit {
        &self.edit
    }

    /// One input file, nothing under it on the next level and little in the level after:
    /// moving the file down is as good as rewriting it, and free. With heavy grandparent
    /// overlap the move is refused, or it would make a later compaction too expensive.
    pub fn is_trivial_move(&self) -> bool {
        self.inputs[0].len() == 1
            && self.inputs[1].is_empty()
            && total_file_size(&self.grandparents) <= self.config.max_grandparent_overlap_bytes()
    }

    /// Adds the deletion of every input file to `edit`.
    pub fn add_input_deletions(&self, edit: &mut VersionEdit) {
        for (which, files) in self.inputs.iter().enumerate() {
            for f in files {
                edit.delete_file(self.level + which, f.number);
            }
        }
    }

    /// True when no level below the output holds `user_key`, so a tombstone for it has
    /// nothing left to hide. Calls must come in increasing key order.
    pub fn is_base_level_for_key(&mut self, user_key: &[u8]) -> bool {
        for level in self.level + 2..NUM_LEVELS {
            let files = &self.input_version.files[level];
            while let Some(f) = files.get(self.level_ptrs[level]) {
                if user_key <= f.largest.user_key() {
                    if user_key >= f.smallest.user_key() {
                        return false;
                    }
                    break;
                }
                self.level_ptrs[level] += 1;
            }
        }
        true
    }

    /// True when the current output file should end before `internal_key`, because it
    /// already overlaps too many bytes of the level below the output. Call once per key,
    /// in order.
    pub fn should_stop_before(&mut self, internal_key: &[u8]) -> bool {
        while let Some(g) = self.grandparents.get(self.grandparent_index) {
            if compare_internal_keys(internal_key, g.largest.encoded()) != Ordering::Greater {
                break;
            }
            if self.seen_key {
                self.overlapped_bytes += g.file_size;
            }
            self.grandparent_index += 1;
        }
        self.seen_key = true;
        if self.overlapped_bytes > self.config.max_grandparent_overlap_bytes() {
            self.overlapped_bytes = 0;
            return true;
        }
        false
    }

    /// Every input entry in internal-key order: one table iterator per level-0 file (they
    /// overlap), one level iterator for a deeper level. Blocks are checksummed, so a
    /// corrupt input fails the compaction rather than spreading.
    pub fn make_input_iterator(
        &self,
        table_cache: &Arc<TableCache>,
    ) -> Result<Box<dyn InternalIterator>> {
        let read = ReadOptions {
            verify_checksums: true,
            fill_cache: false,
            snapshot: None,
        };
        let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
        for (which, files) in self.inputs.iter().enumerate() {
            if files.is_empty() {
                continue;
            }
            if self.level + which == 0 {
                for f in files {
                    children.push(Box::new(table_cache.iter(&read, f.number, f.file_size)?));
                }
            } else {
                children.push(Box::new(LevelIterator::new(
                    Arc::clone(table_cache),
                    read,
                    files.clone(),
                )));
            }
        }
        Ok(Box::new(MergingIterator::new(children)))
    }
}

impl VersionSet {
    /// Is any level due for compaction?
    pub fn needs_compaction(&self) -> bool {
        self.current.compaction_score() >= 1.0 || self.current.file_to_compact().is_some()
    }

    /// The compaction the level scores ask for, or `None` when no level is due. Within
    /// the level it starts after the compact pointer, so that successive compactions walk
    /// the key space round-robin; on level 0 every file overlapping the first is taken.
    pub fn pick_compaction(&mut self) -> Option<Compaction> {
        let current = Arc::clone(&self.current);
        let (level, first) = if current.compaction_score() >= 1.0 {
            let level = current.compaction_level();
            let files = &current.files[level];
            let pointer = self.compact_pointers[level].as_ref();
            let first = files
                .iter()
                .find(|f| match pointer {
                    None => true,
                    Some(p) => {
                        compare_internal_keys(f.largest.encoded(), p.encoded()) == Ordering::Greater
                    }
                })
                .or_else(|| files.first())?;
            (level, Arc::clone(first))
        } else {
            // No level is over its size: compact the file reads keep checking in vain.
            let (level, f) = current.file_to_compact()?;
            (level, Arc::clone(f))
        };
        let mut c = Compaction::new(level, self.compaction_config, Arc::clone(&current));
        c.inputs[0].push(first);
        if level == 0 {
            let (smallest, largest) = key_range(&c.inputs[0])?;
            c.inputs[0] = current.get_overlapping_inputs(
                0,
                Some(smallest.user_key()),
                Some(largest.user_key()),
            );
        }
        self.setup_other_inputs(&mut c);
        Some(c)
    }

    /// A compaction of the files of `level` overlapping the user-key range [begin, end]
    /// (`None` = open end), or `None` when nothing there overlaps. Above level 0 it takes
    /// about one output file's worth of input, so a large range is done in several rounds.
    pub fn compact_range(
        &mut self,
        level: usize,
        begin: Option<&[u8]>,
        end: Option<&[u8]>,
    ) -> Option<Compaction> {
        if level + 1 >= NUM_LEVELS {
            return None;
        }
        let current = Arc::clone(&self.current);
        let mut inputs = current.get_overlapping_inputs(level, begin, end);
        if inputs.is_empty() {
            return None;
        }
        // Level-0 files overlap, so all of them must go together.
        if level > 0 {
            let limit = self.compaction_config.max_file_size;
            let mut total = 0;
            if let Some(cut) = inputs.iter().position(|f| {
                total += f.file_size;
                total >= limit
            }) {
                inputs.truncate(cut + 1);
            }
        }
        let mut c = Compaction::new(level, self.compaction_config, current);
        c.inputs[0] = inputs;
        self.setup_other_inputs(&mut c);
        Some(c)
    }

    /// Completes `c` from its level inputs: boundary files, the overlapping files of the
    /// next level, more level inputs when that adds no next-level file, the grandparents,
    /// and the compact pointer (advanced now, so the next pick moves on even before this
    /// compaction is installed).
    fn setup_other_inputs(&mut self, c: &mut Compaction) {
        let level = c.level;
        let current = Arc::clone(&c.input_version);
        add_boundary_inputs(&current.files[level], &mut c.inputs[0]);
        let Some((smallest, mut largest)) = key_range(&c.inputs[0]) else {
            return;
        };
        c.inputs[1] = current.get_overlapping_inputs(
            level + 1,
            Some(smallest.user_key()),
            Some(largest.user_key()),
        );
        add_boundary_inputs(&current.files[level + 1], &mut c.inputs[1]);
        let mut all = key_range2(&c.inputs[0], &c.inputs[1]);

        // Grow the upper-level inputs when that does not pull in more lower-level files.
        if let (false, Some((all_start, all_limit))) = (c.inputs[1].is_empty(), &all) {
            let mut expanded0 = current.get_overlapping_inputs(
                level,
                Some(all_start.user_key()),
                Some(all_limit.user_key()),
            );
            add_boundary_inputs(&current.files[level], &mut expanded0);
            let inputs1_size = total_file_size(&c.inputs[1]);
            let expanded0_size = total_file_size(&expanded0);
            if expanded0.len() > c.inputs[0].len()
                && inputs1_size + expanded0_size
                    < self.compaction_config.expanded_compaction_byte_size_limit()
            {
                if let Some((new_start, new_limit)) = key_range(&expanded0) {
                    let mut expanded1 = current.get_overlapping_inputs(
                        level + 1,
                        Some(new_start.user_key()),
                        Some(new_limit.user_key()),
                    );
                    add_boundary_inputs(&current.files[level + 1], &mut expanded1);
                    if expanded1.len() == c.inputs[1].len() {
                        largest = new_limit;
                        c.inputs[0] = expanded0;
                        c.inputs[1] = expanded1;
                        all = key_range2(&c.inputs[0], &c.inputs[1]);
                    }
                }
            }
        }

        if let (true, Some((all_start, all_limit))) = (level + 2 < NUM_LEVELS, &all) {
            c.grandparents = current.get_overlapping_inputs(
                level + 2,
                Some(all_start.user_key()),
                Some(all_limit.user_key()),
            );
        }
        self.compact_pointers[level] = Some(largest.clone());
        c.edit.compact_pointers.push((level, largest));
    }

    /// "files[ 3 1 5 0 0 0 0 ]": the file count of every level, for the info log.
    pub fn level_summary(&self) -> String {
        let counts: Vec<String> = self
            .current
            .files
            .iter()
            .map(|f| f.len().to_string())
            .collect();
        format!("files[ {} ]", counts.join(" "))
    }
}

/// The smallest and largest internal keys of `files`; `None` when empty.
fn key_range(files: &[Arc<FileMetaData>]) -> Option<(InternalKey, InternalKey)> {
    let smallest = files.iter().map(|f| &f.smallest).min()?;
    let largest = files.iter().map(|f| &f.largest).max()?;
    Some((smallest.clone(), largest.clone()))
}

fn key_range2(
    a: &[Arc<FileMetaData>],
    b: &[Arc<FileMetaData>],
) -> Option<(InternalKey, InternalKey)> {
    let all: Vec<Arc<FileMetaData>> = a.iter().chain(b).cloned().collect();
    key_range(&all)
}

/// Adds to `inputs` every file of `level_files` that continues the user key its largest
/// key ends on. Compaction outputs may split one user key's versions across neighbouring
/// files; taking the upper part down without the lower would let an older version in
/// the file left behind shadow the newer one moved below it.
fn add_boundary_inputs(level_files: &[Arc<FileMetaData>], inputs: &mut Vec<Arc<FileMetaData>>) {
    let Some(mut largest) = inputs.iter().map(|f| &f.largest).max().cloned() else {
        return;
    };
    loop {
        let boundary = level_files
            .iter()
            .filter(|f| {
                f.smallest.user_key() == largest.user_key()
                    && compare_internal_keys(f.smallest.encoded(), largest.encoded())
                        == Ordering::Greater
            })
            .min_by(|a, b| compare_internal_keys(a.smallest.encoded(), b.smallest.encoded()));
        let Some(f) = boundary else { return };
        largest = f.largest.clone();
        inputs.push(Arc::clone(f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filename::FileNumber;
    use crate::key::{SequenceNumber, ValueType};
    use crate::version::testing::{file, new_db};

    const MB: u64 = 1 << 20;

    fn config() -> CompactionConfig {
        CompactionConfig {
            level0_file_num_compaction_trigger: 4,
            level0_slowdown_writes_trigger: 8,
            max_file_size: 2 * MB,
        }
    }

    /// A recovered version set whose current version holds `files`.
    fn version_set(files: &[(usize, FileMetaData)]) -> (tempfile::TempDir, VersionSet) {
        let (dir, fs) = new_db();
        let mut vs = VersionSet::new(dir.path(), fs).with_compaction_config(config());
        vs.recover().expect("recover");
        let mut edit = VersionEdit::default();
        for (level, f) in files {
            vs.mark_file_number_used(f.number);
            edit.add_file(*level, f.clone());
        }
        vs.log_and_apply(&mut edit).expect("log_and_apply");
        (dir, vs)
    }

    fn numbers(files: &[Arc<FileMetaData>]) -> Vec<u64> {
        let mut n: Vec<u64> = files.iter().map(|f| f.number.0).collect();
        n.sort();
        n
    }

    fn ikey(user_key: &str, seq: u64) -> InternalKey {
        InternalKey::new(user_key.as_bytes(), SequenceNumber(seq), ValueType::Value)
    }

    #[test]
    fn level_zero_is_due_at_the_file_count_trigger() {
        let three: Vec<_> = (1..=3).map(|n| (0, file(n, "a", "z", 100))).collect();
        let (_dir, mut vs) = version_set(&three);
        assert!(!vs.needs_compaction());
        assert!(vs.pick_compaction().is_none());
        assert!((vs.current().compaction_score() - 0.75).abs() < 1e-9);

        let four: Vec<_> = (1..=4).map(|n| (0, file(n, "a", "z", 100))).collect();
        let (_dir, vs) = version_set(&four);
        assert!(vs.needs_compaction());
        assert_eq!(vs.current().compaction_level(), 0);
    }

    #[test]
    fn a_file_that_used_up_its_seeks_is_compacted_when_no_level_is_due_by_size() {
        let (_dir, mut vs) = version_set(&[
            (1, file(10, "c", "m", 100)),
            (2, file(20, "a", "f", 100)),
            (2, file(21, "g", "z", 100)),
        ]);
        assert!(!vs.needs_compaction());
        let current = vs.current();
        for _ in 0..100 {
            current.get(b"h", |_| Ok(None)).expect("get");
        }
        assert!(vs.needs_compaction());
        let c = vs.pick_compaction().expect("seek compaction");
        assert_eq!(c.level(), 1);
        assert_eq!(numbers(c.inputs(0)), vec![10]);
        assert_eq!(numbers(c.inputs(1)), vec![20, 21]);
    }

    #[test]
    fn level_zero_goes_first_when_two_files_short_of_slowing_writes() {
        let config = config();
        let near = config.level0_slowdown_writes_trigger - 2;
        let mut files: Vec<_> = (0..near as u64)
            .map(|n| (0, file(n + 1, "a", "z", 100)))
            .collect();
        // Level 1 ten times over its budget scores far higher than level 0...
        files.push((1, file(100, "a", "z", 100 * MB)));
        let (_dir, vs) = version_set(&files);
        assert_eq!(vs.current().compaction_level(), 0, "{near} level-0 files");
        // ...and wins with one level-0 file fewer.
        files.remove(0);
        let (_dir, vs) = version_set(&files);
        assert_eq!(vs.current().compaction_level(), 1);
    }

    #[test]
    fn deeper_levels_are_due_by_bytes_ten_times_more_per_level() {
        assert_eq!(max_bytes_for_level(1), 10.0 * MB as f64);
        assert_eq!(max_bytes_for_level(2), 100.0 * MB as f64);
        assert_eq!(max_bytes_for_level(3), 1000.0 * MB as f64);
        let (_dir, vs) = version_set(&[
            (1, file(1, "a", "c", 6 * MB)),
            (1, file(2, "d", "f", 5 * MB)),
            (2, file(3, "a", "z", 50 * MB)),
        ]);
        assert!(vs.needs_compaction());
        assert_eq!(vs.current().compaction_level(), 1);
        // The last level never counts, however large.
        let (_dir, vs) = version_set(&[(6, file(1, "a", "z", 100_000 * MB))]);
        assert!(!vs.needs_compaction());
    }

    #[test]
    fn level_zero_pick_takes_every_overlapping_file_and_the_level_one_files_under_them() {
        let (_dir, mut vs) = version_set(&[
            (0, file(10, "c", "e", 100)),
            (0, file(11, "d", "g", 100)),
            (0, file(12, "a", "b", 100)),
            (0, file(13, "f", "h", 100)),
            (1, file(20, "a", "a", 100)),
            (1, file(21, "e", "f", 100)),
            (1, file(22, "x", "z", 100)),
            (2, file(30, "b", "k", 100)),
        ]);
        let c = vs.pick_compaction().expect("level 0 is due");
        assert_eq!(c.level(), 0);
        assert_eq!(numbers(c.inputs(0)), vec![10, 11, 13]);
        assert_eq!(numbers(c.inputs(1)), vec![21]);
        assert!(!c.is_trivial_move());
        // The compact pointer is the largest input key, recorded in the edit too.
        let pointer = vs.compact_pointer(0).cloned().expect("pointer");
        assert_eq!(pointer.user_key(), b"h");
        assert_eq!(c.edit().compact_pointers, vec![(0, pointer)]);
    }

    #[test]
    fn successive_picks_walk_the_level_round_robin() {
        let files: Vec<_> = (0..4u64)
            .map(|i| {
                let k = ["b", "d", "f", "h"][i as usize];
                (1, file(10 + i, k, k, 4 * MB))
            })
            .collect();
        let (_dir, mut vs) = version_set(&files);
        let mut picked = Vec::new();
        for _ in 0..5 {
            let c = vs.pick_compaction().expect("level 1 is due");
            assert_eq!(c.level(), 1);
            assert!(c.is_trivial_move());
            picked.push(c.inputs(0)[0].number.0);
        }
        assert_eq!(picked, vec![10, 11, 12, 13, 10]);
    }

    #[test]
    fn inputs_expand_when_that_adds_no_lower_level_file() {
        // Level-1 file 11 lies under the range of files 10+21 without widening level 2.
        let (_dir, mut vs) = version_set(&[
            (1, file(10, "a", "c", MB)),
            (1, file(11, "e", "f", MB)),
            (1, file(12, "x", "y", MB)),
            (2, file(21, "b", "g", MB)),
            (2, file(22, "m", "n", MB)),
        ]);
        let c = vs
            .compact_range(1, Some(b"a"), Some(b"a"))
            .expect("overlap");
        assert_eq!(numbers(c.inputs(0)), vec![10, 11]);
        assert_eq!(numbers(c.inputs(1)), vec![21]);
        assert_eq!(
            vs.compact_pointer(1).map(|k| k.user_key().to_vec()),
            Some(b"f".to_vec())
        );

        // Here expanding would pull in level-2 file 23 too, so it is not done.
        let (_dir, mut vs) = version_set(&[
            (1, file(10, "a", "c", MB)),
            (1, file(11, "e", "h", MB)),
            (2, file(21, "b", "f", MB)),
            (2, file(23, "g", "k", MB)),
        ]);
        let c = vs
            .compact_range(1, Some(b"a"), Some(b"a"))
            .expect("overlap");
        assert_eq!(numbers(c.inputs(0)), vec![10]);
        assert_eq!(numbers(c.inputs(1)), vec![21]);
    }

    #[test]
    fn a_user_key_split_across_files_is_taken_whole() {
        let mut upper = file(10, "a", "k", MB);
        upper.largest = ikey("k", 50);
        let mut lower = file(11, "k", "p", MB);
        lower.smallest = ikey("k", 40);
        let (_dir, mut vs) = version_set(&[(1, upper), (1, lower), (1, file(12, "x", "z", MB))]);
        let c = vs
            .compact_range(1, Some(b"a"), Some(b"b"))
            .expect("overlap");
        assert_eq!(numbers(c.inputs(0)), vec![10, 11]);
    }

    #[test]
    fn manual_range_above_level_zero_takes_about_one_output_file_per_round() {
        let files: Vec<_> = (0..6u64)
            .map(|i| {
                let k = format!("k{i}");
                (1, file(10 + i, &k, &k, MB))
            })
            .collect();
        let (_dir, mut vs) = version_set(&files);
        let c = vs.compact_range(1, None, None).expect("overlap");
        assert_eq!(numbers(c.inputs(0)), vec![10, 11]);
        assert!(vs.compact_range(1, Some(b"m"), None).is_none());
        assert!(vs.compact_range(2, None, None).is_none());
        assert!(vs.compact_range(NUM_LEVELS - 1, None, None).is_none());
        let c = vs.compact_range(1, Some(b"k5"), None).expect("last file");
        assert_eq!(numbers(c.inputs(0)), vec![15]);
    }

    #[test]
    fn trivial_move_is_refused_over_heavy_grandparent_overlap() {
        // Nothing under the level-1 file on level 2, but 22 MiB under it on level 3.
        let (_dir, mut vs) = version_set(&[
            (1, file(10, "a", "z", MB)),
            (3, file(30, "a", "m", 11 * MB)),
            (3, file(31, "n", "z", 11 * MB)),
        ]);
        let mut c = vs.compact_range(1, None, None).expect("overlap");
        assert!(c.inputs(1).is_empty());
        assert!(!c.is_trivial_move());
        // Output files are cut once they overlap more than 10 × max_file_size below.
        assert!(!c.should_stop_before(ikey("a", 1).encoded()));
        assert!(!c.should_stop_before(ikey("n", 1).encoded()));
        assert!(c.should_stop_before(ikey("zz", 1).encoded()));

        let (_dir, mut vs) = version_set(&[
            (1, file(10, "a", "z", MB)),
            (3, file(30, "a", "m", 11 * MB)),
        ]);
        let c = vs.compact_range(1, None, None).expect("overlap");
        assert!(c.is_trivial_move());
    }

    #[test]
    fn base_level_for_key_looks_below_the_output_level() {
        let (_dir, mut vs) = version_set(&[
            (1, file(10, "a", "z", MB)),
            (2, file(20, "a", "z", MB)),
            (3, file(30, "c", "d", MB)),
            (5, file(50, "m", "n", MB)),
        ]);
        let mut c = vs.compact_range(1, None, None).expect("overlap");
        assert!(c.is_base_level_for_key(b"a"));
        assert!(!c.is_base_level_for_key(b"c"));
        assert!(c.is_base_level_for_key(b"e"));
        assert!(!c.is_base_level_for_key(b"m"));
        assert!(c.is_base_level_for_key(b"o"));
        let mut deletions = VersionEdit::default();
        c.add_input_deletions(&mut deletions);
        assert_eq!(
            deletions.deleted_files.iter().copied().collect::<Vec<_>>(),
            vec![(1, FileNumber(10)), (2, FileNumber(20))]
        );
    }

    #[test]
    fn level_summary_counts_files_per_level() {
        let (_dir, vs) = version_set(&[(0, file(1, "a", "b", 1)), (2, file(2, "a", "b", 1))]);
        assert_eq!(vs.level_summary(), "files[ 1 0 1 0 0 0 0 ]");
    }
}
