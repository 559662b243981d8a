//! Resident tables: a table file held whole in memory once point lookups have read as
//! many bytes of it from disk as the file holds, within a byte budget the Db's tables
//! share (`Options::resident_table_budget`).
//!
//! Why: a point lookup that misses the block cache costs a `pread` of a 4 KiB block,
//! which is a system call and a copy of the whole block, where the lookup itself touches
//! a few cache lines of it. LevelDB avoids both by mapping its table files into memory;
//! siltdb's core has no unsafe code, so it reads a hot table into the heap instead and
//! then reads its blocks in place: no system call, no copy, no block-cache entry.
//!
//! When: the rent-or-buy rule. Each block a lookup reads from disk adds its size to the
//! table's tally; when the tally reaches the file's size, the table has already cost as
//! much reading as loading it whole would, and it is loaded, a chunk per lookup, by the
//! lookups that still read it from disk. So a table read rarely is never loaded, and no
//! table costs more than about twice the reading of the cheaper choice in hindsight.
//! Iterators (scans, compaction) do not count: they read each block once.
//!
//! Checks: each block's checksum is verified the first time a lookup reads it from the
//! image, as for a block entering the block cache, so a damaged block answers Corruption
//! and never a wrong value. The memory is given back to the budget when the table is
//! closed (evicted from the table cache, or its file deleted after compaction).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::error::Result;
use crate::fs::RandomAccessFile;

/// A table larger than this share of the budget is never made resident, so that one big
/// table (a 64 MiB memtable flushed whole) cannot take the budget alone, and loading one
/// never holds up its lookup for long.
const MAX_SHARE_OF_BUDGET: u64 = 8;

/// Bytes of the file one lookup reads into the image: a lookup that loads costs about as
/// much as a few block reads, not the whole file.
const LOAD_CHUNK: usize = 256 << 10;

/// Bytes of resident tables a Db may hold, and how many it holds now.
#[derive(Debug)]
pub struct ResidentBudget {
    limit: usize,
    used: AtomicUsize,
}

impl ResidentBudget {
    pub fn new(limit: usize) -> ResidentBudget {
        ResidentBudget {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// Bytes held by resident tables now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes` from the budget if they fit.
    fn reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// A whole table file in memory, with one bit per data block saying its checksum was
/// verified. Gives its bytes back to the budget when dropped.
pub struct Image {
    bytes: Box<[u8]>,
    checked: Box<[AtomicU64]>,
    budget: Arc<ResidentBudget>,
}

impl Image {
    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether data block `index` (its place in the index block) was verified.
    pub fn is_checked(&self, index: usize) -> bool {
        self.checked
            .get(index / 64)
            .is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (index % 64)) != 0)
    }

    /// Records that data block `index` passed its checksum. Relaxed is enough: a reader
    /// that misses the bit only verifies the block again.
    pub fn mark_checked(&self, index: usize) {
        if let Some(w) = self.checked.get(index / 64) {
            w.fetch_or(1 << (index % 64), Ordering::Relaxed);
        }
    }
}

/// The reads that copy (compressed blocks, iterators) come from memory once resident.
impl RandomAccessFile for Image {
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0; len];
        let n = self.read_at_into(offset, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn read_at_into(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let len = self.bytes.len();
        let start = usize::try_from(offset).map_or(len, |o| o.min(len));
        let n = buf.len().min(len - start);
        buf[..n].copy_from_slice(&self.bytes[start..start + n]);
        Ok(n)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        self.budget.release(self.bytes.len());
    }
}

/// One open table's residency: its tally of bytes read from disk by lookups, the image
/// while it is being read in, and the image once loaded. A table opened without a budget
/// never becomes resident.
#[derive(Default)]
pub struct Residency {
    budget: Option<Arc<ResidentBudget>>,
    disk_bytes: AtomicU64,
    load: Mutex<Load>,
    image: OnceLock<Image>,
}

/// How far loading the image has come.
#[derive(Default)]
enum Load {
    #[default]
    NotStarted,
    /// The first bytes of the file, read so far; the whole file's `len` is taken from
    /// the budget.
    Reading { read: Vec<u8>, len: usize },
    /// Loaded, or given up after a failed or short read (one try per open table).
    Ended,
}

impl Drop for Residency {
    /// A table closed halfway through loading gives back the bytes it reserved.
    fn drop(&mut self) {
        if let (Load::Reading { len, .. }, Some(budget)) = (self.load.get_mut(), &self.budget) {
            budget.release(*len);
        }
    }
}

impl Residency {
    /// Residency under `budget`.
    pub fn new(budget: Arc<ResidentBudget>) -> Residency {
        Residency {
            budget: Some(budget),
            disk_bytes: AtomicU64::new(0),
            load: Mutex::new(Load::NotStarted),
            image: OnceLock::new(),
        }
    }

    /// The image, once the table is resident.
    #[inline]
    pub fn image(&self) -> Option<&Image> {
        self.image.get()
    }

    /// Counts `bytes` a lookup read from `file` (of `size` bytes, `blocks` data blocks).
    /// Once the tally has reached the file's size and the budget has room, each such
    /// lookup reads the next [`LOAD_CHUNK`] of the file into the image, so none waits
    /// long, and the last one publishes it. A failed or short read ends the try and
    /// gives the bytes back: lookups go on reading the file, and report any error it
    /// really has.
    pub fn note_disk_read(
        &self,
        bytes: u64,
        file: &dyn RandomAccessFile,
        size: u64,
        blocks: usize,
    ) {
        let Some(budget) = &self.budget else {
            return;
        };
        let tally = self.disk_bytes.fetch_add(bytes, Ordering::Relaxed);
        if tally.saturating_add(bytes) < size || size > budget.limit as u64 / MAX_SHARE_OF_BUDGET {
            return;
        }
        let Ok(len) = usize::try_from(size) else {
            return;
        };
        // Another lookup is reading the next chunk: this one goes its way.
        let Some(mut load) = self.load.try_lock() else {
            return;
        };
        let mut read = match std::mem::replace(&mut *load, Load::Ended) {
            Load::Ended => return,
            Load::Reading { read, .. } => read,
            Load::NotStarted => {
                // A full budget is asked again by later lookups: tables close and give
                // their bytes back.
                if !budget.reserve(len) {
                    *load = Load::NotStarted;
                    return;
                }
                Vec::with_capacity(len)
            }
        };
        let start = read.len();
        let end = len.min(start + LOAD_CHUNK);
        read.resize(end, 0);
        match file.read_at_into(start as u64, &mut read[start..]) {
            Ok(n) if n == end - start => {}
            _ => {
                budget.release(len);
                return;
            }
        }
        if end < len {
            *load = Load::Reading { read, len };
            return;
        }
        let image = Image {
            bytes: read.into_boxed_slice(),
            checked: (0..blocks.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            budget: Arc::clone(budget),
        };
        // Only the lookup holding `load` gets here, once; were that to change, the
        // loser's image would be dropped here and give its bytes back.
        let _ = self.image.set(image);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bytes(Vec<u8>);

    impl RandomAccessFile for Bytes {
        fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
            let start = (offset as usize).min(self.0.len());
            let end = start.saturating_add(len).min(self.0.len());
            Ok(self.0[start..end].to_vec())
        }
    }

    #[test]
    fn loads_once_the_tally_reaches_the_file_size_and_returns_the_bytes_on_drop() {
        let budget = Arc::new(ResidentBudget::new(1 << 20));
        let file = Bytes((0..=255).cycle().take(10_000).collect());
        let r = Residency::new(Arc::clone(&budget));
        for _ in 0..2 {
            r.note_disk_read(4096, &file, 10_000, 3);
            assert!(r.image().is_none());
        }
        assert_eq!(budget.used(), 0);
        r.note_disk_read(4096, &file, 10_000, 3);
        let image = r.image().expect("resident after 12288 of 10000 bytes read");
        assert_eq!(image.bytes(), &file.0[..]);
        assert_eq!(budget.used(), 10_000);
        assert!(!image.is_checked(2));
        image.mark_checked(2);
        assert!(image.is_checked(2) && !image.is_checked(1) && !image.is_checked(64));
        // Copying reads come from the image, short only at its end.
        let (mut a, mut b) = ([0u8; 6], [0u8; 20]);
        let got = image
            .read_vectored_at(9_990, &mut [&mut a[..], &mut b[..]])
            .expect("read");
        assert_eq!(
            (got, &a[..], &b[..4]),
            (10, &file.0[9_990..9_996], &file.0[9_996..])
        );
        assert_eq!(image.read_at(20_000, 5).expect("past the end"), b"");
        drop(r);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_big_table_is_read_in_a_chunk_per_lookup_and_published_whole() {
        let budget = Arc::new(ResidentBudget::new(64 << 20));
        let len = 2 * LOAD_CHUNK + 1000;
        let file = Bytes((0..len).map(|i| (i % 251) as u8).collect());
        let r = Residency::new(Arc::clone(&budget));
        r.note_disk_read(len as u64 - 1, &file, len as u64, 100);
        assert_eq!(budget.used(), 0, "below the line");
        for _ in 0..2 {
            r.note_disk_read(4096, &file, len as u64, 100);
            assert!(r.image().is_none());
            assert_eq!(budget.used(), len, "reserved while reading");
        }
        r.note_disk_read(4096, &file, len as u64, 100);
        assert_eq!(r.image().expect("third chunk ends it").bytes(), &file.0[..]);
        assert_eq!(budget.used(), len);

        // A table closed halfway through loading gives its reservation back.
        let half = Residency::new(Arc::clone(&budget));
        half.note_disk_read(len as u64, &file, len as u64, 100);
        assert!(half.image().is_none());
        assert_eq!(budget.used(), 2 * len);
        drop(half);
        assert_eq!(budget.used(), len);
    }

    #[test]
    fn a_table_over_its_share_of_the_budget_or_past_what_is_left_stays_on_disk() {
        let budget = Arc::new(ResidentBudget::new(80_000));
        let big = Bytes(vec![7; 10_001]);
        let r = Residency::new(Arc::clone(&budget));
        r.note_disk_read(20_000, &big, 10_001, 1);
        assert!(r.image().is_none(), "over an eighth of the budget");

        let file = Bytes(vec![1; 10_000]);
        let tables: Vec<Residency> = (0..9)
            .map(|_| {
                let r = Residency::new(Arc::clone(&budget));
                r.note_disk_read(10_000, &file, 10_000, 1);
                r
            })
            .collect();
        let resident = |tables: &[Residency]| tables.iter().filter(|r| r.image().is_some()).count();
        assert_eq!((resident(&tables), budget.used()), (8, 80_000));
        let mut tables = tables;
        tables.remove(0);
        assert_eq!((resident(&tables), budget.used()), (7, 70_000));
        // The ninth asks again on its next disk read, and now fits.
        tables[7].note_disk_read(4096, &file, 10_000, 1);
        assert_eq!((resident(&tables), budget.used()), (8, 80_000));
        drop(tables);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_short_read_leaves_the_table_on_disk_and_the_budget_untouched() {
        let budget = Arc::new(ResidentBudget::new(1 << 20));
        let r = Residency::new(Arc::clone(&budget));
        // The MANIFEST says 10,000 bytes; the file holds 9,000.
        r.note_disk_read(10_000, &Bytes(vec![1; 9_000]), 10_000, 1);
        assert!(r.image().is_none());
        assert_eq!(budget.used(), 0);
        // One try per open table.
        r.note_disk_read(10_000, &Bytes(vec![1; 10_000]), 10_000, 1);
        assert!(r.image().is_none());
    }

    #[test]
    fn without_a_budget_nothing_is_loaded() {
        let r = Residency::default();
        r.note_disk_read(1 << 20, &Bytes(vec![1; 100]), 100, 1);
        assert!(r.image().is_none());
    }
}
