//! Table files hold LevelDB 1.23's exact layout, and reading damaged table files gives
//! Corruption or the right answer — never a panic, never a wrong value when checksummed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use siltdb::fs::{RandomAccessFile, WritableFile};
use siltdb::iterator::InternalIterator;
use siltdb::key::{compare_internal_keys, make_internal_key, ValueType};
use siltdb::table::block::{bytewise_compare, Block, KeyComparator};
use siltdb::table::format::FOOTER_LEN;
use siltdb::table::{BlockHandle, Footer, Table, TableBuilder};
use siltdb::{
    CompressionType, ErrorKind, LookupResult, Options, ReadOptions, Result, SequenceNumber,
};

/// Sorted (internal key, value) pairs.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

struct MemWritable(Arc<Mutex<Vec<u8>>>);

impl WritableFile for MemWritable {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.0.lock().expect("buffer lock").extend_from_slice(data);
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}

struct MemFile(Vec<u8>);

impl RandomAccessFile for MemFile {
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}

fn build(options: &Options, entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let mut b = TableBuilder::new(options, Box::new(MemWritable(Arc::clone(&buf))));
    for (k, v) in entries {
        b.add(k, v).expect("add");
    }
    b.finish().expect("finish");
    let bytes = buf.lock().expect("buffer lock").clone();
    bytes
}

fn open(bytes: &[u8], size: u64) -> Result<Arc<Table>> {
    Table::open(
        &Options::default(),
        Box::new(MemFile(bytes.to_vec())),
        size,
        "000042.ldb",
    )
    .map(Arc::new)
}

fn ikey(user: &[u8], seq: u64) -> Vec<u8> {
    make_internal_key(user, SequenceNumber(seq), ValueType::Value)
}

fn footer(bytes: &[u8]) -> Footer {
    Footer::decode(&bytes[bytes.len() - FOOTER_LEN..]).expect("footer")
}

/// The block at `h`, decompressed if its trailer says snappy.
fn block_at(bytes: &[u8], h: &BlockHandle) -> Arc<Block> {
    let raw = &bytes[h.offset as usize..(h.offset + h.size) as usize];
    let contents = if trailer_type(bytes, h) == 1 {
        snap::raw::Decoder::new()
            .decompress_vec(raw)
            .expect("snappy")
    } else {
        raw.to_vec()
    };
    Arc::new(Block::new(contents).expect("block"))
}

/// The handles a block's values hold (the index's data blocks, the meta-index's filter).
fn handles_in(block: &Arc<Block>, cmp: KeyComparator) -> Vec<BlockHandle> {
    let mut it = block.iter(cmp);
    let mut out = Vec::new();
    it.seek_to_first();
    while it.valid() {
        out.push(BlockHandle::decode_from(&mut it.value()).expect("handle"));
        it.next();
    }
    out
}

fn data_handles(bytes: &[u8]) -> Vec<BlockHandle> {
    handles_in(
        &block_at(bytes, &footer(bytes).index_handle),
        compare_internal_keys,
    )
}

fn trailer_type(bytes: &[u8], h: &BlockHandle) -> u8 {
    bytes[(h.offset + h.size) as usize]
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn one_entry_table_is_byte_for_byte_leveldbs_layout() {
    let options = Options {
        compression: CompressionType::None,
        bloom_bits_per_key: 0,
        ..Options::default()
    };
    let key = ikey(b"a", 1);
    let bytes = build(&options, &[(key.clone(), b"v".to_vec())]);

    let mut expected = Vec::new();
    let push_block = |expected: &mut Vec<u8>, contents: &[u8]| {
        expected.extend_from_slice(contents);
        let mut typed = contents.to_vec();
        typed.push(0);
        expected.push(0);
        expected.extend_from_slice(&siltdb::crc::mask(siltdb::crc::value(&[&typed])).to_le_bytes());
    };
    let restart_tail = [0, 0, 0, 0, 1, 0, 0, 0];
    // Data block at 0: one entry (shared 0, 9 key bytes, 1 value byte).
    let mut data = vec![0, 9, 1];
    data.extend_from_slice(&key);
    data.push(b'v');
    data.extend_from_slice(&restart_tail);
    assert_eq!(data.len(), 21);
    push_block(&mut expected, &data);
    // Empty meta-index at 26.
    push_block(&mut expected, &restart_tail);
    // Index at 39: "a" cannot be shortened, so the full key maps to handle (0, 21).
    let mut index = vec![0, 9, 2];
    index.extend_from_slice(&key);
    index.extend_from_slice(&[0, 21]);
    index.extend_from_slice(&restart_tail);
    push_block(&mut expected, &index);
    let mut foot = vec![26, 8, 39, 22];
    foot.resize(40, 0);
    foot.extend_from_slice(&0xdb47_7524_8b80_fb57u64.to_le_bytes());
    expected.extend_from_slice(&foot);
    assert_eq!(bytes, expected);
}

#[test]
fn footer_ends_in_magic_and_uncompressed_tables_have_type_zero_blocks() {
    let options = Options {
        compression: CompressionType::None,
        ..Options::default()
    };
    let entries: Vec<_> = (0..500u32)
        .map(|i| (ikey(format!("k{i:05}").as_bytes(), 1), vec![b'x'; 100]))
        .collect();
    let bytes = build(&options, &entries);
    assert_eq!(
        &bytes[bytes.len() - 8..],
        &[0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]
    );
    let handles = data_handles(&bytes);
    assert!(handles.len() > 5);
    for h in &handles {
        assert_eq!(trailer_type(&bytes, h), 0);
        assert!(h.size >= 4096 || h == handles.last().expect("last"));
    }
    // The meta-index names the bloom filter.
    let meta = block_at(&bytes, &footer(&bytes).metaindex_handle);
    let mut it = meta.iter(bytewise_compare);
    it.seek_to_first();
    assert_eq!(it.key(), b"filter.leveldb.BuiltinBloomFilter2");
}

#[test]
fn blocks_that_do_not_shrink_by_an_eighth_are_stored_raw_under_snappy() {
    // Values mix a run of 'a's (compressible) with noise; the run length changes every
    // 20 entries, so blocks save anywhere from nothing to about a quarter.
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let entries: Vec<_> = (0..600u32)
        .map(|i| {
            let run = (i as usize / 20 % 8) * 8;
            let mut v = vec![b'a'; run];
            v.extend((run..200).map(|_| rng.next() as u8));
            (ikey(format!("k{i:05}").as_bytes(), 1), v)
        })
        .collect();
    let plain_options = Options {
        compression: CompressionType::None,
        ..Options::default()
    };
    let plain = build(&plain_options, &entries);
    let snappy = build(&Options::default(), &entries);
    let plain_handles = data_handles(&plain);
    let snappy_handles = data_handles(&snappy);
    assert_eq!(plain_handles.len(), snappy_handles.len());
    let (mut kept_raw_though_smaller, mut compressed) = (0, 0);
    for (p, s) in plain_handles.iter().zip(&snappy_handles) {
        let raw = &plain[p.offset as usize..(p.offset + p.size) as usize];
        let c = snap::raw::Encoder::new()
            .compress_vec(raw)
            .expect("compress")
            .len();
        if c < raw.len() - raw.len() / 8 {
            assert_eq!(trailer_type(&snappy, s), 1);
            assert_eq!(s.size as usize, c);
            compressed += 1;
        } else {
            assert_eq!(trailer_type(&snappy, s), 0);
            assert_eq!(s.size, p.size);
            if c < raw.len() {
                kept_raw_though_smaller += 1;
            }
        }
    }
    assert!(
        compressed > 0 && kept_raw_though_smaller > 0,
        "{compressed} {kept_raw_though_smaller}"
    );
}

/// Small table, several blocks, snappy and a filter: every structure is exercised.
fn small_table() -> (Entries, Vec<u8>) {
    let options = Options {
        block_size: 256,
        ..Options::default()
    };
    let entries: Vec<_> = (0..120u32)
        .map(|i| {
            let v = if i % 3 == 0 {
                vec![b'z'; 40]
            } else {
                format!("value-{i}").into_bytes()
            };
            (ikey(format!("key{i:04}").as_bytes(), u64::from(i) + 1), v)
        })
        .collect();
    let bytes = build(&options, &entries);
    (entries, bytes)
}

/// Reads everything back through `table`. Each answer must be right or a Corruption.
fn check_right_or_corruption(
    table: &Arc<Table>,
    entries: &[(Vec<u8>, Vec<u8>)],
    read: &ReadOptions,
) {
    for (i, (k, v)) in entries.iter().enumerate() {
        let user = &k[..k.len() - 8];
        match table.get(read, user, SequenceNumber::MAX) {
            Ok(got) => assert_eq!(got, Some(LookupResult::Found(v.clone())), "entry {i}"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Corruption, "{e}"),
        }
        match table.get(read, format!("key{i:04}x").as_bytes(), SequenceNumber::MAX) {
            Ok(got) => assert_eq!(got, None),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Corruption, "{e}"),
        }
    }
    let mut it = table.iter(read);
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        assert_eq!(
            (it.key(), it.value()),
            (&entries[n].0[..], &entries[n].1[..])
        );
        n += 1;
        it.next();
    }
    match it.status() {
        Ok(()) => assert_eq!(n, entries.len()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Corruption, "{e}"),
    }
}

#[test]
fn every_flipped_byte_gives_corruption_or_the_right_value() {
    let (entries, good) = small_table();
    let read = ReadOptions::default();
    assert!(read.verify_checksums);
    check_right_or_corruption(
        &open(&good, good.len() as u64).expect("open"),
        &entries,
        &read,
    );
    let mut open_failures = 0;
    for pos in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[pos] ^= mask;
            match open(&bad, bad.len() as u64) {
                Ok(table) => check_right_or_corruption(&table, &entries, &read),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Corruption, "{e}");
                    assert!(e.to_string().contains("000042.ldb"), "{e}");
                    open_failures += 1;
                }
            }
        }
    }
    assert!(open_failures > 0);
}

#[test]
fn every_truncation_fails_to_open() {
    let (_, good) = small_table();
    for len in 0..good.len() {
        let cut = &good[..len];
        let err = open(cut, len as u64)
            .err()
            .expect("truncated table must not open");
        assert_eq!(err.kind(), ErrorKind::Corruption, "len {len}: {err}");
        // A file shorter than the size the MANIFEST recorded is corrupt too.
        let err = open(cut, good.len() as u64)
            .err()
            .expect("short file must not open");
        assert_eq!(err.kind(), ErrorKind::Corruption, "len {len}: {err}");
    }
}

/// Every block of `bytes` (data through the index, filter, meta-index, index), found by
/// decoding with the reader's own rules.
fn all_block_handles(bytes: &[u8]) -> Vec<BlockHandle> {
    let f = footer(bytes);
    let mut handles = vec![f.metaindex_handle, f.index_handle];
    handles.extend(handles_in(
        &block_at(bytes, &f.metaindex_handle),
        bytewise_compare,
    ));
    handles.extend(data_handles(bytes));
    handles
}

/// Recomputes every block trailer so that mutations reach the decoders unchecked.
fn fix_checksums(bytes: &mut [u8], handles: &[BlockHandle]) {
    for h in handles {
        let (start, end) = (h.offset as usize, (h.offset + h.size) as usize);
        if end + 5 > bytes.len() {
            continue;
        }
        let crc = siltdb::crc::mask(siltdb::crc::value(&[&bytes[start..=end]]));
        bytes[end + 1..end + 5].copy_from_slice(&crc.to_le_bytes());
    }
}

fn exercise(bytes: &[u8], entries: &[(Vec<u8>, Vec<u8>)], verify: bool) {
    let Ok(table) = open(bytes, bytes.len() as u64) else {
        return;
    };
    let read = ReadOptions {
        verify_checksums: verify,
        ..ReadOptions::default()
    };
    for (k, _) in entries.iter().step_by(9) {
        let _ = table.get(&read, &k[..k.len() - 8], SequenceNumber::MAX);
        let _ = table.approximate_offset_of(k);
    }
    let mut it = table.iter(&read);
    let mut steps = 0;
    it.seek_to_first();
    while it.valid() && steps < 10_000 {
        let _ = (it.key().len(), it.value().len());
        it.next();
        steps += 1;
    }
    it.seek_to_last();
    while it.valid() && steps < 20_000 {
        it.prev();
        steps += 1;
    }
    for (k, _) in entries.iter().step_by(11) {
        it.seek(k);
        if it.valid() {
            it.prev();
        }
    }
    let _ = it.status();
}

#[test]
fn random_mutations_never_panic() {
    let (entries, good) = small_table();
    let handles = all_block_handles(&good);
    let mut failures = Vec::new();
    for seed in 1..=4000u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let mut bad = good.clone();
        for _ in 0..1 + rng.below(4) {
            let pos = rng.below(bad.len());
            bad[pos] = rng.next() as u8;
        }
        if seed % 2 == 0 {
            fix_checksums(&mut bad, &handles);
        }
        if rng.below(10) == 0 {
            bad.truncate(rng.below(bad.len()));
        }
        let verify = seed % 3 != 0;
        if catch_unwind(AssertUnwindSafe(|| exercise(&bad, &entries, verify))).is_err() {
            failures.push(seed);
        }
    }
    assert!(failures.is_empty(), "panicked for seeds {failures:?}");
}

#[test]
fn damaged_data_block_is_reported_with_file_and_offset_and_stops_iteration() {
    let options = Options {
        compression: CompressionType::None,
        ..Options::default()
    };
    let entries: Entries = (0..200u32)
        .map(|i| (ikey(format!("k{i:05}").as_bytes(), 1), vec![b'v'; 100]))
        .collect();
    let mut bytes = build(&options, &entries);
    let handles = data_handles(&bytes);
    let second = handles[1];
    // Damage a value byte in the middle of the second data block.
    bytes[(second.offset + second.size / 2) as usize] ^= 0x01;
    let table = open(&bytes, bytes.len() as u64).expect("index and filter are intact");
    let read = ReadOptions::default();
    let first_block_key = &entries[0].0;
    let got = table.get(
        &read,
        &first_block_key[..first_block_key.len() - 8],
        SequenceNumber::MAX,
    );
    assert_eq!(
        got.expect("first block is fine"),
        Some(LookupResult::Found(vec![b'v'; 100]))
    );

    let mut it = table.iter(&read);
    let n = count_forward(&mut it);
    let err = it.status().expect_err("second block is damaged");
    assert_eq!(err.kind(), ErrorKind::Corruption);
    let msg = err.to_string();
    assert!(
        msg.contains("000042.ldb") && msg.contains(&format!("offset {}", second.offset)),
        "{msg}"
    );
    assert!(n > 0 && n < entries.len());
    assert!(!it.valid());
    it.seek_to_first();
    assert!(!it.valid(), "an iterator that failed stays failed");

    let unverified = ReadOptions {
        verify_checksums: false,
        ..ReadOptions::default()
    };
    let mut it = table.iter(&unverified);
    let n = count_forward(&mut it);
    it.status()
        .expect("unchecked read of a damaged value passes");
    assert_eq!(n, entries.len());
}

/// Entries seen from the first until the iterator stops.
fn count_forward(it: &mut impl InternalIterator) -> usize {
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next();
    }
    n
}
