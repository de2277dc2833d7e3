#!/usr/bin/python3
"""pymgr-bench - the agora-bench ops on Python's multiprocessing.Manager.

Python's standard library only, for tests/bench/compare. A SyncManager
server process holds the objects; N client processes (fork) use them
through proxies, each for a fixed time, and report their op count and
per-op latencies. Output: the agora-bench JSON lines on stdout, a table
on stderr. The harness is pybench.py, shared with pyagora-bench.py.

The equivalents, each one proxy call per round trip:
  ping            len(l) on an empty managed list (the cheapest call there is)
  list.append     l.append(i)
  dict.set        d[k] = i (k among 1024 keys)
  dict.get        d[k] (prefilled)
  value.add       v.value += 1 on a managed Value: a get and a set, two round
                  trips and not atomic, because that is all Value offers
  queue.put+get   q.put(i); q.get()
  lock.acq+rel    acquire and release a Lock of the client's own
  lock.contended  the same on one Lock all clients share
No pipelining: a proxy call always waits for its answer.

Each cell's JSON line also has client_cpu_us and server_cpu_us: the CPU
time (user + system) per op of the clients' timed loops and of the
manager process (all its threads) over the cell. Rates swing with the
machine's load; CPU per op much less, and on a machine of C cores
C / (client + server CPU per op) bounds the rate of many clients.

--memory N: RSS growth of the manager process for N ints appended to a
managed list and N int->int entries in a managed dict, 1000 per call.
"""
import json
import multiprocessing as mp
import sys

import pybench
from pybench import DICT_KEYS


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return -1


def make_unit(op, objs, index):
    if op == "ping":
        l = objs["empty"]
        return lambda i: len(l)
    if op == "dict.set":
        d = objs["dict"]
        return lambda i: d.__setitem__(i % DICT_KEYS, i)
    if op == "value.add":
        v = objs["value"]

        def add(i):
            v.value += 1
        return add
    return pybench.common_unit(op, objs, index)


def measure_memory(m, n):
    pid = m._process.pid
    l = m.list()
    r0 = rss(pid)
    for i in range(0, n, 1000):
        l.extend(range(i, min(n, i + 1000)))
    r1 = rss(pid)
    report_mem("list.int", n, r0, r1)
    d = m.dict()
    r0 = r1
    for i in range(0, n, 1000):
        d.update({k: k for k in range(i, min(n, i + 1000))})
    r1 = rss(pid)
    report_mem("dict.int_int", n, r0, r1)


def report_mem(what, n, r0, r1):
    per = (r1 - r0) / n
    print(f"python  {what:<14} n={n}  RSS {per:.1f} B/elem", file=sys.stderr)
    print(json.dumps({"system": "python", "mem": what, "n": n,
                      "rss_bytes_per_elem": round(per, 2),
                      "self_bytes_per_elem": None}), flush=True)


def main():
    ap = pybench.parser(
        lambda ap: ap.add_argument("--memory", type=int, default=0))
    a, ops, clients = pybench.parse(ap)

    ctx = mp.get_context("fork")
    with ctx.Manager() as m:
        if a.cpu_server >= 0:
            # Every thread (taskset -a): the manager serves each client in
            # a thread its accepter thread starts, which inherits the
            # accepter's affinity, and the accepter may run already.
            pybench.pin_threads(m._process.pid, a.cpu_server)
        if a.memory > 0:
            measure_memory(m, a.memory)
            return 0
        server_pid = m._process.pid
        objs = {
            "empty": m.list(), "list": m.list(),
            "dict": m.dict({k: k for k in range(DICT_KEYS)}),
            "value": m.Value("q", 0), "queue": m.Queue(), "lock": m.Lock(),
            "locks": [m.Lock() for _ in range(max(clients))],
        }

        def empty_list():
            del objs["list"][:]
        failures = pybench.run(ctx, a, ops, clients, make_unit, objs,
                               server_pid, "python", 7, "pymgr-bench",
                               empty_list)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
