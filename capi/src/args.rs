//! Turning C arguments into Rust borrows: NULL checks with the argument's name in the
//! message, pointer+length into slices, C paths into `Path`s (any bytes on unix).

use std::ffi::{c_char, CStr};
use std::path::Path;

use crate::status::Failure;

/// Borrows a handle, or fails naming the argument if it is NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that is not freed during `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: by this function's contract a non-NULL `ptr` is a live `T`.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::invalid_argument(format!("{name} is NULL")))
}

/// Borrows an optional handle: NULL means "use the defaults".
///
/// # Safety
/// As [`handle`].
pub(crate) unsafe fn optional<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: by this function's contract a non-NULL `ptr` is a live `T`.
    unsafe { ptr.as_ref() }
}

/// Borrows an out-pointer the call must write through.
///
/// # Safety
/// `ptr` is NULL or points to a writable `T` not otherwise borrowed during `'a`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: by this function's contract a non-NULL `ptr` is writable and unaliased.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::invalid_argument(format!("{name} is NULL")))
}

/// Borrows `len` bytes at `ptr`. NULL with length 0 is the empty slice (an empty key is
/// valid); NULL with a nonzero length is an error.
///
/// # Safety
/// A non-NULL `ptr` points to `len` readable bytes that stay unchanged during `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const c_char,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return match len {
            0 => Ok(&[]),
            _ => Err(Failure::invalid_argument(format!(
                "{name} is NULL but its length is {len}"
            ))),
        };
    }
    // SAFETY: non-NULL, so by this function's contract `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// Borrows a NUL-terminated path. On unix any bytes are accepted, as the OS does.
///
/// # Safety
/// A non-NULL `ptr` points to a NUL-terminated string that stays unchanged during `'a`.
pub(crate) unsafe fn path<'a>(ptr: *const c_char) -> Result<&'a Path, Failure> {
    if ptr.is_null() {
        return Err(Failure::invalid_argument("path is NULL"));
    }
    // SAFETY: non-NULL, so by this function's contract a NUL-terminated string.
    let raw = unsafe { CStr::from_ptr(ptr) };
    path_from_bytes(raw.to_bytes())
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> Result<&Path, Failure> {
    use std::os::unix::ffi::OsStrExt;
    Ok(Path::new(std::ffi::OsStr::from_bytes(bytes)))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> Result<&Path, Failure> {
    std::str::from_utf8(bytes)
        .map(Path::new)
        .map_err(|_| Failure::invalid_argument("path is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_with_zero_length_is_the_empty_key() {
        // SAFETY: NULL is allowed.
        let key = unsafe { bytes(std::ptr::null(), 0, "key") };
        assert_eq!(key.ok(), Some(&[][..]));
    }

    #[test]
    fn null_with_length_is_rejected_by_name() {
        // SAFETY: NULL is allowed.
        let err = unsafe { bytes(std::ptr::null(), 3, "value") };
        assert!(format!("{:?}", err.err()).contains("value is NULL but its length is 3"));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_path_is_accepted() {
        let raw = b"/tmp/silt\xffdb\0";
        // SAFETY: `raw` is NUL-terminated and lives for the test.
        let p = unsafe { path(raw.as_ptr().cast()) }.ok();
        assert_eq!(
            p.map(|p| p.as_os_str().len()),
            Some(raw.len() - 1),
            "all bytes but the NUL kept"
        );
    }
}
