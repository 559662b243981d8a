"""What a single-threaded user sees: reads and writes, bytes-like arguments, reopening,
closing, and the context manager."""

import pathlib

import pytest

import siltdb


def test_put_get_delete_survive_reopen(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    db.put(b"apple", b"red")
    db.put(b"banana", b"yellow")
    db.put(b"cherry", b"dark")
    db.delete(b"banana")
    db.put(b"apple", b"green")
    assert db.get(b"apple") == b"green"
    assert db.get(b"banana") is None
    db.close()

    db = siltdb.DB(db_path)
    try:
        assert db.get(b"apple") == b"green"
        assert db.get(b"banana") is None
        assert db.get(b"cherry") == b"dark"
    finally:
        db.close()


def test_get_returns_bytes(db):
    db.put(b"k", b"v")
    assert type(db.get(b"k")) is bytes


def test_missing_key_returns_default(db):
    assert db.get(b"nope") is None
    assert db.get(b"nope", b"fallback") == b"fallback"
    sentinel = object()
    assert db.get(b"nope", default=sentinel) is sentinel


def test_delete_of_missing_key_is_not_an_error(db):
    db.delete(b"never-written")
    assert db.get(b"never-written") is None


def test_empty_value_is_not_missing(db):
    db.put(b"k", b"")
    assert db.get(b"k") == b""
    assert db.get(b"k", b"default") == b""


def test_empty_key_is_a_key(db):
    assert db.get(b"") is None
    db.put(b"", b"value of the empty key")
    assert db.get(b"") == b"value of the empty key"
    db.delete(b"")
    assert db.get(b"") is None


def test_empty_key_and_value_survive_reopen(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        db.put(b"", b"")
        db.put(b"k", b"")
    with siltdb.DB(db_path) as db:
        assert db.get(b"") == b""
        assert db.get(b"k") == b""
        assert db.get(b"other") is None


@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, memoryview, lambda b: memoryview(bytearray(b"xx" + b + b"yy"))[2:-2]],
    ids=["bytes", "bytearray", "memoryview", "memoryview-slice"],
)
def test_bytes_like_keys_and_values(db, make):
    db.put(make(b"key"), make(b"value"))
    assert db.get(make(b"key")) == b"value"
    assert db.get(b"key") == b"value"
    db.delete(make(b"key"))
    assert db.get(b"key") is None


class TaggedBytes(bytes):
    """A bytes subclass: taken as bytes, not through the buffer copy."""


def test_bytes_subclass_keys_and_values(db):
    db.put(TaggedBytes(b"key"), TaggedBytes(b"value"))
    assert db.get(TaggedBytes(b"key")) == b"value"
    with db.write_batch() as wb:
        wb.put(TaggedBytes(b"k2"), TaggedBytes(b"v2"))
    assert db.get(b"k2") == b"v2"
    db.delete(TaggedBytes(b"key"))
    assert db.get(b"key") is None


def test_bytearray_changed_after_put_does_not_change_stored_value(db):
    value = bytearray(b"before")
    db.put(b"k", value)
    value[:] = b"after!"
    assert db.get(b"k") == b"before"


def test_str_key_raises_type_error(db):
    with pytest.raises(TypeError, match="bytes"):
        db.put("key", b"value")
    with pytest.raises(TypeError, match="bytes"):
        db.get("key")
    with pytest.raises(TypeError, match="bytes"):
        db.delete("key")


def test_str_value_raises_type_error(db):
    with pytest.raises(TypeError, match="bytes"):
        db.put(b"key", "value")
    assert db.get(b"key") is None


@pytest.mark.parametrize("bad", [None, 42, 1.5, ["a"]])
def test_non_bytes_like_key_raises_type_error(db, bad):
    with pytest.raises(TypeError):
        db.put(bad, b"v")


def test_use_after_close_raises_runtime_error(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    db.put(b"k", b"v")
    db.close()
    for call in (
        lambda: db.put(b"k", b"v"),
        lambda: db.get(b"k"),
        lambda: db.delete(b"k"),
        lambda: db.flush(),
    ):
        with pytest.raises(RuntimeError) as info:
            call()
        assert isinstance(info.value, siltdb.ClosedError)
        assert isinstance(info.value, siltdb.Error)


def test_close_is_idempotent(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    assert not db.closed
    db.close()
    assert db.closed
    db.close()
    assert db.closed


def test_close_releases_the_lock(db_path):
    first = siltdb.DB(db_path, create_if_missing=True)
    first.close()
    second = siltdb.DB(db_path)
    second.close()


def test_context_manager_closes(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        assert isinstance(db, siltdb.DB)
        db.put(b"k", b"v")
        assert not db.closed
    assert db.closed
    with pytest.raises(RuntimeError):
        db.get(b"k")


def test_context_manager_closes_and_propagates_on_exception(db_path):
    with pytest.raises(KeyError):
        with siltdb.DB(db_path, create_if_missing=True) as db:
            raise KeyError("boom")
    assert db.closed


def test_name_is_the_path_given(db_path):
    with siltdb.DB(pathlib.Path(db_path), create_if_missing=True) as db:
        assert db.name == db_path
        assert db_path in repr(db)


def test_sync_writes(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        db.put(b"k", b"v", sync=True)
        db.delete(b"gone", sync=True)
    with siltdb.DB(db_path) as db:
        assert db.get(b"k") == b"v"


def test_many_keys_survive_reopen(db_path):
    items = {b"key-%06d" % i: b"value-%d" % (i * 7) for i in range(5000)}
    with siltdb.DB(db_path, create_if_missing=True) as db:
        for k, v in items.items():
            db.put(k, v)
    with siltdb.DB(db_path) as db:
        for k, v in items.items():
            assert db.get(k) == v


def test_version():
    assert isinstance(siltdb.__version__, str)
    assert siltdb.__version__.count(".") >= 2


def test_public_methods_have_docstrings():
    for name in ("put", "get", "delete", "flush", "close", "closed", "name"):
        assert getattr(siltdb.DB, name).__doc__, name
    assert siltdb.DB.__doc__
