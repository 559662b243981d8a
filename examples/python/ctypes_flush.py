"""ctypes_flush.py - watch siltdb's flushes from Python with ctypes only (no siltdb module).

Loads libsiltdb.so, registers a flush callback, writes enough to fill the write buffer a
few times, asks for one more flush with siltdb_flush(db, 1, ...) and prints every flush as
its callback reports it. Exits non-zero if no flush was seen.

Run: SILTDB_LIB=/path/to/libsiltdb.so python3 examples/python/ctypes_flush.py
(without SILTDB_LIB: $CARGO_TARGET_DIR/release or target/release next to this repo).
"""

import ctypes
import os
import sys
import tempfile
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    byref,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint64,
    c_void_p,
)

SILTDB_OK = 0
REASONS = {1: "write_buffer_full", 2: "manual", 3: "recovery", 4: "shutdown"}


class FlushInfo(Structure):
    """siltdb_flush_info_t from include/siltdb.h; field order is the ABI."""

    _fields_ = [
        ("job_id", c_uint64),
        ("reason", c_int32),
        ("status", c_int32),
        ("file_number", c_uint64),
        ("level", c_int32),
        ("file_size", c_uint64),
        ("num_entries", c_uint64),
        ("num_deletions", c_uint64),
        ("smallest_seqno", c_uint64),
        ("largest_seqno", c_uint64),
        ("smallest_key", c_void_p),
        ("smallest_key_len", c_size_t),
        ("largest_key", c_void_p),
        ("largest_key_len", c_size_t),
        ("duration_micros", c_uint64),
        ("error_message", c_char_p),
    ]


FLUSH_CALLBACK = CFUNCTYPE(None, c_void_p, POINTER(FlushInfo))


def find_library():
    if os.environ.get("SILTDB_LIB"):
        return os.environ["SILTDB_LIB"]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target")
    return os.path.join(target, "release", "libsiltdb.so")


def load(path):
    lib = ctypes.CDLL(path)
    err = POINTER(c_void_p)  # char **errptr, kept as void* so siltdb_free can take it
    signatures = {
        "siltdb_options_create": (c_void_p, []),
        "siltdb_options_destroy": (None, [c_void_p]),
        "siltdb_options_set_create_if_missing": (None, [c_void_p, c_uint8]),
        "siltdb_options_set_write_buffer_size": (None, [c_void_p, c_size_t]),
        "siltdb_options_set_flush_listener": (
            None,
            [c_void_p, FLUSH_CALLBACK, FLUSH_CALLBACK, c_void_p],
        ),
        "siltdb_open": (c_int, [c_char_p, c_void_p, POINTER(c_void_p), err]),
        "siltdb_put": (
            c_int,
            [c_void_p, c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, err],
        ),
        "siltdb_flush": (c_int, [c_void_p, c_uint8, err]),
        "siltdb_close": (c_int, [c_void_p, err]),
        "siltdb_property_value": (c_void_p, [c_void_p, c_char_p]),
        "siltdb_free": (None, [c_void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def main():
    path = find_library()
    try:
        lib = load(path)
    except OSError as e:
        print(f"cannot load {path}: {e} (set SILTDB_LIB)", file=sys.stderr)
        return 2

    def check(what, rc, err):
        if rc != SILTDB_OK:
            message = ctypes.string_at(err.value).decode() if err.value else "?"
            lib.siltdb_free(err)
            raise SystemExit(f"{what} failed with status {rc}: {message}")

    events = []

    # Runs on the database's event thread; ctypes takes the GIL for it. `info` and the
    # keys it points to are valid only during the call, so copy what is kept.
    def on_completed(_ctx, info_ptr):
        info = info_ptr.contents
        smallest = ctypes.string_at(info.smallest_key, info.smallest_key_len)
        largest = ctypes.string_at(info.largest_key, info.largest_key_len)
        events.append(info.file_number)
        status = "ok" if info.status == SILTDB_OK else f"error {info.error_message.decode()}"
        print(
            f"  flush #{info.job_id} {REASONS.get(info.reason, info.reason)}: "
            f"level {info.level}, file {info.file_number:06d}.ldb, {info.file_size} bytes, "
            f"{info.num_entries} entries [{smallest.decode()} .. {largest.decode()}], "
            f"{info.duration_micros} us, {status}",
            flush=True,
        )

    # Keep a reference for as long as the database may call it: ctypes frees the
    # trampoline when this object is collected.
    callback = FLUSH_CALLBACK(on_completed)

    with tempfile.TemporaryDirectory(prefix="siltdb-ctypes-") as tmp:
        db_path = os.path.join(tmp, "db").encode()
        opts = lib.siltdb_options_create()
        lib.siltdb_options_set_create_if_missing(opts, 1)
        lib.siltdb_options_set_write_buffer_size(opts, 64 * 1024)
        lib.siltdb_options_set_flush_listener(opts, FLUSH_CALLBACK(), callback, None)
        db = c_void_p()
        err = c_void_p()
        check("siltdb_open", lib.siltdb_open(db_path, opts, byref(db), byref(err)), err)
        lib.siltdb_options_destroy(opts)
        print(f"writing 3000 keys to {db_path.decode()} (64 KiB write buffer)")
        value = b"v" * 100
        for i in range(3000):
            key = b"key%08d" % i
            rc = lib.siltdb_put(db, None, key, len(key), value, len(value), byref(err))
            check("siltdb_put", rc, err)
        print("siltdb_flush(db, 1): waits for the table and its callback")
        check("siltdb_flush", lib.siltdb_flush(db, 1, byref(err)), err)
        print(f"flush returned; {len(events)} flushes seen")
        raw = lib.siltdb_property_value(db, b"siltdb.num-flushes")
        num_flushes = ctypes.string_at(raw).decode()
        lib.siltdb_free(raw)
        print(f"siltdb.num-flushes = {num_flushes}")
        check("siltdb_close", lib.siltdb_close(db, byref(err)), err)

    if not events:
        print("no flush event was seen", file=sys.stderr)
        return 1
    if num_flushes != str(len(events)):
        print(f"{len(events)} events but num-flushes is {num_flushes}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
