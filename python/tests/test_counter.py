"""A counter incremented by 8 processes at once loses nothing with
``v.add(1)``.

The seeds' counter: each worker does ``counter.value += 1`` on a Manager's
Value, which is a get and then a set, so increments made by others in
between are overwritten. Agora's ``v.add(1)`` is one call done in the
server. The Manager's count and Agora's own ``v.value += 1`` (still two
calls) are printed for comparison (``pytest -s`` shows them), never
asserted: how much they lose depends on timing.
"""
from __future__ import annotations

import multiprocessing as mp
from typing import Any, List

import pytest

PROCS = 8
N = 400


def _add(v: Any, n: int, go: Any) -> None:
    if not go.wait(30):
        raise SystemExit(3)
    for _ in range(n):
        v.add(1)


def _plus_equals(v: Any, n: int, go: Any) -> None:
    if not go.wait(30):
        raise SystemExit(3)
    for _ in range(n):
        v.value += 1


def _run(ctx: Any, target: Any, v: Any) -> None:
    go = ctx.Event()
    procs: List[Any] = [ctx.Process(target=target, args=(v, N, go))
                        for _ in range(PROCS)]
    try:
        for p in procs:
            p.start()
        go.set()
        for p in procs:
            p.join(60)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    codes = [p.exitcode for p in procs]
    assert codes == [0] * PROCS, "workers' exit codes: %r" % codes


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_add_from_8_processes_loses_nothing(client, method):
    ctx = mp.get_context(method)
    v = client.value(None, 0)
    _run(ctx, _add, v)
    assert v.value == PROCS * N


def test_plus_equals_loses_updates_on_both_add_does_not(client):
    """Shown side by side (pytest -s): the Manager's v.value += 1, the
    same on Agora, and v.add(1). Only the last is asserted."""
    ctx = mp.get_context("fork")
    want = PROCS * N
    with ctx.Manager() as m:
        mv = m.Value("q", 0)
        _run(ctx, _plus_equals, mv)
        print("\nmanager v.value += 1: expected %d, got %d"
              % (want, mv.value))
    pv = client.value(None, 0)
    _run(ctx, _plus_equals, pv)
    print("agora   v.value += 1: expected %d, got %d (two calls: loses too)"
          % (want, pv.value))
    av = client.value(None, 0)
    _run(ctx, _add, av)
    print("agora   v.add(1):     expected %d, got %d" % (want, av.value))
    assert av.value == want
