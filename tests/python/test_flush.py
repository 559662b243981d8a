"""flush() writes table files, and the options that shape them round-trip."""

import os

import pytest

import siltdb


def table_files(path):
    return [name for name in os.listdir(path) if name.endswith(".ldb")]


def fill(db, count, value_size=100):
    items = {b"key-%06d" % i: (b"%06d" % i) * (value_size // 6) for i in range(count)}
    for k, v in items.items():
        db.put(k, v)
    return items


def test_flush_writes_ldb_files_and_data_survives_reopen(db_path):
    with siltdb.DB(db_path, create_if_missing=True, write_buffer_size=64 * 1024) as db:
        items = fill(db, 3000)
        db.flush()
        assert table_files(db_path), os.listdir(db_path)
    with siltdb.DB(db_path) as db:
        for k, v in items.items():
            assert db.get(k) == v


def test_flush_without_wait_returns_and_data_stays_readable(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        items = fill(db, 500)
        db.flush(wait=False)
        for k, v in items.items():
            assert db.get(k) == v
    with siltdb.DB(db_path) as db:
        assert db.get(b"key-000499") == items[b"key-000499"]


@pytest.mark.parametrize("compression", [None, "snappy"])
def test_compression_round_trips(db_path, compression):
    options = dict(compression=compression, block_size=1024, bloom_filter_bits=0)
    with siltdb.DB(db_path, create_if_missing=True, **options) as db:
        items = fill(db, 2000)
        db.flush()
        assert table_files(db_path)
    with siltdb.DB(db_path, **options) as db:
        for k, v in items.items():
            assert db.get(k) == v
    # Tables written either way are readable whatever the reader's setting.
    with siltdb.DB(db_path) as db:
        assert db.get(b"key-001999") == items[b"key-001999"]


def test_all_options_accepted(db_path):
    with siltdb.DB(
        db_path,
        create_if_missing=True,
        error_if_exists=True,
        paranoid_checks=True,
        write_buffer_size=1 << 20,
        max_open_files=100,
        block_size=8192,
        compression="snappy",
        bloom_filter_bits=12,
    ) as db:
        db.put(b"k", b"v")
        db.flush()
        assert db.get(b"k") == b"v"
        assert db.get(b"absent") is None
