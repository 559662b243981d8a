//! The memtable's ordered index: LevelDB's skiplist — one writer at a time, readers
//! without locks — with its nodes laid out in the [`Arena`]'s words.
//!
//! A node is `[link h-1] … [link 0] [lengths] [tag] [user key words] [value words]`, and
//! its address names the `lengths` word. Links sit just below the header so that a step
//! of a search (load a link, compare the key it leads to) touches one or two cache lines,
//! and no reader needs the node's height. User keys are packed big-endian, so most
//! comparisons are one or two integer compares.

use std::cmp::Ordering;

use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering as Atomic};
use crate::sync::Mutex;

use super::arena::{pack_into, pad_word, unpack_into, words_for, Addr, Arena, Cursor, NULL};

/// Tallest node, and the chance that a node reaches the next level: LevelDB's values.
pub(super) const MAX_HEIGHT: usize = 12;
const BRANCHING: u32 = 4;

/// Words of a node header: lengths, tag.
const HEADER_WORDS: u64 = 2;

/// A key as the list orders it: user key bytes ascending, then tag descending (newer
/// first) — `compare_internal_keys`' order.
pub(super) struct SearchKey<'a> {
    user_key: &'a [u8],
    /// The user key packed as node keys are; short keys stay inline.
    inline: [u64; 4],
    heap: Vec<u64>,
    tag: u64,
}

impl<'a> SearchKey<'a> {
    pub(super) fn new(user_key: &'a [u8], tag: u64) -> SearchKey<'a> {
        let mut key = SearchKey {
            user_key,
            inline: [0; 4],
            heap: Vec::new(),
            tag,
        };
        let words = user_key.chunks(8).map(pad_word);
        if words_for(user_key.len()) <= key.inline.len() {
            for (slot, word) in key.inline.iter_mut().zip(words) {
                *slot = word;
            }
        } else {
            key.heap = words.collect();
        }
        key
    }

    /// Sorts before every entry of `user_key`.
    pub(super) fn fence(user_key: &'a [u8]) -> SearchKey<'a> {
        SearchKey::new(user_key, u64::MAX)
    }

    fn words(&self) -> &[u64] {
        if self.heap.is_empty() {
            &self.inline[..words_for(self.user_key.len())]
        } else {
            &self.heap
        }
    }
}

/// The writer's state, behind the list's writer lock.
struct Writer {
    cursor: Cursor,
    rng: u64,
    /// The last node of each level (the head where a level is empty). A key above the
    /// last node goes after these without a search: sequential loads (fillseq, a bulk
    /// load in key order) insert in O(1) compares instead of O(log n).
    tails: [Addr; MAX_HEIGHT],
}

pub(super) struct SkipList {
    arena: Arena,
    head: Addr,
    /// Height of the tallest node; read without ordering, as in LevelDB: a reader that
    /// sees a stale value only starts lower, one that sees a new value finds null links
    /// or the new node.
    max_height: AtomicUsize,
    len: AtomicUsize,
    /// Bytes the arena has handed out, for `approximate_memory_usage`.
    used_bytes: AtomicUsize,
    writer: Mutex<Writer>,
}

impl SkipList {
    pub(super) fn new() -> SkipList {
        let arena = Arena::new();
        let mut cursor = Cursor::default();
        let base = arena.allocate(&mut cursor, MAX_HEIGHT + HEADER_WORDS as usize);
        let head = base + MAX_HEIGHT as u64;
        SkipList {
            arena,
            head,
            max_height: AtomicUsize::new(1),
            len: AtomicUsize::new(0),
            used_bytes: AtomicUsize::new(cursor.used_bytes()),
            writer: Mutex::new(Writer {
                cursor,
                rng: 0xdead_beef_cafe_f00d,
                tails: [head; MAX_HEIGHT],
            }),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len.load(Atomic::Relaxed)
    }

    pub(super) fn memory_usage(&self) -> usize {
        self.used_bytes.load(Atomic::Relaxed)
    }

    /// Inserts an entry. Writers are serialized by the list's own lock (the DB has one
    /// writer at a time anyway: the write-queue leader); readers never wait for it. An
    /// `(user_key, tag)` must not already be present.
    ///
    /// Lengths are stored as 32-bit values: batch records carry varint32 lengths, so no
    /// key or value that reaches a memtable is longer.
    pub(super) fn insert(&self, user_key: &[u8], tag: u64, value: &[u8]) {
        let key_words = words_for(user_key.len());
        let value_words = words_for(value.len());
        let lengths = (user_key.len() as u64 & 0xffff_ffff) | ((value.len() as u64) << 32);
        let target = SearchKey::new(user_key, tag);
        let mut writer = self.writer.lock();
        let last = writer.tails[0];
        let prev = if last != self.head && self.compare(last, &target).is_lt() {
            writer.tails
        } else {
            let mut prev = [self.head; MAX_HEIGHT];
            self.find_greater_or_equal(&target, Some(&mut prev));
            prev
        };
        let height = random_height(&mut writer.rng);
        let words = height + HEADER_WORDS as usize + key_words + value_words;
        let base = self.arena.allocate(&mut writer.cursor, words);
        let node = base + height as u64;
        let body = self.arena.words(node);
        body[0].store(lengths, Atomic::Relaxed);
        body[1].store(tag, Atomic::Relaxed);
        let key_at = HEADER_WORDS as usize;
        // The search key already holds the user key packed.
        for (slot, &word) in body[key_at..key_at + key_words].iter().zip(target.words()) {
            slot.store(word, Atomic::Relaxed);
        }
        pack_into(&body[key_at + key_words..], value);
        if height > self.max_height.load(Atomic::Relaxed) {
            // prev[] above the old height already holds the head.
            self.max_height.store(height, Atomic::Relaxed);
        }
        for (level, &before) in prev.iter().enumerate().take(height) {
            // The new node's own link first (nobody sees it yet), then the release
            // store that publishes the node and everything stored into it above.
            let after = self.next(before, level);
            self.arena.store(link(node, level), after, Atomic::Relaxed);
            self.arena.store(link(before, level), node, Atomic::Release);
            if after == NULL {
                writer.tails[level] = node;
            }
        }
        self.len.fetch_add(1, Atomic::Relaxed);
        self.used_bytes
            .store(writer.cursor.used_bytes(), Atomic::Relaxed);
    }

    /// The node after `node` at `level`, or [`NULL`].
    #[inline]
    pub(super) fn next(&self, node: Addr, level: usize) -> Addr {
        self.arena.load(link(node, level), Atomic::Acquire)
    }

    /// The first node at or after `key`, or [`NULL`]; `prev` receives, per level, the
    /// last node before `key`.
    pub(super) fn find_greater_or_equal(
        &self,
        key: &SearchKey<'_>,
        mut prev: Option<&mut [Addr; MAX_HEIGHT]>,
    ) -> Addr {
        let mut x = self.head;
        let mut level = self.max_height.load(Atomic::Relaxed) - 1;
        // The node a higher level stopped at: already known not to be before `key`.
        let mut known_not_before = NULL;
        loop {
            let next = self.next(x, level);
            if next != NULL && next != known_not_before && self.compare(next, key).is_lt() {
                x = next;
            } else {
                if let Some(prev) = prev.as_deref_mut() {
                    prev[level] = x;
                }
                if level == 0 {
                    return next;
                }
                known_not_before = next;
                level -= 1;
            }
        }
    }

    /// The last node before `key`, or [`NULL`].
    pub(super) fn find_less_than(&self, key: &SearchKey<'_>) -> Addr {
        let mut x = self.head;
        let mut level = self.max_height.load(Atomic::Relaxed) - 1;
        loop {
            let next = self.next(x, level);
            if next != NULL && self.compare(next, key).is_lt() {
                x = next;
            } else if level == 0 {
                return if x == self.head { NULL } else { x };
            } else {
                level -= 1;
            }
        }
    }

    pub(super) fn first(&self) -> Addr {
        self.next(self.head, 0)
    }

    /// The last node, or [`NULL`].
    pub(super) fn last(&self) -> Addr {
        let mut x = self.head;
        let mut level = self.max_height.load(Atomic::Relaxed) - 1;
        loop {
            let next = self.next(x, level);
            if next != NULL {
                x = next;
            } else if level == 0 {
                return if x == self.head { NULL } else { x };
            } else {
                level -= 1;
            }
        }
    }

    /// `node`'s order against `key`.
    #[inline]
    pub(super) fn compare(&self, node: Addr, key: &SearchKey<'_>) -> Ordering {
        let body = self.arena.words(node);
        let user_len = (body[0].load(Atomic::Relaxed) & 0xffff_ffff) as usize;
        compare_packed(
            &body[HEADER_WORDS as usize..],
            user_len,
            key.words(),
            key.user_key.len(),
        )
        .then_with(|| key.tag.cmp(&body[1].load(Atomic::Relaxed)))
    }

    /// Whether `node` holds `key`'s user key.
    pub(super) fn has_user_key(&self, node: Addr, key: &SearchKey<'_>) -> bool {
        let body = self.arena.words(node);
        let user_len = (body[0].load(Atomic::Relaxed) & 0xffff_ffff) as usize;
        user_len == key.user_key.len()
            && compare_packed(
                &body[HEADER_WORDS as usize..],
                user_len,
                key.words(),
                user_len,
            )
            .is_eq()
    }

    pub(super) fn tag(&self, node: Addr) -> u64 {
        self.arena.words(node)[1].load(Atomic::Relaxed)
    }

    /// `(user key length, value length)` of `node`.
    fn lengths(&self, node: Addr) -> (usize, usize) {
        let lengths = self.arena.load(node, Atomic::Relaxed);
        ((lengths & 0xffff_ffff) as usize, (lengths >> 32) as usize)
    }

    /// Appends `node`'s internal key (user key, then the tag as fixed64) to `out`.
    pub(super) fn internal_key_into(&self, node: Addr, out: &mut Vec<u8>) {
        let (user_len, _) = self.lengths(node);
        let body = self.arena.words(node);
        unpack_into(&body[HEADER_WORDS as usize..], user_len, out);
        out.extend_from_slice(&body[1].load(Atomic::Relaxed).to_le_bytes());
    }

    /// Appends `node`'s value to `out`.
    pub(super) fn value_into(&self, node: Addr, out: &mut Vec<u8>) {
        let (user_len, value_len) = self.lengths(node);
        let body = self.arena.words(node);
        unpack_into(
            &body[HEADER_WORDS as usize + words_for(user_len)..],
            value_len,
            out,
        );
    }

    /// Loads the words of `node` that start its first three cache lines — a 100-byte
    /// value's entry spans that many — so that a batch of nodes' cache misses overlap
    /// before their bytes are copied one by one. The loads do not wait for the node's
    /// lengths, so a batch issues them all at once.
    pub(super) fn touch(&self, node: Addr) -> u64 {
        let body = self.arena.words(node);
        [0, 8, 16]
            .iter()
            .filter_map(|&i| body.get(i))
            .fold(0, |x, w| x ^ w.load(Atomic::Relaxed))
    }
}

/// Where `node`'s link at `level` is.
#[inline]
fn link(node: Addr, level: usize) -> Addr {
    node - 1 - level as u64
}

/// Orders packed user key `a` (`a_len` bytes) against `b` (`b_len` bytes) as their bytes
/// order: equal full words are equal bytes, the first differing word decides, a partial
/// last word is compared on the bytes both keys have, and then the shorter key is first.
#[inline]
fn compare_packed(a: &[AtomicU64], a_len: usize, b: &[u64], b_len: usize) -> Ordering {
    let common = a_len.min(b_len);
    let full = common / 8;
    for (x, &y) in a.iter().zip(b).take(full) {
        let x = x.load(Atomic::Relaxed);
        if x != y {
            return x.cmp(&y);
        }
    }
    let rest = common % 8;
    if rest > 0 {
        let mask = !0u64 << (64 - 8 * rest);
        let x = a[full].load(Atomic::Relaxed) & mask;
        let y = b[full] & mask;
        if x != y {
            return x.cmp(&y);
        }
    }
    a_len.cmp(&b_len)
}

/// A height in `1..=MAX_HEIGHT`, each level kept with probability 1/[`BRANCHING`].
fn random_height(state: &mut u64) -> usize {
    let mut height = 1;
    while height < MAX_HEIGHT {
        // xorshift64: cheap, and good enough to shape a skiplist.
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        if (*state >> 32) as u32 % BRANCHING != 0 {
            break;
        }
        height += 1;
    }
    height
}

#[cfg(all(test, loom))]
mod loom_tests {
    use std::sync::Arc;

    use super::*;
    use crate::sync::thread;

    /// Derived from the key, so that an entry seen before all its words were stored
    /// would show a wrong value.
    fn value_of(user_key: &[u8]) -> Vec<u8> {
        user_key.iter().rev().cycle().take(12).copied().collect()
    }

    /// What a reader sees: the entries on level 0 in order, each whole, and lookups that
    /// find either nothing or the whole entry.
    fn read_all(list: &SkipList) {
        let mut node = list.first();
        let mut last: Option<Vec<u8>> = None;
        while node != NULL {
            let (mut key, mut value) = (Vec::new(), Vec::new());
            list.internal_key_into(node, &mut key);
            list.value_into(node, &mut value);
            assert_eq!(value, value_of(&key[..key.len() - 8]));
            if let Some(last) = &last {
                assert!(last < &key, "{last:?} before {key:?}");
            }
            last = Some(key);
            node = list.next(node, 0);
        }
        for user_key in [&b"c"[..], b"m", b"x"] {
            let fence = SearchKey::fence(user_key);
            let node = list.find_greater_or_equal(&fence, None);
            if node != NULL && list.has_user_key(node, &fence) {
                let mut value = Vec::new();
                list.value_into(node, &mut value);
                assert_eq!(value, value_of(user_key));
            }
        }
    }

    #[test]
    fn a_reader_racing_the_writer_sees_whole_entries_in_order() {
        loom::model(|| {
            let list = Arc::new(SkipList::new());
            // The reader is the spawned thread: loom orders SeqCst operations (the
            // writer's lock, a join) strongly enough to hide the race if the writer is.
            let reader = {
                let list = Arc::clone(&list);
                thread::spawn(move || read_all(&list))
            };
            // An append (after the tail), then a key before it (a search).
            for (seq, user_key) in [(1u64, &b"m"[..]), (2, b"c")] {
                list.insert(user_key, (seq << 8) | 1, &value_of(user_key));
            }
            reader.join().expect("reader");
            read_all(&list);
            assert_eq!(list.len(), 2);
        });
    }
}
