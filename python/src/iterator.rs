//! `siltdb.Iterator` (plyvel's range iterator: start/stop/prefix bounds, reverse, key or
//! value only, `prev`/`seek`) and `siltdb.RawIterator` (LevelDB's cursor as it is).
//!
//! Both wrap the engine's `DbIterator` (`Send`, not `Sync`) in a `Mutex`, so one object
//! may be shared by several Python threads. The mutex is only ever taken with the GIL
//! released, and every move runs there; keys and values are copied out before the GIL is
//! taken back. Closing the DB makes later use raise `siltdb.ClosedError` (a RuntimeError,
//! as plyvel); `close()` on the iterator makes it raise RuntimeError.

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use siltdb::{DbIterator, ReadOptions, SnapshotId};

use crate::bytes_like::bytes_arg;
use crate::db::PyDb;
use crate::errors::{to_py_err, IteratorInvalidError};

/// Why an iterator call failed, decided with the GIL released.
pub enum IterError {
    /// `close()` was called on the iterator (or snapshot).
    Closed(&'static str),
    /// The raw iterator is not positioned on an entry.
    Invalid,
    Engine(siltdb::Error),
}

impl From<siltdb::Error> for IterError {
    fn from(e: siltdb::Error) -> Self {
        IterError::Engine(e)
    }
}

impl IterError {
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            IterError::Closed(what) => {
                PyRuntimeError::new_err(format!("Database or {what} is closed"))
            }
            IterError::Invalid => IteratorInvalidError::new_err("iterator is not valid"),
            IterError::Engine(e) => to_py_err(py, e),
        }
    }
}

/// Locks, recovering from poisoning: a panic mid-move leaves the iterator merely
/// mispositioned, which every move resets.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new engine iterator over `db`, made with the GIL released.
pub fn open_engine_iter(
    py: Python<'_>,
    db: &PyDb,
    verify_checksums: bool,
    fill_cache: bool,
    snapshot: Option<SnapshotId>,
) -> PyResult<DbIterator> {
    let opts = ReadOptions {
        verify_checksums,
        fill_cache,
        snapshot,
    };
    let engine = db.engine();
    py.detach(|| engine.iter(&opts))
        .map_err(|e| to_py_err(py, e))
}

/// The shortest key greater than every key starting with `prefix` (None: no such key,
/// the prefix is all 0xff).
pub fn bytes_increment(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut out = prefix.get(..=last)?.to_vec();
    if let Some(b) = out.last_mut() {
        *b += 1;
    }
    Some(out)
}

/// `a + b` as a new vector.
pub fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

/// plyvel's iterator states: the cursor sits between entries, not on them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeStart,
    AfterStop,
    InBetween,
    /// After `seek`: the engine iterator is on the entry the next `next` returns.
    InBetweenAlreadyPositioned,
}

struct Cursor {
    it: Option<DbIterator>,
    state: State,
}

/// The bounds and shape of an `Iterator`, fixed at creation.
struct Shape {
    reverse: bool,
    start: Option<Vec<u8>>,
    stop: Option<Vec<u8>>,
    include_start: bool,
    include_stop: bool,
    include_key: bool,
    include_value: bool,
    /// A PrefixedDB's prefix, stripped from keys returned and added to `seek` targets.
    db_prefix: Option<Vec<u8>>,
}

/// One entry as returned: the key (prefix stripped) and value, each only if wanted.
type Item = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The arguments of `iterator()`, shared by DB, PrefixedDB and Snapshot.
pub struct IterArgs<'a, 'py> {
    pub reverse: bool,
    pub start: Option<&'a Bound<'py, PyAny>>,
    pub stop: Option<&'a Bound<'py, PyAny>>,
    pub include_start: bool,
    pub include_stop: bool,
    pub prefix: Option<&'a Bound<'py, PyAny>>,
    pub include_key: bool,
    pub include_value: bool,
    pub verify_checksums: bool,
    pub fill_cache: bool,
}

/// Iterates over a range of the database, yielding (key, value) tuples, or keys or values
/// alone (include_key / include_value), in key order or reversed.
///
/// Created by DB.iterator(), PrefixedDB.iterator() and Snapshot.iterator(); it reads a
/// consistent view as of its creation (or of the snapshot). next() moves forward (backward
/// when reverse=True), prev() the other way; seek_to_start(), seek_to_stop() and
/// seek(target) reposition it. Usable as a context manager, which closes it.
#[pyclass(module = "siltdb", name = "Iterator", frozen)]
pub struct PyIterator {
    db: Py<PyDb>,
    cursor: Mutex<Cursor>,
    shape: Shape,
}

impl PyIterator {
    /// plyvel's `Iterator.__init__`: resolves prefix / db_prefix into start and stop.
    pub fn create(
        py: Python<'_>,
        db: &Bound<'_, PyDb>,
        db_prefix: Option<Vec<u8>>,
        snapshot: Option<SnapshotId>,
        args: IterArgs<'_, '_>,
    ) -> PyResult<PyIterator> {
        let opt = |o: Option<&Bound<'_, PyAny>>, what| -> PyResult<Option<Vec<u8>>> {
            o.filter(|v| !v.is_none())
                .map(|v| bytes_arg(v, what).map(|b| b.as_bytes().to_vec()))
                .transpose()
        };
        let mut start = opt(args.start, "start")?;
        let mut stop = opt(args.stop, "stop")?;
        let mut prefix = opt(args.prefix, "prefix")?;
        let mut include_start = args.include_start;
        let mut include_stop = args.include_stop;
        if let Some(dbp) = &db_prefix {
            if let Some(p) = prefix.take() {
                prefix = Some(concat(dbp, &p));
            } else {
                start = Some(match start {
                    None => {
                        include_start = true;
                        dbp.clone()
                    }
                    Some(s) => concat(dbp, &s),
                });
                stop = match stop {
                    None => {
                        include_stop = false;
                        bytes_increment(dbp)
                    }
                    Some(s) => Some(concat(dbp, &s)),
                };
            }
        }
        if let Some(p) = prefix {
            if start.is_some() || stop.is_some() {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "'prefix' cannot be used together with 'start' or 'stop'",
                ));
            }
            stop = bytes_increment(&p);
            start = Some(p);
            include_start = true;
            include_stop = false;
        }
        let it = open_engine_iter(
            py,
            db.get(),
            args.verify_checksums,
            args.fill_cache,
            snapshot,
        )?;
        Ok(PyIterator {
            db: db.clone().unbind(),
            cursor: Mutex::new(Cursor {
                it: Some(it),
                state: if args.reverse {
                    State::AfterStop
                } else {
                    State::BeforeStart
                },
            }),
            shape: Shape {
                reverse: args.reverse,
                start,
                stop,
                include_start,
                include_stop,
                include_key: args.include_key,
                include_value: args.include_value,
                db_prefix,
            },
        })
    }

    /// Runs `f` on the cursor with the GIL released; checks the DB and iterator are open.
    fn with_cursor<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Shape, &mut State, &mut DbIterator) -> Result<T, IterError> + Send,
    ) -> PyResult<T> {
        let db = self.db.get();
        let shape = &self.shape;
        let cursor = &self.cursor;
        py.detach(|| {
            if db.is_closed() {
                return Err(IterError::Engine(siltdb::Error::Closed));
            }
            let mut guard = lock(cursor);
            let Cursor { it, state } = &mut *guard;
            let it = it.as_mut().ok_or(IterError::Closed("iterator"))?;
            f(shape, state, it)
        })
        .map_err(|e| e.into_py(py))
    }

    fn to_py(&self, py: Python<'_>, item: Option<Item>) -> PyResult<Py<PyAny>> {
        let Some((key, value)) = item else {
            return Err(pyo3::exceptions::PyStopIteration::new_err(()));
        };
        let key = key.map(|k| PyBytes::new(py, &k));
        let value = value.map(|v| PyBytes::new(py, &v));
        Ok(match (key, value) {
            (Some(k), Some(v)) => PyTuple::new(py, [k, v])?.into_any().unbind(),
            (Some(k), None) => k.into_any().unbind(),
            (None, Some(v)) => v.into_any().unbind(),
            (None, None) => py.None(),
        })
    }
}

impl Shape {
    fn current(&self, it: &DbIterator) -> Item {
        let skip = self.db_prefix.as_ref().map_or(0, Vec::len);
        let key = self
            .include_key
            .then(|| it.key().get(skip..).unwrap_or_default().to_vec());
        let value = self.include_value.then(|| it.value().to_vec());
        (key, value)
    }

    /// plyvel's `real_next`: the entry after the cursor, moving past it.
    fn real_next(&self, state: &mut State, it: &mut DbIterator) -> Result<Option<Item>, IterError> {
        match *state {
            State::InBetween => {
                it.next();
                if !it.valid() {
                    it.status()?;
                    *state = State::AfterStop;
                    return Ok(None);
                }
            }
            State::InBetweenAlreadyPositioned => *state = State::InBetween,
            State::BeforeStart => {
                match &self.start {
                    None => it.seek_to_first(),
                    Some(s) => it.seek(s),
                }
                if !it.valid() {
                    it.status()?;
                    return Ok(None);
                }
                if let Some(s) = &self.start {
                    if !self.include_start && it.key() == s.as_slice() {
                        it.next();
                        if !it.valid() {
                            it.status()?;
                            return Ok(None);
                        }
                    }
                }
                *state = State::InBetween;
            }
            State::AfterStop => return Ok(None),
        }
        it.status()?;
        if let Some(stop) = &self.stop {
            let key = it.key();
            let past = if self.include_stop {
                key > stop.as_slice()
            } else {
                key >= stop.as_slice()
            };
            if past {
                *state = State::AfterStop;
                return Ok(None);
            }
        }
        Ok(Some(self.current(it)))
    }

    /// plyvel's `real_prev`: the entry before the cursor, moving before it.
    fn real_prev(&self, state: &mut State, it: &mut DbIterator) -> Result<Option<Item>, IterError> {
        match *state {
            State::InBetween => {}
            State::InBetweenAlreadyPositioned => {
                it.prev();
                if !it.valid() {
                    it.status()?;
                    *state = State::BeforeStart;
                    return Ok(None);
                }
                it.status()?;
            }
            State::BeforeStart => return Ok(None),
            State::AfterStop => {
                match &self.stop {
                    None => it.seek_to_last(),
                    Some(stop) => {
                        it.seek(stop);
                        if it.valid() {
                            if !self.include_stop {
                                it.prev();
                            }
                        } else {
                            it.status()?;
                            it.seek_to_last();
                        }
                        if it.valid() && it.key() > stop.as_slice() {
                            it.prev();
                        }
                    }
                }
                if !it.valid() {
                    it.status()?;
                    return Ok(None);
                }
                if let Some(start) = &self.start {
                    if start.as_slice() >= it.key() {
                        return Ok(None);
                    }
                }
                it.status()?;
            }
        }
        // Take the entry first, then step back, so that prev() and next() alternate
        // over the same entry as in plyvel.
        let out = self.current(it);
        it.prev();
        if !it.valid() {
            it.status()?;
            *state = State::BeforeStart;
        } else {
            let in_range = match &self.start {
                None => true,
                Some(s) if self.include_start => it.key() >= s.as_slice(),
                Some(s) => it.key() > s.as_slice(),
            };
            *state = if in_range {
                State::InBetween
            } else {
                State::BeforeStart
            };
        }
        it.status()?;
        Ok(Some(out))
    }
}

#[pymethods]
impl PyIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The next entry: the following key in forward order, the preceding one when the
    /// iterator was made with reverse=True. StopIteration at the end of the range.
    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let item = self.with_cursor(py, |shape, state, it| {
            if shape.reverse {
                shape.real_prev(state, it)
            } else {
                shape.real_next(state, it)
            }
        })?;
        self.to_py(py, item)
    }

    /// Move one entry back (against the iteration direction) and return that entry: after
    /// next() returned an entry, prev() returns the same entry again. StopIteration at the
    /// start of the range.
    fn prev(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let item = self.with_cursor(py, |shape, state, it| {
            if shape.reverse {
                shape.real_next(state, it)
            } else {
                shape.real_prev(state, it)
            }
        })?;
        self.to_py(py, item)
    }

    /// Move before the first entry of the range (next() then returns the first entry).
    fn seek_to_start(&self, py: Python<'_>) -> PyResult<()> {
        self.with_cursor(py, |_, state, _| {
            *state = State::BeforeStart;
            Ok(())
        })
    }

    /// Move after the last entry of the range (prev() then returns the last entry).
    fn seek_to_stop(&self, py: Python<'_>) -> PyResult<()> {
        self.with_cursor(py, |_, state, _| {
            *state = State::AfterStop;
            Ok(())
        })
    }

    /// Move to just before the first key >= target (clamped to the range), so that
    /// next() returns it (forward iterators).
    fn seek(&self, py: Python<'_>, target: &Bound<'_, PyAny>) -> PyResult<()> {
        let target = bytes_arg(target, "target")?;
        let target = target.as_bytes();
        self.with_cursor(py, |shape, state, it| {
            let mut target = match &shape.db_prefix {
                Some(p) => concat(p, target),
                None => target.to_vec(),
            };
            if let Some(s) = &shape.start {
                if target < *s {
                    target = s.clone();
                }
            }
            if let Some(s) = &shape.stop {
                if target > *s {
                    target = s.clone();
                }
            }
            it.seek(&target);
            if !it.valid() {
                it.status()?;
                *state = State::AfterStop;
                return Ok(());
            }
            *state = State::InBetweenAlreadyPositioned;
            it.status()?;
            Ok(())
        })
    }

    /// Release the iterator's resources; later use raises RuntimeError. Idempotent.
    fn close(&self, py: Python<'_>) {
        let it = py.detach(|| lock(&self.cursor).it.take());
        drop(it);
    }

    /// Return the iterator itself, closed when the with block ends.
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Close the iterator; exceptions from the with block propagate.
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

/// LevelDB's iterator as it is: a cursor that is either on an entry (valid()) or not.
///
/// Created by DB.raw_iterator() and Snapshot.raw_iterator(), unpositioned. key(),
/// value(), item(), next() and prev() raise siltdb.IteratorInvalidError when it is not
/// on an entry. Usable as a context manager, which closes it.
#[pyclass(module = "siltdb", name = "RawIterator", frozen)]
pub struct PyRawIterator {
    db: Py<PyDb>,
    it: Mutex<Option<DbIterator>>,
}

impl PyRawIterator {
    pub fn create(
        py: Python<'_>,
        db: &Bound<'_, PyDb>,
        snapshot: Option<SnapshotId>,
        verify_checksums: bool,
        fill_cache: bool,
    ) -> PyResult<PyRawIterator> {
        let it = open_engine_iter(py, db.get(), verify_checksums, fill_cache, snapshot)?;
        Ok(PyRawIterator {
            db: db.clone().unbind(),
            it: Mutex::new(Some(it)),
        })
    }

    fn with_iter<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut DbIterator) -> Result<T, IterError> + Send,
    ) -> PyResult<T> {
        let db = self.db.get();
        let cell = &self.it;
        py.detach(|| {
            if db.is_closed() {
                return Err(IterError::Engine(siltdb::Error::Closed));
            }
            let mut guard = lock(cell);
            let it = guard.as_mut().ok_or(IterError::Closed("iterator"))?;
            f(it)
        })
        .map_err(|e| e.into_py(py))
    }

    /// A move, then the engine's status (an I/O or corruption error is raised).
    fn step(&self, py: Python<'_>, need_valid: bool, f: fn(&mut DbIterator)) -> PyResult<()> {
        self.with_iter(py, |it| {
            if need_valid && !it.valid() {
                return Err(IterError::Invalid);
            }
            f(it);
            it.status()?;
            Ok(())
        })
    }
}

#[pymethods]
impl PyRawIterator {
    /// True when positioned on an entry.
    fn valid(&self, py: Python<'_>) -> PyResult<bool> {
        self.with_iter(py, |it| Ok(it.valid()))
    }

    /// Position on the first entry (not valid if the database is empty).
    fn seek_to_first(&self, py: Python<'_>) -> PyResult<()> {
        self.step(py, false, DbIterator::seek_to_first)
    }

    /// Position on the last entry (not valid if the database is empty).
    fn seek_to_last(&self, py: Python<'_>) -> PyResult<()> {
        self.step(py, false, DbIterator::seek_to_last)
    }

    /// Position on the first entry whose key is >= target.
    fn seek(&self, py: Python<'_>, target: &Bound<'_, PyAny>) -> PyResult<()> {
        let target = bytes_arg(target, "target")?;
        let target = target.as_bytes();
        self.with_iter(py, |it| {
            it.seek(target);
            it.status()?;
            Ok(())
        })
    }

    /// Move to the next entry; IteratorInvalidError if not on an entry.
    fn next(&self, py: Python<'_>) -> PyResult<()> {
        self.step(py, true, DbIterator::next)
    }

    /// Move to the previous entry; IteratorInvalidError if not on an entry.
    fn prev(&self, py: Python<'_>) -> PyResult<()> {
        self.step(py, true, DbIterator::prev)
    }

    /// The current key; IteratorInvalidError if not on an entry.
    fn key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let key = self.with_iter(py, |it| {
            if !it.valid() {
                return Err(IterError::Invalid);
            }
            Ok(it.key().to_vec())
        })?;
        Ok(PyBytes::new(py, &key))
    }

    /// The current value; IteratorInvalidError if not on an entry.
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let value = self.with_iter(py, |it| {
            if !it.valid() {
                return Err(IterError::Invalid);
            }
            Ok(it.value().to_vec())
        })?;
        Ok(PyBytes::new(py, &value))
    }

    /// The current (key, value); IteratorInvalidError if not on an entry.
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let (k, v) = self.with_iter(py, |it| {
            if !it.valid() {
                return Err(IterError::Invalid);
            }
            Ok((it.key().to_vec(), it.value().to_vec()))
        })?;
        PyTuple::new(py, [PyBytes::new(py, &k), PyBytes::new(py, &v)])
    }

    /// Release the iterator's resources; later use raises RuntimeError. Idempotent.
    fn close(&self, py: Python<'_>) {
        let it = py.detach(|| lock(&self.it).take());
        drop(it);
    }

    /// Return the iterator itself, closed when the with block ends.
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Close the iterator; exceptions from the with block propagate.
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
