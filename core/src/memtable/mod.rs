//! The in-memory write buffer: a concurrent skiplist of entries in internal-key order, each
//! entry one allocation (user key, tag, value) behind a node that keeps the key's first bytes
//! for comparisons, with a running estimate of its memory use so the write path knows when
//! to seal it and flush.

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_epoch as epoch;
use crossbeam_skiplist::base::Entry;
use crossbeam_skiplist::SkipList;
use parking_lot::Mutex;

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{
    pack_sequence_and_type, LookupResult, SequenceNumber, ValueType, VALUE_TYPE_FOR_SEEK,
};

mod entry;

use entry::MemEntry;

/// Bytes charged per entry on top of its key, tag and value: the skiplist node (the inline
/// [`MemEntry`], refcount and height, and on average two tower pointers — crossbeam's towers
/// grow with probability 1/2) and, for each of the two heap blocks (node and entry bytes),
/// the allocator's 8-byte header and on average 8 bytes of rounding to 16. An estimate,
/// not a measurement: it only has to make `write_buffer_size` mean roughly what it says.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<MemEntry>() + 8 + 2 * 8 + 2 * (8 + 8);

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

/// Loads what handing out each entry of a batch reads — the node's length field (which
/// may sit on another cache line than the data pointer) and the entry's bytes (first,
/// middle and last: a 100-byte value spans two or three lines) — so the batch's cache
/// misses overlap instead of each stalling in turn.
fn touch(batch: &[&MemEntry]) {
    let mut x = 0usize;
    for e in batch {
        let (first, mid, last) = (e.data.first(), e.data.get(e.data.len() / 2), e.data.last());
        let byte = |b: Option<&u8>| usize::from(b.copied().unwrap_or(0));
        x ^= e.user_len ^ byte(first) ^ byte(mid) ^ byte(last);
    }
    std::hint::black_box(x);
}

/// A memtable. Thread-safety: `Send + Sync`; any number of threads may `add` and read at
/// once (the skiplist is lock-free). Entries are never removed; the memtable is dropped
/// whole once flushed. Shared as `Arc<MemTable>` so iterators can outlive a borrow.
///
/// Uses crossbeam's base `SkipList` under an epoch guard rather than `SkipSet`, whose
/// entries and iterators count references on every node they visit: an atomic
/// read-modify-write on a cold cache line per step, which was most of a flush's walk.
/// Nothing is ever removed, so entries borrowed under a guard stay valid.
pub struct MemTable {
    table: SkipList<MemEntry, ()>,
    memory_usage: AtomicUsize,
    /// User keys sampled at insertion (one in [`SAMPLE_EVERY`]): a uniform sample of the
    /// entries, from which a walk or a flush picks keys that cut the list into ranges of
    /// similar size.
    samples: Mutex<Vec<Box<[u8]>>>,
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
            table: SkipList::new(epoch::default_collector().clone()),
            memory_usage: AtomicUsize::new(0),
            samples: Mutex::new(Vec::new()),
        }
    }

    /// Records `user_key` at `seq`. For a deletion `value` is ignored and an empty value is
    /// stored. Sequences are unique per write, so an `(user_key, seq, t)` is added only once.
    pub fn add(&self, seq: SequenceNumber, t: ValueType, user_key: &[u8], value: &[u8]) {
        let value = match t {
            ValueType::Value => value,
            ValueType::Deletion => &[],
        };
        let entry = MemEntry::new(user_key, pack_sequence_and_type(seq, t), value);
        let mut charge = entry.data.len() + ENTRY_OVERHEAD;
        let guard = &epoch::pin();
        self.table.insert(entry, (), guard).release(guard);
        // Every SAMPLE_EVERY-th entry by the list's own count (adds racing on the count
        // may both sample or both not: the sample stays a sample).
        if self.table.len() % SAMPLE_EVERY == 0 {
            self.samples.lock().push(user_key.into());
            charge += user_key.len() + SAMPLE_OVERHEAD;
        }
        self.memory_usage.fetch_add(charge, Ordering::Relaxed);
    }

    /// Newest entry for `user_key` with sequence <= `seq`, as LevelDB's `LookupKey`: seek to
    /// `(user_key, seq, VALUE_TYPE_FOR_SEEK)`, which sorts before every older version of the
    /// key, and look at what is there. `None` means this memtable knows nothing of the key.
    pub fn get(&self, user_key: &[u8], seq: SequenceNumber) -> Option<LookupResult> {
        let lookup = MemEntry::lookup(user_key, pack_sequence_and_type(seq, VALUE_TYPE_FOR_SEEK));
        let guard = &epoch::pin();
        let entry = self.table.lower_bound(Bound::Included(&lookup), guard)?;
        let found = entry.key();
        if found.user_key() != user_key {
            return None;
        }
        Some(match ValueType::from_byte(found.tag as u8)? {
            ValueType::Value => LookupResult::Found(found.value().to_vec()),
            ValueType::Deletion => LookupResult::Deleted,
        })
    }

    /// Estimated bytes held: keys, values and [`ENTRY_OVERHEAD`] per entry.
    pub fn approximate_memory_usage(&self) -> usize {
        self.memory_usage.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
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
    /// a time before `f` sees them, for the same reason. Together about 2.5x faster than
    /// following one chain.
    pub fn for_each_entry_in<E>(
        &self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let guard = &epoch::pin();
        for run in self.collect_runs(start, end, guard) {
            for batch in run.chunks(TOUCH_BATCH) {
                touch(batch);
                for e in batch {
                    f(e.internal_key(), e.value())?;
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

    /// The entries in `[start, end)`, as consecutive runs in internal-key order, walked
    /// side by side.
    fn collect_runs<'g>(
        &'g self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        guard: &'g epoch::Guard,
    ) -> Vec<Vec<&'g MemEntry>> {
        // Run i covers [fences[i], fences[i + 1]); a missing fence is unbounded. A fence
        // sorts before every entry of its user key.
        let fence = |key: &[u8]| Some(MemEntry::lookup(key, u64::MAX));
        let mut fences: Vec<Option<MemEntry>> = vec![start.and_then(fence)];
        fences.extend(
            self.cut_keys(WALK_CHAINS, start, end)
                .iter()
                .map(|key| fence(key)),
        );
        fences.push(end.and_then(fence));
        let mut cursors: Vec<_> = fences[..fences.len() - 1]
            .iter()
            .map(|f| match f {
                None => self.table.front(guard),
                Some(f) => self.table.lower_bound(Bound::Included(f), guard),
            })
            .collect();
        let per_run = self.len() / cursors.len() + 16;
        let mut runs: Vec<Vec<&MemEntry>> = cursors
            .iter()
            .map(|_| Vec::with_capacity(per_run))
            .collect();
        loop {
            let mut moved = false;
            for (i, (cursor, run)) in cursors.iter_mut().zip(&mut runs).enumerate() {
                let Some(entry) = cursor.take() else { continue };
                let e: &'g MemEntry = entry.key();
                let limit = fences.get(i + 1).and_then(Option::as_ref);
                if limit.map_or(true, |limit| e < limit) {
                    run.push(e);
                    *cursor = entry.next();
                    moved = true;
                }
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
            valid: false,
            key: Vec::new(),
            value: Vec::new(),
        }
    }
}

/// A cursor over a memtable. A skiplist entry borrows the map, so the cursor cannot keep
/// one next to the `Arc` it borrows from; instead it copies the current key and value and
/// finds its neighbours by a bounded search from that key (O(log n) per step).
pub struct MemTableIterator {
    mem: Arc<MemTable>,
    valid: bool,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// Copies `entry` into the cursor's buffers; false when there is no entry.
fn load(
    key: &mut Vec<u8>,
    value: &mut Vec<u8>,
    entry: Option<Entry<'_, '_, MemEntry, ()>>,
) -> bool {
    key.clear();
    value.clear();
    match entry {
        Some(entry) => {
            key.extend_from_slice(entry.key().internal_key());
            value.extend_from_slice(entry.key().value());
            true
        }
        None => false,
    }
}

impl InternalIterator for MemTableIterator {
    fn valid(&self) -> bool {
        self.valid
    }

    fn seek_to_first(&mut self) {
        let guard = &epoch::pin();
        self.valid = load(&mut self.key, &mut self.value, self.mem.table.front(guard));
    }

    fn seek_to_last(&mut self) {
        let guard = &epoch::pin();
        self.valid = load(&mut self.key, &mut self.value, self.mem.table.back(guard));
    }

    fn seek(&mut self, target: &[u8]) {
        let target = MemEntry::lookup_internal(target);
        let guard = &epoch::pin();
        let entry = self.mem.table.lower_bound(Bound::Included(&target), guard);
        self.valid = load(&mut self.key, &mut self.value, entry);
    }

    fn next(&mut self) {
        if !self.valid {
            return;
        }
        let current = MemEntry::lookup_internal(&self.key);
        let guard = &epoch::pin();
        let entry = self.mem.table.lower_bound(Bound::Excluded(&current), guard);
        self.valid = load(&mut self.key, &mut self.value, entry);
    }

    fn prev(&mut self) {
        if !self.valid {
            return;
        }
        let current = MemEntry::lookup_internal(&self.key);
        let guard = &epoch::pin();
        let entry = self.mem.table.upper_bound(Bound::Excluded(&current), guard);
        self.valid = load(&mut self.key, &mut self.value, entry);
    }

    fn key(&self) -> &[u8] {
        debug_assert!(self.valid, "key() on an invalid memtable iterator");
        &self.key
    }

    fn value(&self) -> &[u8] {
        debug_assert!(self.valid, "value() on an invalid memtable iterator");
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
        let mut keys = super::entry::tests::tricky_user_keys();
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
        let guard = &epoch::pin();
        let runs = mem.collect_runs(None, None, guard);
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
    fn memory_usage_grows_with_keys_values_and_entries() {
        let mem = MemTable::new();
        assert!(mem.is_empty());
        assert_eq!(mem.approximate_memory_usage(), 0);
        mem.add(SequenceNumber(1), ValueType::Value, b"key", b"value");
        let one = mem.approximate_memory_usage();
        assert_eq!(one, 3 + 8 + 5 + ENTRY_OVERHEAD);
        // Node (48-byte inline key, refcount, two tower pointers) and two heap blocks.
        assert_eq!(ENTRY_OVERHEAD, 104);
        mem.add(SequenceNumber(2), ValueType::Value, b"key", &[0u8; 1000]);
        assert_eq!(
            mem.approximate_memory_usage(),
            one + 11 + 1000 + ENTRY_OVERHEAD
        );
        assert_eq!(mem.len(), 2);
        assert!(!mem.is_empty());
        // Every SAMPLE_EVERY-th key is also kept as a sample, and charged.
        let two = mem.approximate_memory_usage();
        for i in 2..SAMPLE_EVERY as u64 {
            mem.add(SequenceNumber(i + 1), ValueType::Value, b"key", b"");
        }
        assert_eq!(
            mem.approximate_memory_usage() - two,
            (SAMPLE_EVERY - 2) * (11 + ENTRY_OVERHEAD) + 3 + SAMPLE_OVERHEAD
        );
    }
}
