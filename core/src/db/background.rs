//! The background worker: one thread per Db that runs flushes and compactions when
//! `maybe_schedule_compaction` says there is work, and `record_background_error`, which
//! makes a failure sticky.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::sync::MutexGuard;

use super::notifier::Event;
use super::{DbInner, DbState};
use crate::error::{Error, Result};
use crate::version::VersionEdit;

impl DbInner {
    /// Starts the worker thread. It holds the engine alive until `close` joins it.
    pub(super) fn start_background_worker(self: &Arc<Self>) -> Result<()> {
        let inner = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("siltdb-bg".to_string())
            .spawn(move || inner.background_worker_loop())
            .map_err(|e| Error::io("spawning the background thread", e))?;
        *self.worker.lock() = Some(handle);
        Ok(())
    }

    fn background_worker_loop(&self) {
        let mut st = self.state.lock();
        loop {
            if self.shutting_down.load(Ordering::Acquire) {
                break;
            }
            if self.needs_background_work(&st) {
                self.background_call(&mut st);
            } else {
                self.work_cv.wait(&mut st);
            }
        }
    }

    /// Is there anything for the worker to do? Nothing once an error is sticky: the
    /// failed work would only fail again.
    fn needs_background_work(&self, st: &DbState) -> bool {
        st.bg_error.is_none()
            && (!st.imm.is_empty()
                || st.manual_compaction.as_ref().is_some_and(|m| !m.done)
                || st.versions.needs_compaction())
    }

    /// Wakes the worker if there is work. REQUIRES: the state lock (the guard proves it).
    pub(super) fn maybe_schedule_compaction(&self, st: &mut MutexGuard<'_, DbState>) {
        if self.shutting_down.load(Ordering::Acquire) || !self.needs_background_work(st) {
            return;
        }
        self.work_cv.notify_one();
    }

    /// One round of background work, then wakes everybody waiting on its outcome.
    fn background_call(&self, st: &mut MutexGuard<'_, DbState>) {
        st.bg_running = true;
        self.background_compaction(st);
        let log_number = st.versions.log_number();
        MutexGuard::unlocked(st, || self.drop_obsolete_sealed_logs(log_number));
        st.bg_running = false;
        // The flush may have made room: writers and flush(wait) callers re-check.
        self.bg_cv.notify_all();
    }

    /// Picks the work: the immutable memtable always goes first, then a manual
    /// compaction, then the compaction the level scores ask for.
    fn background_compaction(&self, st: &mut MutexGuard<'_, DbState>) {
        if !st.imm.is_empty() {
            self.compact_memtable(st);
        } else {
            self.background_major_compaction(st);
        }
    }

    /// `VersionSet::log_and_apply` with the DB mutex released during the MANIFEST append,
    /// fsync and CURRENT switch, so writers are never held up by that I/O (LevelDB does the
    /// same). Only the worker calls it, and the Version cannot change while it runs.
    pub(super) fn log_and_apply(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        edit: &mut VersionEdit,
    ) -> Result<()> {
        let mut pending = st.versions.prepare_apply(edit)?;
        let written = MutexGuard::unlocked(st, || pending.write());
        st.versions.finish_apply(pending, written)
    }

    /// Makes `e` the sticky background error (the first one wins), refused to every later
    /// write and flush until the database is reopened. The WAL still holds the data.
    pub(super) fn record_background_error(&self, st: &mut DbState, e: Error) {
        if st.bg_error.is_none() {
            self.info_log.log(&format!("background error: {e}"));
            self.notifier.emit(Event::BackgroundError(e.clone()));
            st.bg_error = Some(e);
            self.bg_cv.notify_all();
        }
    }
}
