"""Type stubs for siltdb (the extension module siltdb._siltdb, re-exported)."""

import os
import sys
from types import TracebackType
from typing import Optional, Type, TypeVar, Union, final, overload

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as _BytesLike
else:
    # Before PEP 688 there is no standard name for "supports the buffer protocol".
    _BytesLike = Union[bytes, bytearray, memoryview]

_T = TypeVar("_T")
_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

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

__version__: str

class Error(Exception):
    """Base class of every error siltdb raises."""

class IOError(Error):
    """The operating system refused an operation on a database file."""

class BusyError(IOError):
    """The database is locked by another DB object or process."""

class CorruptionError(Error):
    """Stored bytes failed a checksum or do not decode."""

class InvalidArgumentError(Error):
    """The engine cannot accept an argument or option."""

class NotFoundError(Error):
    """A file or database that should exist does not."""

class NotSupportedError(Error):
    """The request is understood but not implemented by this engine."""

class ClosedError(Error, RuntimeError):
    """The DB was closed; every call but close() raises this afterwards."""

@final
class DB:
    """A LevelDB-compatible database directory, open for reading and writing."""

    def __new__(
        cls,
        name: _Path,
        *,
        create_if_missing: bool = False,
        error_if_exists: bool = False,
        paranoid_checks: bool = False,
        write_buffer_size: Optional[int] = None,
        max_open_files: Optional[int] = None,
        block_size: Optional[int] = None,
        compression: Optional[str] = "snappy",
        bloom_filter_bits: Optional[int] = None,
    ) -> "DB": ...
    def put(self, key: _BytesLike, value: _BytesLike, *, sync: bool = False) -> None:
        """Store value under key, replacing any earlier value."""
    @overload
    def get(self, key: _BytesLike) -> Optional[bytes]: ...
    @overload
    def get(self, key: _BytesLike, default: _T) -> Union[bytes, _T]: ...
    def delete(self, key: _BytesLike, *, sync: bool = False) -> None:
        """Remove key. Deleting a missing key is not an error."""
    def flush(self, wait: bool = True) -> None:
        """Write the in-memory buffer of recent writes to a table file (.ldb)."""
    def close(self) -> None:
        """Wait for background work, sync the log and release the lock. Idempotent."""
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
