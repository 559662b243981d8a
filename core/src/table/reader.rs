//! Reads a table file: the footer, index and filter at open, data blocks on demand for
//! point lookups and for the two-level iterator (index block -> data block).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::RandomAccessFile;
use crate::iterator::InternalIterator;
use crate::key::{
    compare_internal_keys, extract_user_key, make_internal_key, parse_internal_key, LookupResult,
    SequenceNumber, ValueType, VALUE_TYPE_FOR_SEEK,
};
use crate::options::{Options, ReadOptions};
use crate::table::block::{bytewise_compare, Block, BlockIter};
use crate::table::block_cache::{new_cache_id, BlockCache};
use crate::table::filter::{BloomFilterPolicy, FilterBlockReader, FILTER_META_KEY};
use crate::table::format::{
    block_in_place, read_adjacent_blocks, read_block, read_block_into, BlockHandle, Footer,
    TableFile, BLOCK_TRAILER_LEN, FOOTER_LEN,
};
use crate::table::index::TableIndex;
use crate::table::resident::{Residency, ResidentBudget};

/// An open, immutable table. `Send + Sync`: lookups and iterators from many threads share
/// it through an `Arc`.
pub struct Table {
    file: TableFile,
    index: TableIndex,
    filter: Option<FilterBlockReader>,
    /// Where the data ends; the answer for keys past the last one.
    metaindex_offset: u64,
    paranoid_checks: bool,
    /// Shared by the Db's tables; None for a table opened on its own.
    block_cache: Option<Arc<BlockCache>>,
    cache_id: u64,
}

impl Table {
    /// Reads the footer, index block and filter (if any); Corruption on anything
    /// malformed. The blocks read here are always checksummed: they are read once and
    /// steer every later read. `name` is used in error messages.
    pub fn open(
        options: &Options,
        file: Box<dyn RandomAccessFile>,
        size: u64,
        name: &str,
    ) -> Result<Table> {
        if size < FOOTER_LEN as u64 {
            return Err(Error::corruption(format!(
                "{name}: file is too short ({size} bytes) to be an sstable"
            )));
        }
        let footer_bytes = file.read_at(size - FOOTER_LEN as u64, FOOTER_LEN)?;
        if footer_bytes.len() != FOOTER_LEN {
            return Err(Error::corruption(format!(
                "{name}: truncated footer read: file is shorter than {size} bytes"
            )));
        }
        let footer =
            Footer::decode(&footer_bytes).map_err(|e| Error::corruption(format!("{name}: {e}")))?;
        let file = TableFile {
            file,
            name: name.to_string(),
            size,
            resident: Residency::default(),
        };
        let index_block = Arc::new(load_block(&file, &footer.index_handle, true, Vec::new())?);
        let index = TableIndex::parse(&index_block)
            .map_err(|e| with_context(e, &file.name, footer.index_handle.offset))?;
        let filter = read_filter(&file, &footer.metaindex_handle)?;
        Ok(Table {
            file,
            index,
            filter,
            metaindex_offset: footer.metaindex_handle.offset,
            paranoid_checks: options.paranoid_checks,
            block_cache: None,
            cache_id: new_cache_id(),
        })
    }

    /// Serves data blocks through `cache` from now on.
    pub fn attach_block_cache(&mut self, cache: Arc<BlockCache>) {
        self.block_cache = Some(cache);
    }

    /// Lets point lookups make this table resident under `budget` (see
    /// `table/resident.rs`).
    pub fn attach_resident_budget(&mut self, budget: Arc<ResidentBudget>) {
        self.file.resident = Residency::new(budget);
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.file.size
    }

    /// Whether point lookups may still load this table into memory.
    pub fn may_become_resident(&self) -> bool {
        self.file.resident.may_become_resident(self.file.size)
    }

    /// Whether the whole file is held in memory.
    pub fn is_resident(&self) -> bool {
        self.file.resident.image().is_some()
    }

    /// The data block at `handle`: from the block cache when there, else read (verified
    /// when asked, and always when it is going into the cache) and cached if `fill`. A
    /// `lookup`'s read from disk counts towards making the table resident.
    fn data_block(
        &self,
        handle: &BlockHandle,
        verify: bool,
        fill: bool,
        lookup: bool,
    ) -> Result<Arc<Block>> {
        let block = match &self.block_cache {
            None => Arc::new(load_block(&self.file, handle, verify, Vec::new())?),
            Some(cache) => {
                if let Some(block) = cache.get(self.cache_id, handle.offset) {
                    return Ok(block);
                }
                let buf = cache.take_buffer(self.cache_id, handle.offset);
                let block = Arc::new(load_block(&self.file, handle, verify || fill, buf)?);
                if fill {
                    cache.insert(self.cache_id, handle.offset, Arc::clone(&block));
                }
                block
            }
        };
        if lookup && !self.is_resident() {
            self.file.resident.note_disk_read(
                handle.size + BLOCK_TRAILER_LEN as u64,
                &*self.file.file,
                self.file.size,
                self.index.len(),
            );
        }
        Ok(block)
    }

    /// Blocks `first`, `first + 1`, … as far as they are stored back to back, not cached,
    /// and within `max_blocks` / [`READAHEAD_MAX_BYTES`], read with one vectored read
    /// (verified when asked or when they go into the cache, and cached if `fill`).
    fn read_ahead(
        &self,
        first: usize,
        max_blocks: usize,
        verify: bool,
        fill: bool,
    ) -> Result<Vec<Arc<Block>>> {
        let mut handles: Vec<BlockHandle> = Vec::new();
        let mut bytes = 0;
        while let Some(h) = self.index.handle(first + handles.len()) {
            if let Some(prev) = handles.last() {
                let adjacent = prev.offset + prev.size + BLOCK_TRAILER_LEN as u64 == h.offset;
                let cached = self
                    .block_cache
                    .as_ref()
                    .is_some_and(|c| c.contains(self.cache_id, h.offset));
                if !adjacent
                    || cached
                    || handles.len() >= max_blocks
                    || bytes >= READAHEAD_MAX_BYTES
                {
                    break;
                }
            }
            bytes += h.size;
            handles.push(h);
        }
        let bufs = handles
            .iter()
            .map(|h| match &self.block_cache {
                Some(c) => c.take_buffer(self.cache_id, h.offset),
                None => Vec::new(),
            })
            .collect();
        let contents = read_adjacent_blocks(&self.file, &handles, verify || fill, bufs)?;
        handles
            .iter()
            .zip(contents)
            .map(|(h, c)| {
                let block = Arc::new(
                    Block::new(c).map_err(|e| with_context(e, &self.file.name, h.offset))?,
                );
                if let (true, Some(cache)) = (fill, &self.block_cache) {
                    cache.insert(self.cache_id, h.offset, Arc::clone(&block));
                }
                Ok(block)
            })
            .collect()
    }

    /// Newest entry for `user_key` with sequence <= `seq`, or None when this table has
    /// none. Consults the bloom filter before reading the data block.
    pub fn get(
        &self,
        read: &ReadOptions,
        user_key: &[u8],
        seq: SequenceNumber,
    ) -> Result<Option<LookupResult>> {
        let target = make_internal_key(user_key, seq, VALUE_TYPE_FOR_SEEK);
        self.get_internal(read, &target, &mut Vec::new())
    }

    /// [`Table::get`] for a lookup key already encoded as an internal key (user key,
    /// read sequence, `VALUE_TYPE_FOR_SEEK`). `scratch` holds decoded keys; a caller that
    /// looks in several tables passes the same one, so no lookup allocates but the value.
    pub fn get_internal(
        &self,
        read: &ReadOptions,
        target: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<Option<LookupResult>> {
        let user_key = extract_user_key(target);
        let position = self.index.seek(target);
        let Some(handle) = self.index.handle(position) else {
            return Ok(None);
        };
        if let Some(filter) = &self.filter {
            if !filter.key_may_match(handle.offset, user_key) {
                return Ok(None);
            }
        }
        let context = |e| with_context(e, &self.file.name, handle.offset);
        if let Some(image) = self.file.resident.image() {
            // Resident: the block is read where it lies, its checksum verified once.
            let verify = !image.is_checked(position);
            if let Some(contents) = block_in_place(&self.file, image.bytes(), &handle, verify)? {
                let block = Block::new(contents).map_err(context)?;
                if verify {
                    image.mark_checked(position);
                }
                let value = block
                    .seek_entry(compare_internal_keys, target, scratch)
                    .map_err(context)?;
                return self.lookup_result(&handle, user_key, value, scratch);
            }
        }
        let block = self.data_block(&handle, self.verify(read), read.fill_cache, true)?;
        let value = block
            .seek_entry(compare_internal_keys, target, scratch)
            .map_err(context)?;
        self.lookup_result(&handle, user_key, value, scratch)
    }

    /// What a lookup for `user_key` found: `value` is the entry at or after the lookup
    /// key in the block at `handle`, whose key is in `found_key`.
    fn lookup_result(
        &self,
        handle: &BlockHandle,
        user_key: &[u8],
        value: Option<&[u8]>,
        found_key: &[u8],
    ) -> Result<Option<LookupResult>> {
        let Some(value) = value else {
            return Ok(None);
        };
        let parsed = parse_internal_key(found_key).ok_or_else(|| {
            Error::corruption(format!(
                "{}: block at offset {}: corrupted internal key",
                self.file.name, handle.offset
            ))
        })?;
        if parsed.user_key != user_key {
            return Ok(None);
        }
        Ok(Some(match parsed.value_type {
            ValueType::Value => LookupResult::Found(value.to_vec()),
            ValueType::Deletion => LookupResult::Deleted,
        }))
    }

    /// A two-level iterator over every entry, loading data blocks as it reaches them.
    pub fn iter(self: &Arc<Self>, read: &ReadOptions) -> TableIterator {
        TableIterator {
            table: Arc::clone(self),
            verify: self.verify(read),
            fill_cache: read.fill_cache,
            block_index: self.index.len(),
            data_iter: None,
            data_handle: None,
            ahead: VecDeque::new(),
            last_block: None,
            readahead_blocks: 1,
            status: None,
        }
    }

    /// Approximate file offset where `internal_key` is or would be stored: the offset of
    /// its data block, or the end of the data for keys past the last one.
    pub fn approximate_offset_of(&self, internal_key: &[u8]) -> u64 {
        self.index
            .handle(self.index.seek(internal_key))
            .map_or(self.metaindex_offset, |h| h.offset)
    }

    fn verify(&self, read: &ReadOptions) -> bool {
        read.verify_checksums || self.paranoid_checks
    }
}

/// Most blocks one vectored read of a forward walk fetches; the count doubles from 2 with
/// each read-ahead, so a short walk reads little it does not use.
const READAHEAD_MAX_BLOCKS: usize = 16;

/// Stop adding blocks to a read-ahead once this many bytes are in it.
const READAHEAD_MAX_BYTES: u64 = 256 << 10;

/// Reads and validates one block, reusing `buf`'s allocation for it.
fn load_block(file: &TableFile, handle: &BlockHandle, verify: bool, buf: Vec<u8>) -> Result<Block> {
    let contents = read_block_into(file, handle, verify, buf)?;
    Block::new(contents).map_err(|e| with_context(e, &file.name, handle.offset))
}

/// Prefixes a block-level corruption message with the file and block offset.
fn with_context(e: Error, name: &str, offset: u64) -> Error {
    match e {
        Error::Corruption(msg) => {
            Error::Corruption(format!("{name}: block at offset {offset}: {msg}"))
        }
        other => other,
    }
}

/// Finds the bloom filter through the meta-index; None when the table has no filter
/// (or one of a policy siltdb does not know).
fn read_filter(file: &TableFile, metaindex: &BlockHandle) -> Result<Option<FilterBlockReader>> {
    let meta = Arc::new(load_block(file, metaindex, true, Vec::new())?);
    let mut it = meta.iter(bytewise_compare);
    it.seek(FILTER_META_KEY.as_bytes());
    it.status()
        .map_err(|e| with_context(e, &file.name, metaindex.offset))?;
    if !it.valid() || it.key() != FILTER_META_KEY.as_bytes() {
        return Ok(None);
    }
    let handle = BlockHandle::decode_from(&mut it.value()).ok_or_else(|| {
        Error::corruption(format!(
            "{}: bad filter block handle in meta-index",
            file.name
        ))
    })?;
    let contents = read_block(file, &handle, true)?;
    // The probe count is stored in each filter, so bits_per_key is irrelevant to reading.
    let policy = BloomFilterPolicy { bits_per_key: 10 };
    Ok(Some(FilterBlockReader::new(policy, contents)))
}

/// Iterates a table: the index block picks the data block, which is read when first
/// reached. The first error (I/O or corruption) ends iteration and is kept in `status`.
pub struct TableIterator {
    table: Arc<Table>,
    verify: bool,
    fill_cache: bool,
    /// The data block the walk is in, by index entry; `table.index.len()` when off
    /// either end.
    block_index: usize,
    data_iter: Option<BlockIter>,
    /// Handle of the block `data_iter` walks, so re-seeking within it skips the read.
    data_handle: Option<BlockHandle>,
    /// Blocks read ahead of a forward walk, by index entry, in order.
    ahead: VecDeque<(usize, Arc<Block>)>,
    /// The block loaded last, to tell a forward walk (the next block loaded is the one
    /// after it) from seeks.
    last_block: Option<usize>,
    /// How many blocks the next read from the file fetches: 1 after a seek, doubling with
    /// each read while the walk goes forward, up to [`READAHEAD_MAX_BLOCKS`].
    readahead_blocks: usize,
    status: Option<Error>,
}

impl TableIterator {
    fn set_error(&mut self, e: Error) {
        if self.status.is_none() {
            self.status = Some(e);
        }
        self.data_iter = None;
        self.data_handle = None;
    }

    /// Points `data_iter` at block `block_index` (None off either end).
    fn init_data_block(&mut self) {
        let Some(handle) = self.table.index.handle(self.block_index) else {
            self.data_iter = None;
            self.data_handle = None;
            return;
        };
        if self.data_iter.is_some() && self.data_handle == Some(handle) {
            return;
        }
        match self.load_block(handle) {
            Ok(block) => {
                self.data_iter = Some(block.iter(compare_internal_keys));
                self.data_handle = Some(handle);
            }
            Err(e) => self.set_error(e),
        }
    }

    /// Block `block_index` (at `handle`): read ahead already, cached, or read now —
    /// together with the blocks after it once the walk is seen to go forward.
    fn load_block(&mut self, handle: BlockHandle) -> Result<Arc<Block>> {
        let i = self.block_index;
        let forward = self.last_block.is_some_and(|last| last + 1 == i);
        self.last_block = Some(i);
        if !forward {
            self.readahead_blocks = 1;
        }
        while self.ahead.front().is_some_and(|&(j, _)| j < i) {
            self.ahead.pop_front();
        }
        if let Some((_, block)) = self.ahead.pop_front().filter(|&(j, _)| j == i) {
            return Ok(block);
        }
        // Not walking through the read-ahead: whatever is left of it is off the path.
        self.ahead.clear();
        let table = Arc::clone(&self.table);
        if let Some(cache) = &table.block_cache {
            if let Some(block) = cache.get(table.cache_id, handle.offset) {
                return Ok(block);
            }
        }
        if forward {
            self.readahead_blocks = (self.readahead_blocks * 2).min(READAHEAD_MAX_BLOCKS);
        }
        if self.readahead_blocks > 1 {
            // A failed read-ahead falls back to reading the one block, whose error (if it
            // is the bad one) is then reported precisely.
            match table.read_ahead(i, self.readahead_blocks, self.verify, self.fill_cache) {
                Ok(blocks) => {
                    let mut blocks = blocks.into_iter();
                    if let Some(first) = blocks.next() {
                        self.ahead.extend((i + 1..).zip(blocks));
                        return Ok(first);
                    }
                }
                Err(_) => self.readahead_blocks = 1,
            }
        }
        table.data_block(&handle, self.verify, self.fill_cache, false)
    }

    /// True when the data iterator is positioned; records its error otherwise.
    fn data_ready(&mut self) -> bool {
        let Some(d) = &self.data_iter else {
            return false;
        };
        if d.valid() {
            return true;
        }
        if let Err(e) = d.status() {
            let offset = self.data_handle.map_or(0, |h| h.offset);
            let e = with_context(e, &self.table.file.name, offset);
            self.set_error(e);
        }
        false
    }

    fn skip_empty_blocks_forward(&mut self) {
        while !self.data_ready() {
            if self.status.is_some() || self.block_index >= self.table.index.len() {
                self.data_iter = None;
                return;
            }
            self.block_index += 1;
            self.init_data_block();
            if let Some(d) = &mut self.data_iter {
                d.seek_to_first();
            }
        }
    }

    fn skip_empty_blocks_backward(&mut self) {
        while !self.data_ready() {
            if self.status.is_some() || self.block_index >= self.table.index.len() {
                self.data_iter = None;
                return;
            }
            // Before the first block is off the front: the same "off either end".
            self.block_index = self
                .block_index
                .checked_sub(1)
                .unwrap_or(self.table.index.len());
            self.init_data_block();
            if let Some(d) = &mut self.data_iter {
                d.seek_to_last();
            }
        }
    }
}

impl InternalIterator for TableIterator {
    fn valid(&self) -> bool {
        self.status.is_none() && self.data_iter.as_ref().is_some_and(|d| d.valid())
    }

    fn seek_to_first(&mut self) {
        if self.status.is_some() {
            return;
        }
        self.block_index = 0;
        self.init_data_block();
        if let Some(d) = &mut self.data_iter {
            d.seek_to_first();
        }
        self.skip_empty_blocks_forward();
    }

    fn seek_to_last(&mut self) {
        if self.status.is_some() {
            return;
        }
        self.block_index = self.table.index.len().saturating_sub(1);
        self.init_data_block();
        if let Some(d) = &mut self.data_iter {
            d.seek_to_last();
        }
        self.skip_empty_blocks_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        if self.status.is_some() {
            return;
        }
        self.block_index = self.table.index.seek(target);
        self.init_data_block();
        if let Some(d) = &mut self.data_iter {
            d.seek(target);
        }
        self.skip_empty_blocks_forward();
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(d) = &mut self.data_iter {
            d.next();
        }
        self.skip_empty_blocks_forward();
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(d) = &mut self.data_iter {
            d.prev();
        }
        self.skip_empty_blocks_backward();
    }

    fn key(&self) -> &[u8] {
        self.data_iter.as_ref().map_or(&[], |d| d.key())
    }

    fn value(&self) -> &[u8] {
        self.data_iter.as_ref().map_or(&[], |d| d.value())
    }

    fn status(&self) -> Result<()> {
        match &self.status {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::CompressionType;
    use crate::table::builder::TableBuilder;
    use crate::table::test_util::{MemFile, MemWritableFile};
    use parking_lot::Mutex;

    fn build(options: &Options, entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut b = TableBuilder::new(options, Box::new(MemWritableFile(Arc::clone(&buf))));
        for (k, v) in entries {
            b.add(k, v).expect("add");
        }
        assert_eq!(b.num_entries(), entries.len() as u64);
        let size = b.finish().expect("finish");
        let bytes = buf.lock().clone();
        assert_eq!(size, bytes.len() as u64);
        assert_eq!(b.file_size(), size);
        bytes
    }

    fn open(options: &Options, bytes: Vec<u8>) -> Result<Arc<Table>> {
        let size = bytes.len() as u64;
        Table::open(options, Box::new(MemFile(bytes)), size, "000009.ldb").map(Arc::new)
    }

    fn user(i: usize) -> Vec<u8> {
        format!("key{:08}", i * 2).into_bytes()
    }

    fn ikey(user: &[u8], seq: u64, t: ValueType) -> Vec<u8> {
        make_internal_key(user, SequenceNumber(seq), t)
    }

    fn base_value(i: usize) -> Vec<u8> {
        let len = match i % 1000 {
            0 => 0,
            500 => 100 * 1024,
            _ => i % 300,
        };
        // Half the values repeat a short pattern (compressible), half do not.
        (0..len)
            .map(|j| {
                if i % 2 == 0 {
                    (j % 7) as u8
                } else {
                    (j * 131 + i * 17 + j * j) as u8
                }
            })
            .collect()
    }

    const N: usize = 10_500;

    /// Every key has a base version at 100+i; every 10th a newer value, every 13th a
    /// newer deletion on top.
    fn model() -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut entries = Vec::new();
        for i in 0..N {
            let u = user(i);
            entries.push((ikey(&u, 100 + i as u64, ValueType::Value), base_value(i)));
            if i % 10 == 0 {
                let v = format!("new{i}").into_bytes();
                entries.push((ikey(&u, 100_000 + i as u64, ValueType::Value), v));
            }
            if i % 13 == 0 {
                entries.push((
                    ikey(&u, 200_000 + i as u64, ValueType::Deletion),
                    Vec::new(),
                ));
            }
        }
        entries.sort_by(|a, b| compare_internal_keys(&a.0, &b.0));
        entries
    }

    fn check_gets(table: &Table, read: &ReadOptions) {
        let found = |v: Vec<u8>| Some(LookupResult::Found(v));
        for i in 0..N {
            let u = user(i);
            let newest = if i % 13 == 0 {
                Some(LookupResult::Deleted)
            } else if i % 10 == 0 {
                found(format!("new{i}").into_bytes())
            } else {
                found(base_value(i))
            };
            assert_eq!(
                table.get(read, &u, SequenceNumber::MAX).expect("get"),
                newest,
                "key {i}"
            );
            let at_base = table
                .get(read, &u, SequenceNumber(100 + i as u64))
                .expect("get");
            assert_eq!(
                at_base,
                found(base_value(i)),
                "key {i} at its base sequence"
            );
            let before = table
                .get(read, &u, SequenceNumber(99 + i as u64))
                .expect("get");
            assert_eq!(before, None, "key {i} before it was written");
            if i % 13 == 0 && i % 10 == 0 {
                let under_delete = table.get(read, &u, SequenceNumber(199_999 + i as u64));
                assert_eq!(
                    under_delete.expect("get"),
                    found(format!("new{i}").into_bytes())
                );
            }
            let absent = format!("key{:08}", i * 2 + 1).into_bytes();
            assert_eq!(
                table.get(read, &absent, SequenceNumber::MAX).expect("get"),
                None
            );
        }
        assert_eq!(
            table.get(read, b"", SequenceNumber::MAX).expect("get"),
            None
        );
        assert_eq!(
            table.get(read, b"zzz", SequenceNumber::MAX).expect("get"),
            None
        );
    }

    fn check_iteration(table: &Arc<Table>, entries: &[(Vec<u8>, Vec<u8>)]) {
        let mut it = table.iter(&ReadOptions::default());
        it.seek_to_first();
        for (k, v) in entries {
            assert!(it.valid());
            assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
            it.next();
        }
        assert!(!it.valid());
        it.seek_to_last();
        for (k, v) in entries.iter().rev() {
            assert!(it.valid());
            assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
            it.prev();
        }
        assert!(!it.valid());
        for (idx, (k, _)) in entries.iter().enumerate().step_by(7) {
            it.seek(k);
            assert_eq!(it.key(), &k[..]);
            // Step back and forth across block boundaries.
            it.prev();
            match idx.checked_sub(1) {
                Some(p) => assert_eq!(it.key(), &entries[p].0[..]),
                None => assert!(!it.valid()),
            }
        }
        it.seek(&ikey(b"key00000001", u64::MAX >> 8, ValueType::Value));
        assert_eq!(
            it.key(),
            &entries
                .iter()
                .find(|e| e.0.starts_with(b"key00000002"))
                .expect("key 1")
                .0[..]
        );
        it.seek(&ikey(b"zzz", 0, ValueType::Value));
        assert!(!it.valid());
        it.status().expect("clean iteration");
    }

    #[test]
    fn round_trip_with_every_compression_and_filter_setting() {
        let entries = model();
        for compression in [CompressionType::None, CompressionType::Snappy] {
            for bloom_bits_per_key in [0, 10] {
                let options = Options {
                    compression,
                    bloom_bits_per_key,
                    ..Options::default()
                };
                let table = open(&options, build(&options, &entries)).expect("open");
                assert_eq!(table.filter.is_some(), bloom_bits_per_key > 0);
                check_gets(&table, &ReadOptions::default());
                let unverified = ReadOptions {
                    verify_checksums: false,
                    ..ReadOptions::default()
                };
                assert_eq!(
                    table
                        .get(&unverified, &user(7), SequenceNumber::MAX)
                        .expect("get"),
                    Some(LookupResult::Found(base_value(7)))
                );
                check_iteration(&table, &entries);
            }
        }
    }

    /// Counts read calls: a vectored read is one call, as it is one system call on disk.
    struct CountingFile {
        inner: MemFile,
        calls: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl RandomAccessFile for CountingFile {
        fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.read_at(offset, len)
        }

        fn read_vectored_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> Result<usize> {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut total = 0;
            for buf in bufs.iter_mut() {
                let n = self.inner.read_at_into(offset + total as u64, buf)?;
                total += n;
                if n < buf.len() {
                    break;
                }
            }
            Ok(total)
        }
    }

    #[test]
    fn a_forward_walk_reads_ahead_and_a_bad_block_is_reported_where_it_is() {
        let options = Options {
            compression: CompressionType::None,
            ..Options::default()
        };
        let entries: Vec<_> = (0..3000)
            .map(|i| (ikey(&user(i), 1, ValueType::Value), vec![b'v'; 100]))
            .collect();
        let bytes = build(&options, &entries);
        let open_counting = |bytes: Vec<u8>| {
            let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let file = CountingFile {
                inner: MemFile(bytes.clone()),
                calls: Arc::clone(&calls),
            };
            let mut table =
                Table::open(&options, Box::new(file), bytes.len() as u64, "9.ldb").expect("open");
            table.attach_block_cache(Arc::new(BlockCache::new(1 << 20)));
            (Arc::new(table), calls)
        };
        let (table, calls) = open_counting(bytes.clone());
        let blocks = table.index.len();
        assert!(blocks > 60, "{blocks} blocks");
        let opened = calls.load(std::sync::atomic::Ordering::Relaxed);
        let mut it = table.iter(&ReadOptions::default());
        it.seek_to_first();
        for (k, v) in &entries {
            assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
            it.next();
        }
        assert!(!it.valid());
        it.status().expect("clean walk");
        let reads = calls.load(std::sync::atomic::Ordering::Relaxed) - opened;
        assert!(reads * 8 < blocks, "{reads} reads for {blocks} blocks");
        // Read ahead with fill_cache: the blocks went into the cache, so walking again
        // reads nothing.
        it.seek_to_first();
        let again = calls.load(std::sync::atomic::Ordering::Relaxed);
        for _ in 0..500 {
            it.next();
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), again);

        // Damage block 20: the walk yields every entry before it, then the error names it.
        let bad = table.index.handle(20).expect("block 20");
        let mut damaged = bytes;
        damaged[bad.offset as usize + 10] ^= 0x01;
        let (table, _) = open_counting(damaged);
        let mut it = table.iter(&ReadOptions::default());
        it.seek_to_first();
        let mut seen = 0;
        while it.valid() {
            assert_eq!(it.key(), &entries[seen].0[..]);
            seen += 1;
            it.next();
        }
        let first_bad = entries
            .iter()
            .position(|(k, _)| table.index.seek(k) == 20)
            .expect("an entry in block 20");
        assert_eq!(seen, first_bad);
        let err = it.status().expect_err("damaged block");
        assert!(
            err.to_string()
                .contains(&format!("block at offset {}", bad.offset)),
            "{err}"
        );
    }

    #[test]
    fn empty_table_opens_and_finds_nothing() {
        let options = Options::default();
        let table = open(&options, build(&options, &[])).expect("open");
        assert_eq!(
            table
                .get(&ReadOptions::default(), b"a", SequenceNumber::MAX)
                .expect("get"),
            None
        );
        let mut it = table.iter(&ReadOptions::default());
        it.seek_to_first();
        assert!(!it.valid());
        it.seek_to_last();
        assert!(!it.valid());
        it.status().expect("ok");
    }

    #[test]
    fn approximate_offsets_grow_with_the_key() {
        let options = Options {
            compression: CompressionType::None,
            ..Options::default()
        };
        let entries: Vec<_> = (0..2000)
            .map(|i| (ikey(&user(i), 1, ValueType::Value), vec![b'x'; 1000]))
            .collect();
        let bytes = build(&options, &entries);
        let size = bytes.len() as u64;
        let table = open(&options, bytes).expect("open");
        assert_eq!(table.approximate_offset_of(&entries[0].0), 0);
        let mid = table.approximate_offset_of(&entries[1000].0);
        assert!((900_000..1_100_000).contains(&mid), "{mid}");
        let past = table.approximate_offset_of(&ikey(b"zzz", 1, ValueType::Value));
        assert!(past > 1_990_000 && past < size, "{past}");
    }

    #[test]
    fn bloom_filter_skips_blocks_that_lack_the_key() {
        let options = Options::default();
        let entries: Vec<_> = (0..1000)
            .map(|i| (ikey(&user(i), 1, ValueType::Value), b"v".to_vec()))
            .collect();
        let table = open(&options, build(&options, &entries)).expect("open");
        let filter = table.filter.as_ref().expect("filter");
        let skipped = (0..1000)
            .filter(|&i| {
                // Ask the filter of the block the index points the absent key at.
                let absent = format!("key{:08}", i * 2 + 1).into_bytes();
                let target = ikey(&absent, u64::MAX >> 8, ValueType::Value);
                let handle = table
                    .index
                    .handle(table.index.seek(&target))
                    .expect("handle");
                !filter.key_may_match(handle.offset, &absent)
            })
            .count();
        for (k, _) in &entries {
            let handle = table.index.handle(table.index.seek(k)).expect("handle");
            assert!(filter.key_may_match(handle.offset, extract_user_key(k)));
        }
        assert!(skipped > 950, "only {skipped} of 1000 absent keys filtered");
    }
}
