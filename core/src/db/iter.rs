//! `DbIterator`: the user-facing iterator, LevelDB's `DBIter`. It walks a merge of the
//! memtables and every table level over internal keys and shows, for each user key, the
//! newest entry at or below its read sequence — skipping deleted and shadowed entries —
//! forward and backward.

use std::sync::Arc;

use super::DbInner;
use crate::error::{Error, Result};
use crate::iterator::InternalIterator;
use crate::key::{
    extract_user_key, make_internal_key, parse_internal_key, SequenceNumber, ValueType,
    VALUE_TYPE_FOR_SEEK,
};
use crate::memtable::MemTable;
use crate::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The merge sits on the entry that is the current one.
    Forward,
    /// The merge sits just before every entry of the current user key, whose key and
    /// value are kept in `saved_key` / `saved_value`.
    Reverse,
}

/// An iterator over the user keys and values of a database, consistent at one sequence
/// number (its snapshot, or the latest one when it was created). A new iterator is not
/// positioned: call `seek_to_first`, `seek_to_last` or `seek` first.
///
/// It pins what it reads — the memtables and the set of table files of its creation — so
/// flushes and compactions running meanwhile neither change its view nor delete its files.
/// Table blocks are read lazily as the walk reaches them. `Send`, not `Sync`.
///
/// Errors (I/O, corruption) end the walk: `valid()` turns false and `status()` reports
/// them. Closing the database invalidates the iterator: `valid()` is false and `status()`
/// is `Err(Closed)` from then on. `key()`/`value()` return empty slices when not valid.
pub struct DbIterator {
    db: Arc<DbInner>,
    iter: Box<dyn InternalIterator>,
    sequence: SequenceNumber,
    direction: Direction,
    valid: bool,
    /// Set once the iterator has been positioned (used by [`DbIterator::entries`]).
    positioned: bool,
    /// Forward: scratch for the user key being skipped. Reverse: the current user key.
    saved_key: Vec<u8>,
    /// Reverse only: the current value.
    saved_value: Vec<u8>,
    status: Option<Error>,
    /// Keep the sources of `iter` alive (the table files of `_version` stay live while
    /// the version is referenced; see `VersionSet::live_files`).
    _mems: Vec<Arc<MemTable>>,
    _version: Arc<Version>,
}

impl DbIterator {
    pub(super) fn new(
        db: Arc<DbInner>,
        iter: Box<dyn InternalIterator>,
        sequence: SequenceNumber,
        mems: Vec<Arc<MemTable>>,
        version: Arc<Version>,
    ) -> DbIterator {
        DbIterator {
            db,
            iter,
            sequence,
            direction: Direction::Forward,
            valid: false,
            positioned: false,
            saved_key: Vec::new(),
            saved_value: Vec::new(),
            status: None,
            _mems: mems,
            _version: version,
        }
    }

    /// The sequence number this iterator reads at.
    pub fn sequence(&self) -> SequenceNumber {
        self.sequence
    }

    /// True when positioned on an entry (and the database is still open).
    pub fn valid(&self) -> bool {
        self.valid && !self.db_closed()
    }

    /// The current user key; empty when not valid.
    pub fn key(&self) -> &[u8] {
        if !self.valid() {
            return &[];
        }
        match self.direction {
            Direction::Forward => extract_user_key(self.iter.key()),
            Direction::Reverse => &self.saved_key,
        }
    }

    /// The current value; empty when not valid.
    pub fn value(&self) -> &[u8] {
        if !self.valid() {
            return &[];
        }
        match self.direction {
            Direction::Forward => self.iter.value(),
            Direction::Reverse => &self.saved_value,
        }
    }

    /// The first error met, `Err(Closed)` once the database is closed, else `Ok(())`.
    pub fn status(&self) -> Result<()> {
        if self.db_closed() {
            return Err(Error::Closed);
        }
        match &self.status {
            Some(e) => Err(e.clone()),
            None => self.iter.status(),
        }
    }

    /// Positions at the first key.
    pub fn seek_to_first(&mut self) {
        if !self.begin_move() {
            return;
        }
        self.direction = Direction::Forward;
        self.saved_value.clear();
        self.iter.seek_to_first();
        if self.iter.valid() {
            self.find_next_user_entry(false);
        } else {
            self.valid = false;
        }
    }

    /// Positions at the last key.
    pub fn seek_to_last(&mut self) {
        if !self.begin_move() {
            return;
        }
        self.direction = Direction::Reverse;
        self.saved_value.clear();
        self.iter.seek_to_last();
        self.find_prev_user_entry();
    }

    /// Positions at the first key >= `target`.
    pub fn seek(&mut self, target: &[u8]) {
        if !self.begin_move() {
            return;
        }
        self.direction = Direction::Forward;
        self.saved_value.clear();
        let ikey = make_internal_key(target, self.sequence, VALUE_TYPE_FOR_SEEK);
        self.iter.seek(&ikey);
        if self.iter.valid() {
            self.find_next_user_entry(false);
        } else {
            self.valid = false;
        }
    }

    /// Moves to the next key. Does nothing when not valid.
    pub fn next(&mut self) {
        if !self.valid() || !self.begin_move() {
            return;
        }
        if self.direction == Direction::Reverse {
            // The merge is before the current key's entries; `saved_key` holds the key.
            self.direction = Direction::Forward;
            if self.iter.valid() {
                self.iter.next();
            } else {
                self.iter.seek_to_first();
            }
        } else {
            self.saved_key.clear();
            self.saved_key
                .extend_from_slice(extract_user_key(self.iter.key()));
            self.iter.next();
        }
        if !self.iter.valid() {
            self.valid = false;
            self.saved_key.clear();
            return;
        }
        self.find_next_user_entry(true);
    }

    /// Moves to the previous key. Does nothing when not valid.
    pub fn prev(&mut self) {
        if !self.valid() || !self.begin_move() {
            return;
        }
        if self.direction == Direction::Forward {
            // Step back over every entry of the current key, to the previous user key.
            self.saved_key.clear();
            self.saved_key
                .extend_from_slice(extract_user_key(self.iter.key()));
            loop {
                self.iter.prev();
                if !self.iter.valid() {
                    self.valid = false;
                    self.saved_key.clear();
                    self.saved_value.clear();
                    return;
                }
                if extract_user_key(self.iter.key()) < self.saved_key.as_slice() {
                    break;
                }
            }
            self.direction = Direction::Reverse;
        }
        self.find_prev_user_entry();
    }

    /// Consumes the iterator into a Rust iterator of owned `(key, value)` pairs, from the
    /// current position onwards (from the first key if it was never positioned). An error
    /// is yielded once, as the last item.
    pub fn entries(self) -> Entries {
        Entries {
            it: self,
            done: false,
        }
    }

    fn db_closed(&self) -> bool {
        self.db.is_shutting_down()
    }

    /// Checks the database is open before a positioning call; false (and invalid, with
    /// `Closed` kept) when it is not.
    fn begin_move(&mut self) -> bool {
        self.positioned = true;
        if self.db_closed() {
            self.valid = false;
            self.status.get_or_insert(Error::Closed);
            return false;
        }
        true
    }

    /// From the merge's position forward, finds the first entry visible at `sequence` that
    /// is a value not hidden by a newer entry of its key. With `skipping`, entries of user
    /// keys <= `saved_key` are hidden (the caller has just left that key).
    fn find_next_user_entry(&mut self, mut skipping: bool) {
        while self.iter.valid() {
            let Some(ikey) = parse_internal_key(self.iter.key()) else {
                self.fail(Error::corruption("DB iterator: unparsable internal key"));
                return;
            };
            if ikey.sequence <= self.sequence {
                match ikey.value_type {
                    ValueType::Deletion => {
                        // Everything older of this key is hidden.
                        self.saved_key.clear();
                        self.saved_key.extend_from_slice(ikey.user_key);
                        skipping = true;
                    }
                    ValueType::Value => {
                        if !(skipping && ikey.user_key <= self.saved_key.as_slice()) {
                            self.valid = true;
                            self.saved_key.clear();
                            return;
                        }
                    }
                }
            }
            self.iter.next();
        }
        self.saved_key.clear();
        self.valid = false;
    }

    /// Walking backward, collects the newest visible entry of the user key before the
    /// merge's position into `saved_key`/`saved_value`, skipping keys whose newest visible
    /// entry is a deletion. Leaves the merge before that key's entries.
    fn find_prev_user_entry(&mut self) {
        let mut value_type = ValueType::Deletion;
        while self.iter.valid() {
            let Some(ikey) = parse_internal_key(self.iter.key()) else {
                self.fail(Error::corruption("DB iterator: unparsable internal key"));
                return;
            };
            if ikey.sequence <= self.sequence {
                if value_type != ValueType::Deletion && ikey.user_key < self.saved_key.as_slice() {
                    // A visible value for `saved_key` is found and this is an older key.
                    break;
                }
                value_type = ikey.value_type;
                match value_type {
                    ValueType::Deletion => {
                        self.saved_key.clear();
                        self.saved_value.clear();
                    }
                    ValueType::Value => {
                        self.saved_key.clear();
                        self.saved_key.extend_from_slice(ikey.user_key);
                        self.saved_value.clear();
                        self.saved_value.extend_from_slice(self.iter.value());
                    }
                }
            }
            self.iter.prev();
        }
        if value_type == ValueType::Deletion {
            // Ran off the front.
            self.valid = false;
            self.saved_key.clear();
            self.saved_value.clear();
            self.direction = Direction::Forward;
        } else {
            self.valid = true;
        }
    }

    fn fail(&mut self, e: Error) {
        self.status.get_or_insert(e);
        self.valid = false;
        self.saved_key.clear();
        self.saved_value.clear();
    }
}

impl std::fmt::Debug for DbIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbIterator")
            .field("sequence", &self.sequence.0)
            .field("valid", &self.valid())
            .finish()
    }
}

/// Owned `(key, value)` pairs from a [`DbIterator`]; see [`DbIterator::entries`].
pub struct Entries {
    it: DbIterator,
    done: bool,
}

impl Iterator for Entries {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.it.positioned {
            self.it.seek_to_first();
        }
        if !self.it.valid() {
            self.done = true;
            return match self.it.status() {
                Ok(()) => None,
                Err(e) => Some(Err(e)),
            };
        }
        let item = (self.it.key().to_vec(), self.it.value().to_vec());
        self.it.next();
        Some(Ok(item))
    }
}
