"""siltdb: an embeddable, LevelDB-compatible LSM key-value engine.

    >>> import siltdb
    >>> with siltdb.DB("/tmp/example-db", create_if_missing=True) as db:
    ...     db.put(b"key", b"value")
    ...     db.get(b"key")
    b'value'

Every error the engine reports is a subclass of siltdb.Error; using a closed DB
raises siltdb.ClosedError, which is also a RuntimeError.

To watch flushes, pass DB(..., listener=obj): obj's on_flush_begin(info) and
on_flush_completed(info) receive a siltdb.FlushInfo, on_write_stall(info) a
siltdb.WriteStallInfo, on_background_error(err) a siltdb.Error. db.get_property(name)
and db.stats() report the engine's state.
"""

from ._siltdb import (
    DB,
    BusyError,
    Iterator,
    IteratorInvalidError,
    PrefixedDB,
    RawIterator,
    Snapshot,
    WriteBatch,
    __leveldb_version__,
    destroy_db,
    repair_db,
    ClosedError,
    CorruptionError,
    Error,
    FlushInfo,
    InvalidArgumentError,
    IOError,
    NotFoundError,
    NotSupportedError,
    WriteStallInfo,
    __version__,
)

__all__ = [
    "DB",
    "PrefixedDB",
    "Iterator",
    "RawIterator",
    "Snapshot",
    "WriteBatch",
    "destroy_db",
    "repair_db",
    "Error",
    "IteratorInvalidError",
    "IOError",
    "BusyError",
    "CorruptionError",
    "InvalidArgumentError",
    "NotFoundError",
    "NotSupportedError",
    "ClosedError",
    "FlushInfo",
    "WriteStallInfo",
    "__version__",
    "__leveldb_version__",
]
