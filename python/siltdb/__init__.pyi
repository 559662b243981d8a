"""Type stubs for siltdb (the extension module siltdb._siltdb, re-exported)."""

import os
import sys
from types import TracebackType
from typing import (
    Any,
    Iterator as _PyIterator,
    List,
    Literal,
    Optional,
    Protocol,
    Tuple,
    Type,
    TypedDict,
    TypeVar,
    Union,
    final,
    overload,
)

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as _BytesLike
else:
    # Before PEP 688 there is no standard name for "supports the buffer protocol".
    _BytesLike = Union[bytes, bytearray, memoryview]

_T = TypeVar("_T")
_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

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

__version__: str
__leveldb_version__: str
"""The LevelDB release whose format and API siltdb follows: '1.23'."""

class Error(Exception):
    """Base class of every error siltdb raises."""

class IOError(Error):
    """The operating system refused an operation on a database file."""

class BusyError(IOError):
    """The database is locked by another DB object or process, or a listener callback
    called flush(wait=True) or close(), which would wait for that very callback."""

class CorruptionError(Error):
    """Stored bytes failed a checksum or do not decode."""

class IteratorInvalidError(Error):
    """A RawIterator was asked for its key, value or a move while not on an entry."""

class InvalidArgumentError(Error):
    """The engine cannot accept an argument or option."""

class NotFoundError(Error):
    """A file or database that should exist does not."""

class NotSupportedError(Error):
    """The request is understood but not implemented by this engine."""

class ClosedError(Error, RuntimeError):
    """The DB was closed; every call but close() raises this afterwards."""

# Names starting with an underscore exist only for type checkers.
_FlushReason = Literal["write_buffer_full", "manual", "recovery", "shutdown"]
_StallCondition = Literal["normal", "delayed", "stopped"]
_StallCause = Literal["none", "memtable_limit", "level0_slowdown", "level0_stop"]

@final
class FlushInfo:
    """One flush (minor compaction), as passed to on_flush_begin and on_flush_completed.

    The begin event knows only job_id, reason, file_number, file_path, num_entries and
    memtable_bytes; the other fields are zero, empty or False there. Frozen.
    """

    @property
    def job_id(self) -> int:
        """Unique per DB, increasing; shared by a flush's begin and completed events."""
    @property
    def reason(self) -> _FlushReason: ...
    @property
    def file_number(self) -> int:
        """The table file's number (0 when an empty memtable produced no file)."""
    @property
    def file_path(self) -> str: ...
    @property
    def level(self) -> int:
        """The level the table was placed on."""
    @property
    def file_size(self) -> int: ...
    @property
    def num_entries(self) -> int: ...
    @property
    def num_deletions(self) -> int: ...
    @property
    def smallest_key(self) -> bytes: ...
    @property
    def largest_key(self) -> bytes: ...
    @property
    def smallest_seqno(self) -> int: ...
    @property
    def largest_seqno(self) -> int: ...
    @property
    def duration_micros(self) -> int: ...
    @property
    def memtable_bytes(self) -> int:
        """Memory the flushed memtable used."""
    @property
    def stalled_writers(self) -> bool:
        """Whether some writer had to wait for this flush."""
    @property
    def error(self) -> Optional[str]:
        """None on success, else the error message."""

@final
class WriteStallInfo:
    """How writers are throttled now and before, as passed to on_write_stall. Frozen."""

    @property
    def condition(self) -> _StallCondition: ...
    @property
    def previous(self) -> _StallCondition: ...
    @property
    def cause(self) -> _StallCause: ...

class _Listener(Protocol):
    """What DB(listener=...) calls. Any subset of these methods will do (missing ones are
    skipped); they are looked up once, when the DB opens.

    Callbacks run one at a time, in order, on the engine's event thread with the GIL
    held. They may call get, put, delete, get_property and stats on the DB;
    flush(wait=True) and close() raise BusyError there. An exception raised in one goes
    to sys.unraisablehook. A listener that keeps the DB (self.db = db) forms a cycle:
    close() the DB (or use it in a with block) to shut down promptly.
    """

    def on_flush_begin(self, info: FlushInfo) -> Any: ...
    def on_flush_completed(self, info: FlushInfo) -> Any: ...
    def on_write_stall(self, info: WriteStallInfo) -> Any: ...
    def on_background_error(self, err: Error) -> Any: ...

class _LevelStats(TypedDict):
    level: int
    files: int
    bytes: int
    compaction_micros: int
    bytes_read: int
    bytes_written: int
    compactions: int

class _Stats(TypedDict):
    levels: List[_LevelStats]
    flushes_completed: int
    flushes_failed: int
    bytes_flushed: int
    compactions_completed: int
    write_stalls: int
    write_stall_micros: int
    listener_panics: int
    writes: int
    write_groups: int
    wal_syncs: int

@final
class DB:
    """A LevelDB-compatible database directory, open for reading and writing."""

    def __new__(
        cls,
        name: _Path,
        *,
        create_if_missing: bool = False,
        error_if_exists: bool = False,
        paranoid_checks: Optional[bool] = None,
        write_buffer_size: Optional[int] = None,
        max_open_files: Optional[int] = None,
        lru_cache_size: Optional[int] = None,  # block cache bytes (default 8 MiB)
        # bytes of hot table files held whole in memory (default 256 MiB; 0: none)
        resident_table_budget: Optional[int] = None,
        block_size: Optional[int] = None,
        block_restart_interval: Optional[int] = None,
        max_file_size: Optional[int] = None,
        compression: Optional[str] = "snappy",
        bloom_filter_bits: Optional[int] = None,
        listener: Optional[object] = None,  # any subset of _Listener's methods
        flush_on_close: bool = False,
    ) -> "DB": ...
    def put(self, key: _BytesLike, value: _BytesLike, *, sync: bool = False) -> None:
        """Store value under key, replacing any earlier value."""
    @overload
    def get(
        self,
        key: _BytesLike,
        *,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> Optional[bytes]: ...
    @overload
    def get(
        self,
        key: _BytesLike,
        default: _T,
        *,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> Union[bytes, _T]: ...
    def delete(self, key: _BytesLike, *, sync: bool = False) -> None:
        """Remove key. Deleting a missing key is not an error."""
    def write_batch(self, *, transaction: bool = False, sync: bool = False) -> "WriteBatch":
        """A WriteBatch applied atomically; written when its with block ends."""
    def iterator(
        self,
        *,
        reverse: bool = False,
        start: Optional[_BytesLike] = None,
        stop: Optional[_BytesLike] = None,
        include_start: bool = True,
        include_stop: bool = False,
        prefix: Optional[_BytesLike] = None,
        include_key: bool = True,
        include_value: bool = True,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> "Iterator":
        """An Iterator over the database as of now; see siltdb.Iterator."""
    def __iter__(self) -> "Iterator":
        """Iterate over every (key, value) in key order."""
    def raw_iterator(
        self, *, verify_checksums: bool = False, fill_cache: bool = True
    ) -> "RawIterator":
        """A RawIterator (LevelDB's cursor) over the database as of now, unpositioned."""
    def snapshot(self) -> "Snapshot":
        """A read-only view of the database as of now, until released."""
    def prefixed_db(self, prefix: _BytesLike) -> "PrefixedDB":
        """The keys starting with prefix, seen without it."""
    def approximate_size(self, start: _BytesLike, stop: _BytesLike) -> int:
        """Approximate bytes of table files holding keys in [start, stop)."""
    def approximate_sizes(self, *ranges: Tuple[_BytesLike, _BytesLike]) -> List[int]:
        """approximate_size() for each (start, stop) pair."""
    def flush(self, wait: bool = True) -> None:
        """Write the in-memory buffer of recent writes to a table file (.ldb).

        With wait=True, returns after the listener's on_flush_completed has run.
        """
    def compact_range(
        self, start: Optional[_BytesLike] = None, stop: Optional[_BytesLike] = None
    ) -> None:
        """Compact [start, stop] (None = open end) after flushing the memtable."""
    def close(self) -> None:
        """Wait for background work, sync the log and release the lock. Idempotent.

        Pending listener events are delivered first; then the DB drops the listener.
        """
    def get_property(self, name: Union[bytes, str]) -> Optional[bytes]:
        """The value of a LevelDB (or siltdb.*) property as bytes; None if unknown."""
    def stats(self) -> _Stats:
        """The engine's counters and per-level figures as a dict."""
    @property
    def closed(self) -> bool:
        """True once close() has been called."""
    @property
    def name(self) -> str:
        """The database directory, as given to DB()."""
    def __enter__(self) -> "DB": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

_Item = Any  # (key, value) tuple, key, value or None, per include_key / include_value

@final
class Iterator:
    """A range iterator (plyvel's): yields (key, value) tuples, or keys or values alone.

    The cursor sits between entries: after next() returned an entry, prev() returns the
    same entry. Usable as a context manager, which closes it. RuntimeError once closed
    or once its DB is closed.
    """

    def __iter__(self) -> "Iterator": ...
    def __next__(self) -> _Item:
        """The next entry in the iteration direction; StopIteration at the end."""
    def prev(self) -> _Item:
        """Move back one entry and return it; StopIteration at the start."""
    def seek_to_start(self) -> None:
        """Move before the first entry of the range."""
    def seek_to_stop(self) -> None:
        """Move after the last entry of the range."""
    def seek(self, target: _BytesLike) -> None:
        """Move to just before the first key >= target, clamped to the range."""
    def close(self) -> None:
        """Release the iterator. Idempotent."""
    def __enter__(self) -> "Iterator": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

@final
class RawIterator:
    """LevelDB's iterator as it is; IteratorInvalidError when used off an entry."""

    def valid(self) -> bool:
        """True when positioned on an entry."""
    def seek_to_first(self) -> None:
        """Position on the first entry."""
    def seek_to_last(self) -> None:
        """Position on the last entry."""
    def seek(self, target: _BytesLike) -> None:
        """Position on the first entry whose key is >= target."""
    def next(self) -> None:
        """Move to the next entry."""
    def prev(self) -> None:
        """Move to the previous entry."""
    def key(self) -> bytes:
        """The current key."""
    def value(self) -> bytes:
        """The current value."""
    def item(self) -> Tuple[bytes, bytes]:
        """The current (key, value)."""
    def close(self) -> None:
        """Release the iterator. Idempotent."""
    def __enter__(self) -> "RawIterator": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

@final
class Snapshot:
    """A read-only view of the database as of its creation, until released."""

    @overload
    def get(
        self,
        key: _BytesLike,
        *,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> Optional[bytes]: ...
    @overload
    def get(
        self,
        key: _BytesLike,
        default: _T,
        *,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> Union[bytes, _T]: ...
    def iterator(
        self,
        *,
        reverse: bool = False,
        start: Optional[_BytesLike] = None,
        stop: Optional[_BytesLike] = None,
        include_start: bool = True,
        include_stop: bool = False,
        prefix: Optional[_BytesLike] = None,
        include_key: bool = True,
        include_value: bool = True,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> Iterator:
        """An Iterator over the snapshot's view."""
    def raw_iterator(
        self, *, verify_checksums: bool = False, fill_cache: bool = True
    ) -> RawIterator:
        """A RawIterator over the snapshot's view."""
    def __iter__(self) -> Iterator: ...
    def close(self) -> None:
        """Release the snapshot. Idempotent."""
    def release(self) -> None:
        """The same as close()."""
    def __enter__(self) -> "Snapshot": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

@final
class WriteBatch:
    """Puts and deletes applied atomically by write() or at the end of a with block
    (discarded instead if transaction=True and the block raised)."""

    def put(self, key: _BytesLike, value: _BytesLike) -> None:
        """Add a put."""
    def delete(self, key: _BytesLike) -> None:
        """Add a delete."""
    def clear(self) -> None:
        """Drop everything added so far."""
    def append(self, other: "WriteBatch") -> None:
        """Add other's puts and deletes after this batch's."""
    def approximate_size(self) -> int:
        """The encoded size of the batch in bytes."""
    def write(self) -> None:
        """Apply the batch atomically."""
    def __enter__(self) -> "WriteBatch": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

@final
class PrefixedDB:
    """The keys of a DB starting with prefix, seen without it."""

    @property
    def db(self) -> DB:
        """The underlying DB."""
    @property
    def prefix(self) -> bytes:
        """The prefix added to every key."""
    @overload
    def get(
        self,
        key: _BytesLike,
        *,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> Optional[bytes]: ...
    @overload
    def get(
        self,
        key: _BytesLike,
        default: _T,
        *,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> Union[bytes, _T]: ...
    def put(self, key: _BytesLike, value: _BytesLike, *, sync: bool = False) -> None:
        """Store value under prefix + key."""
    def delete(self, key: _BytesLike, *, sync: bool = False) -> None:
        """Remove prefix + key."""
    def write_batch(self, *, transaction: bool = False, sync: bool = False) -> WriteBatch:
        """A WriteBatch whose keys get the prefix."""
    def iterator(
        self,
        *,
        reverse: bool = False,
        start: Optional[_BytesLike] = None,
        stop: Optional[_BytesLike] = None,
        include_start: bool = True,
        include_stop: bool = False,
        prefix: Optional[_BytesLike] = None,
        include_key: bool = True,
        include_value: bool = True,
        verify_checksums: bool = False,
        fill_cache: bool = True,
    ) -> Iterator:
        """An Iterator over the keys under the prefix, returned without it."""
    def __iter__(self) -> Iterator: ...
    def snapshot(self) -> Snapshot:
        """A Snapshot reading under the prefix."""
    def prefixed_db(self, prefix: _BytesLike) -> "PrefixedDB":
        """A PrefixedDB for this prefix + prefix."""

def destroy_db(name: _Path) -> None:
    """Delete the database in directory name (BusyError while it is open)."""

def repair_db(
    name: _Path,
    *,
    paranoid_checks: Optional[bool] = None,
    write_buffer_size: Optional[int] = None,
    max_open_files: Optional[int] = None,
    lru_cache_size: Optional[int] = None,
    block_size: Optional[int] = None,
    block_restart_interval: Optional[int] = None,
    max_file_size: Optional[int] = None,
    compression: Optional[str] = "snappy",
    bloom_filter_bits: Optional[int] = None,
) -> None:
    """Rebuild the database in directory name from the table files and logs it finds."""
