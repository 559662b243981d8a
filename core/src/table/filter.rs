//! Bloom filters as LevelDB builds them (`filter.leveldb.BuiltinBloomFilter2`) and the
//! filter block that holds one filter per 2 KiB of data-block offsets, over user keys.

use crate::coding::{decode_fixed32, put_fixed32};

/// Name stored in the meta-index (after `filter.`); LevelDB ignores filters of other names.
pub const BLOOM_FILTER_NAME: &str = "leveldb.BuiltinBloomFilter2";

/// Meta-index key of the filter block.
pub const FILTER_META_KEY: &str = "filter.leveldb.BuiltinBloomFilter2";

/// One filter per `1 << FILTER_BASE_LG` bytes of data-block offset.
const FILTER_BASE_LG: u8 = 11;

/// LevelDB's `Hash` (util/hash.cc), a murmur-like hash. The tail step runs only when
/// 1–3 bytes are left over, which matters for keys whose length is a multiple of 4.
pub fn leveldb_hash(data: &[u8], seed: u32) -> u32 {
    const M: u32 = 0xc6a4_a793;
    let mut h = seed ^ (data.len() as u32).wrapping_mul(M);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        let w = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        h = h.wrapping_add(w).wrapping_mul(M);
        h ^= h >> 16;
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        for (i, &b) in rest.iter().enumerate().rev() {
            h = h.wrapping_add(u32::from(b) << (8 * i));
        }
        h = h.wrapping_mul(M);
        h ^= h >> 24;
    }
    h
}

/// The hash a bloom filter sets bits from; filters can be built from these alone.
pub fn bloom_hash(key: &[u8]) -> u32 {
    leveldb_hash(key, 0xbc9f_1d34)
}

/// The bloom filter policy: `bits_per_key` bits per key, k probes by double hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BloomFilterPolicy {
    pub bits_per_key: usize,
}

impl BloomFilterPolicy {
    pub fn name(&self) -> &'static str {
        BLOOM_FILTER_NAME
    }

    /// Probes per key: bits_per_key × ln 2, rounded down, clamped to 1..=30.
    fn probes(&self) -> u8 {
        ((self.bits_per_key as f64 * 0.69) as usize).clamp(1, 30) as u8
    }

    /// Appends a filter for `keys` to `dst`: the bit array, then one byte holding k.
    pub fn create_filter(&self, keys: &[&[u8]], dst: &mut Vec<u8>) {
        let hashes: Vec<u32> = keys.iter().map(|k| bloom_hash(k)).collect();
        self.create_filter_from_hashes(&hashes, dst);
    }

    /// [`Self::create_filter`] for keys known only by their [`bloom_hash`].
    pub fn create_filter_from_hashes(&self, hashes: &[u32], dst: &mut Vec<u8>) {
        let bits = (hashes.len() * self.bits_per_key).max(64);
        let bytes = bits.div_ceil(8);
        let bits = bytes * 8;
        let k = self.probes();
        let start = dst.len();
        dst.resize(start + bytes, 0);
        dst.push(k);
        let array = &mut dst[start..start + bytes];
        for &hash in hashes {
            let mut h = hash;
            let delta = h.rotate_right(17);
            for _ in 0..k {
                let bit = h as usize % bits;
                array[bit / 8] |= 1 << (bit % 8);
                h = h.wrapping_add(delta);
            }
        }
    }

    /// False only if `key` was certainly not among the keys of `filter`.
    pub fn key_may_match(&self, key: &[u8], filter: &[u8]) -> bool {
        let Some((&k, array)) = filter.split_last() else {
            return false;
        };
        if array.is_empty() {
            return false;
        }
        if k > 30 {
            // Reserved for encodings LevelDB may add; treat as "might match".
            return true;
        }
        let bits = array.len() * 8;
        let mut h = bloom_hash(key);
        let delta = h.rotate_right(17);
        for _ in 0..k {
            let bit = h as usize % bits;
            if array[bit / 8] & (1 << (bit % 8)) == 0 {
                return false;
            }
            h = h.wrapping_add(delta);
        }
        true
    }
}

/// Builds the filter block of a table while its data blocks are written.
pub struct FilterBlockBuilder {
    policy: BloomFilterPolicy,
    /// [`bloom_hash`]es of the current filter's user keys: all a filter needs.
    hashes: Vec<u32>,
    result: Vec<u8>,
    filter_offsets: Vec<u32>,
}

impl FilterBlockBuilder {
    pub fn new(policy: BloomFilterPolicy) -> FilterBlockBuilder {
        FilterBlockBuilder {
            policy,
            hashes: Vec::new(),
            result: Vec::new(),
            filter_offsets: Vec::new(),
        }
    }

    /// Called when a data block starts at `block_offset`: closes filters up to it.
    pub fn start_block(&mut self, block_offset: u64) {
        let index = block_offset >> FILTER_BASE_LG;
        while index > self.filter_offsets.len() as u64 {
            self.generate_filter();
        }
    }

    pub fn add_key(&mut self, user_key: &[u8]) {
        self.add_key_hash(bloom_hash(user_key));
    }

    /// [`Self::add_key`] for a key already hashed with [`bloom_hash`].
    pub fn add_key_hash(&mut self, hash: u32) {
        self.hashes.push(hash);
    }

    /// Returns the finished block: filters, their offsets, the offset array's offset, 11.
    pub fn finish(&mut self) -> &[u8] {
        if !self.hashes.is_empty() {
            self.generate_filter();
        }
        let array_offset = self.result.len() as u32;
        for &o in &self.filter_offsets {
            put_fixed32(&mut self.result, o);
        }
        put_fixed32(&mut self.result, array_offset);
        self.result.push(FILTER_BASE_LG);
        &self.result
    }

    fn generate_filter(&mut self) {
        self.filter_offsets.push(self.result.len() as u32);
        if self.hashes.is_empty() {
            return;
        }
        self.policy
            .create_filter_from_hashes(&self.hashes, &mut self.result);
        self.hashes.clear();
    }
}

/// Answers "may this data block hold the key?" from a table's filter block.
/// A malformed block answers "maybe" (as LevelDB): a filter only ever saves reads.
#[derive(Debug)]
pub struct FilterBlockReader {
    policy: BloomFilterPolicy,
    data: Vec<u8>,
    /// Start of the offset array within `data`.
    offsets_at: usize,
    num: usize,
    base_lg: u8,
}

impl FilterBlockReader {
    pub fn new(policy: BloomFilterPolicy, contents: Vec<u8>) -> FilterBlockReader {
        let mut reader = FilterBlockReader {
            policy,
            data: Vec::new(),
            offsets_at: 0,
            num: 0,
            base_lg: 0,
        };
        let n = contents.len();
        if n < 5 {
            return reader;
        }
        let base_lg = contents[n - 1];
        let offsets_at = decode_fixed32(&contents[n - 5..]).unwrap_or(u32::MAX) as usize;
        if offsets_at > n - 5 {
            return reader;
        }
        reader.num = (n - 5 - offsets_at) / 4;
        reader.offsets_at = offsets_at;
        reader.base_lg = base_lg;
        reader.data = contents;
        reader
    }

    pub fn key_may_match(&self, block_offset: u64, user_key: &[u8]) -> bool {
        let index = block_offset
            .checked_shr(u32::from(self.base_lg))
            .unwrap_or(0);
        if index >= self.num as u64 {
            return true;
        }
        let at = self.offsets_at + index as usize * 4;
        let (Some(start), Some(limit)) = (
            self.data.get(at..).and_then(decode_fixed32),
            self.data.get(at + 4..).and_then(decode_fixed32),
        ) else {
            return true;
        };
        let (start, limit) = (start as usize, limit as usize);
        if start < limit && limit <= self.offsets_at {
            self.policy
                .key_may_match(user_key, &self.data[start..limit])
        } else {
            // An empty filter covers no keys; anything else malformed means "maybe".
            start != limit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_leveldb_hash_test_vectors() {
        let data5: [u8; 48] = [
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
            0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(leveldb_hash(&[], 0xbc9f1d34), 0xbc9f1d34);
        assert_eq!(leveldb_hash(&[0x62], 0xbc9f1d34), 0xef1345c4);
        assert_eq!(leveldb_hash(&[0xc3, 0x97], 0xbc9f1d34), 0x5b663814);
        assert_eq!(leveldb_hash(&[0xe2, 0x99, 0xa5], 0xbc9f1d34), 0x323c078f);
        assert_eq!(
            leveldb_hash(&[0xe1, 0x80, 0xb9, 0x32], 0xbc9f1d34),
            0xed21633a
        );
        assert_eq!(leveldb_hash(&data5, 0x12345678), 0xf333dabb);
    }

    fn filter_for(policy: &BloomFilterPolicy, keys: &[Vec<u8>]) -> Vec<u8> {
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut f = Vec::new();
        policy.create_filter(&refs, &mut f);
        f
    }

    #[test]
    fn filter_layout_is_bits_then_probe_count() {
        let policy = BloomFilterPolicy { bits_per_key: 10 };
        let f = filter_for(&policy, &[b"hello".to_vec(), b"world".to_vec()]);
        // 2 keys × 10 bits is below the 64-bit minimum: 8 bytes, then k = 6.
        assert_eq!(f.len(), 9);
        assert_eq!(f[8], 6);
        assert!(policy.key_may_match(b"hello", &f));
        assert!(policy.key_may_match(b"world", &f));
        assert!(!policy.key_may_match(b"x", &[]));
        assert!(!policy.key_may_match(b"x", &[6]));
    }

    #[test]
    fn sixteen_byte_keys_all_match_their_filter() {
        let policy = BloomFilterPolicy { bits_per_key: 10 };
        let keys: Vec<Vec<u8>> = (0..1000u64)
            .map(|i| {
                let mut k = i.to_le_bytes().to_vec();
                k.extend_from_slice(&(i * 7919).to_be_bytes());
                k
            })
            .collect();
        let f = filter_for(&policy, &keys);
        for k in &keys {
            assert_eq!(k.len(), 16);
            assert!(policy.key_may_match(k, &f));
        }
    }

    #[test]
    fn false_positive_rate_is_about_one_percent_at_ten_bits_per_key() {
        let policy = BloomFilterPolicy { bits_per_key: 10 };
        for n in [100u32, 1000, 10_000] {
            let keys: Vec<Vec<u8>> = (0..n).map(|i| i.to_le_bytes().to_vec()).collect();
            let f = filter_for(&policy, &keys);
            assert!(f.len() <= (n as usize * 10 / 8) + 40);
            for k in &keys {
                assert!(policy.key_may_match(k, &f));
            }
            let probes = 10_000u32;
            let hits = (0..probes)
                .filter(|i| policy.key_may_match(&(i + 1_000_000_000).to_le_bytes(), &f))
                .count();
            let rate = hits as f64 / f64::from(probes);
            assert!(rate < 0.02, "n={n}: false positive rate {rate}");
        }
    }

    #[test]
    fn filter_block_layout_matches_leveldb_for_an_empty_builder() {
        let mut b = FilterBlockBuilder::new(BloomFilterPolicy { bits_per_key: 10 });
        assert_eq!(b.finish(), &[0, 0, 0, 0, 11]);
    }

    #[test]
    fn filter_block_has_one_filter_per_two_kib_of_offsets() {
        let policy = BloomFilterPolicy { bits_per_key: 10 };
        let mut b = FilterBlockBuilder::new(policy);
        b.start_block(100);
        b.add_key(b"foo");
        b.add_key(b"bar");
        b.start_block(200);
        b.add_key(b"box");
        b.start_block(300);
        b.add_key(b"hello");
        b.start_block(9000);
        b.add_key(b"late");
        let block = b.finish().to_vec();
        let r = FilterBlockReader::new(policy, block);
        assert_eq!(r.num, 5);
        for k in [&b"foo"[..], b"bar", b"box", b"hello"] {
            assert!(r.key_may_match(100, k));
        }
        assert!(!r.key_may_match(100, b"missing"));
        // Offsets 2048..8191 got empty filters: nothing matches there.
        assert!(!r.key_may_match(3100, b"foo"));
        assert!(!r.key_may_match(7000, b"late"));
        assert!(r.key_may_match(9000, b"late"));
        assert!(!r.key_may_match(9000, b"foo"));
        // Past the last filter the reader cannot tell, so it says maybe.
        assert!(r.key_may_match(1 << 30, b"anything"));
    }

    #[test]
    fn malformed_filter_blocks_answer_maybe_without_panicking() {
        let policy = BloomFilterPolicy { bits_per_key: 10 };
        for bad in [vec![], vec![1, 2, 3], vec![0xff, 0xff, 0xff, 0xff, 11]] {
            let r = FilterBlockReader::new(policy, bad);
            assert!(r.key_may_match(0, b"k"));
        }
        let mut b = FilterBlockBuilder::new(policy);
        b.start_block(0);
        b.add_key(b"k");
        let good = b.finish().to_vec();
        for i in 0..good.len() {
            for x in [1u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= x;
                let r = FilterBlockReader::new(policy, bad);
                for off in [0, 1 << 11, u64::MAX] {
                    r.key_may_match(off, b"k");
                }
            }
        }
    }
}
