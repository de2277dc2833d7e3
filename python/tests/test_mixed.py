"""C workers (libagora: python/tests/c_worker.c) and Python workers share
one queue, one dict and one lock: values cross both ways (ints, floats,
str, bytes, nested lists and maps, references), and a count kept under
the lock by both loses nothing.

meson sets AGORA_C_WORKER to the built c_worker; without it these tests
are skipped, saying so.
"""
from __future__ import annotations

import copy
import multiprocessing
import os
import subprocess
import time
from typing import Any, List

import pytest

import agora

C_WORKER = os.environ.get("AGORA_C_WORKER")
needs_c_worker = pytest.mark.skipif(
    not C_WORKER or not os.access(C_WORKER, os.X_OK),
    reason="AGORA_C_WORKER does not name the built c_worker "
           "(meson test --suite python sets it): %r" % (C_WORKER,))

# c_worker.c's values, in the same order.
VALUES: List[Any] = [
    42, -7, 1 << 40, 2.5, -0.125, "h\u00e9llo, w\u00f6rld",
    b"\x00\x01\xfe\xff", True, None,
    [1, [2.5, "two", [b"\x03"]], {"k": [1, 2], "deep": {"yes": True}}],
    {"name": "agora", "sizes": [1, 2, 3], "blob": b"\x00\xff", "pi": 3.25},
    {1: "one", -2: [2.0]},
]


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (so 1 is not 1.0
    or True, and str is not bytes)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def run_c(server, *args: str, timeout: float = 60) -> None:
    """Run c_worker with @args against @server; fail on its failure."""
    env = dict(os.environ, AGORA_ADDRESS=server.address,
               AGORA_AUTHKEY_FILE=server.keyfile)
    p = subprocess.run([C_WORKER, *args], env=env, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, "c_worker %s: exit %d\n%s" % (
        " ".join(args), p.returncode, p.stderr.decode(errors="replace"))


def test_same_is_strict() -> None:
    # The comparison below would see a float that came back an int.
    assert same(VALUES, copy.deepcopy(VALUES))
    assert not same([1], [1.0]) and not same([True], [1])
    assert not same(["a"], [b"a"]) and not same({1: 2}, {2: 1})


@needs_c_worker
def test_values_cross_both_ways(server, client) -> None:
    q = client.queue("mix.queue")
    d = client.dict("mix.dict")
    mine = client.dict()  # Python's own dict, passed by reference
    mine["from"] = "py"

    for v in VALUES:
        q.put(v)
    q.put(mine)
    d["py.values"] = VALUES
    # C checks each value and the dict, writes into Python's dict, then
    # sends the same values and a dict of its own.
    run_c(server, "values", "mix.queue", "mix.dict")

    assert mine["seen_by"] == "c"
    got = [q.get(timeout=5) for _ in VALUES]
    for i, (g, v) in enumerate(zip(got, VALUES)):
        assert same(g, v), "item %d: %r, expected %r" % (i, g, v)
    assert same(d["c.values"], VALUES)

    theirs = q.get(timeout=5)  # a reference: Python gets a proxy
    assert isinstance(theirs, agora.BaseProxy)
    assert theirs["from"] == "c"
    assert theirs["pid"] > 0
    theirs["seen_by"] = "py"
    stored = d["c.dict"]  # the same dict, by the reference C stored
    assert stored == theirs
    assert stored["seen_by"] == "py"
    assert q.qsize() == 0


def _py_counter(lock, d, n: int) -> None:
    for _ in range(n):
        assert lock.acquire(timeout=10)
        try:
            count = d["count"]  # the same read-modify-write as C's
            time.sleep(0.0002)
            d["count"] = count + 1
        finally:
            lock.release()


@needs_c_worker
def test_lock_between_c_and_python(server, client) -> None:
    n = 150
    lock = client.lock("mix.lock")
    d = client.dict("mix.dict")
    d["count"] = 0
    env = dict(os.environ, AGORA_ADDRESS=server.address,
               AGORA_AUTHKEY_FILE=server.keyfile)
    cs = [subprocess.Popen([C_WORKER, "count", "mix.lock", "mix.dict",
                            str(n)], env=env, stderr=subprocess.PIPE)
          for _ in range(2)]
    ctx = multiprocessing.get_context("fork")
    pys = [ctx.Process(target=_py_counter, args=(lock, d, n))
           for _ in range(2)]
    try:
        for p in pys:
            p.start()
        for c in cs:
            _, err = c.communicate(timeout=60)
            assert c.returncode == 0, err.decode(errors="replace")
        for p in pys:
            p.join(60)
            assert p.exitcode == 0, "python worker: exit %r" % p.exitcode
    finally:
        for c in cs:
            if c.poll() is None:
                c.kill()
                c.wait()
        for p in pys:
            if p.is_alive():
                p.kill()
                p.join()
    # Four workers, n increments each: none lost.
    assert d["count"] == 4 * n
    assert not lock.locked()
