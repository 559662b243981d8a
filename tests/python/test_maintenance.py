"""approximate_size(s), destroy_db, repair_db and plyvel's constructor keywords."""

import os

import pytest

import siltdb


def test_approximate_sizes_count_flushed_data(db):
    for i in range(2000):
        db.put(b"a%05d" % i, os.urandom(100))
    db.flush()
    whole = db.approximate_size(b"a", b"b")
    assert whole > 100_000
    half, empty, backwards = db.approximate_sizes((b"a", b"a01000"), (b"x", b"y"), (b"b", b"a"))
    assert 0 < half < whole
    assert empty == 0 and backwards == 0
    assert db.approximate_sizes() == []
    with pytest.raises(ValueError):  # as plyvel: a range must unpack to (start, stop)
        db.approximate_sizes((b"a",))


def test_destroy_db_removes_the_database(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        db.put(b"a", b"1")
    siltdb.destroy_db(db_path)
    assert not os.path.exists(db_path)
    with pytest.raises(siltdb.Error):
        siltdb.DB(db_path)


def test_destroy_db_refuses_an_open_database(db):
    with pytest.raises(siltdb.IOError):
        siltdb.destroy_db(db.name)
    assert db.get(b"missing") is None


def test_repair_db_recovers_data_without_a_manifest(db_path):
    with siltdb.DB(db_path, create_if_missing=True) as db:
        for i in range(300):
            db.put(b"%03d" % i, b"v%d" % i)
        db.flush()
        db.put(b"unflushed", b"in-log")
    for name in os.listdir(db_path):
        if name.startswith("MANIFEST") or name == "CURRENT":
            os.remove(os.path.join(db_path, name))
    siltdb.repair_db(db_path)
    with siltdb.DB(db_path) as db:
        assert db.get(b"123") == b"v123"
        assert db.get(b"unflushed") == b"in-log"
        assert len(list(db)) == 301


def test_plyvel_constructor_keywords_are_accepted(db_path):
    db = siltdb.DB(
        db_path, create_if_missing=True, error_if_exists=True, paranoid_checks=True,
        write_buffer_size=1 << 20, max_open_files=100, lru_cache_size=8 << 20,
        block_size=8192, block_restart_interval=8, max_file_size=1 << 20,
        compression=None, bloom_filter_bits=10,
    )
    db.put(b"k", b"v")
    assert db.get(b"k", verify_checksums=True, fill_cache=False) == b"v"
    db.close()
    with pytest.raises(ValueError):
        siltdb.DB(db_path, compression="zlib")
    with pytest.raises(siltdb.Error):
        siltdb.DB(db_path, error_if_exists=True)
