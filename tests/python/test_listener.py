"""A Python listener sees every flush, in order, on the engine's event thread; callbacks
may call back into the DB; exceptions in them go to sys.unraisablehook; close() and
freeing the DB never deadlock with a callback waiting for the GIL."""

import faulthandler
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest

import siltdb

SMALL_BUFFER = 64 * 1024


@pytest.fixture(scope="module")
def real_stderr(pytestconfig):
    """The terminal's stderr: pytest's capture would swallow what a dying run writes."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    if capture is None:
        yield sys.stderr
        return
    with capture.global_and_fixture_disabled():
        stream = os.fdopen(os.dup(2), "w")
    yield stream
    stream.close()


@pytest.fixture(autouse=True)
def watchdog(real_stderr):
    """A deadlock ends the run with every thread's traceback instead of hanging it."""
    faulthandler.dump_traceback_later(20, exit=True, file=real_stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


class Recorder:
    """Keeps every event, and the threads they arrived on."""

    def __init__(self):
        self.events = []
        self.threads = set()

    def _record(self, kind, info):
        self.events.append((kind, info))
        self.threads.add(threading.get_ident())

    def on_flush_begin(self, info):
        self._record("begin", info)

    def on_flush_completed(self, info):
        self._record("completed", info)

    def on_write_stall(self, info):
        self._record("stall", info)

    def on_background_error(self, err):
        self._record("error", err)

    def of_kind(self, kind):
        return [info for k, info in self.events if k == kind]


def table_numbers(path):
    return sorted(int(name[:-4]) for name in os.listdir(path) if name.endswith(".ldb"))


def fill(db, count, value_size=100):
    for i in range(count):
        db.put(b"key%08d" % i, b"%08d" % i * (value_size // 8))


def test_one_completed_event_per_flushed_table_in_file_number_order(db_path):
    rec = Recorder()
    db = siltdb.DB(
        db_path, create_if_missing=True, write_buffer_size=SMALL_BUFFER, listener=rec
    )
    fill(db, 3000)
    db.flush()
    completed = rec.of_kind("completed")
    assert len(completed) >= 4, completed
    assert all(isinstance(c, siltdb.FlushInfo) for c in completed)
    assert [c.reason for c in completed] == ["write_buffer_full"] * (
        len(completed) - 1
    ) + ["manual"]
    assert all(c.error is None for c in completed)
    numbers = [c.file_number for c in completed]
    assert numbers == sorted(numbers)
    assert numbers == table_numbers(db_path), "one event per table file on disk"
    for level in range(7):
        on_level = sum(1 for c in completed if c.level == level)
        prop = db.get_property(b"leveldb.num-files-at-level%d" % level)
        assert prop == str(on_level).encode(), level
    assert sum(c.num_entries for c in completed) == 3000
    for c in completed:
        assert c.file_path == os.path.join(db_path, "%06d.ldb" % c.file_number)
        assert c.file_size == os.path.getsize(c.file_path)
        assert isinstance(c.smallest_key, bytes) and c.smallest_key <= c.largest_key
        assert 0 < c.smallest_seqno <= c.largest_seqno
        assert c.memtable_bytes > 0 and c.duration_micros >= 0
        assert c.num_deletions == 0 and c.stalled_writers in (False, True)
    assert completed[0].smallest_key == b"key00000000"
    assert completed[-1].largest_key == b"key00002999"
    # Each job's begin event comes before its completed event.
    order = [(kind, info.job_id) for kind, info in rec.events if kind != "stall"]
    for c in completed:
        assert order.index(("begin", c.job_id)) < order.index(("completed", c.job_id))
    # All delivered on one thread, the engine's, not this one.
    assert len(rec.threads) == 1 and threading.get_ident() not in rec.threads
    assert db.stats()["flushes_completed"] == len(completed)
    db.close()


def test_flush_info_is_frozen_and_reads_well(db_path):
    rec = Recorder()
    with siltdb.DB(db_path, create_if_missing=True, listener=rec) as db:
        db.put(b"a", b"1")
        db.delete(b"b")
        db.flush()
    begin, done = rec.of_kind("begin")[0], rec.of_kind("completed")[0]
    assert (begin.job_id, begin.file_number) == (done.job_id, done.file_number)
    assert (begin.level, begin.file_size, begin.smallest_key) == (0, 0, b"")
    assert (done.num_entries, done.num_deletions) == (2, 1)
    assert (done.smallest_key, done.largest_key) == (b"a", b"b")
    assert (done.smallest_seqno, done.largest_seqno) == (1, 2)
    with pytest.raises(AttributeError):
        done.level = 3
    text = repr(done)
    assert text.startswith("siltdb.FlushInfo(job_id=%d, reason='manual'," % done.job_id)
    assert "smallest_key=b'a'" in text and "error=None" in text


def test_flush_returns_after_the_completed_callback_ran(db_path):
    seen = []

    class Slow:
        def on_flush_completed(self, info):
            time.sleep(0.05)
            seen.append(info.file_number)

    with siltdb.DB(db_path, create_if_missing=True, listener=Slow()) as db:
        for round in range(3):
            db.put(b"k%d" % round, b"v")
            db.flush()
            assert len(seen) == round + 1
        assert seen == table_numbers(db_path)


def test_callbacks_may_call_get_put_and_get_property_but_flush_and_close_are_busy(
    db_path,
):
    class Reentrant:
        db = None
        outcomes = []

        def on_flush_completed(self, info):
            if self.db is None:
                return
            db = self.db
            got = db.get(b"key00000001")
            db.put(b"from-callback-%d" % info.job_id, b"x" * 1000)
            prop = db.get_property(b"leveldb.num-files-at-level0")
            stats = db.stats()
            errors = []
            for call in (db.flush, db.close):
                try:
                    call()
                except siltdb.BusyError as e:
                    errors.append(type(e))
            self.outcomes.append((got, prop is not None, len(stats["levels"]), errors))

    listener = Reentrant()
    db = siltdb.DB(
        db_path, create_if_missing=True, write_buffer_size=SMALL_BUFFER, listener=listener
    )
    listener.db = db
    fill(db, 1500)
    db.flush()
    assert len(listener.outcomes) >= 2
    for got, has_prop, levels, errors in listener.outcomes:
        assert got == b"%08d" % 1 * 12
        assert has_prop and levels == 7
        assert errors == [siltdb.BusyError, siltdb.BusyError]
    assert not db.closed
    assert db.get(b"from-callback-1") == b"x" * 1000
    db.close()


@pytest.mark.parametrize("shut_down", ["close", "free"])
def test_shutting_down_while_callbacks_are_pending_delivers_them_without_deadlock(
    db_path, shut_down
):
    seen = []

    class Slow:
        def on_flush_completed(self, info):
            time.sleep(0.02)
            seen.append(info.file_number)

    db = siltdb.DB(
        db_path, create_if_missing=True, write_buffer_size=SMALL_BUFFER, listener=Slow()
    )
    fill(db, 3000)
    db.flush(wait=False)
    # Either way the main thread holds the GIL until the engine waits for its event
    # thread, whose callbacks need the GIL.
    if shut_down == "close":
        db.close()
    else:
        del db  # the last reference: closes the DB as close() does
    count = len(seen)
    assert count >= 4 and seen == table_numbers(db_path), "pending events delivered"
    time.sleep(0.05)
    assert len(seen) == count, "no callback after close"
    siltdb.DB(db_path).close()  # the lock was released


def test_listener_exception_goes_to_unraisablehook_and_the_engine_goes_on(
    db_path, monkeypatch
):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    class Broken:
        calls = 0

        def on_flush_completed(self, info):
            self.calls += 1
            raise ValueError("listener bug %d" % info.job_id)

    listener = Broken()
    with siltdb.DB(db_path, create_if_missing=True, listener=listener) as db:
        for round in range(3):
            db.put(b"k%d" % round, b"v")
            db.flush()
        assert db.get(b"k2") == b"v"
        assert listener.calls == 3
        assert db.stats()["flushes_completed"] == 3
        assert db.stats()["listener_panics"] == 0
    assert [type(r.exc_value) for r in reported] == [ValueError] * 3
    assert str(reported[0].exc_value) == "listener bug 1"
    assert reported[0].object == listener.on_flush_completed


def test_a_failed_flush_gives_a_completed_event_with_the_error(db_path):
    rec = Recorder()
    db = siltdb.DB(db_path, create_if_missing=True, listener=rec)
    # Directories where the next table files would go: creating one fails (EISDIR),
    # even for root.
    for number in range(1, 64):
        name = os.path.join(db_path, "%06d.ldb" % number)
        if not os.path.exists(name):
            os.mkdir(name)
    db.put(b"a", b"1")
    with pytest.raises(siltdb.IOError):
        db.flush()
    (done,) = rec.of_kind("completed")
    assert done.reason == "manual"
    assert done.error is not None and "Is a directory" in done.error
    (err,) = rec.of_kind("error")
    assert type(err) is siltdb.IOError and "Is a directory" in str(err)
    assert db.stats()["flushes_failed"] == 1
    assert b"Is a directory" in db.get_property(b"siltdb.background-error")
    db.close()


def test_recovery_flush_is_reported_before_open_returns(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        db.put(b"from-the-wal", b"1")
    rec = Recorder()
    with siltdb.DB(db_path, listener=rec) as db:
        (done,) = rec.of_kind("completed")
        assert done.reason == "recovery"
        assert done.smallest_key == done.largest_key == b"from-the-wal"
        assert done.file_number in table_numbers(db_path)
        assert db.get(b"from-the-wal") == b"1"


def test_flush_on_close_reports_a_shutdown_flush(db_path):
    rec = Recorder()
    db = siltdb.DB(db_path, create_if_missing=True, listener=rec, flush_on_close=True)
    db.put(b"at-close", b"2")
    assert table_numbers(db_path) == []
    db.close()
    (done,) = rec.of_kind("completed")
    assert done.reason == "shutdown"
    assert table_numbers(db_path) == [done.file_number]
    with siltdb.DB(db_path) as db:
        assert db.get(b"at-close") == b"2"


def test_level0_slowdown_is_reported_as_a_write_stall(db_path):
    rec = Recorder()
    with siltdb.DB(db_path, create_if_missing=True, listener=rec) as db:
        # Overlapping flushes pile up on level 0; the 8th file there delays writers.
        for _ in range(12):
            if db.get_property(b"leveldb.num-files-at-level0") >= b"8":
                break
            db.put(b"a", b"1")
            db.put(b"z", b"2")
            db.flush()
        else:
            pytest.skip("level 0 is compacted before it reaches the slowdown trigger")
        db.put(b"m", b"3")
        db.flush()
        stall = rec.of_kind("stall")[0]
        assert isinstance(stall, siltdb.WriteStallInfo)
        assert (stall.condition, stall.previous, stall.cause) == (
            "delayed",
            "normal",
            "level0_slowdown",
        )
        assert repr(stall) == (
            "siltdb.WriteStallInfo(condition='delayed', previous='normal', "
            "cause='level0_slowdown')"
        )
        assert db.stats()["write_stalls"] >= 1


def test_missing_callbacks_are_skipped_and_a_listener_needs_one(db_path):
    class OnlyCompleted:
        seen = 0

        def on_flush_completed(self, info):
            self.seen += 1

    listener = OnlyCompleted()
    with siltdb.DB(db_path, create_if_missing=True, listener=listener) as db:
        db.put(b"k", b"v")
        db.flush()
    assert listener.seen == 1
    with pytest.raises(TypeError, match="at least one"):
        siltdb.DB(db_path, listener=object())

    class NotCallable:
        on_flush_begin = 42

    with pytest.raises(TypeError, match="on_flush_begin must be callable"):
        siltdb.DB(db_path, listener=NotCallable())


class HoldsTheDb:
    """The common shape: a listener keeps the DB (self.db), the DB keeps the listener."""

    def on_flush_completed(self, info):
        pass


def test_close_breaks_the_listener_db_cycle(db_path):
    listener = HoldsTheDb()
    listener.db = siltdb.DB(db_path, create_if_missing=True, listener=listener)
    listener.db.close()
    gone = weakref.ref(listener)
    del listener
    assert gone() is None, "freed by reference counting alone after close()"


def test_an_unclosed_cycle_is_collected_and_the_db_closed(db_path):
    listener = HoldsTheDb()
    listener.db = siltdb.DB(db_path, create_if_missing=True, listener=listener)
    listener.db.put(b"k", b"v")
    gone = weakref.ref(listener)
    del listener
    gc.collect()
    assert gone() is None
    with siltdb.DB(db_path) as db:  # the collected DB released the lock
        assert db.get(b"k") == b"v"


def test_the_last_reference_dropped_inside_its_own_callback_still_closes(db_path):
    holder = []

    class DropsTheDb:
        def on_flush_completed(self, info):
            holder.clear()  # frees the DB here, on its own event thread

    holder.append(
        siltdb.DB(db_path, create_if_missing=True, listener=DropsTheDb())
    )
    holder[0].put(b"k", b"v")
    holder[0].flush(wait=False)
    deadline = time.monotonic() + 10
    while True:  # closed from another thread once the callback returned
        try:
            db = siltdb.DB(db_path)
            break
        except siltdb.BusyError:
            assert time.monotonic() < deadline, "the DB was never closed"
            time.sleep(0.01)
    assert db.get(b"k") == b"v"
    db.close()


@pytest.mark.parametrize(
    "keep_in_cycle, callback_sleep", [(False, 0.01), (True, 0.01), (True, 0)]
)
def test_exiting_without_close_while_events_are_pending(
    tmp_path, keep_in_cycle, callback_sleep
):
    """The interpreter exits cleanly with callbacks running, sleeping (GIL released) or
    queued: none may want the GIL once finalization starts."""
    script = textwrap.dedent(
        """
        import sys, time, siltdb

        class Slow:
            def on_flush_begin(self, info):
                pass

            def on_flush_completed(self, info):
                time.sleep(float(sys.argv[3]))

        listener = Slow()
        db = siltdb.DB(sys.argv[1], create_if_missing=True,
                       write_buffer_size=64 * 1024, listener=listener)
        if sys.argv[2] == "cycle":
            listener.db = db
        for i in range(2000):
            db.put(b"key%08d" % i, b"v" * 100)
        db.flush(wait=False)
        print("done")
        """
    )
    args = [str(tmp_path / "db"), "cycle" if keep_in_cycle else "", str(callback_sleep)]
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "")
