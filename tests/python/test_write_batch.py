"""DB.write_batch(): atomic application, plyvel's transaction semantics in a with block,
append / clear / approximate_size, and use after close."""

import threading

import pytest

import siltdb


def test_batch_writes_nothing_until_written(db):
    wb = db.write_batch()
    wb.put(b"a", b"1")
    wb.put(b"b", b"2")
    wb.delete(b"a")
    assert db.get(b"b") is None
    wb.write()
    assert db.get(b"a") is None
    assert db.get(b"b") == b"2"


def test_with_block_writes_at_exit(db):
    with db.write_batch() as wb:
        wb.put(b"k", b"v")
        assert db.get(b"k") is None
    assert db.get(b"k") == b"v"


def test_transaction_discards_the_batch_when_the_block_raises(db):
    db.put(b"keep", b"old")
    with pytest.raises(ValueError):
        with db.write_batch(transaction=True) as wb:
            wb.put(b"keep", b"new")
            wb.put(b"other", b"x")
            raise ValueError("abort")
    assert db.get(b"keep") == b"old"
    assert db.get(b"other") is None


def test_without_transaction_what_was_added_is_written_even_on_exception(db):
    with pytest.raises(ValueError):
        with db.write_batch() as wb:
            wb.put(b"a", b"1")
            raise ValueError("boom")
    assert db.get(b"a") == b"1"


def test_with_block_empties_the_batch_so_a_second_block_writes_only_its_own(db):
    wb = db.write_batch()
    empty = wb.approximate_size()
    with wb:
        wb.put(b"a", b"1")
    assert wb.approximate_size() == empty
    db.delete(b"a")
    with wb:
        wb.put(b"b", b"2")
    assert db.get(b"a") is None  # the first block's put was not written again
    assert db.get(b"b") == b"2"


def test_a_new_batch_starts_empty_after_earlier_batches(db):
    # A DB hands the buffer of a finished batch to its next one: none of the earlier
    # records may come along.
    empty = db.write_batch().approximate_size()
    with db.write_batch() as wb:
        wb.put(b"written", b"1")
    with pytest.raises(ZeroDivisionError):
        with db.write_batch(transaction=True) as wb:
            wb.put(b"discarded", b"2")
            1 / 0
    wb = db.write_batch()
    wb.put(b"by-write", b"3")
    wb.write()
    for make in (db.write_batch, db.prefixed_db(b"p:").write_batch):
        fresh = make()
        assert fresh.approximate_size() == empty
        with fresh:
            fresh.put(b"only", b"4")
    db.delete(b"written")
    db.delete(b"by-write")
    assert [k for k, _ in db] == [b"only", b"p:only"]


def test_write_keeps_the_batch_contents(db):
    wb = db.write_batch()
    wb.put(b"a", b"1")
    wb.write()
    db.delete(b"a")
    wb.write()
    assert db.get(b"a") == b"1"


@pytest.mark.parametrize(
    "make", [bytes, bytearray, memoryview], ids=["bytes", "bytearray", "memoryview"]
)
def test_batch_takes_bytes_like_keys_and_values_with_or_without_prefix(db, make):
    with db.write_batch() as wb:
        wb.put(make(b"k"), make(b"v"))
        wb.delete(make(b"gone"))
    with db.prefixed_db(b"p:").write_batch() as wb:
        wb.put(make(b"k"), make(b"w"))
    assert db.get(b"k") == b"v"
    assert db.get(b"p:k") == b"w"


def test_batch_rejects_str_keys_and_values(db):
    wb = db.write_batch()
    with pytest.raises(TypeError, match="bytes"):
        wb.put("k", b"v")
    with pytest.raises(TypeError, match="bytes"):
        wb.put(b"k", "v")
    with pytest.raises(TypeError, match="bytes"):
        wb.delete("k")


def test_clear_append_and_approximate_size(db):
    wb = db.write_batch()
    empty = wb.approximate_size()
    wb.put(b"a", b"1")
    assert wb.approximate_size() > empty
    wb.clear()
    assert wb.approximate_size() == empty
    other = db.write_batch()
    other.put(b"x", b"1")
    other.delete(b"y")
    wb.put(b"a", b"1")
    wb.append(other)
    wb.append(wb)  # appending a batch to itself doubles it, no deadlock
    wb.write()
    assert db.get(b"a") == b"1"
    assert db.get(b"x") == b"1"


def test_readers_never_see_half_a_batch(db):
    keys = [b"acct%02d" % i for i in range(20)]
    for k in keys:
        db.put(k, b"0")
    stop = threading.Event()
    torn = []

    def reader():
        while not stop.is_set():
            with db.snapshot() as snap:
                values = {snap.get(k) for k in keys}
            if len(values) != 1:
                torn.append(values)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for round_ in range(1, 200):
            with db.write_batch() as wb:
                for k in keys:
                    wb.put(k, b"%d" % round_)
    finally:
        stop.set()
        t.join()
    assert torn == []


def test_batch_survives_reopen(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        with db.write_batch(sync=True) as wb:
            for i in range(100):
                wb.put(b"%03d" % i, b"v")
    with siltdb.DB(db_path) as db:
        assert len(list(db)) == 100


def test_batch_after_close_raises_runtime_error(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    wb = db.write_batch()
    wb.put(b"a", b"1")
    db.close()
    for call in (lambda: wb.put(b"b", b"2"), wb.write, wb.clear):
        with pytest.raises(RuntimeError):
            call()
    with pytest.raises(RuntimeError):
        db.write_batch()
