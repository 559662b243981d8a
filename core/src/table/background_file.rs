//! A writable file whose appends are made by a thread of its own: while a table is built,
//! the kernel's copy of its bytes into the page cache (a third of a flush's CPU) runs
//! beside the building of the next blocks instead of after each one; and the file is synced
//! behind the writer as it grows ([`WriteBehind`]).

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::fs::WritableFile;

use super::write_behind::WriteBehind;

/// Bytes gathered before they go to the writer thread, as one `append` of the file:
/// enough to make the write calls cheap, little enough to add little to peak memory.
const CHUNK: usize = 256 << 10;

/// Chunks that may wait for the writer; the memory held is at most about
/// `(QUEUE + 2) × CHUNK`.
const QUEUE: usize = 8;

enum Job {
    Append(Vec<u8>),
    /// `flush` (or `sync` when true), answered with its outcome once every earlier
    /// append is done.
    Flush {
        sync: bool,
        done: SyncSender<Result<()>>,
    },
}

/// Wraps a [`WritableFile`] so that its appends happen on a writer thread, in order.
/// An append only copies into a chunk; a failed write surfaces at a later
/// `append` or at `flush`/`sync`, which wait for everything before them. The first
/// failure is sticky. Dropping it waits for the queued appends and closes the file.
/// Not shared: one owner, like any writable file.
pub struct BackgroundWritableFile {
    jobs: Option<SyncSender<Job>>,
    /// Emptied chunks coming back from the writer, to fill again.
    recycled: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    writer: Option<JoinHandle<()>>,
    /// The writer's first error, for the owner to see without waiting.
    failed: Arc<Mutex<Option<Error>>>,
    name: String,
}

impl BackgroundWritableFile {
    /// Starts the writer thread for `file`; `name` names the file in errors.
    pub fn spawn(file: Box<dyn WritableFile>, name: String) -> Result<BackgroundWritableFile> {
        let (jobs, queue) = mpsc::sync_channel(QUEUE);
        let (recycle, recycled) = mpsc::channel();
        let failed = Arc::new(Mutex::new(None));
        let failed_by_writer = Arc::clone(&failed);
        let writer = std::thread::Builder::new()
            .name("siltdb-table-writer".to_string())
            .spawn(move || write_jobs(file, &queue, &recycle, &failed_by_writer))
            .map_err(|e| Error::io(format!("starting the writer thread of {name}"), e))?;
        Ok(BackgroundWritableFile {
            jobs: Some(jobs),
            recycled,
            chunk: Vec::with_capacity(CHUNK),
            writer: Some(writer),
            failed,
            name,
        })
    }

    fn send(&mut self, job: Job) -> Result<()> {
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.writer_gone()),
        }
    }

    /// Hands the filled chunk to the writer and takes an emptied one back if there is one.
    fn send_chunk(&mut self) -> Result<()> {
        if let Some(e) = self.failed.lock().clone() {
            return Err(e);
        }
        let next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.chunk, next);
        self.send(Job::Append(full))
    }

    fn flush_or_sync(&mut self, sync: bool) -> Result<()> {
        if !self.chunk.is_empty() {
            self.send_chunk()?;
        }
        let (done, outcome) = mpsc::sync_channel(1);
        self.send(Job::Flush { sync, done })?;
        outcome.recv().unwrap_or_else(|_| Err(self.writer_gone()))
    }

    fn writer_gone(&self) -> Error {
        Error::io(
            self.name.clone(),
            std::io::Error::other("the table writer thread ended"),
        )
    }
}

/// The writer thread: appends, flushes and syncs in the order they were queued, until
/// the owner hangs up, with syncs started behind it as the file grows. After a failure
/// (its own or a sync's behind it) it only answers with that failure.
fn write_jobs(
    mut file: Box<dyn WritableFile>,
    queue: &Receiver<Job>,
    recycle: &Sender<Vec<u8>>,
    failed: &Arc<Mutex<Option<Error>>>,
) {
    // Without a handle (or if making one fails) the final sync does it all, as before.
    let mut behind = WriteBehind::new(file.sync_handle().ok().flatten());
    let mut error: Option<Error> = None;
    for job in queue {
        if error.is_none() {
            error = failed.lock().clone();
        }
        let outcome = match job {
            Job::Append(mut chunk) => {
                let outcome = match &error {
                    Some(_) => Ok(()),
                    None => file.append(&chunk),
                };
                if outcome.is_ok() && error.is_none() {
                    behind.appended(chunk.len() as u64, failed);
                }
                chunk.clear();
                let _ = recycle.send(chunk);
                outcome
            }
            Job::Flush { sync, done } => {
                if sync {
                    behind.finish();
                    if error.is_none() {
                        error = failed.lock().clone();
                    }
                }
                let outcome = match &error {
                    Some(e) => Err(e.clone()),
                    None if sync => file.sync(),
                    None => file.flush(),
                };
                let _ = done.send(outcome.clone());
                outcome
            }
        };
        if let (Err(e), None) = (outcome, &error) {
            *failed.lock() = Some(e.clone());
            error = Some(e);
        }
    }
}

impl WritableFile for BackgroundWritableFile {
    fn append(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let n = (CHUNK - self.chunk.len()).min(data.len());
            let (now, rest) = data.split_at(n);
            self.chunk.extend_from_slice(now);
            data = rest;
            if self.chunk.len() >= CHUNK {
                self.send_chunk()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.flush_or_sync(false)
    }

    fn sync(&mut self) -> Result<()> {
        self.flush_or_sync(true)
    }
}

impl Drop for BackgroundWritableFile {
    fn drop(&mut self) {
        if !self.chunk.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            let _ = self.send(Job::Append(chunk));
        }
        // Hanging up ends the writer once the queue is drained; the file closes with it.
        self.jobs = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::test_util::MemWritableFile;

    fn background(buf: &Arc<Mutex<Vec<u8>>>) -> BackgroundWritableFile {
        BackgroundWritableFile::spawn(
            Box::new(MemWritableFile(Arc::clone(buf))),
            "000007.ldb".to_string(),
        )
        .expect("spawn")
    }

    #[test]
    fn bytes_arrive_in_order_across_chunks_by_flush() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut f = background(&buf);
        let mut expected = Vec::new();
        for i in 0..3000u32 {
            // Pieces of 0..2000 bytes, some straddling chunk boundaries.
            let piece: Vec<u8> = (0..(i * 37) % 2000).map(|j| (i + j) as u8).collect();
            f.append(&piece).expect("append");
            expected.extend_from_slice(&piece);
        }
        f.append(&vec![9u8; 3 * CHUNK + 5])
            .expect("one append of several chunks");
        expected.extend_from_slice(&vec![9u8; 3 * CHUNK + 5]);
        f.flush().expect("flush");
        assert!(*buf.lock() == expected, "flush waits for every append");
        f.append(b"tail").expect("append");
        f.sync().expect("sync");
        expected.extend_from_slice(b"tail");
        assert!(*buf.lock() == expected);
    }

    #[test]
    fn dropping_writes_what_was_appended() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut f = background(&buf);
        f.append(b"not flushed").expect("append");
        drop(f);
        assert_eq!(&buf.lock()[..], b"not flushed");
    }

    /// Fails every append after the first `ok` ones.
    struct FailAfter {
        ok: usize,
        synced: Arc<Mutex<usize>>,
    }

    impl WritableFile for FailAfter {
        fn append(&mut self, _: &[u8]) -> Result<()> {
            if self.ok == 0 {
                return Err(Error::io("000007.ldb", std::io::Error::other("disk full")));
            }
            self.ok -= 1;
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> Result<()> {
            *self.synced.lock() += 1;
            Ok(())
        }
    }

    /// Appends and syncs fine itself; its sync handle fails.
    struct FailingBehind {
        synced: Arc<Mutex<usize>>,
    }

    struct Eio;

    impl crate::fs::SyncHandle for Eio {
        fn sync(&self) -> Result<()> {
            Err(Error::io("000007.ldb", std::io::Error::other("EIO behind")))
        }
    }

    impl WritableFile for FailingBehind {
        fn append(&mut self, _: &[u8]) -> Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> Result<()> {
            *self.synced.lock() += 1;
            Ok(())
        }
        fn sync_handle(&self) -> Result<Option<Box<dyn crate::fs::SyncHandle>>> {
            Ok(Some(Box::new(Eio)))
        }
    }

    /// The kernel may report a failed write-back to the handle behind the writer only,
    /// so its failure must fail the file's final sync, which would not see it.
    #[test]
    fn a_failed_sync_behind_the_writer_fails_the_final_sync() {
        use crate::table::write_behind::WRITE_BEHIND_BYTES;
        let synced = Arc::new(Mutex::new(0));
        let file = FailingBehind {
            synced: Arc::clone(&synced),
        };
        let mut f =
            BackgroundWritableFile::spawn(Box::new(file), "000007.ldb".to_string()).expect("spawn");
        // The append queues chunk after chunk; the failure may already be seen while the
        // last ones are queued, or only at the sync. Either way it is the file's error.
        let err = match f.append(&vec![3u8; WRITE_BEHIND_BYTES as usize + CHUNK]) {
            Err(e) => e,
            Ok(()) => f.sync().expect_err("the failure behind is the file's"),
        };
        assert!(err.to_string().contains("EIO behind"), "{err}");
        let again = f.sync().expect_err("sticky");
        assert!(again.to_string().contains("EIO behind"), "{again}");
        assert_eq!(*synced.lock(), 0, "the final sync is not attempted");
    }

    #[test]
    fn a_failed_write_is_reported_later_and_stays() {
        let synced = Arc::new(Mutex::new(0));
        let file = FailAfter {
            ok: 1,
            synced: Arc::clone(&synced),
        };
        let mut f =
            BackgroundWritableFile::spawn(Box::new(file), "000007.ldb".to_string()).expect("spawn");
        f.append(&vec![1u8; CHUNK]).expect("first chunk is written");
        // The second chunk fails on the writer thread; appends go on until it is seen.
        let mut seen = None;
        for _ in 0..QUEUE + 4 {
            if let Err(e) = f.append(&vec![2u8; CHUNK]) {
                seen = Some(e);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let err = seen.expect("the failure surfaces at a later append");
        assert!(err.to_string().contains("disk full"), "{err}");
        let again = f.sync().expect_err("sticky");
        assert!(again.to_string().contains("disk full"), "{again}");
        assert_eq!(*synced.lock(), 0, "no sync after a failed write");
        assert!(f.flush().is_err());
    }
}
