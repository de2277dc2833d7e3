"""agora.Transaction: conditions, then/else, all or nothing (protocol 12)."""
from __future__ import annotations

import threading

import pytest

import agora


def test_then_runs_when_conditions_hold(client):
    stock = client.dict("stock")
    orders = client.list("orders")
    stock["apples"] = 5
    t = client.transaction()
    assert isinstance(t, agora.Transaction)
    t.compare(stock, "getitem", ["apples"], ">=", 3)
    t.then(stock, "incr", "apples", -3).then(orders, "append", "apples")
    t.then(orders, "len")
    t.orelse(orders, "append", "rejected")
    r = t.run()
    assert r == agora.TxnResult(True, [2, None, 1])
    assert r.succeeded is True and r.results == [2, None, 1]
    assert stock.copy() == {"apples": 2}
    assert orders.copy() == ["apples"]


def test_else_runs_when_a_condition_fails(client):
    stock = client.dict("stock")
    orders = client.list("orders")
    stock["apples"] = 2
    t = client.transaction()
    t.compare(stock, "getitem", ["apples"], ">=", 3)
    t.then(stock, "incr", "apples", -3).then(orders, "append", "apples")
    t.orelse(orders, "append", "rejected").orelse(orders, "len")
    r = t.run()
    assert r == (False, [None, 1])
    assert stock.copy() == {"apples": 2}
    assert orders.copy() == ["rejected"]
    # check=True: the failure is an exception, carrying what was done.
    with pytest.raises(agora.TxnFailed) as ei:
        t.run(check=True)
    assert ei.value.result == (False, [None, 2])
    assert orders.copy() == ["rejected", "rejected"]


def test_check_does_not_raise_when_the_conditions_hold(client):
    d = client.dict("d")
    d["k"] = 1
    r = client.transaction().compare(d, "getitem", ["k"], "==", 1) \
        .then(d, "set", "k", 2).run(check=True)
    assert r == (True, [None])
    assert d["k"] == 2


@pytest.mark.parametrize("op,wire,value,holds", [
    # The server's equality: an int and a float are never equal; they
    # order by value (protocol section 6).
    ("==", "eq", 5, True), ("==", "eq", 5.0, False), ("==", "eq", 6, False),
    ("!=", "ne", 5.0, True), ("<", "lt", 5.5, True), (">=", "ge", 5.0, True),
    ("!=", "ne", 6, True), ("!=", "ne", 5, False),
    ("<", "lt", 6, True), ("<", "lt", 5, False),
    ("<=", "le", 5, True), ("<=", "le", 4, False),
    (">", "gt", 4, True), (">", "gt", 5, False),
    (">=", "ge", 5, True), (">=", "ge", 6, False),
])
def test_each_operator(client, op, wire, value, holds):
    d = client.dict("d")
    d["n"] = 5
    for name in (op, wire):
        r = client.transaction().compare(d, "getitem", ["n"], name, value) \
            .run()
        assert r.succeeded is holds, (name, value)


def test_missing_key_index_or_item(client):
    d = client.dict("d")
    lst = client.list("l")
    d["here"] = 1

    def holds(build):
        t = client.transaction()
        build(t)
        return t.run().succeeded

    # A missing key makes != hold and the orderings fail, no error.
    assert holds(lambda t: t.compare(d, "getitem", ["gone"], "!=", 1))
    assert not holds(lambda t: t.compare(d, "getitem", ["gone"], "==", 1))
    assert not holds(lambda t: t.compare(d, "getitem", ["gone"], "<", 1))
    assert holds(lambda t: t.exists(d, "getitem", ["here"]))
    assert not holds(lambda t: t.exists(d, "getitem", ["gone"]))
    assert holds(lambda t: t.missing(d, "getitem", ["gone"]))
    assert not holds(lambda t: t.missing(d, "getitem", ["here"]))
    assert holds(lambda t: t.missing(lst, "get", [0]))
    lst.append("x")
    assert holds(lambda t: t.exists(lst, "get", (0,)))
    # Every condition must hold.
    assert not holds(lambda t: t.exists(d, "getitem", ["here"])
                     .missing(d, "getitem", ["here"]))


def test_a_failing_call_undoes_the_ones_before(client):
    d = client.dict("d")
    lst = client.list("l")
    d["a"] = 1
    lst.append(1)
    t = client.transaction()
    t.then(d, "set", "a", 100).then(lst, "append", 2)
    t.then(d, "pop", "nokey")          # call 2: KEY
    t.then(d, "set", "after", True)
    with pytest.raises(KeyError) as ei:
        t.run()
    e = ei.value
    assert isinstance(e, agora.AgoraKeyError)
    assert e.where == {"branch": "then", "call": 2}
    assert "nokey" in str(e)
    assert d.copy() == {"a": 1}
    assert lst.copy() == [1]


def test_a_failing_condition_raises_with_where(client):
    d = client.dict("d")
    d["s"] = "text"
    t = client.transaction().compare(d, "getitem", ["s"], "==", "text")
    t.compare(d, "getitem", ["s"], "<", 3)   # str < int: TYPE
    t.then(d, "set", "s", "changed")
    with pytest.raises(agora.AgoraTypeError) as ei:
        t.run()
    assert ei.value.where == {"branch": "conditions", "call": 1}
    assert d["s"] == "text"


def test_a_call_in_the_else_branch_fails(client):
    d = client.dict("d")
    t = client.transaction().exists(d, "getitem", ["x"])
    t.orelse(d, "set", "y", 1).orelse(d, "getitem", "x")
    with pytest.raises(KeyError) as ei:
        t.run()
    assert ei.value.where == {"branch": "else", "call": 1}
    assert d.copy() == {}


def test_a_call_that_may_wait_is_refused(client):
    q = client.queue("q")
    d = client.dict("d")
    with pytest.raises(agora.ArgsError) as ei:
        client.transaction().then(d, "set", "k", 1).then(q, "get").run()
    assert ei.value.where == {"branch": "then", "call": 1}
    assert d.copy() == {}
    # Not waiting (block false): allowed; an empty queue answers EMPTY.
    with pytest.raises(agora.Empty):
        client.transaction().then(q, "get", False).run()
    r = client.transaction().then(q, "put", "job", False) \
        .then(q, "get", False).then(d, "set", "k", 1).run()
    assert r == (True, [None, "job", None])


def test_held_and_fence(client):
    lock = client.lock("lease")
    d = client.dict("d")
    t = client.transaction().held(lock).then(d, "set", "by", "holder")
    assert t.run().succeeded is False        # nobody holds it
    token = lock.acquire_fenced()
    assert isinstance(token, int) and token >= 1
    assert t.run() == (True, [None])
    fenced = client.transaction().fence(lock, token).then(d, "incr", "n", 1)
    assert fenced.run() == (True, [1])
    stale = client.transaction().fence(lock, token - 1 if token > 1 else 0)
    assert stale.then(d, "incr", "n", 1).run().succeeded is False

    # Another thread has a connection of its own: it does not hold it.
    seen = []

    def other() -> None:
        seen.append(t.run().succeeded)
        seen.append(fenced.run().succeeded)   # held, but not by it: true
    th = threading.Thread(target=other)
    th.start()
    th.join(10)
    assert not th.is_alive()
    assert seen == [False, True]

    lock.release()
    assert fenced.run().succeeded is False   # the lease was lost
    assert d.copy() == {"by": "holder", "n": 2}


def test_results_hold_references_as_proxies(client):
    d = client.dict("d")
    inner = client.list("inner")
    inner.append("x")
    d["ref"] = inner
    r = client.transaction().then(d, "getitem", "ref").then(d, "copy").run()
    got = r.results[0]
    assert isinstance(got, agora.BaseProxy) and got == inner
    assert got.copy() == ["x"]
    assert r.results[1] == {"ref": inner}
    # A proxy in a condition's value or a call's params goes as its ref.
    r = client.transaction().compare(d, "getitem", ["ref"], "==", inner) \
        .then(d, "set", "again", inner).run()
    assert r.succeeded
    assert d["again"] == inner


def test_run_again_and_reset(client):
    d = client.dict("d")
    t = client.transaction().then(d, "incr", "n", 1)
    assert [t.run().results[0] for _ in range(3)] == [1, 2, 3]
    assert len(t) == 1
    t.reset()
    assert len(t) == 0
    assert t.run() == (True, [])
    assert d["n"] == 3
    # Params are taken when run: a list changed in between goes as it is.
    items = [1]
    t.then(d, "set", "items", items)
    t.run()
    items.append(2)
    t.run()
    assert d["items"] == [1, 2]


def test_dotted_method_name_is_sent_as_is(client):
    d = client.dict("d")
    r = client.transaction().then(d, "dict.set", "k", 1) \
        .then(d, "getitem", "k").run()
    assert r == (True, [None, 1])


def test_compare_and_set_from_threads_is_atomic(server):
    # Optimistic increments: read, then set only if still the value read.
    # Without the condition and the write as one step some would be lost.
    c = server.client()
    try:
        n = c.dict("counter")
        n["n"] = 0
        errors = []

        def worker() -> None:
            try:
                t = c.transaction()
                for _ in range(40):
                    while True:
                        v = n["n"]
                        t.reset().compare(n, "getitem", ["n"], "==", v)
                        t.then(n, "set", "n", v + 1)
                        if t.run().succeeded:
                            break
            except BaseException as e:  # reported below
                errors.append(e)
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(20)
        assert not any(th.is_alive() for th in threads)
        assert errors == []
        assert n["n"] == 160
    finally:
        c.close()


def test_bad_input_is_refused_at_once(client):
    d = client.dict("d")
    t = client.transaction()
    with pytest.raises(ValueError, match="'=~'"):
        t.compare(d, "getitem", ["k"], "=~", 1)
    with pytest.raises(TypeError, match="'not a proxy'"):
        t.then("not a proxy", "set", "k", 1)
    with pytest.raises(TypeError, match="42"):
        t.then(d, 42, "k")
    with pytest.raises(TypeError, match="'k'"):
        t.exists(d, "getitem", "k")          # params must be a list
    with pytest.raises(TypeError, match="'t'"):
        t.fence(client.lock("l"), "t")
    with pytest.raises(TypeError, match="DictProxy"):
        t.held(d)
    assert len(t) == 0                       # nothing was added
    assert t.run() == (True, [])


def test_an_unknown_method_fails_naming_it(client):
    d = client.dict("d")
    with pytest.raises(agora.NoMethodError) as ei:
        client.transaction().then(d, "set", "k", 1).then(d, "frobnicate") \
            .run()
    assert "frobnicate" in str(ei.value)
    assert ei.value.where == {"branch": "then", "call": 1}
    assert d.copy() == {}
