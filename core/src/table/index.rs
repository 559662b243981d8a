//! The index block of an open table, decoded once when the table opens: every data
//! block's separator key and handle in flat arrays. Lookups binary-search 8-byte key
//! prefixes (one contiguous array, a few cache lines) and compare whole keys only on ties,
//! instead of decoding an entry of the index block at every probe.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::iterator::InternalIterator;
use crate::key::{compare_internal_keys, extract_user_key};
use crate::table::block::Block;
use crate::table::format::BlockHandle;

/// Separators and handles of a table's data blocks, in order. Immutable once built.
///
/// The last separator is left out of the prefix search: a table writer (LevelDB's, and
/// ours) stores a short successor of the last key there ("1" after "0000…999"), which
/// shares no prefix with the others and would make every prefix equal.
pub struct TableIndex {
    /// Bytes the user key of every separator but the last starts with.
    common: Vec<u8>,
    /// Per block but the last: the eight user-key bytes after `common`, zero-padded, as a
    /// big-endian number. A smaller prefix means a smaller key, so most probes compare
    /// numbers.
    prefixes: Vec<u64>,
    /// Per block: where its separator (an internal key) ends in `keys`; it starts where
    /// the previous one ends.
    key_ends: Vec<usize>,
    keys: Vec<u8>,
    handles: Vec<BlockHandle>,
}

impl TableIndex {
    /// Decodes an index block (internal-key order, block handles as values). Corruption
    /// when an entry or a handle is malformed.
    pub fn parse(block: &Arc<Block>) -> Result<TableIndex> {
        let mut keys = Vec::new();
        let mut key_ends = Vec::new();
        let mut handles = Vec::new();
        let mut common: Option<Vec<u8>> = None;
        let mut it = block.iter(compare_internal_keys);
        it.seek_to_first();
        while it.valid() {
            let handle = BlockHandle::decode_from(&mut it.value())
                .ok_or_else(|| Error::corruption("bad block handle in index block"))?;
            if let Some(last) = key_ends.last() {
                // The previous separator is not the last one: it counts towards `common`.
                let previous = extract_user_key(&keys[last_start(&key_ends)..*last]);
                match &mut common {
                    None => common = Some(previous.to_vec()),
                    Some(c) => {
                        let shared = c.iter().zip(previous).take_while(|(a, b)| a == b).count();
                        c.truncate(shared);
                    }
                }
            }
            keys.extend_from_slice(it.key());
            key_ends.push(keys.len());
            handles.push(handle);
            it.next();
        }
        it.status()?;
        let common = common.unwrap_or_default();
        let mut start = 0;
        let body = key_ends.len().saturating_sub(1);
        let prefixes = key_ends[..body]
            .iter()
            .map(|&end| {
                let user = extract_user_key(&keys[start..end]);
                start = end;
                prefix_after(user, common.len())
            })
            .collect();
        Ok(TableIndex {
            common,
            prefixes,
            key_ends,
            keys,
            handles,
        })
    }

    /// Number of data blocks.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Handle of data block `i`; None past the end.
    pub fn handle(&self, i: usize) -> Option<BlockHandle> {
        self.handles.get(i).copied()
    }

    /// The separator of data block `i` (>= every key in it, < every key of the next).
    pub fn key(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |p| self.key_ends[p]);
        &self.keys[start..self.key_ends[i]]
    }

    /// The first data block whose separator is >= `target` (an internal key): the only
    /// block that can hold `target`. `len()` when every separator is smaller.
    pub fn seek(&self, target: &[u8]) -> usize {
        let Some(last) = self.len().checked_sub(1) else {
            return 0;
        };
        let found = self.seek_body(target);
        if found < last {
            return found;
        }
        // Every separator but the last is smaller: the last decides.
        match compare_internal_keys(self.key(last), target) {
            Ordering::Less => self.len(),
            _ => last,
        }
    }

    /// [`TableIndex::seek`] over every separator but the last: the first one >= `target`,
    /// or `prefixes.len()` when all are smaller.
    fn seek_body(&self, target: &[u8]) -> usize {
        let user = extract_user_key(target);
        let n = self.common.len();
        let head = &user[..user.len().min(n)];
        match head.cmp(&self.common[..head.len()]) {
            Ordering::Less => return 0,
            Ordering::Greater => return self.prefixes.len(),
            // A proper prefix of `common` sorts before every separator it covers.
            Ordering::Equal if user.len() < n => return 0,
            Ordering::Equal => {}
        }
        let t = prefix_after(user, n);
        let (mut lo, mut hi) = (0, self.prefixes.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let less = match self.prefixes[mid].cmp(&t) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => compare_internal_keys(self.key(mid), target) == Ordering::Less,
            };
            if less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Where the last separator recorded in `key_ends` starts.
fn last_start(key_ends: &[usize]) -> usize {
    match key_ends {
        [.., before, _] => *before,
        _ => 0,
    }
}

/// The eight bytes of `user` after its first `skip`, zero-padded, big-endian: ordering
/// these never contradicts ordering the keys (a zero pad sorts like the key's end).
fn prefix_after(user: &[u8], skip: usize) -> u64 {
    let rest = user.get(skip..).unwrap_or_default();
    let mut bytes = [0u8; 8];
    let n = rest.len().min(8);
    bytes[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{make_internal_key, SequenceNumber, ValueType};
    use crate::table::block_builder::BlockBuilder;

    fn ikey(user: &[u8], seq: u64) -> Vec<u8> {
        make_internal_key(user, SequenceNumber(seq), ValueType::Value)
    }

    fn index_of(separators: &[Vec<u8>]) -> TableIndex {
        let mut b = BlockBuilder::new(1);
        for (i, k) in separators.iter().enumerate() {
            let h = BlockHandle {
                offset: i as u64 * 100,
                size: 90,
            };
            b.add(k, &h.encode());
        }
        let block = Arc::new(Block::new(b.finish().to_vec()).expect("block"));
        TableIndex::parse(&block).expect("index")
    }

    /// What a scan of the separators in internal-key order answers.
    fn linear_seek(separators: &[Vec<u8>], target: &[u8]) -> usize {
        separators
            .iter()
            .position(|s| compare_internal_keys(s, target) != Ordering::Less)
            .unwrap_or(separators.len())
    }

    #[test]
    fn seek_agrees_with_a_linear_scan_around_every_separator() {
        // Shared prefixes, keys that are prefixes of others, zero bytes, equal user keys
        // with different sequences, keys longer and shorter than the 8-byte prefix.
        let users: Vec<&[u8]> = vec![
            b"user0000",
            b"user0000\0",
            b"user0000\0\0",
            b"user00001",
            b"user0000123456789",
            b"user0000123456789",
            b"user00002",
            b"user0001",
            b"user00010000000000x",
            b"user001",
            // A short successor as the last separator, as table writers store.
            b"v",
        ];
        let mut separators: Vec<Vec<u8>> = users
            .iter()
            .enumerate()
            .map(|(i, u)| ikey(u, 100 - i as u64))
            .collect();
        separators.sort_by(|a, b| compare_internal_keys(a, b));
        let index = index_of(&separators);
        assert_eq!(index.common, b"user00");
        assert_eq!(index.len(), separators.len());
        let mut targets = vec![
            ikey(b"", 5),
            ikey(b"a", 5),
            ikey(b"user", 5),
            ikey(b"user00", 5),
            ikey(b"user1", 5),
            ikey(b"zzz", 5),
        ];
        for u in &users {
            for seq in [0, 50, 95, 100, 200] {
                targets.push(ikey(u, seq));
                let mut longer = u.to_vec();
                longer.push(0);
                targets.push(ikey(&longer, seq));
                targets.push(ikey(&u[..u.len() - 1], seq));
            }
        }
        for t in &targets {
            assert_eq!(
                index.seek(t),
                linear_seek(&separators, t),
                "target {:?}",
                String::from_utf8_lossy(t)
            );
        }
        for (i, s) in separators.iter().enumerate() {
            assert_eq!(index.key(i), &s[..]);
            assert_eq!(index.handle(i).map(|h| h.offset), Some(i as u64 * 100));
        }
        assert_eq!(index.handle(separators.len()), None);
    }

    #[test]
    fn an_empty_index_finds_nothing_and_a_bad_handle_is_corruption() {
        let index = index_of(&[]);
        assert!(index.is_empty());
        assert_eq!(index.seek(&ikey(b"k", 1)), 0);
        let mut b = BlockBuilder::new(1);
        b.add(&ikey(b"k", 1), &[0x80]);
        let block = Arc::new(Block::new(b.finish().to_vec()).expect("block"));
        let err = TableIndex::parse(&block).err().expect("bad handle");
        assert!(matches!(err, Error::Corruption(_)), "{err}");
    }
}
