//! The bridge from the engine's `EventListener` to a Python listener object: its
//! `on_flush_begin`, `on_flush_completed`, `on_write_stall` and `on_background_error`
//! methods, looked up once at open and called on the engine's event thread with the GIL
//! taken. An exception in a callback goes to `sys.unraisablehook`; the engine goes on.

use std::sync::{Condvar, Mutex, MutexGuard};

use pyo3::exceptions::PyTypeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::PyTraverseError;
use siltdb::{EventListener, FlushJobInfo};

use crate::errors::to_py_err;
use crate::events::{FlushInfo, WriteStallInfo};

/// The callback names, in the order of `Callback`'s variants.
const METHOD_NAMES: [&str; 4] = [
    "on_flush_begin",
    "on_flush_completed",
    "on_write_stall",
    "on_background_error",
];

#[derive(Clone, Copy)]
enum Callback {
    FlushBegin = 0,
    FlushCompleted = 1,
    WriteStall = 2,
    BackgroundError = 3,
}

/// Keeps callbacks out of interpreter finalization. A thread that wants the GIL once the
/// interpreter is finalizing never gets it back: CPython ends it (aborting the process,
/// as the unwind meets Rust frames) or pyo3 parks it for good (and close, which joins
/// the event thread, hangs). abi3 cannot ask whether the interpreter is finalizing, so an
/// `atexit` hook closes this gate first and waits, GIL released, for the callbacks that
/// are running or waiting for the GIL to finish.
struct ExitGate {
    exiting: bool,
    /// Callbacks between `enter` and the end of their call into Python.
    in_flight: usize,
}

static EXIT_GATE: Mutex<ExitGate> = Mutex::new(ExitGate {
    exiting: false,
    in_flight: 0,
});
static EXIT_GATE_CHANGED: Condvar = Condvar::new();

fn exit_gate() -> MutexGuard<'static, ExitGate> {
    // The counters stay consistent even if a holder panicked.
    EXIT_GATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Permission to take the GIL on a background thread; `None` once Python is exiting.
pub struct InFlight(());

impl InFlight {
    pub fn enter() -> Option<InFlight> {
        let mut gate = exit_gate();
        if gate.exiting {
            return None;
        }
        gate.in_flight += 1;
        Some(InFlight(()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut gate = exit_gate();
        gate.in_flight -= 1;
        if gate.in_flight == 0 {
            EXIT_GATE_CHANGED.notify_all();
        }
    }
}

/// Registered with `atexit` when the module is imported: no callback starts afterwards,
/// and the ones under way have finished when it returns.
#[pyfunction]
pub fn stop_callbacks_at_exit(py: Python<'_>) {
    exit_gate().exiting = true;
    py.detach(|| {
        let mut gate = exit_gate();
        while gate.in_flight > 0 {
            gate = EXIT_GATE_CHANGED
                .wait(gate)
                .unwrap_or_else(|e| e.into_inner());
        }
    });
}

/// A Python listener object's callbacks, as an engine `EventListener`.
///
/// Thread safety: the bound methods sit behind a mutex that is only taken with the GIL
/// held and never across a call into Python, so `traverse` (which may not block) finds it
/// free. `release` drops them, after which every event is skipped.
pub struct PyListener {
    /// The bound methods found at open, indexed by `Callback`; `None` once released.
    methods: Mutex<Option<[Option<Py<PyAny>>; 4]>>,
    /// Which methods exist, known without the GIL so absent ones cost nothing.
    present: [bool; 4],
}

impl PyListener {
    /// Looks up the callback methods of `obj`. TypeError if one is not callable or none
    /// exists (almost certainly the wrong object).
    pub fn new(obj: &Bound<'_, PyAny>) -> PyResult<PyListener> {
        let mut methods: [Option<Py<PyAny>>; 4] = Default::default();
        for (slot, name) in methods.iter_mut().zip(METHOD_NAMES) {
            if !obj.hasattr(name)? {
                continue;
            }
            let method = obj.getattr(name)?;
            if !method.is_callable() {
                return Err(PyTypeError::new_err(format!(
                    "listener.{name} must be callable, not {}",
                    method.get_type().name()?
                )));
            }
            *slot = Some(method.unbind());
        }
        if methods.iter().all(Option::is_none) {
            return Err(PyTypeError::new_err(format!(
                "listener must have at least one of the methods {}; {} has none",
                METHOD_NAMES.join(", "),
                obj.get_type().name()?
            )));
        }
        let present = methods.each_ref().map(Option::is_some);
        Ok(PyListener {
            methods: Mutex::new(Some(methods)),
            present,
        })
    }

    /// Drops the Python objects (breaking a listener -> DB -> listener cycle); later
    /// events are skipped. Call with the GIL held so the references go at once.
    pub fn release(&self) {
        let methods = self.lock().take();
        drop(methods);
    }

    /// Visits the held Python objects for the cycle collector. Never blocks: if the lock
    /// is taken (it cannot be while the collector holds the GIL) nothing is visited.
    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(methods) = self.methods.try_lock() {
            for method in methods.iter().flatten() {
                visit.call(method)?;
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<[Option<Py<PyAny>>; 4]>> {
        // A panic while holding the lock cannot leave the array half-written.
        self.methods.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls one callback with the argument `make_arg` builds, reporting any exception
    /// through `sys.unraisablehook`. Skipped once the interpreter is shutting down.
    fn call<F>(&self, which: Callback, make_arg: F)
    where
        F: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>>,
    {
        if !self.present[which as usize] {
            return;
        }
        let Some(_in_flight) = InFlight::enter() else {
            return;
        };
        Python::try_attach(|py| {
            let method = self
                .lock()
                .as_ref()
                .and_then(|m| m[which as usize].as_ref().map(|f| f.clone_ref(py)));
            let Some(method) = method else { return };
            let method = method.bind(py);
            if let Err(err) = make_arg(py).and_then(|arg| method.call1((arg,))) {
                err.write_unraisable(py, Some(method));
            }
        });
    }
}

impl EventListener for PyListener {
    fn on_flush_begin(&self, info: &FlushJobInfo) {
        self.call(Callback::FlushBegin, |py| {
            Ok(Bound::new(py, FlushInfo::new(py, info)?)?.into_any())
        });
    }

    fn on_flush_completed(&self, info: &FlushJobInfo) {
        self.call(Callback::FlushCompleted, |py| {
            Ok(Bound::new(py, FlushInfo::new(py, info)?)?.into_any())
        });
    }

    fn on_write_stall_changed(&self, info: &siltdb::WriteStallInfo) {
        self.call(Callback::WriteStall, |py| {
            Ok(Bound::new(py, WriteStallInfo::new(info))?.into_any())
        });
    }

    fn on_background_error(&self, error: &siltdb::Error) {
        self.call(Callback::BackgroundError, |py| {
            Ok(to_py_err(py, error.clone())
                .into_value(py)
                .into_bound(py)
                .into_any())
        });
    }
}
