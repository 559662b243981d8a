//! `WriteBatch`: a group of puts and deletes applied atomically, kept in LevelDB's byte
//! layout (the WAL record payload) so the write path appends it to the log as it is:
//! fixed64 first sequence, fixed32 count, then `0x01 key value` / `0x00 key` records.

use crate::coding::{
    decode_fixed32, decode_fixed64, get_length_prefixed_slice, put_length_prefixed_slice,
};
use crate::error::{Error, Result};
use crate::key::{SequenceNumber, ValueType};
use crate::memtable::MemTable;

/// Sequence (8 bytes) + count (4 bytes).
const HEADER: usize = 12;

/// A batch of updates. Thread-safety: a plain value (`Send + Sync`); mutation needs `&mut`.
/// Invariant: `rep` always holds at least the 12-byte header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteBatch {
    rep: Vec<u8>,
}

/// One decoded record, borrowing from the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchRecord<'a> {
    Put { key: &'a [u8], value: &'a [u8] },
    Delete { key: &'a [u8] },
}

impl Default for WriteBatch {
    fn default() -> Self {
        WriteBatch::new()
    }
}

impl WriteBatch {
    pub fn new() -> WriteBatch {
        WriteBatch {
            rep: vec![0; HEADER],
        }
    }

    /// An empty batch with room for `bytes` of records beyond the header, so that filling
    /// it does not reallocate.
    pub fn with_capacity(bytes: usize) -> WriteBatch {
        let mut rep = Vec::with_capacity(HEADER + bytes);
        rep.resize(HEADER, 0);
        WriteBatch { rep }
    }

    /// Adds a put. Keys and values must be shorter than 4 GiB (the length is a varint32).
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.set_count(self.count().wrapping_add(1));
        self.rep.push(ValueType::Value as u8);
        put_length_prefixed_slice(&mut self.rep, key);
        put_length_prefixed_slice(&mut self.rep, value);
    }

    pub fn delete(&mut self, key: &[u8]) {
        self.set_count(self.count().wrapping_add(1));
        self.rep.push(ValueType::Deletion as u8);
        put_length_prefixed_slice(&mut self.rep, key);
    }

    /// Drops every record and resets the sequence to 0.
    pub fn clear(&mut self) {
        self.rep.clear();
        self.rep.resize(HEADER, 0);
    }

    /// Appends `other`'s records after this batch's; this batch's sequence is kept. Used by
    /// group commit to merge the writers of one group into a single WAL record.
    pub fn append(&mut self, other: &WriteBatch) {
        self.set_count(self.count().wrapping_add(other.count()));
        self.rep.extend_from_slice(other.records());
    }

    /// The record count stored in the header (which `iter` checks against the records).
    pub fn count(&self) -> u32 {
        decode_fixed32(&self.rep[8..]).expect("rep always holds the 12-byte header")
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Bytes of the encoded batch, header included: what the WAL record will carry.
    pub fn approximate_size(&self) -> usize {
        self.rep.len()
    }

    /// The sequence of the first record; record n gets `sequence() + n`.
    pub fn sequence(&self) -> SequenceNumber {
        SequenceNumber(decode_fixed64(&self.rep).expect("rep always holds the 12-byte header"))
    }

    pub fn set_sequence(&mut self, seq: SequenceNumber) {
        self.rep[..8].copy_from_slice(&seq.0.to_le_bytes());
    }

    /// The encoded batch: exactly the bytes of a WAL record payload.
    pub fn contents(&self) -> &[u8] {
        &self.rep
    }

    /// Wraps a WAL record payload. Only the header is checked here; records are checked
    /// when iterated (or by `insert_into`, which checks them all before applying any).
    pub fn from_contents(rep: Vec<u8>) -> Result<WriteBatch> {
        if rep.len() < HEADER {
            return Err(Error::corruption(format!(
                "malformed WriteBatch (too small): {} bytes, the header alone is {HEADER}",
                rep.len()
            )));
        }
        Ok(WriteBatch { rep })
    }

    /// The records in order. A malformed record yields one `Err(Corruption)` and ends the
    /// iteration; a header count that disagrees with the records found is reported as
    /// `Err(Corruption("WriteBatch has wrong count ..."))` after the last record.
    pub fn iter(&self) -> impl Iterator<Item = Result<BatchRecord<'_>>> + '_ {
        BatchIter {
            rest: self.records(),
            offset: HEADER,
            expected: self.count(),
            found: 0,
            done: false,
        }
    }

    /// Applies the records to `mem`, record n at `sequence() + n`. The whole batch is
    /// validated first, so a corrupt batch inserts nothing. Returns the records applied.
    pub fn insert_into(&self, mem: &MemTable) -> Result<u32> {
        for record in self.iter() {
            record?;
        }
        let first = self.sequence();
        let count = u64::from(self.count());
        let fits = first
            .0
            .checked_add(count)
            .is_some_and(|end| end <= SequenceNumber::MAX.0 + 1);
        if !fits {
            return Err(Error::corruption(format!(
                "WriteBatch sequence {first} + {count} records exceeds the largest sequence"
            )));
        }
        let mut seq = first;
        for record in self.iter() {
            match record? {
                BatchRecord::Put { key, value } => mem.add(seq, ValueType::Value, key, value),
                BatchRecord::Delete { key } => mem.add(seq, ValueType::Deletion, key, &[]),
            }
            seq = seq.next();
        }
        Ok(self.count())
    }

    fn set_count(&mut self, n: u32) {
        self.rep[8..HEADER].copy_from_slice(&n.to_le_bytes());
    }

    fn records(&self) -> &[u8] {
        &self.rep[HEADER..]
    }
}

/// Decodes records front to back, tracking the byte offset for error messages.
struct BatchIter<'a> {
    rest: &'a [u8],
    offset: usize,
    expected: u32,
    found: u64,
    done: bool,
}

impl<'a> BatchIter<'a> {
    fn decode_one(&mut self) -> Result<BatchRecord<'a>> {
        let start = self.offset;
        let mut input = self.rest;
        let bad =
            |what: &str| Error::corruption(format!("WriteBatch record at offset {start}: {what}"));
        let (&tag, body) = input.split_first().ok_or_else(|| bad("missing tag"))?;
        input = body;
        let record = match ValueType::from_byte(tag) {
            Some(ValueType::Value) => {
                let key =
                    get_length_prefixed_slice(&mut input).ok_or_else(|| bad("bad put key"))?;
                let value =
                    get_length_prefixed_slice(&mut input).ok_or_else(|| bad("bad put value"))?;
                BatchRecord::Put { key, value }
            }
            Some(ValueType::Deletion) => {
                let key =
                    get_length_prefixed_slice(&mut input).ok_or_else(|| bad("bad delete key"))?;
                BatchRecord::Delete { key }
            }
            None => return Err(bad(&format!("unknown tag {tag:#04x}"))),
        };
        self.offset += self.rest.len() - input.len();
        self.rest = input;
        Ok(record)
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchRecord<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.rest.is_empty() {
            self.done = true;
            if self.found != u64::from(self.expected) {
                return Some(Err(Error::corruption(format!(
                    "WriteBatch has wrong count: header says {}, found {} records",
                    self.expected, self.found
                ))));
            }
            return None;
        }
        match self.decode_one() {
            Ok(record) => {
                self.found += 1;
                Some(Ok(record))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::key::LookupResult;

    fn sample() -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(b"foo", b"bar");
        b.delete(b"box");
        b.set_sequence(SequenceNumber(100));
        b
    }

    fn records(b: &WriteBatch) -> Result<Vec<BatchRecord<'_>>> {
        b.iter().collect()
    }

    #[test]
    fn encodes_exactly_as_leveldb() {
        let b = sample();
        #[rustfmt::skip]
        let golden: &[u8] = &[
            100, 0, 0, 0, 0, 0, 0, 0,        // fixed64 sequence 100
            2, 0, 0, 0,                      // fixed32 count 2
            0x01, 3, b'f', b'o', b'o', 3, b'b', b'a', b'r', // put foo bar
            0x00, 3, b'b', b'o', b'x',       // delete box
        ];
        assert_eq!(b.contents(), golden);
        assert_eq!(b.approximate_size(), golden.len());
        let decoded = WriteBatch::from_contents(golden.to_vec()).expect("valid");
        assert_eq!(decoded, b);
        assert_eq!(decoded.sequence(), SequenceNumber(100));
        assert_eq!(
            records(&decoded).expect("valid records"),
            vec![
                BatchRecord::Put {
                    key: b"foo",
                    value: b"bar"
                },
                BatchRecord::Delete { key: b"box" },
            ]
        );
    }

    #[test]
    fn new_batch_is_an_empty_header() {
        let b = WriteBatch::default();
        assert_eq!(b.contents(), &[0u8; 12]);
        assert!(b.is_empty());
        assert_eq!(b.count(), 0);
        assert_eq!(b.iter().count(), 0);
    }

    #[test]
    fn append_concatenates_records_and_keeps_own_sequence() {
        let mut a = WriteBatch::new();
        a.set_sequence(SequenceNumber(200));
        a.put(b"a", b"1");
        let b = sample();
        a.append(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.sequence(), SequenceNumber(200));
        assert_eq!(
            records(&a).expect("valid"),
            vec![
                BatchRecord::Put {
                    key: b"a",
                    value: b"1"
                },
                BatchRecord::Put {
                    key: b"foo",
                    value: b"bar"
                },
                BatchRecord::Delete { key: b"box" },
            ]
        );
        let before = a.clone();
        a.append(&WriteBatch::new());
        assert_eq!(a, before);
    }

    #[test]
    fn clear_leaves_an_empty_batch() {
        let mut b = sample();
        b.clear();
        assert_eq!(b, WriteBatch::new());
        b.put(b"k", b"v");
        assert_eq!(b.count(), 1);
    }

    #[test]
    fn count_disagreeing_with_records_is_corruption_at_the_end() {
        let mut rep = sample().contents().to_vec();
        rep[8] = 3;
        let b = WriteBatch::from_contents(rep).expect("header is fine");
        let items: Vec<_> = b.iter().collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_ok());
        let err = items[2].as_ref().expect_err("count mismatch");
        assert_eq!(err.kind(), ErrorKind::Corruption);
        assert!(
            err.to_string().contains("WriteBatch has wrong count"),
            "{err}"
        );

        let mem = MemTable::new();
        assert!(b.insert_into(&mem).is_err());
        assert!(mem.is_empty());
    }

    #[test]
    fn short_header_is_corruption() {
        for n in 0..HEADER {
            let err = WriteBatch::from_contents(vec![0; n]).expect_err("too small");
            assert_eq!(err.kind(), ErrorKind::Corruption);
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let full = sample().contents().to_vec();
        for len in 0..full.len() {
            let truncated = full[..len].to_vec();
            let Ok(b) = WriteBatch::from_contents(truncated) else {
                assert!(len < HEADER);
                continue;
            };
            assert!(
                records(&b).is_err(),
                "truncation to {len} bytes went unnoticed"
            );
            let mem = MemTable::new();
            assert!(b.insert_into(&mem).is_err());
            assert!(mem.is_empty(), "corrupt batch inserted records at {len}");
        }
    }

    #[test]
    fn unknown_tag_is_reported_with_its_offset() {
        let mut rep = sample().contents().to_vec();
        rep[21] = 0x07; // the delete's tag
        let b = WriteBatch::from_contents(rep).expect("header");
        let items: Vec<_> = b.iter().collect();
        assert_eq!(items.len(), 2, "iteration stops at the bad record");
        let err = items[1].as_ref().expect_err("bad tag");
        assert!(err.to_string().contains("offset 21"), "{err}");
    }

    #[test]
    fn random_mutations_never_panic() {
        // xorshift64*: deterministic, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let mut base = sample();
        base.put(&[0xff; 200], &[7; 300]);
        let base = base.contents().to_vec();
        for _ in 0..5000 {
            let mut rep = base.clone();
            for _ in 0..1 + rand() % 4 {
                let i = (rand() % rep.len() as u64) as usize;
                rep[i] = rand() as u8;
            }
            if rand() % 4 == 0 {
                rep.truncate((rand() % rep.len() as u64) as usize);
            }
            if let Ok(b) = WriteBatch::from_contents(rep) {
                let _ = b.iter().count();
                let _ = b.insert_into(&MemTable::new());
            }
        }
    }

    #[test]
    fn insert_into_assigns_consecutive_sequences() {
        let mut b = WriteBatch::new();
        b.put(b"k", b"v1");
        b.put(b"k", b"v2");
        b.delete(b"j");
        b.put(b"j", b"back");
        b.set_sequence(SequenceNumber(10));
        let mem = MemTable::new();
        assert_eq!(b.insert_into(&mem).expect("valid batch"), 4);
        assert_eq!(mem.len(), 4);
        let found = |v: &[u8]| Some(LookupResult::Found(v.to_vec()));
        assert_eq!(mem.get(b"k", SequenceNumber(9)), None);
        assert_eq!(mem.get(b"k", SequenceNumber(10)), found(b"v1"));
        assert_eq!(mem.get(b"k", SequenceNumber(11)), found(b"v2"));
        assert_eq!(
            mem.get(b"j", SequenceNumber(12)),
            Some(LookupResult::Deleted)
        );
        assert_eq!(mem.get(b"j", SequenceNumber(13)), found(b"back"));
    }

    #[test]
    fn sequence_overflow_is_refused() {
        let mut b = WriteBatch::new();
        b.put(b"a", b"1");
        b.put(b"b", b"2");
        b.set_sequence(SequenceNumber::MAX);
        let mem = MemTable::new();
        assert_eq!(
            b.insert_into(&mem).map_err(|e| e.kind()),
            Err(ErrorKind::Corruption)
        );
        assert!(mem.is_empty());
        let mut one = WriteBatch::new();
        one.put(b"a", b"1");
        one.set_sequence(SequenceNumber::MAX);
        assert_eq!(one.insert_into(&mem).expect("last sequence fits"), 1);
    }
}
