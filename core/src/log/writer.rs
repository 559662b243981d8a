//! Appends records to a log file: each record is cut into fragments that fit the space left
//! in the current 32 KiB block, and a block tail too small for a header is zero-filled.

use crate::crc;
use crate::error::Result;
use crate::fs::WritableFile;

use super::{RecordType, BLOCK_SIZE, HEADER_SIZE};

/// Writes log records. Not thread-safe: the owner (the DB's writer queue leader, or the
/// VersionSet under the DB mutex) serialises calls. After an error the file's tail is
/// unknown; callers stop using the writer and start a new file.
pub struct Writer {
    dest: Box<dyn WritableFile>,
    /// Bytes already used in the current block.
    block_offset: usize,
    /// Logical length of the file: everything appended so far, including `dest_length`.
    offset: u64,
}

impl Writer {
    /// Writes a new log from its first byte.
    pub fn new(dest: Box<dyn WritableFile>) -> Writer {
        Writer::with_offset(dest, 0)
    }

    /// For appending to an existing log of `dest_length` bytes: the block position must
    /// continue where the file ends, or the reader would mis-frame every later record.
    pub fn with_offset(dest: Box<dyn WritableFile>, dest_length: u64) -> Writer {
        Writer {
            dest,
            block_offset: (dest_length % BLOCK_SIZE as u64) as usize,
            offset: dest_length,
        }
    }

    /// Appends one record (fragmenting over blocks). Buffered: does not flush or sync.
    pub fn add_record(&mut self, record: &[u8]) -> Result<()> {
        let mut left = record;
        let mut begin = true;
        loop {
            let leftover = BLOCK_SIZE - self.block_offset;
            if leftover < HEADER_SIZE {
                // No room for even a header: pad the block and start the next one.
                if leftover > 0 {
                    self.dest.append(&[0u8; HEADER_SIZE][..leftover])?;
                    self.offset += leftover as u64;
                }
                self.block_offset = 0;
            }
            let avail = BLOCK_SIZE - self.block_offset - HEADER_SIZE;
            let (fragment, rest) = left.split_at(left.len().min(avail));
            let end = rest.is_empty();
            let kind = match (begin, end) {
                (true, true) => RecordType::Full,
                (true, false) => RecordType::First,
                (false, false) => RecordType::Middle,
                (false, true) => RecordType::Last,
            };
            self.emit_physical_record(kind, fragment)?;
            left = rest;
            begin = false;
            if end {
                return Ok(());
            }
        }
    }

    /// Hands buffered bytes to the OS.
    pub fn flush(&mut self) -> Result<()> {
        self.dest.flush()
    }

    /// Makes every record added so far durable.
    pub fn sync(&mut self) -> Result<()> {
        self.dest.sync()
    }

    /// Bytes written so far (logical offset), for stats and tests.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn emit_physical_record(&mut self, kind: RecordType, payload: &[u8]) -> Result<()> {
        debug_assert!(payload.len() <= BLOCK_SIZE - HEADER_SIZE);
        debug_assert!(self.block_offset + HEADER_SIZE + payload.len() <= BLOCK_SIZE);
        let type_byte = kind as u8;
        let checksum = crc::mask(crc::value(&[&[type_byte], payload]));
        let mut header = [0u8; HEADER_SIZE];
        header[..4].copy_from_slice(&checksum.to_le_bytes());
        header[4..6].copy_from_slice(&(payload.len() as u16).to_le_bytes());
        header[6] = type_byte;
        self.dest.append(&header)?;
        self.dest.append(payload)?;
        self.block_offset += HEADER_SIZE + payload.len();
        self.offset += (HEADER_SIZE + payload.len()) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::testing::MemFile;

    fn write_all(records: &[&[u8]]) -> Vec<u8> {
        let file = MemFile::default();
        let mut w = Writer::new(Box::new(file.clone()));
        for r in records {
            w.add_record(r).expect("add_record");
        }
        assert_eq!(w.offset(), file.contents().len() as u64);
        file.contents()
    }

    #[test]
    fn full_record_header_matches_leveldb_layout() {
        let bytes = write_all(&[b"foo"]);
        assert_eq!(bytes.len(), HEADER_SIZE + 3);
        let crc = crc::mask(crc::value(&[&[1u8], b"foo"]));
        assert_eq!(&bytes[..4], &crc.to_le_bytes());
        assert_eq!(&bytes[4..7], &[3, 0, RecordType::Full as u8]);
        assert_eq!(&bytes[7..], b"foo");
    }

    #[test]
    fn empty_record_is_a_bare_header() {
        let bytes = write_all(&[b""]);
        assert_eq!(bytes.len(), HEADER_SIZE);
        assert_eq!(&bytes[4..7], &[0, 0, RecordType::Full as u8]);
    }

    #[test]
    fn block_tail_shorter_than_header_is_zero_filled() {
        // The first record leaves exactly 3 bytes in block 0.
        let first = vec![b'a'; BLOCK_SIZE - HEADER_SIZE - 3];
        let bytes = write_all(&[&first, b"next"]);
        assert_eq!(&bytes[BLOCK_SIZE - 3..BLOCK_SIZE], &[0, 0, 0]);
        assert_eq!(bytes.len(), BLOCK_SIZE + HEADER_SIZE + 4);
        assert_eq!(bytes[BLOCK_SIZE + 6], RecordType::Full as u8);
    }

    #[test]
    fn exactly_a_header_left_gives_an_empty_first_fragment() {
        let first = vec![b'a'; BLOCK_SIZE - 2 * HEADER_SIZE];
        let bytes = write_all(&[&first, b"xy"]);
        let tail = &bytes[BLOCK_SIZE - HEADER_SIZE..BLOCK_SIZE];
        assert_eq!(&tail[4..7], &[0, 0, RecordType::First as u8]);
        assert_eq!(
            &bytes[BLOCK_SIZE + 4..BLOCK_SIZE + 7],
            &[2, 0, RecordType::Last as u8]
        );
    }

    #[test]
    fn large_record_is_split_first_middle_last() {
        let record = vec![7u8; 2 * BLOCK_SIZE];
        let bytes = write_all(&[&record]);
        let types: Vec<u8> = (0..3).map(|b| bytes[b * BLOCK_SIZE + 6]).collect();
        assert_eq!(
            types,
            vec![
                RecordType::First as u8,
                RecordType::Middle as u8,
                RecordType::Last as u8
            ]
        );
        assert_eq!(bytes.len(), 2 * BLOCK_SIZE + 3 * HEADER_SIZE);
    }

    #[test]
    fn with_offset_continues_the_block_position() {
        let file = MemFile::default();
        let mut w = Writer::new(Box::new(file.clone()));
        w.add_record(&vec![1u8; 1000]).expect("add");
        let len = file.contents().len() as u64;
        let mut w2 = Writer::with_offset(Box::new(file.clone()), len);
        w2.add_record(&vec![2u8; BLOCK_SIZE]).expect("add");
        // The second record's first fragment fills exactly the rest of block 0.
        let bytes = file.contents();
        assert_eq!(bytes[len as usize + 6], RecordType::First as u8);
        assert_eq!(bytes[BLOCK_SIZE + 6], RecordType::Last as u8);
        assert_eq!(w2.offset(), bytes.len() as u64);
    }
}
