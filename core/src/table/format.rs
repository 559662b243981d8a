//! The fixed parts of a table file: block handles, the 48-byte footer, and reading one
//! block with its 5-byte trailer (compression type + masked crc32c) checked.

use crate::coding::{get_varint64, put_fixed64, put_varint64};
use crate::crc;
use crate::error::{Error, Result};
use crate::fs::RandomAccessFile;
use crate::table::resident::Residency;

/// Last 8 bytes of every table file, stored little-endian.
pub const TABLE_MAGIC: u64 = 0xdb47_7524_8b80_fb57;

/// Encoded footer size: two handles padded to 40 bytes, then the magic.
pub const FOOTER_LEN: usize = 48;

/// Compression type byte + masked crc32c after every block.
pub const BLOCK_TRAILER_LEN: usize = 5;

/// Longest encoding of a handle (two 10-byte varints).
pub const MAX_HANDLE_LEN: usize = 20;

const NO_COMPRESSION: u8 = 0;
const SNAPPY_COMPRESSION: u8 = 1;

/// Where a block lives in the file; `size` excludes the trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    pub fn encode_to(&self, dst: &mut Vec<u8>) {
        put_varint64(dst, self.offset);
        put_varint64(dst, self.size);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(MAX_HANDLE_LEN);
        self.encode_to(&mut v);
        v
    }

    /// Decodes a handle from the front of `src`, advancing it.
    pub fn decode_from(src: &mut &[u8]) -> Option<BlockHandle> {
        let offset = get_varint64(src)?;
        let size = get_varint64(src)?;
        Some(BlockHandle { offset, size })
    }
}

/// The table's entry point: where the meta-index and index blocks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    pub metaindex_handle: BlockHandle,
    pub index_handle: BlockHandle,
}

impl Footer {
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut v = Vec::with_capacity(FOOTER_LEN);
        self.metaindex_handle.encode_to(&mut v);
        self.index_handle.encode_to(&mut v);
        v.resize(2 * MAX_HANDLE_LEN, 0);
        put_fixed64(&mut v, TABLE_MAGIC);
        let mut out = [0u8; FOOTER_LEN];
        out.copy_from_slice(&v);
        out
    }

    /// Decodes the last 48 bytes of a table. The error says what was wrong; callers
    /// add the file name.
    pub fn decode(src: &[u8]) -> std::result::Result<Footer, &'static str> {
        let src = src
            .get(..FOOTER_LEN)
            .ok_or("footer is shorter than 48 bytes")?;
        let magic = crate::coding::decode_fixed64(&src[2 * MAX_HANDLE_LEN..])
            .ok_or("footer is shorter than 48 bytes")?;
        if magic != TABLE_MAGIC {
            return Err("not an sstable (bad magic number)");
        }
        let mut handles = &src[..2 * MAX_HANDLE_LEN];
        let metaindex_handle =
            BlockHandle::decode_from(&mut handles).ok_or("bad block handle in footer")?;
        let index_handle =
            BlockHandle::decode_from(&mut handles).ok_or("bad block handle in footer")?;
        Ok(Footer {
            metaindex_handle,
            index_handle,
        })
    }
}

/// An open table file with what error messages and bounds checks need to know.
pub struct TableFile {
    pub file: Box<dyn RandomAccessFile>,
    pub name: String,
    pub size: u64,
    /// The whole file in memory once lookups made it resident; reads come from there.
    pub resident: Residency,
}

impl TableFile {
    /// Where block reads come from: the resident image when there is one, else the file.
    fn source(&self) -> &dyn RandomAccessFile {
        match self.resident.image() {
            Some(image) => image,
            None => &*self.file,
        }
    }
}

/// The contents of the block at `handle`, read in place from `image` (the bytes of a
/// resident table), its trailer checked as [`read_block`] checks it, the checksum only
/// when `verify_checksum`. None for a compressed block: that one needs a buffer of its
/// own to be decompressed into.
pub fn block_in_place<'a>(
    file: &TableFile,
    image: &'a [u8],
    handle: &BlockHandle,
    verify_checksum: bool,
) -> Result<Option<&'a [u8]>> {
    let len = stored_len(file, handle)?;
    let start = usize::try_from(handle.offset).unwrap_or(usize::MAX);
    let Some(stored) = start.checked_add(len).and_then(|end| image.get(start..end)) else {
        return Err(block_corruption(
            file,
            handle,
            format!("runs past the {}-byte image of the file", image.len()),
        ));
    };
    let (block_type, n) = check_trailer(file, handle, stored, verify_checksum)?;
    match block_type {
        NO_COMPRESSION => Ok(Some(&stored[..n])),
        SNAPPY_COMPRESSION => Ok(None),
        t => Err(block_corruption(
            file,
            handle,
            format!("unknown block compression type {t}"),
        )),
    }
}

/// Reads the block at `handle`, checks its trailer and returns the uncompressed contents.
/// Corruption (naming the file and offset) for a handle past the end, a short read, a
/// checksum mismatch when `verify_checksum`, an unknown type or undecodable snappy data.
pub fn read_block(
    file: &TableFile,
    handle: &BlockHandle,
    verify_checksum: bool,
) -> Result<Vec<u8>> {
    read_block_into(file, handle, verify_checksum, Vec::new())
}

/// [`read_block`] into `buf`, whose allocation is reused: only bytes beyond its current
/// length are zeroed before the read, so a recycled block buffer costs no memset.
pub fn read_block_into(
    file: &TableFile,
    handle: &BlockHandle,
    verify_checksum: bool,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>> {
    let len = stored_len(file, handle)?;
    buf.resize(len, 0);
    let got = file.source().read_at_into(handle.offset, &mut buf)?;
    if got != len {
        return Err(block_corruption(
            file,
            handle,
            format!("truncated block read: wanted {len} bytes, got {got}"),
        ));
    }
    unwrap_block(file, handle, buf, verify_checksum)
}

/// Reads blocks stored back to back (each starts where the previous one's trailer ends)
/// with one vectored read, into `bufs` (one per handle, reused as [`read_block_into`]
/// does). Each block is checked as [`read_block`] checks it; the first failure fails all.
pub fn read_adjacent_blocks(
    file: &TableFile,
    handles: &[BlockHandle],
    verify_checksum: bool,
    mut bufs: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>> {
    let (Some(first), true) = (handles.first(), bufs.len() == handles.len()) else {
        return Ok(Vec::new());
    };
    let mut end = first.offset;
    for (h, buf) in handles.iter().zip(&mut bufs) {
        if h.offset != end {
            return Err(block_corruption(
                file,
                h,
                "not adjacent to the block before".into(),
            ));
        }
        let len = stored_len(file, h)?;
        buf.resize(len, 0);
        end += len as u64;
    }
    let want = (end - first.offset) as usize;
    let mut slices: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
    let got = file.source().read_vectored_at(first.offset, &mut slices)?;
    if got != want {
        return Err(block_corruption(
            file,
            first,
            format!("truncated read of adjacent blocks: wanted {want} bytes, got {got}"),
        ));
    }
    handles
        .iter()
        .zip(bufs)
        .map(|(h, buf)| unwrap_block(file, h, buf, verify_checksum))
        .collect()
}

fn block_corruption(file: &TableFile, handle: &BlockHandle, what: String) -> Error {
    Error::corruption(format!(
        "{}: block at offset {}: {what}",
        file.name, handle.offset
    ))
}

/// Bytes the block at `handle` occupies in the file (contents and trailer); Corruption
/// when that runs past the end of the file.
fn stored_len(file: &TableFile, handle: &BlockHandle) -> Result<usize> {
    let len = handle
        .size
        .checked_add(BLOCK_TRAILER_LEN as u64)
        .filter(|&n| {
            handle
                .offset
                .checked_add(n)
                .is_some_and(|end| end <= file.size)
        })
        .ok_or_else(|| {
            block_corruption(
                file,
                handle,
                format!(
                    "size {} runs past the end of the {}-byte file",
                    handle.size, file.size
                ),
            )
        })?;
    usize::try_from(len).map_err(|_| block_corruption(file, handle, "block too large".into()))
}

/// Checks the trailer of `buf`, one whole stored block, and returns its uncompressed
/// contents (in `buf`'s allocation when the block is not compressed).
fn unwrap_block(
    file: &TableFile,
    handle: &BlockHandle,
    mut buf: Vec<u8>,
    verify_checksum: bool,
) -> Result<Vec<u8>> {
    let corrupt = |what: String| block_corruption(file, handle, what);
    let (block_type, n) = check_trailer(file, handle, &buf, verify_checksum)?;
    match block_type {
        NO_COMPRESSION => {
            buf.truncate(n);
            Ok(buf)
        }
        SNAPPY_COMPRESSION => decompress_snappy(&buf[..n]).map_err(corrupt),
        t => Err(corrupt(format!("unknown block compression type {t}"))),
    }
}

/// The type byte of `stored`, one whole stored block, and where its contents end; the
/// checksum verified when `verify_checksum`.
fn check_trailer(
    file: &TableFile,
    handle: &BlockHandle,
    stored: &[u8],
    verify_checksum: bool,
) -> Result<(u8, usize)> {
    let Some(n) = stored.len().checked_sub(BLOCK_TRAILER_LEN) else {
        return Err(block_corruption(
            file,
            handle,
            "shorter than a block trailer".into(),
        ));
    };
    if verify_checksum {
        let masked = crate::coding::decode_fixed32(&stored[n + 1..]).unwrap_or(0);
        if crc::unmask(masked) != crc::value(&[&stored[..n + 1]]) {
            return Err(block_corruption(
                file,
                handle,
                "block checksum mismatch".into(),
            ));
        }
    }
    Ok((stored[n], n))
}

/// Snappy cannot expand input by more than this; a larger claimed length is corrupt and
/// must not be allocated.
const MAX_SNAPPY_EXPANSION: usize = 32;

fn decompress_snappy(data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let claimed = snap::raw::decompress_len(data).map_err(|e| format!("bad snappy header: {e}"))?;
    if claimed > data.len().saturating_mul(MAX_SNAPPY_EXPANSION) {
        return Err(format!(
            "snappy block claims {claimed} bytes from {} compressed",
            data.len()
        ));
    }
    snap::raw::Decoder::new()
        .decompress_vec(data)
        .map_err(|e| format!("corrupted compressed block contents: {e}"))
}

/// Appends `contents` plus its trailer (type byte, masked crc32c of contents + type).
pub fn append_block_trailer(dst: &mut Vec<u8>, contents: &[u8], snappy: bool) {
    let block_type = if snappy {
        SNAPPY_COMPRESSION
    } else {
        NO_COMPRESSION
    };
    let crc = crc::mask(crc::value(&[contents, &[block_type]]));
    dst.push(block_type);
    dst.extend_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::test_util::MemFile;

    fn table_file(bytes: Vec<u8>) -> TableFile {
        let size = bytes.len() as u64;
        TableFile {
            file: Box::new(MemFile(bytes)),
            name: "000007.ldb".into(),
            size,
            resident: Residency::default(),
        }
    }

    fn stored(contents: &[u8], snappy: bool) -> Vec<u8> {
        let mut v = contents.to_vec();
        append_block_trailer(&mut v, contents, snappy);
        v
    }

    #[test]
    fn handle_round_trips_and_rejects_truncation() {
        let h = BlockHandle {
            offset: 1 << 40,
            size: 300,
        };
        let enc = h.encode();
        assert_eq!(BlockHandle::decode_from(&mut enc.as_slice()), Some(h));
        assert_eq!(BlockHandle::decode_from(&mut &enc[..enc.len() - 1]), None);
    }

    #[test]
    fn footer_is_48_bytes_ending_in_magic_little_endian() {
        let f = Footer {
            metaindex_handle: BlockHandle {
                offset: 100,
                size: 20,
            },
            index_handle: BlockHandle {
                offset: 125,
                size: 4000,
            },
        };
        let enc = f.encode();
        assert_eq!(
            &enc[40..],
            &[0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]
        );
        assert_eq!(Footer::decode(&enc), Ok(f));
        let mut bad = enc;
        bad[47] ^= 1;
        assert_eq!(
            Footer::decode(&bad),
            Err("not an sstable (bad magic number)")
        );
        assert!(Footer::decode(&enc[..47]).is_err());
    }

    #[test]
    fn read_block_checks_checksum_type_and_bounds() {
        let raw = stored(b"hello block", false);
        let file = table_file(raw.clone());
        let h = BlockHandle {
            offset: 0,
            size: 11,
        };
        assert_eq!(read_block(&file, &h, true).expect("good"), b"hello block");

        let mut flipped = raw.clone();
        flipped[3] ^= 0x20;
        let err = read_block(&table_file(flipped.clone()), &h, true).expect_err("crc");
        assert!(err.to_string().contains("000007.ldb"), "{err}");
        assert!(err.to_string().contains("checksum"), "{err}");
        // Without verification the flipped byte comes back as stored.
        assert_eq!(
            read_block(&table_file(flipped), &h, false).expect("unverified")[3],
            b'L'
        );

        let past_end = BlockHandle {
            offset: 1,
            size: 11,
        };
        assert!(read_block(&file, &past_end, true).is_err());
        let huge = BlockHandle {
            offset: 0,
            size: u64::MAX,
        };
        assert!(read_block(&file, &huge, true).is_err());

        let mut unknown = b"xy".to_vec();
        unknown.push(7);
        let crc = crc::mask(crc::value(&[&unknown]));
        unknown.extend_from_slice(&crc.to_le_bytes());
        let err = read_block(
            &table_file(unknown),
            &BlockHandle { offset: 0, size: 2 },
            true,
        )
        .expect_err("type 7");
        assert!(err.to_string().contains("compression type 7"), "{err}");
    }

    #[test]
    fn snappy_blocks_decompress_and_bogus_lengths_are_rejected() {
        let contents = vec![b'a'; 5000];
        let compressed = snap::raw::Encoder::new()
            .compress_vec(&contents)
            .expect("compress");
        let file = table_file(stored(&compressed, true));
        let h = BlockHandle {
            offset: 0,
            size: compressed.len() as u64,
        };
        assert_eq!(read_block(&file, &h, true).expect("snappy"), contents);

        // A header claiming 4 GiB from 6 bytes must be refused before allocating.
        let bogus = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        let file = table_file(stored(&bogus, true));
        let h = BlockHandle { offset: 0, size: 6 };
        assert!(read_block(&file, &h, true).is_err());
    }
}
