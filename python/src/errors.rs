//! The exception hierarchy under `siltdb.Error`, one class per engine `ErrorKind`, and the
//! conversion from an engine error to the Python exception that reports it.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use siltdb::ErrorKind;

create_exception!(
    siltdb,
    Error,
    PyException,
    "Base class of every error siltdb raises."
);
create_exception!(
    siltdb,
    IOError,
    Error,
    "The operating system refused an operation on a database file."
);
create_exception!(
    siltdb,
    CorruptionError,
    Error,
    "Stored bytes failed a checksum or do not decode."
);
create_exception!(
    siltdb,
    IteratorInvalidError,
    Error,
    "A RawIterator was asked for its key, value or a move while not on an entry."
);
create_exception!(
    siltdb,
    InvalidArgumentError,
    Error,
    "The engine cannot accept an argument or option (including opening a missing \
     database without create_if_missing)."
);
// A subclass of IOError because plyvel users catch IOError for a locked database.
create_exception!(
    siltdb,
    BusyError,
    IOError,
    "The database is locked by another DB object or process, or a listener callback \
     called flush(wait=True) or close(), which would wait for that very callback."
);
create_exception!(
    siltdb,
    NotFoundError,
    Error,
    "A file or database that should exist does not."
);
create_exception!(
    siltdb,
    NotSupportedError,
    Error,
    "The request is understood but not implemented by this engine."
);

/// `siltdb.ClosedError(siltdb.Error, RuntimeError)`. `create_exception!` takes one base, so
/// the class is made once by calling `type()` with both.
static CLOSED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The `ClosedError` class, created on first use.
pub fn closed_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    let ty = CLOSED_ERROR.get_or_try_init(py, || -> PyResult<Py<PyType>> {
        let bases = PyTuple::new(
            py,
            [py.get_type::<Error>(), py.get_type::<PyRuntimeError>()],
        )?;
        let namespace = PyDict::new(py);
        namespace.set_item("__module__", "siltdb")?;
        namespace.set_item(
            "__doc__",
            "The DB was closed; every call but close() raises this afterwards.",
        )?;
        let class = py
            .get_type::<PyType>()
            .call1(("ClosedError", bases, namespace))?;
        Ok(class.cast_into::<PyType>()?.unbind())
    })?;
    Ok(ty.bind(py))
}

/// The Python exception for an engine error; the message is the engine's `Display`.
pub fn to_py_err(py: Python<'_>, err: siltdb::Error) -> PyErr {
    let message = err.to_string();
    match err.kind() {
        ErrorKind::Io => IOError::new_err(message),
        ErrorKind::Corruption => CorruptionError::new_err(message),
        ErrorKind::InvalidArgument => InvalidArgumentError::new_err(message),
        ErrorKind::Busy => BusyError::new_err(message),
        ErrorKind::NotFound => NotFoundError::new_err(message),
        ErrorKind::NotSupported => NotSupportedError::new_err(message),
        ErrorKind::Closed => match closed_error_type(py) {
            Ok(ty) => PyErr::from_type(ty.clone(), message),
            Err(_) => PyRuntimeError::new_err(message),
        },
        // A kind added to the engine after this binding was written.
        _ => Error::new_err(message),
    }
}
