"""pybench - what pyagora-bench.py and pymgr-bench.py share.

The two run the agora-bench ops through Python proxies, Agora's package
and Python's multiprocessing.Manager, on the same cells with the same
output: the flags, the client processes (fork) that each run one op for a
fixed time, the CPU time per op of the clients and of the server, the
JSON lines on stdout and the table on stderr. Each script keeps how it
starts its server and makes its objects, and the unit of work of the ops
it writes its own way (make_unit); the ops written alike on both are
common_unit() here.

Standard library only; imported as a sibling module (the scripts' folder
is first on sys.path when they run as scripts).
"""
import argparse
import json
import os
import sys
import time

OPS = ["ping", "list.append", "dict.set", "dict.get", "value.add",
       "queue.put+get", "lock.acq+rel", "lock.contended"]
DICT_KEYS = 1024
MAX_SAMPLES = 200000


def parser(add_args=None):
    """The flags both scripts take; @add_args(ap) adds a script's own,
    before --quiet."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", default="all")
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--cpu-server", type=int, default=-1)
    ap.add_argument("--cpu-client", type=int, default=-1)
    ap.add_argument("--pin", default="none")
    if add_args:
        add_args(ap)
    ap.add_argument("--quiet", action="store_true")
    return ap


def parse(ap):
    """(args, ops, clients) of the command line."""
    a = ap.parse_args()
    ops = OPS if a.ops == "all" else a.ops.split(",")
    for op in ops:
        if op not in OPS:
            ap.error("unknown op %r (one of %s)" % (op, ", ".join(OPS)))
    clients = [int(c) for c in a.clients.split(",")]
    return a, ops, clients


def common_unit(op, objs, index):
    """The unit of work of the ops both write the same way: list.append,
    dict.get, queue.put+get, lock.acq+rel (a Lock of the client's own, in
    objs["locks"]) and lock.contended (objs["lock"], shared)."""
    if op == "list.append":
        l = objs["list"]
        return lambda i: l.append(i)
    if op == "dict.get":
        d = objs["dict"]
        return lambda i: d[i % DICT_KEYS]
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


def client(make_unit, op, objs, index, duration, cpu, ready, go, results):
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


def pin_threads(pid, cpu):
    """Every thread of process @pid on CPU @cpu (taskset -a)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {cpu})


def run_cell(ctx, make_unit, objs, op, n, duration, cpu_client, server_pid):
    ready = ctx.Barrier(n + 1)
    go = ctx.Event()
    results = ctx.Queue()
    procs = [ctx.Process(target=client,
                         args=(make_unit, op, objs, i, duration, cpu_client,
                               ready, go, results))
             for i in range(n)]
    for p in procs:
        p.start()
    try:
        ready.wait(timeout=120)
        s0 = cpu_seconds(server_pid)
        go.set()
        got = [results.get(timeout=120 + duration) for _ in procs]
        s1 = cpu_seconds(server_pid)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
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


def run(ctx, a, ops, clients, make_unit, objs, server_pid, system, width,
        prog, empty_list):
    """Every cell of @ops x @clients (lock.contended from 2 clients): a
    table row on stderr (@system in a column @width wide) unless --quiet,
    a JSON line on stdout; a cell that fails is said on stderr as @prog's.
    @empty_list() after each list.append cell, so that the next appends to
    an empty list. Returns the number of cells that failed."""
    if not a.quiet:
        print(f"{'system':<{width}} {'op':<16} {'clients':>7} {'depth':>5} "
              f"{'transport':<9} {'pin':<4} {'ops/s':>12} {'p50 us':>9} "
              f"{'p99 us':>9} {'cpu us/op':>9}", file=sys.stderr)
    failures = 0
    for op in ops:
        for n in clients:
            if op == "lock.contended" and n < 2:
                continue
            try:
                rate, p50, p99, ccpu, scpu = run_cell(
                    ctx, make_unit, objs, op, n, a.duration, a.cpu_client,
                    server_pid)
            except Exception as e:
                print(f"{prog}: {op} {n} clients: {e}", file=sys.stderr)
                failures += 1
                continue
            if not a.quiet:
                print(f"{system:<{width}} {op:<16} {n:>7} {1:>5} "
                      f"{'unix':<9} {a.pin:<4} {rate:>12.0f} "
                      f"{p50:>9.2f} {p99:>9.2f} "
                      f"{ccpu + (scpu or 0):>9.1f}", file=sys.stderr)
            print(json.dumps({"system": system, "op": op, "clients": n,
                              "depth": 1, "transport": "unix",
                              "pin": a.pin, "ops_per_s": round(rate),
                              "p50_us": round(p50, 2),
                              "p99_us": round(p99, 2),
                              "client_cpu_us": round(ccpu, 2),
                              "server_cpu_us": None if scpu is None
                              else round(scpu, 2)}), flush=True)
            if op == "list.append":
                empty_list()
    return failures
