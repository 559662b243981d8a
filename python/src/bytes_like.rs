//! Keys and values arrive as any object with the buffer protocol (bytes, bytearray,
//! memoryview, ...); this room turns one into immutable `bytes` the engine can read with
//! the GIL released.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView, PyString};

/// `obj` as a `bytes` object: itself when it is one, else a copy of its buffer.
///
/// A copy because a bytearray can change under us once the GIL is released; `bytes` cannot.
/// `what` names the argument in the TypeError ("key", "value").
pub fn to_bytes<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(bytes.clone());
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be bytes or another bytes-like object, not str (encode it first)"
        )));
    }
    let view = PyMemoryView::from(obj).map_err(|_| {
        let type_name = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".to_owned());
        PyTypeError::new_err(format!(
            "{what} must be bytes or another bytes-like object, not {type_name}"
        ))
    })?;
    let copy = view.call_method0("tobytes")?;
    // Release the export now so a bytearray can be resized again at once.
    view.call_method0("release")?;
    Ok(copy.cast_into::<PyBytes>()?)
}
