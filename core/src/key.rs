//! Internal keys: `user_key ++ fixed64((sequence << 8) | type)`, ordered by user key
//! ascending, then by the packed tag descending, so the newest version of a key comes first.

use std::cmp::Ordering;
use std::fmt;

use crate::coding::{decode_fixed64, put_fixed64};

/// A write's position in the total order of writes. Only the low 56 bits are usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SequenceNumber(pub u64);

impl SequenceNumber {
    /// The largest sequence that fits beside the type byte.
    pub const MAX: SequenceNumber = SequenceNumber((1 << 56) - 1);

    pub fn next(self) -> SequenceNumber {
        SequenceNumber(self.0 + 1)
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an entry records. The numeric values are on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueType {
    Deletion = 0,
    Value = 1,
}

impl ValueType {
    pub fn from_byte(b: u8) -> Option<ValueType> {
        match b {
            0 => Some(ValueType::Deletion),
            1 => Some(ValueType::Value),
            _ => None,
        }
    }
}

/// The type a lookup seeks with: the highest, so a seek for `(key, seq)` lands on the
/// newest entry with sequence <= seq.
pub const VALUE_TYPE_FOR_SEEK: ValueType = ValueType::Value;

/// Packs sequence and type into the 8-byte trailer.
pub fn pack_sequence_and_type(seq: SequenceNumber, t: ValueType) -> u64 {
    debug_assert!(seq <= SequenceNumber::MAX);
    (seq.0 << 8) | t as u64
}

/// Appends the internal key for `(user_key, seq, t)` to `dst`.
pub fn append_internal_key(dst: &mut Vec<u8>, user_key: &[u8], seq: SequenceNumber, t: ValueType) {
    dst.extend_from_slice(user_key);
    put_fixed64(dst, pack_sequence_and_type(seq, t));
}

pub fn make_internal_key(user_key: &[u8], seq: SequenceNumber, t: ValueType) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + 8);
    append_internal_key(&mut k, user_key, seq, t);
    k
}

/// An internal key split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedInternalKey<'a> {
    pub user_key: &'a [u8],
    pub sequence: SequenceNumber,
    pub value_type: ValueType,
}

/// Splits an internal key; `None` when it is shorter than 8 bytes or the type is unknown.
pub fn parse_internal_key(ikey: &[u8]) -> Option<ParsedInternalKey<'_>> {
    let n = ikey.len().checked_sub(8)?;
    let tag = decode_fixed64(&ikey[n..])?;
    Some(ParsedInternalKey {
        user_key: &ikey[..n],
        sequence: SequenceNumber(tag >> 8),
        value_type: ValueType::from_byte((tag & 0xff) as u8)?,
    })
}

/// The user-key part. Keys shorter than 8 bytes (only possible in corrupt input) are
/// returned whole so that comparisons stay total instead of panicking.
pub fn extract_user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(8)]
}

fn extract_tag(ikey: &[u8]) -> u64 {
    ikey.len()
        .checked_sub(8)
        .and_then(|n| decode_fixed64(&ikey[n..]))
        .unwrap_or(0)
}

/// LevelDB's `InternalKeyComparator` over the bytewise user comparator.
#[inline]
pub fn compare_internal_keys(a: &[u8], b: &[u8]) -> Ordering {
    compare_user_keys(extract_user_key(a), extract_user_key(b))
        .then_with(|| extract_tag(b).cmp(&extract_tag(a)))
}

/// Bytewise order (`<[u8]>::cmp`), eight bytes at a time: keys are short, and a call to
/// libc's memcmp for 16 bytes costs more than comparing two words inline. Hot in every
/// block search, memtable probe and merge.
#[inline]
pub fn compare_user_keys(a: &[u8], b: &[u8]) -> Ordering {
    let words = a.len().min(b.len()) / 8;
    for i in 0..words {
        let (wa, wb) = (word_at(a, i * 8), word_at(b, i * 8));
        if wa != wb {
            return wa.cmp(&wb);
        }
    }
    a[words * 8..].cmp(&b[words * 8..])
}

/// The eight bytes at `at` as a big-endian number, so that numbers order as bytes do.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

/// What a point lookup found in one source (memtable, table, version): the newest entry
/// for the key at or below the read sequence. `None` from a source means "look further".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupResult {
    Found(Vec<u8>),
    Deleted,
}

/// The name recorded in the MANIFEST; LevelDB refuses a DB whose name differs.
pub const BYTEWISE_COMPARATOR_NAME: &str = "leveldb.BytewiseComparator";

/// An owned internal key ordered as `compare_internal_keys`; the memtable's key type.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InternalKey(Vec<u8>);

impl InternalKey {
    pub fn new(user_key: &[u8], seq: SequenceNumber, t: ValueType) -> InternalKey {
        InternalKey(make_internal_key(user_key, seq, t))
    }

    /// Wraps encoded bytes as read from a file; callers validate with `parse` when needed.
    pub fn from_encoded(encoded: Vec<u8>) -> InternalKey {
        InternalKey(encoded)
    }

    pub fn encoded(&self) -> &[u8] {
        &self.0
    }

    pub fn user_key(&self) -> &[u8] {
        extract_user_key(&self.0)
    }

    pub fn parse(&self) -> Option<ParsedInternalKey<'_>> {
        parse_internal_key(&self.0)
    }
}

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_internal_keys(&self.0, &other.0)
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for InternalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parse() {
            Some(p) => write!(
                f,
                "{:?}@{}:{:?}",
                String::from_utf8_lossy(p.user_key),
                p.sequence,
                p.value_type
            ),
            None => write!(f, "(bad internal key {:?})", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_user_keys_is_bytewise_order() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"\x00",
            b"a",
            b"ab",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefgh\x00",
            b"abcdefgi",
            b"abcdefghabcdefgh",
            b"abcdefghabcdefgi",
            b"abcdefghabcdefgh1",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
            b"0000000000123456",
            b"0000000000123457",
            b"000000001",
            b"\x7f\x80",
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(compare_user_keys(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn newest_version_of_a_key_sorts_first() {
        let a1 = InternalKey::new(b"a", SequenceNumber(1), ValueType::Value);
        let a2 = InternalKey::new(b"a", SequenceNumber(2), ValueType::Value);
        let a2d = InternalKey::new(b"a", SequenceNumber(2), ValueType::Deletion);
        let b0 = InternalKey::new(b"b", SequenceNumber(0), ValueType::Value);
        let mut keys = vec![b0.clone(), a1.clone(), a2d.clone(), a2.clone()];
        keys.sort();
        assert_eq!(keys, vec![a2, a2d, a1, b0]);
    }

    #[test]
    fn user_key_prefix_orders_before_longer_key() {
        let short = make_internal_key(b"ab", SequenceNumber(1), ValueType::Value);
        let long = make_internal_key(b"abc", SequenceNumber(9), ValueType::Value);
        assert_eq!(compare_internal_keys(&short, &long), Ordering::Less);
        let empty = make_internal_key(b"", SequenceNumber(5), ValueType::Value);
        assert_eq!(compare_internal_keys(&empty, &short), Ordering::Less);
    }

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        let k = make_internal_key(b"key", SequenceNumber::MAX, ValueType::Deletion);
        let p = parse_internal_key(&k).expect("valid key");
        assert_eq!(p.user_key, b"key");
        assert_eq!(p.sequence, SequenceNumber::MAX);
        assert_eq!(p.value_type, ValueType::Deletion);
        assert!(parse_internal_key(b"short").is_none());
        let mut bad = make_internal_key(b"k", SequenceNumber(1), ValueType::Value);
        let n = bad.len() - 8;
        bad[n] = 7;
        assert!(parse_internal_key(&bad).is_none());
    }
}
