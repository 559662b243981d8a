"""DB.iterator() and DB.raw_iterator() against a dict model, across the memtable and
several table levels with overwrites and deletes; iteration while another thread writes
and flushes; misuse after close."""

import random
import threading

import pytest

import siltdb


def model_range(model, start=None, stop=None, include_start=True, include_stop=False,
                prefix=None, reverse=False):
    """What plyvel's iterator yields for these bounds, computed from a dict."""
    keys = sorted(model)
    if prefix is not None:
        keys = [k for k in keys if k.startswith(prefix)]
    if start is not None:
        keys = [k for k in keys if k > start or (include_start and k == start)]
    if stop is not None:
        keys = [k for k in keys if k < stop or (include_stop and k == stop)]
    if reverse:
        keys.reverse()
    return [(k, model[k]) for k in keys]


@pytest.fixture
def layered(db_path):
    """A DB whose keys are spread over several levels and the memtable, and its model."""
    db = siltdb.DB(db_path, create_if_missing=True, write_buffer_size=64 * 1024)
    rng = random.Random(7)
    model = {}
    for round_ in range(4):
        for _ in range(400):
            key = b"k%04d" % rng.randrange(600)
            if rng.random() < 0.2:
                db.delete(key)
                model.pop(key, None)
            else:
                value = b"r%d-%d" % (round_, rng.randrange(10**6))
                db.put(key, value)
                model[key] = value
        db.flush()
        if round_ == 1:
            db.compact_range()
    # Some writes stay in the memtable.
    for i in range(0, 600, 7):
        key = b"k%04d" % i
        db.put(key, b"mem")
        model[key] = b"mem"
    yield db, model
    db.close()


def test_full_forward_and_reverse_match_model(layered):
    db, model = layered
    files = sum(level["files"] for level in db.stats()["levels"])
    assert files >= 2
    assert list(db) == model_range(model)
    assert list(db.iterator(reverse=True)) == model_range(model, reverse=True)


def test_random_ranges_match_model(layered):
    db, model = layered
    rng = random.Random(11)
    for _ in range(200):
        a, b = sorted(b"k%04d" % rng.randrange(650) for _ in range(2))
        kw = dict(
            start=rng.choice([None, a]),
            stop=rng.choice([None, b]),
            include_start=rng.random() < 0.5,
            include_stop=rng.random() < 0.5,
            reverse=rng.random() < 0.5,
        )
        assert list(db.iterator(**kw)) == model_range(model, **kw), kw


def test_prefix_matches_model(layered):
    db, model = layered
    for prefix in [b"k00", b"k01", b"k059", b"k1", b"x", b"k"]:
        for reverse in (False, True):
            got = list(db.iterator(prefix=prefix, reverse=reverse))
            assert got == model_range(model, prefix=prefix, reverse=reverse)


def test_prefix_with_start_or_stop_is_type_error(db):
    with pytest.raises(TypeError):
        db.iterator(prefix=b"a", start=b"a")
    with pytest.raises(TypeError):
        db.iterator(prefix=b"a", stop=b"b")


def test_include_key_and_value_shape_the_items(db):
    db.put(b"a", b"1")
    db.put(b"b", b"2")
    assert list(db.iterator(include_value=False)) == [b"a", b"b"]
    assert list(db.iterator(include_key=False)) == [b"1", b"2"]
    assert list(db.iterator(include_key=False, include_value=False)) == [None, None]


def test_prev_seek_and_seek_to_stop(db):
    for k in [b"a", b"b", b"c", b"d"]:
        db.put(k, k.upper())
    it = db.iterator(include_value=False)
    assert next(it) == b"a"
    assert next(it) == b"b"
    assert it.prev() == b"b"  # the cursor is between entries, as in plyvel
    assert it.prev() == b"a"
    with pytest.raises(StopIteration):
        it.prev()
    it.seek(b"bb")
    assert next(it) == b"c"
    it.seek_to_stop()
    assert it.prev() == b"d"
    it.seek_to_start()
    assert list(it) == [b"a", b"b", b"c", b"d"]


def test_iterator_is_a_consistent_view(db):
    for i in range(100):
        db.put(b"%03d" % i, b"old")
    it = db.iterator()
    for i in range(100):
        db.put(b"%03d" % i, b"new")
    db.put(b"zzz", b"new")
    db.flush()
    db.compact_range()
    assert list(it) == [(b"%03d" % i, b"old") for i in range(100)]


def test_iteration_while_another_thread_writes_and_flushes(db_path):
    db = siltdb.DB(db_path, create_if_missing=True, write_buffer_size=32 * 1024)
    base = {b"base%04d" % i: b"v%d" % i for i in range(2000)}
    for k, v in base.items():
        db.put(k, v)
    stop = threading.Event()
    errors = []

    def writer():
        i = 0
        try:
            while not stop.is_set():
                db.put(b"new%06d" % i, b"x" * 100)
                i += 1
                if i % 500 == 0:
                    db.flush()
                    db.compact_range(b"new", b"new\xff")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(10):
            seen = dict(db.iterator(prefix=b"base"))
            assert seen == base
            news = list(db.iterator(prefix=b"new", include_value=False))
            assert news == sorted(news)
    finally:
        stop.set()
        thread.join()
        db.close()
    assert errors == []


def test_one_iterator_shared_by_threads_yields_each_entry_once(db):
    for i in range(3000):
        db.put(b"%05d" % i, b"")
    it = db.iterator(include_value=False)
    got = [[] for _ in range(4)]

    def consume(out):
        for key in it:
            out.append(key)

    threads = [threading.Thread(target=consume, args=(out,)) for out in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    merged = sorted(k for out in got for k in out)
    assert merged == [b"%05d" % i for i in range(3000)]


def test_iterator_after_db_close_raises_runtime_error(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    db.put(b"a", b"1")
    it = db.iterator()
    raw = db.raw_iterator()
    raw.seek_to_first()
    db.close()
    with pytest.raises(RuntimeError):
        next(it)
    with pytest.raises(RuntimeError):
        it.seek_to_start()
    with pytest.raises(RuntimeError):
        raw.key()
    with pytest.raises(RuntimeError):
        db.iterator()
    it.close()  # still allowed
    raw.close()


def test_closed_iterator_raises_runtime_error(db):
    db.put(b"a", b"1")
    with db.iterator() as it:
        assert next(it) == (b"a", b"1")
    with pytest.raises(RuntimeError):
        next(it)
    it.close()


def test_raw_iterator_walks_both_ways(layered):
    db, model = layered
    expected = sorted(model.items())
    raw = db.raw_iterator()
    assert not raw.valid()
    raw.seek_to_first()
    got = []
    while raw.valid():
        got.append(raw.item())
        raw.next()
    assert got == expected
    raw.seek_to_last()
    got = []
    while raw.valid():
        got.append((raw.key(), raw.value()))
        raw.prev()
    assert got == expected[::-1]
    raw.seek(b"k0300")
    assert raw.key() == min(k for k in model if k >= b"k0300")
    raw.close()


def test_raw_iterator_invalid_use_raises_iterator_invalid_error(db):
    raw = db.raw_iterator()
    for call in (raw.key, raw.value, raw.item, raw.next, raw.prev):
        with pytest.raises(siltdb.IteratorInvalidError):
            call()
    assert issubclass(siltdb.IteratorInvalidError, siltdb.Error)
    raw.seek_to_first()
    assert not raw.valid()
    with raw:
        pass
    with pytest.raises(RuntimeError):
        raw.valid()
