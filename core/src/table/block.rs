//! Reads one table block: checks the restart array once when the block is loaded, then
//! iterates entries with a binary search over restart points for `seek`, or answers a
//! point lookup ([`Block::seek_entry`]) without building an iterator. Malformed entries
//! end the walk with a Corruption status; nothing here panics on bad bytes.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::coding::{decode_fixed32, get_varint32};
use crate::error::{Error, Result};
use crate::iterator::InternalIterator;

/// Orders the keys of a block: `compare_internal_keys` for data and index blocks,
/// [`bytewise_compare`] for the meta-index block.
pub type KeyComparator = fn(&[u8], &[u8]) -> Ordering;

/// Plain byte order, LevelDB's `BytewiseComparator`.
pub fn bytewise_compare(a: &[u8], b: &[u8]) -> Ordering {
    crate::key::compare_user_keys(a, b)
}

/// A decoded block: entry bytes followed by the restart array, immutable and shareable.
/// The restart offsets are read from the bytes where needed (validated once in `new`),
/// so loading a block allocates nothing beyond its contents. `D` is where the bytes
/// live: an owned buffer for blocks read from a file, or a slice of a resident table's
/// image, read in place (see `table/resident.rs`).
#[derive(Debug)]
pub struct Block<D = Vec<u8>> {
    data: D,
    /// Where the entries end and the restart array begins.
    restart_offset: usize,
    num_restarts: usize,
}

impl<D: AsRef<[u8]>> Block<D> {
    /// Validates the restart array of `contents`. Corruption when the count or an
    /// offset cannot be right (offsets must increase and point into the entry area).
    pub fn new(contents: D) -> Result<Block<D>> {
        let bytes = contents.as_ref();
        let len = bytes.len();
        let Some(count_at) = len.checked_sub(4) else {
            return Err(Error::corruption(format!(
                "bad block contents: {len} bytes is too short for a restart count"
            )));
        };
        let count = decode_fixed32(&bytes[count_at..]).unwrap_or(u32::MAX) as usize;
        if count > count_at / 4 {
            return Err(Error::corruption(format!(
                "bad block contents: {count} restarts do not fit in {len} bytes"
            )));
        }
        let restart_offset = count_at - 4 * count;
        let mut prev: Option<u32> = None;
        for chunk in bytes[restart_offset..count_at].chunks_exact(4) {
            let r = decode_fixed32(chunk).unwrap_or(u32::MAX);
            if r as usize > restart_offset || prev.is_some_and(|p| r <= p) {
                return Err(Error::corruption(format!(
                    "bad block contents: restart offset {r} out of order or past {restart_offset}"
                )));
            }
            prev = Some(r);
        }
        Ok(Block {
            data: contents,
            restart_offset,
            num_restarts: count,
        })
    }

    /// Size of the block contents in bytes (entries and restart array).
    pub fn size(&self) -> usize {
        self.data.as_ref().len()
    }

    /// Point lookup: the value of the first entry whose key is >= `target`, with that key
    /// left in `key` (a buffer the caller reuses across lookups). Ok(None) when every key
    /// is smaller. Reads the block in place: a binary search over the restart keys, then
    /// a walk of one restart interval.
    pub fn seek_entry<'a>(
        &'a self,
        cmp: impl Fn(&[u8], &[u8]) -> Ordering,
        target: &[u8],
        key: &mut Vec<u8>,
    ) -> Result<Option<&'a [u8]>> {
        key.clear();
        if self.num_restarts == 0 {
            return Ok(None);
        }
        let Some(restart) = self.find_restart(&cmp, target) else {
            return Err(bad_entry("restart point does not hold a whole key"));
        };
        let mut at = self.restart_point(restart);
        while at < self.restart_offset {
            let Some(h) = decode_entry(self.data.as_ref(), at, self.restart_offset)
                .filter(|h| h.shared <= key.len())
            else {
                return Err(bad_entry(OVERRUN));
            };
            let value_start = h.delta_at + h.non_shared;
            let value_end = value_start + h.value_len;
            key.truncate(h.shared);
            key.extend_from_slice(&self.data.as_ref()[h.delta_at..value_start]);
            if cmp(key, target) != Ordering::Less {
                return Ok(Some(&self.data.as_ref()[value_start..value_end]));
            }
            at = value_end;
        }
        key.clear();
        Ok(None)
    }

    /// Offset of the first entry of restart interval `index`; `restart_offset` past the
    /// last one.
    fn restart_point(&self, index: usize) -> usize {
        if index >= self.num_restarts {
            return self.restart_offset;
        }
        let at = self.restart_offset + 4 * index;
        self.data
            .as_ref()
            .get(at..)
            .and_then(decode_fixed32)
            .map_or(self.restart_offset, |r| r as usize)
    }

    /// The whole key stored at restart point `index`, or None if it is malformed.
    fn restart_key(&self, index: usize) -> Option<&[u8]> {
        let at = self.restart_point(index);
        let header = decode_entry(self.data.as_ref(), at, self.restart_offset)?;
        if header.shared != 0 {
            return None;
        }
        self.data
            .as_ref()
            .get(header.delta_at..header.delta_at + header.non_shared)
    }

    /// The last restart point whose key is < `target` (0 when there is none), found by
    /// binary search comparing the restart keys in place. None when a restart point does
    /// not hold a whole key. Requires at least one restart point.
    fn find_restart(&self, cmp: impl Fn(&[u8], &[u8]) -> Ordering, target: &[u8]) -> Option<usize> {
        let mut left = 0;
        let mut right = self.num_restarts.saturating_sub(1);
        while left < right {
            let mid = left + (right - left).div_ceil(2);
            if cmp(self.restart_key(mid)?, target) == Ordering::Less {
                left = mid;
            } else {
                right = mid - 1;
            }
        }
        Some(left)
    }
}

impl Block {
    /// The contents, handed back so that their buffer can be reused for another read.
    pub fn into_contents(self) -> Vec<u8> {
        self.data
    }

    /// An unpositioned iterator ordering keys by `cmp`.
    pub fn iter(self: &Arc<Self>, cmp: KeyComparator) -> BlockIter {
        BlockIter {
            block: Arc::clone(self),
            cmp,
            current: self.restart_offset,
            restart_index: self.num_restarts,
            key: Vec::new(),
            value_start: self.restart_offset,
            value_end: self.restart_offset,
            status: None,
        }
    }
}

const OVERRUN: &str = "entry overruns the block or shares more than the previous key";

fn bad_entry(what: &str) -> Error {
    Error::corruption(format!("bad entry in block: {what}"))
}

/// One decoded entry header: shared and non-shared key lengths, value length, and the
/// offset of the key delta.
struct EntryHeader {
    shared: usize,
    non_shared: usize,
    value_len: usize,
    delta_at: usize,
}

/// Decodes the entry at `at`, checking that it ends at or before `limit`.
#[inline(always)]
fn decode_entry(data: &[u8], at: usize, limit: usize) -> Option<EntryHeader> {
    let p = data.get(at..limit)?;
    // Fast path: all three lengths fit in one byte each (the usual case).
    if let [shared, non_shared, value_len, ..] = *p {
        if (shared | non_shared | value_len) < 0x80 {
            let (non_shared, value_len) = (non_shared as usize, value_len as usize);
            if p.len() - 3 < non_shared + value_len {
                return None;
            }
            return Some(EntryHeader {
                shared: shared as usize,
                non_shared,
                value_len,
                delta_at: at + 3,
            });
        }
    }
    let mut p = p;
    let shared = get_varint32(&mut p)? as usize;
    let non_shared = get_varint32(&mut p)? as usize;
    let value_len = get_varint32(&mut p)? as usize;
    if p.len() < non_shared.checked_add(value_len)? {
        return None;
    }
    Some(EntryHeader {
        shared,
        non_shared,
        value_len,
        delta_at: limit - p.len(),
    })
}

/// Iterator over one [`Block`]. Holds the block alive through an `Arc`.
pub struct BlockIter {
    block: Arc<Block>,
    cmp: KeyComparator,
    /// Offset of the current entry; `restart_offset` when not valid.
    current: usize,
    /// Restart region the current entry falls in.
    restart_index: usize,
    key: Vec<u8>,
    value_start: usize,
    value_end: usize,
    status: Option<Error>,
}

impl BlockIter {
    fn mark_invalid(&mut self) {
        self.current = self.block.restart_offset;
        self.restart_index = self.block.num_restarts;
    }

    fn corruption(&mut self, what: &str) {
        self.mark_invalid();
        self.key.clear();
        self.value_start = self.current;
        self.value_end = self.current;
        if self.status.is_none() {
            self.status = Some(bad_entry(what));
        }
    }

    /// Positions before the entry at restart point `index`; `parse_next_key` reads it.
    fn seek_to_restart_point(&mut self, index: usize) {
        self.key.clear();
        self.restart_index = index;
        let offset = self.block.restart_point(index);
        self.value_start = offset;
        self.value_end = offset;
    }

    /// Decodes the entry following the current one. False at the end or on corruption.
    fn parse_next_key(&mut self) -> bool {
        self.current = self.value_end;
        let limit = self.block.restart_offset;
        if self.current >= limit {
            self.mark_invalid();
            return false;
        }
        let header = match decode_entry(&self.block.data, self.current, limit) {
            Some(h) if h.shared <= self.key.len() => h,
            _ => {
                self.corruption(OVERRUN);
                return false;
            }
        };
        let value_start = header.delta_at + header.non_shared;
        self.key.truncate(header.shared);
        self.key
            .extend_from_slice(&self.block.data[header.delta_at..value_start]);
        self.value_start = value_start;
        self.value_end = value_start + header.value_len;
        while self.restart_index + 1 < self.block.num_restarts
            && self.block.restart_point(self.restart_index + 1) < self.current
        {
            self.restart_index += 1;
        }
        true
    }
}

impl InternalIterator for BlockIter {
    fn valid(&self) -> bool {
        self.current < self.block.restart_offset
    }

    fn seek_to_first(&mut self) {
        if self.block.num_restarts == 0 {
            self.mark_invalid();
            return;
        }
        self.seek_to_restart_point(0);
        self.parse_next_key();
    }

    fn seek_to_last(&mut self) {
        let Some(last) = self.block.num_restarts.checked_sub(1) else {
            self.mark_invalid();
            return;
        };
        self.seek_to_restart_point(last);
        while self.parse_next_key() && self.value_end < self.block.restart_offset {}
    }

    fn seek(&mut self, target: &[u8]) {
        if self.block.num_restarts == 0 {
            self.mark_invalid();
            return;
        }
        let Some(restart) = self.block.find_restart(self.cmp, target) else {
            self.corruption("restart point does not hold a whole key");
            return;
        };
        self.seek_to_restart_point(restart);
        while self.parse_next_key() {
            if (self.cmp)(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    fn next(&mut self) {
        if self.valid() {
            self.parse_next_key();
        }
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        // Back up to a restart point strictly before the current entry, then walk
        // forward to the entry just before it.
        let original = self.current;
        while self.block.restart_point(self.restart_index) >= original {
            if self.restart_index == 0 {
                self.mark_invalid();
                return;
            }
            self.restart_index -= 1;
        }
        self.seek_to_restart_point(self.restart_index);
        while self.parse_next_key() && self.value_end < original {}
    }

    fn key(&self) -> &[u8] {
        &self.key
    }

    fn value(&self) -> &[u8] {
        self.block
            .data
            .get(self.value_start..self.value_end)
            .unwrap_or(&[])
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
    use crate::key::{compare_internal_keys, make_internal_key, SequenceNumber, ValueType};
    use crate::table::block_builder::BlockBuilder;

    fn build(entries: &[(Vec<u8>, Vec<u8>)], interval: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(interval);
        for (k, v) in entries {
            b.add(k, v);
        }
        Arc::new(Block::new(b.finish().to_vec()).expect("valid block"))
    }

    fn internal_entries(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                // Even numbers only, so that odd numbers fall between keys.
                let user = format!("key{:06}", i * 2);
                let k =
                    make_internal_key(user.as_bytes(), SequenceNumber(i as u64), ValueType::Value);
                (k, vec![b'v'; i % 37])
            })
            .collect()
    }

    fn collect_forward(it: &mut BlockIter) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        it.seek_to_first();
        while it.valid() {
            out.push((it.key().to_vec(), it.value().to_vec()));
            it.next();
        }
        out
    }

    fn collect_reverse(it: &mut BlockIter) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        it.seek_to_last();
        while it.valid() {
            out.push((it.key().to_vec(), it.value().to_vec()));
            it.prev();
        }
        out.reverse();
        out
    }

    #[test]
    fn round_trip_forward_reverse_and_seek_at_restart_intervals_1_and_16() {
        for interval in [1, 16] {
            let entries = internal_entries(1000);
            let block = build(&entries, interval);
            let mut it = block.iter(compare_internal_keys);
            assert_eq!(collect_forward(&mut it), entries);
            assert_eq!(collect_reverse(&mut it), entries);
            for (i, (k, v)) in entries.iter().enumerate() {
                it.seek(k);
                assert!(it.valid());
                assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
                // A key between entry i and i+1 lands on i+1.
                let between = make_internal_key(
                    format!("key{:06}", i * 2 + 1).as_bytes(),
                    SequenceNumber(0),
                    ValueType::Value,
                );
                it.seek(&between);
                match entries.get(i + 1) {
                    Some((nk, _)) => assert_eq!(it.key(), &nk[..]),
                    None => assert!(!it.valid()),
                }
            }
            it.status().expect("no corruption");
        }
    }

    #[test]
    fn seek_entry_finds_what_the_iterator_seek_finds() {
        for interval in [1, 16] {
            let entries = internal_entries(500);
            let block = build(&entries, interval);
            let mut it = block.iter(compare_internal_keys);
            let mut key = Vec::new();
            for (i, (k, v)) in entries.iter().enumerate() {
                let got = block
                    .seek_entry(compare_internal_keys, k, &mut key)
                    .expect("valid block");
                assert_eq!(got, Some(&v[..]));
                assert_eq!(key, *k);
                let between = make_internal_key(
                    format!("key{:06}", i * 2 + 1).as_bytes(),
                    SequenceNumber(0),
                    ValueType::Value,
                );
                let got = block
                    .seek_entry(compare_internal_keys, &between, &mut key)
                    .expect("valid block");
                it.seek(&between);
                assert_eq!(got.is_some(), it.valid());
                if it.valid() {
                    assert_eq!((&key[..], got), (it.key(), Some(it.value())));
                }
            }
            let first = make_internal_key(b"", SequenceNumber(0), ValueType::Value);
            let got = block.seek_entry(compare_internal_keys, &first, &mut key);
            assert_eq!(got.expect("valid"), Some(&entries[0].1[..]));
        }
        let empty = build(&[], 16);
        let mut key = b"stale".to_vec();
        assert_eq!(
            empty.seek_entry(bytewise_compare, b"x", &mut key).ok(),
            Some(None)
        );
        assert!(key.is_empty());
    }

    #[test]
    fn prev_then_next_returns_to_the_same_entry() {
        let entries = internal_entries(100);
        let block = build(&entries, 16);
        let mut it = block.iter(compare_internal_keys);
        it.seek(&entries[50].0);
        it.prev();
        assert_eq!(it.key(), &entries[49].0[..]);
        it.next();
        it.next();
        assert_eq!(it.key(), &entries[51].0[..]);
        it.seek_to_first();
        it.prev();
        assert!(!it.valid());
    }

    #[test]
    fn bytewise_block_seeks_by_plain_bytes() {
        let entries: Vec<_> = [&b"a"[..], b"ab", b"b", b"filter.x"]
            .iter()
            .map(|k| (k.to_vec(), b"h".to_vec()))
            .collect();
        let block = build(&entries, 16);
        let mut it = block.iter(bytewise_compare);
        it.seek(b"aa");
        assert_eq!(it.key(), b"ab");
        it.seek(b"filter.x");
        assert_eq!(it.key(), b"filter.x");
        it.seek(b"z");
        assert!(!it.valid());
    }

    #[test]
    fn empty_block_yields_nothing() {
        let block = build(&[], 16);
        let mut it = block.iter(bytewise_compare);
        it.seek_to_first();
        assert!(!it.valid());
        it.seek_to_last();
        assert!(!it.valid());
        it.seek(b"x");
        assert!(!it.valid());
        assert!(it.status().is_ok());
    }

    #[test]
    fn malformed_restart_arrays_are_corruption() {
        assert!(Block::new(vec![1, 0]).is_err());
        // Claims 100 restarts in 8 bytes.
        assert!(Block::new(vec![0, 0, 0, 0, 100, 0, 0, 0]).is_err());
        // Restart offset past the entries.
        assert!(Block::new(vec![9, 0, 0, 0, 1, 0, 0, 0]).is_err());
    }

    #[test]
    fn every_single_byte_flip_and_truncation_is_handled_without_panic() {
        let entries = internal_entries(40);
        let mut b = BlockBuilder::new(4);
        for (k, v) in &entries {
            b.add(k, v);
        }
        let good = b.finish().to_vec();
        let mut variants = Vec::new();
        for i in 0..good.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= bit;
                variants.push(bad);
            }
            variants.push(good[..i].to_vec());
        }
        for bad in variants {
            let Ok(block) = Block::new(bad) else { continue };
            let block = Arc::new(block);
            let mut it = block.iter(compare_internal_keys);
            let mut steps = 0;
            it.seek_to_first();
            while it.valid() && steps < 1000 {
                it.next();
                steps += 1;
            }
            it.seek_to_last();
            while it.valid() && steps < 2000 {
                it.prev();
                steps += 1;
            }
            let mut key = Vec::new();
            for (k, _) in &entries {
                it.seek(k);
                let _ = block.seek_entry(compare_internal_keys, k, &mut key);
            }
        }
    }
}
