"""get_property answers LevelDB's property names (bytes or str) with bytes, or None for
names it does not know; stats() gives the same facts as a dict of ints."""

import os

import pytest

import siltdb

LEVEL_KEYS = {
    "level",
    "files",
    "bytes",
    "compaction_micros",
    "bytes_read",
    "bytes_written",
    "compactions",
}
TOTAL_KEYS = {
    "levels",
    "flushes_completed",
    "flushes_failed",
    "bytes_flushed",
    "compactions_completed",
    "write_stalls",
    "write_stall_micros",
    "listener_panics",
    "writes",
    "write_groups",
    "wal_syncs",
}


def table_files(path):
    return sorted(name for name in os.listdir(path) if name.endswith(".ldb"))


def fill(db, count):
    for i in range(count):
        db.put(b"k%03d" % i, b"v")


def test_names_may_be_bytes_or_str_and_values_are_bytes(db):
    fill(db, 100)
    for name in (b"siltdb.num-immutable-mem-table", "siltdb.num-immutable-mem-table"):
        assert db.get_property(name) == b"0"
    assert db.get_property("siltdb.mem-table-flush-pending") == b"0"
    assert db.get_property(b"siltdb.background-error") == b""
    assert db.get_property(b"siltdb.num-flushes") == b"0"
    active = int(db.get_property(b"siltdb.cur-size-active-mem-table"))
    assert active > 100 * 12
    assert int(db.get_property(b"leveldb.approximate-memory-usage")) >= active
    for level in range(7):
        assert db.get_property(b"leveldb.num-files-at-level%d" % level) == b"0"


def test_unknown_names_give_none(db):
    for name in (
        b"leveldb.num-files-at-level7",
        "leveldb.num-files-at-level",
        b"leveldb.num-files-at-level01",
        b"nope",
        "",
        b"\xff\xfe",  # not UTF-8: no property has such a name
        "\udcff",  # not encodable either
    ):
        assert db.get_property(name) is None, name
    with pytest.raises(TypeError, match="bytes or str"):
        db.get_property(42)


def test_a_flush_shows_in_the_level_counts_the_stats_text_and_the_table_list(db):
    fill(db, 100)
    db.flush()
    # A memtable that overlaps nothing is pushed down to level 2, as in LevelDB.
    assert db.get_property(b"leveldb.num-files-at-level2") == b"1"
    assert db.get_property("leveldb.num-files-at-level0") == b"0"
    assert db.get_property(b"siltdb.num-flushes") == b"1"
    stats = db.get_property(b"leveldb.stats").decode()
    assert stats.startswith(
        "                               Compactions\n"
        "Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n"
    ), stats
    assert any(line.startswith("  2        1 ") for line in stats.splitlines()), stats
    sstables = db.get_property(b"leveldb.sstables").decode()
    (table,) = table_files(db.name)
    number = int(table[:-4])
    size = os.path.getsize(os.path.join(db.name, table))
    assert "--- level 2 ---\n %d:%d['k000' @ 1 : 1 .. 'k099' @ 100 : 1]" % (
        number,
        size,
    ) in sstables, sstables


def test_stats_shape_before_any_flush(db):
    stats = db.stats()
    assert set(stats) == TOTAL_KEYS
    assert [level["level"] for level in stats["levels"]] == list(range(7))
    for level in stats["levels"]:
        assert set(level) == LEVEL_KEYS
        assert all(type(v) is int and v == 0 for k, v in level.items() if k != "level")
    assert all(stats[k] == 0 for k in TOTAL_KEYS - {"levels"})


def test_stats_count_flushes_bytes_and_levels(db):
    fill(db, 100)
    db.flush()
    db.put(b"k050", b"again")  # overlaps the level-2 table: lands on level 1
    db.flush()
    tables = {name: os.path.getsize(os.path.join(db.name, name)) for name in table_files(db.name)}
    stats = db.stats()
    assert stats["flushes_completed"] == 2
    assert stats["flushes_failed"] == 0
    assert stats["bytes_flushed"] == sum(tables.values())
    assert stats["compactions_completed"] == 0
    assert stats["listener_panics"] == 0
    files_per_level = [level["files"] for level in stats["levels"]]
    assert files_per_level == [0, 1, 1, 0, 0, 0, 0]
    for level in stats["levels"]:
        assert level["bytes"] == level["bytes_written"]
        assert level["compactions"] == level["files"]
        assert level["bytes_read"] == 0
        if level["files"]:
            assert level["compaction_micros"] > 0
        prop = db.get_property(b"leveldb.num-files-at-level%d" % level["level"])
        assert prop == str(level["files"]).encode()
    assert sum(level["bytes"] for level in stats["levels"]) == sum(tables.values())


def test_closed_db_raises_closed_error(db_path):
    db = siltdb.DB(db_path, create_if_missing=True)
    db.close()
    with pytest.raises(siltdb.ClosedError):
        db.stats()
    with pytest.raises(siltdb.ClosedError):
        db.get_property(b"leveldb.stats")


def resident_bytes(db):
    return int(db.get_property(b"siltdb.resident-table-bytes"))


@pytest.mark.parametrize("budget, resident", [(None, True), (0, False)])
def test_tables_read_often_become_resident_within_the_budget(db_path, budget, resident):
    kwargs = {} if budget is None else {"resident_table_budget": budget}
    db = siltdb.DB(db_path, create_if_missing=True, lru_cache_size=0, compression=None, **kwargs)
    for i in range(5000):
        db.put(b"key%06d" % i, b"v" * 100)
    db.flush(wait=True)
    table_bytes = sum(os.path.getsize(os.path.join(db_path, n)) for n in table_files(db_path))
    assert resident_bytes(db) == 0
    for _ in range(3):
        for i in range(0, 5000, 7):
            assert db.get(b"key%06d" % i) == b"v" * 100
    assert resident_bytes(db) == (table_bytes if resident else 0)
    db.close()


def test_a_resident_table_budget_must_be_a_non_negative_int(db_path):
    with pytest.raises(TypeError):
        siltdb.DB(db_path, create_if_missing=True, resident_table_budget="1")
    with pytest.raises(OverflowError):
        siltdb.DB(db_path, create_if_missing=True, resident_table_budget=-1)
    assert not os.path.exists(os.path.join(db_path, "CURRENT"))
