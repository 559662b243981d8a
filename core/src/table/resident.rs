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
//!
//! Reuse: a closed table's buffer is kept for a moment and handed to the next table that
//! fits in it. Compaction closes tables and its outputs are loaded soon after, a few MiB
//! each. Handed back to malloc, the freed buffers were split up by smaller allocations
//! and the new images taken from fresh memory: after a `compact_range` of a 110 MB
//! database, readrandom peaked at 180-215 MiB of RSS (4 runs) where 123-142 do with the
//! buffers reused. Spare buffers count against the budget, and are freed when a load
//! needs their room or after [`SPARE_IDLE`] unused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

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

/// How long a closed table's buffer waits for a table to reuse it before it is freed.
/// Compaction outputs that are read are loaded well within it: after `compact_range`
/// of a 110 MB database, readrandom loaded every new table in its first 0.1 s. Waits of
/// 1, 2 and 3 s measured the same peak RSS; longer ones only hold memory longer.
const SPARE_IDLE: Duration = Duration::from_secs(2);

/// Bytes of resident tables a Db may hold, and how many it holds now: the live images
/// and the spare buffers of closed ones, together never above the limit.
#[derive(Debug)]
pub struct ResidentBudget {
    limit: usize,
    /// [`SPARE_IDLE`], but for tests.
    spare_idle: Duration,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    /// Capacity of the buffers of live images and of loads under way.
    used: usize,
    /// Buffers of closed tables' images, oldest first, with when each was given back.
    spare: Vec<(Vec<u8>, Instant)>,
    spare_bytes: usize,
}

impl BudgetState {
    fn free_idle_spares(&mut self, now: Instant, idle: Duration) {
        let expired = self
            .spare
            .iter()
            .take_while(|(_, since)| now.duration_since(*since) >= idle)
            .count();
        for (buf, _) in self.spare.drain(..expired) {
            self.spare_bytes -= buf.capacity();
        }
    }
}

impl ResidentBudget {
    pub fn new(limit: usize) -> ResidentBudget {
        ResidentBudget::with_spare_idle(limit, SPARE_IDLE)
    }

    fn with_spare_idle(limit: usize, spare_idle: Duration) -> ResidentBudget {
        ResidentBudget {
            limit,
            spare_idle,
            state: Mutex::new(BudgetState::default()),
        }
    }

    /// Frees the spare buffers nobody took within [`SPARE_IDLE`], then the oldest until
    /// the spares hold no more than `demand`: the bytes of open tables that may still
    /// be loaded. Taking and giving back buffers frees idle ones too; the table cache
    /// calls this now and then from lookups, so spares outlive neither their use (a
    /// compaction that shrank the data leaves more spare than new tables need) nor the
    /// last compaction for long.
    pub fn trim_spares(&self, demand: usize) {
        let mut st = self.state.lock();
        if st.spare.is_empty() {
            return;
        }
        st.free_idle_spares(Instant::now(), self.spare_idle);
        while st.spare_bytes > demand {
            let (buf, _) = st.spare.remove(0);
            st.spare_bytes -= buf.capacity();
        }
    }

    /// Whether a table of `size` bytes is small enough to be made resident.
    fn may_hold(&self, size: u64) -> bool {
        size <= self.limit as u64 / MAX_SHARE_OF_BUDGET
    }

    /// Bytes held by resident tables now (their buffers' capacity).
    pub fn used(&self) -> usize {
        self.state.lock().used
    }

    /// Bytes of spare buffers kept for the next tables to load.
    pub fn spare(&self) -> usize {
        self.state.lock().spare_bytes
    }

    /// An empty buffer of capacity `len`, taken from the budget: the smallest spare one
    /// that holds `len`, its surplus given back to malloc, else a new one once its room
    /// is found (freeing spare buffers as needed). None when the live images leave no
    /// room.
    fn take(&self, len: usize) -> Option<Vec<u8>> {
        let mut st = self.state.lock();
        st.free_idle_spares(Instant::now(), self.spare_idle);
        let best = st
            .spare
            .iter()
            .enumerate()
            .filter(|(_, (buf, _))| buf.capacity() >= len)
            .min_by_key(|(_, (buf, _))| buf.capacity())
            .map(|(i, _)| i);
        if let Some(i) = best {
            let (mut buf, _) = st.spare.remove(i);
            st.spare_bytes -= buf.capacity();
            buf.clear();
            // In place: only the tail goes back to malloc.
            buf.shrink_to(len);
            st.used += buf.capacity();
            return Some(buf);
        }
        if !st
            .used
            .checked_add(len)
            .is_some_and(|total| total <= self.limit)
        {
            return None;
        }
        while st.used + st.spare_bytes + len > self.limit {
            // Oldest first: the likeliest never to be reused.
            let (buf, _) = st.spare.remove(0);
            st.spare_bytes -= buf.capacity();
        }
        st.used += len;
        Some(Vec::with_capacity(len))
    }

    /// Takes back a buffer [`take`](Self::take) handed out, keeping it as a spare (its
    /// contents are dropped on reuse).
    fn give_back(&self, buf: Vec<u8>) {
        let mut st = self.state.lock();
        let now = Instant::now();
        st.free_idle_spares(now, self.spare_idle);
        st.used -= buf.capacity();
        st.spare_bytes += buf.capacity();
        st.spare.push((buf, now));
    }
}

/// A whole table file in memory, with one bit per data block saying its checksum was
/// verified. Gives its bytes back to the budget when dropped.
pub struct Image {
    /// The file's bytes; its capacity is what the budget counts.
    bytes: Vec<u8>,
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
        self.budget.give_back(std::mem::take(&mut self.bytes));
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
    /// The first bytes of the file, read so far, in a buffer the budget counted at
    /// its capacity (at least the file's size).
    Reading { read: Vec<u8> },
    /// Loaded, or given up after a failed or short read (one try per open table).
    Ended,
}

impl Drop for Residency {
    /// A table closed halfway through loading gives back the buffer it took.
    fn drop(&mut self) {
        let load = std::mem::replace(self.load.get_mut(), Load::Ended);
        if let (Load::Reading { read }, Some(budget)) = (load, &self.budget) {
            budget.give_back(read);
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

    /// Whether lookups may still load this table (of `size` bytes): it has a budget,
    /// fits its share, is not resident, and has not given up after a failed read.
    pub fn may_become_resident(&self, size: u64) -> bool {
        let Some(budget) = &self.budget else {
            return false;
        };
        let ended = self
            .load
            .try_lock()
            .is_some_and(|load| matches!(*load, Load::Ended));
        budget.may_hold(size) && self.image().is_none() && !ended
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
        if tally.saturating_add(bytes) < size || !budget.may_hold(size) {
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
            Load::Reading { read } => read,
            Load::NotStarted => {
                // A full budget is asked again by later lookups: tables close and give
                // their bytes back.
                let Some(buf) = budget.take(len) else {
                    *load = Load::NotStarted;
                    return;
                };
                buf
            }
        };
        let start = read.len();
        let end = len.min(start + LOAD_CHUNK);
        read.resize(end, 0);
        match file.read_at_into(start as u64, &mut read[start..]) {
            Ok(n) if n == end - start => {}
            _ => {
                budget.give_back(read);
                return;
            }
        }
        if end < len {
            *load = Load::Reading { read };
            return;
        }
        let image = Image {
            bytes: read,
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
    fn a_closed_tables_buffer_goes_to_the_next_table_of_about_its_size() {
        let budget = Arc::new(ResidentBudget::new(1 << 20));
        let first = Residency::new(Arc::clone(&budget));
        first.note_disk_read(10_000, &Bytes(vec![1; 10_000]), 10_000, 1);
        assert!(first.image().is_some());
        drop(first);
        assert_eq!((budget.used(), budget.spare()), (0, 10_000));

        // Reused, cut to the new table's size, holding nothing of the table before.
        let file = Bytes((0..9_000).map(|i| (i % 7) as u8).collect());
        let second = Residency::new(Arc::clone(&budget));
        second.note_disk_read(9_000, &file, 9_000, 1);
        assert_eq!(second.image().expect("resident").bytes(), &file.0[..]);
        assert_eq!((budget.used(), budget.spare()), (9_000, 0));

        // Larger than every spare: a new buffer, the spare kept beside it.
        drop(second);
        let big = Residency::new(Arc::clone(&budget));
        big.note_disk_read(12_000, &Bytes(vec![3; 12_000]), 12_000, 1);
        assert_eq!(big.image().expect("resident").bytes(), &[3; 12_000][..]);
        assert_eq!((budget.used(), budget.spare()), (12_000, 9_000));
    }

    #[test]
    fn spare_buffers_make_room_for_new_tables_and_are_freed_when_idle() {
        let budget = ResidentBudget::new(30_000);
        let a = budget.take(10_000).expect("room");
        budget.give_back(a);
        // 12,000 does not fit the 10,000 spare, and there is room beside it.
        let b = budget.take(12_000).expect("room");
        assert_eq!((budget.used(), budget.spare()), (12_000, 10_000));
        // 15,000 more only fits once the spare is freed.
        let c = budget.take(15_000).expect("room after freeing the spare");
        assert_eq!((budget.used(), budget.spare()), (27_000, 0));
        // Live images are never freed for room.
        assert!(budget.take(4_000).is_none());
        budget.give_back(b);
        budget.give_back(c);
        assert_eq!((budget.used(), budget.spare()), (0, 27_000));

        let later = Instant::now() + SPARE_IDLE;
        budget.state.lock().free_idle_spares(later, SPARE_IDLE);
        assert_eq!((budget.used(), budget.spare()), (0, 0));
    }

    #[test]
    fn trimming_frees_idle_spares_and_spares_beyond_the_demand() {
        let budget = ResidentBudget::with_spare_idle(1 << 20, Duration::ZERO);
        let buf = budget.take(1_000).expect("room");
        // give_back frees idle spares before it files this one.
        budget.give_back(buf);
        assert_eq!(budget.spare(), 1_000);
        budget.trim_spares(usize::MAX);
        assert_eq!((budget.used(), budget.spare()), (0, 0));

        let kept = ResidentBudget::new(1 << 20);
        let (a, b, c) = (kept.take(1_000), kept.take(2_000), kept.take(3_000));
        for buf in [a, b, c] {
            kept.give_back(buf.expect("room"));
        }
        kept.trim_spares(usize::MAX);
        assert_eq!(kept.spare(), 6_000, "not idle for SPARE_IDLE yet");
        // Tables that may still load need 5,000 bytes: the oldest spare goes.
        kept.trim_spares(5_000);
        assert_eq!(kept.spare(), 5_000);
        assert!(kept.take(2_000).is_some() && kept.take(3_000).is_some());
        assert_eq!((kept.used(), kept.spare()), (5_000, 0));
    }

    #[test]
    fn only_a_table_that_fits_and_is_not_loaded_may_become_resident() {
        let budget = Arc::new(ResidentBudget::new(80_000));
        assert!(!Residency::default().may_become_resident(100));
        let r = Residency::new(Arc::clone(&budget));
        assert!(r.may_become_resident(10_000));
        assert!(
            !r.may_become_resident(10_001),
            "over an eighth of the budget"
        );
        r.note_disk_read(10_000, &Bytes(vec![1; 10_000]), 10_000, 1);
        assert!(!r.may_become_resident(10_000), "resident");
        let failed = Residency::new(budget);
        failed.note_disk_read(10_000, &Bytes(vec![1; 9_000]), 10_000, 1);
        assert!(
            !failed.may_become_resident(10_000),
            "gave up after a short read"
        );
    }

    #[test]
    fn without_a_budget_nothing_is_loaded() {
        let r = Residency::default();
        r.note_disk_read(1 << 20, &Bytes(vec![1; 100]), 100, 1);
        assert!(r.image().is_none());
    }
}
