//! Fuzz harnesses: each feeds arbitrary bytes to one of siltdb's decoders and demands an
//! answer — data or an error, never a panic, a hang or an out-of-bounds read. For blocks,
//! tables and logs the first byte picks a mode: even, the rest is decoded as it is; odd,
//! the rest is a recipe for *valid* data (entries, records, options), which is encoded
//! with siltdb's own writers and must decode back to exactly what went in.
//!
//! Used by the cargo-fuzz targets in `fuzz_targets/` (nightly, `fuzz/run.sh`) and, through
//! `#[path]`, by `core/tests/fuzz_corpus_replays.rs`, which replays the checked-in corpus on
//! stable in every `make test`. So this file depends on `siltdb` and std only.

use std::sync::{Arc, Mutex};

use siltdb::batch::{BatchRecord, WriteBatch};
use siltdb::fs::{RandomAccessFile, SequentialFile, WritableFile};
use siltdb::iterator::InternalIterator;
use siltdb::key::{compare_internal_keys, make_internal_key, parse_internal_key, ValueType};
use siltdb::log;
use siltdb::table::block::{bytewise_compare, KeyComparator};
use siltdb::table::{Block, BlockBuilder, Table, TableBuilder};
use siltdb::version::VersionEdit;
use siltdb::{CompressionType, LookupResult, Options, ReadOptions, SequenceNumber};

/// Arbitrary bytes as one block.
pub fn block(data: &[u8]) {
    match data.split_first() {
        Some((mode, recipe)) if mode % 2 == 1 => block_round_trip(recipe),
        Some((_, raw)) => {
            if let Ok(block) = Block::new(raw.to_vec()) {
                let block = Arc::new(block);
                for cmp in [bytewise_compare as KeyComparator, compare_internal_keys] {
                    walk(&mut block.iter(cmp), raw.len());
                }
            }
        }
        None => {}
    }
}

/// Arbitrary bytes as a table file: open, iterate both ways, seek and get.
pub fn table(data: &[u8]) {
    match data.split_first() {
        Some((mode, recipe)) if mode % 2 == 1 => table_round_trip(recipe),
        Some((_, raw)) => {
            for paranoid_checks in [false, true] {
                let options = Options {
                    paranoid_checks,
                    ..Options::default()
                };
                let file = Box::new(MemFile(raw.to_vec()));
                let Ok(table) = Table::open(&options, file, raw.len() as u64, "fuzz.ldb") else {
                    continue;
                };
                let table = Arc::new(table);
                for verify_checksums in [false, true] {
                    let read = ReadOptions {
                        verify_checksums,
                        fill_cache: false,
                        ..ReadOptions::default()
                    };
                    let keys = walk(&mut table.iter(&read), raw.len());
                    for key in keys.iter().take(64) {
                        if let Some(parsed) = parse_internal_key(key) {
                            let _ = table.get(&read, parsed.user_key, parsed.sequence);
                        }
                        let _ = table.approximate_offset_of(key);
                    }
                    let _ = table.get(&read, b"absent", SequenceNumber::MAX);
                }
            }
        }
        None => {}
    }
}

/// Arbitrary bytes as a log file (WAL or MANIFEST), read with and without checksums.
pub fn log_reader(data: &[u8]) {
    match data.split_first() {
        Some((mode, recipe)) if mode % 2 == 1 => log_round_trip(recipe),
        Some((_, raw)) => {
            for verify in [false, true] {
                let mut reader = log::Reader::new(Box::new(MemSource::new(raw.to_vec())), verify);
                let mut records = 0usize;
                let mut bytes = 0usize;
                while let Ok(Some(record)) = reader.read_record() {
                    records += 1;
                    bytes += record.len();
                    // Every record came out of the input: fragments never overlap.
                    assert!(bytes <= raw.len(), "records hold more bytes than the file");
                    assert!(records <= raw.len() / log::HEADER_SIZE + 1);
                }
                let _ = reader.take_corruptions();
            }
        }
        None => {}
    }
}

/// Arbitrary bytes as one MANIFEST record; what decodes must re-encode to the same edit.
pub fn version_edit(data: &[u8]) {
    if let Ok(edit) = VersionEdit::decode(data) {
        let mut encoded = Vec::new();
        edit.encode(&mut encoded);
        let again = VersionEdit::decode(&encoded).expect("an encoded edit decodes");
        assert_eq!(again, edit, "decode(encode(edit)) != edit");
        let mut twice = Vec::new();
        again.encode(&mut twice);
        assert_eq!(twice, encoded, "encoding is not canonical");
    }
}

/// Arbitrary bytes as a WAL record payload; what decodes must re-encode to the same records.
pub fn write_batch(data: &[u8]) {
    let Ok(batch) = WriteBatch::from_contents(data.to_vec()) else {
        return;
    };
    let _ = (batch.count(), batch.sequence(), batch.approximate_size());
    let records: Result<Vec<BatchRecord<'_>>, _> = batch.iter().collect();
    let mut iterated = 0usize;
    for record in batch.iter() {
        iterated += 1;
        assert!(iterated <= data.len(), "more records than bytes");
        if record.is_err() {
            break;
        }
    }
    let mem = siltdb::memtable::MemTable::new();
    let inserted = batch.insert_into(&mem);
    let Ok(records) = records else {
        assert!(
            inserted.is_err(),
            "a batch that does not iterate must not insert"
        );
        assert!(mem.is_empty(), "a corrupt batch inserts nothing");
        return;
    };
    let mut rebuilt = WriteBatch::new();
    rebuilt.set_sequence(batch.sequence());
    for r in &records {
        match *r {
            BatchRecord::Put { key, value } => rebuilt.put(key, value),
            BatchRecord::Delete { key } => rebuilt.delete(key),
        }
    }
    assert_eq!(rebuilt.count(), batch.count());
    let again: Vec<BatchRecord<'_>> = rebuilt
        .iter()
        .collect::<Result<_, _>>()
        .expect("a rebuilt batch iterates");
    assert_eq!(again, records);
    if inserted.is_ok() {
        assert_eq!(mem.len(), records.len(), "every record inserted");
    }
}

/// Iterates forward and backward and seeks to what it found; returns the keys seen
/// going forward. `limit` bounds the steps, so a cycle would show up as a failure.
fn walk(it: &mut dyn InternalIterator, limit: usize) -> Vec<Vec<u8>> {
    let steps = limit + 2;
    let mut keys = Vec::new();
    it.seek_to_first();
    while it.valid() {
        assert!(keys.len() <= steps, "forward iteration does not end");
        keys.push(it.key().to_vec());
        let _ = it.value();
        it.next();
    }
    let _ = it.status();
    let mut back = 0;
    it.seek_to_last();
    while it.valid() {
        back += 1;
        assert!(back <= steps, "backward iteration does not end");
        let _ = (it.key(), it.value());
        it.prev();
    }
    let _ = it.status();
    for key in keys.iter().take(16) {
        it.seek(key);
        if it.valid() {
            let _ = (it.key(), it.value());
            it.next();
        }
    }
    it.seek(b"");
    it.seek(&[0xff; 16]);
    let _ = it.status();
    keys
}

/// Reads a recipe front to back; runs dry as zeros.
struct Recipe<'a>(&'a [u8]);

impl Recipe<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorted, distinct keys of up to 24 bytes with values of up to `max_value` bytes.
    fn entries(&mut self, max_value: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut entries = Vec::new();
        while !self.is_empty() && entries.len() < 200 {
            let klen = usize::from(self.byte()) % 25;
            let key = self.bytes(klen);
            let vlen = usize::from(self.byte()) * 7 % (max_value + 1);
            let seed = self.byte();
            let value = (0..vlen).map(|i| seed.wrapping_add(i as u8)).collect();
            entries.push((key, value));
        }
        entries.sort();
        entries.dedup_by(|a, b| a.0 == b.0);
        entries
    }
}

fn block_round_trip(recipe: &[u8]) {
    let mut recipe = Recipe(recipe);
    let mut builder = BlockBuilder::new(usize::from(recipe.byte() % 17));
    let entries = recipe.entries(300);
    for (k, v) in &entries {
        builder.add(k, v);
    }
    let block = Arc::new(Block::new(builder.finish().to_vec()).expect("a built block decodes"));
    let mut it = block.iter(bytewise_compare);
    it.seek_to_first();
    for (k, v) in &entries {
        assert!(it.valid(), "entry missing");
        assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
        it.next();
    }
    assert!(!it.valid() && it.status().is_ok());
    it.seek_to_last();
    for (k, _) in entries.iter().rev() {
        assert!(it.valid());
        assert_eq!(it.key(), &k[..]);
        it.prev();
    }
    assert!(!it.valid() && it.status().is_ok());
    for (k, v) in &entries {
        it.seek(k);
        assert!(it.valid(), "seek to a present key");
        assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
    }
}

fn table_round_trip(recipe: &[u8]) {
    let mut recipe = Recipe(recipe);
    let options = Options {
        block_size: 1 + usize::from(recipe.byte()) * 16,
        block_restart_interval: 1 + usize::from(recipe.byte() % 16),
        compression: if recipe.byte() % 2 == 0 {
            CompressionType::None
        } else {
            CompressionType::Snappy
        },
        bloom_bits_per_key: usize::from(recipe.byte() % 3) * 5,
        ..Options::default()
    };
    let entries: Vec<(Vec<u8>, Vec<u8>, bool)> = recipe
        .entries(400)
        .into_iter()
        .map(|(k, v)| {
            let deleted = v.len() % 5 == 1;
            (k, v, deleted)
        })
        .collect();
    let sink = Arc::new(Mutex::new(Vec::new()));
    let mut builder = TableBuilder::new(&options, Box::new(MemWritable(Arc::clone(&sink))));
    for (i, (k, v, deleted)) in entries.iter().enumerate() {
        let t = if *deleted {
            ValueType::Deletion
        } else {
            ValueType::Value
        };
        let ikey = make_internal_key(k, SequenceNumber(1000 + i as u64), t);
        builder.add(&ikey, v).expect("keys are sorted");
    }
    let size = builder.finish().expect("finish");
    let bytes = sink.lock().expect("sink").clone();
    assert_eq!(size, bytes.len() as u64);
    let table = Table::open(&options, Box::new(MemFile(bytes)), size, "round-trip.ldb")
        .expect("a built table opens");
    let table = Arc::new(table);
    let read = ReadOptions::default();
    let mut it = table.iter(&read);
    it.seek_to_first();
    for (k, v, _) in &entries {
        assert!(it.valid(), "entry missing: {:?}", it.status());
        let parsed = parse_internal_key(it.key()).expect("internal key");
        assert_eq!(parsed.user_key, &k[..]);
        assert_eq!(it.value(), &v[..]);
        it.next();
    }
    assert!(!it.valid() && it.status().is_ok());
    for (k, v, deleted) in &entries {
        let got = table.get(&read, k, SequenceNumber::MAX).expect("get");
        let want = if *deleted {
            LookupResult::Deleted
        } else {
            LookupResult::Found(v.clone())
        };
        assert_eq!(got, Some(want));
        // Older than every entry: nothing to see.
        assert_eq!(table.get(&read, k, SequenceNumber(999)).expect("get"), None);
    }
}

fn log_round_trip(recipe: &[u8]) {
    let mut recipe = Recipe(recipe);
    let mut records = Vec::new();
    let mut total = 0;
    while !recipe.is_empty() && records.len() < 64 && total < 256 << 10 {
        // Lengths up to ~80 KiB: records span blocks as FIRST/MIDDLE/LAST fragments.
        let len = (usize::from(recipe.byte()) << 9 | usize::from(recipe.byte())) % 80_000;
        total += len;
        let fill = recipe.byte();
        records.push((0..len).map(|i| fill ^ (i as u8)).collect::<Vec<u8>>());
    }
    let sink = Arc::new(Mutex::new(Vec::new()));
    let mut writer = log::Writer::new(Box::new(MemWritable(Arc::clone(&sink))));
    for r in &records {
        writer.add_record(r).expect("append");
    }
    let bytes = sink.lock().expect("sink").clone();

    let read_all = |bytes: Vec<u8>| {
        let mut reader = log::Reader::new(Box::new(MemSource::new(bytes)), true);
        let mut out = Vec::new();
        while let Some(r) = reader.read_record().expect("memory does not fail") {
            out.push(r);
        }
        (out, reader.take_corruptions())
    };
    let (read, corruptions) = read_all(bytes.clone());
    assert!(corruptions.is_empty(), "{corruptions:?}");
    assert_eq!(read, records);

    // A torn tail: what is read is a prefix of what was written, and nothing is reported.
    let cut = (usize::from(recipe.byte()) << 8 | usize::from(recipe.byte())) % (bytes.len() + 1);
    let (read, corruptions) = read_all(bytes[..cut].to_vec());
    assert!(corruptions.is_empty(), "cut at {cut}: {corruptions:?}");
    assert!(read.len() <= records.len());
    assert_eq!(read[..], records[..read.len()], "cut at {cut}");
}

/// A table file in memory.
struct MemFile(Vec<u8>);

impl RandomAccessFile for MemFile {
    fn read_at(&self, offset: u64, len: usize) -> siltdb::Result<Vec<u8>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}

/// A log file in memory, read front to back.
struct MemSource {
    data: Vec<u8>,
    pos: usize,
}

impl MemSource {
    fn new(data: Vec<u8>) -> MemSource {
        MemSource { data, pos: 0 }
    }
}

impl SequentialFile for MemSource {
    fn read(&mut self, buf: &mut [u8]) -> siltdb::Result<usize> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// A file being written in memory.
struct MemWritable(Arc<Mutex<Vec<u8>>>);

impl WritableFile for MemWritable {
    fn append(&mut self, data: &[u8]) -> siltdb::Result<()> {
        self.0.lock().expect("sink").extend_from_slice(data);
        Ok(())
    }
    fn flush(&mut self) -> siltdb::Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> siltdb::Result<()> {
        Ok(())
    }
}
