//! Reads one table block: checks the restart array once when the block is loaded, then
//! iterates entries with a binary search over restart points for `seek`. Malformed
//! entries stop the iterator with a Corruption status; nothing here panics on bad bytes.

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
    a.cmp(b)
}

/// A decoded block: entry bytes plus the restart offsets, immutable and shareable.
#[derive(Debug)]
pub struct Block {
    data: Vec<u8>,
    /// Where the entries end and the restart array begins.
    restart_offset: usize,
    restarts: Vec<u32>,
}

impl Block {
    /// Validates the restart array of `contents`. Corruption when the count or an
    /// offset cannot be right (offsets must increase and point into the entry area).
    pub fn new(contents: Vec<u8>) -> Result<Block> {
        let len = contents.len();
        let count = match len.checked_sub(4) {
            Some(at) => decode_fixed32(&contents[at..]).unwrap_or(u32::MAX) as usize,
            None => {
                return Err(Error::corruption(format!(
                    "bad block contents: {len} bytes is too short for a restart count"
                )))
            }
        };
        if count > (len - 4) / 4 {
            return Err(Error::corruption(format!(
                "bad block contents: {count} restarts do not fit in {len} bytes"
            )));
        }
        let restart_offset = len - 4 - 4 * count;
        let array = &contents[restart_offset..len - 4];
        let mut restarts = Vec::with_capacity(count);
        for chunk in array.chunks_exact(4) {
            let r = decode_fixed32(chunk).unwrap_or(u32::MAX);
            let increasing = restarts.last().map_or(true, |&prev| r > prev);
            if r as usize > restart_offset || !increasing {
                return Err(Error::corruption(format!(
                    "bad block contents: restart offset {r} out of order or past {restart_offset}"
                )));
            }
            restarts.push(r);
        }
        Ok(Block {
            data: contents,
            restart_offset,
            restarts,
        })
    }

    /// Size of the block contents in bytes (entries and restart array).
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// An unpositioned iterator ordering keys by `cmp`.
    pub fn iter(self: &Arc<Self>, cmp: KeyComparator) -> BlockIter {
        BlockIter {
            block: Arc::clone(self),
            cmp,
            current: self.restart_offset,
            restart_index: self.restarts.len(),
            key: Vec::new(),
            value_start: self.restart_offset,
            value_end: self.restart_offset,
            status: None,
        }
    }
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
fn decode_entry(data: &[u8], at: usize, limit: usize) -> Option<EntryHeader> {
    let mut p = data.get(at..limit)?;
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
    fn restart_point(&self, index: usize) -> usize {
        self.block
            .restarts
            .get(index)
            .map_or(self.block.restart_offset, |&r| r as usize)
    }

    fn mark_invalid(&mut self) {
        self.current = self.block.restart_offset;
        self.restart_index = self.block.restarts.len();
    }

    fn corruption(&mut self, what: &str) {
        self.mark_invalid();
        self.key.clear();
        self.value_start = self.current;
        self.value_end = self.current;
        if self.status.is_none() {
            self.status = Some(Error::corruption(format!("bad entry in block: {what}")));
        }
    }

    /// Positions before the entry at restart point `index`; `parse_next_key` reads it.
    fn seek_to_restart_point(&mut self, index: usize) {
        self.key.clear();
        self.restart_index = index;
        let offset = self.restart_point(index);
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
                self.corruption("entry overruns the block or shares more than the previous key");
                return false;
            }
        };
        let value_start = header.delta_at + header.non_shared;
        self.key.truncate(header.shared);
        self.key
            .extend_from_slice(&self.block.data[header.delta_at..value_start]);
        self.value_start = value_start;
        self.value_end = value_start + header.value_len;
        while self.restart_index + 1 < self.block.restarts.len()
            && self.restart_point(self.restart_index + 1) < self.current
        {
            self.restart_index += 1;
        }
        true
    }

    /// The whole key stored at restart point `index`, or None if it is malformed.
    fn restart_key(&self, index: usize) -> Option<&[u8]> {
        let at = self.restart_point(index);
        let header = decode_entry(&self.block.data, at, self.block.restart_offset)?;
        if header.shared != 0 {
            return None;
        }
        self.block
            .data
            .get(header.delta_at..header.delta_at + header.non_shared)
    }
}

impl InternalIterator for BlockIter {
    fn valid(&self) -> bool {
        self.current < self.block.restart_offset
    }

    fn seek_to_first(&mut self) {
        if self.block.restarts.is_empty() {
            self.mark_invalid();
            return;
        }
        self.seek_to_restart_point(0);
        self.parse_next_key();
    }

    fn seek_to_last(&mut self) {
        let Some(last) = self.block.restarts.len().checked_sub(1) else {
            self.mark_invalid();
            return;
        };
        self.seek_to_restart_point(last);
        while self.parse_next_key() && self.value_end < self.block.restart_offset {}
    }

    fn seek(&mut self, target: &[u8]) {
        if self.block.restarts.is_empty() {
            self.mark_invalid();
            return;
        }
        // Find the last restart point whose key is < target.
        let mut left = 0;
        let mut right = self.block.restarts.len() - 1;
        while left < right {
            let mid = left + (right - left).div_ceil(2);
            match self.restart_key(mid) {
                Some(k) if (self.cmp)(k, target) == Ordering::Less => left = mid,
                Some(_) => right = mid - 1,
                None => {
                    self.corruption("restart point does not hold a whole key");
                    return;
                }
            }
        }
        self.seek_to_restart_point(left);
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
        while self.restart_point(self.restart_index) >= original {
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
            for (k, _) in &entries {
                it.seek(k);
            }
        }
    }
}
