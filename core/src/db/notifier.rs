//! The per-Db event thread. Background work and writers `emit` events into a queue
//! (cheap, never blocking, fine with the DB mutex held); one thread delivers them to the
//! listeners in order, with no engine lock held, so a callback may call back into the Db.
//! `wait_delivered` lets `flush(wait)` return only after its completed event ran.
//! Every hand-off goes through the queue's lock, which is what the loom models below
//! check: an event is either accepted before the thread stops (and then delivered) or
//! dropped, and waiters are released only by delivery or by the thread stopping.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::events::{
    CompactionJobInfo, EventListener, FlushJobInfo, MemTableInfo, TableFileInfo, WriteStallInfo,
};
use crate::filename::FileNumber;
use crate::info_log::InfoLog;
use crate::sync::thread::{self, JoinHandle, ThreadId};
use crate::sync::{Condvar, Mutex, MutexGuard};

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
    /// The event thread has seen `shutting_down` with nothing left to deliver and exited:
    /// every accepted event was delivered, later ones are dropped.
    stopped: bool,
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
            let handle = thread::Builder::new()
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
        if q.stopped {
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

    /// Waits until the first `upto` events have been delivered (or the thread stopped,
    /// which it does only with nothing accepted left undelivered).
    pub(crate) fn wait_delivered(&self, upto: u64) {
        if self.listeners.is_empty() || self.on_event_thread() {
            return;
        }
        let mut q = self.queue.lock();
        while q.delivered < upto && !q.stopped {
            self.cv.wait(&mut q);
        }
    }

    /// True inside a listener callback: waiting on the event thread there would deadlock.
    pub(crate) fn on_event_thread(&self) -> bool {
        *self.thread_id.lock() == Some(thread::current().id())
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

    /// Stops only with the queue empty, deciding so under the same lock `emit` takes:
    /// an event lands either before (delivered) or after (dropped), never stranded.
    fn deliver_loop(&self, info_log: &InfoLog) {
        let mut q = self.queue.lock();
        loop {
            if let Some(event) = q.events.pop_front() {
                MutexGuard::unlocked(&mut q, || self.deliver(&event, info_log));
                q.delivered += 1;
                self.cv.notify_all();
            } else if q.shutting_down {
                q.stopped = true;
                self.cv.notify_all();
                return;
            } else {
                self.cv.wait(&mut q);
            }
        }
    }

    fn deliver(&self, event: &Event, info_log: &InfoLog) {
        for listener in &self.listeners {
            let delivered = catch_unwind(AssertUnwindSafe(|| dispatch(&**listener, event)));
            if delivered.is_err() {
                self.panics.fetch_add(1, Ordering::Relaxed);
                info_log.log("an event listener panicked; the panic was contained");
            }
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

/// loom models of the event thread's hand-offs: `make loom`, or
/// `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p siltdb --release --lib ::loom`
/// (`::loom` selects these and not `bloom_*`). Events are `TableFileDeleted(n)` with
/// `n = emitter * 100 + i`.
#[cfg(all(test, loom))]
mod loom_models {
    use std::path::Path;
    use std::sync::{Arc, Weak};

    use super::{Event, Notifier};
    use crate::events::EventListener;
    use crate::filename::FileNumber;
    use crate::info_log::InfoLog;
    use crate::sync::{thread, Mutex};

    /// Remembers what it was told, in order.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<u64>>,
    }

    impl Recorder {
        fn seen(&self) -> Vec<u64> {
            self.seen.lock().clone()
        }
    }

    impl EventListener for Recorder {
        fn on_table_file_deleted(&self, file_number: FileNumber, _path: &Path) {
            self.seen.lock().push(file_number.0);
        }
    }

    fn event(n: u64) -> Event {
        Event::TableFileDeleted(FileNumber(n), Default::default())
    }

    /// A log that logs nowhere (its directory does not exist): nothing here panics.
    fn info_log() -> Arc<InfoLog> {
        Arc::new(InfoLog::open(
            &crate::fs::PosixFs,
            Path::new("/nonexistent/siltdb-loom-models"),
        ))
    }

    fn start() -> (Arc<Notifier>, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        let listener: Arc<dyn EventListener> = recorder.clone();
        let notifier = Notifier::start(vec![listener], info_log()).expect("start the notifier");
        (notifier, recorder)
    }

    /// Checks `seen` holds each of `emitted`'s events once, each emitter's in its order.
    fn assert_once_each_in_emitter_order(seen: &[u64], emitted: &[&[u64]]) {
        let total: usize = emitted.iter().map(|e| e.len()).sum();
        assert_eq!(
            seen.len(),
            total,
            "every event delivered exactly once: {seen:?}"
        );
        for own in emitted {
            let order: Vec<u64> = seen.iter().copied().filter(|n| own.contains(n)).collect();
            assert_eq!(&order, own, "an emitter's events in its order: {seen:?}");
        }
    }

    #[test]
    fn loom_two_emitters_events_are_delivered_once_each_in_emitter_order() {
        loom::model(|| {
            let (notifier, recorder) = start();
            let emitters: Vec<_> = [1u64, 2]
                .into_iter()
                .map(|who| {
                    let notifier = Arc::clone(&notifier);
                    thread::spawn(move || {
                        notifier.emit(event(who * 100));
                        notifier.emit(event(who * 100 + 1));
                    })
                })
                .collect();
            for emitter in emitters {
                emitter.join().expect("emitter");
            }
            notifier.shutdown();
            assert_once_each_in_emitter_order(&recorder.seen(), &[&[100, 101], &[200, 201]]);
        });
    }

    #[test]
    fn loom_wait_delivered_returns_only_after_those_events_ran() {
        loom::model(|| {
            let (notifier, recorder) = start();
            let other = {
                let (notifier, recorder) = (Arc::clone(&notifier), Arc::clone(&recorder));
                thread::spawn(move || {
                    notifier.emit(event(200));
                    let upto = notifier.enqueued();
                    notifier.wait_delivered(upto);
                    assert!(recorder.seen().len() as u64 >= upto, "returned too early");
                    assert!(recorder.seen().contains(&200));
                })
            };
            notifier.emit(event(100));
            let upto = notifier.enqueued();
            notifier.wait_delivered(upto);
            assert!(recorder.seen().len() as u64 >= upto, "returned too early");
            assert!(recorder.seen().contains(&100));
            other.join().expect("other waiter");
            notifier.shutdown();
        });
    }

    /// A flush(wait) racing close: the waiter may find its event dropped (emitted after
    /// the thread stopped) but never returns while an accepted event is still undelivered.
    #[test]
    fn loom_wait_delivered_racing_shutdown_never_returns_early_or_hangs() {
        loom::model(|| {
            let (notifier, recorder) = start();
            let waiter = {
                let (notifier, recorder) = (Arc::clone(&notifier), Arc::clone(&recorder));
                thread::spawn(move || {
                    notifier.emit(event(100));
                    let upto = notifier.enqueued();
                    notifier.wait_delivered(upto);
                    assert!(
                        recorder.seen().len() as u64 >= upto,
                        "wait_delivered({upto}) returned before delivery: {:?}",
                        recorder.seen()
                    );
                })
            };
            notifier.shutdown();
            waiter.join().expect("waiter");
        });
    }

    /// flush(wait) racing close: the event was queued before shutdown began, and the
    /// event thread may be inside its callback (queue already empty) when shutdown flags.
    #[test]
    fn loom_wait_delivered_does_not_return_while_shutdown_finds_the_queue_empty() {
        loom::model(|| {
            let (notifier, recorder) = start();
            notifier.emit(event(100));
            let waiter = {
                let (notifier, recorder) = (Arc::clone(&notifier), Arc::clone(&recorder));
                thread::spawn(move || {
                    notifier.wait_delivered(1);
                    assert_eq!(recorder.seen(), vec![100], "returned before delivery");
                })
            };
            notifier.shutdown();
            waiter.join().expect("waiter");
        });
    }

    /// Whatever was accepted before shutdown returned was delivered by then, and no
    /// callback runs once it has returned, even with an emitter still going.
    #[test]
    fn loom_shutdown_delivers_everything_queued_and_nothing_runs_after_it() {
        loom::model(|| {
            let (notifier, recorder) = start();
            let emitter = {
                let notifier = Arc::clone(&notifier);
                thread::spawn(move || {
                    notifier.emit(event(100));
                    notifier.emit(event(101));
                })
            };
            notifier.shutdown();
            let at_shutdown = recorder.seen();
            emitter.join().expect("emitter");
            assert_eq!(
                recorder.seen(),
                at_shutdown,
                "a callback ran after shutdown"
            );
            assert_eq!(
                at_shutdown.len() as u64,
                notifier.enqueued(),
                "an accepted event was never delivered: {at_shutdown:?}"
            );
            let prefix: &[u64] = &[100, 101][..at_shutdown.len()];
            assert_eq!(at_shutdown, prefix, "delivered in order");
        });
    }

    /// Calls `wait_delivered` from inside the callback, as `flush(wait)` in a listener
    /// would: it must see it is on the event thread and return, not wait for itself.
    #[derive(Default)]
    struct Reentrant {
        notifier: Mutex<Weak<Notifier>>,
        returned: Mutex<u32>,
    }

    impl EventListener for Reentrant {
        fn on_table_file_deleted(&self, _file_number: FileNumber, _path: &Path) {
            let notifier = self.notifier.lock().upgrade();
            if let Some(notifier) = notifier {
                notifier.wait_delivered(notifier.enqueued());
                *self.returned.lock() += 1;
            }
        }
    }

    #[test]
    fn loom_wait_delivered_inside_a_callback_returns_at_once() {
        loom::model(|| {
            let reentrant = Arc::new(Reentrant::default());
            let listener: Arc<dyn EventListener> = reentrant.clone();
            let notifier = Notifier::start(vec![listener], info_log()).expect("start");
            *reentrant.notifier.lock() = Arc::downgrade(&notifier);
            notifier.emit(event(100));
            notifier.wait_delivered(notifier.enqueued());
            assert_eq!(*reentrant.returned.lock(), 1);
            notifier.shutdown();
        });
    }

    #[test]
    fn loom_emit_after_shutdown_is_dropped() {
        loom::model(|| {
            let (notifier, recorder) = start();
            notifier.emit(event(100));
            notifier.shutdown();
            notifier.emit(event(101));
            notifier.wait_delivered(notifier.enqueued()); // must not hang
            assert_eq!(recorder.seen(), vec![100]);
            assert_eq!(notifier.enqueued(), 1, "the late event was not counted");
        });
    }
}
