//! A memtable entry: one heap block holding the encoded internal key and the value,
//! behind a skiplist key that keeps the user key's first bytes, its length and the tag
//! inline, so that most comparisons never leave the skiplist node.

use std::cmp::Ordering;

use crate::coding::{decode_fixed64, put_fixed64};
use crate::key::extract_user_key;

/// User-key bytes a node keeps inline. Keys that differ in their first 16 bytes (or are no
/// longer than that) compare without touching the entry's heap bytes: one cache miss per
/// skiplist step instead of two, and no `memcmp` call.
const PREFIX_LEN: usize = 16;

/// One memtable entry, and the skiplist's key: ordered as `compare_internal_keys` orders
/// the internal key it holds. A lookup key has the same shape with no value.
pub(super) struct MemEntry {
    /// The first [`PREFIX_LEN`] user-key bytes, zero-padded, big-endian: ordering
    /// `(prefix_hi, prefix_lo)` orders those bytes.
    prefix_hi: u64,
    prefix_lo: u64,
    /// `(sequence << 8) | type`; newer sorts first.
    pub(super) tag: u64,
    pub(super) user_len: usize,
    /// `user key ++ fixed64(tag) ++ value` for a stored entry. For a lookup key: the user
    /// key when it is longer than [`PREFIX_LEN`], else empty (comparisons never read it).
    pub(super) data: Box<[u8]>,
}

impl MemEntry {
    /// A stored entry: one allocation holding the encoded internal key and the value.
    pub(super) fn new(user_key: &[u8], tag: u64, value: &[u8]) -> MemEntry {
        let mut data = Vec::with_capacity(user_key.len() + 8 + value.len());
        data.extend_from_slice(user_key);
        put_fixed64(&mut data, tag);
        data.extend_from_slice(value);
        let (prefix_hi, prefix_lo) = prefix_of(user_key);
        MemEntry {
            prefix_hi,
            prefix_lo,
            tag,
            user_len: user_key.len(),
            data: data.into_boxed_slice(),
        }
    }

    /// A search key; allocates only for user keys longer than [`PREFIX_LEN`].
    pub(super) fn lookup(user_key: &[u8], tag: u64) -> MemEntry {
        let (prefix_hi, prefix_lo) = prefix_of(user_key);
        MemEntry {
            prefix_hi,
            prefix_lo,
            tag,
            user_len: user_key.len(),
            data: if user_key.len() > PREFIX_LEN {
                user_key.into()
            } else {
                Box::default()
            },
        }
    }

    /// A search key for an encoded internal key, split as `compare_internal_keys` splits
    /// it (a key shorter than 8 bytes is all user key with tag 0).
    pub(super) fn lookup_internal(internal_key: &[u8]) -> MemEntry {
        let user_key = extract_user_key(internal_key);
        let tag = internal_key
            .get(user_key.len()..)
            .and_then(decode_fixed64)
            .unwrap_or(0);
        MemEntry::lookup(user_key, tag)
    }

    pub(super) fn internal_key(&self) -> &[u8] {
        self.data.get(..self.user_len + 8).unwrap_or_default()
    }

    pub(super) fn user_key(&self) -> &[u8] {
        self.data.get(..self.user_len).unwrap_or_default()
    }

    pub(super) fn value(&self) -> &[u8] {
        self.data.get(self.user_len + 8..).unwrap_or_default()
    }

    /// The user-key bytes past the inline prefix (stored and long lookup keys hold them).
    fn user_key_tail(&self) -> &[u8] {
        self.data.get(PREFIX_LEN..self.user_len).unwrap_or_default()
    }

    /// Orders two user keys whose first [`PREFIX_LEN`] bytes (zero-padded) are equal. If
    /// either is that short, it is a prefix of the other (the other's extra bytes in the
    /// padded range are zeros), so the shorter sorts first; else the tails decide.
    fn cmp_user_beyond_prefix(&self, other: &MemEntry) -> Ordering {
        if self.user_len <= PREFIX_LEN || other.user_len <= PREFIX_LEN {
            self.user_len.cmp(&other.user_len)
        } else {
            self.user_key_tail().cmp(other.user_key_tail())
        }
    }
}

fn prefix_of(user_key: &[u8]) -> (u64, u64) {
    let mut bytes = [0u8; PREFIX_LEN];
    let n = user_key.len().min(PREFIX_LEN);
    bytes[..n].copy_from_slice(&user_key[..n]);
    let p = u128::from_be_bytes(bytes);
    ((p >> 64) as u64, p as u64)
}

impl Ord for MemEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.prefix_hi, self.prefix_lo)
            .cmp(&(other.prefix_hi, other.prefix_lo))
            .then_with(|| self.cmp_user_beyond_prefix(other))
            .then_with(|| other.tag.cmp(&self.tag))
    }
}

impl PartialOrd for MemEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MemEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for MemEntry {}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::key::{pack_sequence_and_type, SequenceNumber, ValueType};

    /// Keys of 0..=20 bytes over {0, 1, 0xff}: prefixes of each other, zero padding
    /// look-alikes, and lengths on both sides of the inline prefix.
    pub(in crate::memtable) fn tricky_user_keys() -> Vec<Vec<u8>> {
        let mut keys = vec![Vec::new()];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..=20usize {
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
    fn entry_order_is_internal_key_order_for_every_key_shape() {
        let keys = tricky_user_keys();
        let tags = [
            pack_sequence_and_type(SequenceNumber(1), ValueType::Value),
            pack_sequence_and_type(SequenceNumber(7), ValueType::Deletion),
            pack_sequence_and_type(SequenceNumber::MAX, ValueType::Value),
        ];
        let encoded: Vec<(Vec<u8>, u64)> = keys
            .iter()
            .flat_map(|k| tags.iter().map(move |&t| (k.clone(), t)))
            .collect();
        for (ua, ta) in &encoded {
            let a = MemEntry::new(ua, *ta, b"value a");
            let mut ia = ua.clone();
            put_fixed64(&mut ia, *ta);
            for (ub, tb) in &encoded {
                let mut ib = ub.clone();
                put_fixed64(&mut ib, *tb);
                let want = crate::key::compare_internal_keys(&ia, &ib);
                let b = MemEntry::new(ub, *tb, b"b");
                assert_eq!(a.cmp(&b), want, "{ia:?} vs {ib:?}");
                assert_eq!(a.cmp(&MemEntry::lookup(ub, *tb)), want);
                assert_eq!(MemEntry::lookup_internal(&ia).cmp(&b), want);
            }
            assert_eq!(a.internal_key(), &ia[..]);
            assert_eq!(a.user_key(), &ua[..]);
            assert_eq!(a.value(), b"value a");
        }
    }
}
