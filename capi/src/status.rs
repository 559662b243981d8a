//! Status codes, the `errptr` convention and the panic guard. Every status-returning entry
//! point runs its body through [`call`], so failures are reported one way everywhere and no
//! panic crosses into C; the others (constructors, setters) use [`no_unwind`].

use std::any::Any;
use std::ffi::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};

use siltdb_core::{Error, ErrorKind};

use crate::buffer;

/// Success.
pub const SILTDB_OK: c_int = 0;
/// The key is not in the database (`siltdb_get`); not an error, `*errptr` is left alone.
pub const SILTDB_NOT_FOUND: c_int = 1;
/// Stored bytes failed a checksum or do not decode.
pub const SILTDB_CORRUPTION: c_int = -1;
/// A NULL or otherwise unacceptable argument or option; also opening a missing database
/// without create_if_missing, or an existing one with error_if_exists.
pub const SILTDB_INVALID_ARGUMENT: c_int = -2;
/// The operating system refused a file operation.
pub const SILTDB_IO_ERROR: c_int = -3;
/// The database's LOCK is held by another handle or process.
pub const SILTDB_BUSY: c_int = -4;
/// The database was closed.
pub const SILTDB_CLOSED: c_int = -5;
/// A bug in siltdb (a caught panic) or an out-of-memory condition.
pub const SILTDB_INTERNAL: c_int = -6;
/// The request is understood but not implemented.
pub const SILTDB_NOT_SUPPORTED: c_int = -7;

/// The status code for an engine error kind, 1:1; kinds added later read as INTERNAL
/// until they get a code of their own.
fn status_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::NotFound => SILTDB_NOT_FOUND,
        ErrorKind::Corruption => SILTDB_CORRUPTION,
        ErrorKind::InvalidArgument => SILTDB_INVALID_ARGUMENT,
        ErrorKind::Io => SILTDB_IO_ERROR,
        ErrorKind::Busy => SILTDB_BUSY,
        ErrorKind::Closed => SILTDB_CLOSED,
        ErrorKind::NotSupported => SILTDB_NOT_SUPPORTED,
        _ => SILTDB_INTERNAL,
    }
}

/// Why an entry point failed: the status code and the message for `*errptr`.
#[derive(Debug)]
pub(crate) struct Failure {
    status: c_int,
    message: String,
}

impl Failure {
    pub(crate) fn invalid_argument(message: impl Into<String>) -> Failure {
        Failure {
            status: SILTDB_INVALID_ARGUMENT,
            message: format!("Invalid argument: {}", message.into()),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Failure {
        Failure {
            status: SILTDB_INTERNAL,
            message: format!("Internal error: {}", message.into()),
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Failure {
        Failure {
            status: status_of(err.kind()),
            message: err.to_string(),
        }
    }
}

/// The caller's `char **errptr`: NULL (the caller wants no message) or a slot holding NULL
/// or an earlier message from siltdb.
#[derive(Clone, Copy)]
pub(crate) struct ErrPtr(*mut *mut c_char);

impl ErrPtr {
    /// # Safety
    /// `errptr` is NULL, or points to a writable `char *` that is NULL or was allocated by
    /// siltdb, and stays so for the call (the header's contract for every `errptr`).
    pub(crate) unsafe fn new(errptr: *mut *mut c_char) -> ErrPtr {
        ErrPtr(errptr)
    }

    /// Stores `message`, freeing any message already in the slot (as LevelDB's C API does).
    fn report(self, message: &str) {
        if self.0.is_null() {
            return;
        }
        let message = buffer::malloc_c_string(message);
        // SAFETY: non-NULL, so by the contract of `new` a writable slot holding NULL or a
        // siltdb allocation; `replace` frees that allocation exactly once.
        unsafe {
            let old = std::ptr::replace(self.0, message);
            buffer::free(old.cast());
        }
    }
}

/// Runs a status-returning entry point: `Ok` carries SILTDB_OK or SILTDB_NOT_FOUND and
/// leaves `*errptr` alone; a failure or a panic stores its message in `*errptr` and returns
/// its (negative) code.
pub(crate) fn call(errptr: ErrPtr, body: impl FnOnce() -> Result<c_int, Failure>) -> c_int {
    let failure = match no_unwind(body) {
        Ok(Ok(status)) => return status,
        Ok(Err(failure)) => failure,
        Err(panic) => Failure::internal(format!("panic in siltdb: {panic}")),
    };
    errptr.report(&failure.message);
    failure.status
}

/// Runs `body`, turning a panic into `Err(panic message)` so that it never unwinds into C.
pub(crate) fn no_unwind<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    // AssertUnwindSafe: after a panic the caller only reports it; no state seen mid-update
    // is read again by this call (the engine's locks do not poison).
    catch_unwind(AssertUnwindSafe(body)).map_err(|payload| panic_message(&*payload))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::ptr;

    fn message(slot: *mut c_char) -> String {
        assert!(!slot.is_null());
        // SAFETY: the slot was filled by `report` with a NUL-terminated malloc'd string.
        unsafe { CStr::from_ptr(slot) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn every_engine_kind_maps_to_its_own_code() {
        let kinds = [
            (Error::NotFound("x".into()), SILTDB_NOT_FOUND),
            (Error::corruption("x"), SILTDB_CORRUPTION),
            (Error::invalid_argument("x"), SILTDB_INVALID_ARGUMENT),
            (Error::io("f", std::io::Error::other("x")), SILTDB_IO_ERROR),
            (Error::Busy("x".into()), SILTDB_BUSY),
            (Error::Closed, SILTDB_CLOSED),
            (Error::NotSupported("x".into()), SILTDB_NOT_SUPPORTED),
        ];
        for (err, code) in kinds {
            assert_eq!(Failure::from(err).status, code);
        }
    }

    #[test]
    fn failure_replaces_and_frees_an_earlier_message() {
        let mut slot: *mut c_char = ptr::null_mut();
        // SAFETY: `slot` is a live writable `char *` holding NULL, then siltdb's message.
        let errptr = unsafe { ErrPtr::new(&mut slot) };
        let first = call(errptr, || Err(Failure::invalid_argument("first")));
        assert_eq!(first, SILTDB_INVALID_ARGUMENT);
        assert_eq!(message(slot), "Invalid argument: first");
        let second = call(errptr, || Err(Error::Closed.into()));
        assert_eq!(second, SILTDB_CLOSED);
        assert!(message(slot).contains("closed"));
        // SAFETY: allocated by siltdb, freed once.
        unsafe { buffer::free(slot.cast()) };
    }

    #[test]
    fn success_and_not_found_leave_the_message_slot_alone() {
        let mut slot: *mut c_char = ptr::null_mut();
        // SAFETY: `slot` is a live writable `char *` holding NULL.
        let errptr = unsafe { ErrPtr::new(&mut slot) };
        assert_eq!(call(errptr, || Ok(SILTDB_OK)), SILTDB_OK);
        assert_eq!(call(errptr, || Ok(SILTDB_NOT_FOUND)), SILTDB_NOT_FOUND);
        assert!(slot.is_null());
    }

    #[test]
    fn panic_becomes_internal_with_its_message() {
        let mut slot: *mut c_char = ptr::null_mut();
        // SAFETY: `slot` is a live writable `char *` holding NULL.
        let errptr = unsafe { ErrPtr::new(&mut slot) };
        let status = call(errptr, || panic!("boom {}", 7));
        assert_eq!(status, SILTDB_INTERNAL);
        assert!(message(slot).contains("boom 7"));
        // SAFETY: allocated by siltdb, freed once.
        unsafe { buffer::free(slot.cast()) };
    }

    #[test]
    fn null_errptr_is_allowed() {
        // SAFETY: NULL is allowed by the contract.
        let errptr = unsafe { ErrPtr::new(ptr::null_mut()) };
        assert_eq!(
            call(errptr, || Err(Failure::internal("x"))),
            SILTDB_INTERNAL
        );
    }
}
