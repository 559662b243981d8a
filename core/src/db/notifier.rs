//! The per-Db event thread. Background work and writers `emit` events into a queue
//! (cheap, never blocking, fine with the DB mutex held); one thread delivers them to the
//! listeners in order, with no engine lock held, so a callback may call back into the Db.
//! `wait_delivered` lets `flush(wait)` return only after its completed event ran.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::events::{
    CompactionJobInfo, EventListener, FlushJobInfo, MemTableInfo, TableFileInfo, WriteStallInfo,
};
use crate::filename::FileNumber;
use crate::info_log::InfoLog;

pub(crate) enum Event {
    FlushBegin(FlushJobInfo),
    FlushCompleted(FlushJobInfo),
    CompactionBegin(CompactionJobInfo),
    CompactionCompleted(CompactionJobInfo),
    MemTableSealed(MemTableInfo),
    WriteStallChanged(WriteStallInfo),
    BackgroundError(Error),
    TableFileCreated(TableFileInfo),
    TableFileDeleted(FileNumber, PathBuf),
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    enqueued: u64,
    delivered: u64,
    shutting_down: bool,
}

pub(crate) struct Notifier {
    listeners: Vec<Arc<dyn EventListener>>,
    queue: Mutex<Queue>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: Mutex<Option<ThreadId>>,
    panics: AtomicU64,
}

impl Notifier {
    /// Starts the event thread, unless there is nobody to notify.
    pub(crate) fn start(
        listeners: Vec<Arc<dyn EventListener>>,
        info_log: Arc<InfoLog>,
    ) -> Result<Arc<Notifier>> {
        let notifier = Arc::new(Notifier {
            listeners,
            queue: Mutex::new(Queue::default()),
            cv: Condvar::new(),
            thread: Mutex::new(None),
            thread_id: Mutex::new(None),
            panics: AtomicU64::new(0),
        });
        if !notifier.listeners.is_empty() {
            let worker = Arc::clone(&notifier);
            let handle = std::thread::Builder::new()
                .name("siltdb-events".to_string())
                .spawn(move || worker.deliver_loop(&info_log))
                .map_err(|e| Error::io("spawning the event thread", e))?;
            *notifier.thread_id.lock() = Some(handle.thread().id());
            *notifier.thread.lock() = Some(handle);
        }
        Ok(notifier)
    }

    /// Queues an event for delivery. Never blocks on a listener.
    pub(crate) fn emit(&self, event: Event) {
        if self.listeners.is_empty() {
            return;
        }
        let mut q = self.queue.lock();
        if q.shutting_down && self.thread.lock().is_none() {
            return; // after close: nobody may be called any more
        }
        q.events.push_back(event);
        q.enqueued += 1;
        self.cv.notify_all();
    }

    /// The number of events queued so far; pass it to `wait_delivered`.
    pub(crate) fn enqueued(&self) -> u64 {
        self.queue.lock().enqueued
    }

    /// Waits until the first `upto` events have been delivered (or the thread is gone).
    pub(crate) fn wait_delivered(&self, upto: u64) {
        if self.listeners.is_empty() || self.on_event_thread() {
            return;
        }
        let mut q = self.queue.lock();
        while q.delivered < upto && !(q.shutting_down && q.events.is_empty()) {
            self.cv.wait(&mut q);
        }
    }

    /// True inside a listener callback: waiting on the event thread there would deadlock.
    pub(crate) fn on_event_thread(&self) -> bool {
        *self.thread_id.lock() == Some(std::thread::current().id())
    }

    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Delivers everything still queued, then stops the thread. After this returns no
    /// callback runs.
    pub(crate) fn shutdown(&self) {
        self.queue.lock().shutting_down = true;
        self.cv.notify_all();
        let handle = self.thread.lock().take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn deliver_loop(&self, info_log: &InfoLog) {
        loop {
            let event = {
                let mut q = self.queue.lock();
                loop {
                    if let Some(e) = q.events.pop_front() {
                        break e;
                    }
                    if q.shutting_down {
                        return;
                    }
                    self.cv.wait(&mut q);
                }
            };
            for listener in &self.listeners {
                let delivered = catch_unwind(AssertUnwindSafe(|| dispatch(&**listener, &event)));
                if delivered.is_err() {
                    self.panics.fetch_add(1, Ordering::Relaxed);
                    info_log.log("an event listener panicked; the panic was contained");
                }
            }
            let mut q = self.queue.lock();
            q.delivered += 1;
            self.cv.notify_all();
        }
    }
}

fn dispatch(listener: &dyn EventListener, event: &Event) {
    match event {
        Event::FlushBegin(i) => listener.on_flush_begin(i),
        Event::FlushCompleted(i) => listener.on_flush_completed(i),
        Event::CompactionBegin(i) => listener.on_compaction_begin(i),
        Event::CompactionCompleted(i) => listener.on_compaction_completed(i),
        Event::MemTableSealed(i) => listener.on_memtable_sealed(i),
        Event::WriteStallChanged(i) => listener.on_write_stall_changed(i),
        Event::BackgroundError(e) => listener.on_background_error(e),
        Event::TableFileCreated(i) => listener.on_table_file_created(i),
        Event::TableFileDeleted(n, p) => listener.on_table_file_deleted(*n, p),
    }
}
