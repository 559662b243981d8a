"""One DB shared by several Python threads, and the GIL released during engine calls."""

import sys
import threading
import time

import siltdb


def test_four_threads_put_and_get_concurrently(db):
    errors = []
    barrier = threading.Barrier(4)

    def worker(n):
        try:
            barrier.wait()
            for i in range(2000):
                key = b"t%d-%05d" % (n, i)
                db.put(key, key * 3)
                assert db.get(key) == key * 3
                if i % 10 == 0:
                    db.delete(key)
                    assert db.get(key) is None
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n in range(4):
        for i in range(2000):
            key = b"t%d-%05d" % (n, i)
            assert db.get(key) == (None if i % 10 == 0 else key * 3)


def test_close_from_another_thread_makes_later_calls_raise(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    started = threading.Event()
    outcome = []

    def writer():
        i = 0
        try:
            while True:
                db.put(b"k%d" % i, b"v")
                db.get(b"k%d" % i)
                i += 1
                started.set()
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=writer)
    thread.start()
    assert started.wait(30)
    db.close()
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], siltdb.ClosedError), outcome[0]
    assert isinstance(outcome[0], RuntimeError)


class Counter:
    """A pure-Python thread that counts as fast as it can get the GIL."""

    def __init__(self):
        self.count = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run)

    def _run(self):
        while not self._stop:
            self.count += 1
            # Give the GIL back now and then: the switch interval is huge in these tests.
            time.sleep(0.0001)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()


def counter_advances_during(prepare, call, attempts=20):
    """True if the counter thread ran while `call` was running.

    The switch interval is set far beyond the test's length, so the calling thread gives
    up the GIL only when it blocks or releases it: if `call` held the GIL throughout, the
    count read just before it and just after it would be equal on every attempt.
    `prepare` runs before each attempt, outside the observed window.
    """
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        with Counter() as counter:
            for _ in range(attempts):
                prepare()
                before = counter.count
                call()
                if counter.count > before:
                    return True
        return False
    finally:
        sys.setswitchinterval(old)


VALUE = b"x" * 1000
KEYS = [b"%08d" % i for i in range(2000)]


def put_all(db):
    for key in KEYS:
        db.put(key, VALUE)


def test_gil_released_during_flush(db_path):
    with siltdb.DB(db_path, create_if_missing=True, write_buffer_size=16 << 20) as db:
        assert counter_advances_during(lambda: put_all(db), db.flush)


def test_gil_released_during_puts(db):
    assert counter_advances_during(lambda: None, lambda: put_all(db))


def test_gil_released_during_gets(db):
    put_all(db)

    def get_all():
        for key in KEYS:
            db.get(key)

    assert counter_advances_during(lambda: None, get_all)


def test_gil_released_during_deletes(db):
    def delete_all():
        for key in KEYS:
            db.delete(key)

    assert counter_advances_during(lambda: put_all(db), delete_all)


def test_gil_released_during_open_and_close(db_path):
    siltdb.DB(db_path, create_if_missing=True).close()

    def open_close_many():
        for _ in range(20):
            siltdb.DB(db_path).close()

    assert counter_advances_during(lambda: None, open_close_many)
