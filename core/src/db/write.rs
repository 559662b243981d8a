//! The write path: a writer queue with group commit (the writer at the front leads, takes
//! the batches queued behind it, appends them as one WAL record and inserts them into the
//! memtable), and `make_room_for_write`, which seals a full memtable and throttles writers
//! when flushing falls behind.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::writer_queue::{Follower, Turn, WriterQueue};
use crate::sync::{Condvar, MutexGuard};

use super::notifier::Event;
use super::{Db, DbInner, DbState, ImmutableMemTable};
use crate::batch::WriteBatch;
use crate::error::{Error, Result};
use crate::events::{
    FlushReason, MemTableInfo, WriteStallCause, WriteStallCondition, WriteStallInfo,
};
use crate::filename::log_file_name;
use crate::filename::FileNumber;
use crate::key::SequenceNumber;
use crate::log;
use crate::memtable::MemTable;
use crate::options::WriteOptions;

/// What a queued writer wants: to write a batch, or to seal the memtable for a flush
/// (which goes through the queue so that it is ordered with the writes before it).
pub(super) enum WriteRequest {
    Batch(WriteBatch),
    SealMemTable(FlushReason),
}

thread_local! {
    /// Each thread waits in at most one queue at a time (a write does not return before it
    /// is done), so one condition variable per thread serves every write it ever makes.
    static WRITER_CV: Arc<Condvar> = Arc::new(Condvar::new());
}

/// A group never grows past 1 MiB; a small leading write keeps it to 128 KiB more so
/// that its own latency stays small (LevelDB's limits).
const MAX_GROUP_BYTES: usize = 1 << 20;
const SMALL_WRITE_BYTES: usize = 128 << 10;
/// glibc may serve allocations this large with mmap, so freeing one can be a system call.
const LARGE_GROUP_BYTES: usize = 128 << 10;

impl Db {
    /// Stores `value` under `key`.
    pub fn put(&self, opts: &WriteOptions, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::with_capacity(key.len() + value.len() + 11);
        batch.put(key, value);
        self.inner().write(opts, WriteRequest::Batch(batch))
    }

    /// Removes `key`; removing a missing key is not an error.
    pub fn delete(&self, opts: &WriteOptions, key: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::with_capacity(key.len() + 6);
        batch.delete(key);
        self.inner().write(opts, WriteRequest::Batch(batch))
    }

    /// Applies every record of `batch` atomically: after a crash all or none are present.
    pub fn write(&self, opts: &WriteOptions, batch: &WriteBatch) -> Result<()> {
        self.inner().write(opts, WriteRequest::Batch(batch.clone()))
    }
}

impl DbInner {
    /// Joins the writer queue; when this writer reaches the front it leads a group.
    pub(super) fn write(&self, opts: &WriteOptions, request: WriteRequest) -> Result<()> {
        let cv = WRITER_CV.with(Arc::clone);
        let mut st = self.state.lock();
        DbInner::check_open(&st)?;
        let ticket = st.writers.join(request, opts.sync, cv);
        if let Turn::Done(result) = WriterQueue::wait_turn(&mut st, |s| &mut s.writers, &ticket) {
            return result;
        }
        let result = self.lead_write_group(&mut st);
        st.writers.finish_lead(&ticket);
        // close() waits for the queue to drain.
        self.bg_cv.notify_all();
        result
    }

    /// REQUIRES: the caller leads the queue (`Turn::Lead`).
    fn lead_write_group(&self, st: &mut MutexGuard<'_, DbState>) -> Result<()> {
        let (mut group, sync) = match st.writers.take_leader_request() {
            Some((WriteRequest::Batch(batch), sync)) => (batch, sync),
            Some((WriteRequest::SealMemTable(reason), _)) => {
                return self.make_room_for_write(st, Some(reason));
            }
            None => {
                return Err(Error::invalid_argument(
                    "writer queue: the leader's request is gone",
                ))
            }
        };
        self.make_room_for_write(st, None)?;
        if sync {
            gather_sync_writers(st);
        }
        let followers = build_batch_group(st, &mut group, sync);
        if sync {
            st.last_sync_group = followers.len() + 1;
        }
        let last = st.versions.last_sequence();
        let first = last.next();
        group.set_sequence(first);
        let count = u64::from(group.count());
        let mem = st.mem.clone();

        let result =
            MutexGuard::unlocked(st, || self.append_to_log_and_memtable(&group, sync, &mem));
        st.counters.writes += followers.len() as u64 + 1;
        st.counters.write_groups += 1;
        if sync {
            st.counters.wal_syncs += 1;
        }
        match &result {
            Ok(()) => {
                if count > 0 {
                    st.versions
                        .set_last_sequence(SequenceNumber(first.0 + count - 1));
                }
            }
            Err(e) => self.record_background_error(st, e.clone()),
        }
        st.writers.complete(followers, &result);
        // A large group's buffer may go back to the OS (a munmap): free it unlocked.
        // A small one is cheaper to free here than the unlock and relock would be.
        if group.approximate_size() >= LARGE_GROUP_BYTES {
            MutexGuard::unlocked(st, move || drop((group, mem)));
        }
        result
    }

    /// The part of a write done without the DB mutex: only the queue leader runs it.
    fn append_to_log_and_memtable(
        &self,
        group: &WriteBatch,
        sync: bool,
        mem: &MemTable,
    ) -> Result<()> {
        if sync {
            // The WALs sealed before this one hold earlier writes: they become durable
            // first, or a crash could keep this write and lose one acknowledged before it.
            self.sync_sealed_logs()?;
        }
        {
            let mut log = self.log.lock();
            let log = log.as_mut().ok_or(Error::Closed)?;
            log.add_record(group.contents())?;
            // Flushing to the OS on every group is what makes an acknowledged write
            // survive the process being killed; sync makes it survive the machine.
            if sync {
                log.sync()?;
            } else {
                log.flush()?;
            }
        }
        group.insert_into(mem)?;
        Ok(())
    }

    /// Makes sure the active memtable has room, sealing it when full; `force` seals a
    /// non-empty memtable regardless (manual flush) with that reason. Reports changes of
    /// the write-stall condition. REQUIRES: this writer leads the queue.
    pub(super) fn make_room_for_write(
        &self,
        st: &mut MutexGuard<'_, DbState>,
        mut force: Option<FlushReason>,
    ) -> Result<()> {
        let mut allow_delay = force.is_none();
        loop {
            let level0_files = st.versions.num_level_files(0);
            if let Some(e) = &st.bg_error {
                let e = sticky(e);
                self.set_stall_condition(st, WriteStallCondition::Normal, WriteStallCause::None);
                return Err(e);
            } else if allow_delay && level0_files >= self.options.level0_slowdown_writes_trigger {
                // Hand the worker some CPU instead of stalling one write for seconds
                // later: each write is delayed once, by SLOWDOWN_DELAY.
                self.set_stall_condition(
                    st,
                    WriteStallCondition::Delayed,
                    WriteStallCause::Level0Slowdown,
                );
                let start = Instant::now();
                MutexGuard::unlocked(st, || std::thread::sleep(SLOWDOWN_DELAY));
                st.counters.write_stalls += 1;
                st.counters.write_stall_micros += start.elapsed().as_micros() as u64;
                allow_delay = false;
            } else if match force {
                None => st.mem.approximate_memory_usage() <= self.options.write_buffer_size,
                Some(_) => st.mem.is_empty(), // a manual flush with nothing new to seal
            } {
                if level0_files >= self.options.level0_slowdown_writes_trigger {
                    self.set_stall_condition(
                        st,
                        WriteStallCondition::Delayed,
                        WriteStallCause::Level0Slowdown,
                    );
                } else {
                    self.set_stall_condition(
                        st,
                        WriteStallCondition::Normal,
                        WriteStallCause::None,
                    );
                }
                return Ok(());
            } else if st.imm.len() + 1 >= self.options.max_write_buffer_number {
                for imm in st.imm.iter_mut() {
                    imm.stalled_writers = true;
                }
                self.wait_for_background(st, WriteStallCause::MemtableLimit);
            } else if level0_files >= self.options.level0_stop_writes_trigger {
                self.wait_for_background(st, WriteStallCause::Level0Stop);
            } else {
                self.switch_memtable(st, force.unwrap_or(FlushReason::WriteBufferFull))?;
                force = None;
            }
        }
    }

    /// A writer stopped until background work makes room.
    fn wait_for_background(&self, st: &mut MutexGuard<'_, DbState>, cause: WriteStallCause) {
        self.set_stall_condition(st, WriteStallCondition::Stopped, cause);
        let start = Instant::now();
        self.bg_cv.wait(st);
        st.counters.write_stalls += 1;
        st.counters.write_stall_micros += start.elapsed().as_micros() as u64;
    }

    fn set_stall_condition(
        &self,
        st: &mut DbState,
        condition: WriteStallCondition,
        cause: WriteStallCause,
    ) {
        if st.stall_condition != condition {
            let previous = std::mem::replace(&mut st.stall_condition, condition);
            self.writes_held_back
                .store(condition != WriteStallCondition::Normal, Ordering::Relaxed);
            self.info_log.log(&format!(
                "write stall: {previous:?} -> {condition:?} ({cause:?})"
            ));
            self.notifier.emit(Event::WriteStallChanged(WriteStallInfo {
                condition,
                previous,
                cause,
            }));
        }
    }

    /// Seals the active memtable into the immutable queue behind a fresh WAL and
    /// schedules its flush.
    fn switch_memtable(&self, st: &mut MutexGuard<'_, DbState>, reason: FlushReason) -> Result<()> {
        let new_log_number = st.versions.new_file_number();
        let path = log_file_name(&self.dir, new_log_number);
        let file = match self.fs.new_log_file(&path) {
            Ok(f) => f,
            Err(e) => {
                st.versions.reuse_file_number(new_log_number);
                return Err(e);
            }
        };
        // The sealed WAL and the new WAL's directory entry are synced by the next sync
        // write, which needs them first, or never (the flush makes the WAL obsolete).
        {
            let mut log = self.log.lock();
            let Some(old) = log.replace(log::Writer::new(file)) else {
                return Err(Error::Closed);
            };
            let mut sealed = self.sealed_logs.lock();
            sealed.logs.push((new_log_number, old));
            sealed.dir_sync = true;
        }
        let sealed = std::mem::replace(&mut st.mem, Arc::new(MemTable::new()));
        let info = MemTableInfo {
            reason,
            memtable_bytes: sealed.approximate_memory_usage() as u64,
            num_entries: sealed.len() as u64,
            num_immutable: st.imm.len() + 1,
        };
        st.imm.push_back(ImmutableMemTable {
            mem: sealed,
            next_log_number: new_log_number,
            reason,
            stalled_writers: false,
        });
        st.memtables_sealed += 1;
        self.notifier.emit(Event::MemTableSealed(info));
        self.maybe_schedule_compaction(st);
        Ok(())
    }
}

/// The error a caller sees for a sticky background error: the kind of its cause.
pub(super) fn sticky(e: &Error) -> Error {
    match e {
        Error::Background(_) => e.clone(),
        other => Error::Background(Arc::new(other.clone())),
    }
}

/// The delay of each write while level 0 is at its slowdown trigger. LevelDB sleeps
/// 1 ms, which makes every such write a millisecond-long one; 200 us still caps writes
/// at a few thousand a second, far below what compaction absorbs, and gives the worker
/// the core, without a write ever taking a millisecond for it.
const SLOWDOWN_DELAY: Duration = Duration::from_micros(200);

/// How long a sync leader waits for the writers of the previous sync group to queue again.
const SYNC_GATHER: Duration = Duration::from_micros(50);

/// Lets the writers of the last sync group rejoin before a sync leader takes its group.
/// Without this, concurrent sync writers fall into alternating groups (one writer, then
/// all the others, who queued while it synced), half as many writes per fsync as could
/// be. The wait is bounded by `SYNC_GATHER`, small beside an fsync, and only happens when
/// the last sync group was larger than what is queued now, so a lone writer never waits.
fn gather_sync_writers(st: &mut MutexGuard<'_, DbState>) {
    if st.writers.len() >= st.last_sync_group {
        return;
    }
    let deadline = Instant::now() + SYNC_GATHER;
    while st.writers.len() < st.last_sync_group && Instant::now() < deadline {
        MutexGuard::unlocked(st, std::thread::yield_now);
    }
}

/// Appends the batches of the writers queued right behind the leader to `group`, the
/// leader's own batch. Stops at a forced switch, at a sync write when the leader does not
/// sync (the group would not be synced for it), and at the size limit.
fn build_batch_group(st: &mut DbState, group: &mut WriteBatch, leader_sync: bool) -> Vec<Follower> {
    let mut size = group.approximate_size();
    let max_size = if size <= SMALL_WRITE_BYTES {
        size + SMALL_WRITE_BYTES
    } else {
        MAX_GROUP_BYTES
    };
    let mut followers = Vec::new();
    while let Some((request, follower)) = st.writers.take_follower(|request, sync| {
        let WriteRequest::Batch(batch) = request else {
            return false;
        };
        size + batch.approximate_size() <= max_size && (leader_sync || !sync)
    }) {
        if let WriteRequest::Batch(batch) = request {
            size += batch.approximate_size();
            group.append(&batch);
        }
        followers.push(follower);
    }
    followers
}

impl DbInner {
    /// Forgets the sealed WALs that `log_number` (the oldest live WAL) made obsolete: their
    /// memtables are in tables now, so they need no sync.
    pub(super) fn drop_obsolete_sealed_logs(&self, log_number: FileNumber) {
        let obsolete: Vec<_> = {
            let mut sealed = self.sealed_logs.lock();
            let keep = sealed
                .logs
                .iter()
                .position(|(replaced_by, _)| *replaced_by > log_number);
            let end = keep.unwrap_or(sealed.logs.len());
            sealed.logs.drain(..end).collect()
        };
        drop(obsolete);
    }

    /// Syncs the WALs sealed since the last call, oldest first, then the directory (the
    /// newest WAL's entry). Holds `sealed_logs` throughout, so a caller that returns Ok
    /// knows every sealed WAL is durable, even if another thread did the syncing.
    pub(super) fn sync_sealed_logs(&self) -> Result<()> {
        let mut sealed = self.sealed_logs.lock();
        while let Some((_, log)) = sealed.logs.first_mut() {
            log.sync()?;
            sealed.logs.remove(0);
        }
        if sealed.dir_sync {
            self.fs.sync_dir(&self.dir)?;
            sealed.dir_sync = false;
        }
        Ok(())
    }
}
