"""DB.prefixed_db(): keys stored under the prefix and returned without it, for get, put,
delete, write batches, iterators, snapshots and nested prefixes."""

import pytest

import siltdb


def test_prefixed_reads_and_writes_go_under_the_prefix(db):
    users = db.prefixed_db(b"user:")
    assert users.db is db
    assert users.prefix == b"user:"
    users.put(b"alice", b"1")
    users.put(b"bob", b"2")
    db.put(b"other", b"x")
    db.put(b"user;", b"next-prefix")
    assert db.get(b"user:alice") == b"1"
    assert users.get(b"alice") == b"1"
    assert users.get(b"carol", b"none") == b"none"
    users.delete(b"bob")
    assert db.get(b"user:bob") is None
    assert list(users) == [(b"alice", b"1")]


def test_prefixed_iterator_bounds_are_relative(db):
    p = db.prefixed_db(b"p")
    for k in [b"a", b"b", b"c", b"d"]:
        p.put(k, k)
    db.put(b"o", b"before")
    db.put(b"q", b"after")
    assert list(p.iterator(include_value=False)) == [b"a", b"b", b"c", b"d"]
    assert list(p.iterator(start=b"b", stop=b"d", include_value=False)) == [b"b", b"c"]
    assert list(p.iterator(reverse=True, include_value=False)) == [b"d", b"c", b"b", b"a"]
    assert list(p.iterator(prefix=b"c")) == [(b"c", b"c")]
    it = p.iterator(include_value=False)
    it.seek(b"c")
    assert next(it) == b"c"
    with pytest.raises(TypeError):
        p.iterator(prefix=b"a", start=b"a")


def test_prefixed_batch_snapshot_and_nesting(db):
    p = db.prefixed_db(b"a:")
    with p.write_batch(transaction=True) as wb:
        wb.put(b"x", b"1")
        wb.put(b"y", b"2")
    assert db.get(b"a:x") == b"1"
    with p.snapshot() as snap:
        p.put(b"x", b"changed")
        assert snap.get(b"x") == b"1"
        assert list(snap.iterator()) == [(b"x", b"1"), (b"y", b"2")]
    nested = p.prefixed_db(b"b:")
    assert nested.prefix == b"a:b:"
    nested.put(b"k", b"v")
    assert db.get(b"a:b:k") == b"v"
    assert list(nested) == [(b"k", b"v")]


def test_all_0xff_prefix_iterates_to_the_end(db):
    p = db.prefixed_db(b"\xff")
    p.put(b"\xff", b"1")
    p.put(b"a", b"2")
    assert list(p) == [(b"a", b"2"), (b"\xff", b"1")]


def test_prefixed_db_after_close_raises_runtime_error(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    p = db.prefixed_db(b"x")
    db.close()
    with pytest.raises(RuntimeError):
        p.get(b"a")
    with pytest.raises(RuntimeError):
        p.put(b"a", b"1")
    with pytest.raises(RuntimeError):
        p.iterator()
