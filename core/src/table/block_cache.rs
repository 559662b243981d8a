//! A cache of decoded data blocks shared by every table of a Db (LevelDB's block cache,
//! plyvel's `lru_cache_size`), bounded in bytes, least recently used out first. A point
//! read of a hot key then costs an index seek and a block seek, not a pread, a checksum
//! and a decode.
//!
//! Blocks are cached only after their checksum was verified, so a read that asks for
//! verification never gets unverified bytes from the cache.

use std::collections::HashMap;
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

struct Entry {
    block: Arc<Block>,
    charge: usize,
    last_used: u64,
}

struct Inner {
    map: HashMap<Key, Entry>,
    used: usize,
    clock: u64,
}

pub struct BlockCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl BlockCache {
    pub fn new(capacity_bytes: usize) -> BlockCache {
        BlockCache {
            capacity: capacity_bytes,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                used: 0,
                clock: 0,
            }),
        }
    }

    pub fn get(&self, cache_id: u64, offset: u64) -> Option<Arc<Block>> {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.map.get_mut(&(cache_id, offset))?;
        entry.last_used = now;
        Some(Arc::clone(&entry.block))
    }

    pub fn insert(&self, cache_id: u64, offset: u64, block: Arc<Block>) {
        let charge = block.size();
        if charge > self.capacity {
            return;
        }
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let now = inner.clock;
        let entry = Entry {
            block,
            charge,
            last_used: now,
        };
        if let Some(old) = inner.map.insert((cache_id, offset), entry) {
            inner.used -= old.charge;
        }
        inner.used += charge;
        while inner.used > self.capacity {
            // Evicting in batches of the oldest eighth keeps the scan cost amortised.
            let mut ages: Vec<(u64, Key)> =
                inner.map.iter().map(|(k, e)| (e.last_used, *k)).collect();
            let n = (ages.len() / 8).max(1);
            ages.select_nth_unstable(n - 1);
            for (_, key) in ages.into_iter().take(n) {
                if let Some(old) = inner.map.remove(&key) {
                    inner.used -= old.charge;
                }
            }
        }
    }

    /// Bytes of blocks held.
    pub fn usage(&self) -> usize {
        self.inner.lock().used
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
