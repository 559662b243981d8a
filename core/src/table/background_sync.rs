//! Syncs finished tables on a thread of its own, in the order they are handed over, so
//! that a compaction builds its next output while the disk makes the last one durable.
//! fdatasync of a few MiB is I/O wait, not CPU: measured during `db_bench`'s fillrandom
//! and overwrite, it was a third of the compaction thread's time when done in line.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::table::TableBuilder;

/// Finished tables that may wait for the sync thread before `submit` blocks: the
/// builder runs at most this far ahead of what is durable.
const QUEUE: usize = 4;

/// A finished table's sync, done on another thread. Outcomes come back one per table, in
/// the order submitted, each with the `T` it was submitted with (what the caller needs
/// to install the table) when it succeeded. Dropping it waits for the syncs in flight (and closes the files),
/// so a caller that deletes failed outputs afterwards deletes closed files.
pub struct BackgroundSync<T> {
    /// Started by the first `submit`.
    worker: Option<Worker<T>>,
    /// Tables handed to the worker whose outcome has not been taken yet.
    in_worker: usize,
    /// Outcomes of tables synced on the caller's thread, because no sync thread could be
    /// started or it ended. They follow every table handed to the worker.
    inline: VecDeque<Result<T>>,
    /// Set once a table went inline: later ones do too, which keeps the order.
    no_thread: bool,
}

impl<T> Default for BackgroundSync<T> {
    fn default() -> Self {
        BackgroundSync {
            worker: None,
            in_worker: 0,
            inline: VecDeque::new(),
            no_thread: false,
        }
    }
}

struct Worker<T> {
    jobs: Option<SyncSender<(T, TableBuilder)>>,
    outcomes: Receiver<Result<T>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> BackgroundSync<T> {
    /// Hands over `builder`, finished (`TableBuilder::finish` returned Ok), to be synced
    /// and closed. Blocks while [`QUEUE`] tables wait already.
    pub fn submit(&mut self, tag: T, builder: TableBuilder) {
        if self.worker.is_none() && !self.no_thread {
            self.worker = Worker::spawn();
        }
        let job = (tag, builder);
        let sent = match self.worker.as_ref().and_then(|w| w.jobs.as_ref()) {
            Some(jobs) if !self.no_thread => jobs.send(job).map_err(|e| e.0),
            _ => Err(job),
        };
        match sent {
            Ok(()) => self.in_worker += 1,
            Err((tag, mut builder)) => {
                self.no_thread = true;
                self.inline.push_back(builder.sync().map(|()| tag));
            }
        }
    }

    /// The next outcome if it is ready, without waiting.
    pub fn try_synced(&mut self) -> Option<Result<T>> {
        self.take(false)
    }

    /// The next outcome, waiting for it; `None` once every submitted table's outcome
    /// has been taken.
    pub fn wait_synced(&mut self) -> Option<Result<T>> {
        self.take(true)
    }

    fn take(&mut self, wait: bool) -> Option<Result<T>> {
        if self.in_worker == 0 {
            return self.inline.pop_front();
        }
        let worker = self.worker.as_ref()?;
        let outcome = if wait {
            worker.outcomes.recv().unwrap_or_else(|_| gone())
        } else {
            match worker.outcomes.try_recv() {
                Ok(outcome) => outcome,
                Err(mpsc::TryRecvError::Empty) => return None,
                Err(mpsc::TryRecvError::Disconnected) => gone(),
            }
        };
        self.in_worker -= 1;
        Some(outcome)
    }
}

/// What a table whose outcome was lost with the sync thread (it panicked) reports: an
/// error, so that no caller takes an unsynced table for a synced one.
fn gone<T>() -> Result<T> {
    Err(Error::io(
        "table sync thread".to_string(),
        std::io::Error::other("the sync thread ended before reporting a table"),
    ))
}

impl<T: Send + 'static> Worker<T> {
    fn spawn() -> Option<Worker<T>> {
        let (jobs, queue) = mpsc::sync_channel::<(T, TableBuilder)>(QUEUE);
        let (report, outcomes) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("siltdb-table-sync".to_string())
            .spawn(move || {
                for (tag, mut builder) in queue {
                    let outcome = builder.sync().map(|()| tag);
                    // Closed here too, off the caller's thread.
                    drop(builder);
                    if report.send(outcome).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Worker {
            jobs: Some(jobs),
            outcomes,
            thread: Some(thread),
        })
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        // Hanging up ends the thread once the queue is drained.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::fs::WritableFile;
    use crate::options::Options;

    /// Counts syncs; fails them from the `fail_from`-th on.
    struct CountingFile {
        syncs: Arc<AtomicUsize>,
        fail_from: usize,
    }

    impl WritableFile for CountingFile {
        fn append(&mut self, _: &[u8]) -> Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> Result<()> {
            let n = self.syncs.fetch_add(1, Ordering::SeqCst);
            if n >= self.fail_from {
                return Err(Error::io(
                    "t.ldb".to_string(),
                    std::io::Error::other("disk"),
                ));
            }
            Ok(())
        }
    }

    fn finished(syncs: &Arc<AtomicUsize>, fail_from: usize) -> TableBuilder {
        let file = CountingFile {
            syncs: Arc::clone(syncs),
            fail_from,
        };
        let mut b = TableBuilder::new(&Options::default(), Box::new(file));
        b.add(b"k\x01\0\0\0\0\0\0\0", b"v").expect("add");
        b.finish().expect("finish");
        b
    }

    #[test]
    fn every_table_is_synced_once_and_reported_in_order() {
        let syncs = Arc::new(AtomicUsize::new(0));
        let mut s = BackgroundSync::default();
        assert!(s.wait_synced().is_none(), "nothing submitted");
        for n in 1..=10u32 {
            s.submit(n, finished(&syncs, usize::MAX));
        }
        let mut seen = Vec::new();
        while let Some(outcome) = s.wait_synced() {
            seen.push(outcome.expect("synced"));
        }
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
        assert_eq!(syncs.load(Ordering::SeqCst), 10);
        assert!(s.try_synced().is_none());
    }

    #[test]
    fn a_failed_sync_reaches_the_caller_in_its_place() {
        let syncs = Arc::new(AtomicUsize::new(0));
        let mut s = BackgroundSync::default();
        s.submit(7, finished(&syncs, 1));
        s.submit(8, finished(&syncs, 1));
        assert_eq!(
            s.wait_synced()
                .expect("7")
                .expect("the first sync succeeds"),
            7
        );
        assert!(
            s.wait_synced().expect("8").is_err(),
            "the second sync fails"
        );
        assert!(s.wait_synced().is_none());
    }

    #[test]
    fn dropping_waits_for_the_syncs_in_flight() {
        let syncs = Arc::new(AtomicUsize::new(0));
        let mut s = BackgroundSync::default();
        for n in 1..=3 {
            s.submit(n, finished(&syncs, usize::MAX));
        }
        drop(s);
        assert_eq!(syncs.load(Ordering::SeqCst), 3);
    }
}
