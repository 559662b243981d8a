//! The in-memory write buffer: a concurrent skiplist of internal keys to values, with a
//! running estimate of its memory use so the write path knows when to seal it and flush.

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_skiplist::map::Entry;
use crossbeam_skiplist::SkipMap;

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{InternalKey, LookupResult, SequenceNumber, ValueType, VALUE_TYPE_FOR_SEEK};

/// Bytes charged per entry on top of its key and value, for what the skiplist itself holds:
/// the node header (refcount and height, 8), the two `Vec` headers stored inline in the node
/// (key and value, 24 each), the tower of next pointers (on average about two, 16), and
/// allocator rounding of the node and the two heap buffers (about 8). An estimate, not a
/// measurement: it only has to make `write_buffer_size` mean roughly what it says.
pub const ENTRY_OVERHEAD: usize = 80;

/// A memtable. Thread-safety: `Send + Sync`; any number of threads may `add` and read at
/// once (the skiplist is lock-free). Entries are never removed; the memtable is dropped
/// whole once flushed. Shared as `Arc<MemTable>` so iterators can outlive a borrow.
pub struct MemTable {
    table: SkipMap<InternalKey, Vec<u8>>,
    memory_usage: AtomicUsize,
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
            table: SkipMap::new(),
            memory_usage: AtomicUsize::new(0),
        }
    }

    /// Records `user_key` at `seq`. For a deletion `value` is ignored and an empty value is
    /// stored. Sequences are unique per write, so an `(user_key, seq, t)` is added only once.
    pub fn add(&self, seq: SequenceNumber, t: ValueType, user_key: &[u8], value: &[u8]) {
        let key = InternalKey::new(user_key, seq, t);
        let value = match t {
            ValueType::Value => value.to_vec(),
            ValueType::Deletion => Vec::new(),
        };
        let charge = key.encoded().len() + value.len() + ENTRY_OVERHEAD;
        self.table.insert(key, value);
        self.memory_usage.fetch_add(charge, Ordering::Relaxed);
    }

    /// Newest entry for `user_key` with sequence <= `seq`, as LevelDB's `LookupKey`: seek to
    /// `(user_key, seq, VALUE_TYPE_FOR_SEEK)`, which sorts before every older version of the
    /// key, and look at what is there. `None` means this memtable knows nothing of the key.
    pub fn get(&self, user_key: &[u8], seq: SequenceNumber) -> Option<LookupResult> {
        let lookup = InternalKey::new(user_key, seq, VALUE_TYPE_FOR_SEEK);
        let entry = self.table.lower_bound(Bound::Included(&lookup))?;
        let parsed = entry.key().parse()?;
        if parsed.user_key != user_key {
            return None;
        }
        Some(match parsed.value_type {
            ValueType::Value => LookupResult::Found(entry.value().clone()),
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
    pub fn for_each_entry<E>(
        &self,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        for entry in self.table.iter() {
            f(entry.key().encoded(), entry.value())?;
        }
        Ok(())
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
    entry: Option<Entry<'_, InternalKey, Vec<u8>>>,
) -> bool {
    key.clear();
    value.clear();
    match entry {
        Some(entry) => {
            key.extend_from_slice(entry.key().encoded());
            value.extend_from_slice(entry.value());
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
        self.valid = load(&mut self.key, &mut self.value, self.mem.table.front());
    }

    fn seek_to_last(&mut self) {
        self.valid = load(&mut self.key, &mut self.value, self.mem.table.back());
    }

    fn seek(&mut self, target: &[u8]) {
        let target = InternalKey::from_encoded(target.to_vec());
        let entry = self.mem.table.lower_bound(Bound::Included(&target));
        self.valid = load(&mut self.key, &mut self.value, entry);
    }

    fn next(&mut self) {
        if !self.valid {
            return;
        }
        let current = InternalKey::from_encoded(std::mem::take(&mut self.key));
        let entry = self.mem.table.lower_bound(Bound::Excluded(&current));
        self.valid = load(&mut self.key, &mut self.value, entry);
    }

    fn prev(&mut self) {
        if !self.valid {
            return;
        }
        let current = InternalKey::from_encoded(std::mem::take(&mut self.key));
        let entry = self.mem.table.upper_bound(Bound::Excluded(&current));
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
    use crate::key::{make_internal_key, parse_internal_key};

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
    fn memory_usage_grows_with_keys_values_and_entries() {
        let mem = MemTable::new();
        assert!(mem.is_empty());
        assert_eq!(mem.approximate_memory_usage(), 0);
        mem.add(SequenceNumber(1), ValueType::Value, b"key", b"value");
        let one = mem.approximate_memory_usage();
        assert_eq!(one, 3 + 8 + 5 + ENTRY_OVERHEAD);
        mem.add(SequenceNumber(2), ValueType::Value, b"key", &[0u8; 1000]);
        assert_eq!(
            mem.approximate_memory_usage(),
            one + 11 + 1000 + ENTRY_OVERHEAD
        );
        assert_eq!(mem.len(), 2);
        assert!(!mem.is_empty());
    }
}
