#!/usr/bin/env python3
"""The Python faces side by side: the siltdb module against plyvel (LevelDB's Python
binding), on fillrandom, readrandom and a batched fill, in ops/s.

Each engine runs in a child process of its own (this script re-executes itself with
--engine=NAME), so peak RSS is per engine and one cannot warm the other's caches. With
--rounds=N the engines alternate N times (siltdb, plyvel, siltdb, ...) and each figure is
the engine's best round: on a shared machine other load only ever slows a run down, and
alternating spreads drift over both engines. Beside each wall time it prints the CPU time
of the calling thread (leaving out background compaction and time spent waiting for a
core), which is steadier than wall time on a busy machine; the ratio that counts is the
ops/s one.

Both open with the same options: create_if_missing, 4 MiB write buffer, no compression
(compression=None), no bloom filter (bloom_filter_bits=0); everything else is each
binding's default, which is LevelDB's in both: 8 MiB block cache, 4 KiB blocks, restart
interval 16, 1000 open files, 2 MiB table files, paranoid_checks off. Calls use the
defaults too: put(k, v) (sync=False), get(k) (verify_checksums=False, fill_cache=True),
`with db.write_batch() as wb: wb.put(k, v)`. Both bindings release the GIL around every
engine call. Keys are db_bench's 16-byte b"%016d"; keys and values are made before the
clock starts, so the numbers are the cost of the binding plus the engine.

Usage:
    python bench/python/bench_python.py [--num=1000000] [--value_size=100]
        [--batch_size=1000] [--write_buffer_size=4194304] [--db=DIR]
        [--engine=both|siltdb|plyvel] [--rounds=1]

siltdb must be importable (in a venv: `maturin develop --release -m python/Cargo.toml`);
plyvel from `pip install --no-binary plyvel plyvel` links the system LevelDB (1.23 on
Debian 12) rather than the 1.22 its wheels bundle. A missing module is reported as
SKIPPED.
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

BENCHMARKS = ("fillrandom", "readrandom", "fillbatch")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num", type=int, default=1_000_000)
    p.add_argument("--value_size", type=int, default=100)
    p.add_argument("--batch_size", type=int, default=1000,
                   help="puts per write batch in fillbatch (1000, as db_bench's fillbatch)")
    p.add_argument("--write_buffer_size", type=int, default=4 << 20)
    p.add_argument("--db", default=os.path.join(
        os.environ.get("TEST_TMPDIR", tempfile.gettempdir()), "siltdb-bench-python"))
    p.add_argument("--engine", choices=("both", "siltdb", "plyvel"), default="both")
    p.add_argument("--rounds", type=int, default=1,
                   help="alternate the engines this many times; report each one's best (1)")
    p.add_argument("--timeout", type=float, default=900,
                   help="seconds an engine may take for all three benchmarks (900)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def value_of(size):
    """A value that compresses to about half, like db_bench's."""
    rnd = random.Random(301)
    half = bytes(rnd.randrange(32, 127) for _ in range(max(1, size // 2)))
    return (half * 3)[:size]


def open_db(engine, path, args):
    common = dict(create_if_missing=True, write_buffer_size=args.write_buffer_size,
                  compression=None, bloom_filter_bits=0)
    if engine == "siltdb":
        import siltdb
        return siltdb.DB(path, **common)
    import plyvel
    return plyvel.DB(path, **common)


def fresh(engine, args):
    path = os.path.join(args.db, engine)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(args.db, exist_ok=True)
    return open_db(engine, path, args)


def timed(fn):
    """(wall seconds, CPU seconds of this thread, fn's result). The CPU time leaves out
    the engine's background threads and time spent waiting for a core, so on a busy
    machine it shows the per-call cost that the wall time blurs."""
    start, start_cpu = time.perf_counter(), time.thread_time()
    extra = fn()
    return time.perf_counter() - start, time.thread_time() - start_cpu, extra


def run_engine(engine, args):
    """Runs the three benchmarks in this process; returns {name: result}."""
    num = args.num
    value = value_of(args.value_size)
    rnd = random.Random(1001)
    write_keys = [b"%016d" % rnd.randrange(num) for _ in range(num)]
    read_keys = [b"%016d" % rnd.randrange(num) for _ in range(num)]
    seq_keys = [b"%016d" % i for i in range(num)]
    results = {}

    db = fresh(engine, args)
    put = db.put

    def fill():
        for k in write_keys:
            put(k, value)

    secs, cpu, _ = timed(fill)
    results["fillrandom"] = {"ops": num, "secs": secs, "cpu": cpu}

    get = db.get

    def read():
        found = 0
        for k in read_keys:
            if get(k) is not None:
                found += 1
        return found

    secs, cpu, found = timed(read)
    results["readrandom"] = {"ops": num, "secs": secs, "cpu": cpu,
                             "note": f"({found} of {num} found)"}
    db.close()

    db = fresh(engine, args)
    if not hasattr(db, "write_batch"):
        results["fillbatch"] = {"skipped": f"SKIPPED ({engine}.DB has no write_batch yet)"}
    else:
        size = max(1, args.batch_size)

        def fill_batches():
            for start in range(0, num, size):
                with db.write_batch() as wb:
                    wput = wb.put
                    for k in seq_keys[start:start + size]:
                        wput(k, value)

        secs, cpu, _ = timed(fill_batches)
        results["fillbatch"] = {"ops": num, "secs": secs, "cpu": cpu,
                                "note": f"({size} puts per batch)"}
    db.close()
    shutil.rmtree(os.path.join(args.db, engine), ignore_errors=True)
    # ru_maxrss is in KiB on Linux.
    results["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return results


def importable(engine):
    try:
        __import__(engine)
        return None
    except ImportError as e:
        if engine == "siltdb":
            return (f"SKIPPED: siltdb not importable ({e}); build it in this venv with "
                    "`maturin develop --release -m python/Cargo.toml`")
        return (f"SKIPPED: plyvel not importable ({e}); "
                "`pip install --no-binary plyvel plyvel` needs libleveldb-dev and g++")


def version(engine):
    if engine == "siltdb":
        import siltdb
        return f"siltdb {siltdb.__version__}"
    import plyvel
    return f"plyvel {plyvel.__version__} (LevelDB {plyvel.__leveldb_version__})"


def line(name, r):
    if "skipped" in r:
        return f"{name:<12} : {r['skipped']}"
    ops_s = r["ops"] / r["secs"] if r["secs"] > 0 else float("inf")
    note = f" {r['note']}" if r.get("note") else ""
    cpu = f" (CPU {r['cpu'] * 1e6 / r['ops']:.3f})" if "cpu" in r else ""
    return (f"{name:<12} : {r['secs'] * 1e6 / r['ops']:11.3f} micros/op{cpu}; "
            f"{ops_s / 1e3:9.1f}k ops/s{note}")


def child_main(args):
    why = importable(args.engine)
    if why:
        print(json.dumps({"skipped": why}))
        return 0
    results = run_engine(args.engine, args)
    results["version"] = version(args.engine)
    print(json.dumps(results))
    return 0


def run_child(engine, argv, timeout):
    cmd = [sys.executable, os.path.abspath(__file__)]
    cmd += [a for a in argv if not a.startswith("--engine")]
    cmd += [f"--engine={engine}", "--child"]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"FAILED: no result within {timeout:.0f} s (stalled?)"}
    if proc.returncode != 0:
        return {"skipped": f"FAILED: exit status {proc.returncode}"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"skipped": "FAILED: no result from the child"}


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def best_of(rounds):
    """One result per benchmark: the fastest round's wall time and, separately, the least
    CPU time; peak RSS: the largest."""
    done = [r for r in rounds if "skipped" not in r]
    if not done:
        return rounds[-1]
    best = dict(done[-1])
    for name in BENCHMARKS:
        timed_runs = [r[name] for r in done if "secs" in r[name]]
        if timed_runs:
            best[name] = dict(min(timed_runs, key=lambda x: x["secs"] / x["ops"]))
            cpus = [x["cpu"] for x in timed_runs if "cpu" in x]
            if cpus:
                best[name]["cpu"] = min(cpus)
    best["peak_rss_kib"] = max(r["peak_rss_kib"] for r in done)
    return best


def ops_per_sec(r):
    return r["ops"] / r["secs"] if "ops" in r and r["secs"] > 0 else None


def cpu_per_op(r):
    return r["cpu"] * 1e6 / r["ops"] if "cpu" in r and r["cpu"] > 0 else None


def main(argv):
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    engines = ("siltdb", "plyvel") if args.engine == "both" else (args.engine,)
    rounds = max(1, args.rounds)
    print(f"Python {sys.version.split()[0]}; {args.num} entries, 16-byte keys, "
          f"{args.value_size}-byte values, write_buffer_size={args.write_buffer_size}, "
          f"no compression, no bloom filter"
          + (f"; {rounds} rounds, best of each" if rounds > 1 else ""))
    print(f"Load:       {load_average()} (1/5/15-minute load average at start)")
    print("------------------------------------------------")
    runs = {engine: [] for engine in engines}
    for i in range(rounds):
        for engine in engines:
            r = run_child(engine, argv, args.timeout)
            runs[engine].append(r)
            label = r.get("version", engine) + (f", round {i + 1}" if rounds > 1 else "")
            print(f"== {label} ==")
            if "skipped" in r:
                print(f"{engine}: {r['skipped']}")
                continue
            for name in BENCHMARKS:
                print(line(name, r[name]))
            print(f"peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB")
        if any("skipped" in runs[e][-1] for e in engines):
            break  # a missing or failing engine will not do better next round
    best = {engine: best_of(runs[engine]) for engine in engines}
    s, p = best.get("siltdb", {}), best.get("plyvel", {})
    if "skipped" not in s and "skipped" not in p and s and p:
        what = "best round" if rounds > 1 else "ops/s"
        print(f"== side by side ({what}): ratio = siltdb ops/s / plyvel ops/s "
              "(above 1: siltdb faster) ==")
        print(f"{'benchmark':<12} {'siltdb ops/s':>14} {'plyvel ops/s':>14} {'ratio':>7}")
        for name in BENCHMARKS:
            ra, rb = ops_per_sec(s[name]), ops_per_sec(p[name])
            cell = lambda r: f"{r / 1e3:13.1f}k" if r else f"{'skipped':>14}"
            ratio = f"{ra / rb:7.2f}" if ra and rb else f"{'-':>7}"
            print(f"{name:<12} {cell(ra)} {cell(rb)} {ratio}")
        print("CPU micros/op in the calling thread (no background threads, no waiting for a "
              "core); ratio = plyvel / siltdb:")
        for name in BENCHMARKS:
            ca, cb = cpu_per_op(s[name]), cpu_per_op(p[name])
            if ca and cb:
                print(f"{name:<12} {ca:14.3f} {cb:14.3f} {cb / ca:7.2f}")
        print(f"{'peak RSS':<12} {s['peak_rss_kib'] / 1024:11.1f} MiB "
              f"{p['peak_rss_kib'] / 1024:10.1f} MiB {s['peak_rss_kib'] / p['peak_rss_kib']:7.2f}")
    print(f"Load at end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
