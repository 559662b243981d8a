//! Writes a table file: data blocks as entries arrive, then the filter block, the
//! meta-index, the index and the footer, in LevelDB 1.23's layout byte for byte
//! (snappy output aside, which only has to decode the same). A table can also be built
//! in key-range parts on several threads: a part keeps its blocks in memory and is
//! joined to the builder of the range before it with [`TableBuilder::append_part`].

use crate::coding::put_fixed64;
use crate::error::{Error, Result};
use crate::fs::WritableFile;
use crate::key::{
    compare_internal_keys, extract_user_key, pack_sequence_and_type, SequenceNumber,
    VALUE_TYPE_FOR_SEEK,
};
use crate::options::{CompressionType, Options};
use crate::table::block_builder::BlockBuilder;
use crate::table::filter::{bloom_hash, BloomFilterPolicy, FilterBlockBuilder, FILTER_META_KEY};
use crate::table::format::{append_block_trailer, BlockHandle, Footer};

/// Streams sorted internal keys into a table file. Not thread-safe: one writer owns it.
/// The first failure is sticky; every later call returns it.
pub struct TableBuilder {
    writer: BlockWriter,
    block_size: usize,
    restart_interval: usize,
    data_block: BlockBuilder,
    /// Index entries of the blocks written: separator keys end to end in `index_keys`,
    /// each entry's end offset there with its block. Kept as a list rather than an
    /// encoded block so that a part's entries can be moved when the part is appended.
    index_keys: Vec<u8>,
    index_entries: Vec<(usize, BlockHandle)>,
    /// `Some` when the table gets a filter block: the [`bloom_hash`] of every key, and
    /// for each data block its offset and the number of hashes up to its end. Filters
    /// group blocks by offset, so they are built at the end, from final offsets.
    filter: Option<(BloomFilterPolicy, FilterKeys)>,
    first_key: Vec<u8>,
    last_key: Vec<u8>,
    num_entries: u64,
    /// Handle of the last data block written, waiting for the next key so its index
    /// entry can be shortened to a separator.
    pending_index_entry: Option<BlockHandle>,
    status: Option<Error>,
    closed: bool,
}

#[derive(Default)]
struct FilterKeys {
    hashes: Vec<u32>,
    blocks: Vec<(u64, usize)>,
}

impl TableBuilder {
    /// Uses `block_size`, `block_restart_interval`, `compression` and
    /// `bloom_bits_per_key` (0 = no filter block) from `options`.
    pub fn new(options: &Options, file: Box<dyn WritableFile>) -> TableBuilder {
        TableBuilder::with_sink(options, Sink::File(file))
    }

    /// A builder for a part of a table whose keys all sort after those of the builder
    /// it will be appended to (see [`Self::append_part`]); it may be filled on another
    /// thread meanwhile. Its blocks stay in memory, in `buffer` (emptied first): a
    /// buffer handed back by an earlier `append_part` is reused without touching fresh
    /// memory. It cannot be finished on its own.
    pub fn new_part(options: &Options, mut buffer: Vec<u8>) -> TableBuilder {
        buffer.clear();
        TableBuilder::with_sink(options, Sink::Memory(buffer))
    }

    fn with_sink(options: &Options, sink: Sink) -> TableBuilder {
        let filter = (options.bloom_bits_per_key > 0).then(|| {
            let policy = BloomFilterPolicy {
                bits_per_key: options.bloom_bits_per_key,
            };
            (policy, FilterKeys::default())
        });
        TableBuilder {
            writer: BlockWriter {
                sink,
                offset: 0,
                compression: options.compression,
                encoder: snap::raw::Encoder::new(),
                scratch: Vec::new(),
            },
            block_size: options.block_size,
            restart_interval: options.block_restart_interval,
            data_block: BlockBuilder::new(options.block_restart_interval),
            index_keys: Vec::new(),
            index_entries: Vec::new(),
            filter,
            first_key: Vec::new(),
            last_key: Vec::new(),
            num_entries: 0,
            pending_index_entry: None,
            status: None,
            closed: false,
        }
    }

    /// Keys must be internal keys in strictly increasing `compare_internal_keys` order
    /// (debug builds assert it; release builds return InvalidArgument).
    pub fn add(&mut self, internal_key: &[u8], value: &[u8]) -> Result<()> {
        self.check_open()?;
        if internal_key.len() < 8 {
            return Err(Error::invalid_argument(format!(
                "table key of {} bytes is not an internal key",
                internal_key.len()
            )));
        }
        let in_order =
            self.num_entries == 0 || compare_internal_keys(internal_key, &self.last_key).is_gt();
        debug_assert!(in_order, "table keys added out of order");
        if !in_order {
            return Err(Error::invalid_argument(
                "table keys must be added in strictly increasing order",
            ));
        }
        if let Some(handle) = self.pending_index_entry.take() {
            shorten_to_separator(&mut self.last_key, internal_key);
            self.push_index_entry(handle);
        }
        if let Some((_, keys)) = &mut self.filter {
            keys.hashes.push(bloom_hash(extract_user_key(internal_key)));
        }
        if self.num_entries == 0 {
            self.first_key.extend_from_slice(internal_key);
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(internal_key);
        self.num_entries += 1;
        self.data_block.add(internal_key, value);
        if self.data_block.current_size_estimate() >= self.block_size {
            let res = self.flush_data_block();
            self.record(res)?;
        }
        Ok(())
    }

    /// Writes the last data block, the filter block, meta-index, index and footer.
    /// Returns the file size. Flushes to the OS but does not sync; see [`Self::sync`].
    pub fn finish(&mut self) -> Result<u64> {
        self.check_open()?;
        self.closed = true;
        let res = self.write_tail();
        self.record(res)
    }

    /// Appends `part`, a builder made by [`Self::new_part`] whose keys all sort after
    /// the keys added here: its blocks are written after this builder's, their index
    /// entries and filter keys moved to their new offsets. The block being filled here
    /// ends early, so the table differs from one built in one go only in block
    /// boundaries. Further keys may follow, sorting after the part's. Returns the part's
    /// buffer, emptied, for the next part.
    pub fn append_part(&mut self, mut part: TableBuilder) -> Result<Vec<u8>> {
        self.check_open()?;
        part.check_open()?;
        let Sink::Memory(_) = part.writer.sink else {
            return Err(Error::invalid_argument(
                "only a builder made by new_part can be appended",
            ));
        };
        if part.num_entries == 0 {
            return Ok(part.take_buffer());
        }
        if self.num_entries > 0 && compare_internal_keys(&part.first_key, &self.last_key).is_le() {
            return Err(Error::invalid_argument(
                "an appended table part must sort after the keys before it",
            ));
        }
        part.flush_data_block()?;
        let res = self.append_flushed_part(&mut part);
        self.record(res)?;
        Ok(part.take_buffer())
    }

    /// A part's buffer, emptied.
    fn take_buffer(&mut self) -> Vec<u8> {
        match &mut self.writer.sink {
            Sink::Memory(bytes) => {
                let mut bytes = std::mem::take(bytes);
                bytes.clear();
                bytes
            }
            Sink::File(_) => Vec::new(),
        }
    }

    /// Ends the data block being filled, as [`Self::append_part`] does before a part:
    /// the next key starts a new block. A table built in key ranges ends one at every
    /// cut, so its bytes do not depend on which ranges were built apart.
    pub fn end_block(&mut self) -> Result<()> {
        self.check_open()?;
        let res = self.flush_data_block();
        self.record(res)
    }

    fn append_flushed_part(&mut self, part: &mut TableBuilder) -> Result<()> {
        self.flush_data_block()?;
        if let Some(handle) = self.pending_index_entry.take() {
            shorten_to_separator(&mut self.last_key, &part.first_key);
            self.push_index_entry(handle);
        }
        let shift = self.writer.offset;
        let moved = |h: BlockHandle| BlockHandle {
            offset: h.offset + shift,
            size: h.size,
        };
        if let Sink::Memory(bytes) = &part.writer.sink {
            self.writer.append(bytes)?;
        }
        let key_base = self.index_keys.len();
        self.index_keys.extend_from_slice(&part.index_keys);
        self.index_entries.extend(
            part.index_entries
                .iter()
                .map(|&(end, h)| (key_base + end, moved(h))),
        );
        if let (Some((_, keys)), Some((_, part_keys))) = (&mut self.filter, &part.filter) {
            let hash_base = keys.hashes.len();
            keys.hashes.extend_from_slice(&part_keys.hashes);
            keys.blocks.extend(
                part_keys
                    .blocks
                    .iter()
                    .map(|&(offset, end)| (offset + shift, hash_base + end)),
            );
        }
        self.pending_index_entry = part.pending_index_entry.map(moved);
        if self.num_entries == 0 {
            self.first_key = std::mem::take(&mut part.first_key);
        }
        self.last_key = std::mem::take(&mut part.last_key);
        self.num_entries += part.num_entries;
        Ok(())
    }

    /// Makes the written bytes durable.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        let res = match &mut self.writer.sink {
            Sink::File(file) => file.sync(),
            Sink::Memory(_) => Ok(()),
        };
        self.record(res)
    }

    pub fn num_entries(&self) -> u64 {
        self.num_entries
    }

    /// Bytes written so far (the final file size once `finish` returned).
    pub fn file_size(&self) -> u64 {
        self.writer.offset
    }

    fn check_open(&self) -> Result<()> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        if self.closed {
            return Err(Error::invalid_argument("table builder already finished"));
        }
        Ok(())
    }

    fn record<T>(&mut self, res: Result<T>) -> Result<T> {
        if let Err(e) = &res {
            self.status = Some(e.clone());
        }
        res
    }

    /// Records the index entry of the block at `handle` under `last_key` (by now a
    /// separator or successor).
    fn push_index_entry(&mut self, handle: BlockHandle) {
        self.index_keys.extend_from_slice(&self.last_key);
        self.index_entries.push((self.index_keys.len(), handle));
    }

    fn flush_data_block(&mut self) -> Result<()> {
        if self.data_block.is_empty() {
            return Ok(());
        }
        let handle = self.writer.write_block(&mut self.data_block)?;
        self.pending_index_entry = Some(handle);
        if let Some((_, keys)) = &mut self.filter {
            keys.blocks.push((handle.offset, keys.hashes.len()));
        }
        Ok(())
    }

    fn write_tail(&mut self) -> Result<u64> {
        let Sink::File(_) = self.writer.sink else {
            return Err(Error::invalid_argument(
                "a table part is finished by appending it to a table builder",
            ));
        };
        self.flush_data_block()?;
        let filter_handle = match &self.filter {
            Some((policy, keys)) => {
                let block = filter_block(*policy, keys);
                Some(self.writer.write_raw_block(&block, false)?)
            }
            None => None,
        };
        let mut meta_index = BlockBuilder::new(self.restart_interval);
        if let Some(handle) = filter_handle {
            meta_index.add(FILTER_META_KEY.as_bytes(), &handle.encode());
        }
        let metaindex_handle = self.writer.write_block(&mut meta_index)?;
        if let Some(handle) = self.pending_index_entry.take() {
            shorten_to_successor(&mut self.last_key);
            self.push_index_entry(handle);
        }
        let mut index_block = BlockBuilder::new(1);
        let mut start = 0;
        for &(end, handle) in &self.index_entries {
            let key = self.index_keys.get(start..end).unwrap_or_default();
            index_block.add(key, &handle.encode());
            start = end;
        }
        let index_handle = self.writer.write_block(&mut index_block)?;
        let footer = Footer {
            metaindex_handle,
            index_handle,
        };
        self.writer.append(&footer.encode())?;
        if let Sink::File(file) = &mut self.writer.sink {
            file.flush()?;
        }
        Ok(self.writer.offset)
    }
}

/// The filter block, as LevelDB's streaming `FilterBlockBuilder` would have made it:
/// each data block starts at its offset and adds its keys.
fn filter_block(policy: BloomFilterPolicy, keys: &FilterKeys) -> Vec<u8> {
    let mut builder = FilterBlockBuilder::new(policy);
    let mut start = 0;
    for &(offset, end) in &keys.blocks {
        builder.start_block(offset);
        for &hash in keys.hashes.get(start..end).unwrap_or_default() {
            builder.add_key_hash(hash);
        }
        start = end;
    }
    builder.finish().to_vec()
}

/// Where a builder's bytes go: the table file, or memory for a part built apart.
enum Sink {
    File(Box<dyn WritableFile>),
    Memory(Vec<u8>),
}

/// The sink and the bytes written to it so far; compresses blocks on the way out.
struct BlockWriter {
    sink: Sink,
    offset: u64,
    compression: CompressionType,
    encoder: snap::raw::Encoder,
    scratch: Vec<u8>,
}

impl BlockWriter {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.sink {
            Sink::File(file) => file.append(data)?,
            Sink::Memory(bytes) => bytes.extend_from_slice(data),
        }
        self.offset += data.len() as u64;
        Ok(())
    }

    /// Finishes `block`, compresses it if that saves at least 1/8, writes it, resets it.
    fn write_block(&mut self, block: &mut BlockBuilder) -> Result<BlockHandle> {
        let raw = block.finish();
        let mut compressed = std::mem::take(&mut self.scratch);
        let use_snappy = self.compression == CompressionType::Snappy && {
            compressed.resize(snap::raw::max_compress_len(raw.len()), 0);
            match self.encoder.compress(raw, &mut compressed) {
                Ok(n) => {
                    compressed.truncate(n);
                    n < raw.len() - raw.len() / 8
                }
                Err(_) => false,
            }
        };
        let handle = if use_snappy {
            self.write_raw_block(&compressed, true)
        } else {
            self.write_raw_block(raw, false)
        };
        self.scratch = compressed;
        block.reset();
        handle
    }

    fn write_raw_block(&mut self, contents: &[u8], snappy: bool) -> Result<BlockHandle> {
        let handle = BlockHandle {
            offset: self.offset,
            size: contents.len() as u64,
        };
        let mut trailer = Vec::with_capacity(5);
        append_block_trailer(&mut trailer, contents, snappy);
        self.append(contents)?;
        self.append(&trailer)?;
        Ok(handle)
    }
}

/// Appends the tag LevelDB gives a shortened index key: the largest sequence with the
/// seek type, so it sorts before every real entry of that user key.
fn push_separator_tag(user_key: &mut Vec<u8>) {
    put_fixed64(
        user_key,
        pack_sequence_and_type(SequenceNumber::MAX, VALUE_TYPE_FOR_SEEK),
    );
}

/// LevelDB's `InternalKeyComparator::FindShortestSeparator` over the bytewise
/// comparator: shortens `start` to an internal key in `[start, limit)` when the user key
/// can be made physically shorter.
fn shorten_to_separator(start: &mut Vec<u8>, limit: &[u8]) {
    let user_start = extract_user_key(start);
    let user_limit = extract_user_key(limit);
    let common = user_start
        .iter()
        .zip(user_limit)
        .take_while(|(a, b)| a == b)
        .count();
    if common >= user_start.len().min(user_limit.len()) {
        return; // one is a prefix of the other
    }
    let diff = user_start[common];
    if diff == 0xff || diff + 1 >= user_limit[common] {
        return;
    }
    let mut shortened = user_start[..=common].to_vec();
    shortened[common] = diff + 1;
    if shortened.len() < user_start.len() {
        push_separator_tag(&mut shortened);
        *start = shortened;
    }
}

/// LevelDB's `InternalKeyComparator::FindShortSuccessor`: the shortest user key >= the
/// user key of `key` (first non-0xff byte incremented), if that is shorter.
fn shorten_to_successor(key: &mut Vec<u8>) {
    let user_key = extract_user_key(key);
    let Some(i) = user_key.iter().position(|&b| b != 0xff) else {
        return;
    };
    let mut shortened = user_key[..=i].to_vec();
    shortened[i] += 1;
    if shortened.len() < user_key.len() {
        push_separator_tag(&mut shortened);
        *key = shortened;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::iterator::InternalIterator;
    use crate::key::{make_internal_key, LookupResult, ValueType};
    use crate::options::ReadOptions;
    use crate::table::test_util::{MemFile, MemWritableFile};
    use crate::table::Table;

    fn ikey(user: &[u8], seq: u64) -> Vec<u8> {
        make_internal_key(user, SequenceNumber(seq), ValueType::Value)
    }

    fn separator_tag(user: &[u8]) -> Vec<u8> {
        make_internal_key(user, SequenceNumber::MAX, ValueType::Value)
    }

    #[test]
    fn separator_shortens_only_when_physically_shorter() {
        type Case<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>);
        let cases: [Case; 6] = [
            (b"abcdef", b"abzzzz", Some(b"abd")),
            (b"abc", b"abz", None),    // "abd" is not shorter than "abc"
            (b"abc", b"abcdef", None), // prefix
            (b"abc", b"abd", None),    // no room between c and d
            (b"axxx", b"b", None),     // first bytes adjacent
            (b"foo", b"foo", None),    // same user key
        ];
        for (start, limit, expect) in cases {
            let mut k = ikey(start, 5);
            shorten_to_separator(&mut k, &ikey(limit, 9));
            let want = expect.map_or_else(|| ikey(start, 5), separator_tag);
            assert_eq!(k, want, "{:?}", String::from_utf8_lossy(start));
            assert!(compare_internal_keys(&k, &ikey(start, 5)).is_ge());
            if start != limit {
                assert!(compare_internal_keys(&k, &ikey(limit, 9)).is_lt());
            }
        }
    }

    struct FailingFile;

    impl WritableFile for FailingFile {
        fn append(&mut self, _: &[u8]) -> Result<()> {
            Err(Error::io("000005.ldb", std::io::Error::other("disk full")))
        }
        fn flush(&mut self) -> Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> Result<()> {
            Ok(())
        }
    }

    fn mem_builder() -> TableBuilder {
        let buf = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        TableBuilder::new(
            &Options::default(),
            Box::new(crate::table::test_util::MemWritableFile(buf)),
        )
    }

    #[test]
    fn short_keys_and_adds_after_finish_are_invalid_arguments() {
        let mut b = mem_builder();
        let err = b.add(b"short", b"v").expect_err("not an internal key");
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
        b.add(&ikey(b"a", 1), b"v").expect("add");
        b.finish().expect("finish");
        let err = b.add(&ikey(b"b", 1), b"v").expect_err("finished");
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
        assert!(b.finish().is_err());
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "out of order"))]
    fn out_of_order_keys_are_refused() {
        let mut b = mem_builder();
        b.add(&ikey(b"b", 1), b"v").expect("add");
        let err = b.add(&ikey(b"a", 1), b"v").expect_err("out of order");
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
    }

    #[test]
    fn older_versions_of_a_key_follow_newer_ones() {
        let mut b = mem_builder();
        b.add(&ikey(b"a", 2), b"v2").expect("add");
        b.add(&ikey(b"a", 1), b"v1")
            .expect("older version sorts after");
        b.add(&ikey(b"b", 9), b"v").expect("next user key");
        assert_eq!(b.num_entries(), 3);
    }

    #[test]
    fn write_failure_is_sticky() {
        let options = Options {
            block_size: 1,
            ..Options::default()
        };
        let mut b = TableBuilder::new(&options, Box::new(FailingFile));
        let err = b.add(&ikey(b"a", 1), b"v").expect_err("block write fails");
        assert_eq!(err.kind(), crate::error::ErrorKind::Io);
        let again = b.add(&ikey(b"b", 1), b"v").expect_err("sticky");
        assert!(again.to_string().contains("disk full"), "{again}");
        assert!(b.finish().is_err());
        assert!(b.sync().is_err());
    }

    fn table_entries(n: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let user = format!("key{:07}", i * 3);
                let value: Vec<u8> = (0..(i * 37) % 700).map(|j| (j % 11 + i) as u8).collect();
                (ikey(user.as_bytes(), n + 1 - i), value)
            })
            .collect()
    }

    fn finish_into_table(
        mut b: TableBuilder,
        buf: &Arc<Mutex<Vec<u8>>>,
        options: &Options,
    ) -> Arc<Table> {
        let size = b.finish().expect("finish");
        let bytes = buf.lock().clone();
        assert_eq!(size, bytes.len() as u64);
        Arc::new(Table::open(options, Box::new(MemFile(bytes)), size, "000009.ldb").expect("open"))
    }

    fn file_builder(options: &Options) -> (TableBuilder, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = TableBuilder::new(options, Box::new(MemWritableFile(Arc::clone(&buf))));
        (b, buf)
    }

    /// Every entry in order, and a point read finds each (the filter included).
    fn assert_table_holds(table: &Arc<Table>, entries: &[(Vec<u8>, Vec<u8>)]) {
        let read = ReadOptions::default();
        let mut it = table.iter(&read);
        it.seek_to_first();
        for (k, v) in entries {
            assert!(it.valid());
            assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
            it.next();
        }
        assert!(!it.valid());
        for (k, v) in entries {
            let found = table
                .get(&read, extract_user_key(k), SequenceNumber::MAX)
                .expect("get");
            assert_eq!(found, Some(LookupResult::Found(v.clone())));
        }
        let absent = table
            .get(&read, b"key0000001", SequenceNumber::MAX)
            .expect("get");
        assert_eq!(absent, None);
    }

    #[test]
    fn a_table_built_in_parts_reads_like_one_built_in_one_go() {
        let entries = table_entries(3000);
        for compression in [CompressionType::None, CompressionType::Snappy] {
            for bloom_bits_per_key in [0, 10] {
                let options = Options {
                    compression,
                    bloom_bits_per_key,
                    ..Options::default()
                };
                let (mut whole, buf) = file_builder(&options);
                for (k, v) in &entries {
                    whole.add(k, v).expect("add");
                }
                let one_go = finish_into_table(whole, &buf, &options);
                assert_table_holds(&one_go, &entries);

                // Keys 0..700 here, 700..1900 and 1900..2500 in parts, 2500.. here again.
                let (mut main, buf) = file_builder(&options);
                let mut parts = [
                    TableBuilder::new_part(&options, Vec::new()),
                    TableBuilder::new_part(&options, Vec::with_capacity(1 << 16)),
                ];
                for (i, (k, v)) in entries.iter().enumerate() {
                    match i {
                        0..=699 => main.add(k, v),
                        700..=1899 => parts[0].add(k, v),
                        1900..=2499 => parts[1].add(k, v),
                        _ => Ok(()),
                    }
                    .expect("add");
                }
                let [first, second] = parts;
                main.append_part(first).expect("append");
                main.append_part(second).expect("append");
                for (k, v) in &entries[2500..] {
                    main.add(k, v).expect("add after the parts");
                }
                assert_eq!(main.num_entries(), 3000);
                let in_parts = finish_into_table(main, &buf, &options);
                assert_table_holds(&in_parts, &entries);
            }
        }
    }

    #[test]
    fn ending_a_block_before_keys_writes_what_appending_them_as_a_part_does() {
        let entries = table_entries(3000);
        let options = Options {
            compression: CompressionType::Snappy,
            bloom_bits_per_key: 10,
            ..Options::default()
        };
        let (mut appended, appended_buf) = file_builder(&options);
        let (mut ended, ended_buf) = file_builder(&options);
        let mut part = TableBuilder::new_part(&options, Vec::new());
        for (i, (k, v)) in entries.iter().enumerate() {
            if i == 1234 {
                ended.end_block().expect("end block");
            }
            ended.add(k, v).expect("add");
            match i {
                1234..=2000 => part.add(k, v),
                _ => appended.add(k, v),
            }
            .expect("add");
            if i == 2000 {
                appended
                    .append_part(std::mem::replace(
                        &mut part,
                        TableBuilder::new_part(&options, Vec::new()),
                    ))
                    .expect("append");
            }
        }
        let appended = finish_into_table(appended, &appended_buf, &options);
        let ended = finish_into_table(ended, &ended_buf, &options);
        assert_table_holds(&ended, &entries);
        assert_table_holds(&appended, &entries);
        assert!(*appended_buf.lock() == *ended_buf.lock(), "the same bytes");
        // An empty block ends nothing: the bytes match a table built in one go.
        let (mut whole, whole_buf) = file_builder(&options);
        let (mut twice, twice_buf) = file_builder(&options);
        twice.end_block().expect("nothing to end");
        for (k, v) in &entries {
            whole.add(k, v).expect("add");
            twice.add(k, v).expect("add");
        }
        finish_into_table(whole, &whole_buf, &options);
        finish_into_table(twice, &twice_buf, &options);
        assert!(*whole_buf.lock() == *twice_buf.lock());
    }

    #[test]
    fn parts_are_refused_out_of_order_or_alone_and_empty_ones_add_nothing() {
        let options = Options::default();
        let (mut main, _buf) = file_builder(&options);
        main.add(&ikey(b"m", 1), b"v").expect("add");
        main.append_part(TableBuilder::new_part(&options, Vec::new()))
            .expect("an empty part is nothing");
        let mut early = TableBuilder::new_part(&options, Vec::new());
        early.add(&ikey(b"a", 1), b"v").expect("add");
        let err = main.append_part(early).expect_err("sorts before");
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
        let (not_a_part, _other) = file_builder(&options);
        let err = main.append_part(not_a_part).expect_err("not a part");
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
        let mut part = TableBuilder::new_part(&options, Vec::new());
        part.add(&ikey(b"z", 1), b"v").expect("add");
        let err = part.finish().expect_err("a part is not a table");
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
    }

    #[test]
    fn successor_increments_first_non_ff_byte() {
        let mut k = ikey(b"hello", 3);
        shorten_to_successor(&mut k);
        assert_eq!(k, separator_tag(b"i"));
        let mut k = ikey(b"\xff\xffab", 3);
        shorten_to_successor(&mut k);
        assert_eq!(k, separator_tag(b"\xff\xff\x62"));
        let mut all_ff = ikey(b"\xff\xff", 3);
        shorten_to_successor(&mut all_ff);
        assert_eq!(all_ff, ikey(b"\xff\xff", 3));
        let mut one = ikey(b"a", 3);
        shorten_to_successor(&mut one);
        assert_eq!(one, ikey(b"a", 3));
    }
}
