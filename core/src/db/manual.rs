//! `Db::compact_range`: compaction asked for by the caller, as LevelDB's `CompactRange`.
//! The memtable is flushed first; then, level by level, the worker compacts the files
//! overlapping the range into the next level, round after round, while the caller waits.

use std::sync::atomic::Ordering;

use super::write::sticky;
use super::{Db, DbInner};
use crate::error::{Error, Result};
use crate::options::FlushOptions;
use crate::version::NUM_LEVELS;

/// A `compact_range` request for one level, run by the worker one round at a time (each
/// round is one compaction; above level 0 a round takes about one output file's worth).
pub(super) struct ManualCompaction {
    /// Tells the requesting caller its own request from another caller's.
    pub(super) id: u64,
    pub(super) level: usize,
    /// Where the next round starts (user key; `None` = the beginning).
    pub(super) begin: Option<Vec<u8>>,
    pub(super) end: Option<Vec<u8>>,
    /// Nothing in the range is left on `level`, or a round failed.
    pub(super) done: bool,
}

impl Db {
    /// Compacts every table file holding keys in the user-key range [begin, end] (`None`
    /// = open end), after flushing the memtable: deleted and overwritten entries in the
    /// range are dropped and its data is pushed down to the deepest level it reaches.
    /// After `compact_range(None, None)` all data sits on one level, without overlapping
    /// files. Returns once done and the compactions' events were delivered, or with the
    /// background error if a compaction failed. From inside a listener callback it
    /// returns Busy, as `flush(wait)` does.
    pub fn compact_range(&self, begin: Option<&[u8]>, end: Option<&[u8]>) -> Result<()> {
        self.flush(&FlushOptions { wait: true })?;
        let inner = self.inner();
        let result = inner.compact_range(begin, end);
        inner.notifier.wait_delivered(inner.notifier.enqueued());
        result
    }
}

impl DbInner {
    /// REQUIRES: the memtable flushed (`Db::compact_range` does it).
    fn compact_range(&self, begin: Option<&[u8]>, end: Option<&[u8]>) -> Result<()> {
        // Measured after the flush, which may have placed its file below level 1.
        let max_level_with_files = {
            let st = self.state.lock();
            DbInner::check_open(&st)?;
            let version = st.versions.current();
            (1..NUM_LEVELS)
                .filter(|&level| version.overlap_in_level(level, begin, end))
                .max()
                .unwrap_or(1)
        };
        for level in 0..max_level_with_files {
            self.run_manual_compaction(level, begin, end)?;
        }
        Ok(())
    }

    /// Queues a manual compaction of `level` (after any other caller's) and waits until
    /// the worker has compacted everything in the range out of that level.
    fn run_manual_compaction(
        &self,
        level: usize,
        begin: Option<&[u8]>,
        end: Option<&[u8]>,
    ) -> Result<()> {
        let mut st = self.state.lock();
        let id = st.next_manual_compaction_id;
        st.next_manual_compaction_id += 1;
        let mut queued = false;
        loop {
            let mine = st.manual_compaction.as_ref().filter(|m| m.id == id);
            let failure = if let Some(e) = &st.bg_error {
                Some(sticky(e))
            } else if self.shutting_down.load(Ordering::Acquire) {
                Some(Error::Closed)
            } else {
                None
            };
            if let Some(e) = failure {
                if mine.is_some() {
                    st.manual_compaction = None;
                }
                return Err(e);
            }
            match (mine, &st.manual_compaction) {
                (Some(m), _) if m.done => {
                    st.manual_compaction = None;
                    // Another caller may be waiting for the slot.
                    self.bg_cv.notify_all();
                    return Ok(());
                }
                (Some(_), _) => {}
                (None, None) if !queued => {
                    st.manual_compaction = Some(ManualCompaction {
                        id,
                        level,
                        begin: begin.map(<[u8]>::to_vec),
                        end: end.map(<[u8]>::to_vec),
                        done: false,
                    });
                    queued = true;
                    self.maybe_schedule_compaction(&mut st);
                    continue;
                }
                // Only this caller removes its own request, so this cannot happen; if it
                // did, there is nothing left to wait for.
                (None, _) if queued => return Ok(()),
                // Another caller's request is running: wait for it to finish.
                (None, _) => {}
            }
            self.bg_cv.wait(&mut st);
        }
    }
}
