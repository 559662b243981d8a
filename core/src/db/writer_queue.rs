//! The writer queue behind group commit: writers join in arrival order under the DB mutex;
//! the one at the front leads, takes the requests queued right behind it, does the work
//! with the mutex released, then hands each follower its result and wakes the next
//! leader. Generic over request and result so that loom can model-check these hand-offs
//! without the rest of the engine (`RUSTFLAGS="--cfg loom" cargo test --lib loom`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::sync::{Condvar, MutexGuard};

/// The queue, kept inside the state the DB mutex guards.
pub(crate) struct WriterQueue<R, T> {
    entries: VecDeque<Entry<R>>,
    /// Results a leader left for the followers it wrote for, by writer id.
    results: HashMap<u64, T>,
    next_id: u64,
}

struct Entry<R> {
    id: u64,
    /// Taken by the leader of the group that carries it.
    request: Option<R>,
    sync: bool,
    cv: Arc<Condvar>,
}

/// A writer's place in the queue.
pub(crate) struct Ticket {
    id: u64,
    cv: Arc<Condvar>,
}

/// A follower taken into a leader's group: what the leader needs to hand it its result.
pub(crate) struct Follower {
    id: u64,
    cv: Arc<Condvar>,
}

/// What a waiting writer finds when it wakes.
pub(crate) enum Turn<T> {
    /// It is at the front with its request still queued: it leads a group.
    Lead,
    /// A leader wrote its request; this is the outcome.
    Done(T),
}

impl<R, T> Default for WriterQueue<R, T> {
    fn default() -> Self {
        WriterQueue {
            entries: VecDeque::new(),
            results: HashMap::new(),
            next_id: 0,
        }
    }
}

impl<R, T> WriterQueue<R, T> {
    /// No writer is queued (close waits for this).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writers queued, the leader included.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Queues `request` at the back. `cv` wakes this writer; one per thread suffices,
    /// since a thread waits for one write at a time.
    pub(crate) fn join(&mut self, request: R, sync: bool, cv: Arc<Condvar>) -> Ticket {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push_back(Entry {
            id,
            request: Some(request),
            sync,
            cv: Arc::clone(&cv),
        });
        Ticket { id, cv }
    }

    /// Blocks (releasing the mutex) until this writer leads or has been written for.
    /// `queue` finds the queue inside the guarded state.
    pub(crate) fn wait_turn<S>(
        st: &mut MutexGuard<'_, S>,
        queue: impl Fn(&mut S) -> &mut WriterQueue<R, T>,
        ticket: &Ticket,
    ) -> Turn<T> {
        loop {
            let q = queue(st);
            if !q.results.is_empty() {
                if let Some(result) = q.results.remove(&ticket.id) {
                    return Turn::Done(result);
                }
            }
            if q.entries.front().is_some_and(|w| w.id == ticket.id) {
                return Turn::Lead;
            }
            ticket.cv.wait(st);
        }
    }

    /// The leader's own request and whether it asked for a sync. REQUIRES: `Turn::Lead`.
    pub(crate) fn take_leader_request(&mut self) -> Option<(R, bool)> {
        let front = self.entries.front_mut()?;
        Some((front.request.take()?, front.sync))
    }

    /// Takes the writer right behind the leader into its group if `accept(request, sync)`
    /// says so; `None` ends the group.
    pub(crate) fn take_follower(
        &mut self,
        accept: impl FnOnce(&R, bool) -> bool,
    ) -> Option<(R, Follower)> {
        let next = self.entries.get(1)?;
        if !accept(next.request.as_ref()?, next.sync) {
            return None;
        }
        let entry = self.entries.remove(1)?;
        let request = entry.request?;
        Some((
            request,
            Follower {
                id: entry.id,
                cv: entry.cv,
            },
        ))
    }

    /// Hands every follower of a group the group's result and wakes it.
    pub(crate) fn complete(&mut self, followers: Vec<Follower>, result: &T)
    where
        T: Clone,
    {
        for follower in followers {
            self.results.insert(follower.id, result.clone());
            follower.cv.notify_one();
        }
    }

    /// The leader leaves the front; the next writer there becomes the next leader.
    pub(crate) fn finish_lead(&mut self, ticket: &Ticket) {
        if self.entries.front().is_some_and(|w| w.id == ticket.id) {
            self.entries.pop_front();
        }
        if let Some(next) = self.entries.front() {
            next.cv.notify_one();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn cv() -> Arc<Condvar> {
        Arc::new(Condvar::new())
    }

    #[test]
    fn the_first_writer_leads_and_takes_followers_in_order_until_refused() {
        let mutex = crate::sync::Mutex::new(WriterQueue::<u32, u32>::default());
        let mut st = mutex.lock();
        let a = st.join(1, false, cv());
        let _b = st.join(2, false, cv());
        let _c = st.join(3, true, cv());
        assert!(matches!(
            WriterQueue::wait_turn(&mut st, |q| q, &a),
            Turn::Lead
        ));
        assert_eq!(st.take_leader_request(), Some((1, false)));
        assert_eq!(st.take_leader_request(), None, "taken once");
        let (two, f2) = st.take_follower(|_, sync| !sync).expect("2 joins");
        assert_eq!(two, 2);
        assert!(
            st.take_follower(|_, sync| !sync).is_none(),
            "3 syncs: refused"
        );
        st.complete(vec![f2], &7);
        st.finish_lead(&a);
        assert_eq!(st.results.get(&1), Some(&7));
        assert_eq!(st.entries.len(), 1, "3 is now at the front");
        assert_eq!(st.entries.front().map(|e| e.id), Some(2));
    }

    #[test]
    fn a_written_follower_gets_its_result_without_leading() {
        let mutex = crate::sync::Mutex::new(WriterQueue::<u32, &str>::default());
        let mut st = mutex.lock();
        let a = st.join(1, false, cv());
        let b = st.join(2, false, cv());
        let _ = st.take_leader_request();
        let (_, f) = st.take_follower(|_, _| true).expect("follower");
        st.complete(vec![f], &"written");
        st.finish_lead(&a);
        assert!(st.is_empty());
        assert!(matches!(
            WriterQueue::wait_turn(&mut st, |q| q, &b),
            Turn::Done("written")
        ));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::{thread, Mutex};

    /// The state of the model: the queue under the "DB mutex", and a WAL under its own
    /// lock that leaders append to with the DB mutex released.
    #[derive(Default)]
    struct State {
        queue: WriterQueue<Vec<u32>, Result<(), ()>>,
    }

    /// One writer: joins, waits, leads a group (appending every request in it to `wal`
    /// with the state lock released) or is written for.
    fn write(state: &Mutex<State>, wal: &Mutex<Vec<u32>>, cv: &Arc<Condvar>, items: Vec<u32>) {
        let mut st = state.lock();
        let ticket = st.queue.join(items, false, Arc::clone(cv));
        match WriterQueue::wait_turn(&mut st, |s| &mut s.queue, &ticket) {
            Turn::Done(result) => assert!(result.is_ok()),
            Turn::Lead => {
                let (mut group, _) = st.queue.take_leader_request().expect("leader's request");
                let mut followers = Vec::new();
                while let Some((more, f)) = st.queue.take_follower(|_, _| true) {
                    group.extend(more);
                    followers.push(f);
                }
                MutexGuard::unlocked(&mut st, || wal.lock().extend(group));
                st.queue.complete(followers, &Ok(()));
                st.queue.finish_lead(&ticket);
            }
        }
    }

    #[test]
    fn every_write_lands_once_in_order_before_its_writer_returns() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound.get_or_insert(3);
        model.check(|| {
            let state = Arc::new(Mutex::new(State::default()));
            let wal = Arc::new(Mutex::new(Vec::new()));
            // One thread writes twice (its order must hold), the main thread once.
            let writer = {
                let (state, wal) = (Arc::clone(&state), Arc::clone(&wal));
                thread::spawn(move || {
                    let cv = Arc::new(Condvar::new());
                    for item in [1, 2] {
                        write(&state, &wal, &cv, vec![item]);
                        // Acknowledged means written.
                        assert!(wal.lock().contains(&item), "{item} returned unwritten");
                    }
                })
            };
            let cv = Arc::new(Condvar::new());
            write(&state, &wal, &cv, vec![9]);
            assert!(wal.lock().contains(&9), "9 returned unwritten");
            writer.join().expect("writer thread");
            let wal = wal.lock();
            let mut sorted = wal.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![1, 2, 9], "each write exactly once");
            let mine: Vec<u32> = wal.iter().copied().filter(|&x| x < 9).collect();
            assert_eq!(mine, vec![1, 2], "a thread's writes keep their order");
            assert!(state.lock().queue.is_empty());
        });
    }
}
