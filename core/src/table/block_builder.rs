//! Builds one table block: prefix-compressed entries with a restart point (an entry
//! stored whole) every `restart_interval` entries, then the restart offsets and their count.

use crate::coding::{put_fixed32, put_varint32};

/// Accumulates sorted entries into LevelDB's block layout. Not thread-safe; one builder
/// per block being written.
pub struct BlockBuilder {
    restart_interval: usize,
    buffer: Vec<u8>,
    restarts: Vec<u32>,
    /// Entries since the last restart point.
    counter: usize,
    finished: bool,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    /// `restart_interval` is clamped to at least 1 (every entry a restart point).
    pub fn new(restart_interval: usize) -> BlockBuilder {
        BlockBuilder {
            restart_interval: restart_interval.max(1),
            buffer: Vec::new(),
            restarts: vec![0],
            counter: 0,
            finished: false,
            last_key: Vec::new(),
        }
    }

    /// Forgets everything added, ready for the next block.
    pub fn reset(&mut self) {
        self.buffer.clear();
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.finished = false;
        self.last_key.clear();
    }

    /// Appends an entry. Keys must arrive in the block's sort order (the caller checks).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(!self.finished, "add after finish");
        let shared = if self.counter < self.restart_interval {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        } else {
            self.restarts.push(self.buffer.len() as u32);
            self.counter = 0;
            0
        };
        let non_shared = key.len() - shared;
        put_varint32(&mut self.buffer, shared as u32);
        put_varint32(&mut self.buffer, non_shared as u32);
        put_varint32(&mut self.buffer, value.len() as u32);
        self.buffer.extend_from_slice(&key[shared..]);
        self.buffer.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(&key[shared..]);
        self.counter += 1;
    }

    /// Appends the restart array and returns the finished block. Valid until `reset`.
    pub fn finish(&mut self) -> &[u8] {
        if !self.finished {
            for &r in &self.restarts {
                put_fixed32(&mut self.buffer, r);
            }
            put_fixed32(&mut self.buffer, self.restarts.len() as u32);
            self.finished = true;
        }
        &self.buffer
    }

    /// Size of the block if it were finished now (uncompressed).
    pub fn current_size_estimate(&self) -> usize {
        if self.finished {
            self.buffer.len()
        } else {
            self.buffer.len() + self.restarts.len() * 4 + 4
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_block_is_one_restart_at_zero() {
        let mut b = BlockBuilder::new(16);
        assert!(b.is_empty());
        assert_eq!(b.current_size_estimate(), 8);
        assert_eq!(b.finish(), &[0, 0, 0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn shared_prefix_is_stored_once_and_restarts_store_whole_keys() {
        let mut b = BlockBuilder::new(2);
        b.add(b"apple", b"1");
        b.add(b"apply", b"22");
        b.add(b"apricot", b"");
        let block = b.finish().to_vec();
        let mut expected = vec![0, 5, 1];
        expected.extend_from_slice(b"apple1");
        expected.extend_from_slice(&[4, 1, 2]);
        expected.extend_from_slice(b"y22");
        let second_restart = expected.len() as u32;
        expected.extend_from_slice(&[0, 7, 0]);
        expected.extend_from_slice(b"apricot");
        expected.extend_from_slice(&0u32.to_le_bytes());
        expected.extend_from_slice(&second_restart.to_le_bytes());
        expected.extend_from_slice(&2u32.to_le_bytes());
        assert_eq!(block, expected);
    }

    #[test]
    fn size_estimate_matches_finished_size_and_reset_starts_over() {
        let mut b = BlockBuilder::new(1);
        for i in 0..40u32 {
            b.add(format!("key{i:04}").as_bytes(), b"v");
        }
        let estimate = b.current_size_estimate();
        assert_eq!(b.finish().len(), estimate);
        b.reset();
        assert!(b.is_empty());
        b.add(b"k", b"v");
        assert_eq!(b.finish(), &[0, 1, 1, b'k', b'v', 0, 0, 0, 0, 1, 0, 0, 0]);
    }
}
