//! Minor compaction: the oldest immutable memtable becomes a table file on level 0 (or
//! 1–2 when nothing overlaps), recorded in the MANIFEST; then its WAL is obsolete.
//! `compact_memtable` → `write_level0_table` → `build_table` → `log_and_apply`, as in
//! LevelDB's `DBImpl::CompactMemTable`; a big memtable's table is built by several
//! threads, one key range each. Also `Db::flush`, which triggers one by hand.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sync::MutexGuard;

use super::notifier::Event;
use super::write::{sticky, WriteRequest};
use super::{Db, DbInner, DbState};
use crate::error::{Error, Result};
use crate::events::{CompactionStats, FlushJobInfo, FlushReason, TableFileInfo, TableFileReason};
use crate::filename::{table_file_name, FileNumber};
use crate::fs::{FileSystem, WritableFile};
use crate::key::{parse_internal_key, InternalKey, SequenceNumber, ValueType};
use crate::memtable::MemTable;
use crate::options::{FlushOptions, Options, WriteOptions};
use crate::table::{BackgroundWritableFile, TableBuilder, TableCache};
use crate::version::{FileMetaData, Version, VersionEdit};

impl Db {
    /// Seals the active memtable and flushes it. With `wait`, returns once everything
    /// written before the call (the active memtable and any sealed ones still pending) is
    /// in installed table files, or with the background error; without, once the flush
    /// is scheduled. With nothing to flush it is a no-op that creates no file.
    pub fn flush(&self, opts: &FlushOptions) -> Result<()> {
        self.inner().flush(opts, FlushReason::Manual)
    }
}

impl DbInner {
    pub(super) fn flush(&self, opts: &FlushOptions, reason: FlushReason) -> Result<()> {
        if opts.wait && self.notifier.on_event_thread() {
            // Waiting would wait for this very callback to return.
            return Err(Error::Busy(
                "flush(wait) called from inside an event listener callback".to_string(),
            ));
        }
        // The forced switch goes through the writer queue, ordered after earlier writes.
        self.write(&WriteOptions::default(), WriteRequest::SealMemTable(reason))?;
        if !opts.wait {
            return Ok(());
        }
        let mut st = self.state.lock();
        let target = st.memtables_sealed;
        let result = loop {
            if let Some(e) = &st.bg_error {
                break Err(sticky(e));
            }
            if st.memtables_flushed >= target {
                break Ok(());
            }
            if self.shutting_down.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            self.bg_cv.wait(&mut st);
        };
        drop(st);
        // The completed events of those flushes (or of the failure) are queued by now;
        // return after they ran.
        self.notifier.wait_delivered(self.notifier.enqueued());
        result
    }

    /// Flushes the oldest immutable memtable and installs the result. On failure the
    /// memtable stays queued, the error becomes sticky, and nothing is lost: its WAL is
    /// still live.
    pub(super) fn compact_memtable(&self, st: &mut MutexGuard<'_, DbState>) {
        let Some(imm) = st.imm.front() else { return };
        let mem = Arc::clone(&imm.mem);
        let next_log_number = imm.next_log_number;
        let reason = imm.reason;
        // Beside a running major compaction only level 0 is safe (see DbState).
        let base = (!st.major_compaction_running).then(|| st.versions.current());
        let mut edit = VersionEdit::default();
        let mut job = None;
        let result = self
            .write_level0_table(st, &mem, &mut edit, base.as_ref(), reason, &mut job)
            .and_then(|()| {
                // Once the table is in, the memtable's WAL (and any older one) is obsolete.
                edit.prev_log_number = Some(FileNumber(0));
                edit.log_number = Some(next_log_number);
                self.log_and_apply(st, &mut edit)
            });
        let stalled = st.imm.front().is_some_and(|i| i.stalled_writers);
        match &result {
            Ok(()) => {
                st.imm.pop_front();
                st.memtables_flushed += 1;
            }
            Err(e) => self.record_background_error(st, e.clone()),
        }
        if let Some(mut info) = job {
            info.stalled_writers = stalled;
            self.flush_completed(st, info, result);
        }
        if st.bg_error.is_none() {
            self.remove_obsolete_files(st);
        }
        // Freeing a big memtable takes milliseconds: wake the waiters and do it unlocked.
        self.bg_cv.notify_all();
        MutexGuard::unlocked(st, move || drop(mem));
    }

    /// Counts a finished flush and tells the listeners, with the error if it failed.
    pub(super) fn flush_completed(
        &self,
        st: &mut DbState,
        mut info: FlushJobInfo,
        result: Result<()>,
    ) {
        match result {
            Ok(()) => {
                st.counters.flushes_completed += 1;
                st.counters.bytes_flushed += info.file_size;
            }
            Err(e) => {
                st.counters.flushes_failed += 1;
                info.error = Some(e);
            }
        }
        self.notifier.emit(Event::FlushCompleted(info));
    }

    /// Writes `mem` into a new table file and adds it to `edit` at the level
    /// `pick_level_for_memtable_output` chooses (level 0 when `base` is None, as during
    /// recovery). The lock is released while the file is built. `job` receives the flush's
    /// event record (begin already emitted) so the caller can complete it.
    pub(super) fn write_level0_table(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        mem: &Arc<MemTable>,
        edit: &mut VersionEdit,
        base: Option<&Arc<Version>>,
        reason: FlushReason,
        job: &mut Option<FlushJobInfo>,
    ) -> Result<()> {
        let start = Instant::now();
        let number = st.versions.new_file_number();
        st.pending_outputs.insert(number);
        st.next_job_id += 1;
        let info = job.insert(FlushJobInfo {
            job_id: st.next_job_id,
            reason,
            file_number: number,
            file_path: table_file_name(&self.dir, number),
            level: 0,
            file_size: 0,
            num_entries: mem.len() as u64,
            num_deletions: 0,
            smallest_user_key: Vec::new(),
            largest_user_key: Vec::new(),
            smallest_seqno: SequenceNumber(0),
            largest_seqno: SequenceNumber(0),
            duration: Duration::ZERO,
            memtable_bytes: mem.approximate_memory_usage() as u64,
            stalled_writers: false,
            error: None,
        });
        self.notifier.emit(Event::FlushBegin(info.clone()));
        self.info_log.log(&format!(
            "Level-0 table #{}: started ({} entries, {:?})",
            number.0,
            mem.len(),
            reason
        ));
        let built = MutexGuard::unlocked(st, || {
            build_table(
                &self.dir,
                &*self.fs,
                &self.options,
                &self.table_cache,
                mem,
                number,
            )
        });
        st.pending_outputs.remove(&number);
        info.duration = start.elapsed();
        let Some(built) = built? else {
            self.info_log
                .log(&format!("Level-0 table #{}: empty, no file", number.0));
            info.file_number = FileNumber(0);
            info.file_path = PathBuf::new();
            return Ok(());
        };
        let meta = built.meta;
        let level = match base {
            Some(version) => version.pick_level_for_memtable_output(
                meta.smallest.user_key(),
                meta.largest.user_key(),
                self.options.max_file_size,
            ),
            None => 0,
        };
        self.info_log.log(&format!(
            "Level-0 table #{}: {} bytes, level {}",
            number.0, meta.file_size, level
        ));
        st.stats[level] += CompactionStats {
            micros: info.duration.as_micros() as u64,
            bytes_read: 0,
            bytes_written: meta.file_size,
            count: 1,
        };
        info.level = level;
        info.file_size = meta.file_size;
        info.num_entries = built.entries;
        info.num_deletions = built.deletions;
        info.smallest_user_key = meta.smallest.user_key().to_vec();
        info.largest_user_key = meta.largest.user_key().to_vec();
        info.smallest_seqno = built.smallest_seqno;
        info.largest_seqno = built.largest_seqno;
        self.notifier.emit(Event::TableFileCreated(TableFileInfo {
            job_id: info.job_id,
            reason: TableFileReason::Flush,
            file_number: number,
            file_path: info.file_path.clone(),
            file_size: meta.file_size,
        }));
        edit.add_file(level, meta);
        Ok(())
    }
}

/// What `build_table` wrote.
pub(super) struct BuiltTable {
    pub(super) meta: FileMetaData,
    pub(super) entries: u64,
    pub(super) deletions: u64,
    pub(super) smallest_seqno: SequenceNumber,
    pub(super) largest_seqno: SequenceNumber,
}

/// Streams `mem` into table file `number`, syncs it, reopens it through the table cache
/// to prove it readable, and syncs the directory so that its name is as durable as its
/// bytes before a MANIFEST edit names it (a crash must not leave the edit pointing at a
/// file the directory forgot, after the WAL that held its data is gone). An empty
/// memtable writes no file (`Ok(None)`); on any failure the partial file is removed.
pub(super) fn build_table(
    dir: &Path,
    fs: &dyn FileSystem,
    options: &Options,
    table_cache: &TableCache,
    mem: &MemTable,
    number: FileNumber,
) -> Result<Option<BuiltTable>> {
    if mem.is_empty() {
        return Ok(None);
    }
    let path = table_file_name(dir, number);
    let threads = build_threads(mem);
    let result = write_table_file(fs, options, &path, mem, number, threads).and_then(|built| {
        table_cache.find_table(number, built.meta.file_size)?;
        fs.sync_dir(dir)?;
        Ok(built)
    });
    if result.is_err() {
        table_cache.evict(number);
        let _ = fs.remove_file(&path);
    }
    result.map(Some)
}

/// A memtable is built by several threads when each gets at least this much of it:
/// below that, starting threads and joining their parts would cost more than it saves.
/// A full default-sized (4 MiB) memtable gets two.
const PARALLEL_BUILD_MIN_BYTES: usize = 2 << 20;

/// Most threads one table is built by.
const MAX_BUILD_THREADS: usize = 4;

/// Threads to build a table from `mem` with: one per [`PARALLEL_BUILD_MIN_BYTES`] of
/// it, at most one per core.
fn build_threads(mem: &MemTable) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (mem.approximate_memory_usage() / PARALLEL_BUILD_MIN_BYTES)
        .clamp(1, cores.min(MAX_BUILD_THREADS))
}

/// Writes and syncs table file `number` from `mem`, built by up to `threads` threads.
fn write_table_file(
    fs: &dyn FileSystem,
    options: &Options,
    path: &Path,
    mem: &MemTable,
    number: FileNumber,
    threads: usize,
) -> Result<BuiltTable> {
    // Appends on a thread of their own: the kernel copies the bytes while the next
    // blocks are built.
    let file = fs.new_writable_file(path)?;
    let file: Box<dyn WritableFile> =
        match BackgroundWritableFile::spawn(file, path.display().to_string()) {
            Ok(file) => Box::new(file),
            // No thread to be had: write from here (the failed spawn closed the file).
            Err(_) => fs.new_writable_file(path)?,
        };
    let mut builder = TableBuilder::new(options, file);
    // A big memtable is cut into key ranges at sampled user keys; the first is built
    // here, straight into the file, the others at the same time on threads of their
    // own into memory, then appended in order: one table, as from a single thread but
    // for the block boundaries at the cuts.
    let splits = mem.split_keys(threads);
    let mut bounds: Vec<Option<&[u8]>> = vec![None];
    bounds.extend(splits.iter().map(|k| Some(&k[..])));
    bounds.push(None);
    // Each part's share of the memtable's bytes: more than its table bytes will be, and
    // pages reserved but never written cost nothing.
    let part_capacity = mem.approximate_memory_usage() / (bounds.len() - 1);
    let stats = std::thread::scope(|scope| {
        let later: Vec<_> = bounds[1..]
            .windows(2)
            .map(|range| {
                let (start, end) = (range[0], range[1]);
                let thread = std::thread::Builder::new().name("siltdb-table-part".to_string());
                let spawned = thread.spawn_scoped(scope, move || {
                    let mut part = TableBuilder::new_part(options, part_capacity);
                    let stats = add_entries(&mut part, mem, start, end)?;
                    Ok::<_, Error>((part, stats))
                });
                ((start, end), spawned.ok())
            })
            .collect();
        let mut stats = add_entries(&mut builder, mem, None, bounds[1]);
        for ((start, end), handle) in later {
            let built = handle.map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            stats = stats.and_then(|mut stats| {
                let part_stats = match built {
                    Some(built) => {
                        let (part, part_stats) = built?;
                        builder.append_part(part)?;
                        part_stats
                    }
                    // No thread could be started: the range is built here, in its turn.
                    None => add_entries(&mut builder, mem, start, end)?,
                };
                stats.extend(part_stats);
                Ok(stats)
            });
        }
        stats
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

/// What a key range of a flushed memtable held.
struct RangeStats {
    smallest: Option<Vec<u8>>,
    largest: Vec<u8>,
    entries: u64,
    deletions: u64,
    smallest_seqno: SequenceNumber,
    largest_seqno: SequenceNumber,
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
    let mut stats = RangeStats {
        smallest: None,
        largest: Vec::new(),
        entries: 0,
        deletions: 0,
        smallest_seqno: SequenceNumber::MAX,
        largest_seqno: SequenceNumber(0),
    };
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
    use super::*;
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

    fn open(options: &Options, path: &Path, size: u64) -> Arc<Table> {
        let file = PosixFs.new_random_access_file(path).expect("open file");
        Arc::new(Table::open(options, file, size, "test table").expect("open table"))
    }

    #[test]
    fn a_table_built_by_several_threads_holds_what_one_thread_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = Options {
            bloom_bits_per_key: 10,
            compression: CompressionType::Snappy,
            ..Options::default()
        };
        let mem = memtable();
        let mut expected = Vec::new();
        mem.for_each_entry(|k, v| {
            expected.push((k.to_vec(), v.to_vec()));
            Ok::<(), ()>(())
        })
        .expect("walk");
        assert_eq!(mem.split_keys(3).len(), 2, "three threads get a range each");
        let mut tables = Vec::new();
        for (threads, number) in [(1, 5), (3, 6)] {
            let path = dir.path().join(format!("{number:06}.ldb"));
            let built =
                write_table_file(&PosixFs, &options, &path, &mem, FileNumber(number), threads)
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
    fn a_failed_part_fails_the_build_and_the_file_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = crate::fs::fault::FaultInjectionFs::new(Arc::new(PosixFs));
        fs.fail(crate::fs::fault::FsOp::Write, ".ldb", 0, usize::MAX);
        let options = Options::default();
        let mem = memtable();
        let path = dir.path().join("000004.ldb");
        let err = write_table_file(&*fs, &options, &path, &mem, FileNumber(4), 3)
            .err()
            .expect("the writes fail");
        assert_eq!(err.kind(), crate::error::ErrorKind::Io);
        let cache = TableCache::new(dir.path(), &options, 10);
        let err = build_table(dir.path(), &*fs, &options, &cache, &mem, FileNumber(5))
            .err()
            .expect("the writes fail");
        assert_eq!(err.kind(), crate::error::ErrorKind::Io);
        assert!(!dir.path().join("000005.ldb").exists());
    }
}
