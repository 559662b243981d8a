//! `VersionEdit`: one change to the set of table files and counters, as recorded in the
//! MANIFEST. The encoding is LevelDB's, tag by tag, so either engine can replay the other's edits.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::coding::{
    get_length_prefixed_slice, get_varint32, get_varint64, put_length_prefixed_slice, put_varint32,
    put_varint64,
};
use crate::error::{Error, Result};
use crate::filename::FileNumber;
use crate::key::{parse_internal_key, InternalKey, SequenceNumber, BYTEWISE_COMPARATOR_NAME};

use super::version::NUM_LEVELS;

// Field tags as stored on disk. 8 was LevelDB's large-value reference, never used since.
const TAG_COMPARATOR: u32 = 1;
const TAG_LOG_NUMBER: u32 = 2;
const TAG_NEXT_FILE_NUMBER: u32 = 3;
const TAG_LAST_SEQUENCE: u32 = 4;
const TAG_COMPACT_POINTER: u32 = 5;
const TAG_DELETED_FILE: u32 = 6;
const TAG_NEW_FILE: u32 = 7;
const TAG_PREV_LOG_NUMBER: u32 = 9;

/// One table file: its number, size on disk and the internal-key range it holds, plus
/// its seek budget (runtime state, never encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMetaData {
    pub number: FileNumber,
    pub file_size: u64,
    pub smallest: InternalKey,
    pub largest: InternalKey,
    pub allowed_seeks: SeekBudget,
}

/// How many more reads may check a file in vain before it is worth compacting (LevelDB's
/// `allowed_seeks`): a read that had to look at more than one table charges the first,
/// and a file that used up its budget is compacted into the next level, so that later
/// reads find their key with fewer table lookups. A seek costs about as much as
/// compacting 16 KiB, so the budget is the file size / 16 KiB, at least 100. Not part of
/// a file's identity: equality ignores it, a clone copies what is left of it.
#[derive(Debug, Default)]
pub struct SeekBudget(AtomicI64);

impl SeekBudget {
    pub fn for_file_size(file_size: u64) -> SeekBudget {
        let seeks = (file_size / (16 << 10)).max(100);
        SeekBudget(AtomicI64::new(i64::try_from(seeks).unwrap_or(i64::MAX)))
    }

    /// Charges one seek; true once the budget is used up (and on every charge after).
    pub fn charge(&self) -> bool {
        self.0.fetch_sub(1, Ordering::Relaxed) <= 1
    }

    pub fn remaining(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Clone for SeekBudget {
    fn clone(&self) -> Self {
        SeekBudget(AtomicI64::new(self.remaining()))
    }
}

impl PartialEq for SeekBudget {
    fn eq(&self, _: &SeekBudget) -> bool {
        true
    }
}

impl Eq for SeekBudget {}

/// A delta between two versions. `None` fields are left as they were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionEdit {
    pub comparator: Option<String>,
    /// WAL files numbered below this are no longer needed.
    pub log_number: Option<FileNumber>,
    /// Kept for LevelDB compatibility (older LevelDBs could have two live WALs); 0 here.
    pub prev_log_number: Option<FileNumber>,
    pub next_file_number: Option<FileNumber>,
    pub last_sequence: Option<SequenceNumber>,
    /// Where the next major compaction of a level starts.
    pub compact_pointers: Vec<(usize, InternalKey)>,
    pub deleted_files: BTreeSet<(usize, FileNumber)>,
    pub new_files: Vec<(usize, FileMetaData)>,
}

impl VersionEdit {
    /// The one edit of a new DB's MANIFEST-000001, as LevelDB writes it: comparator, log 0,
    /// next file 2, last sequence 0.
    pub fn new_db() -> VersionEdit {
        VersionEdit {
            comparator: Some(BYTEWISE_COMPARATOR_NAME.to_string()),
            log_number: Some(FileNumber(0)),
            next_file_number: Some(FileNumber(2)),
            last_sequence: Some(SequenceNumber(0)),
            ..VersionEdit::default()
        }
    }

    pub fn add_file(&mut self, level: usize, meta: FileMetaData) {
        self.new_files.push((level, meta));
    }

    pub fn delete_file(&mut self, level: usize, n: FileNumber) {
        self.deleted_files.insert((level, n));
    }

    /// Appends the encoding, fields in the order LevelDB writes them.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        if let Some(name) = &self.comparator {
            put_varint32(dst, TAG_COMPARATOR);
            put_length_prefixed_slice(dst, name.as_bytes());
        }
        if let Some(n) = self.log_number {
            put_varint32(dst, TAG_LOG_NUMBER);
            put_varint64(dst, n.0);
        }
        if let Some(n) = self.prev_log_number {
            put_varint32(dst, TAG_PREV_LOG_NUMBER);
            put_varint64(dst, n.0);
        }
        if let Some(n) = self.next_file_number {
            put_varint32(dst, TAG_NEXT_FILE_NUMBER);
            put_varint64(dst, n.0);
        }
        if let Some(s) = self.last_sequence {
            put_varint32(dst, TAG_LAST_SEQUENCE);
            put_varint64(dst, s.0);
        }
        for (level, key) in &self.compact_pointers {
            put_varint32(dst, TAG_COMPACT_POINTER);
            put_varint32(dst, *level as u32);
            put_length_prefixed_slice(dst, key.encoded());
        }
        for (level, n) in &self.deleted_files {
            put_varint32(dst, TAG_DELETED_FILE);
            put_varint32(dst, *level as u32);
            put_varint64(dst, n.0);
        }
        for (level, f) in &self.new_files {
            put_varint32(dst, TAG_NEW_FILE);
            put_varint32(dst, *level as u32);
            put_varint64(dst, f.number.0);
            put_varint64(dst, f.file_size);
            put_length_prefixed_slice(dst, f.smallest.encoded());
            put_length_prefixed_slice(dst, f.largest.encoded());
        }
    }

    /// Decodes one MANIFEST record. Truncated fields, levels >= 7, malformed internal keys
    /// and unknown tags are Corruption naming the tag.
    pub fn decode(src: &[u8]) -> Result<VersionEdit> {
        let mut input = src;
        let mut edit = VersionEdit::default();
        while !input.is_empty() {
            let at = src.len() - input.len();
            let tag = get_varint32(&mut input)
                .ok_or_else(|| Error::corruption(format!("VersionEdit: bad tag at byte {at}")))?;
            let bad = |what: &str| {
                Error::corruption(format!("VersionEdit: bad {what} (tag {tag}, byte {at})"))
            };
            match tag {
                TAG_COMPARATOR => {
                    let name = get_length_prefixed_slice(&mut input)
                        .ok_or_else(|| bad("comparator name"))?;
                    edit.comparator = Some(String::from_utf8_lossy(name).into_owned());
                }
                TAG_LOG_NUMBER => {
                    let n = get_varint64(&mut input).ok_or_else(|| bad("log number"))?;
                    edit.log_number = Some(FileNumber(n));
                }
                TAG_PREV_LOG_NUMBER => {
                    let n = get_varint64(&mut input).ok_or_else(|| bad("previous log number"))?;
                    edit.prev_log_number = Some(FileNumber(n));
                }
                TAG_NEXT_FILE_NUMBER => {
                    let n = get_varint64(&mut input).ok_or_else(|| bad("next file number"))?;
                    edit.next_file_number = Some(FileNumber(n));
                }
                TAG_LAST_SEQUENCE => {
                    let s = get_varint64(&mut input).ok_or_else(|| bad("last sequence number"))?;
                    edit.last_sequence = Some(SequenceNumber(s));
                }
                TAG_COMPACT_POINTER => {
                    let level = get_level(&mut input).ok_or_else(|| bad("level"))?;
                    let key =
                        get_internal_key(&mut input).ok_or_else(|| bad("compaction pointer"))?;
                    edit.compact_pointers.push((level, key));
                }
                TAG_DELETED_FILE => {
                    let level = get_level(&mut input).ok_or_else(|| bad("level"))?;
                    let n = get_varint64(&mut input).ok_or_else(|| bad("deleted file number"))?;
                    edit.deleted_files.insert((level, FileNumber(n)));
                }
                TAG_NEW_FILE => {
                    let level = get_level(&mut input).ok_or_else(|| bad("level"))?;
                    let meta = get_file_meta(&mut input).ok_or_else(|| bad("new-file entry"))?;
                    edit.new_files.push((level, meta));
                }
                _ => {
                    return Err(Error::corruption(format!(
                        "VersionEdit: unknown tag {tag} at byte {at}"
                    )))
                }
            }
        }
        Ok(edit)
    }
}

fn get_level(input: &mut &[u8]) -> Option<usize> {
    let level = get_varint32(input)? as usize;
    (level < NUM_LEVELS).then_some(level)
}

/// A varstring that must parse as an internal key (user key + 8-byte tag of a known type).
fn get_internal_key(input: &mut &[u8]) -> Option<InternalKey> {
    let bytes = get_length_prefixed_slice(input)?;
    parse_internal_key(bytes)?;
    Some(InternalKey::from_encoded(bytes.to_vec()))
}

fn get_file_meta(input: &mut &[u8]) -> Option<FileMetaData> {
    Some(FileMetaData {
        number: FileNumber(get_varint64(input)?),
        file_size: get_varint64(input)?,
        smallest: get_internal_key(input)?,
        largest: get_internal_key(input)?,
        allowed_seeks: SeekBudget::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::ValueType;

    fn ikey(user_key: &str, seq: u64, t: ValueType) -> InternalKey {
        InternalKey::new(user_key.as_bytes(), SequenceNumber(seq), t)
    }

    fn full_edit() -> VersionEdit {
        let mut edit = VersionEdit {
            comparator: Some(BYTEWISE_COMPARATOR_NAME.to_string()),
            log_number: Some(FileNumber(300)),
            prev_log_number: Some(FileNumber(299)),
            next_file_number: Some(FileNumber(1 << 40)),
            last_sequence: Some(SequenceNumber((1 << 56) - 1)),
            ..VersionEdit::default()
        };
        edit.compact_pointers
            .push((3, ikey("pointer", 77, ValueType::Value)));
        edit.delete_file(2, FileNumber(12));
        edit.delete_file(6, FileNumber(9999));
        edit.add_file(
            0,
            FileMetaData {
                number: FileNumber(400),
                file_size: 123_456,
                smallest: ikey("a", 5, ValueType::Value),
                largest: ikey("zz", 1, ValueType::Deletion),
                allowed_seeks: SeekBudget::default(),
            },
        );
        edit.add_file(
            6,
            FileMetaData {
                number: FileNumber(401),
                file_size: 0,
                smallest: ikey("", 0, ValueType::Value),
                largest: ikey("", 0, ValueType::Value),
                allowed_seeks: SeekBudget::default(),
            },
        );
        edit
    }

    #[test]
    fn new_db_edit_matches_leveldb_bytes() {
        let edit = VersionEdit::new_db();
        let mut buf = Vec::new();
        edit.encode(&mut buf);
        let mut expected = vec![0x01, 0x1a];
        expected.extend_from_slice(b"leveldb.BytewiseComparator");
        expected.extend_from_slice(&[0x02, 0x00, 0x03, 0x02, 0x04, 0x00]);
        assert_eq!(buf, expected);
        assert_eq!(VersionEdit::decode(&buf).expect("decode"), edit);
    }

    #[test]
    fn every_field_round_trips() {
        let edit = full_edit();
        let mut buf = Vec::new();
        edit.encode(&mut buf);
        assert_eq!(VersionEdit::decode(&buf).expect("decode"), edit);
        assert_eq!(
            VersionEdit::decode(&[]).expect("empty"),
            VersionEdit::default()
        );
    }

    #[test]
    fn truncations_decode_only_at_field_boundaries() {
        let edit = full_edit();
        let mut buf = Vec::new();
        edit.encode(&mut buf);
        let mut accepted = 0;
        for len in 0..buf.len() {
            if let Ok(prefix_edit) = VersionEdit::decode(&buf[..len]) {
                // Cutting between fields leaves a valid, smaller edit: its own encoding.
                let mut again = Vec::new();
                prefix_edit.encode(&mut again);
                assert_eq!(again, &buf[..len], "truncation at {len}");
                accepted += 1;
            }
        }
        // 5 scalar fields + 1 compact pointer + 2 deletions + 2 new files, plus "empty".
        assert_eq!(accepted, 10);
    }

    #[test]
    fn unknown_and_retired_tags_are_corruption() {
        for tag in [0u8, 8, 10, 0x7f] {
            let mut buf = vec![0x02, 0x05, tag, 0x00];
            let err = VersionEdit::decode(&buf).expect_err("unknown tag");
            assert!(
                matches!(&err, Error::Corruption(m) if m.contains(&format!("tag {tag}"))),
                "{err}"
            );
            buf.truncate(2);
            assert!(VersionEdit::decode(&buf).is_ok());
        }
    }

    #[test]
    fn level_seven_and_short_keys_are_corruption() {
        let mut buf = Vec::new();
        put_varint32(&mut buf, TAG_DELETED_FILE);
        put_varint32(&mut buf, NUM_LEVELS as u32);
        put_varint64(&mut buf, 5);
        let err = VersionEdit::decode(&buf).expect_err("level 7");
        assert!(err.to_string().contains("level"), "{err}");

        let mut buf = Vec::new();
        put_varint32(&mut buf, TAG_COMPACT_POINTER);
        put_varint32(&mut buf, 1);
        put_length_prefixed_slice(&mut buf, b"short");
        assert!(matches!(
            VersionEdit::decode(&buf),
            Err(Error::Corruption(_))
        ));
    }
}
