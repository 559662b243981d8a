//! The event payloads a Python listener receives: `siltdb.FlushInfo` and
//! `siltdb.WriteStallInfo`, frozen snapshots built from the engine's `FlushJobInfo` and
//! `WriteStallInfo`, with enums spelled as the lowercase strings the docs promise.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use siltdb::{FlushJobInfo, WriteStallCause, WriteStallCondition};

/// One flush (minor compaction), as passed to on_flush_begin and on_flush_completed.
///
/// The begin event knows only job_id, reason, file_number, file_path, num_entries (of
/// the memtable) and memtable_bytes; the other fields are zero, empty or False there.
/// error is None on success, else the engine's message.
#[pyclass(module = "siltdb", name = "FlushInfo", frozen, get_all)]
pub struct FlushInfo {
    /// Unique per DB, increasing; shared by a flush's begin and completed events.
    job_id: u64,
    /// 'write_buffer_full', 'manual', 'recovery' or 'shutdown'.
    reason: Py<PyString>,
    /// The table file's number (0 when an empty memtable produced no file).
    file_number: u64,
    /// The table file's path.
    file_path: Py<PyString>,
    /// The level the table was placed on (0 in the begin event).
    level: usize,
    file_size: u64,
    num_entries: u64,
    num_deletions: u64,
    smallest_key: Py<PyBytes>,
    largest_key: Py<PyBytes>,
    smallest_seqno: u64,
    largest_seqno: u64,
    duration_micros: u64,
    /// Memory the flushed memtable used.
    memtable_bytes: u64,
    /// Whether some writer had to wait for this flush.
    stalled_writers: bool,
    /// None on success, else the error message.
    error: Option<String>,
}

impl FlushInfo {
    pub fn new(py: Python<'_>, info: &FlushJobInfo) -> PyResult<FlushInfo> {
        // An &OsStr becomes a str the way os.fsdecode would make it (surrogateescape).
        let file_path = info
            .file_path
            .as_os_str()
            .into_pyobject(py)?
            .cast_into::<PyString>()?;
        Ok(FlushInfo {
            job_id: info.job_id,
            reason: PyString::intern(py, info.reason.as_str()).unbind(),
            file_number: info.file_number.0,
            file_path: file_path.unbind(),
            level: info.level,
            file_size: info.file_size,
            num_entries: info.num_entries,
            num_deletions: info.num_deletions,
            smallest_key: PyBytes::new(py, &info.smallest_user_key).unbind(),
            largest_key: PyBytes::new(py, &info.largest_user_key).unbind(),
            smallest_seqno: info.smallest_seqno.0,
            largest_seqno: info.largest_seqno.0,
            duration_micros: u64::try_from(info.duration.as_micros()).unwrap_or(u64::MAX),
            memtable_bytes: info.memtable_bytes,
            stalled_writers: info.stalled_writers,
            error: info.error.as_ref().map(|e| e.to_string()),
        })
    }
}

#[pymethods]
impl FlushInfo {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let error = match &self.error {
            Some(message) => PyString::new(py, message).repr()?.to_string(),
            None => "None".to_owned(),
        };
        Ok(format!(
            "siltdb.FlushInfo(job_id={}, reason={}, file_number={}, level={}, file_size={}, \
             num_entries={}, num_deletions={}, smallest_key={}, largest_key={}, \
             duration_micros={}, error={error})",
            self.job_id,
            self.reason.bind(py).repr()?,
            self.file_number,
            self.level,
            self.file_size,
            self.num_entries,
            self.num_deletions,
            self.smallest_key.bind(py).repr()?,
            self.largest_key.bind(py).repr()?,
            self.duration_micros,
        ))
    }
}

/// How writers are throttled now and before, as passed to on_write_stall.
///
/// condition and previous are 'normal', 'delayed' (each write waits 200 us) or 'stopped'
/// (writers wait for background work); cause is 'none', 'memtable_limit',
/// 'level0_slowdown' or 'level0_stop'.
#[pyclass(module = "siltdb", name = "WriteStallInfo", frozen, get_all)]
pub struct WriteStallInfo {
    condition: &'static str,
    previous: &'static str,
    cause: &'static str,
}

impl WriteStallInfo {
    pub fn new(info: &siltdb::WriteStallInfo) -> WriteStallInfo {
        WriteStallInfo {
            condition: condition_name(info.condition),
            previous: condition_name(info.previous),
            cause: cause_name(info.cause),
        }
    }
}

#[pymethods]
impl WriteStallInfo {
    fn __repr__(&self) -> String {
        format!(
            "siltdb.WriteStallInfo(condition='{}', previous='{}', cause='{}')",
            self.condition, self.previous, self.cause
        )
    }
}

fn condition_name(condition: WriteStallCondition) -> &'static str {
    match condition {
        WriteStallCondition::Normal => "normal",
        WriteStallCondition::Delayed => "delayed",
        WriteStallCondition::Stopped => "stopped",
    }
}

fn cause_name(cause: WriteStallCause) -> &'static str {
    match cause {
        WriteStallCause::None => "none",
        WriteStallCause::MemtableLimit => "memtable_limit",
        WriteStallCause::Level0Slowdown => "level0_slowdown",
        WriteStallCause::Level0Stop => "level0_stop",
    }
}
