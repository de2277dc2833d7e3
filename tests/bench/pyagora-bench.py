#!/usr/bin/python3
"""pyagora-bench - the agora-bench ops through Agora's Python package.

The twin of pymgr-bench.py, for tests/bench/compare: the same ops, the
same cells, the same output (JSON lines on stdout, a table on stderr),
system "agora-py", through the harness both share (pybench.py). An
agorad holds the objects (started here from --agorad on a private socket
with a fresh key, as agora.Manager does, or one already running at
--address with --authkey-file); N client processes (fork) use them
through the package's proxies exactly as a program would, each for a
fixed time, and report their op count and per-op latencies.

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
import multiprocessing as mp
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                "python"))

import agora  # noqa: E402
import pybench  # noqa: E402
from pybench import DICT_KEYS  # noqa: E402


def make_unit(op, objs, index):
    if op == "ping":
        c = objs["client"]
        return lambda i: c.ping()
    if op == "dict.set":
        d = objs["dict"]

        def dset(i):
            d[i % DICT_KEYS] = i
        return dset
    if op == "value.add":
        v = objs["value"]
        return lambda i: v.add(1)
    return pybench.common_unit(op, objs, index)


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
        pybench.pin_threads(self.proc.pid, cpu)

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
    def add_args(ap):
        ap.add_argument("--agorad", help="the agorad to start (default: "
                        "$AGORAD, agorad on PATH, build-bench/, build/)")
        ap.add_argument("--address", help="use this running agorad instead")
        ap.add_argument("--authkey-file", help="its key (with --address)")
        ap.add_argument("--system", default="agora-py")
    ap = pybench.parser(add_args)
    a, ops, clients = pybench.parse(ap)

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

        def empty_list():
            # a fresh list, as pymgr-bench empties its list
            objs["list"].close()
            objs["list"] = c.list()
        failures = pybench.run(mp.get_context("fork"), a, ops, clients,
                               make_unit, objs, server_pid, a.system, 8,
                               "pyagora-bench", empty_list)
        c.close()
    finally:
        if server:
            server.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
