//! What `DB.get_property` and `DB.stats` hand back: property names taken as bytes (as
//! plyvel) or str, and the engine's `DbStats` as a plain dict of ints.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use siltdb::DbStats;

/// The property name as the engine's `&str`; `None` for a name with no UTF-8 form (no
/// property has such a name).
pub fn property_name(name: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if let Ok(bytes) = name.cast::<PyBytes>() {
        return Ok(std::str::from_utf8(bytes.as_bytes())
            .ok()
            .map(str::to_owned));
    }
    if let Ok(text) = name.cast::<PyString>() {
        // A str with lone surrogates has no UTF-8 form, so names no property either.
        return Ok(text.to_cow().ok().map(|t| t.into_owned()));
    }
    Err(PyTypeError::new_err(format!(
        "property name must be bytes or str, not {}",
        name.get_type().name()?
    )))
}

/// `{'levels': [{'level': 0, 'files': .., ...}, ...], 'flushes_completed': .., ...}`.
pub fn stats_dict<'py>(py: Python<'py>, stats: &DbStats) -> PyResult<Bound<'py, PyDict>> {
    let levels = PyList::empty(py);
    for (level, s) in stats.levels.iter().enumerate() {
        let d = PyDict::new(py);
        d.set_item("level", level)?;
        d.set_item("files", s.files)?;
        d.set_item("bytes", s.bytes)?;
        d.set_item("compaction_micros", s.compaction.micros)?;
        d.set_item("bytes_read", s.compaction.bytes_read)?;
        d.set_item("bytes_written", s.compaction.bytes_written)?;
        d.set_item("compactions", s.compaction.count)?;
        levels.append(d)?;
    }
    let d = PyDict::new(py);
    d.set_item("levels", levels)?;
    d.set_item("flushes_completed", stats.flushes_completed)?;
    d.set_item("flushes_failed", stats.flushes_failed)?;
    d.set_item("bytes_flushed", stats.bytes_flushed)?;
    d.set_item("compactions_completed", stats.compactions_completed)?;
    d.set_item("write_stalls", stats.write_stalls)?;
    d.set_item("write_stall_micros", stats.write_stall_micros)?;
    d.set_item("listener_panics", stats.listener_panics)?;
    d.set_item("writes", stats.writes)?;
    d.set_item("write_groups", stats.write_groups)?;
    d.set_item("wal_syncs", stats.wal_syncs)?;
    Ok(d)
}
