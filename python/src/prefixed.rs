//! `siltdb.PrefixedDB`: a view of the keys of a DB that start with a prefix, with the
//! prefix left off (plyvel's). Every call adds the prefix and goes to the DB.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use siltdb::ReadOptions;

use crate::batch::PyWriteBatch;
use crate::bytes_like::{bytes_arg, to_bytes};
use crate::db::PyDb;
use crate::iterator::{concat, IterArgs, PyIterator};
use crate::snapshot::PySnapshot;

/// The keys of a DB that start with prefix, seen without it: put(b'k', v) stores
/// prefix + b'k'. Made by DB.prefixed_db(prefix) or PrefixedDB.prefixed_db(more).
///
/// .db is the underlying DB and .prefix the prefix. Closing the DB closes this too.
#[pyclass(module = "siltdb", name = "PrefixedDB", frozen)]
pub struct PyPrefixedDb {
    db: Py<PyDb>,
    prefix: Py<PyBytes>,
}

impl PyPrefixedDb {
    pub fn new(db: Py<PyDb>, prefix: Py<PyBytes>) -> Self {
        PyPrefixedDb { db, prefix }
    }

    fn full_key(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        let key = bytes_arg(key, "key")?;
        Ok(concat(self.prefix.bind(py).as_bytes(), key.as_bytes()))
    }

    fn prefix_vec(&self, py: Python<'_>) -> Vec<u8> {
        self.prefix.bind(py).as_bytes().to_vec()
    }
}

#[pymethods]
impl PyPrefixedDb {
    /// The underlying DB.
    #[getter]
    fn db(&self, py: Python<'_>) -> Py<PyDb> {
        self.db.clone_ref(py)
    }

    /// The prefix added to every key (bytes).
    #[getter]
    fn prefix(&self, py: Python<'_>) -> Py<PyBytes> {
        self.prefix.clone_ref(py)
    }

    /// The value stored under prefix + key, or default.
    #[pyo3(signature = (key, default = None, *, verify_checksums = false, fill_cache = true))]
    fn get(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        default: Option<Py<PyAny>>,
        verify_checksums: bool,
        fill_cache: bool,
    ) -> PyResult<Py<PyAny>> {
        let key = self.full_key(py, key)?;
        let opts = ReadOptions {
            verify_checksums,
            fill_cache,
            snapshot: None,
        };
        self.db.get().get_with(py, &key, default, &opts)
    }

    /// Store value under prefix + key.
    #[pyo3(signature = (key, value, *, sync = false))]
    fn put(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        sync: bool,
    ) -> PyResult<()> {
        let key = self.full_key(py, key)?;
        let value = bytes_arg(value, "value")?;
        self.db.get().put_raw(py, &key, value.as_bytes(), sync)
    }

    /// Remove prefix + key.
    #[pyo3(signature = (key, *, sync = false))]
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>, sync: bool) -> PyResult<()> {
        let key = self.full_key(py, key)?;
        self.db.get().delete_raw(py, &key, sync)
    }

    /// A WriteBatch whose keys get the prefix; see DB.write_batch().
    #[pyo3(signature = (*, transaction = false, sync = false))]
    fn write_batch(&self, py: Python<'_>, transaction: bool, sync: bool) -> PyResult<PyWriteBatch> {
        self.db.get().check_open(py)?;
        Ok(PyWriteBatch::new(
            self.db.clone_ref(py),
            Some(self.prefix_vec(py)),
            transaction,
            sync,
        ))
    }

    /// An Iterator over the keys under the prefix, returned without it; the same keywords
    /// as DB.iterator(), with start, stop and prefix relative to this prefix.
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
        PyIterator::create(py, self.db.bind(py), Some(self.prefix_vec(py)), None, args)
    }

    /// Iterate over every (key, value) under the prefix, as iterator().
    fn __iter__(&self, py: Python<'_>) -> PyResult<PyIterator> {
        self.iterator(
            py, false, None, None, true, false, None, true, true, false, true,
        )
    }

    /// A Snapshot whose get() and iterator() read under the prefix.
    fn snapshot(&self, py: Python<'_>) -> PyResult<PySnapshot> {
        PySnapshot::create(py, self.db.bind(py), Some(self.prefix_vec(py)))
    }

    /// A PrefixedDB for this prefix + prefix, on the same DB.
    fn prefixed_db(&self, py: Python<'_>, prefix: &Bound<'_, PyAny>) -> PyResult<PyPrefixedDb> {
        let more = to_bytes(prefix, "prefix")?;
        let full = concat(self.prefix.bind(py).as_bytes(), more.as_bytes());
        Ok(PyPrefixedDb::new(
            self.db.clone_ref(py),
            PyBytes::new(py, &full).unbind(),
        ))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<siltdb.PrefixedDB with prefix {}>",
            self.prefix.bind(py).repr()?
        ))
    }
}
