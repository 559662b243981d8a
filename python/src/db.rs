//! `siltdb.DB`: one open database. Each method converts its arguments, calls one engine
//! method with the GIL released, and converts the result or the error.
//!
//! Thread safety: the engine's `Db` is `Send + Sync`, so one `DB` object may be used from
//! many Python threads at once; `close()` from one thread makes later calls in the others
//! raise `siltdb.ClosedError` (a `RuntimeError`).
//!
//! Every wait for the engine's threads (close, and the implicit close when the object is
//! freed) happens with the GIL released: a listener callback may be waiting for the GIL on
//! the event thread, and close waits for that callback.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use pyo3::PyTraverseError;
use siltdb::{CompressionType, Db, ErrorKind, FlushOptions, Options, ReadOptions, WriteOptions};

use crate::bytes_like::to_bytes;
use crate::errors::to_py_err;
use crate::listener::{InFlight, PyListener};
use crate::properties::{property_name, stats_dict};

/// A LevelDB-compatible database directory, open for reading and writing.
///
/// Options left as None keep the engine's defaults (LevelDB's): a 4 MiB write buffer,
/// 1000 open files, 4 KiB blocks and a 10-bits-per-key bloom filter (0 writes none).
/// compression is 'snappy' or None. Keys and values are bytes-like objects; reads
/// return bytes. Usable as a context manager, which closes the database on exit.
///
/// listener is any object with some of the methods on_flush_begin(info),
/// on_flush_completed(info) (a siltdb.FlushInfo), on_write_stall(info) (a
/// siltdb.WriteStallInfo) and on_background_error(err) (a siltdb.Error). They run on the
/// engine's event thread, in order, after the fact; flush() returns only after the
/// flush's on_flush_completed ran. A callback may call get, put, delete, get_property and
/// stats on this DB; flush(wait=True) and close() raise siltdb.BusyError there. An
/// exception in a callback goes to sys.unraisablehook. A listener that keeps a reference
/// to the DB makes a cycle: close() (or the with block) breaks it.
///
/// flush_on_close=True writes the buffer of recent writes to a table at close (a flush
/// with reason 'shutdown') instead of leaving it in the log.
#[pyclass(module = "siltdb", name = "DB", frozen)]
pub struct PyDb {
    db: Db,
    /// The directory as the caller named it (after os.fsdecode), for `name` and repr.
    name: Py<PyString>,
    /// The engine holds this too; kept here to release its Python objects at close and to
    /// show them to the cycle collector.
    listener: Option<Arc<PyListener>>,
}

#[pymethods]
impl PyDb {
    #[new]
    #[pyo3(signature = (
        name,
        *,
        create_if_missing = false,
        error_if_exists = false,
        paranoid_checks = false,
        write_buffer_size = None,
        max_open_files = None,
        block_size = None,
        compression = Some(String::from("snappy")),
        bloom_filter_bits = None,
        listener = None,
        flush_on_close = false,
    ))]
    #[pyo3(
        text_signature = "(name, *, create_if_missing=False, error_if_exists=False, \
        paranoid_checks=False, write_buffer_size=None, max_open_files=None, block_size=None, \
        compression='snappy', bloom_filter_bits=None, listener=None, flush_on_close=False)"
    )]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword arguments one to one
    fn new(
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        create_if_missing: bool,
        error_if_exists: bool,
        paranoid_checks: bool,
        write_buffer_size: Option<usize>,
        max_open_files: Option<usize>,
        block_size: Option<usize>,
        compression: Option<String>,
        bloom_filter_bits: Option<usize>,
        listener: Option<&Bound<'_, PyAny>>,
        flush_on_close: bool,
    ) -> PyResult<Self> {
        // fsdecode accepts str, bytes and os.PathLike, and raises TypeError for the rest.
        let name = py
            .import("os")?
            .call_method1("fsdecode", (name,))?
            .cast_into::<PyString>()?;
        let path: PathBuf = name.extract()?;

        let listener = listener.map(PyListener::new).transpose()?.map(Arc::new);
        let defaults = Options::default();
        let mut options = Options {
            create_if_missing,
            error_if_exists,
            paranoid_checks,
            write_buffer_size: write_buffer_size.unwrap_or(defaults.write_buffer_size),
            max_open_files: max_open_files.unwrap_or(defaults.max_open_files),
            block_size: block_size.unwrap_or(defaults.block_size),
            compression: compression_type(compression.as_deref())?,
            bloom_bits_per_key: bloom_filter_bits.unwrap_or(defaults.bloom_bits_per_key),
            flush_on_close,
            ..defaults
        };
        if let Some(listener) = &listener {
            options = options.listener(listener.clone());
        }
        // Released: recovery's flush events are delivered before open returns.
        let db = py
            .detach(|| Db::open(&path, options))
            .map_err(|e| to_py_err(py, e))?;
        Ok(PyDb {
            db,
            name: name.unbind(),
            listener,
        })
    }

    /// Store value under key, replacing any earlier value.
    ///
    /// With sync=True the write-ahead log is fsynced before returning, so the write
    /// survives a machine crash, not just a process crash.
    #[pyo3(signature = (key, value, *, sync = false))]
    fn put(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        sync: bool,
    ) -> PyResult<()> {
        let key = to_bytes(key, "key")?;
        let value = to_bytes(value, "value")?;
        let (key, value) = (key.as_bytes(), value.as_bytes());
        let opts = WriteOptions { sync };
        py.detach(|| self.db.put(&opts, key, value))
            .map_err(|e| to_py_err(py, e))
    }

    /// Return the value stored under key as bytes, or default if the key is absent.
    ///
    /// A key stored with an empty value returns b'', not default.
    #[pyo3(signature = (key, default = None))]
    fn get(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        default: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let key = to_bytes(key, "key")?;
        let key = key.as_bytes();
        let found = py
            .detach(|| self.db.get(&ReadOptions::default(), key))
            .map_err(|e| to_py_err(py, e))?;
        Ok(match found {
            Some(value) => PyBytes::new(py, &value).into_any().unbind(),
            None => default.unwrap_or_else(|| py.None()),
        })
    }

    /// Remove key. Deleting a missing key is not an error.
    #[pyo3(signature = (key, *, sync = false))]
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>, sync: bool) -> PyResult<()> {
        let key = to_bytes(key, "key")?;
        let key = key.as_bytes();
        let opts = WriteOptions { sync };
        py.detach(|| self.db.delete(&opts, key))
            .map_err(|e| to_py_err(py, e))
    }

    /// Write the in-memory buffer of recent writes to a table file (.ldb).
    ///
    /// With wait=True, return once the table is installed and the listener's
    /// on_flush_completed has run; with wait=False, only schedule the flush. Inside a
    /// listener callback, wait=True raises siltdb.BusyError (it would wait for itself).
    #[pyo3(signature = (wait = true))]
    fn flush(&self, py: Python<'_>, wait: bool) -> PyResult<()> {
        let opts = FlushOptions { wait };
        py.detach(|| self.db.flush(&opts))
            .map_err(|e| to_py_err(py, e))
    }

    /// Compact the key range [start, stop] (None = open end) after flushing the memtable.
    ///
    /// Afterwards the range's data sits on one level with no overlapping files, and
    /// space held by overwritten and deleted keys is reclaimed.
    #[pyo3(signature = (start = None, stop = None))]
    fn compact_range(
        &self,
        py: Python<'_>,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let start = start.map(|k| to_bytes(k, "start")).transpose()?;
        let stop = stop.map(|k| to_bytes(k, "stop")).transpose()?;
        let start = start.as_ref().map(|b| b.as_bytes());
        let stop = stop.as_ref().map(|b| b.as_bytes());
        py.detach(|| self.db.compact_range(start, stop))
            .map_err(|e| to_py_err(py, e))
    }

    /// Wait for background work, sync the log and release the directory's lock.
    ///
    /// Pending listener events are delivered first; afterwards no callback runs and the
    /// DB drops its reference to the listener. Closing twice is allowed. Every other
    /// method raises siltdb.ClosedError (a RuntimeError) afterwards. Inside a listener
    /// callback close() raises siltdb.BusyError (it would wait for itself).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let result = py.detach(|| self.db.close());
        if self.db.is_closed() {
            self.release_listener();
        }
        result.map_err(|e| to_py_err(py, e))
    }

    /// The value of a property as bytes, or None for an unknown name.
    ///
    /// name is bytes (as plyvel) or str: b'leveldb.num-files-at-level<N>',
    /// b'leveldb.stats', b'leveldb.sstables', b'leveldb.approximate-memory-usage',
    /// b'siltdb.num-immutable-mem-table', b'siltdb.mem-table-flush-pending',
    /// b'siltdb.background-error', b'siltdb.num-flushes',
    /// b'siltdb.cur-size-active-mem-table'. Numbers are decimal text, as in LevelDB.
    fn get_property<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        if self.db.is_closed() {
            // The engine answers None; the other methods' ClosedError is more useful.
            return Err(to_py_err(py, siltdb::Error::Closed));
        }
        let Some(name) = property_name(name)? else {
            return Ok(None);
        };
        let value = py.detach(|| self.db.property(&name));
        Ok(value.map(|v| PyBytes::new(py, v.as_bytes())))
    }

    /// The engine's counters as a dict, no text to parse.
    ///
    /// {'levels': [{'level', 'files', 'bytes', 'compaction_micros', 'bytes_read',
    /// 'bytes_written', 'compactions'} for levels 0..6], 'flushes_completed',
    /// 'flushes_failed', 'bytes_flushed', 'compactions_completed', 'write_stalls',
    /// 'write_stall_micros', 'listener_panics'}; every value an int.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py
            .detach(|| self.db.stats())
            .map_err(|e| to_py_err(py, e))?;
        stats_dict(py, &stats)
    }

    /// True once close() has been called.
    #[getter]
    fn closed(&self) -> bool {
        self.db.is_closed()
    }

    /// The database directory, as given to DB() (a str).
    #[getter]
    fn name(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    /// Return the DB itself, to be closed when the with block ends.
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Close the DB; exceptions from the with block propagate.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// Shows the listener to the cycle collector: a listener holding the DB is a cycle.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.name)?;
        match &self.listener {
            Some(listener) => listener.traverse(&visit),
            None => Ok(()),
        }
    }

    /// Breaks a listener cycle; the DB closes when the collector frees it.
    fn __clear__(&self) {
        self.release_listener();
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = if self.db.is_closed() {
            "closed"
        } else {
            "open"
        };
        Ok(format!(
            "<siltdb.DB {} ({state})>",
            self.name.bind(py).repr()?
        ))
    }
}

impl PyDb {
    fn release_listener(&self) {
        if let Some(listener) = &self.listener {
            listener.release();
        }
    }
}

/// Freeing the object closes the database, with the GIL released (a pending callback may
/// be waiting for it).
impl Drop for PyDb {
    fn drop(&mut self) {
        let db = &self.db;
        let closed =
            Python::try_attach(|py| py.detach(|| db.close())).unwrap_or_else(|| db.close());
        if matches!(&closed, Err(e) if e.kind() == ErrorKind::Busy) {
            // Freed inside one of its own callbacks (the cycle collector may run there):
            // close from another thread once the callback has returned.
            let db = self.db.clone();
            let listener = self.listener.clone();
            let closer = move || {
                let _ = db.close();
                if let (Some(listener), Some(_in_flight)) = (listener, InFlight::enter()) {
                    Python::try_attach(|_| listener.release());
                }
            };
            if std::thread::Builder::new()
                .name("siltdb-close".to_owned())
                .spawn(closer)
                .is_ok()
            {
                return;
            }
        }
        self.release_listener();
    }
}

/// The engine's compression for the Python `compression` argument.
fn compression_type(name: Option<&str>) -> PyResult<CompressionType> {
    match name {
        Some("snappy") => Ok(CompressionType::Snappy),
        None => Ok(CompressionType::None),
        Some(other) => Err(PyValueError::new_err(format!(
            "compression must be 'snappy' or None, not '{other}'"
        ))),
    }
}
