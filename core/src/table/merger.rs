//! `MergingIterator`: one sorted view over several sorted internal-key iterators (level-0
//! tables, level iterators, memtables), as LevelDB's `table/merger.cc`. Compaction reads
//! its inputs through it forward; the DB iterator also walks it backward.

use std::cmp::Ordering;

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::compare_internal_keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Reverse,
}

/// K-way merge by linear scan over the children (k is small: a dozen level-0 files plus
/// one iterator per deeper level). Equal keys from different children are all yielded,
/// the earlier child first; internal keys carry sequence numbers, so equal keys only
/// occur when the same entry is in two inputs.
pub struct MergingIterator {
    children: Vec<Box<dyn InternalIterator>>,
    /// The child whose entry is the current one; `None` when not valid.
    current: Option<usize>,
    direction: Direction,
}

impl MergingIterator {
    pub fn new(children: Vec<Box<dyn InternalIterator>>) -> MergingIterator {
        MergingIterator {
            children,
            current: None,
            direction: Direction::Forward,
        }
    }

    /// Points `current` at the smallest valid child going forward, the largest going
    /// backward. Among equal keys the earliest child wins forward and the last one
    /// backward, so a reverse walk yields them in the reverse of the forward order.
    fn find_current(&mut self) {
        // The best key is kept beside its index: asking a child for its key is a chain of
        // virtual calls (level -> table -> block iterator).
        let mut best: Option<(usize, &[u8])> = None;
        for (i, child) in self.children.iter().enumerate() {
            if !child.valid() {
                continue;
            }
            let key = child.key();
            let replace = match best {
                None => true,
                Some((_, best_key)) => {
                    let order = compare_internal_keys(key, best_key);
                    match self.direction {
                        Direction::Forward => order == Ordering::Less,
                        Direction::Reverse => order != Ordering::Less,
                    }
                }
            };
            if replace {
                best = Some((i, key));
            }
        }
        self.current = best.map(|(i, _)| i);
    }
}

impl InternalIterator for MergingIterator {
    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn seek_to_first(&mut self) {
        for child in &mut self.children {
            child.seek_to_first();
        }
        self.direction = Direction::Forward;
        self.find_current();
    }

    fn seek_to_last(&mut self) {
        for child in &mut self.children {
            child.seek_to_last();
        }
        self.direction = Direction::Reverse;
        self.find_current();
    }

    fn seek(&mut self, target: &[u8]) {
        for child in &mut self.children {
            child.seek(target);
        }
        self.direction = Direction::Forward;
        self.find_current();
    }

    fn next(&mut self) {
        let Some(current) = self.current else { return };
        if self.direction != Direction::Forward {
            // The other children sit before the current key; move each to the first
            // entry after it.
            let key = self.children[current].key().to_vec();
            for (i, child) in self.children.iter_mut().enumerate() {
                if i == current {
                    continue;
                }
                child.seek(&key);
                if child.valid() && compare_internal_keys(child.key(), &key) == Ordering::Equal {
                    child.next();
                }
            }
            self.direction = Direction::Forward;
        }
        self.children[current].next();
        self.find_current();
    }

    fn prev(&mut self) {
        let Some(current) = self.current else { return };
        if self.direction != Direction::Reverse {
            // The other children sit after the current key; move each to the last entry
            // before it.
            let key = self.children[current].key().to_vec();
            for (i, child) in self.children.iter_mut().enumerate() {
                if i == current {
                    continue;
                }
                child.seek(&key);
                if child.valid() {
                    child.prev();
                } else {
                    child.seek_to_last();
                }
            }
            self.direction = Direction::Reverse;
        }
        self.children[current].prev();
        self.find_current();
    }

    fn key(&self) -> &[u8] {
        self.current.map_or(&[], |c| self.children[c].key())
    }

    fn value(&self) -> &[u8] {
        self.current.map_or(&[], |c| self.children[c].value())
    }

    /// The first error of any child.
    fn status(&self) -> Result<()> {
        self.children.iter().try_for_each(|c| c.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::key::{make_internal_key, SequenceNumber, ValueType};

    /// A sorted in-memory iterator, optionally failing with an error once exhausted.
    struct VecIter {
        entries: Vec<(Vec<u8>, Vec<u8>)>,
        pos: Option<usize>,
        error: Option<Error>,
    }

    impl VecIter {
        fn boxed(keys: &[(&str, u64)]) -> Box<dyn InternalIterator> {
            let mut entries: Vec<_> = keys
                .iter()
                .map(|(k, seq)| {
                    (
                        make_internal_key(k.as_bytes(), SequenceNumber(*seq), ValueType::Value),
                        format!("{k}@{seq}").into_bytes(),
                    )
                })
                .collect();
            entries.sort_by(|a, b| compare_internal_keys(&a.0, &b.0));
            Box::new(VecIter {
                entries,
                pos: None,
                error: None,
            })
        }
    }

    impl InternalIterator for VecIter {
        fn valid(&self) -> bool {
            self.pos.is_some()
        }
        fn seek_to_first(&mut self) {
            self.pos = (!self.entries.is_empty()).then_some(0);
        }
        fn seek_to_last(&mut self) {
            self.pos = self.entries.len().checked_sub(1);
        }
        fn seek(&mut self, target: &[u8]) {
            let i = self
                .entries
                .partition_point(|(k, _)| compare_internal_keys(k, target) == Ordering::Less);
            self.pos = (i < self.entries.len()).then_some(i);
        }
        fn next(&mut self) {
            self.pos = self.pos.map(|p| p + 1).filter(|&p| p < self.entries.len());
        }
        fn prev(&mut self) {
            self.pos = self.pos.and_then(|p| p.checked_sub(1));
        }
        fn key(&self) -> &[u8] {
            self.pos.map_or(&[], |p| &self.entries[p].0)
        }
        fn value(&self) -> &[u8] {
            self.pos.map_or(&[], |p| &self.entries[p].1)
        }
        fn status(&self) -> Result<()> {
            self.error.clone().map_or(Ok(()), Err)
        }
    }

    fn merged() -> MergingIterator {
        MergingIterator::new(vec![
            VecIter::boxed(&[("a", 1), ("d", 4), ("g", 7)]),
            VecIter::boxed(&[]),
            VecIter::boxed(&[("b", 2), ("d", 9), ("h", 8)]),
            VecIter::boxed(&[("c", 3), ("e", 5)]),
        ])
    }

    fn values(it: &MergingIterator) -> String {
        String::from_utf8(it.value().to_vec()).expect("utf8")
    }

    const FORWARD: [&str; 8] = ["a@1", "b@2", "c@3", "d@9", "d@4", "e@5", "g@7", "h@8"];

    #[test]
    fn forward_walk_yields_every_entry_in_internal_key_order() {
        let mut it = merged();
        it.seek_to_first();
        let mut seen = Vec::new();
        while it.valid() {
            seen.push(values(&it));
            it.next();
        }
        assert_eq!(seen, FORWARD);
        assert!(it.status().is_ok());
    }

    #[test]
    fn backward_walk_is_the_reverse_and_seek_lands_on_first_at_or_after() {
        let mut it = merged();
        it.seek_to_last();
        let mut seen = Vec::new();
        while it.valid() {
            seen.push(values(&it));
            it.prev();
        }
        let mut expected = FORWARD.to_vec();
        expected.reverse();
        assert_eq!(seen, expected);

        // The newest "d" sorts first.
        it.seek(&make_internal_key(
            b"d",
            SequenceNumber::MAX,
            ValueType::Value,
        ));
        assert_eq!(values(&it), "d@9");
        it.seek(&make_internal_key(
            b"d",
            SequenceNumber(5),
            ValueType::Value,
        ));
        assert_eq!(values(&it), "d@4");
        it.seek(&make_internal_key(
            b"z",
            SequenceNumber::MAX,
            ValueType::Value,
        ));
        assert!(!it.valid());
    }

    #[test]
    fn changing_direction_mid_walk_keeps_every_entry() {
        let mut it = merged();
        it.seek(&make_internal_key(
            b"d",
            SequenceNumber(4),
            ValueType::Value,
        ));
        assert_eq!(values(&it), "d@4");
        it.prev();
        assert_eq!(values(&it), "d@9");
        it.prev();
        assert_eq!(values(&it), "c@3");
        it.next();
        assert_eq!(values(&it), "d@9");
        it.next();
        assert_eq!(values(&it), "d@4");
        it.next();
        assert_eq!(values(&it), "e@5");
        it.prev();
        assert_eq!(values(&it), "d@4");
    }

    #[test]
    fn a_child_error_is_reported_by_status() {
        let mut it = MergingIterator::new(vec![
            VecIter::boxed(&[("a", 1)]),
            Box::new(VecIter {
                entries: Vec::new(),
                pos: None,
                error: Some(Error::corruption("bad block")),
            }),
        ]);
        it.seek_to_first();
        assert!(it.valid());
        assert!(matches!(it.status(), Err(Error::Corruption(_))));
    }
}
