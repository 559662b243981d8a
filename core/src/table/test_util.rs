//! In-memory files for table tests: a writable file whose bytes the test can take back,
//! and a random-access file over a byte vector.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;
use crate::fs::{RandomAccessFile, WritableFile};

/// A writable file whose contents stay reachable through the shared buffer.
pub struct MemWritableFile(pub Arc<Mutex<Vec<u8>>>);

impl WritableFile for MemWritableFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.0.lock().extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A random-access file over fixed bytes; reads past the end come back short.
pub struct MemFile(pub Vec<u8>);

impl RandomAccessFile for MemFile {
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}
