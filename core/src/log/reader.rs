//! Reads records back from a log file, block by block. Corrupt fragments are skipped and
//! reported as LevelDB's reporter does; an incomplete record at the end of the file (a crash
//! in the middle of an append) is dropped silently, because the writer never promised it.
//! The end of the written part is the end of the file or, in a log sized ahead of its
//! contents (`FileSystem::new_log_file`), the start of the zeros after it.

use crate::coding::decode_fixed32;
use crate::crc;
use crate::error::Result;
use crate::fs::SequentialFile;

use super::{RecordType, BLOCK_SIZE, HEADER_SIZE};

/// A stretch of the log that was skipped because it did not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCorruption {
    /// File offset of the bad fragment (or of the first fragment of a broken record).
    pub offset: u64,
    /// File bytes skipped from `offset`, headers included.
    pub bytes_dropped: u64,
    pub reason: String,
}

/// The fragment types that carry data (zero-type fragments never get past `read_physical`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fragment {
    Full,
    First,
    Middle,
    Last,
}

/// What one physical read produced.
enum Physical {
    /// A fragment that passed its checks; its payload is `block[start..start + len]`.
    Fragment {
        kind: Fragment,
        offset: u64,
        start: usize,
        len: usize,
    },
    /// A fragment that did not check out was skipped.
    Damaged(LogCorruption),
    /// Zeros from `offset` to the block end: space a writer sized ahead and never filled.
    Unwritten { offset: u64 },
    /// End of file; `torn` bytes of a truncated fragment were left over.
    Eof { torn: u64 },
}

fn damaged(offset: u64, bytes_dropped: u64, reason: impl Into<String>) -> Physical {
    Physical::Damaged(LogCorruption {
        offset,
        bytes_dropped,
        reason: reason.into(),
    })
}

/// Damage seen while assembling a record, kept back until what follows it is known.
#[derive(Default)]
struct Held {
    corruptions: Vec<LogCorruption>,
    /// File offset where the held damage begins.
    from: Option<u64>,
    /// Where unwritten space began after it.
    unwritten_from: Option<u64>,
}

impl Held {
    fn push(&mut self, corruption: LogCorruption) {
        let from = self.from.get_or_insert(corruption.offset);
        *from = (*from).min(corruption.offset);
        self.corruptions.push(corruption);
    }
}

/// Reads log records front to back. Not thread-safe; owned by one recovery step.
pub struct Reader {
    src: Box<dyn SequentialFile>,
    verify_checksums: bool,
    /// The current block; the unread part is `block[buf_pos..buf_len]`.
    block: Vec<u8>,
    buf_pos: usize,
    buf_len: usize,
    /// The last read returned less than a whole block, so there is nothing after `buf_len`.
    eof: bool,
    /// File offset just past `block[buf_len - 1]`.
    end_of_buffer_offset: u64,
    last_record_offset: u64,
    corruptions: Vec<LogCorruption>,
    dropped_tail_bytes: u64,
}

impl Reader {
    pub fn new(src: Box<dyn SequentialFile>, verify_checksums: bool) -> Reader {
        Reader {
            src,
            verify_checksums,
            block: vec![0u8; BLOCK_SIZE],
            buf_pos: 0,
            buf_len: 0,
            eof: false,
            end_of_buffer_offset: 0,
            last_record_offset: 0,
            corruptions: Vec::new(),
            dropped_tail_bytes: 0,
        }
    }

    /// Next complete record; Ok(None) at end of file. Err only for I/O errors.
    /// Corrupt fragments are skipped and recorded (see [`Reader::take_corruptions`]);
    /// an incomplete record at the very end is dropped and counted in
    /// [`Reader::dropped_tail_bytes`].
    pub fn read_record(&mut self) -> Result<Option<Vec<u8>>> {
        let mut scratch: Vec<u8> = Vec::new();
        // Offset of the FIRST fragment of the record being assembled, if any.
        let mut chain_start: Option<u64> = None;
        // Damage not yet reported: if nothing but unwritten space follows it to the end of
        // the file, it is an append torn short inside a log sized ahead of its contents
        // (the writer died mid-write), which is not damage; any later data makes it real.
        let mut held = Held::default();
        loop {
            let physical = self.read_physical()?;
            if matches!(physical, Physical::Fragment { .. }) {
                self.release(&mut held);
            }
            match physical {
                Physical::Fragment {
                    kind,
                    offset,
                    start,
                    len,
                } => {
                    let fragment_bytes = (HEADER_SIZE + len) as u64;
                    match kind {
                        Fragment::Full | Fragment::First => {
                            // An empty FIRST followed by a new record is what old LevelDB
                            // writers left at a block end; only a non-empty one is lost data.
                            if let Some(cs) = chain_start.take() {
                                if !scratch.is_empty() {
                                    self.report(cs, offset - cs, "partial record without end");
                                }
                            }
                            scratch.clear();
                            scratch.extend_from_slice(&self.block[start..start + len]);
                            if kind == Fragment::Full {
                                self.last_record_offset = offset;
                                return Ok(Some(scratch));
                            }
                            chain_start = Some(offset);
                        }
                        Fragment::Middle | Fragment::Last => match chain_start {
                            None => self.report(
                                offset,
                                fragment_bytes,
                                "missing start of fragmented record",
                            ),
                            Some(cs) => {
                                scratch.extend_from_slice(&self.block[start..start + len]);
                                if kind == Fragment::Last {
                                    self.last_record_offset = cs;
                                    return Ok(Some(scratch));
                                }
                            }
                        },
                    }
                }
                Physical::Damaged(corruption) => {
                    let offset = corruption.offset;
                    if held.unwritten_from.is_some() {
                        // Data after unwritten space: no torn append explains it.
                        self.release(&mut held);
                        self.corruptions.push(corruption);
                    } else {
                        held.push(corruption);
                    }
                    if let Some(cs) = chain_start.take() {
                        held.push(LogCorruption {
                            offset: cs,
                            bytes_dropped: offset - cs,
                            reason: "error in middle of record".into(),
                        });
                        scratch.clear();
                    }
                }
                Physical::Unwritten { offset } => {
                    if let Some(cs) = chain_start.take() {
                        held.push(LogCorruption {
                            offset: cs,
                            bytes_dropped: offset - cs,
                            reason: "error in middle of record".into(),
                        });
                        scratch.clear();
                    }
                    if held.from.is_some() && held.unwritten_from.is_none() {
                        held.unwritten_from = Some(offset);
                    }
                }
                Physical::Eof { torn } => {
                    // A chain cut off by the end of the file is a torn append, not damage.
                    self.dropped_tail_bytes += match (chain_start, held.from, held.unwritten_from) {
                        (Some(cs), _, _) => self.end_of_buffer_offset - cs,
                        (None, Some(from), Some(unwritten)) => {
                            held.corruptions.clear();
                            unwritten - from
                        }
                        (None, _, _) => torn,
                    };
                    self.release(&mut held);
                    return Ok(None);
                }
            }
        }
    }

    /// Reports held damage: something other than unwritten space came after it.
    fn release(&mut self, held: &mut Held) {
        self.corruptions.append(&mut held.corruptions);
        *held = Held::default();
    }

    /// The corruptions seen since the last call, oldest first.
    pub fn take_corruptions(&mut self) -> Vec<LogCorruption> {
        std::mem::take(&mut self.corruptions)
    }

    /// Bytes of incomplete records dropped at the end of the file.
    pub fn dropped_tail_bytes(&self) -> u64 {
        self.dropped_tail_bytes
    }

    /// File offset of the start of the last record returned.
    pub fn last_record_offset(&self) -> u64 {
        self.last_record_offset
    }

    fn report(&mut self, offset: u64, bytes_dropped: u64, reason: impl Into<String>) {
        self.corruptions.push(LogCorruption {
            offset,
            bytes_dropped,
            reason: reason.into(),
        });
    }

    /// File offset of `block[buf_pos]`.
    fn position(&self) -> u64 {
        self.end_of_buffer_offset - (self.buf_len - self.buf_pos) as u64
    }

    /// Reads the next block, as much of it as the file has.
    fn fill_block(&mut self) -> Result<()> {
        let mut nread = 0;
        while nread < BLOCK_SIZE {
            let n = self.src.read(&mut self.block[nread..])?;
            if n == 0 {
                break;
            }
            nread += n;
        }
        self.buf_pos = 0;
        self.buf_len = nread;
        self.end_of_buffer_offset += nread as u64;
        self.eof = nread < BLOCK_SIZE;
        Ok(())
    }

    fn read_physical(&mut self) -> Result<Physical> {
        loop {
            let avail = self.buf_len - self.buf_pos;
            if avail < HEADER_SIZE {
                if !self.eof {
                    // After a whole block, fewer than 7 bytes are the writer's zero trailer.
                    self.fill_block()?;
                    continue;
                }
                // A header cut short by the end of the file: the writer died mid-header.
                self.buf_pos = self.buf_len;
                return Ok(Physical::Eof { torn: avail as u64 });
            }

            let offset = self.position();
            let header = &self.block[self.buf_pos..self.buf_pos + HEADER_SIZE];
            let length = usize::from(u16::from_le_bytes([header[4], header[5]]));
            let type_byte = header[6];
            if HEADER_SIZE + length > avail {
                self.buf_pos = self.buf_len;
                if self.eof {
                    // The payload was cut short by the end of the file: a torn append.
                    return Ok(Physical::Eof { torn: avail as u64 });
                }
                return Ok(damaged(offset, avail as u64, "bad record length"));
            }

            if type_byte == RecordType::Zero as u8 && length == 0 {
                // Preallocated, never-written space: skip the rest of the block quietly.
                self.buf_pos = self.buf_len;
                return Ok(Physical::Unwritten { offset });
            }

            if self.verify_checksums {
                let stored = decode_fixed32(header).map(crc::unmask);
                let body = &self.block[self.buf_pos + 6..self.buf_pos + HEADER_SIZE + length];
                if stored != Some(crc::value(&[body])) {
                    // The length itself may be what is damaged, so nothing else in this
                    // block can be trusted to be framed correctly.
                    self.buf_pos = self.buf_len;
                    return Ok(damaged(offset, avail as u64, "checksum mismatch"));
                }
            }

            let start = self.buf_pos + HEADER_SIZE;
            self.buf_pos = start + length;
            let kind = match RecordType::from_byte(type_byte) {
                Some(RecordType::Full) => Some(Fragment::Full),
                Some(RecordType::First) => Some(Fragment::First),
                Some(RecordType::Middle) => Some(Fragment::Middle),
                Some(RecordType::Last) => Some(Fragment::Last),
                Some(RecordType::Zero) | None => None,
            };
            return Ok(match kind {
                Some(kind) => Physical::Fragment {
                    kind,
                    offset,
                    start,
                    len: length,
                },
                None => {
                    let reason = format!("unknown record type {type_byte}");
                    damaged(offset, (HEADER_SIZE + length) as u64, reason)
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FileSystem, PosixFs};
    use crate::log::testing::{MemFile, MemSource};
    use crate::log::Writer;

    fn write_log(records: &[Vec<u8>]) -> Vec<u8> {
        let file = MemFile::default();
        let mut w = Writer::new(Box::new(file.clone()));
        for r in records {
            w.add_record(r).expect("add_record");
        }
        file.contents()
    }

    /// Reads every record; returns them with the corruptions and dropped tail bytes.
    fn read_all(src: MemSource, verify: bool) -> (Vec<Vec<u8>>, Vec<LogCorruption>, u64) {
        let mut reader = Reader::new(Box::new(src), verify);
        let mut out = Vec::new();
        while let Some(r) = reader.read_record().expect("read_record") {
            out.push(r);
        }
        let dropped = reader.dropped_tail_bytes();
        (out, reader.take_corruptions(), dropped)
    }

    fn round_trip(records: Vec<Vec<u8>>) {
        let bytes = write_log(&records);
        for chunk in [usize::MAX, 1000, 1] {
            let mut src = MemSource::new(bytes.clone());
            src.chunk = chunk;
            let (got, corruptions, dropped) = read_all(src, true);
            assert_eq!(got.len(), records.len());
            assert!(got == records, "records differ (chunk {chunk})");
            assert!(corruptions.is_empty(), "{corruptions:?}");
            assert_eq!(dropped, 0);
        }
    }

    /// Deterministic bytes that differ per record, so a mix-up would show.
    fn pattern(seed: usize, len: usize) -> Vec<u8> {
        (0..len).map(|i| (seed * 31 + i * 7) as u8).collect()
    }

    #[test]
    fn round_trips_sizes_around_block_boundaries() {
        let fit = BLOCK_SIZE - HEADER_SIZE;
        round_trip(vec![Vec::new()]);
        round_trip(vec![vec![b'x']]);
        round_trip(vec![pattern(1, fit)]);
        round_trip(vec![pattern(1, fit + 1)]);
        round_trip(vec![pattern(1, fit), pattern(2, fit + 1), Vec::new()]);
        round_trip(vec![pattern(3, 100 * 1024)]);
        round_trip(vec![Vec::new(), Vec::new(), b"a".to_vec(), Vec::new()]);
    }

    #[test]
    fn round_trips_many_small_records_crossing_blocks() {
        let records: Vec<Vec<u8>> = (0..5000).map(|i| pattern(i, i % 97)).collect();
        round_trip(records);
    }

    #[test]
    fn round_trips_trailer_cases() {
        let fit = BLOCK_SIZE - HEADER_SIZE;
        // 3 bytes left (zero trailer), exactly a header left (empty FIRST), 6 bytes left.
        round_trip(vec![pattern(1, fit - 3), pattern(2, 10)]);
        round_trip(vec![pattern(1, fit - HEADER_SIZE), pattern(2, 10)]);
        round_trip(vec![
            pattern(1, fit - 6),
            pattern(2, fit + 5),
            b"z".to_vec(),
        ]);
    }

    #[test]
    fn last_record_offset_points_at_first_fragment() {
        let fit = BLOCK_SIZE - HEADER_SIZE;
        let records = vec![pattern(1, 10), pattern(2, fit), pattern(3, 1)];
        let bytes = write_log(&records);
        let mut reader = Reader::new(Box::new(MemSource::new(bytes)), true);
        let mut offsets = Vec::new();
        while reader.read_record().expect("read").is_some() {
            offsets.push(reader.last_record_offset());
        }
        let second = (HEADER_SIZE + 10) as u64;
        // Record 2 is FIRST in block 0 and LAST in block 1; record 3 follows its LAST.
        let third = BLOCK_SIZE as u64 + (HEADER_SIZE + 17) as u64;
        assert_eq!(offsets, vec![0, second, third]);
    }

    #[test]
    fn real_file_round_trip_through_posix_fs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("000003.log");
        let fs = PosixFs;
        let records: Vec<Vec<u8>> = (0..50).map(|i| pattern(i, i * 1500)).collect();
        let mut w = Writer::new(fs.new_writable_file(&path).expect("create"));
        for r in &records {
            w.add_record(r).expect("add");
        }
        w.sync().expect("sync");
        assert_eq!(fs.file_size(&path).expect("size"), w.offset());
        drop(w);
        let mut reader = Reader::new(fs.new_sequential_file(&path).expect("open"), true);
        for r in &records {
            assert_eq!(reader.read_record().expect("read").as_ref(), Some(r));
        }
        assert_eq!(reader.read_record().expect("read"), None);
        assert!(reader.take_corruptions().is_empty());
    }

    #[test]
    fn torn_tail_at_every_offset_drops_only_the_last_record() {
        let fit = BLOCK_SIZE - HEADER_SIZE;
        // The last record starts 6 bytes before a block end (zero trailer) and spans blocks.
        let records = vec![pattern(1, 100), pattern(2, fit - 100 - HEADER_SIZE - 6), {
            pattern(3, BLOCK_SIZE + 500)
        }];
        let bytes = write_log(&records);
        let last_start = BLOCK_SIZE - 6;
        for cut in last_start..bytes.len() {
            let (got, corruptions, dropped) = read_all(MemSource::new(bytes[..cut].to_vec()), true);
            assert_eq!(got, records[..2], "cut at {cut}");
            assert!(corruptions.is_empty(), "cut at {cut}: {corruptions:?}");
            // A complete zero trailer is padding; a partial one belongs to the torn append.
            let torn_from = if cut < BLOCK_SIZE {
                last_start
            } else {
                BLOCK_SIZE
            };
            assert_eq!(dropped, (cut - torn_from) as u64, "cut at {cut}");
        }
    }

    #[test]
    fn flipped_byte_in_record_two_of_five_loses_only_record_two() {
        // Each record fills exactly one block, so the damage stays in block 1.
        let fit = BLOCK_SIZE - HEADER_SIZE;
        let records: Vec<Vec<u8>> = (1..=5).map(|i| pattern(i, fit)).collect();
        let mut bytes = write_log(&records);
        bytes[BLOCK_SIZE + HEADER_SIZE + 1234] ^= 0x40;
        let (got, corruptions, dropped) = read_all(MemSource::new(bytes), true);
        let expected: Vec<Vec<u8>> = [0, 2, 3, 4].iter().map(|&i| records[i].clone()).collect();
        assert!(got == expected);
        assert_eq!(
            corruptions,
            vec![LogCorruption {
                offset: BLOCK_SIZE as u64,
                bytes_dropped: BLOCK_SIZE as u64,
                reason: "checksum mismatch".into(),
            }]
        );
        assert_eq!(dropped, 0);
    }

    #[test]
    fn damaged_first_fragment_reports_the_orphaned_rest() {
        let records = vec![
            b"before".to_vec(),
            pattern(9, 3 * BLOCK_SIZE),
            b"after".to_vec(),
        ];
        let mut bytes = write_log(&records);
        let first_payload = 2 * HEADER_SIZE + 6 + 10;
        bytes[first_payload] ^= 1;
        let (got, corruptions, _) = read_all(MemSource::new(bytes), true);
        assert_eq!(got, vec![b"before".to_vec(), b"after".to_vec()]);
        assert_eq!(corruptions[0].offset, (HEADER_SIZE + 6) as u64);
        assert_eq!(corruptions[0].reason, "checksum mismatch");
        assert!(corruptions[1..]
            .iter()
            .all(|c| c.reason == "missing start of fragmented record"));
    }

    #[test]
    fn checksums_off_returns_damaged_payload() {
        let mut bytes = write_log(&[b"hello".to_vec()]);
        bytes[HEADER_SIZE] = b'j';
        let (got, corruptions, _) = read_all(MemSource::new(bytes), false);
        assert_eq!(got, vec![b"jello".to_vec()]);
        assert!(corruptions.is_empty());
    }

    #[test]
    fn zero_padding_is_skipped_silently() {
        let mut bytes = write_log(&[b"one".to_vec()]);
        bytes.resize(BLOCK_SIZE, 0);
        bytes.extend(write_log(&[b"two".to_vec()]));
        bytes.extend(vec![0u8; 5000]);
        let (got, corruptions, dropped) = read_all(MemSource::new(bytes), true);
        assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
        assert!(corruptions.is_empty());
        assert_eq!(dropped, 0);
    }

    /// A log sized ahead of its contents, whose writer died mid-append: the torn record
    /// is followed by zeros, not by the end of the file. Torn anywhere (in a header, in a
    /// payload, between fragments), it is dropped as a torn tail, not reported.
    #[test]
    fn append_torn_into_unwritten_space_is_dropped_silently() {
        let records = vec![
            pattern(1, 100),
            pattern(2, BLOCK_SIZE + 500),
            pattern(3, 300),
        ];
        let bytes = write_log(&records);
        let starts = [
            0,
            HEADER_SIZE + 100,
            BLOCK_SIZE + 500 + 3 * HEADER_SIZE + 100,
        ];
        for cut in starts[1]..bytes.len() {
            let torn = if cut >= starts[2] { 2 } else { 1 };
            let mut log = bytes[..cut].to_vec();
            log.resize((cut / BLOCK_SIZE + 2) * BLOCK_SIZE, 0);
            let (got, corruptions, dropped) = read_all(MemSource::new(log), true);
            assert_eq!(got, records[..torn], "cut at {cut}");
            assert!(corruptions.is_empty(), "cut at {cut}: {corruptions:?}");
            // A tear inside the checksum leaves a header that reads as unwritten space.
            if cut > starts[torn] + 4 {
                let written = (cut - starts[torn]) as u64;
                assert!(
                    dropped > 0 && dropped + 2 * BLOCK_SIZE as u64 > written,
                    "{cut}"
                );
            }
        }
    }

    /// Zeros explain only a torn end: damage with more records after the zeros, or with
    /// nothing after it at all (a log trimmed to its contents), is reported.
    #[test]
    fn damage_before_unwritten_space_is_reported_when_data_follows_it() {
        let mut bytes = write_log(&[b"one".to_vec(), b"two".to_vec()]);
        let two = HEADER_SIZE + 3;
        bytes[two + HEADER_SIZE] ^= 1;
        let (got, corruptions, _) = read_all(MemSource::new(bytes.clone()), true);
        assert_eq!(got, vec![b"one".to_vec()]);
        assert_eq!(corruptions.len(), 1);
        assert_eq!(corruptions[0].offset, two as u64);

        bytes.resize(2 * BLOCK_SIZE, 0);
        bytes.extend(write_log(&[b"three".to_vec()]));
        bytes.resize(4 * BLOCK_SIZE, 0);
        let (got, corruptions, dropped) = read_all(MemSource::new(bytes), true);
        assert_eq!(got, vec![b"one".to_vec(), b"three".to_vec()]);
        assert_eq!(corruptions.len(), 1, "{corruptions:?}");
        assert_eq!(corruptions[0].reason, "checksum mismatch");
        assert_eq!(corruptions[0].offset, two as u64);
        assert_eq!(dropped, 0);
    }

    #[test]
    fn unknown_type_and_bad_length_are_reported() {
        let mut bytes = write_log(&[b"a".to_vec(), b"b".to_vec()]);
        // Retype record 1 as type 9 with a valid checksum.
        let crc = crc::mask(crc::value(&[&[9u8], b"a"]));
        bytes[..4].copy_from_slice(&crc.to_le_bytes());
        bytes[6] = 9;
        bytes.resize(BLOCK_SIZE, 0);
        // Block 1: a header claiming more bytes than the block holds.
        let mut block = vec![0u8; BLOCK_SIZE];
        block[4..6].copy_from_slice(&u16::MAX.to_le_bytes());
        block[6] = RecordType::Full as u8;
        bytes.extend(block);
        bytes.extend(write_log(&[b"c".to_vec()]));
        let (got, corruptions, _) = read_all(MemSource::new(bytes), true);
        assert_eq!(got, vec![b"b".to_vec(), b"c".to_vec()]);
        let reasons: Vec<&str> = corruptions.iter().map(|c| c.reason.as_str()).collect();
        assert_eq!(reasons, vec!["unknown record type 9", "bad record length"]);
        assert_eq!(corruptions[1].offset, BLOCK_SIZE as u64);
    }

    #[test]
    fn io_error_is_an_error() {
        let bytes = write_log(&[pattern(1, 3 * BLOCK_SIZE)]);
        let mut src = MemSource::new(bytes);
        src.fail_at = Some(BLOCK_SIZE);
        let mut reader = Reader::new(Box::new(src), true);
        assert!(reader.read_record().is_err());
    }

    /// xorshift64: deterministic randomness without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn random_mutations_never_panic_and_never_forge_records() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let n = 1 + rng.below(8);
            let records: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    let len = match rng.below(4) {
                        0 => rng.below(8),
                        1 => rng.below(BLOCK_SIZE),
                        2 => BLOCK_SIZE - HEADER_SIZE - rng.below(8),
                        _ => rng.below(100),
                    };
                    pattern(i + rng.below(1000), len)
                })
                .collect();
            let mut bytes = write_log(&records);
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let at = rng.below(bytes.len());
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            let only_flips = rng.below(3) != 0;
            if !only_flips {
                match rng.below(3) {
                    0 => bytes.truncate(rng.below(bytes.len() + 1)),
                    1 => {
                        let at = rng.below(bytes.len() + 1);
                        let junk: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
                        bytes.splice(at..at, junk);
                    }
                    _ => {
                        let at = rng.below(bytes.len() + 1);
                        let end = (at + rng.below(300)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                }
            }
            let mut src = MemSource::new(bytes.clone());
            src.chunk = 1 + rng.below(BLOCK_SIZE);
            let (got, _, _) = read_all(src, true);
            if only_flips {
                for r in &got {
                    assert!(
                        records.contains(r),
                        "a record that was never written came back"
                    );
                }
            }
            read_all(MemSource::new(bytes), false);
        }
    }
}
