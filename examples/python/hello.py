"""Hello, siltdb: open a database, write, read back, close, reopen, read again.

Run after `pip install ./python`:  python examples/python/hello.py [DIRECTORY]
Without DIRECTORY the database goes in a fresh temporary directory, removed at the end.
"""

import sys
import tempfile

import siltdb


def main(path: str) -> None:
    print(f"siltdb {siltdb.__version__}: opening {path} (create_if_missing=True)")
    db = siltdb.DB(path, create_if_missing=True)
    db.put(b"greeting", b"hello, world")
    db.put(b"answer", b"42")
    db.put(b"scratch", b"to be deleted")
    db.delete(b"scratch")
    print("  put greeting, answer, scratch; deleted scratch")
    print(f"  get greeting -> {db.get(b'greeting')!r}")
    print(f"  get scratch  -> {db.get(b'scratch')!r}")
    db.close()
    print(f"closed (db.closed = {db.closed})")

    try:
        db.get(b"greeting")
    except siltdb.ClosedError as e:
        print(f"  a closed DB raises {type(e).__name__}: {e}")

    with siltdb.DB(path) as db:
        print(f"reopened {db.name}")
        print(f"  get greeting -> {db.get(b'greeting')!r}")
        print(f"  get answer   -> {db.get(b'answer')!r}")
        print(f"  get scratch  -> {db.get(b'scratch', b'<missing>')!r}")
        try:
            siltdb.DB(path)
        except siltdb.BusyError as e:
            print(f"  a second open of the same directory raises BusyError: {e}")
    print("closed again by the with block")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(f"{tmp}/hello-db")
