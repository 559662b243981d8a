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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use pyo3::PyTraverseError;
use siltdb::{Db, ErrorKind, FlushOptions, Options, ReadOptions, WriteOptions};

use crate::batch::{PyWriteBatch, SpareBatch};
use crate::bytes_like::{bytes_arg, to_bytes};
use crate::errors::to_py_err;
use crate::iterator::{IterArgs, PyIterator, PyRawIterator};
use crate::listener::{InFlight, PyListener};
use crate::options::{db_path, Tuning};
use crate::prefixed::PyPrefixedDb;
use crate::properties::{property_name, stats_dict};
use crate::snapshot::PySnapshot;

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
    /// Set once close() has closed the engine (only close() does). Per-call open checks
    /// (every WriteBatch.put) read this instead of `Db::is_closed`, which takes the DB's
    /// state lock, with the GIL held, while background work may hold it.
    closed: AtomicBool,
    /// The buffer of the last batch written, for the next WriteBatch to fill.
    spare_batch: SpareBatch,
}

#[pymethods]
impl PyDb {
    #[new]
    #[pyo3(signature = (
        name,
        *,
        create_if_missing = false,
        error_if_exists = false,
        paranoid_checks = None,
        write_buffer_size = None,
        max_open_files = None,
        lru_cache_size = None,
        resident_table_budget = None,
        block_size = None,
        block_restart_interval = None,
        max_file_size = None,
        compression = Some(String::from("snappy")),
        bloom_filter_bits = None,
        listener = None,
        flush_on_close = false,
    ))]
    #[pyo3(
        text_signature = "(name, *, create_if_missing=False, error_if_exists=False, \
        paranoid_checks=None, write_buffer_size=None, max_open_files=None, lru_cache_size=None, \
        resident_table_budget=None, block_size=None, block_restart_interval=None, max_file_size=None, \
        compression='snappy', bloom_filter_bits=None, listener=None, flush_on_close=False)"
    )]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword arguments one to one
    fn new(
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        create_if_missing: bool,
        error_if_exists: bool,
        paranoid_checks: Option<bool>,
        write_buffer_size: Option<usize>,
        max_open_files: Option<usize>,
        lru_cache_size: Option<usize>,
        resident_table_budget: Option<usize>,
        block_size: Option<usize>,
        block_restart_interval: Option<usize>,
        max_file_size: Option<u64>,
        compression: Option<String>,
        bloom_filter_bits: Option<usize>,
        listener: Option<&Bound<'_, PyAny>>,
        flush_on_close: bool,
    ) -> PyResult<Self> {
        let (path, name) = db_path(py, name)?;

        let listener = listener.map(PyListener::new).transpose()?.map(Arc::new);
        let tuning = Tuning {
            paranoid_checks,
            write_buffer_size,
            max_open_files,
            lru_cache_size,
            resident_table_budget,
            block_size,
            block_restart_interval,
            max_file_size,
            compression,
            bloom_filter_bits,
        };
        let mut options = Options {
            create_if_missing,
            error_if_exists,
            flush_on_close,
            ..tuning.options()?
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
            closed: AtomicBool::new(false),
            spare_batch: SpareBatch::default(),
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
        let key = bytes_arg(key, "key")?;
        let value = bytes_arg(value, "value")?;
        self.put_raw(py, key.as_bytes(), value.as_bytes(), sync)
    }

    /// Return the value stored under key as bytes, or default if the key is absent.
    ///
    /// A key stored with an empty value returns b'', not default. verify_checksums=True
    /// checks every block read against its checksum (always on with paranoid_checks);
    /// fill_cache=False reads without adding the blocks read to the block cache.
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
        let opts = ReadOptions {
            verify_checksums,
            fill_cache,
            snapshot: None,
        };
        self.get_with(py, key.as_bytes(), default, &opts)
    }

    /// Remove key. Deleting a missing key is not an error.
    #[pyo3(signature = (key, *, sync = false))]
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>, sync: bool) -> PyResult<()> {
        let key = bytes_arg(key, "key")?;
        self.delete_raw(py, key.as_bytes(), sync)
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
        let start = start.map(|k| bytes_arg(k, "start")).transpose()?;
        let stop = stop.map(|k| bytes_arg(k, "stop")).transpose()?;
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
            self.closed.store(true, Ordering::Release);
            self.release_listener();
            self.spare_batch.clear();
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
        if self.is_closed() {
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
    /// 'write_stall_micros', 'listener_panics', 'writes', 'write_groups', 'wal_syncs'};
    /// every value an int.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py
            .detach(|| self.db.stats())
            .map_err(|e| to_py_err(py, e))?;
        stats_dict(py, &stats)
    }

    /// A WriteBatch applying its puts and deletes atomically; see siltdb.WriteBatch.
    ///
    /// As a context manager it is written when the with block ends; with
    /// transaction=True an exception in the block discards it instead. sync=True fsyncs
    /// the log when it is written.
    #[pyo3(signature = (*, transaction = false, sync = false))]
    fn write_batch(slf: &Bound<'_, Self>, transaction: bool, sync: bool) -> PyResult<PyWriteBatch> {
        slf.get().check_open(slf.py())?;
        Ok(PyWriteBatch::new(
            slf.clone().unbind(),
            None,
            transaction,
            sync,
        ))
    }

    /// An Iterator over the database as of now (see siltdb.Iterator).
    ///
    /// Yields (key, value) tuples in key order (reverse=True: descending), or keys alone
    /// (include_value=False) or values alone (include_key=False). start/stop bound the
    /// range (include_start=True and include_stop=False by default); prefix=p limits it
    /// to keys starting with p and cannot be combined with start or stop (TypeError).
    #[pyo3(signature = (
        *, reverse = false, start = None, stop = None, include_start = true,
        include_stop = false, prefix = None, include_key = true, include_value = true,
        verify_checksums = false, fill_cache = true,
    ))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword arguments one to one
    fn iterator(
        slf: &Bound<'_, Self>,
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
        PyIterator::create(slf.py(), slf, None, None, args)
    }

    /// Iterate over every (key, value) in key order, as iterator().
    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<PyIterator> {
        Self::iterator(
            slf, false, None, None, true, false, None, true, true, false, true,
        )
    }

    /// A RawIterator (LevelDB's cursor) over the database as of now, unpositioned.
    #[pyo3(signature = (*, verify_checksums = false, fill_cache = true))]
    fn raw_iterator(
        slf: &Bound<'_, Self>,
        verify_checksums: bool,
        fill_cache: bool,
    ) -> PyResult<PyRawIterator> {
        PyRawIterator::create(slf.py(), slf, None, verify_checksums, fill_cache)
    }

    /// A Snapshot: a read-only view of the database as of now, until released.
    fn snapshot(slf: &Bound<'_, Self>) -> PyResult<PySnapshot> {
        PySnapshot::create(slf.py(), slf, None)
    }

    /// A PrefixedDB: the keys starting with prefix, seen without it.
    fn prefixed_db(slf: &Bound<'_, Self>, prefix: &Bound<'_, PyAny>) -> PyResult<PyPrefixedDb> {
        let prefix = to_bytes(prefix, "prefix")?;
        Ok(PyPrefixedDb::new(slf.clone().unbind(), prefix.unbind()))
    }

    /// The approximate bytes of table files holding keys in [start, stop).
    ///
    /// Data still only in the memory buffer (not flushed) is not counted.
    fn approximate_size(
        &self,
        py: Python<'_>,
        start: &Bound<'_, PyAny>,
        stop: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let range = PyTuple::new(py, [start, stop])?;
        let sizes = self.approximate_sizes(py, &PyTuple::new(py, [range])?)?;
        Ok(sizes.first().copied().unwrap_or(0))
    }

    /// approximate_size() for each (start, stop) pair given, as a list.
    #[pyo3(signature = (*ranges))]
    fn approximate_sizes(&self, py: Python<'_>, ranges: &Bound<'_, PyTuple>) -> PyResult<Vec<u64>> {
        let mut owned = Vec::with_capacity(ranges.len());
        for range in ranges.iter() {
            let (start, stop): (Bound<'_, PyAny>, Bound<'_, PyAny>) = range.extract()?;
            owned.push((to_bytes(&start, "start")?, to_bytes(&stop, "stop")?));
        }
        let pairs: Vec<(&[u8], &[u8])> = owned
            .iter()
            .map(|(a, b)| (a.as_bytes(), b.as_bytes()))
            .collect();
        py.detach(|| self.db.approximate_sizes(&pairs))
            .map_err(|e| to_py_err(py, e))
    }

    /// True once close() has been called.
    #[getter]
    fn closed(&self) -> bool {
        self.is_closed()
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
        let state = if self.is_closed() { "closed" } else { "open" };
        Ok(format!(
            "<siltdb.DB {} ({state})>",
            self.name.bind(py).repr()?
        ))
    }
}

impl PyDb {
    /// The engine handle, for the iterator, snapshot and batch objects.
    pub fn engine(&self) -> &Db {
        &self.db
    }

    /// The buffer kept for the next WriteBatch of this DB.
    pub fn spare_batch(&self) -> &SpareBatch {
        &self.spare_batch
    }

    /// True once close() has closed the engine; lock-free.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// ClosedError (a RuntimeError) once the DB is closed.
    pub fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.is_closed() {
            return Err(to_py_err(py, siltdb::Error::Closed));
        }
        Ok(())
    }

    /// A point read with the GIL released: the value as bytes, or default.
    pub fn get_with(
        &self,
        py: Python<'_>,
        key: &[u8],
        default: Option<Py<PyAny>>,
        opts: &ReadOptions,
    ) -> PyResult<Py<PyAny>> {
        let found = py
            .detach(|| self.db.get(opts, key))
            .map_err(|e| to_py_err(py, e))?;
        Ok(match found {
            Some(value) => PyBytes::new(py, &value).into_any().unbind(),
            None => default.unwrap_or_else(|| py.None()),
        })
    }

    pub fn put_raw(&self, py: Python<'_>, key: &[u8], value: &[u8], sync: bool) -> PyResult<()> {
        let opts = WriteOptions { sync };
        py.detach(|| self.db.put(&opts, key, value))
            .map_err(|e| to_py_err(py, e))
    }

    pub fn delete_raw(&self, py: Python<'_>, key: &[u8], sync: bool) -> PyResult<()> {
        let opts = WriteOptions { sync };
        py.detach(|| self.db.delete(&opts, key))
            .map_err(|e| to_py_err(py, e))
    }

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
