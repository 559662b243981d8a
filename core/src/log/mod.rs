//! LevelDB's log format, shared by the WAL and the MANIFEST: records cut into fragments
//! that never straddle a 32 KiB block, each behind a 7-byte header (masked crc32c, length, type).
//! `writer.rs` produces it; `reader.rs` reassembles records and tolerates a torn tail.

mod reader;
mod writer;

pub use reader::{LogCorruption, Reader};
pub use writer::Writer;

/// Logs are read and written in blocks of this many bytes.
pub const BLOCK_SIZE: usize = 32768;

/// crc32c (4, masked) + payload length (2, little-endian) + record type (1).
pub const HEADER_SIZE: usize = 7;

/// The type byte of a fragment header. The numeric values are on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordType {
    /// Reserved for preallocated (zero-filled) space; never written by [`Writer`].
    Zero = 0,
    /// A whole record in one fragment.
    Full = 1,
    First = 2,
    Middle = 3,
    Last = 4,
}

impl RecordType {
    pub fn from_byte(b: u8) -> Option<RecordType> {
        match b {
            0 => Some(RecordType::Zero),
            1 => Some(RecordType::Full),
            2 => Some(RecordType::First),
            3 => Some(RecordType::Middle),
            4 => Some(RecordType::Last),
            _ => None,
        }
    }
}

/// In-memory files for the log tests: what the writer produced is what the reader sees,
/// and tests can mutate the bytes in between.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use crate::error::{Error, Result};
    use crate::fs::{SequentialFile, WritableFile};

    /// A writable file whose bytes stay readable through the shared handle.
    #[derive(Clone, Default)]
    pub struct MemFile(pub Arc<Mutex<Vec<u8>>>);

    impl MemFile {
        pub fn contents(&self) -> Vec<u8> {
            self.0.lock().expect("test mutex poisoned").clone()
        }
    }

    impl WritableFile for MemFile {
        fn append(&mut self, data: &[u8]) -> Result<()> {
            self.0
                .lock()
                .expect("test mutex poisoned")
                .extend_from_slice(data);
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> Result<()> {
            Ok(())
        }
    }

    /// A sequential file over fixed bytes that hands out at most `chunk` bytes per read,
    /// so the reader's block-filling loop is exercised; optionally fails at an offset.
    pub struct MemSource {
        pub data: Vec<u8>,
        pub pos: usize,
        pub chunk: usize,
        pub fail_at: Option<usize>,
    }

    impl MemSource {
        pub fn new(data: Vec<u8>) -> MemSource {
            MemSource {
                data,
                pos: 0,
                chunk: usize::MAX,
                fail_at: None,
            }
        }
    }

    impl SequentialFile for MemSource {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
            if self.fail_at.is_some_and(|at| self.pos >= at) {
                return Err(Error::io("memsource", std::io::Error::other("injected")));
            }
            let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
}
