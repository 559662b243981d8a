//! The engine `Options` built from plyvel's constructor keywords (shared by `DB()` and
//! `repair_db()`), and the module functions `destroy_db` / `repair_db`.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use siltdb::{CompressionType, Options};

use crate::errors::to_py_err;

/// plyvel's tuning keywords; None keeps the engine's default (LevelDB's).
pub struct Tuning {
    pub paranoid_checks: Option<bool>,
    pub write_buffer_size: Option<usize>,
    pub max_open_files: Option<usize>,
    /// plyvel's name for the block cache size in bytes.
    pub lru_cache_size: Option<usize>,
    /// siltdb's own: bytes of table files lookups may hold whole in memory.
    pub resident_table_budget: Option<usize>,
    pub block_size: Option<usize>,
    pub block_restart_interval: Option<usize>,
    pub max_file_size: Option<u64>,
    /// 'snappy' or None (no compression).
    pub compression: Option<String>,
    pub bloom_filter_bits: Option<usize>,
}

impl Tuning {
    /// Engine options with these tunings applied over the defaults.
    pub fn options(&self) -> PyResult<Options> {
        let d = Options::default();
        Ok(Options {
            paranoid_checks: self.paranoid_checks.unwrap_or(d.paranoid_checks),
            write_buffer_size: self.write_buffer_size.unwrap_or(d.write_buffer_size),
            max_open_files: self.max_open_files.unwrap_or(d.max_open_files),
            block_cache_size: self.lru_cache_size.unwrap_or(d.block_cache_size),
            resident_table_budget: self
                .resident_table_budget
                .unwrap_or(d.resident_table_budget),
            block_size: self.block_size.unwrap_or(d.block_size),
            block_restart_interval: self
                .block_restart_interval
                .unwrap_or(d.block_restart_interval),
            max_file_size: self.max_file_size.unwrap_or(d.max_file_size),
            compression: compression_type(self.compression.as_deref())?,
            bloom_bits_per_key: self.bloom_filter_bits.unwrap_or(d.bloom_bits_per_key),
            ..d
        })
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

/// A database directory argument (str, bytes or os.PathLike) as the path and its str form.
pub fn db_path<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyAny>,
) -> PyResult<(PathBuf, Bound<'py, PyString>)> {
    // fsdecode accepts str, bytes and os.PathLike, and raises TypeError for the rest.
    let name = py
        .import("os")?
        .call_method1("fsdecode", (name,))?
        .cast_into::<PyString>()?;
    Ok((name.extract()?, name))
}

/// Delete the database in directory name: its files, then the directory if left empty.
///
/// Files that are not database files are left alone; a missing directory is not an
/// error. Raises siltdb.BusyError (an IOError) while the database is open.
#[pyfunction]
pub fn destroy_db(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
    let (path, _) = db_path(py, name)?;
    let options = Options::default();
    py.detach(|| siltdb::destroy_db(&path, &options))
        .map_err(|e| to_py_err(py, e))
}

/// Rebuild the database in directory name from the table files and logs it finds.
///
/// For a database whose MANIFEST is lost or corrupt; some data may be lost, and what
/// is recovered is kept. Takes the same tuning keywords as DB() (used for the tables it
/// writes); lru_cache_size sizes the block cache.
#[pyfunction]
#[pyo3(signature = (
    name, *, paranoid_checks = None, write_buffer_size = None, max_open_files = None,
    lru_cache_size = None, block_size = None, block_restart_interval = None,
    max_file_size = None, compression = Some(String::from("snappy")),
    bloom_filter_bits = None,
))]
#[pyo3(
    text_signature = "(name, *, paranoid_checks=None, write_buffer_size=None, \
    max_open_files=None, lru_cache_size=None, block_size=None, block_restart_interval=None, \
    max_file_size=None, compression='snappy', bloom_filter_bits=None)"
)]
#[allow(clippy::too_many_arguments)] // mirrors the Python keyword arguments one to one
pub fn repair_db(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    paranoid_checks: Option<bool>,
    write_buffer_size: Option<usize>,
    max_open_files: Option<usize>,
    lru_cache_size: Option<usize>,
    block_size: Option<usize>,
    block_restart_interval: Option<usize>,
    max_file_size: Option<u64>,
    compression: Option<String>,
    bloom_filter_bits: Option<usize>,
) -> PyResult<()> {
    let (path, _) = db_path(py, name)?;
    let tuning = Tuning {
        paranoid_checks,
        write_buffer_size,
        max_open_files,
        lru_cache_size,
        resident_table_budget: None,
        block_size,
        block_restart_interval,
        max_file_size,
        compression,
        bloom_filter_bits,
    };
    let options = tuning.options()?;
    py.detach(|| siltdb::repair_db(&path, &options))
        .map_err(|e| to_py_err(py, e))
}
