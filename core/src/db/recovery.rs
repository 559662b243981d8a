//! Open-time recovery: LOCK → CURRENT → MANIFEST replay → the WAL files newer than the
//! recorded log number replayed in order (flushing to level 0 whenever the replayed
//! memtable fills, and at the end of each log, reason "recovery") → a new WAL and a new
//! MANIFEST → obsolete files removed.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::sync::{Condvar, Mutex, MutexGuard};

use super::notifier::Notifier;
use super::writer_queue::WriterQueue;
use super::{Counters, DbInner, DbState, SealedLogs};
use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::events::{FlushJobInfo, FlushReason, WriteStallCondition};
use crate::filename::{
    current_file_name, lock_file_name, log_file_name, parse_file_name, FileNumber, FileType,
};
use crate::info_log::InfoLog;
use crate::key::SequenceNumber;
use crate::log;
use crate::memtable::MemTable;
use crate::options::Options;
use crate::table::TableCache;
use crate::version::{CompactionConfig, VersionEdit, VersionSet};

/// LevelDB keeps this many descriptors for things other than tables.
const NON_TABLE_CACHE_FILES: usize = 10;

pub(super) fn open(dir: &Path, options: Options) -> Result<Arc<DbInner>> {
    options.validate()?;
    let fs = Arc::clone(&options.fs);
    if options.create_if_missing {
        fs.create_dir_all(dir)?;
    } else if !fs.exists(dir) {
        return Err(Error::invalid_argument(format!(
            "{}: does not exist (create_if_missing is false)",
            dir.display()
        )));
    }
    let lock = fs.lock_file(&lock_file_name(dir))?;
    if !fs.exists(&current_file_name(dir)) {
        if !options.create_if_missing {
            return Err(Error::invalid_argument(format!(
                "{}: does not exist (create_if_missing is false)",
                dir.display()
            )));
        }
        VersionSet::create_new_db(dir, &*fs)?;
    } else if options.error_if_exists {
        return Err(Error::invalid_argument(format!(
            "{}: exists (error_if_exists is true)",
            dir.display()
        )));
    }

    let info_log = Arc::new(InfoLog::open(&*fs, dir));
    // Started before recovery so that recovery's flushes are seen too.
    let notifier = Notifier::start(options.listeners.clone(), Arc::clone(&info_log))?;
    let capacity = options
        .max_open_files
        .saturating_sub(NON_TABLE_CACHE_FILES)
        .max(1);
    let table_cache = Arc::new(TableCache::new(dir, &options, capacity));
    let inner = Arc::new(DbInner {
        dir: dir.to_path_buf(),
        fs: Arc::clone(&fs),
        table_cache,
        info_log,
        notifier,
        state: Mutex::new(DbState {
            mem: Arc::new(MemTable::new()),
            imm: VecDeque::new(),
            versions: VersionSet::new(dir, Arc::clone(&fs))
                .with_compaction_config(CompactionConfig::from_options(&options)),
            bg_error: None,
            bg_running: false,
            pending_outputs: HashSet::new(),
            stats: Default::default(),
            memtables_sealed: 0,
            memtables_flushed: 0,
            manual_compaction: None,
            next_manual_compaction_id: 0,
            major_compaction_running: false,
            writers: WriterQueue::default(),
            closed: false,
            snapshots: Default::default(),
            next_job_id: 0,
            counters: Counters::default(),
            stall_condition: WriteStallCondition::Normal,
            last_sync_group: 1,
        }),
        bg_cv: Condvar::new(),
        work_cv: Condvar::new(),
        shutting_down: AtomicBool::new(false),
        writes_held_back: AtomicBool::new(false),
        log: Mutex::new(None),
        sealed_logs: Mutex::new(SealedLogs::default()),
        worker: Mutex::new(None),
        lock: Mutex::new(Some(lock)),
        closing: Mutex::new(()),
        options,
    });
    let recovered = {
        let mut st = inner.state.lock();
        inner.info_log.log(&format!("opening {}", dir.display()));
        st.versions.recover().and_then(|()| inner.recover(&mut st))
    };
    if let Err(e) = recovered.and_then(|()| inner.start_background_worker()) {
        // Deliver what recovery reported, then stop the event thread before failing.
        inner.notifier.shutdown();
        return Err(e);
    }
    // Open returns after listeners have heard about recovery's flushes.
    inner.notifier.wait_delivered(inner.notifier.enqueued());
    Ok(inner)
}

impl DbInner {
    /// Replays the live WAL files, starts a new WAL and records the result in a new
    /// MANIFEST. REQUIRES: the state lock, the version set recovered.
    fn recover(&self, st: &mut MutexGuard<'_, DbState>) -> Result<()> {
        let min_log = st.versions.log_number();
        let prev_log = st.versions.prev_log_number();
        let mut missing: HashSet<FileNumber> = st.versions.live_files();
        let mut logs = Vec::new();
        for name in self.fs.children(&self.dir)? {
            match parse_file_name(&name) {
                Some((number, FileType::Table)) => {
                    missing.remove(&number);
                }
                Some((number, FileType::Log)) if number >= min_log || number == prev_log => {
                    logs.push(number)
                }
                _ => {}
            }
        }
        if let Some(first) = missing.iter().min() {
            return Err(Error::corruption(format!(
                "{} table file(s) named in the MANIFEST are missing, e.g. {}",
                missing.len(),
                crate::filename::table_file_name(&self.dir, *first).display()
            )));
        }
        logs.sort();
        let mut edit = VersionEdit::default();
        let mut max_sequence = st.versions.last_sequence();
        let mut jobs = Vec::new();
        for number in logs {
            let replayed =
                self.replay_log_file(st, number, &mut edit, &mut max_sequence, &mut jobs);
            if let Err(e) = replayed {
                self.complete_recovery_flushes(st, jobs, Err(e.clone()));
                return Err(e);
            }
            st.versions.mark_file_number_used(number);
        }
        if st.versions.last_sequence() < max_sequence {
            st.versions.set_last_sequence(max_sequence);
        }

        let installed = self.start_new_log(st, &mut edit);
        self.complete_recovery_flushes(st, jobs, installed.clone());
        installed?;
        self.remove_obsolete_files(st);
        Ok(())
    }

    /// Opens the WAL that writes go to from now on and records it, with recovery's
    /// tables, in the MANIFEST.
    fn start_new_log(&self, st: &mut DbState, edit: &mut VersionEdit) -> Result<()> {
        let new_log_number = st.versions.new_file_number();
        let file = self
            .fs
            .new_log_file(&log_file_name(&self.dir, new_log_number))?;
        *self.log.lock() = Some(log::Writer::new(file));
        self.fs.sync_dir(&self.dir)?;
        edit.prev_log_number = Some(FileNumber(0));
        edit.log_number = Some(new_log_number);
        st.versions.log_and_apply(edit)
    }

    /// Recovery's flushes are installed together, by one edit; their completed events
    /// carry that edit's outcome.
    fn complete_recovery_flushes(
        &self,
        st: &mut DbState,
        jobs: Vec<FlushJobInfo>,
        result: Result<()>,
    ) {
        for info in jobs {
            let outcome = match (&result, &info.error) {
                (_, Some(e)) | (Err(e), None) => Err(e.clone()),
                (Ok(()), None) => Ok(()),
            };
            self.flush_completed(st, info, outcome);
        }
    }

    /// Replays one WAL into memtables, flushing each to level 0 when it fills and once
    /// more at the end of the log. A torn tail is dropped; a corrupt record in the middle
    /// is skipped and logged, or fails the open under `paranoid_checks`.
    fn replay_log_file(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        number: FileNumber,
        edit: &mut VersionEdit,
        max_sequence: &mut SequenceNumber,
        jobs: &mut Vec<FlushJobInfo>,
    ) -> Result<()> {
        let path = log_file_name(&self.dir, number);
        self.info_log.log(&format!("Recovering log #{}", number.0));
        let file = self.fs.new_sequential_file(&path)?;
        let mut reader = log::Reader::new(file, true);
        let mut mem = Arc::new(MemTable::new());
        while let Some(record) = reader.read_record()? {
            self.check_log_corruptions(&mut reader, &path)?;
            let applied = WriteBatch::from_contents(record).and_then(|batch| {
                batch.insert_into(&mem)?;
                Ok(batch)
            });
            let batch = match applied {
                Ok(batch) => batch,
                Err(e) => {
                    self.report_log_corruption(&path, &e.to_string())?;
                    continue;
                }
            };
            if batch.count() > 0 {
                let last = SequenceNumber(batch.sequence().0 + u64::from(batch.count()) - 1);
                if last > *max_sequence {
                    *max_sequence = last;
                }
            }
            if mem.approximate_memory_usage() > self.options.write_buffer_size {
                self.recovery_flush(st, &mem, edit, jobs)?;
                mem = Arc::new(MemTable::new());
            }
        }
        self.check_log_corruptions(&mut reader, &path)?;
        if reader.dropped_tail_bytes() > 0 {
            self.info_log.log(&format!(
                "{}: dropped a torn tail of {} bytes",
                path.display(),
                reader.dropped_tail_bytes()
            ));
        }
        if !mem.is_empty() {
            self.recovery_flush(st, &mem, edit, jobs)?;
        }
        Ok(())
    }

    /// Flushes a replayed memtable to level 0; its completed event waits for the edit.
    fn recovery_flush(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        mem: &Arc<MemTable>,
        edit: &mut VersionEdit,
        jobs: &mut Vec<FlushJobInfo>,
    ) -> Result<()> {
        let mut job = None;
        let result = self.write_level0_table(st, mem, edit, None, FlushReason::Recovery, &mut job);
        if let Some(mut info) = job {
            if let Err(e) = &result {
                info.error = Some(e.clone());
            }
            jobs.push(info);
        }
        result
    }

    fn check_log_corruptions(&self, reader: &mut log::Reader, path: &Path) -> Result<()> {
        for c in reader.take_corruptions() {
            self.report_log_corruption(
                path,
                &format!(
                    "{} bytes dropped at offset {}: {}",
                    c.bytes_dropped, c.offset, c.reason
                ),
            )?;
        }
        Ok(())
    }

    /// Logs a WAL corruption and carries on, as LevelDB does — unless `paranoid_checks`.
    fn report_log_corruption(&self, path: &Path, what: &str) -> Result<()> {
        let msg = format!("{}: {}", path.display(), what);
        self.info_log
            .log(&format!("ignoring log corruption: {msg}"));
        if self.options.paranoid_checks {
            Err(Error::corruption(msg))
        } else {
            Ok(())
        }
    }
}
