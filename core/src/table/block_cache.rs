//! A cache of decoded data blocks shared by every table of a Db (LevelDB's block cache,
//! plyvel's `lru_cache_size`), bounded in bytes, least recently used out first. A point
//! read of a hot key then costs an index seek and a block seek, not a pread, a checksum
//! and a decode.
//!
//! Blocks are cached only after their checksum was verified, so a read that asks for
//! verification never gets unverified bytes from the cache. The buffers of evicted blocks
//! nobody still holds are kept (a few per shard) for the next block read, which then
//! needs neither an allocation nor zeroing.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::table::block::Block;

/// Identifies one open table in the cache; never reused within a process, so blocks of
/// a deleted file can never be mistaken for those of a new file with the same number.
pub fn new_cache_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

type Key = (u64, u64); // (cache id, block offset)

/// A multiply-rotate hash for keys made of integers the engine chose itself (cache ids,
/// offsets, file numbers): nothing an attacker picks, so no need for SipHash's cost.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A `HashMap` keyed by engine-chosen integers, hashed with [`IntHasher`].
pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// Marks the end of the recency list.
const NIL: usize = usize::MAX;

/// Spare buffers kept per shard; enough to cover the reads between two evictions.
const SPARE_BUFFERS: usize = 4;

/// Each shard holds at least this much, so a small cache is one shard (and one LRU).
const MIN_SHARD_BYTES: usize = 1 << 20;

const MAX_SHARDS: usize = 16;

struct Slot {
    key: Key,
    block: Option<Arc<Block>>,
    charge: usize,
    /// Neighbours in the recency list: `prev` towards the most recently used.
    prev: usize,
    next: usize,
}

/// One LRU: slots in a slab, linked from most (`head`) to least (`tail`) recently used,
/// so lookups, inserts and evictions are O(1).
struct Shard {
    capacity: usize,
    map: IntMap<Key, usize>,
    slots: Vec<Slot>,
    free_slots: Vec<usize>,
    head: usize,
    tail: usize,
    used: usize,
    spare: Vec<Vec<u8>>,
}

impl Shard {
    fn new(capacity: usize) -> Shard {
        Shard {
            capacity,
            map: IntMap::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            head: NIL,
            tail: NIL,
            used: 0,
            spare: Vec::new(),
        }
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.slots[i].prev, self.slots[i].next);
        match prev {
            NIL => self.head = next,
            p => self.slots[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n].prev = prev,
        }
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].prev = NIL;
        self.slots[i].next = self.head;
        match self.head {
            NIL => self.tail = i,
            h => self.slots[h].prev = i,
        }
        self.head = i;
    }

    fn get(&mut self, key: &Key) -> Option<Arc<Block>> {
        let i = *self.map.get(key)?;
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
        self.slots[i].block.clone()
    }

    fn insert(&mut self, key: Key, block: Arc<Block>, charge: usize) {
        if let Some(&i) = self.map.get(&key) {
            self.used = self.used - self.slots[i].charge + charge;
            self.slots[i].charge = charge;
            let old = self.slots[i].block.replace(block);
            self.recycle(old);
            self.unlink(i);
            self.push_front(i);
        } else {
            let slot = Slot {
                key,
                block: Some(block),
                charge,
                prev: NIL,
                next: NIL,
            };
            let i = match self.free_slots.pop() {
                Some(i) => {
                    self.slots[i] = slot;
                    i
                }
                None => {
                    self.slots.push(slot);
                    self.slots.len() - 1
                }
            };
            self.map.insert(key, i);
            self.push_front(i);
            self.used += charge;
        }
        while self.used > self.capacity && self.tail != NIL {
            self.evict(self.tail);
        }
    }

    fn evict(&mut self, i: usize) {
        self.unlink(i);
        let key = self.slots[i].key;
        self.map.remove(&key);
        self.used -= self.slots[i].charge;
        let old = self.slots[i].block.take();
        self.recycle(old);
        self.free_slots.push(i);
    }

    /// Keeps the buffer of a block that no reader still holds.
    fn recycle(&mut self, block: Option<Arc<Block>>) {
        if self.spare.len() >= SPARE_BUFFERS {
            return;
        }
        if let Some(block) = block.and_then(|b| Arc::try_unwrap(b).ok()) {
            self.spare.push(block.into_contents());
        }
    }
}

/// The shared block cache. `Send + Sync`; each shard has its own lock, held only for a
/// lookup or an insert (never during I/O).
pub struct BlockCache {
    shards: Vec<Mutex<Shard>>,
}

impl BlockCache {
    pub fn new(capacity_bytes: usize) -> BlockCache {
        let mut count = 1;
        while count < MAX_SHARDS && capacity_bytes / (count * 2) >= MIN_SHARD_BYTES {
            count *= 2;
        }
        let per_shard = capacity_bytes / count;
        BlockCache {
            shards: (0..count)
                .map(|_| Mutex::new(Shard::new(per_shard)))
                .collect(),
        }
    }

    fn shard(&self, key: &Key) -> &Mutex<Shard> {
        let mut h = IntHasher::default();
        h.write_u64(key.0);
        h.write_u64(key.1);
        // The high bits are the best mixed.
        let index = (h.finish() >> 32) as usize % self.shards.len();
        &self.shards[index]
    }

    pub fn get(&self, cache_id: u64, offset: u64) -> Option<Arc<Block>> {
        let key = (cache_id, offset);
        self.shard(&key).lock().get(&key)
    }

    pub fn insert(&self, cache_id: u64, offset: u64, block: Arc<Block>) {
        let key = (cache_id, offset);
        let charge = block.size();
        let mut shard = self.shard(&key).lock();
        if charge > shard.capacity {
            return;
        }
        shard.insert(key, block, charge);
    }

    /// A buffer to read the block at (`cache_id`, `offset`) into: the contents of an
    /// evicted block when one is spare, else empty. Its length is whatever it held.
    pub fn take_buffer(&self, cache_id: u64, offset: u64) -> Vec<u8> {
        let key = (cache_id, offset);
        self.shard(&key).lock().spare.pop().unwrap_or_default()
    }

    /// Bytes of blocks held.
    pub fn usage(&self) -> usize {
        self.shards.iter().map(|s| s.lock().used).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::block_builder::BlockBuilder;

    fn block(n: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(16);
        for i in 0..n {
            b.add(format!("key{i:06}").as_bytes(), &[7u8; 100]);
        }
        Arc::new(Block::new(b.finish().to_vec()).expect("valid block"))
    }

    #[test]
    fn hits_stay_within_capacity_and_recent_blocks_survive() {
        let one = block(30);
        let cache = BlockCache::new(one.size() * 10);
        let id = new_cache_id();
        for offset in 0..40u64 {
            cache.insert(id, offset, block(30));
            // Keep block 0 hot.
            assert!(cache.get(id, 0).is_some(), "hot block evicted at {offset}");
        }
        assert!(cache.usage() <= one.size() * 10);
        assert!(cache.get(id, 39).is_some(), "the newest block is cached");
        assert!(cache.get(id, 1).is_none(), "an old cold block was evicted");
        assert!(cache.get(new_cache_id(), 0).is_none(), "ids do not collide");
    }

    #[test]
    fn a_block_larger_than_the_cache_is_not_kept() {
        let cache = BlockCache::new(10);
        cache.insert(1, 0, block(5));
        assert!(cache.get(1, 0).is_none());
        assert_eq!(cache.usage(), 0);
    }
}
