//! `siltdb.DB`: one open database. Each method converts its arguments, calls one engine
//! method with the GIL released, and converts the result or the error.
//!
//! Thread safety: the engine's `Db` is `Send + Sync`, so one `DB` object may be used from
//! many Python threads at once; `close()` from one thread makes later calls in the others
//! raise `siltdb.ClosedError` (a `RuntimeError`).

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use siltdb::{CompressionType, Db, FlushOptions, Options, ReadOptions, WriteOptions};

use crate::bytes_like::to_bytes;
use crate::errors::to_py_err;

/// A LevelDB-compatible database directory, open for reading and writing.
///
/// Options left as None keep the engine's defaults (LevelDB's): a 4 MiB write buffer,
/// 1000 open files, 4 KiB blocks and a 10-bits-per-key bloom filter (0 writes none).
/// compression is 'snappy' or None. Keys and values are bytes-like objects; reads
/// return bytes. Usable as a context manager, which closes the database on exit.
#[pyclass(module = "siltdb", name = "DB", frozen)]
pub struct PyDb {
    db: Db,
    /// The directory as the caller named it (after os.fsdecode), for `name` and repr.
    name: Py<PyString>,
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
    ))]
    #[pyo3(
        text_signature = "(name, *, create_if_missing=False, error_if_exists=False, \
        paranoid_checks=False, write_buffer_size=None, max_open_files=None, block_size=None, \
        compression='snappy', bloom_filter_bits=None)"
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
    ) -> PyResult<Self> {
        // fsdecode accepts str, bytes and os.PathLike, and raises TypeError for the rest.
        let name = py
            .import("os")?
            .call_method1("fsdecode", (name,))?
            .cast_into::<PyString>()?;
        let path: PathBuf = name.extract()?;

        let defaults = Options::default();
        let options = Options {
            create_if_missing,
            error_if_exists,
            paranoid_checks,
            write_buffer_size: write_buffer_size.unwrap_or(defaults.write_buffer_size),
            max_open_files: max_open_files.unwrap_or(defaults.max_open_files),
            block_size: block_size.unwrap_or(defaults.block_size),
            compression: compression_type(compression.as_deref())?,
            bloom_bits_per_key: bloom_filter_bits.unwrap_or(defaults.bloom_bits_per_key),
            ..defaults
        };
        let db = py
            .detach(|| Db::open(&path, options))
            .map_err(|e| to_py_err(py, e))?;
        Ok(PyDb {
            db,
            name: name.unbind(),
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
    /// With wait=True, return once the table is installed; with wait=False, only
    /// schedule the flush.
    #[pyo3(signature = (wait = true))]
    fn flush(&self, py: Python<'_>, wait: bool) -> PyResult<()> {
        let opts = FlushOptions { wait };
        py.detach(|| self.db.flush(&opts))
            .map_err(|e| to_py_err(py, e))
    }

    /// Wait for background work, sync the log and release the directory's lock.
    ///
    /// Closing twice is allowed. Every other method raises siltdb.ClosedError (a
    /// RuntimeError) afterwards.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.db.close()).map_err(|e| to_py_err(py, e))
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
