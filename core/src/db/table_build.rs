//! Builds one table file from a memtable, on several threads when it is big. The
//! memtable is cut into key ranges of a few MiB; the thread that owns the file builds the
//! range at the file's end straight into it, the others build the next few ranges into
//! memory, and those are appended in key order. What waits in memory is bounded by a
//! window of ranges, not by the memtable's size.

use std::path::Path;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::events::FlushReason;
use crate::filename::FileNumber;
use crate::fs::{FileSystem, WritableFile};
use crate::key::{parse_internal_key, InternalKey, SequenceNumber, ValueType};
use crate::memtable::MemTable;
use crate::options::Options;
use crate::table::{BackgroundWritableFile, TableBuilder};
use crate::version::FileMetaData;

/// What `write_table_file` wrote.
pub(super) struct BuiltTable {
    pub(super) meta: FileMetaData,
    pub(super) entries: u64,
    pub(super) deletions: u64,
    pub(super) smallest_seqno: SequenceNumber,
    pub(super) largest_seqno: SequenceNumber,
}

/// A memtable is built by several threads when each gets at least this much of it:
/// below that, starting threads and joining their parts would cost more than it saves.
/// A full default-sized (4 MiB) memtable gets two.
const PARALLEL_BUILD_MIN_BYTES: usize = 2 << 20;

/// Most threads one table is built by.
const MAX_BUILD_THREADS: usize = 4;

/// Memtable bytes per key range of a table built by several threads. A range built
/// apart waits in memory as table bytes until the ranges before it are in the file, so
/// this (times the window) bounds what a flush holds beside the memtable; each cut only
/// ends one data block early.
const RANGE_BYTES: usize = 2 << 20;

/// How hard a table build may lean on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BuildPace {
    /// Somebody waits for this table (`flush(wait)`, close, recovery, repair): every
    /// core, and a thread of its own appending the file.
    Urgent,
    /// A memtable filled while writes flow: it only has to be done before the next one
    /// fills, so it leaves a core to the writers and writes its file itself. Fewer
    /// threads than cores means no writer waits for a core behind the flush (puts over
    /// 1 ms), and nothing waits in memory for another thread (peak RSS).
    Background,
}

impl BuildPace {
    pub(super) fn for_reason(reason: FlushReason) -> BuildPace {
        match reason {
            FlushReason::WriteBufferFull => BuildPace::Background,
            _ => BuildPace::Urgent,
        }
    }
}

/// How a table is built from a memtable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BuildPlan {
    /// Threads, the one owning the file included.
    pub(super) threads: usize,
    /// Key ranges the memtable is cut into (fewer when it has too few samples).
    pub(super) ranges: usize,
    /// Ranges past the one at the file's end that may be built meanwhile: at most this
    /// many wait in memory.
    pub(super) ahead: usize,
    /// Whether the file is appended by a [`BackgroundWritableFile`].
    pub(super) writer_thread: bool,
}

impl BuildPlan {
    /// One thread per [`PARALLEL_BUILD_MIN_BYTES`] of `mem`, at most one per core; about
    /// one range per [`RANGE_BYTES`], rounded up to a multiple of the threads so that no
    /// thread is left building the last range alone; one range ahead per thread. A
    /// [`BuildPace::Background`] build leaves one core alone and has no writer thread.
    pub(super) fn for_memtable(mem: &MemTable, pace: BuildPace) -> BuildPlan {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (cores, writer_thread) = match pace {
            BuildPace::Urgent => (cores, true),
            BuildPace::Background => (cores - 1, false),
        };
        let bytes = mem.approximate_memory_usage();
        let threads =
            (bytes / PARALLEL_BUILD_MIN_BYTES).clamp(1, cores.clamp(1, MAX_BUILD_THREADS));
        if threads == 1 {
            return BuildPlan {
                threads,
                ranges: 1,
                ahead: 0,
                writer_thread,
            };
        }
        BuildPlan {
            threads,
            ranges: (bytes / RANGE_BYTES).div_ceil(threads).max(1) * threads,
            ahead: threads,
            writer_thread,
        }
    }
}

/// Writes and syncs table file `number` from `mem` as `plan` says.
pub(super) fn write_table_file(
    fs: &dyn FileSystem,
    options: &Options,
    path: &Path,
    mem: &MemTable,
    number: FileNumber,
    plan: BuildPlan,
) -> Result<BuiltTable> {
    // Appends on a thread of their own: the kernel copies the bytes while the next
    // blocks are built.
    let file = fs.new_writable_file(path)?;
    let file: Box<dyn WritableFile> = if !plan.writer_thread {
        file
    } else {
        match BackgroundWritableFile::spawn(file, path.display().to_string()) {
            Ok(file) => Box::new(file),
            // No thread to be had: write from here (the failed spawn closed the file).
            Err(_) => fs.new_writable_file(path)?,
        }
    };
    let mut builder = TableBuilder::new(options, file);
    let splits = if plan.ranges > 1 {
        mem.split_keys(plan.ranges)
    } else {
        Vec::new()
    };
    let mut bounds: Vec<Option<&[u8]>> = vec![None];
    bounds.extend(splits.iter().map(|k| Some(&k[..])));
    bounds.push(None);
    let ranges = Ranges::new(options, mem, bounds, plan.ahead);
    let stats = std::thread::scope(|scope| {
        if ranges.count() > 1 {
            for _ in 1..plan.threads {
                let thread = std::thread::Builder::new().name("siltdb-table-part".to_string());
                // A thread that cannot be started leaves its share to the others.
                let _ = thread.spawn_scoped(scope, || ranges.help());
            }
        }
        ranges.write(&mut builder)
    })?;
    let file_size = builder.finish()?;
    builder.sync()?;
    Ok(BuiltTable {
        meta: FileMetaData {
            number,
            file_size,
            smallest: InternalKey::from_encoded(stats.smallest.unwrap_or_default()),
            largest: InternalKey::from_encoded(stats.largest),
            allowed_seeks: Default::default(),
        },
        entries: stats.entries,
        deletions: stats.deletions,
        smallest_seqno: stats.smallest_seqno,
        largest_seqno: stats.largest_seqno,
    })
}

/// A range built into memory, waiting for its turn in the file.
type Part = Result<(TableBuilder, RangeStats)>;

/// The key ranges of one table build and who has claimed which. Ranges are claimed in
/// key order. Helpers only claim ranges past the file's end, at most `ahead` of it; when
/// the file reaches a range nobody has claimed, the writing thread takes it and builds
/// it straight into the file.
struct Ranges<'a> {
    options: &'a Options,
    mem: &'a MemTable,
    /// Range `i` is `[bounds[i], bounds[i + 1])`; a missing bound is unbounded.
    bounds: Vec<Option<&'a [u8]>>,
    ahead: usize,
    /// The memtable's bytes per range.
    range_bytes: usize,
    claims: Mutex<Claims>,
    changed: Condvar,
}

struct Claims {
    /// The first range nobody has claimed.
    next: usize,
    /// The range at the file's end: every range before it is in the file.
    at: usize,
    /// Ranges built apart, by index, until appended.
    built: Vec<Option<Part>>,
    /// Buffers of appended parts, for the next ranges built apart: at most `ahead`
    /// buffers are ever made, each touched once (a fresh buffer for every range would
    /// leave the allocator holding freed ones).
    spare: Vec<Vec<u8>>,
    /// No more claims: the build is over, or failed.
    stop: bool,
    /// A helper thread panicked; the panic is raised again when the scope joins it.
    panicked: bool,
    /// Most ranges claimed to be built apart and not yet appended, at any one time.
    #[cfg(test)]
    most_apart: usize,
}

impl<'a> Ranges<'a> {
    fn new(
        options: &'a Options,
        mem: &'a MemTable,
        bounds: Vec<Option<&'a [u8]>>,
        ahead: usize,
    ) -> Ranges<'a> {
        let count = bounds.len() - 1;
        Ranges {
            options,
            mem,
            bounds,
            ahead,
            range_bytes: mem.approximate_memory_usage() / count,
            claims: Mutex::new(Claims {
                next: 0,
                at: 0,
                built: (0..count).map(|_| None).collect(),
                spare: Vec::new(),
                stop: false,
                panicked: false,
                #[cfg(test)]
                most_apart: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn count(&self) -> usize {
        self.bounds.len() - 1
    }

    fn range(&self, i: usize) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
        (self.bounds[i], self.bounds[i + 1])
    }

    /// Claims the next range if it is one a helper may build now: past the file's end
    /// and inside the window.
    fn claim_ahead(&self, claims: &mut Claims) -> Option<usize> {
        let i = claims.next;
        let claimable =
            !claims.stop && i < self.count() && i > claims.at && i <= claims.at + self.ahead;
        claimable.then(|| {
            claims.next += 1;
            #[cfg(test)]
            {
                claims.most_apart = claims.most_apart.max(claims.next - claims.at - 1);
            }
            i
        })
    }

    /// Builds range `i` into memory and leaves it for the writer.
    fn build_apart(&self, claims: &mut MutexGuard<'_, Claims>, i: usize) {
        let (start, end) = self.range(i);
        let buffer = claims.spare.pop();
        let part = MutexGuard::unlocked(claims, || {
            // A range's share of the memtable's bytes is more than its table bytes will
            // be, so the buffer never grows; pages reserved but never written cost nothing.
            let buffer = buffer.unwrap_or_else(|| Vec::with_capacity(self.range_bytes));
            let mut part = TableBuilder::new_part(self.options, buffer);
            let stats = add_entries(&mut part, self.mem, start, end)?;
            Ok((part, stats))
        });
        if part.is_err() {
            claims.stop = true;
        }
        claims.built[i] = Some(part);
        self.changed.notify_all();
    }

    /// A helper thread: builds ranges ahead of the file until none are left to claim.
    fn help(&self) {
        let _panicking = MarkPanic(self);
        let mut claims = self.claims.lock();
        while !claims.stop && claims.next < self.count() {
            match self.claim_ahead(&mut claims) {
                Some(i) => self.build_apart(&mut claims, i),
                None => self.changed.wait(&mut claims),
            }
        }
    }

    /// The writing thread: takes the ranges in key order, building each one nobody
    /// claimed straight into `builder` and appending those built apart; while waiting
    /// for one, it builds ahead itself. Returns what the ranges held.
    fn write(&self, builder: &mut TableBuilder) -> Result<RangeStats> {
        let _stop = StopClaims(self);
        let mut stats = RangeStats::default();
        let mut claims = self.claims.lock();
        while claims.at < self.count() {
            if claims.panicked {
                return Err(Error::invalid_argument("a table-building thread panicked"));
            }
            let at = claims.at;
            let range_stats = if claims.next == at {
                claims.next += 1;
                // Helpers may now claim the ranges after it.
                self.changed.notify_all();
                let (start, end) = self.range(at);
                MutexGuard::unlocked(&mut claims, || {
                    builder.end_block()?;
                    add_entries(builder, self.mem, start, end)
                })?
            } else if let Some(part) = claims.built[at].take() {
                let (part, part_stats) = part?;
                let buffer = MutexGuard::unlocked(&mut claims, || builder.append_part(part))?;
                claims.spare.push(buffer);
                part_stats
            } else {
                match self.claim_ahead(&mut claims) {
                    Some(i) => self.build_apart(&mut claims, i),
                    None => self.changed.wait(&mut claims),
                }
                continue;
            };
            stats.extend(range_stats);
            claims.at += 1;
            self.changed.notify_all();
        }
        Ok(stats)
    }
}

/// Ends the claims when the writer is done, however it ends, so helpers stop.
struct StopClaims<'r, 'a>(&'r Ranges<'a>);

impl Drop for StopClaims<'_, '_> {
    fn drop(&mut self) {
        self.0.claims.lock().stop = true;
        self.0.changed.notify_all();
    }
}

/// Tells the writer when a helper panics, so it does not wait for a range that will
/// never come.
struct MarkPanic<'r, 'a>(&'r Ranges<'a>);

impl Drop for MarkPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut claims = self.0.claims.lock();
            claims.panicked = true;
            claims.stop = true;
            self.0.changed.notify_all();
        }
    }
}

/// What a key range of a flushed memtable held.
struct RangeStats {
    smallest: Option<Vec<u8>>,
    largest: Vec<u8>,
    entries: u64,
    deletions: u64,
    smallest_seqno: SequenceNumber,
    largest_seqno: SequenceNumber,
}

impl Default for RangeStats {
    fn default() -> RangeStats {
        RangeStats {
            smallest: None,
            largest: Vec::new(),
            entries: 0,
            deletions: 0,
            smallest_seqno: SequenceNumber::MAX,
            largest_seqno: SequenceNumber(0),
        }
    }
}

impl RangeStats {
    /// Adds the stats of the range that follows this one.
    fn extend(&mut self, next: RangeStats) {
        if next.entries == 0 {
            return;
        }
        if self.smallest.is_none() {
            self.smallest = next.smallest;
        }
        self.largest = next.largest;
        self.entries += next.entries;
        self.deletions += next.deletions;
        self.smallest_seqno = self.smallest_seqno.min(next.smallest_seqno);
        self.largest_seqno = self.largest_seqno.max(next.largest_seqno);
    }
}

/// Adds the entries of `mem` whose user keys are in `[start, end)` to `builder`.
fn add_entries(
    builder: &mut TableBuilder,
    mem: &MemTable,
    start: Option<&[u8]>,
    end: Option<&[u8]>,
) -> Result<RangeStats> {
    let mut stats = RangeStats::default();
    mem.for_each_entry_in(start, end, |key, value| {
        if let Some(parsed) = parse_internal_key(key) {
            stats.smallest_seqno = stats.smallest_seqno.min(parsed.sequence);
            stats.largest_seqno = stats.largest_seqno.max(parsed.sequence);
            if parsed.value_type == ValueType::Deletion {
                stats.deletions += 1;
            }
        }
        stats.entries += 1;
        if stats.smallest.is_none() {
            stats.smallest = Some(key.to_vec());
        }
        builder.add(key, value)?;
        stats.largest.clear();
        stats.largest.extend_from_slice(key);
        Ok::<(), Error>(())
    })?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::fs::fault::{FaultInjectionFs, FsOp};
    use crate::fs::PosixFs;
    use crate::iterator::InternalIterator;
    use crate::key::LookupResult;
    use crate::options::{CompressionType, ReadOptions};
    use crate::table::Table;

    /// 20000 entries: several versions of keys of 2..=30 bytes, some deletions.
    fn memtable() -> MemTable {
        let mem = MemTable::new();
        for i in (0..20_000u64).map(|i| (i * 7919) % 20_000) {
            let user = format!("{:0width$}", i / 4, width = 2 + (i / 4 % 29) as usize);
            let t = if i % 7 == 0 {
                ValueType::Deletion
            } else {
                ValueType::Value
            };
            let value = format!("value {i} ").repeat((i % 9) as usize);
            mem.add(SequenceNumber(i + 1), t, user.as_bytes(), value.as_bytes());
        }
        mem
    }

    fn options() -> Options {
        Options {
            bloom_bits_per_key: 10,
            compression: CompressionType::Snappy,
            ..Options::default()
        }
    }

    fn plan(threads: usize, ranges: usize, ahead: usize) -> BuildPlan {
        BuildPlan {
            threads,
            ranges,
            ahead,
            writer_thread: true,
        }
    }

    #[test]
    fn a_background_build_leaves_a_core_to_the_writers_and_writes_its_file_itself() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mem = MemTable::new();
        let value = [7u8; 100];
        for i in 0..200_000u64 {
            mem.add(
                SequenceNumber(i + 1),
                ValueType::Value,
                &i.to_be_bytes(),
                &value,
            );
        }
        assert!(mem.approximate_memory_usage() > 8 * PARALLEL_BUILD_MIN_BYTES);
        let urgent = BuildPlan::for_memtable(&mem, BuildPace::Urgent);
        assert_eq!(urgent.threads, cores.min(MAX_BUILD_THREADS));
        assert!(urgent.writer_thread);
        let background = BuildPlan::for_memtable(&mem, BuildPace::Background);
        assert_eq!(background.threads, (cores - 1).clamp(1, MAX_BUILD_THREADS));
        assert!(!background.writer_thread);
        assert_eq!(
            BuildPace::for_reason(FlushReason::WriteBufferFull),
            BuildPace::Background
        );
        for reason in [
            FlushReason::Manual,
            FlushReason::Recovery,
            FlushReason::Shutdown,
        ] {
            assert_eq!(BuildPace::for_reason(reason), BuildPace::Urgent);
        }
        // Built either way, the table holds the same entries.
        let dir = tempfile::tempdir().expect("tempdir");
        let options = options();
        let mut sizes = Vec::new();
        for (plan, number) in [(urgent, 7), (background, 8)] {
            let path = dir.path().join(format!("{number:06}.ldb"));
            let built = write_table_file(&PosixFs, &options, &path, &mem, FileNumber(number), plan)
                .expect("build");
            assert_eq!(built.entries, 200_000);
            sizes.push(built.meta.file_size);
        }
        assert!(sizes[0].abs_diff(sizes[1]) < sizes[0] / 50, "{sizes:?}");
    }

    fn open(options: &Options, path: &Path, size: u64) -> Arc<Table> {
        let file = PosixFs.new_random_access_file(path).expect("open file");
        Arc::new(Table::open(options, file, size, "test table").expect("open table"))
    }

    #[test]
    fn a_table_built_by_several_threads_holds_what_one_thread_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = options();
        let mem = memtable();
        let mut expected = Vec::new();
        mem.for_each_entry(|k, v| {
            expected.push((k.to_vec(), v.to_vec()));
            Ok::<(), ()>(())
        })
        .expect("walk");
        assert_eq!(mem.split_keys(12).len(), 11, "twelve ranges");
        let plans = [plan(1, 1, 0), plan(3, 3, 3), plan(3, 12, 1), plan(2, 12, 2)];
        let mut tables = Vec::new();
        for (number, plan) in (5..).zip(plans) {
            let path = dir.path().join(format!("{number:06}.ldb"));
            let built = write_table_file(&PosixFs, &options, &path, &mem, FileNumber(number), plan)
                .expect("build");
            assert_eq!(
                built.meta.file_size,
                std::fs::metadata(&path).expect("size").len()
            );
            assert_eq!(built.entries, 20_000);
            assert_eq!(built.deletions, 20_000 / 7 + 1);
            assert_eq!(
                (built.smallest_seqno, built.largest_seqno),
                (SequenceNumber(1), SequenceNumber(20_000))
            );
            assert_eq!(built.meta.smallest.encoded(), &expected[0].0[..]);
            assert_eq!(
                built.meta.largest.encoded(),
                &expected[expected.len() - 1].0[..]
            );
            tables.push(open(&options, &path, built.meta.file_size));
        }
        let read = ReadOptions::default();
        for table in &tables {
            let mut it = table.iter(&read);
            it.seek_to_first();
            for (k, v) in &expected {
                assert!(it.valid());
                assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
                it.next();
            }
            assert!(!it.valid());
            // Point reads go through the bloom filter, whose offsets moved with the parts.
            for (k, _) in expected.iter().step_by(7) {
                let user = crate::key::extract_user_key(k);
                let want = mem.get(user, SequenceNumber::MAX);
                let got = table.get(&read, user, SequenceNumber::MAX).expect("get");
                assert_eq!(got, want);
                assert!(matches!(
                    got,
                    Some(LookupResult::Found(_) | LookupResult::Deleted)
                ));
            }
        }
    }

    #[test]
    fn the_bytes_depend_on_the_cuts_not_on_which_thread_built_which_range() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = options();
        let mem = memtable();
        // One thread builds every range straight into the file; with helpers, some or
        // (with a wide window) most are built apart in memory and appended.
        let plans = [
            plan(1, 12, 0),
            plan(2, 12, 1),
            plan(3, 12, 2),
            plan(4, 12, 12),
        ];
        let mut files = Vec::new();
        for (number, plan) in (5..).zip(plans) {
            for _ in 0..3 {
                let path = dir.path().join(format!("{number:06}.ldb"));
                write_table_file(&PosixFs, &options, &path, &mem, FileNumber(number), plan)
                    .expect("build");
                files.push(std::fs::read(&path).expect("read"));
            }
        }
        for (i, file) in files.iter().enumerate() {
            assert!(*file == files[0], "table {i} differs");
        }
    }

    /// A file whose appends are slow, so that helpers get ahead of the writer.
    struct SlowFile;

    impl WritableFile for SlowFile {
        fn append(&mut self, _: &[u8]) -> Result<()> {
            std::thread::sleep(Duration::from_micros(300));
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn ranges_waiting_in_memory_never_exceed_the_window() {
        let options = options();
        let mem = memtable();
        let splits = mem.split_keys(16);
        for (threads, ahead) in [(2, 1), (3, 2), (4, 2)] {
            let mut bounds: Vec<Option<&[u8]>> = vec![None];
            bounds.extend(splits.iter().map(|k| Some(&k[..])));
            bounds.push(None);
            let ranges = Ranges::new(&options, &mem, bounds, ahead);
            let mut builder = TableBuilder::new(&options, Box::new(SlowFile));
            let stats = std::thread::scope(|scope| {
                for _ in 1..threads {
                    scope.spawn(|| ranges.help());
                }
                ranges.write(&mut builder)
            })
            .expect("build");
            assert_eq!(stats.entries, 20_000);
            let most = ranges.claims.lock().most_apart;
            assert_eq!(most, ahead, "{threads} threads fill the window, no more");
        }
    }

    #[test]
    fn a_failed_write_fails_the_build_wherever_it_hits() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Uncompressed, the table takes several of the background writer's chunks.
        let options = Options {
            compression: CompressionType::None,
            ..options()
        };
        let mem = memtable();
        let path = dir.path().join("000004.ldb");
        let fs = FaultInjectionFs::new(Arc::new(PosixFs));
        write_table_file(&*fs, &options, &path, &mem, FileNumber(4), plan(3, 12, 2))
            .expect("build");
        let writes = fs.calls(FsOp::Write);
        assert!(writes >= 3, "{writes} writes");
        for skip in 0..writes {
            let fs = FaultInjectionFs::new(Arc::new(PosixFs));
            fs.fail(FsOp::Write, ".ldb", skip, 1);
            let err = write_table_file(&*fs, &options, &path, &mem, FileNumber(4), plan(3, 12, 2))
                .err()
                .expect("a write fails");
            assert_eq!(err.kind(), crate::error::ErrorKind::Io, "{err}");
            assert!(err.to_string().contains("injected"), "{err}");
        }
    }
}
