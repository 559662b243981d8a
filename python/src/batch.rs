//! `siltdb.WriteBatch`: puts and deletes collected in Python and applied atomically by
//! `write()` or at the end of a with block (plyvel's semantics: with transaction=True an
//! exception in the block discards the batch; otherwise what was added is written anyway).

use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use siltdb::{WriteBatch, WriteOptions};

use crate::bytes_like::bytes_arg;
use crate::db::PyDb;
use crate::errors::to_py_err;
use crate::iterator::concat;

/// A group of puts and deletes written to the DB atomically: after a crash either all of
/// them are present or none.
///
/// Made by DB.write_batch() or PrefixedDB.write_batch() (whose keys get the prefix).
/// Usable as a context manager: the batch is written when the with block ends, unless
/// transaction=True and the block raised, in which case it is discarded.
#[pyclass(module = "siltdb", name = "WriteBatch", frozen)]
pub struct PyWriteBatch {
    db: Py<PyDb>,
    prefix: Option<Vec<u8>>,
    transaction: bool,
    sync: bool,
    batch: Mutex<WriteBatch>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A batch larger than this is not kept for reuse: 1 MiB, the engine's largest write
/// group, is far more than a typical batch, and a spare holds its memory until reused.
const MAX_SPARE_BYTES: usize = 1 << 20;

/// One emptied batch buffer kept by a DB for its next WriteBatch. Filling a fresh batch
/// reallocates (and copies) its buffer a dozen times on the way to a typical size of
/// 100 KiB or so; a reused one already has the room.
#[derive(Default)]
pub struct SpareBatch(Mutex<Option<WriteBatch>>);

impl SpareBatch {
    /// The spare buffer (emptied), or a new batch when there is none.
    pub fn take(&self) -> WriteBatch {
        lock(&self.0).take().unwrap_or_default()
    }

    /// Keeps `batch`'s buffer, emptied, for the next `take` unless it is too large.
    pub fn give_back(&self, mut batch: WriteBatch) {
        if batch.approximate_size() <= MAX_SPARE_BYTES {
            batch.clear();
            *lock(&self.0) = Some(batch);
        }
    }

    /// Frees the spare buffer (at close).
    pub fn clear(&self) {
        lock(&self.0).take();
    }
}

impl PyWriteBatch {
    pub fn new(db: Py<PyDb>, prefix: Option<Vec<u8>>, transaction: bool, sync: bool) -> Self {
        let batch = Mutex::new(db.get().spare_batch().take());
        PyWriteBatch {
            db,
            prefix,
            transaction,
            sync,
            batch,
        }
    }

    /// ClosedError (a RuntimeError) once the DB is closed, as plyvel checks on every call.
    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.db.get().is_closed() {
            return Err(to_py_err(py, siltdb::Error::Closed));
        }
        Ok(())
    }

    /// Runs `f` on the key as stored: borrowed from the caller's bytes, or with the
    /// prefix prepended (the one copy a PrefixedDB batch needs).
    fn with_full_key<T>(&self, key: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> T) -> PyResult<T> {
        let key = bytes_arg(key, "key")?;
        Ok(match &self.prefix {
            Some(p) => f(&concat(p, key.as_bytes())),
            None => f(key.as_bytes()),
        })
    }

    /// Hands `batch` to the engine with the GIL released (the write may wait for the
    /// log, a flush or other writers).
    fn write_to_db(&self, py: Python<'_>, batch: &WriteBatch) -> PyResult<()> {
        let engine = self.db.get().engine();
        let opts = WriteOptions { sync: self.sync };
        py.detach(|| engine.write(&opts, batch))
            .map_err(|e| to_py_err(py, e))
    }
}

#[pymethods]
impl PyWriteBatch {
    /// Add a put of value under key.
    fn put(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.check_open(py)?;
        let value = bytes_arg(value, "value")?;
        self.with_full_key(key, |key| lock(&self.batch).put(key, value.as_bytes()))
    }

    /// Add a delete of key.
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_open(py)?;
        self.with_full_key(key, |key| lock(&self.batch).delete(key))
    }

    /// Drop everything added so far.
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        lock(&self.batch).clear();
        Ok(())
    }

    /// Add every put and delete of other (another WriteBatch) after this batch's.
    fn append(&self, py: Python<'_>, other: &Bound<'_, PyWriteBatch>) -> PyResult<()> {
        self.check_open(py)?;
        // Copied first: other may be this very batch, whose lock we take next.
        let records = lock(&other.get().batch).clone();
        lock(&self.batch).append(&records);
        Ok(())
    }

    /// The size in bytes of the batch as it will be written to the log.
    fn approximate_size(&self) -> usize {
        lock(&self.batch).approximate_size()
    }

    /// Apply the batch to the DB atomically (with sync as given to write_batch()). The
    /// batch keeps its contents; clear() empties it.
    fn write(&self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        // A copy: the lock is not held across the write, and the batch stays as it is.
        let batch = lock(&self.batch).clone();
        self.write_to_db(py, &batch)?;
        self.db.get().spare_batch().give_back(batch);
        Ok(())
    }

    /// Return the batch itself; it is written when the with block ends.
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().check_open(slf.py())?;
        Ok(slf)
    }

    /// Write the batch and clear it, except with transaction=True when the block raised
    /// (then only clear it). Exceptions from the with block propagate.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.check_open(py)?;
        let discard = self.transaction && !exc_type.is_none();
        // Taken rather than copied: the batch is empty after the block either way.
        let batch = std::mem::take(&mut *lock(&self.batch));
        if discard {
            self.db.get().spare_batch().give_back(batch);
            return Ok(false);
        }
        if let Err(e) = self.write_to_db(py, &batch) {
            // Not written: keep the contents (before anything added meanwhile), as write()
            // would have.
            let mut current = lock(&self.batch);
            let added = std::mem::replace(&mut *current, batch);
            current.append(&added);
            return Err(e);
        }
        self.db.get().spare_batch().give_back(batch);
        Ok(false)
    }
}
