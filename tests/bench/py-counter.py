#!/usr/bin/python3
"""py-counter - a counter incremented by 8 processes, Manager and Agora.

Each of --processes processes (fork) increments one shared counter
--increments times, all at once; then the counter is read and compared
with what it should hold. Three ways:

  manager v.value += 1   multiprocessing.Manager().Value: a get and a set,
                         two calls; another process's increment between
                         them is overwritten (updates are lost)
  agora v.value += 1     the same code on an Agora value: still two calls
                         (the read-modify-write happens in the client), so
                         it loses updates too
  agora v.add(1)         the atomic add: one call, done in the server;
                         nothing is lost

One JSON line per way on stdout ({"counter": ..., "expected": ...,
"got": ..., "lost": ...}), a table on stderr. For tests/bench/compare,
whose report prints them; it starts its own agorad (--agorad, as
pyagora-bench.py does).
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                "python"))

import agora  # noqa: E402

pyagora_bench = __import__("pyagora-bench")


def bump_value(v, n, go):
    go.wait(60)
    for _ in range(n):
        v.value += 1


def bump_add(v, n, go):
    go.wait(60)
    for _ in range(n):
        v.add(1)


def run(ctx, label, v, target, procs, n):
    go = ctx.Event()
    ps = [ctx.Process(target=target, args=(v, n, go)) for _ in range(procs)]
    for p in ps:
        p.start()
    t0 = time.perf_counter()
    go.set()
    for p in ps:
        p.join(300)
        if p.is_alive():
            p.kill()
            p.join()
            raise RuntimeError("%s: a process did not finish" % label)
        if p.exitcode != 0:
            raise RuntimeError("%s: a process failed (exit %s)"
                               % (label, p.exitcode))
    secs = time.perf_counter() - t0
    got = v.value
    want = procs * n
    return {"counter": label, "processes": procs, "increments": n,
            "expected": want, "got": got, "lost": want - got,
            "seconds": round(secs, 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--processes", type=int, default=8)
    ap.add_argument("--increments", type=int, default=2000,
                    help="per process")
    ap.add_argument("--agorad", help="the agorad to start (default: "
                    "$AGORAD, agorad on PATH, build-bench/, build/)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.processes < 1 or a.increments < 1:
        ap.error("--processes and --increments must be at least 1")
    ctx = mp.get_context("fork")
    rows = []
    with ctx.Manager() as m:
        v = m.Value("q", 0)
        rows.append(run(ctx, "manager v.value += 1", v, bump_value,
                        a.processes, a.increments))
    server = pyagora_bench.Agorad(a.agorad or pyagora_bench.find_agorad())
    try:
        with agora.connect(server.address, server.key) as c:
            v = c.value(None, 0)
            rows.append(run(ctx, "agora v.value += 1", v, bump_value,
                            a.processes, a.increments))
            v = c.value(None, 0)
            rows.append(run(ctx, "agora v.add(1)", v, bump_add,
                            a.processes, a.increments))
    finally:
        server.stop()
    for r in rows:
        print(json.dumps(r), flush=True)
        if not a.quiet:
            print(f"{r['counter']:<22} {r['processes']} processes x "
                  f"{r['increments']}: expected {r['expected']}, got "
                  f"{r['got']}, lost {r['lost']} ({r['seconds']:.2f} s)",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
