#!/usr/bin/python3
"""pyagora-bench - the agora-bench ops through Agora's Python package.

The twin of pymgr-bench.py, for tests/bench/compare: the same ops, the
same cells, the same output (JSON lines on stdout, a table on stderr),
system "agora-py". An agorad holds the objects (started here from
--agorad on a private socket with a fresh key, as agora.Manager does, or
one already running at --address with --authkey-file); N client
processes (fork) use them through the package's proxies exactly as a
program would, each for a fixed time, and report their op count and
per-op latencies.

The ops, each one proxy call per round trip, as a user writes them:
  ping            client.ping()
  list.append     l.append(i)
  dict.set        d[k] = i (k among 1024 keys)
  dict.get        d[k] (prefilled)
  value.add       v.add(1): atomic, one round trip (the Manager's row is
                  v.value += 1, a get and a set)
  queue.put+get   q.put(i); q.get()
  lock.acq+rel    lock.acquire(); lock.release() on a Lock of the client's
                  own
  lock.contended  the same on one Lock all clients share
No pipelining: a proxy call always waits for its answer.

As in pymgr-bench.py, each JSON line has client_cpu_us and server_cpu_us
(CPU time per op of the clients' timed loops and of agorad; server_cpu_us
is null with --address, where agorad is not a child of this one).

Needs /usr/bin/python3 with msgpack (Debian's python3-msgpack) and the
repository's python/ (found next to this file, or on PYTHONPATH).
"""
import argparse
import json
import multiprocessing as mp
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                "python"))

import agora  # noqa: E402

OPS = ["ping", "list.append", "dict.set", "dict.get", "value.add",
       "queue.put+get", "lock.acq+rel", "lock.contended"]
DICT_KEYS = 1024
MAX_SAMPLES = 200000


def make_unit(op, objs, index):
    if op == "ping":
        c = objs["client"]
        return lambda i: c.ping()
    if op == "list.append":
        l = objs["list"]
        return lambda i: l.append(i)
    if op == "dict.set":
        d = objs["dict"]

        def dset(i):
            d[i % DICT_KEYS] = i
        return dset
    if op == "dict.get":
        d = objs["dict"]
        return lambda i: d[i % DICT_KEYS]
    if op == "value.add":
        v = objs["value"]
        return lambda i: v.add(1)
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
        unit(0)  # connects this process and opens its handle first
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


class Agorad:
    """An agorad on a private Unix socket with a fresh key (what
    agora.Manager starts), stopped by stop()."""

    def __init__(self, path):
        self.dir = tempfile.mkdtemp(prefix="pyagora-bench-")
        self.key = os.urandom(32)
        keyfile = os.path.join(self.dir, "key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, self.key)
        os.close(fd)
        self.address = "unix:" + os.path.join(self.dir, "agora.sock")
        self.proc = subprocess.Popen(
            [path, "--listen", self.address, "--authkey-file", keyfile,
             "--log-level", "warning"],
            stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("agorad: listening on unix:"):
            self.stop()
            raise RuntimeError("%s did not start: %r" % (path, line))

    def pin(self, cpu):
        """Every thread of agorad on CPU @cpu."""
        for tid in os.listdir("/proc/%d/task" % self.proc.pid):
            os.sched_setaffinity(int(tid), {cpu})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def find_agorad():
    for p in (os.environ.get("AGORAD"), shutil.which("agorad"),
              os.path.join(HERE, "..", "..", "build-bench", "server",
                           "agorad"),
              os.path.join(HERE, "..", "..", "build", "server", "agorad")):
        if p and os.access(p, os.X_OK):
            return p
    sys.exit("pyagora-bench: no agorad: pass --agorad PATH or --address")


def read_key(path):
    with open(path, "rb") as f:
        key = f.read()
    return key[:-1] if key.endswith(b"\n") else key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", default="all")
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--cpu-server", type=int, default=-1)
    ap.add_argument("--cpu-client", type=int, default=-1)
    ap.add_argument("--pin", default="none")
    ap.add_argument("--agorad", help="the agorad to start (default: "
                    "$AGORAD, agorad on PATH, build-bench/, build/)")
    ap.add_argument("--address", help="use this running agorad instead")
    ap.add_argument("--authkey-file", help="its key (with --address)")
    ap.add_argument("--system", default="agora-py")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    ops = OPS if a.ops == "all" else a.ops.split(",")
    for op in ops:
        if op not in OPS:
            ap.error("unknown op %r (one of %s)" % (op, ", ".join(OPS)))
    clients = [int(c) for c in a.clients.split(",")]

    server = None
    if a.address:
        if not a.authkey_file:
            ap.error("--address needs --authkey-file")
        address, key = a.address, read_key(a.authkey_file)
    else:
        server = Agorad(a.agorad or find_agorad())
        address, key = server.address, server.key
        if a.cpu_server >= 0:
            server.pin(a.cpu_server)
    server_pid = server.proc.pid if server else None
    ctx = mp.get_context("fork")
    failures = 0
    try:
        c = agora.connect(address, key)
        d = c.dict()
        for k in range(DICT_KEYS):
            d[k] = k
        objs = {"client": c, "list": c.list(), "dict": d}
        # The types the package may not have yet are made when asked for.
        if "value.add" in ops:
            objs["value"] = c.value(None, 0)
        if "queue.put+get" in ops:
            objs["queue"] = c.queue()
        if "lock.contended" in ops:
            objs["lock"] = c.lock()
        if "lock.acq+rel" in ops:
            objs["locks"] = [c.lock() for _ in range(max(clients))]
        if not a.quiet:
            print(f"{'system':<8} {'op':<16} {'clients':>7} {'depth':>5} "
                  f"{'transport':<9} {'pin':<4} {'ops/s':>12} {'p50 us':>9} "
                  f"{'p99 us':>9} {'cpu us/op':>9}", file=sys.stderr)
        for op in ops:
            for n in clients:
                if op == "lock.contended" and n < 2:
                    continue
                try:
                    rate, p50, p99, ccpu, scpu = run_cell(
                        ctx, objs, op, n, a.duration, a.cpu_client,
                        server_pid)
                except Exception as e:
                    print(f"pyagora-bench: {op} {n} clients: {e}",
                          file=sys.stderr)
                    failures += 1
                    continue
                if not a.quiet:
                    print(f"{a.system:<8} {op:<16} {n:>7} {1:>5} "
                          f"{'unix':<9} {a.pin:<4} {rate:>12.0f} "
                          f"{p50:>9.2f} {p99:>9.2f} "
                          f"{ccpu + (scpu or 0):>9.1f}", file=sys.stderr)
                print(json.dumps({"system": a.system, "op": op, "clients": n,
                                  "depth": 1, "transport": "unix",
                                  "pin": a.pin, "ops_per_s": round(rate),
                                  "p50_us": round(p50, 2),
                                  "p99_us": round(p99, 2),
                                  "client_cpu_us": round(ccpu, 2),
                                  "server_cpu_us": None if scpu is None
                                  else round(scpu, 2)}), flush=True)
                if op == "list.append":
                    # a fresh list: the next cell appends to an empty one,
                    # as pymgr-bench empties its list
                    objs["list"].close()
                    objs["list"] = c.list()
        c.close()
    finally:
        if server:
            server.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
