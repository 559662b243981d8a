"""compact_range from Python: reclaims overwritten and deleted data, leaves one level."""

import os

import pytest

import siltdb


def table_bytes(path):
    """Bytes of the table files; one that background compaction deletes meanwhile counts 0."""
    total = 0
    for n in os.listdir(path):
        if n.endswith(".ldb"):
            try:
                total += os.path.getsize(os.path.join(path, n))
            except FileNotFoundError:
                pass
    return total


def files_per_level(db):
    return [int(db.get_property(f"leveldb.num-files-at-level{n}")) for n in range(7)]


def test_compact_range_reclaims_overwrites_and_deletes(db_path):
    with siltdb.DB(db_path, create_if_missing=True, write_buffer_size=64 * 1024,
                   compression=None) as db:
        for round_ in range(4):
            for i in range(3000):
                db.put(b"key%06d" % i, bytes([round_]) * 100)
            db.flush()
        for i in range(0, 3000, 2):
            db.delete(b"key%06d" % i)
        before = table_bytes(db_path)
        db.compact_range()
        after = table_bytes(db_path)
        assert after < before / 3, (before, after)
        assert sum(1 for n in files_per_level(db) if n) == 1, files_per_level(db)
        for i in range(3000):
            want = None if i % 2 == 0 else bytes([3]) * 100
            assert db.get(b"key%06d" % i) == want


def test_compact_range_accepts_bounds_and_rejects_str(db):
    for i in range(100):
        db.put(b"k%03d" % i, b"v")
    db.compact_range(start=b"k010", stop=bytearray(b"k050"))
    db.compact_range(start=None, stop=memoryview(b"k090"))
    assert db.get(b"k042") == b"v"
    with pytest.raises(TypeError):
        db.compact_range(start="k010")
    db.close()
    with pytest.raises(RuntimeError):
        db.compact_range()
