//! Syncs a big file while it is still being written. Left alone, the kernel writes a new
//! table's bytes back only at its final fdatasync, which then waits for all of them
//! (64–93 ms of a 64 MiB flush's 155–209 ms here); synced every couple of MiB from a
//! thread of its own, the file is mostly on disk by the time the writer gets there.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::error::Error;
use crate::fs::SyncHandle;

/// Bytes appended between the syncs started behind the writer; the final sync waits for
/// about this many. Each costs a device cache flush. A 64 MiB flush here took 157–174 ms
/// with no syncs behind, 100–123 ms every 8 MiB, 97–117 every 4, 81–107 every 2 and
/// 98–108 every 1 MiB; a 4 MiB one (a 3 MiB table) 13–18 ms, and 11–14 ms every 2 MiB.
pub const WRITE_BEHIND_BYTES: u64 = 2 << 20;

/// Started by the thread that appends a file; reports a failed sync through the
/// `failed` slot it is given, for the writer to surface.
pub struct WriteBehind {
    handle: Option<Box<dyn SyncHandle>>,
    /// Wakes the sync thread; holds at most one request, so requests made while a sync
    /// runs fold into the next one.
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    unsynced: u64,
}

impl WriteBehind {
    /// `handle` is the file's sync handle, if it has one; without it this does nothing.
    pub fn new(handle: Option<Box<dyn SyncHandle>>) -> WriteBehind {
        WriteBehind {
            handle,
            wake: None,
            thread: None,
            unsynced: 0,
        }
    }

    /// Counts `bytes` the writer has handed to the OS; every [`WRITE_BEHIND_BYTES`] asks
    /// for a sync behind it. A thread that cannot be started leaves it all to the final
    /// sync, as without a handle.
    pub fn appended(&mut self, bytes: u64, failed: &std::sync::Arc<Mutex<Option<Error>>>) {
        self.unsynced += bytes;
        if self.unsynced < WRITE_BEHIND_BYTES {
            return;
        }
        self.unsynced = 0;
        if self.wake.is_none() {
            let Some(handle) = self.handle.take() else {
                return;
            };
            let (wake, woken) = mpsc::sync_channel::<()>(1);
            let failed = std::sync::Arc::clone(failed);
            let spawned = std::thread::Builder::new()
                .name("siltdb-write-behind".to_string())
                .spawn(move || {
                    for () in woken {
                        if let Err(e) = handle.sync() {
                            failed.lock().get_or_insert(e);
                            return;
                        }
                    }
                });
            let Ok(thread) = spawned else {
                return;
            };
            self.wake = Some(wake);
            self.thread = Some(thread);
        }
        if let Some(wake) = &self.wake {
            match wake.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                // The thread ended after a failed sync, which `failed` already holds.
                Err(TrySendError::Disconnected(())) => self.wake = None,
            }
        }
    }

    /// Waits for the sync in flight, if any, and stops the thread. Called before the
    /// writer's own final sync: a failed write-back may be reported to only one of the
    /// two handles, so the writer must see the sync thread's outcome, and none may run
    /// past its check.
    pub fn finish(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts syncs; fails the ones after the first `ok`.
    struct Counting {
        syncs: Arc<AtomicUsize>,
        ok: usize,
    }

    impl SyncHandle for Counting {
        fn sync(&self) -> Result<()> {
            let n = self.syncs.fetch_add(1, Ordering::SeqCst);
            if n >= self.ok {
                return Err(Error::io("000009.ldb", std::io::Error::other("EIO")));
            }
            Ok(())
        }
    }

    #[test]
    fn syncs_every_few_mib_and_stops_at_finish() {
        let syncs = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(Mutex::new(None));
        let handle = Counting {
            syncs: Arc::clone(&syncs),
            ok: usize::MAX,
        };
        let mut behind = WriteBehind::new(Some(Box::new(handle)));
        behind.appended(WRITE_BEHIND_BYTES - 1, &failed);
        behind.finish();
        assert_eq!(syncs.load(Ordering::SeqCst), 0, "not yet a full stretch");

        let mut behind = WriteBehind::new(Some(Box::new(Counting {
            syncs: Arc::clone(&syncs),
            ok: usize::MAX,
        })));
        for _ in 0..3 {
            behind.appended(WRITE_BEHIND_BYTES, &failed);
            // Let each request reach the thread before the next, so none fold together.
            while syncs.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
        }
        behind.finish();
        let done = syncs.load(Ordering::SeqCst);
        assert!((1..=3).contains(&done), "{done} syncs");
        assert!(failed.lock().is_none());
    }

    #[test]
    fn a_failed_sync_is_handed_to_the_writer() {
        let syncs = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(Mutex::new(None));
        let mut behind = WriteBehind::new(Some(Box::new(Counting {
            syncs: Arc::clone(&syncs),
            ok: 0,
        })));
        behind.appended(WRITE_BEHIND_BYTES, &failed);
        behind.finish();
        let err = failed.lock().clone().expect("the failure is reported");
        assert!(err.to_string().contains("EIO"), "{err}");
        // Later stretches find the thread gone and ask for nothing more.
        behind.appended(2 * WRITE_BEHIND_BYTES, &failed);
        behind.finish();
        assert_eq!(syncs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn without_a_handle_nothing_happens() {
        let failed = Arc::new(Mutex::new(None));
        let mut behind = WriteBehind::new(None);
        behind.appended(10 * WRITE_BEHIND_BYTES, &failed);
        behind.finish();
        assert!(failed.lock().is_none());
    }
}
