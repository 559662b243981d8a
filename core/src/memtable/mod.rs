//! The in-memory write buffer: a skiplist of entries in internal-key order, laid out in an
//! arena of 64-bit words (`arena.rs`, `skiplist.rs`), that counts the memory it holds so
//! the write path knows when to seal it and flush. Also the flush's fast walk over it.

use std::sync::Arc;

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{
    extract_user_key, pack_sequence_and_type, LookupResult, SequenceNumber, ValueType,
    VALUE_TYPE_FOR_SEEK,
};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Mutex;

mod arena;
mod skiplist;

use arena::{Addr, NULL};
use skiplist::{SearchKey, SkipList};

/// Runs a flush walks side by side (see [`MemTable::for_each_entry`]); more gained
/// nothing measurable.
const WALK_CHAINS: usize = 8;

/// Entries whose bytes are loaded together before they are handed out.
const TOUCH_BATCH: usize = 32;

/// One user key in this many is sampled at insertion.
const SAMPLE_EVERY: usize = 128;

/// A sample's cost beside its key bytes: its boxed slice in the vector, and the heap
/// block's header and rounding.
const SAMPLE_OVERHEAD: usize = 16 + 16;

/// Samples a run needs before the walk is cut into runs at all.
const MIN_SAMPLES_PER_RUN: usize = 4;

/// A memtable. Thread-safety: `Send + Sync`; any number of threads may read while one
/// adds (adds from several threads take turns on the list's writer lock; the DB only
/// ever has one adding thread, the write-queue leader). Entries are never removed; the
/// memtable is dropped whole once flushed, which frees a handful of arena segments, not
/// an allocation per entry. Shared as `Arc<MemTable>` so iterators can outlive a borrow.
pub struct MemTable {
    list: SkipList,
    /// User keys sampled at insertion (one in [`SAMPLE_EVERY`]): a uniform sample of the
    /// entries, from which a walk or a flush picks keys that cut the list into ranges of
    /// similar size.
    samples: Mutex<Vec<Box<[u8]>>>,
    /// What the samples cost, readable without their lock: the write path asks for the
    /// memory usage on every write.
    sample_bytes: AtomicUsize,
}

impl Default for MemTable {
    fn default() -> Self {
        MemTable::new()
    }
}

impl std::fmt::Debug for MemTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemTable")
            .field("entries", &self.len())
            .field("memory_usage", &self.approximate_memory_usage())
            .finish()
    }
}

impl MemTable {
    pub fn new() -> MemTable {
        MemTable {
            list: SkipList::new(),
            samples: Mutex::new(Vec::new()),
            sample_bytes: AtomicUsize::new(0),
        }
    }

    /// Records `user_key` at `seq`. For a deletion `value` is ignored and an empty value is
    /// stored. Sequences are unique per write, so an `(user_key, seq, t)` is added only once.
    /// Keys and values are shorter than 4 GiB, as a batch's varint32 lengths make them.
    pub fn add(&self, seq: SequenceNumber, t: ValueType, user_key: &[u8], value: &[u8]) {
        let value = match t {
            ValueType::Value => value,
            ValueType::Deletion => &[],
        };
        self.list
            .insert(user_key, pack_sequence_and_type(seq, t), value);
        if self.list.len() % SAMPLE_EVERY == 0 {
            self.samples.lock().push(user_key.into());
            self.sample_bytes
                .fetch_add(user_key.len() + SAMPLE_OVERHEAD, Ordering::Relaxed);
        }
    }

    /// Newest entry for `user_key` with sequence <= `seq`, as LevelDB's `LookupKey`: seek to
    /// `(user_key, seq, VALUE_TYPE_FOR_SEEK)`, which sorts before every older version of the
    /// key, and look at what is there. `None` means this memtable knows nothing of the key.
    pub fn get(&self, user_key: &[u8], seq: SequenceNumber) -> Option<LookupResult> {
        let key = SearchKey::new(user_key, pack_sequence_and_type(seq, VALUE_TYPE_FOR_SEEK));
        let node = self.list.find_greater_or_equal(&key, None);
        if node == NULL || !self.list.has_user_key(node, &key) {
            return None;
        }
        Some(match ValueType::from_byte(self.list.tag(node) as u8)? {
            ValueType::Value => {
                let mut value = Vec::new();
                self.list.value_into(node, &mut value);
                LookupResult::Found(value)
            }
            ValueType::Deletion => LookupResult::Deleted,
        })
    }

    /// Bytes held: the arena words handed out (nodes, keys, values, and the tails of
    /// segments left behind) and the sampled keys — as LevelDB counts its arena.
    pub fn approximate_memory_usage(&self) -> usize {
        self.list.memory_usage() + self.sample_bytes.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every `(internal key, value)` in internal-key order, walking the
    /// skiplist's own links: O(1) per entry, unlike the seekable [`MemTableIterator`].
    /// This is the flush's read path. Stops at the first error `f` returns.
    pub fn for_each_entry<E>(&self, f: impl FnMut(&[u8], &[u8]) -> Result<(), E>) -> Result<(), E> {
        self.for_each_entry_in(None, None, f)
    }

    /// [`Self::for_each_entry`] for the entries whose user key is at least `start` and
    /// below `end` (`None`: unbounded), so that several threads can each take a range.
    ///
    /// A walk is a chain of dependent cache misses (each node says where the next one
    /// is), so a big range is walked as up to [`WALK_CHAINS`] runs at once, cut at
    /// sampled keys: their misses overlap. The entries' bytes are then touched a batch at
    /// a time before `f` sees them, for the same reason.
    pub fn for_each_entry_in<E>(
        &self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let (mut key, mut value) = (Vec::new(), Vec::new());
        for run in self.collect_runs(start, end) {
            for batch in run.chunks(TOUCH_BATCH) {
                let touched = batch.iter().fold(0, |x, &n| x ^ self.list.touch(n));
                std::hint::black_box(touched);
                for &node in batch {
                    key.clear();
                    value.clear();
                    self.list.internal_key_into(node, &mut key);
                    self.list.value_into(node, &mut value);
                    f(&key, &value)?;
                }
            }
        }
        Ok(())
    }

    /// Up to `parts - 1` user keys, increasing, that cut the entries into key ranges of
    /// about equal size (sampled keys at even quantiles); none when the memtable is too
    /// small for the sample to say much. No user key's versions are split by them.
    pub fn split_keys(&self, parts: usize) -> Vec<Vec<u8>> {
        self.cut_keys(parts, None, None)
            .into_iter()
            .map(Vec::from)
            .collect()
    }

    /// The nodes in `[start, end)`, as consecutive runs in internal-key order, walked
    /// side by side.
    fn collect_runs(&self, start: Option<&[u8]>, end: Option<&[u8]>) -> Vec<Vec<Addr>> {
        // Run i covers [fences[i], fences[i + 1]); a missing fence is unbounded. A fence
        // sorts before every entry of its user key.
        let cuts = self.cut_keys(WALK_CHAINS, start, end);
        let mut fences: Vec<Option<SearchKey<'_>>> = vec![start.map(SearchKey::fence)];
        fences.extend(cuts.iter().map(|key| Some(SearchKey::fence(key))));
        fences.push(end.map(SearchKey::fence));
        // Run i starts at the first node at or after fence i and stops at the node run
        // i + 1 starts at: a comparison of addresses, not of keys, per step.
        let starts: Vec<Addr> = fences
            .iter()
            .enumerate()
            .map(|(i, f)| match f {
                None if i == 0 => self.list.first(),
                None => NULL,
                Some(f) => self.list.find_greater_or_equal(f, None),
            })
            .collect();
        let mut cursors = starts[..starts.len() - 1].to_vec();
        // Grown as walked: a range of a big memtable may be a small part of it.
        let mut runs: Vec<Vec<Addr>> = cursors.iter().map(|_| Vec::new()).collect();
        loop {
            let mut moved = false;
            for (i, (cursor, run)) in cursors.iter_mut().zip(&mut runs).enumerate() {
                let node = *cursor;
                if node == NULL || node == starts[i + 1] {
                    continue;
                }
                run.push(node);
                *cursor = self.list.next(node, 0);
                moved = true;
            }
            if !moved {
                return runs;
            }
        }
    }

    /// Up to `runs - 1` sampled user keys, increasing and strictly inside `(start, end)`,
    /// that cut the entries there into runs of about equal length; none when too few
    /// samples fall in the range.
    fn cut_keys(&self, runs: usize, start: Option<&[u8]>, end: Option<&[u8]>) -> Vec<Box<[u8]>> {
        let sampled = self.samples.lock();
        let mut samples: Vec<&[u8]> = sampled
            .iter()
            .map(|s| &s[..])
            .filter(|s| start.map_or(true, |start| *s > start))
            .filter(|s| end.map_or(true, |end| *s < end))
            .collect();
        if samples.len() < runs * MIN_SAMPLES_PER_RUN {
            return Vec::new();
        }
        samples.sort_unstable();
        let mut keys: Vec<&[u8]> = (1..runs)
            .filter_map(|i| samples.get(samples.len() * i / runs).copied())
            .collect();
        keys.dedup();
        keys.into_iter().map(Box::from).collect()
    }

    /// An iterator over `(internal key, value)` in internal-key order. It holds its own
    /// `Arc`, so it stays valid after the memtable is sealed or replaced; entries added
    /// after it was created may or may not be seen.
    pub fn iter(self: &Arc<Self>) -> MemTableIterator {
        MemTableIterator {
            mem: Arc::clone(self),
            node: NULL,
            key: Vec::new(),
            value: Vec::new(),
        }
    }
}

/// A cursor over a memtable: the current node, whose key and value it copies out (the
/// arena's words are not bytes to lend). Forward steps follow the node's link; backward
/// steps search for the last node before the current key, as LevelDB's do.
pub struct MemTableIterator {
    mem: Arc<MemTable>,
    node: Addr,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl MemTableIterator {
    /// Moves to `node` ([`NULL`]: invalid) and copies its key and value out.
    fn land(&mut self, node: Addr) {
        self.node = node;
        self.key.clear();
        self.value.clear();
        if node != NULL {
            self.mem.list.internal_key_into(node, &mut self.key);
            self.mem.list.value_into(node, &mut self.value);
        }
    }
}

/// A search key for an encoded internal key, split as `compare_internal_keys` splits it
/// (a key shorter than 8 bytes is all user key with tag 0).
fn search_key_for_internal(internal_key: &[u8]) -> SearchKey<'_> {
    let user_key = extract_user_key(internal_key);
    let tag = internal_key
        .get(user_key.len()..)
        .and_then(crate::coding::decode_fixed64)
        .unwrap_or(0);
    SearchKey::new(user_key, tag)
}

impl InternalIterator for MemTableIterator {
    fn valid(&self) -> bool {
        self.node != NULL
    }

    fn seek_to_first(&mut self) {
        self.land(self.mem.list.first());
    }

    fn seek_to_last(&mut self) {
        self.land(self.mem.list.last());
    }

    fn seek(&mut self, target: &[u8]) {
        let node = self
            .mem
            .list
            .find_greater_or_equal(&search_key_for_internal(target), None);
        self.land(node);
    }

    fn next(&mut self) {
        if self.node != NULL {
            self.land(self.mem.list.next(self.node, 0));
        }
    }

    fn prev(&mut self) {
        if self.node != NULL {
            let node = self
                .mem
                .list
                .find_less_than(&search_key_for_internal(&self.key));
            self.land(node);
        }
    }

    fn key(&self) -> &[u8] {
        debug_assert!(self.valid(), "key() on an invalid memtable iterator");
        &self.key
    }

    fn value(&self) -> &[u8] {
        debug_assert!(self.valid(), "value() on an invalid memtable iterator");
        &self.value
    }

    fn status(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{extract_user_key, make_internal_key, parse_internal_key};

    fn found(v: &[u8]) -> Option<LookupResult> {
        Some(LookupResult::Found(v.to_vec()))
    }

    #[test]
    fn get_sees_newest_version_at_or_below_read_sequence() {
        let mem = MemTable::new();
        mem.add(SequenceNumber(1), ValueType::Value, b"k", b"v1");
        mem.add(SequenceNumber(3), ValueType::Value, b"k", b"v3");
        mem.add(SequenceNumber(5), ValueType::Deletion, b"k", b"");
        mem.add(SequenceNumber(7), ValueType::Value, b"k", b"v7");
        mem.add(SequenceNumber(2), ValueType::Value, b"other", b"o2");

        assert_eq!(mem.get(b"k", SequenceNumber(0)), None);
        assert_eq!(mem.get(b"k", SequenceNumber(1)), found(b"v1"));
        assert_eq!(mem.get(b"k", SequenceNumber(2)), found(b"v1"));
        assert_eq!(mem.get(b"k", SequenceNumber(4)), found(b"v3"));
        assert_eq!(
            mem.get(b"k", SequenceNumber(5)),
            Some(LookupResult::Deleted)
        );
        assert_eq!(
            mem.get(b"k", SequenceNumber(6)),
            Some(LookupResult::Deleted)
        );
        assert_eq!(mem.get(b"k", SequenceNumber::MAX), found(b"v7"));
        assert_eq!(mem.get(b"other", SequenceNumber(1)), None);
        assert_eq!(mem.get(b"other", SequenceNumber(2)), found(b"o2"));
        // Neighbours and prefixes of a key are different keys.
        assert_eq!(mem.get(b"", SequenceNumber::MAX), None);
        assert_eq!(mem.get(b"kk", SequenceNumber::MAX), None);
        assert_eq!(mem.get(b"j", SequenceNumber::MAX), None);
        assert_eq!(mem.get(b"zzz", SequenceNumber::MAX), None);
    }

    #[test]
    fn snapshot_reads_stay_stable_while_newer_writes_arrive() {
        let mem = MemTable::new();
        for i in 0..100u64 {
            let key = format!("key{:02}", i % 10);
            mem.add(
                SequenceNumber(i + 1),
                ValueType::Value,
                key.as_bytes(),
                format!("v{i}").as_bytes(),
            );
        }
        // At sequence 35, key3 was last written by write 33 (i = 33).
        let snapshot = SequenceNumber(35);
        assert_eq!(mem.get(b"key03", snapshot), found(b"v33"));
        mem.add(
            SequenceNumber(101),
            ValueType::Deletion,
            b"key03",
            b"ignored",
        );
        assert_eq!(mem.get(b"key03", snapshot), found(b"v33"));
        assert_eq!(
            mem.get(b"key03", SequenceNumber(101)),
            Some(LookupResult::Deleted)
        );
        assert_eq!(mem.get(b"key03", SequenceNumber(100)), found(b"v93"));
    }

    #[test]
    fn deletion_stores_an_empty_value() {
        let mem = Arc::new(MemTable::new());
        mem.add(
            SequenceNumber(4),
            ValueType::Deletion,
            b"gone",
            b"not stored",
        );
        let mut it = mem.iter();
        it.seek_to_first();
        assert!(it.valid());
        assert_eq!(
            it.key(),
            make_internal_key(b"gone", SequenceNumber(4), ValueType::Deletion)
        );
        assert_eq!(it.value(), b"");
    }

    fn sample(n: u64) -> (Arc<MemTable>, Vec<Vec<u8>>) {
        let mem = Arc::new(MemTable::new());
        let mut expected = Vec::new();
        // Insert in a scrambled order; two versions per user key.
        for i in (0..n).map(|i| (i * 7919) % n) {
            let user_key = format!("user{i:05}");
            mem.add(
                SequenceNumber(i + 1),
                ValueType::Value,
                user_key.as_bytes(),
                b"old",
            );
            mem.add(
                SequenceNumber(i + n + 1),
                ValueType::Deletion,
                user_key.as_bytes(),
                b"",
            );
            expected.push(make_internal_key(
                user_key.as_bytes(),
                SequenceNumber(i + 1),
                ValueType::Value,
            ));
            expected.push(make_internal_key(
                user_key.as_bytes(),
                SequenceNumber(i + n + 1),
                ValueType::Deletion,
            ));
        }
        expected.sort_by(|a, b| crate::key::compare_internal_keys(a, b));
        (mem, expected)
    }

    #[test]
    fn iterator_walks_forward_and_backward_in_internal_key_order() {
        let (mem, expected) = sample(1000);
        let mut it = mem.iter();
        assert!(!it.valid());
        it.seek_to_first();
        let mut forward = Vec::new();
        while it.valid() {
            forward.push(it.key().to_vec());
            it.next();
        }
        assert_eq!(forward, expected);

        it.seek_to_last();
        let mut backward = Vec::new();
        while it.valid() {
            backward.push(it.key().to_vec());
            it.prev();
        }
        backward.reverse();
        assert_eq!(backward, expected);

        // Newest version of each user key comes first, and values follow their keys.
        it.seek_to_first();
        let p = parse_internal_key(it.key()).expect("valid key");
        assert_eq!(p.user_key, b"user00000");
        assert_eq!(p.value_type, ValueType::Deletion);
        it.next();
        assert_eq!(it.value(), b"old");
    }

    #[test]
    fn seek_lands_on_first_entry_at_or_after_target() {
        let (mem, expected) = sample(500);
        let mut it = mem.iter();
        for (i, want) in expected.iter().enumerate().step_by(37) {
            it.seek(want);
            assert!(it.valid());
            assert_eq!(it.key(), &want[..]);
            // Stepping both ways from a seek stays in order.
            it.next();
            match expected.get(i + 1) {
                Some(next) => assert_eq!(it.key(), &next[..]),
                None => assert!(!it.valid()),
            }
            it.seek(want);
            it.prev();
            match i.checked_sub(1) {
                Some(p) => assert_eq!(it.key(), &expected[p][..]),
                None => assert!(!it.valid()),
            }
        }
        // A lookup key for a sequence between versions lands on the older version.
        it.seek(&make_internal_key(
            b"user00010",
            SequenceNumber(300),
            ValueType::Value,
        ));
        let p = parse_internal_key(it.key()).expect("valid key");
        assert_eq!(
            (p.user_key, p.sequence),
            (&b"user00010"[..], SequenceNumber(11))
        );
        // Between user keys and past the end.
        it.seek(&make_internal_key(
            b"user00010a",
            SequenceNumber::MAX,
            ValueType::Value,
        ));
        assert_eq!(
            parse_internal_key(it.key()).expect("key").user_key,
            b"user00011"
        );
        it.seek(&make_internal_key(
            b"zzz",
            SequenceNumber::MAX,
            ValueType::Value,
        ));
        assert!(!it.valid());
        it.seek(b"");
        assert_eq!(it.key(), &expected[0][..]);
    }

    #[test]
    fn iterator_outlives_the_callers_handle() {
        let mem = Arc::new(MemTable::new());
        mem.add(SequenceNumber(1), ValueType::Value, b"a", b"1");
        let mut it = mem.iter();
        drop(mem);
        it.seek_to_first();
        assert_eq!(it.value(), b"1");
        it.next();
        assert!(!it.valid());
    }

    #[test]
    fn readers_racing_the_writer_see_whole_entries_in_order() {
        // Values are derived from their keys, so a reader that saw a node before its
        // words were all stored would find a mismatch.
        fn value_of(key: &[u8]) -> Vec<u8> {
            key.iter()
                .rev()
                .cycle()
                .take(40 + key.len() * 3)
                .copied()
                .collect()
        }
        let mem = Arc::new(MemTable::new());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|r| {
                let (mem, done) = (Arc::clone(&mem), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut checked = 0u64;
                    while !done.load(Ordering::Acquire) {
                        let mut it = mem.iter();
                        it.seek_to_first();
                        let mut last: Option<Vec<u8>> = None;
                        while it.valid() {
                            let user = extract_user_key(it.key());
                            assert_eq!(it.value(), &value_of(user)[..], "reader {r}");
                            if let Some(prev) = &last {
                                assert!(crate::key::compare_internal_keys(prev, it.key()).is_lt());
                            }
                            last = Some(it.key().to_vec());
                            checked += 1;
                            it.next();
                        }
                        let probe = format!("key{:07}", checked % 20_000);
                        if let Some(LookupResult::Found(v)) =
                            mem.get(probe.as_bytes(), SequenceNumber::MAX)
                        {
                            assert_eq!(v, value_of(probe.as_bytes()));
                        }
                    }
                    checked
                })
            })
            .collect();
        for i in (0..20_000u64).map(|i| (i * 7919) % 20_000) {
            let key = format!("key{i:07}");
            mem.add(
                SequenceNumber(i + 1),
                ValueType::Value,
                key.as_bytes(),
                &value_of(key.as_bytes()),
            );
        }
        done.store(true, Ordering::Release);
        for reader in readers {
            let checked = reader.join().expect("reader panicked");
            assert!(checked > 0);
        }
        assert_eq!(mem.len(), 20_000);
    }

    /// Sorts `keys` (internal keys) and checks that a forward walk yields exactly them.
    fn assert_walks_in_order(mem: &Arc<MemTable>, keys: &mut [Vec<u8>]) {
        keys.sort_by(|a, b| crate::key::compare_internal_keys(a, b));
        let mut it = mem.iter();
        it.seek_to_first();
        for k in keys.iter() {
            assert!(it.valid());
            assert_eq!(it.key(), &k[..]);
            it.next();
        }
        assert!(!it.valid());
    }

    #[test]
    fn keys_appended_in_order_and_keys_between_them_keep_the_order() {
        // Ascending runs take the append path; the keys in between take the search, and
        // later appends must link after every level's true last node.
        let mem = Arc::new(MemTable::new());
        let mut want = Vec::new();
        let mut seq = 0;
        let mut add = |k: String| {
            seq += 1;
            mem.add(
                SequenceNumber(seq),
                ValueType::Value,
                k.as_bytes(),
                k.as_bytes(),
            );
            want.push(make_internal_key(
                k.as_bytes(),
                SequenceNumber(seq),
                ValueType::Value,
            ));
        };
        for i in 0..3000 {
            add(format!("a{i:05}0"));
        }
        for i in (0..3000).rev().step_by(7) {
            add(format!("a{i:05}5"));
        }
        for i in 0..3000 {
            add(format!("b{i:05}"));
        }
        // The same key again (newer, so it sorts first) and a key below everything.
        add("b02999".to_string());
        add(String::new());
        assert_walks_in_order(&mem, &mut want);
        let mut it = mem.iter();
        it.seek_to_last();
        assert_eq!(it.key(), &want[want.len() - 1][..]);
    }

    #[test]
    fn values_bigger_than_a_segment_are_stored_whole() {
        let mem = MemTable::new();
        let sizes = [5_000_000usize, 1, 300_000, 0, 2_100_000, 17];
        for (i, &size) in sizes.iter().enumerate() {
            let value: Vec<u8> = (0..size).map(|b| (b % 251) as u8 ^ i as u8).collect();
            mem.add(
                SequenceNumber(i as u64 + 1),
                ValueType::Value,
                &[i as u8],
                &value,
            );
        }
        for (i, &size) in sizes.iter().enumerate() {
            let want: Vec<u8> = (0..size).map(|b| (b % 251) as u8 ^ i as u8).collect();
            assert_eq!(mem.get(&[i as u8], SequenceNumber::MAX), found(&want));
        }
        let total: usize = sizes.iter().sum();
        let usage = mem.approximate_memory_usage();
        assert!(
            usage >= total && usage < total + total / 4,
            "{usage} for {total}"
        );
    }

    #[test]
    fn concurrent_adds_from_four_threads_are_all_readable() {
        let mem = Arc::new(MemTable::new());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let mem = Arc::clone(&mem);
                std::thread::spawn(move || {
                    for i in 0..2000u64 {
                        let key = format!("t{t}-{i:05}");
                        let seq = SequenceNumber(t * 10_000 + i + 1);
                        mem.add(seq, ValueType::Value, key.as_bytes(), key.as_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer thread panicked");
        }
        assert_eq!(mem.len(), 8000);
        for t in 0..4u64 {
            for i in 0..2000u64 {
                let key = format!("t{t}-{i:05}");
                assert_eq!(
                    mem.get(key.as_bytes(), SequenceNumber::MAX),
                    found(key.as_bytes())
                );
            }
        }
        let mut it = mem.iter();
        it.seek_to_first();
        let mut n = 0;
        let mut last: Option<Vec<u8>> = None;
        while it.valid() {
            if let Some(prev) = &last {
                assert!(crate::key::compare_internal_keys(prev, it.key()).is_lt());
            }
            last = Some(it.key().to_vec());
            n += 1;
            it.next();
        }
        assert_eq!(n, 8000);
    }

    #[test]
    fn lookups_find_keys_of_every_shape() {
        let mem = Arc::new(MemTable::new());
        let mut keys = tricky_user_keys();
        keys.sort();
        keys.dedup();
        for (i, k) in keys.iter().enumerate() {
            mem.add(SequenceNumber(i as u64 + 1), ValueType::Value, k, k);
        }
        for k in &keys {
            assert_eq!(mem.get(k, SequenceNumber::MAX), found(k));
        }
        // Walking forward visits the user keys in bytewise order.
        let mut it = mem.iter();
        it.seek_to_first();
        for k in &keys {
            assert!(it.valid());
            assert_eq!(extract_user_key(it.key()), &k[..]);
            assert_eq!(it.value(), &k[..]);
            it.next();
        }
        assert!(!it.valid());
        // A key absent between two present ones is not found, whatever its length.
        assert_eq!(mem.get(&[0xff; 21], SequenceNumber::MAX), None);
        assert_eq!(mem.get(&[0, 0, 2], SequenceNumber::MAX), None);
        assert_eq!(mem.get(&[1; 17], SequenceNumber::MAX), None);
    }

    #[test]
    fn a_big_memtable_is_walked_in_cut_runs_without_losing_or_repeating_an_entry() {
        let mem = MemTable::new();
        let mut expected = Vec::new();
        let mut seq = 0u64;
        // 4000 user keys of 3..=40 bytes, up to three versions each, in scrambled order:
        // versions of one key must stay together wherever the cuts fall.
        for i in (0..12_000u64).map(|i| (i * 7919) % 12_000) {
            let user = format!("{:0width$}", i / 3, width = 3 + (i / 3 % 38) as usize);
            seq += 1;
            let t = if i % 5 == 0 {
                ValueType::Deletion
            } else {
                ValueType::Value
            };
            let value = format!("v{seq}");
            mem.add(SequenceNumber(seq), t, user.as_bytes(), value.as_bytes());
            let stored = if t == ValueType::Value {
                value.into_bytes()
            } else {
                Vec::new()
            };
            expected.push((
                make_internal_key(user.as_bytes(), SequenceNumber(seq), t),
                stored,
            ));
        }
        expected.sort_by(|a, b| crate::key::compare_internal_keys(&a.0, &b.0));
        let cuts = mem.cut_keys(WALK_CHAINS, None, None);
        assert_eq!(cuts.len(), WALK_CHAINS - 1, "enough samples to cut");
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        let runs = mem.collect_runs(None, None);
        assert_eq!(runs.len(), WALK_CHAINS);
        assert!(
            runs.iter().all(|r| r.len() > 12_000 / WALK_CHAINS / 3),
            "balanced"
        );
        let mut seen = Vec::new();
        mem.for_each_entry(|k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok::<(), ()>(())
        })
        .expect("walk");
        assert_eq!(seen, expected);

        // Ranges cut at split keys cover everything once, each walked in runs too.
        for parts in [2, 3, 5] {
            let splits = mem.split_keys(parts);
            assert_eq!(splits.len(), parts - 1);
            let mut bounds: Vec<Option<&[u8]>> = vec![None];
            bounds.extend(splits.iter().map(|k| Some(&k[..])));
            bounds.push(None);
            let mut pieces = Vec::new();
            for w in bounds.windows(2) {
                let before = pieces.len();
                mem.for_each_entry_in(w[0], w[1], |k, v| {
                    let user = extract_user_key(k);
                    assert!(w[0].map_or(true, |s| user >= s) && w[1].map_or(true, |e| user < e));
                    pieces.push((k.to_vec(), v.to_vec()));
                    Ok::<(), ()>(())
                })
                .expect("walk");
                assert!(pieces.len() - before > 12_000 / parts / 2, "balanced parts");
            }
            assert_eq!(pieces, expected);
        }
        // A small memtable is one run.
        let small = MemTable::new();
        for i in 0..100u64 {
            small.add(
                SequenceNumber(i + 1),
                ValueType::Value,
                &i.to_be_bytes(),
                b"v",
            );
        }
        assert!(small.cut_keys(WALK_CHAINS, None, None).is_empty());
        assert!(small.split_keys(2).is_empty());
    }

    #[test]
    fn for_each_entry_stops_at_the_first_error() {
        let mem = MemTable::new();
        for i in 0..10_000u64 {
            mem.add(
                SequenceNumber(i + 1),
                ValueType::Value,
                &i.to_be_bytes(),
                b"v",
            );
        }
        let mut calls = 0;
        let result = mem.for_each_entry(|_, _| {
            calls += 1;
            if calls == 5000 {
                Err("stop")
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Err("stop"));
        assert_eq!(calls, 5000);
    }

    #[test]
    fn memory_usage_counts_the_arena_words_each_entry_takes() {
        let mem = MemTable::new();
        assert!(mem.is_empty());
        let empty = mem.approximate_memory_usage();
        // The head node: its links and header.
        assert_eq!(empty, 8 * (skiplist::MAX_HEIGHT + 2));
        mem.add(SequenceNumber(1), ValueType::Value, b"key", b"value");
        let one = mem.approximate_memory_usage() - empty;
        // Links (1..=12), lengths, tag, one word of key, one of value.
        assert!((8 * (1 + 4)..=8 * (12 + 4)).contains(&one), "{one}");
        mem.add(SequenceNumber(2), ValueType::Value, b"key", &[0u8; 1000]);
        let two = mem.approximate_memory_usage() - empty - one;
        assert!(
            (8 * (1 + 3 + 125)..=8 * (12 + 3 + 125)).contains(&two),
            "{two}"
        );
        assert_eq!(mem.len(), 2);
        assert!(!mem.is_empty());
        // Every SAMPLE_EVERY-th key is also kept as a sample, and charged.
        let before = mem.approximate_memory_usage();
        for i in 2..SAMPLE_EVERY as u64 {
            mem.add(SequenceNumber(i + 1), ValueType::Value, b"key", b"");
        }
        let grown = mem.approximate_memory_usage() - before;
        let entries = SAMPLE_EVERY - 2;
        assert!(
            grown >= entries * 8 * (1 + 3) + 3 + SAMPLE_OVERHEAD,
            "{grown}"
        );
        // About 1.33 links per node: far below the tallest node's cost.
        assert!(
            grown < entries * 8 * (2 + 3) + 3 + SAMPLE_OVERHEAD,
            "{grown}"
        );
        // A big memtable costs about what LevelDB's arena would: 16-byte keys and
        // 100-byte values take 24 bytes of links and header beyond their own words.
        let big = MemTable::new();
        for i in 0..100_000u64 {
            let key = format!("{:016}", (i * 7919) % 100_000);
            big.add(
                SequenceNumber(i + 1),
                ValueType::Value,
                key.as_bytes(),
                &[7; 100],
            );
        }
        let per_entry = big.approximate_memory_usage() / 100_000;
        assert!(
            (16 + 104 + 16 + 8..16 + 104 + 16 + 14).contains(&per_entry),
            "{per_entry}"
        );
    }

    /// Keys of 0..=20 bytes over {0, 1, 0xff}: prefixes of each other, zero padding
    /// look-alikes, and lengths on both sides of a word and of the inline search key.
    fn tricky_user_keys() -> Vec<Vec<u8>> {
        let mut keys = vec![Vec::new()];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in (0..=20usize).chain([31, 32, 33, 40]) {
            for _ in 0..12 {
                let key: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        [0u8, 1, 0xff][(x % 3) as usize]
                    })
                    .collect();
                keys.push(key);
            }
            keys.push(vec![0; len]);
            keys.push(vec![0xff; len]);
        }
        keys
    }

    #[test]
    fn entries_of_every_key_shape_come_out_in_internal_key_order() {
        let mem = Arc::new(MemTable::new());
        let mut keys = tricky_user_keys();
        keys.sort();
        keys.dedup();
        let mut expected = Vec::new();
        let mut seq = 0;
        for k in keys.iter().rev() {
            for t in [ValueType::Value, ValueType::Deletion, ValueType::Value] {
                seq += 1;
                mem.add(SequenceNumber(seq), t, k, b"v");
                expected.push(make_internal_key(k, SequenceNumber(seq), t));
            }
        }
        assert_walks_in_order(&mem, &mut expected);
        let mut it = mem.iter();
        // Seeking to each key lands on it; stepping back lands on its predecessor.
        for (i, want) in expected.iter().enumerate() {
            it.seek(want);
            assert_eq!(it.key(), &want[..]);
            it.prev();
            match i.checked_sub(1) {
                Some(j) => assert_eq!(it.key(), &expected[j][..]),
                None => assert!(!it.valid()),
            }
        }
    }
}
