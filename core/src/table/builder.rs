//! Writes a table file: data blocks as entries arrive, then the filter block, the
//! meta-index, the index and the footer, in LevelDB 1.23's layout byte for byte
//! (snappy output aside, which only has to decode the same).

use crate::coding::put_fixed64;
use crate::error::{Error, Result};
use crate::fs::WritableFile;
use crate::key::{
    compare_internal_keys, extract_user_key, pack_sequence_and_type, SequenceNumber,
    VALUE_TYPE_FOR_SEEK,
};
use crate::options::{CompressionType, Options};
use crate::table::block_builder::BlockBuilder;
use crate::table::filter::{BloomFilterPolicy, FilterBlockBuilder, FILTER_META_KEY};
use crate::table::format::{append_block_trailer, BlockHandle, Footer};

/// Streams sorted internal keys into a table file. Not thread-safe: one writer owns it.
/// The first failure is sticky; every later call returns it.
pub struct TableBuilder {
    writer: BlockWriter,
    block_size: usize,
    restart_interval: usize,
    data_block: BlockBuilder,
    index_block: BlockBuilder,
    filter_block: Option<FilterBlockBuilder>,
    last_key: Vec<u8>,
    num_entries: u64,
    /// Handle of the last data block written, waiting for the next key so its index
    /// entry can be shortened to a separator.
    pending_index_entry: Option<BlockHandle>,
    status: Option<Error>,
    closed: bool,
}

impl TableBuilder {
    /// Uses `block_size`, `block_restart_interval`, `compression` and
    /// `bloom_bits_per_key` (0 = no filter block) from `options`.
    pub fn new(options: &Options, file: Box<dyn WritableFile>) -> TableBuilder {
        let filter_block = (options.bloom_bits_per_key > 0).then(|| {
            FilterBlockBuilder::new(BloomFilterPolicy {
                bits_per_key: options.bloom_bits_per_key,
            })
        });
        TableBuilder {
            writer: BlockWriter {
                file,
                offset: 0,
                compression: options.compression,
                encoder: snap::raw::Encoder::new(),
                scratch: Vec::new(),
            },
            block_size: options.block_size,
            restart_interval: options.block_restart_interval,
            data_block: BlockBuilder::new(options.block_restart_interval),
            index_block: BlockBuilder::new(1),
            filter_block,
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
            self.index_block.add(&self.last_key, &handle.encode());
        }
        if let Some(filter) = &mut self.filter_block {
            filter.add_key(extract_user_key(internal_key));
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

    /// Makes the written bytes durable.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        let res = self.writer.file.sync();
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

    fn flush_data_block(&mut self) -> Result<()> {
        if self.data_block.is_empty() {
            return Ok(());
        }
        let handle = self.writer.write_block(&mut self.data_block)?;
        self.pending_index_entry = Some(handle);
        if let Some(filter) = &mut self.filter_block {
            filter.start_block(self.writer.offset);
        }
        Ok(())
    }

    fn write_tail(&mut self) -> Result<u64> {
        self.flush_data_block()?;
        let filter_handle = match &mut self.filter_block {
            Some(filter) => Some(self.writer.write_raw_block(filter.finish(), false)?),
            None => None,
        };
        let mut meta_index = BlockBuilder::new(self.restart_interval);
        if let Some(handle) = filter_handle {
            meta_index.add(FILTER_META_KEY.as_bytes(), &handle.encode());
        }
        let metaindex_handle = self.writer.write_block(&mut meta_index)?;
        if let Some(handle) = self.pending_index_entry.take() {
            shorten_to_successor(&mut self.last_key);
            self.index_block.add(&self.last_key, &handle.encode());
        }
        let index_handle = self.writer.write_block(&mut self.index_block)?;
        let footer = Footer {
            metaindex_handle,
            index_handle,
        };
        self.writer.append(&footer.encode())?;
        self.writer.file.flush()?;
        Ok(self.writer.offset)
    }
}

/// The file and the bytes written to it so far; compresses blocks on the way out.
struct BlockWriter {
    file: Box<dyn WritableFile>,
    offset: u64,
    compression: CompressionType,
    encoder: snap::raw::Encoder,
    scratch: Vec<u8>,
}

impl BlockWriter {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.file.append(data)?;
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
    use super::*;
    use crate::key::{make_internal_key, ValueType};

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
