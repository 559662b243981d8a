//! `siltdb.Snapshot`: a consistent read-only view of a DB (or of a PrefixedDB's keys) as of
//! its creation, kept until `close()`/`release()`, the end of its with block, or the DB's
//! close. The engine's `Snapshot` sits in a `Mutex<Option<..>>` so any thread may release it.

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use siltdb::{ReadOptions, Snapshot, SnapshotId};

use crate::bytes_like::bytes_arg;
use crate::db::PyDb;
use crate::errors::to_py_err;
use crate::iterator::{concat, IterArgs, PyIterator, PyRawIterator};

/// A read-only view of the database as of DB.snapshot() (or PrefixedDB.snapshot(), whose
/// keys it then reads under the prefix).
///
/// Later writes, flushes and compactions do not change what it reads. Release it with
/// close() or release() (or a with block) so compaction can drop the entries it pins;
/// afterwards its methods raise RuntimeError, as they do once the DB is closed.
#[pyclass(module = "siltdb", name = "Snapshot", frozen)]
pub struct PySnapshot {
    db: Py<PyDb>,
    prefix: Option<Vec<u8>>,
    snapshot: Mutex<Option<Snapshot>>,
}

fn lock(m: &Mutex<Option<Snapshot>>) -> MutexGuard<'_, Option<Snapshot>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PySnapshot {
    pub fn create(
        py: Python<'_>,
        db: &Bound<'_, PyDb>,
        prefix: Option<Vec<u8>>,
    ) -> PyResult<PySnapshot> {
        let engine = db.get().engine();
        let snapshot = py
            .detach(|| engine.snapshot())
            .map_err(|e| to_py_err(py, e))?;
        Ok(PySnapshot {
            db: db.clone().unbind(),
            prefix,
            snapshot: Mutex::new(Some(snapshot)),
        })
    }

    /// The id to read at; RuntimeError once released or once the DB is closed.
    fn id(&self, py: Python<'_>) -> PyResult<SnapshotId> {
        if self.db.get().is_closed() {
            return Err(to_py_err(py, siltdb::Error::Closed));
        }
        lock(&self.snapshot)
            .as_ref()
            .map(Snapshot::id)
            .ok_or_else(|| PyRuntimeError::new_err("Database or snapshot is closed"))
    }
}

#[pymethods]
impl PySnapshot {
    /// The value stored under key when the snapshot was taken, or default.
    #[pyo3(signature = (key, default = None, *, verify_checksums = false, fill_cache = true))]
    fn get(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        default: Option<Py<PyAny>>,
        verify_checksums: bool,
        fill_cache: bool,
    ) -> PyResult<Py<PyAny>> {
        let key = bytes_arg(key, "key")?;
        // Borrowed unless a prefix has to go in front.
        let key = match &self.prefix {
            Some(p) => Cow::Owned(concat(p, key.as_bytes())),
            None => Cow::Borrowed(key.as_bytes()),
        };
        let opts = ReadOptions {
            verify_checksums,
            fill_cache,
            snapshot: Some(self.id(py)?),
        };
        self.db.get().get_with(py, &key, default, &opts)
    }

    /// An Iterator over the snapshot's view; the same keywords as DB.iterator().
    #[pyo3(signature = (
        *, reverse = false, start = None, stop = None, include_start = true,
        include_stop = false, prefix = None, include_key = true, include_value = true,
        verify_checksums = false, fill_cache = true,
    ))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword arguments one to one
    fn iterator(
        &self,
        py: Python<'_>,
        reverse: bool,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        include_start: bool,
        include_stop: bool,
        prefix: Option<&Bound<'_, PyAny>>,
        include_key: bool,
        include_value: bool,
        verify_checksums: bool,
        fill_cache: bool,
    ) -> PyResult<PyIterator> {
        let id = self.id(py)?;
        let args = IterArgs {
            reverse,
            start,
            stop,
            include_start,
            include_stop,
            prefix,
            include_key,
            include_value,
            verify_checksums,
            fill_cache,
        };
        PyIterator::create(py, self.db.bind(py), self.prefix.clone(), Some(id), args)
    }

    /// A RawIterator over the snapshot's view (whole keys: a PrefixedDB's prefix is not
    /// applied, as plyvel).
    #[pyo3(signature = (*, verify_checksums = false, fill_cache = true))]
    fn raw_iterator(
        &self,
        py: Python<'_>,
        verify_checksums: bool,
        fill_cache: bool,
    ) -> PyResult<PyRawIterator> {
        let id = self.id(py)?;
        PyRawIterator::create(py, self.db.bind(py), Some(id), verify_checksums, fill_cache)
    }

    /// Iterate over every (key, value) of the snapshot, as iterator().
    fn __iter__(&self, py: Python<'_>) -> PyResult<PyIterator> {
        self.iterator(
            py, false, None, None, true, false, None, true, true, false, true,
        )
    }

    /// Release the snapshot. Idempotent; a no-op once the DB is closed.
    fn close(&self, py: Python<'_>) {
        let snapshot = lock(&self.snapshot).take();
        py.detach(|| drop(snapshot));
    }

    /// The same as close().
    fn release(&self, py: Python<'_>) {
        self.close(py);
    }

    /// Return the snapshot itself, released when the with block ends.
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Release the snapshot; exceptions from the with block propagate.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close(py);
        false
    }
}
