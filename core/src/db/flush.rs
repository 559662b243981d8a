//! Minor compaction: the oldest immutable memtable becomes a table file on level 0 (or
//! 1–2 when nothing overlaps), recorded in the MANIFEST; then its WAL is obsolete.
//! `compact_memtable` → `write_level0_table` → `build_table` → `log_and_apply`, as in
//! LevelDB's `DBImpl::CompactMemTable` (the table's bytes are written by `table_build`).
//! Also `Db::flush`, which triggers one by hand.

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
use crate::fs::FileSystem;
use crate::key::SequenceNumber;
use crate::memtable::MemTable;
use crate::options::{FlushOptions, Options, WriteOptions};
use crate::table::TableCache;
use crate::version::{Version, VersionEdit};

use super::table_build::{write_table_file, BuildPace, BuildPlan, BuiltTable};

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
                BuildPace::for_reason(reason),
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
    pace: BuildPace,
) -> Result<Option<BuiltTable>> {
    if mem.is_empty() {
        return Ok(None);
    }
    let path = table_file_name(dir, number);
    let plan = BuildPlan::for_memtable(mem, pace);
    let result = write_table_file(fs, options, &path, mem, number, plan).and_then(|built| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::fault::{FaultInjectionFs, FsOp};
    use crate::fs::PosixFs;
    use crate::key::ValueType;

    #[test]
    fn a_failed_build_leaves_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = FaultInjectionFs::new(Arc::new(PosixFs));
        fs.fail(FsOp::Write, ".ldb", 0, usize::MAX);
        let options = Options::default();
        let mem = MemTable::new();
        for i in 0..1000u64 {
            let key = format!("key{i:05}");
            mem.add(
                SequenceNumber(i + 1),
                ValueType::Value,
                key.as_bytes(),
                &[7; 100],
            );
        }
        let cache = TableCache::new(dir.path(), &options, 10);
        let err = build_table(
            dir.path(),
            &*fs,
            &options,
            &cache,
            &mem,
            FileNumber(5),
            BuildPace::Urgent,
        )
        .err()
        .expect("the writes fail");
        assert_eq!(err.kind(), crate::error::ErrorKind::Io);
        assert!(!dir.path().join("000005.ldb").exists());
    }
}
