"""siltdb as a drop-in for plyvel: the same sequence of API calls against both gives the
same results (skipped when plyvel is not installed), and the module-level surface plyvel
users rely on exists."""

import random

import pytest

import siltdb

plyvel = pytest.importorskip("plyvel", reason="plyvel is not installed")

KEYS = [bytes([a, b]) for a in b"abcd" for b in b"xyz"] + [b"", b"b", b"c\xff", b"\xff\xff"]
BOUNDS = [None, b"", b"a", b"ay", b"b", b"bz", b"c", b"cx", b"c\xff", b"d", b"e", b"\xff"]


def outcome(fn):
    """What a call did: its value, or the exception type's name (their classes differ)."""
    try:
        result = fn()
    except StopIteration:
        return "StopIteration"
    except Exception as exc:  # noqa: BLE001 - compared by name below
        return type(exc).__name__
    if hasattr(result, "__next__"):
        return list(result)
    return result


def drive(module, path, seed):
    """A seeded random session of plyvel API calls; the list of what each call returned."""
    rng = random.Random(seed)
    out = []
    db = module.DB(path, create_if_missing=True)
    try:
        for step in range(120):
            op = rng.random()
            key = rng.choice(KEYS)
            if op < 0.35:
                db.put(key, b"v%d" % step)
            elif op < 0.45:
                db.delete(key)
            elif op < 0.5:
                with db.write_batch() as wb:
                    for _ in range(3):
                        wb.put(rng.choice(KEYS), b"b%d" % step)
                    wb.delete(rng.choice(KEYS))
            elif op < 0.6:
                out.append(db.get(key, b"default"))
            elif op < 0.9:
                kw = {
                    "reverse": rng.random() < 0.5,
                    "include_start": rng.random() < 0.5,
                    "include_stop": rng.random() < 0.5,
                    "include_key": rng.random() < 0.8,
                    "include_value": rng.random() < 0.8,
                }
                if rng.random() < 0.2:
                    kw["prefix"] = rng.choice(BOUNDS[1:])
                else:
                    kw["start"] = rng.choice(BOUNDS)
                    kw["stop"] = rng.choice(BOUNDS)
                it = db.iterator(**kw)
                moves = []
                for _ in range(rng.randrange(12)):
                    r = rng.random()
                    if r < 0.5:
                        moves.append(outcome(lambda: next(it)))
                    elif r < 0.75:
                        moves.append(outcome(it.prev))
                    elif r < 0.85:
                        target = rng.choice(BOUNDS[1:])
                        moves.append(outcome(lambda: it.seek(target)))
                    elif r < 0.93:
                        moves.append(outcome(it.seek_to_start))
                    else:
                        moves.append(outcome(it.seek_to_stop))
                moves.append(list(it))
                out.append((kw, moves))
            else:
                raw = db.raw_iterator()
                moves = [outcome(raw.key)]
                raw.seek(rng.choice(BOUNDS[1:]))
                for _ in range(6):
                    if raw.valid():
                        moves.append(raw.item())
                    r = rng.random()
                    moves.append(outcome(raw.next if r < 0.5 else raw.prev))
                raw.close()
                out.append(moves)
        pdb = db.prefixed_db(b"b")
        out.append(list(pdb))
        out.append(list(pdb.iterator(reverse=True, start=b"y")))
        out.append(list(pdb.prefixed_db(b"z").iterator(include_value=False)))
        with db.snapshot() as snap:
            db.put(b"ax", b"after-snapshot")
            out.append(snap.get(b"ax"))
            out.append(list(snap.iterator(include_key=False)))
    finally:
        db.close()
    return out


@pytest.mark.parametrize("seed", range(12))
def test_random_session_matches_plyvel(tmp_path, seed):
    expected = drive(plyvel, str(tmp_path / "plyvel"), seed)
    actual = drive(siltdb, str(tmp_path / "siltdb"), seed)
    assert actual == expected


def test_module_surface_matches_plyvel():
    for name in ["DB", "Error", "IOError", "CorruptionError", "IteratorInvalidError",
                 "destroy_db", "repair_db", "__version__", "__leveldb_version__"]:
        assert hasattr(siltdb, name), name
    assert siltdb.__leveldb_version__ == plyvel.__leveldb_version__ == "1.23"
    public = {n for n in dir(plyvel.DB) if not n.startswith("_")}
    assert public <= set(dir(siltdb.DB))


def test_in_on_a_db_behaves_as_plyvel(tmp_path):
    pv = plyvel.DB(str(tmp_path / "p"), create_if_missing=True)
    sd = siltdb.DB(str(tmp_path / "s"), create_if_missing=True)
    try:
        for db in (pv, sd):
            db.put(b"k", b"v")
        # Neither defines __contains__: `in` walks the (key, value) pairs.
        assert (b"k" in sd) == (b"k" in pv)
        assert ((b"k", b"v") in sd) == ((b"k", b"v") in pv)
    finally:
        pv.close()
        sd.close()


def test_siltdb_reads_what_plyvel_wrote(tmp_path):
    path = str(tmp_path / "shared")
    pv = plyvel.DB(path, create_if_missing=True)
    for i in range(500):
        pv.put(b"key%04d" % i, b"value%d" % i)
    pv.delete(b"key0100")
    pv.compact_range()
    expected = list(pv.iterator(reverse=True))
    pv.close()
    with siltdb.DB(path) as sd:
        assert list(sd.iterator(reverse=True)) == expected
