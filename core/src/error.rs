//! The one error type of the engine. Every kind maps 1:1 to a C status code and a
//! Python exception; a sticky background error keeps the kind of the failure that caused it.

use std::fmt;
use std::sync::Arc;

/// What went wrong, without the details. Stable across versions (new kinds may be added).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    Corruption,
    InvalidArgument,
    Io,
    Busy,
    Closed,
    NotSupported,
}

/// An engine error. Variants carry the facts a user needs to act on it.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Error {
    /// A file or database that should exist does not.
    NotFound(String),
    /// Stored bytes failed a checksum or do not decode.
    Corruption(String),
    /// The caller passed something the engine cannot accept.
    InvalidArgument(String),
    /// The operating system refused an operation; `context` names the file or step.
    Io {
        context: String,
        kind: std::io::ErrorKind,
        message: String,
    },
    /// The resource is held by someone else (the `LOCK` file), or the call would deadlock.
    Busy(String),
    /// The database was closed.
    Closed,
    /// The request is understood but not implemented by this engine.
    NotSupported(String),
    /// A background flush or compaction failed earlier; writes are refused until reopen.
    /// The kind reported is the kind of the cause.
    Background(Arc<Error>),
}

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The kind, looking through a background error to its cause.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Corruption(_) => ErrorKind::Corruption,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Io { .. } => ErrorKind::Io,
            Error::Busy(_) => ErrorKind::Busy,
            Error::Closed => ErrorKind::Closed,
            Error::NotSupported(_) => ErrorKind::NotSupported,
            Error::Background(cause) => cause.kind(),
        }
    }

    /// Wraps an `std::io::Error` with the file or step it concerned.
    pub fn io(context: impl Into<String>, err: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            kind: err.kind(),
            message: err.to_string(),
        }
    }

    pub fn corruption(msg: impl Into<String>) -> Error {
        Error::Corruption(msg.into())
    }

    pub fn invalid_argument(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }

    /// True for a sticky background error.
    pub fn is_background(&self) -> bool {
        matches!(self, Error::Background(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(m) => write!(f, "NotFound: {m}"),
            Error::Corruption(m) => write!(f, "Corruption: {m}"),
            Error::InvalidArgument(m) => write!(f, "Invalid argument: {m}"),
            Error::Io {
                context, message, ..
            } => write!(f, "IO error: {context}: {message}"),
            Error::Busy(m) => write!(f, "Busy: {m}"),
            Error::Closed => write!(f, "Closed: the database is closed"),
            Error::NotSupported(m) => write!(f, "Not supported: {m}"),
            Error::Background(cause) => write!(f, "background error: {cause}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_error_reports_kind_of_cause() {
        let cause = Error::io("000005.ldb", std::io::Error::other("disk full"));
        let sticky = Error::Background(Arc::new(cause));
        assert_eq!(sticky.kind(), ErrorKind::Io);
        assert!(sticky.to_string().contains("disk full"));
    }
}
