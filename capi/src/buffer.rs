//! Memory siltdb hands to C: values from `siltdb_get` and `errptr` messages. All of it comes
//! from libc's `malloc`, so `siltdb_free` (libc `free`) releases it whichever allocator the
//! Rust side uses.

use std::ffi::{c_char, c_void};
use std::ptr;

use crate::status::{self, Failure};

/// Copies `bytes` into a new malloc'd buffer followed by a NUL (not counted in any length),
/// so a value can be printed as a string. Never NULL on success, even for zero bytes, so an
/// empty value differs from a missing one.
fn malloc_copy(bytes: &[u8]) -> Option<*mut c_char> {
    let len = bytes.len();
    let size = len.checked_add(1)?;
    // SAFETY: malloc has no preconditions; the result is checked for NULL before use.
    let buf = unsafe { libc::malloc(size) }.cast::<u8>();
    if buf.is_null() {
        return None;
    }
    // SAFETY: `buf` holds `len + 1` writable bytes and cannot overlap the borrowed `bytes`.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), buf, len);
        buf.add(len).write(0);
    }
    Some(buf.cast())
}

/// A value for C: its bytes plus a NUL, in a buffer the caller frees with `siltdb_free`.
pub(crate) fn malloc_value(bytes: &[u8]) -> Result<*mut c_char, Failure> {
    malloc_copy(bytes).ok_or_else(|| {
        Failure::internal(format!(
            "out of memory copying a {}-byte value",
            bytes.len()
        ))
    })
}

/// A NUL-terminated message for `*errptr`; NULL only if memory is exhausted.
pub(crate) fn malloc_c_string(message: &str) -> *mut c_char {
    // A NUL inside the message would end it early in C; show it instead.
    let cleaned = message.replace('\0', "\\0");
    malloc_copy(cleaned.as_bytes()).unwrap_or(ptr::null_mut())
}

/// Frees a buffer from [`malloc_copy`].
///
/// # Safety
/// `ptr` is NULL or a buffer siltdb returned and nobody has freed yet.
pub(crate) unsafe fn free(ptr: *mut c_void) {
    // SAFETY: by this function's contract `ptr` is NULL (a no-op for free) or from malloc.
    unsafe { libc::free(ptr) }
}

/// Frees a buffer returned by siltdb (a value from `siltdb_get`, an `errptr` message).
/// NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn siltdb_free(ptr: *mut c_void) {
    let _ = status::no_unwind(|| {
        // SAFETY: the header's contract: `ptr` is NULL or a siltdb buffer not yet freed.
        unsafe { free(ptr) }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn empty_value_is_a_real_buffer() {
        let buf = malloc_value(b"").expect("tiny allocation");
        assert!(!buf.is_null());
        // SAFETY: from malloc_value, freed once.
        unsafe { siltdb_free(buf.cast()) };
    }

    #[test]
    fn message_is_nul_terminated_and_shows_inner_nuls() {
        let msg = malloc_c_string("bad\0key");
        // SAFETY: malloc_c_string returns a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(msg) }.to_str().map(str::to_owned);
        assert_eq!(text.as_deref(), Ok("bad\\0key"));
        // SAFETY: from malloc_c_string, freed once.
        unsafe { siltdb_free(msg.cast()) };
    }
}
