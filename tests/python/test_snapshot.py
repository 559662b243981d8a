"""DB.snapshot(): reads at the snapshot survive later writes, flushes and compactions;
release, the context manager, and use after release or after the DB closed."""

import pytest

import siltdb


def test_snapshot_survives_flush_and_compaction(db_path):
    db = siltdb.DB(db_path, create_if_missing=True, write_buffer_size=32 * 1024)
    try:
        before = {b"%04d" % i: b"v1-%d" % i for i in range(1500)}
        for k, v in before.items():
            db.put(k, v)
        snap = db.snapshot()
        for i in range(0, 1500, 2):
            db.delete(b"%04d" % i)
        for i in range(1, 1500, 2):
            db.put(b"%04d" % i, b"v2")
        db.put(b"new", b"x")
        db.flush()
        db.compact_range()
        assert snap.get(b"0000") == b"v1-0"
        assert snap.get(b"new") is None
        assert snap.get(b"new", b"dflt") == b"dflt"
        assert dict(snap.iterator()) == before
        assert list(snap.iterator(reverse=True, include_value=False)) == sorted(before, reverse=True)
        assert dict(snap) == before
        raw = snap.raw_iterator()
        raw.seek_to_last()
        assert raw.item() == (b"1499", b"v1-1499")
        raw.close()
        assert db.get(b"0000") is None
        snap.release()
    finally:
        db.close()


def test_with_block_releases_the_snapshot(db):
    db.put(b"a", b"1")
    with db.snapshot() as snap:
        db.put(b"a", b"2")
        assert snap.get(b"a") == b"1"
    for call in (lambda: snap.get(b"a"), snap.iterator, snap.raw_iterator):
        with pytest.raises(RuntimeError):
            call()
    snap.close()  # idempotent
    snap.release()


def test_iterator_made_from_a_snapshot_outlives_its_release(db):
    db.put(b"a", b"1")
    snap = db.snapshot()
    it = snap.iterator()
    db.put(b"b", b"2")
    snap.close()
    assert list(it) == [(b"a", b"1")]


def test_snapshot_after_db_close_raises_runtime_error(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    db.put(b"a", b"1")
    snap = db.snapshot()
    db.close()
    with pytest.raises(RuntimeError):
        snap.get(b"a")
    with pytest.raises(RuntimeError):
        snap.iterator()
    snap.close()
    with pytest.raises(RuntimeError):
        db.snapshot()


def test_snapshot_reopen_sees_latest(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        db.put(b"a", b"1")
        with db.snapshot():
            db.put(b"a", b"2")
    with siltdb.DB(db_path) as db:
        assert db.get(b"a") == b"2"
