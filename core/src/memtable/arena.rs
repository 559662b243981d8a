//! The memtable's memory: segments of 64-bit words that one writer fills front to back
//! and any number of readers read while it does, addressed by a plain `u64`. A memtable is
//! freed whole, a few segments at a time, rather than one allocation per entry.
//!
//! Words are atomics so that reading a word the writer may still be storing is defined
//! behaviour in safe Rust; a relaxed load or store of an aligned word is a plain `mov`.
//! Whatever a reader reaches through a link it loaded with `Acquire` was stored before the
//! writer published that link with `Release` (see `skiplist.rs`).

use std::sync::OnceLock;

use crate::sync::atomic::{AtomicU64, Ordering};

/// Where a word lives: the segment in the top bits, the word's index in it below.
pub(super) type Addr = u64;

/// No word: a null link. Segment 0 starts with the head node's links, so no node header,
/// which is what addresses name, is ever at address 0.
pub(super) const NULL: Addr = 0;

const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

/// Segment slots. Segments grow with the arena (see [`Arena::next_segment_words`]), so
/// this many hold far more than any machine's memory: a true invariant, not a limit.
const MAX_SEGMENTS: usize = 1024;

/// The first segments' size, in words (4 KiB): a small memtable stays small. In a loom
/// model every word is a modelled atomic, so segments there are small.
#[cfg(not(loom))]
const MIN_SEGMENT_WORDS: usize = 512;
#[cfg(loom)]
const MIN_SEGMENT_WORDS: usize = 32;

/// Segments stop growing with the arena at this size (2 MiB) until the arena is 32 times
/// larger, so the unused tail of the newest segment stays small...
const STEADY_SEGMENT_WORDS: usize = 256 * 1024;

/// ...after which each new segment is this fraction of the arena (about 3%), which keeps
/// the number of segments logarithmic in the arena's size.
const LARGE_ARENA_DIVISOR: usize = 32;

/// The shared part of an arena: its segments, each created once and never moved or freed
/// before the arena is.
pub(super) struct Arena {
    segments: Box<[OnceLock<Box<[AtomicU64]>>]>,
}

/// The writer's position: only the (single, serialized) writer holds one.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    /// Segments created so far; the newest is `segments - 1`.
    segments: usize,
    /// Next free word of the newest segment, and its length.
    next: usize,
    end: usize,
    /// Words handed out, plus the tails of segments left behind: the arena's size as a
    /// memtable should count it.
    used_words: usize,
}

impl Cursor {
    pub(super) fn used_bytes(&self) -> usize {
        self.used_words * 8
    }
}

impl Arena {
    pub(super) fn new() -> Arena {
        Arena {
            segments: (0..MAX_SEGMENTS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// `words` consecutive zeroed words, for the writer holding `cursor`. The words are
    /// not visible to readers until the writer publishes an address inside them.
    pub(super) fn allocate(&self, cursor: &mut Cursor, words: usize) -> Addr {
        if cursor.end - cursor.next < words {
            let size = Self::next_segment_words(cursor.used_words, words);
            let index = cursor.segments;
            let slot = self
                .segments
                .get(index)
                .expect("segments grow with the arena: memory runs out long before the slots");
            let segment: Box<[AtomicU64]> = (0..size).map(|_| AtomicU64::new(0)).collect();
            // Only the writer sets slots, each once, in order.
            let _ = slot.set(segment);
            cursor.used_words += cursor.end - cursor.next;
            cursor.segments += 1;
            cursor.next = 0;
            cursor.end = size;
        }
        let addr = ((cursor.segments as u64 - 1) << OFFSET_BITS) | cursor.next as u64;
        cursor.next += words;
        cursor.used_words += words;
        addr
    }

    /// Size of the next segment for an arena of `used` words that needs `words` now.
    fn next_segment_words(used: usize, words: usize) -> usize {
        let growing = (used / 8).clamp(MIN_SEGMENT_WORDS, STEADY_SEGMENT_WORDS);
        growing.max(used / LARGE_ARENA_DIVISOR).max(words)
    }

    /// The words from `addr` to the end of its segment.
    ///
    /// Panics if `addr` was never handed out: every address the skiplist follows came
    /// from [`Arena::allocate`] and was published after its segment was set.
    #[inline]
    pub(super) fn words(&self, addr: Addr) -> &[AtomicU64] {
        let segment = self
            .segments
            .get((addr >> OFFSET_BITS) as usize)
            .and_then(OnceLock::get)
            .expect("an address the arena handed out");
        let offset = (addr & OFFSET_MASK) as usize;
        segment
            .get(offset..)
            .expect("an address the arena handed out")
    }

    #[inline]
    pub(super) fn load(&self, addr: Addr, order: Ordering) -> u64 {
        self.words(addr)[0].load(order)
    }

    #[inline]
    pub(super) fn store(&self, addr: Addr, value: u64, order: Ordering) {
        self.words(addr)[0].store(value, order);
    }
}

/// Packs `bytes` into big-endian words, the last one zero-padded: comparing two keys'
/// words as integers then compares their bytes.
pub(super) fn pack_into(words: &[AtomicU64], bytes: &[u8]) {
    let mut chunks = bytes.chunks_exact(8);
    let mut slots = words.iter();
    for (chunk, slot) in chunks.by_ref().zip(slots.by_ref()) {
        let word = u64::from_be_bytes(chunk.try_into().expect("chunks_exact(8)"));
        slot.store(word, Ordering::Relaxed);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        if let Some(slot) = slots.next() {
            slot.store(pad_word(rest), Ordering::Relaxed);
        }
    }
}

/// The first up-to-8 bytes of `bytes` as a big-endian word, zero-padded.
pub(super) fn pad_word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = bytes.len().min(8);
    word[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(word)
}

/// Words needed for `len` bytes.
pub(super) fn words_for(len: usize) -> usize {
    len.div_ceil(8)
}

/// Appends the first `len` bytes packed in `words` to `out`.
pub(super) fn unpack_into(words: &[AtomicU64], len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + words_for(len) * 8, 0);
    for (bytes, word) in out[start..].chunks_exact_mut(8).zip(words) {
        bytes.copy_from_slice(&word.load(Ordering::Relaxed).to_be_bytes());
    }
    out.truncate(start + len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_never_overlap_and_address_zero_is_never_a_node() {
        let arena = Arena::new();
        let mut cursor = Cursor::default();
        let head = arena.allocate(&mut cursor, 14);
        assert_eq!(head, NULL, "the head's links take segment 0's first words");
        let mut seen = std::collections::HashSet::new();
        for n in [1usize, 3, 600, 2, 5000, 1, 70_000, 8] {
            let addr = arena.allocate(&mut cursor, n);
            assert!(arena.words(addr).len() >= n, "{n} words fit");
            for i in 0..n as u64 {
                assert!(seen.insert(addr + i), "word {} handed out twice", addr + i);
            }
            arena.store(addr + n as u64 - 1, n as u64, Ordering::Relaxed);
        }
        assert!(cursor.used_bytes() >= 8 * (14 + 1 + 3 + 600 + 2 + 5000 + 1 + 70_000 + 8));
    }

    #[test]
    fn segments_stay_few_as_the_arena_grows() {
        let mut used = 0usize;
        let mut segments = 0;
        while used < (1 << 40) / 8 {
            used += Arena::next_segment_words(used, 1);
            segments += 1;
        }
        assert!(segments < MAX_SEGMENTS / 2, "{segments} segments for 1 TiB");
    }

    #[test]
    fn packed_words_compare_as_the_bytes_do() {
        let keys: [&[u8]; 6] = [b"", b"a", b"a\0", b"ab", b"abcdefgh", b"abcdefgh\x01"];
        let arena = Arena::new();
        let mut cursor = Cursor::default();
        for key in keys {
            let addr = arena.allocate(&mut cursor, words_for(key.len()).max(1));
            pack_into(arena.words(addr), key);
            let mut out = Vec::new();
            unpack_into(arena.words(addr), key.len(), &mut out);
            assert_eq!(out, key);
        }
        assert!(pad_word(b"a") < pad_word(b"ab"));
        assert!(pad_word(b"b") > pad_word(b"abcdefgh"));
    }
}
