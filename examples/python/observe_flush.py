"""Watch siltdb flush its write buffer to table files, as it happens.

Run after `pip install ./python`:  python examples/python/observe_flush.py [DIRECTORY]
Without DIRECTORY the database goes in a fresh temporary directory, removed at the end.

A 64 KiB write buffer and ~300 KiB of writes make the engine flush on its own a few
times (reason 'write_buffer_full'); then one manual flush() writes the rest. Each flush
is printed by the listener as it completes, on the engine's event thread; the per-level
table from stats() ends the run.
"""

import sys
import tempfile

import siltdb

WRITE_BUFFER = 64 * 1024


class PrintFlushes:
    """A listener: siltdb calls these methods; any of them may be left out."""

    def on_flush_begin(self, info: siltdb.FlushInfo) -> None:
        print(f"  flush #{info.job_id} begins ({info.reason}, {info.num_entries} entries)")

    def on_flush_completed(self, info: siltdb.FlushInfo) -> None:
        if info.error is not None:
            print(f"  flush #{info.job_id} FAILED: {info.error}")
            return
        print(
            f"  flush #{info.job_id} done: {info.reason:<17} level {info.level}  "
            f"file {info.file_number:06d}.ldb  {info.file_size:>6} bytes  "
            f"{info.num_entries:>5} entries  {info.duration_micros:>6} us  "
            f"keys {info.smallest_key!r}..{info.largest_key!r}"
        )

    def on_write_stall(self, info: siltdb.WriteStallInfo) -> None:
        print(f"  writes {info.condition} (was {info.previous}, because {info.cause})")

    def on_background_error(self, err: siltdb.Error) -> None:
        print(f"  background error: {err!r}")


def print_levels(stats: dict) -> None:
    print("level  files     bytes  flushes  written  time(us)")
    for level in stats["levels"]:
        print(
            f"{level['level']:>5}  {level['files']:>5}  {level['bytes']:>8}  "
            f"{level['compactions']:>7}  {level['bytes_written']:>7}  "
            f"{level['compaction_micros']:>8}"
        )
    print(
        f"flushes completed {stats['flushes_completed']}, failed {stats['flushes_failed']}, "
        f"bytes flushed {stats['bytes_flushed']}, write stalls {stats['write_stalls']}"
    )


def main(path: str) -> None:
    print(f"siltdb {siltdb.__version__}: {path}, write buffer {WRITE_BUFFER} bytes")
    # The with block closes the DB, which also lets go of the listener.
    with siltdb.DB(
        path,
        create_if_missing=True,
        write_buffer_size=WRITE_BUFFER,
        listener=PrintFlushes(),
    ) as db:
        count = 3000
        print(f"writing {count} keys of ~100 bytes:")
        for i in range(count):
            db.put(b"key%06d" % i, b"value-%06d-" % i + b"x" * 90)
        print("manual flush():")
        db.flush()  # returns after on_flush_completed has printed
        for level in (0, 2):
            name = b"leveldb.num-files-at-level%d" % level
            print(f"get_property({name!r}) -> {db.get_property(name)!r}")
        print()
        print_levels(db.stats())


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(f"{tmp}/observe-flush-db")
