#!/usr/bin/python3
"""pymgr-bench - the agora-bench ops on Python's multiprocessing.Manager.

Python's standard library only, for tests/bench/compare. A SyncManager
server process holds the objects; N client processes (fork) use them
through proxies, each for a fixed time, and report their op count and
per-op latencies. Output: the agora-bench JSON lines on stdout, a table
on stderr.

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
import argparse
import json
import multiprocessing as mp
import os
import sys
import time

OPS = ["ping", "list.append", "dict.set", "dict.get", "value.add",
       "queue.put+get", "lock.acq+rel", "lock.contended"]
DICT_KEYS = 1024
MAX_SAMPLES = 200000


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
    if op == "list.append":
        l = objs["list"]
        return lambda i: l.append(i)
    if op == "dict.set":
        d = objs["dict"]
        return lambda i: d.__setitem__(i % DICT_KEYS, i)
    if op == "dict.get":
        d = objs["dict"]
        return lambda i: d[i % DICT_KEYS]
    if op == "value.add":
        v = objs["value"]

        def add(i):
            v.value += 1
        return add
    if op == "queue.put+get":
        q = objs["queue"]

        def putget(i):
            q.put(i)
            q.get()
        return putget
    lock = objs["locks"][index] if op == "lock.acq+rel" else objs["lock"]

    def acqrel(i):
        lock.acquire()
        lock.release()
    return acqrel


def client(op, objs, index, duration, cpu, ready, go, results):
    try:
        if cpu >= 0:
            os.sched_setaffinity(0, {cpu})
        unit = make_unit(op, objs, index)
        unit(0)  # connects this process's proxies before the clock runs
        ready.wait()
        go.wait()
        cpu0 = time.process_time()
        now = time.perf_counter_ns
        samples = []
        ops = 0
        start = t = now()
        end = start + int(duration * 1e9)
        while t < end:
            t0 = t
            unit(ops)
            t = now()
            ops += 1
            if len(samples) < MAX_SAMPLES:
                samples.append(t - t0)
        cpu = time.process_time() - cpu0
        results.put((index, ops, t - start, samples, None, cpu))
    except Exception as e:  # reported, not raised: the parent prints it
        results.put((index, 0, 1, [], repr(e), 0.0))


def cpu_seconds(pid):
    """User + system CPU seconds of process @pid, all its threads (clock
    ticks: 10 ms steps), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cell(ctx, objs, op, n, duration, cpu_client, server_pid):
    ready = ctx.Barrier(n + 1)
    go = ctx.Event()
    results = ctx.Queue()
    procs = [ctx.Process(target=client,
                         args=(op, objs, i, duration, cpu_client, ready, go,
                               results))
             for i in range(n)]
    for p in procs:
        p.start()
    ready.wait(timeout=120)
    s0 = cpu_seconds(server_pid)
    go.set()
    got = [results.get(timeout=120 + duration) for _ in procs]
    s1 = cpu_seconds(server_pid)
    for p in procs:
        p.join()
    errs = [g[4] for g in got if g[4]]
    if errs:
        raise RuntimeError(errs[0])
    rate = sum(g[1] * 1e9 / g[2] for g in got)
    samples = sorted(s for g in got for s in g[3])
    p50 = samples[len(samples) // 2] / 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000
    total = sum(g[1] for g in got)
    ccpu = sum(g[5] for g in got) * 1e6 / total
    scpu = None if s0 is None or s1 is None else (s1 - s0) * 1e6 / total
    return rate, p50, p99, ccpu, scpu


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
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", default="all")
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--cpu-server", type=int, default=-1)
    ap.add_argument("--cpu-client", type=int, default=-1)
    ap.add_argument("--pin", default="none")
    ap.add_argument("--memory", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    ops = OPS if a.ops == "all" else a.ops.split(",")
    clients = [int(c) for c in a.clients.split(",")]

    ctx = mp.get_context("fork")
    with ctx.Manager() as m:
        if a.cpu_server >= 0:
            # Every thread (taskset -a): the manager serves each client in
            # a thread its accepter thread starts, which inherits the
            # accepter's affinity, and the accepter may run already.
            for tid in os.listdir(f"/proc/{m._process.pid}/task"):
                os.sched_setaffinity(int(tid), {a.cpu_server})
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
        if not a.quiet:
            print(f"{'system':<7} {'op':<16} {'clients':>7} {'depth':>5} "
                  f"{'transport':<9} {'pin':<4} {'ops/s':>12} {'p50 us':>9} "
                  f"{'p99 us':>9} {'cpu us/op':>9}", file=sys.stderr)
        failures = 0
        for op in ops:
            for n in clients:
                if op == "lock.contended" and n < 2:
                    continue
                try:
                    rate, p50, p99, ccpu, scpu = run_cell(
                        ctx, objs, op, n, a.duration, a.cpu_client,
                        server_pid)
                except Exception as e:
                    print(f"pymgr-bench: {op} {n} clients: {e}",
                          file=sys.stderr)
                    failures += 1
                    continue
                if not a.quiet:
                    print(f"{'python':<7} {op:<16} {n:>7} {1:>5} "
                          f"{'unix':<9} {a.pin:<4} {rate:>12.0f} "
                          f"{p50:>9.2f} {p99:>9.2f} "
                          f"{ccpu + (scpu or 0):>9.1f}", file=sys.stderr)
                print(json.dumps({"system": "python", "op": op, "clients": n,
                                  "depth": 1, "transport": "unix",
                                  "pin": a.pin, "ops_per_s": round(rate),
                                  "p50_us": round(p50, 2),
                                  "p99_us": round(p99, 2),
                                  "client_cpu_us": round(ccpu, 2),
                                  "server_cpu_us": None if scpu is None
                                  else round(scpu, 2)}), flush=True)
                if op == "list.append":
                    del objs["list"][:]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
