//! The engine's locks, condition variables and threads, swappable for loom's model-checked
//! ones: parking_lot and `std::thread` normally, adapters over `loom` under `--cfg loom`
//! with the same (parking_lot-shaped) API, so code written against this module runs
//! unchanged in `loom::model`.
//!
//! API (both builds):
//! - `Mutex<T>`: `new`, `lock() -> MutexGuard`, `try_lock() -> Option<MutexGuard>`,
//!   `get_mut`, `into_inner`, `Default`.
//! - `MutexGuard<'_, T>`: `Deref`/`DerefMut`; `MutexGuard::unlocked(&mut guard, f)` runs
//!   `f` with the lock released and retakes it.
//! - `Condvar`: `new`, `wait(&mut guard)`, `notify_one()`, `notify_all()`, `Default`.
//!   What `notify_*` return differs between the builds (parking_lot: whether / how many
//!   threads woke; loom: nothing): use them as statements.
//! - `atomic`: `AtomicU64`, `AtomicUsize`, `Ordering`.
//! - `thread`: `Builder` (`new().name(..).spawn(f) -> io::Result<JoinHandle>`), `spawn`,
//!   `JoinHandle` (`join`, `thread().id()`), `current().id()`, `ThreadId`, `yield_now`,
//!   `sleep` (a yield under loom, which has no clock).
//!
//! Timed waits are left out on purpose: loom cannot model a timeout.

// The shim is wider than its first user (the event thread); the writer queue and the
// background worker move onto it later.
#![allow(dead_code, unused_imports)]

#[cfg(not(loom))]
pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use self::loom_adapter::{Condvar, Mutex, MutexGuard};

/// Atomics: `std`'s normally, loom's in a model (the memtable's arena and skiplist).
pub(crate) mod atomic {
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
}

/// Threads: `std::thread` normally, `loom::thread` in a model.
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, sleep, spawn, yield_now, Builder, JoinHandle, ThreadId};

    #[cfg(loom)]
    pub(crate) use loom::thread::{current, spawn, yield_now, Builder, JoinHandle, ThreadId};

    /// loom has no clock: a sleep is a chance for other threads to run.
    #[cfg(loom)]
    pub(crate) fn sleep(_: std::time::Duration) {
        yield_now();
    }
}

#[cfg(loom)]
mod loom_adapter {
    use std::ops::{Deref, DerefMut};
    use std::sync::PoisonError;

    /// parking_lot's `Mutex` API over `loom::sync::Mutex`. A panic inside a model fails
    /// the model anyway, so poisoning is looked through.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T> {
        inner: loom::sync::Mutex<T>,
    }

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex {
                inner: loom::sync::Mutex::new(value),
            }
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            MutexGuard {
                mutex: &self.inner,
                guard: Some(guard),
            }
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            let guard = match self.inner.try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return None,
            };
            Some(MutexGuard {
                mutex: &self.inner,
                guard: Some(guard),
            })
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.inner.get_mut().unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn into_inner(self) -> T {
            self.inner
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
        }
    }

    /// Holds loom's guard except while `Condvar::wait` or `unlocked` has handed it back.
    pub(crate) struct MutexGuard<'a, T> {
        mutex: &'a loom::sync::Mutex<T>,
        guard: Option<loom::sync::MutexGuard<'a, T>>,
    }

    impl<'a, T> MutexGuard<'a, T> {
        /// Runs `f` with the lock released, then takes it again.
        pub(crate) fn unlocked<F, U>(this: &mut Self, f: F) -> U
        where
            F: FnOnce() -> U,
        {
            this.guard = None;
            let result = f();
            this.guard = Some(this.mutex.lock().unwrap_or_else(PoisonError::into_inner));
            result
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.guard
                .as_deref()
                .expect("a MutexGuard holds its lock outside wait and unlocked")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.guard
                .as_deref_mut()
                .expect("a MutexGuard holds its lock outside wait and unlocked")
        }
    }

    /// parking_lot's `Condvar` API over `loom::sync::Condvar`.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar {
        inner: loom::sync::Condvar,
    }

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar {
                inner: loom::sync::Condvar::new(),
            }
        }

        /// Releases the guard's lock, waits for a notification, retakes the lock.
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let held = guard
                .guard
                .take()
                .expect("a MutexGuard holds its lock outside wait and unlocked");
            let held = self
                .inner
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
            guard.guard = Some(held);
        }

        pub(crate) fn notify_one(&self) {
            self.inner.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.inner.notify_all();
        }
    }
}
