//! Keys and values arrive as any object with the buffer protocol (bytes, bytearray,
//! memoryview, ...); this room turns one into immutable `bytes` the engine can read with
//! the GIL released.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView, PyString};

/// `obj` as `bytes` for the length of one call: borrowed when it is one (the caller's
/// frame holds it for the call, so no reference is taken), else a copy of its buffer.
///
/// A copy because a bytearray can change under us once the GIL is released; `bytes` cannot.
/// `what` names the argument in the TypeError ("key", "value").
pub fn bytes_arg<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Cow<'a, Bound<'py, PyBytes>>> {
    // The exact type first: a pointer comparison, where the subclass check below is a
    // call into the interpreter (the limited API has no inline type flags). Keys and
    // values are nearly always plain bytes.
    if let Ok(bytes) = obj.cast_exact::<PyBytes>() {
        return Ok(Cow::Borrowed(bytes));
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(bytes));
    }
    copy_buffer(obj, what).map(Cow::Owned)
}

/// `obj` as a `bytes` object of its own: itself when it is one, else a copy of its
/// buffer; for arguments kept beyond the call (a prefix).
pub fn to_bytes<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyBytes>> {
    bytes_arg(obj, what).map(Cow::into_owned)
}

/// A copy of the buffer of `obj`, which is not `bytes`; TypeError for `str` and for
/// objects without the buffer protocol.
fn copy_buffer<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyBytes>> {
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
