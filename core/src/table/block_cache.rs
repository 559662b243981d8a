//! A cache of decoded data blocks shared by every table of a Db (LevelDB's block cache,
//! plyvel's `lru_cache_size`), bounded in bytes; a segmented LRU, so blocks read only
//! once leave before blocks that are read again (see [`Segment`]). A point
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

/// Share of a shard kept for blocks that were hit after being loaded.
const PROTECTED_PERCENT: usize = 80;

/// Which recency list a block is on. New blocks start in `Probation`; a hit moves a block
/// to `Protected`. Eviction takes the least recently used probationary block first, so a
/// stream of blocks read once (a scan, a lookup in a large level) passes through without
/// pushing out the blocks that are read again and again (level 0, level 1, hot keys).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Segment {
    Probation = 0,
    Protected = 1,
}

struct Slot {
    key: Key,
    block: Option<Arc<Block>>,
    charge: usize,
    segment: Segment,
    /// Neighbours in the segment's list: `prev` towards the most recently used.
    prev: usize,
    next: usize,
}

/// A recency list threaded through the slots, most recently used at `head`.
#[derive(Clone, Copy)]
struct List {
    head: usize,
    tail: usize,
    bytes: usize,
}

const EMPTY_LIST: List = List {
    head: NIL,
    tail: NIL,
    bytes: 0,
};

/// One segmented LRU: slots in a slab, linked into two recency lists, so lookups, inserts
/// and evictions are O(1).
struct Shard {
    capacity: usize,
    protected_capacity: usize,
    map: IntMap<Key, usize>,
    slots: Vec<Slot>,
    free_slots: Vec<usize>,
    lists: [List; 2],
    spare: Vec<Vec<u8>>,
}

impl Shard {
    fn new(capacity: usize) -> Shard {
        Shard {
            capacity,
            protected_capacity: capacity / 100 * PROTECTED_PERCENT,
            map: IntMap::default(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            lists: [EMPTY_LIST; 2],
            spare: Vec::new(),
        }
    }

    fn used(&self) -> usize {
        self.lists[0].bytes + self.lists[1].bytes
    }

    fn unlink(&mut self, i: usize) {
        let Slot {
            prev,
            next,
            segment,
            charge,
            ..
        } = self.slots[i];
        let list = &mut self.lists[segment as usize];
        list.bytes -= charge;
        match prev {
            NIL => list.head = next,
            p => self.slots[p].next = next,
        }
        match next {
            NIL => self.lists[segment as usize].tail = prev,
            n => self.slots[n].prev = prev,
        }
    }

    fn push_front(&mut self, i: usize, segment: Segment) {
        let list = &mut self.lists[segment as usize];
        let old_head = list.head;
        list.head = i;
        list.bytes += self.slots[i].charge;
        match old_head {
            NIL => list.tail = i,
            h => self.slots[h].prev = i,
        }
        let slot = &mut self.slots[i];
        slot.segment = segment;
        slot.prev = NIL;
        slot.next = old_head;
    }

    fn get(&mut self, key: &Key) -> Option<Arc<Block>> {
        let i = *self.map.get(key)?;
        if self.lists[Segment::Protected as usize].head != i {
            self.unlink(i);
            self.push_front(i, Segment::Protected);
            // Demote the coldest protected blocks; they get another chance on probation.
            while self.lists[Segment::Protected as usize].bytes > self.protected_capacity {
                let coldest = self.lists[Segment::Protected as usize].tail;
                self.unlink(coldest);
                self.push_front(coldest, Segment::Probation);
            }
        }
        self.slots[i].block.clone()
    }

    fn insert(&mut self, key: Key, block: Arc<Block>, charge: usize) {
        if let Some(&i) = self.map.get(&key) {
            // Loaded twice by racing readers: keep the newer copy.
            self.unlink(i);
            self.slots[i].charge = charge;
            let old = self.slots[i].block.replace(block);
            self.recycle(old);
            self.push_front(i, Segment::Probation);
        } else {
            let slot = Slot {
                key,
                block: Some(block),
                charge,
                segment: Segment::Probation,
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
            self.push_front(i, Segment::Probation);
        }
        while self.used() > self.capacity {
            let victim = match self.lists[Segment::Probation as usize].tail {
                NIL => self.lists[Segment::Protected as usize].tail,
                t => t,
            };
            if victim == NIL {
                break;
            }
            self.evict(victim);
        }
    }

    fn evict(&mut self, i: usize) {
        self.unlink(i);
        let key = self.slots[i].key;
        self.map.remove(&key);
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

    /// Whether the block is cached, without counting as a use of it.
    pub fn contains(&self, cache_id: u64, offset: u64) -> bool {
        let key = (cache_id, offset);
        self.shard(&key).lock().map.contains_key(&key)
    }

    /// A buffer to read the block at (`cache_id`, `offset`) into: the contents of an
    /// evicted block when one is spare, else empty. Its length is whatever it held.
    pub fn take_buffer(&self, cache_id: u64, offset: u64) -> Vec<u8> {
        let key = (cache_id, offset);
        self.shard(&key).lock().spare.pop().unwrap_or_default()
    }

    /// Bytes of blocks held.
    pub fn usage(&self) -> usize {
        self.shards.iter().map(|s| s.lock().used()).sum()
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
    fn evicted_buffers_are_reused_unless_a_reader_still_holds_the_block() {
        let one = block(30);
        let cache = BlockCache::new(one.size() * 3);
        let id = new_cache_id();
        assert!(cache.take_buffer(id, 0).is_empty(), "nothing evicted yet");
        let held = block(30);
        cache.insert(id, 0, Arc::clone(&held));
        for offset in 1..4u64 {
            cache.insert(id, offset, block(30));
        }
        assert!(cache.get(id, 0).is_none(), "block 0 was evicted");
        assert!(
            cache.take_buffer(id, 9).is_empty(),
            "a block still held by a reader is not recycled"
        );
        cache.insert(id, 4, block(30));
        let buf = cache.take_buffer(id, 9);
        assert_eq!(buf.len(), one.size(), "block 1's buffer comes back whole");
        assert!(held.size() > 0);
    }

    #[test]
    fn a_large_cache_is_sharded_and_still_bounded() {
        let one = block(30);
        let capacity = 8 << 20;
        let cache = BlockCache::new(capacity);
        assert_eq!(cache.shards.len(), 8);
        let id = new_cache_id();
        let n = 2 * capacity / one.size();
        for offset in 0..n as u64 {
            cache.insert(id, offset * 4096, block(30));
            assert!(cache.usage() <= capacity);
        }
        assert!(cache.usage() > capacity * 9 / 10, "{}", cache.usage());
        assert!(cache.get(id, (n as u64 - 1) * 4096).is_some());
        assert!(cache.get(id, 0).is_none());
    }

    #[test]
    fn blocks_read_again_survive_a_stream_of_blocks_read_once() {
        let one = block(30);
        let cache = BlockCache::new(one.size() * 10);
        let id = new_cache_id();
        for offset in 0..3u64 {
            cache.insert(id, offset, block(30));
            assert!(cache.get(id, offset).is_some());
        }
        for offset in 100..200u64 {
            cache.insert(id, offset, block(30));
        }
        for offset in 0..3u64 {
            assert!(
                cache.get(id, offset).is_some(),
                "hot block {offset} evicted"
            );
        }
        assert!(cache.get(id, 199).is_some(), "the newest block is cached");
        assert!(cache.get(id, 150).is_none());
        assert!(cache.usage() <= one.size() * 10);
    }

    #[test]
    fn protected_blocks_are_bounded_and_age_out_when_no_longer_read() {
        let one = block(30);
        let cache = BlockCache::new(one.size() * 10);
        let id = new_cache_id();
        // Every block is hit once, so all compete for the protected share.
        for offset in 0..30u64 {
            cache.insert(id, offset, block(30));
            assert!(cache.get(id, offset).is_some());
            assert!(cache.usage() <= one.size() * 10);
        }
        assert!(cache.get(id, 0).is_none(), "the oldest hot block aged out");
        assert!(cache.get(id, 29).is_some());
    }

    #[test]
    fn a_block_larger_than_the_cache_is_not_kept() {
        let cache = BlockCache::new(10);
        cache.insert(1, 0, block(5));
        assert!(cache.get(1, 0).is_none());
        assert_eq!(cache.usage(), 0);
    }
}
