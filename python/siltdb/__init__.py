"""siltdb: an embeddable, LevelDB-compatible LSM key-value engine.

    >>> import siltdb
    >>> with siltdb.DB("/tmp/example-db", create_if_missing=True) as db:
    ...     db.put(b"key", b"value")
    ...     db.get(b"key")
    b'value'

Every error the engine reports is a subclass of siltdb.Error; using a closed DB
raises siltdb.ClosedError, which is also a RuntimeError.
"""

from ._siltdb import (
    DB,
    BusyError,
    ClosedError,
    CorruptionError,
    Error,
    InvalidArgumentError,
    IOError,
    NotFoundError,
    NotSupportedError,
    __version__,
)

__all__ = [
    "DB",
    "Error",
    "IOError",
    "BusyError",
    "CorruptionError",
    "InvalidArgumentError",
    "NotFoundError",
    "NotSupportedError",
    "ClosedError",
    "__version__",
]
