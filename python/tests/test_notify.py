"""agora.Watch and agora.Subscription: notifications as iterators
(protocol section 11)."""
from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest

import agora
from agora.notify import Change

from conftest import Server


def publish(topic, message):
    """topic.publish: how many subscriptions received it."""
    return topic.publish(message)


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


# ---- watches ---------------------------------------------------------------

def test_watch_yields_each_change_in_order(client):
    d = client.dict("config")
    d["mode"] = "a"
    w = client.watch(d)
    assert isinstance(w, agora.Watch)
    try:
        v0 = w.version
        assert w.run == client.run
        assert w.changed is None
        d["mode"] = "b"
        d["other"] = 1
        d["mode"]              # reads are not changes
        del d["other"]
        got = [w.next_change(5) for _ in range(3)]
        assert [(c.op, c.key) for c in got] == [
            ("dict.set", "mode"), ("dict.set", "other"),
            ("dict.delete", "other")]
        assert all(isinstance(c, Change) for c in got)
        vs = [c.version for c in got]
        assert v0 < vs[0] < vs[1] < vs[2]
        assert w.version == vs[2]
        assert d.info()["version"] == vs[2]
        assert w.next_change(0.2) is None   # nothing more
    finally:
        w.close()


def test_watch_a_key(client):
    d = client.dict("d")
    with client.watch(d, key="a") as w:
        d["b"] = 1
        d["a"] = 1
        d.clear()               # no key: may touch it, so it is seen
        assert w.next_change(5)[1:] == ("dict.set", "a")
        assert w.next_change(5)[1:] == ("dict.clear", None)
        assert w.next_change(0.2) is None


def test_watch_a_tuple_key(client):
    d = client.dict("d")
    with client.watch(d, key=(1, "a")) as w:
        d[(1, "a")] = 1
        ch = w.next_change(5)
    assert ch.key == (1, "a") and hash(ch.key) == hash((1, "a"))


def test_the_server_stopping_ends_a_watch():
    s = Server()
    try:
        c = s.client()
        w = c.watch(c.dict("d"))
        s.stop()
        with pytest.raises(agora.ConnectionLost):
            w.next_change(5)
        assert w.closed and list(w) == []
        c.close()
    finally:
        s.stop()


def test_watch_other_types_and_the_name_drop(client):
    lst = client.list("l")
    with client.watch(lst) as w:
        lst.append(1)
        client.drop("l")
        assert w.next_change(5).op == "list.append"
        assert w.next_change(5) == (w.version, "list.drop", None)


def test_watch_sees_a_transaction_in_call_order(client):
    d = client.dict("d")
    with client.watch(d) as w:
        client.transaction().then(d, "set", "x", 1).then(d, "set", "y", 2) \
            .then(d, "pop", "x").run()
        got = [w.next_change(5) for _ in range(3)]
        assert [(c.op, c.key) for c in got] == [
            ("dict.set", "x"), ("dict.set", "y"), ("dict.pop", "x")]
        assert got[0].version < got[1].version < got[2].version
        # A failed transaction changed nothing: nothing is notified.
        with pytest.raises(KeyError):
            client.transaction().then(d, "set", "z", 1) \
                .then(d, "pop", "nokey").run()
        assert w.next_change(0.2) is None


def test_resume_since_a_version(client):
    d = client.dict("d")
    d["k"] = 1
    with client.watch(d) as w:
        seen, run = w.version, w.run
    with client.watch(d, since=seen, run=run) as w2:
        assert w2.changed is False
    d["k"] = 2
    with client.watch(d, since=seen, run=run) as w3:
        assert w3.changed is True
        assert w3.version > seen
    with client.watch(d, since=d.info()["version"], run="0" * 32) as w4:
        assert w4.changed is True          # another run of the server


def test_iteration_ends_when_closed_from_another_thread(client):
    d = client.dict("d")
    w = client.watch(d)
    got = []

    def reader() -> None:
        for change in w:
            got.append(change)
    th = threading.Thread(target=reader)
    th.start()
    d["a"] = 1
    assert wait_for(lambda: len(got) == 1)
    w.close()
    th.join(5)
    assert not th.is_alive()
    assert [c.key for c in got] == ["a"]
    assert w.closed
    assert list(w) == []
    with pytest.raises(ValueError, match="closed"):
        w.next_change(0)
    w.close()  # twice: nothing


def test_close_ends_the_connection(client):
    d = client.dict("d")
    before = len(client.clients())
    with client.watch(d):
        assert len(client.clients()) == before + 1
    assert wait_for(lambda: len(client.clients()) == before)


def test_watch_async_for_does_not_block_the_loop(client):
    d = client.dict("d")
    w = client.watch(d)
    ticks = []

    def writer() -> None:
        time.sleep(0.3)
        c2 = agora.Client(client.address, client.authkey)
        try:
            c2.dict("d")["k"] = "v"
        finally:
            c2.close()

    async def main():
        async def ticker():
            while True:
                ticks.append(1)
                await asyncio.sleep(0.01)
        tick = asyncio.ensure_future(ticker())
        try:
            async for change in w:
                return change
        finally:
            tick.cancel()
    th = threading.Thread(target=writer)
    th.start()
    try:
        change = asyncio.run(asyncio.wait_for(main(), 10))
    finally:
        th.join(10)
        w.close()
    assert change[1:] == ("dict.set", "k")
    assert len(ticks) > 1    # the loop ran while the watch waited


def test_async_iteration_ends_on_close(client):
    d = client.dict("d")
    w = client.watch(d)

    async def main():
        async def closer():
            await asyncio.sleep(0.1)
            d["a"] = 1
            await asyncio.sleep(0.2)
            w.close()
        asyncio.ensure_future(closer())
        return [c.key async for c in w]
    assert asyncio.run(asyncio.wait_for(main(), 10)) == ["a"]
    assert w.closed


def test_a_slow_watcher_is_cut():
    s = Server(args=["--max-output", "4096"])
    try:
        c = s.client()
        d = c.dict("d")
        w = c.watch(d)
        big = "k" * 20000              # each notification carries the key
        for i in range(150):
            d[big + str(i)] = i
        got = []
        with pytest.raises(agora.ConnectionLost) as ei:
            for _ in range(200):
                ch = w.next_change(5)
                assert ch is not None, "no cut after %d changes" % len(got)
                got.append(ch)
        assert "--max-output" in str(ei.value)
        assert "since=%d" % w.version in str(ei.value)
        assert got, "the changes before the cut are delivered"
        assert len(got) < 150
        vs = [ch.version for ch in got]
        assert vs == sorted(vs) and len(set(vs)) == len(vs)
        assert w.closed and list(w) == []
        # Resuming tells that changes were missed.
        with c.watch(d, since=w.version, run=w.run) as again:
            assert again.changed is True
        c.close()
    finally:
        s.stop()


def test_watch_bad_input(client):
    d = client.dict("d")
    lst = client.list("l")
    with pytest.raises(TypeError, match="'d'"):
        client.watch("d")
    with pytest.raises(ValueError, match="-1"):
        client.watch(d, since=-1)
    with pytest.raises(ValueError, match="since"):
        client.watch(d, run="0" * 32)
    before = len(client.clients())
    with pytest.raises(agora.ArgsError):
        client.watch(lst, key="k")        # a list has no keys
    assert wait_for(lambda: len(client.clients()) == before)


# ---- subscriptions ---------------------------------------------------------

def test_subscription_gets_messages_in_order(server, client):
    topic = client.topic("news")
    assert publish(topic, "before") == 0      # nobody subscribed: lost
    with topic.subscribe() as sub:
        assert isinstance(sub, agora.Subscription)
        other = server.client()
        try:
            t2 = other.topic("news")
            assert publish(topic, {"id": 1}) == 1
            assert publish(t2, [2, "two"]) == 1
            assert publish(topic, None) == 1
        finally:
            other.close()
        assert sub.get(5) == {"id": 1}
        assert next(sub) == [2, "two"]
        assert sub.get(5) is None
        with pytest.raises(agora.Empty):
            sub.get(0.1)
        with pytest.raises(queue.Empty):
            sub.get_nowait()
    with pytest.raises(ValueError, match="closed"):
        sub.get(0)
    assert publish(topic, "after") == 0       # closed: unsubscribed


def test_each_subscription_gets_every_message(client):
    topic = client.topic("t")
    a = agora.Subscription(topic)
    b = agora.Subscription(topic)
    try:
        assert publish(topic, "m") == 2
        assert a.get(5) == "m" and b.get(5) == "m"
        a.close()
        assert publish(topic, "n") == 1
        assert b.get(5) == "n"
    finally:
        a.close()
        b.close()


def test_references_in_messages_come_as_proxies(client):
    topic = client.topic("t")
    named = client.list("named")
    named.append("x")
    anon = client.list()
    with agora.Subscription(topic) as sub:
        publish(topic, {"list": named, "anon": anon})
        anon.close()                      # freed: nobody else holds it
        m = sub.get(5)
    assert isinstance(m["list"], agora.BaseProxy) and m["list"] == named
    assert m["list"].copy() == ["x"]
    # A message keeps nothing alive: the freed list stays a reference.
    assert isinstance(m["anon"], agora.Ref)


def test_subscription_iteration_and_close_from_a_thread(client):
    topic = client.topic("t")
    sub = agora.Subscription(topic)
    got = []

    def reader() -> None:
        for m in sub:
            got.append(m)
    th = threading.Thread(target=reader)
    th.start()
    for i in range(5):
        publish(topic, i)
    assert wait_for(lambda: len(got) == 5)
    sub.close()
    th.join(5)
    assert not th.is_alive()
    assert got == [0, 1, 2, 3, 4]


def test_subscription_async_for(client):
    topic = client.topic("t")
    sub = agora.Subscription(topic)

    lst = client.list("l")
    lst.append("in l")

    async def main():
        async def publisher():
            for m in (0, 1, [lst]):
                await asyncio.sleep(0.05)
                publish(topic, m)
        asyncio.ensure_future(publisher())
        got = []
        async for m in sub:
            got.append(m)
            if len(got) == 3:
                break
        return got
    try:
        got = asyncio.run(asyncio.wait_for(main(), 10))
    finally:
        sub.close()
    assert got == [0, 1, [lst]]
    assert got[2][0].copy() == ["in l"]   # a proxy


def test_a_slow_subscriber_is_cut():
    s = Server(args=["--max-output", "4096"])
    try:
        c = s.client()
        topic = c.topic("t")
        sub = agora.Subscription(topic)
        n = [publish(topic, "x" * 50000) for _ in range(60)]
        assert 0 in n, "the subscriber was never cut: %r" % (n,)
        got = 0
        with pytest.raises(agora.ConnectionLost, match="--max-output"):
            for _ in range(100):
                sub.get(5)
                got += 1
        assert got == n.index(0)   # every message counted was delivered
        c.close()
    finally:
        s.stop()


def test_subscription_bad_input(client):
    with pytest.raises(TypeError, match="'news'"):
        agora.Subscription("news")
    with pytest.raises(agora.AgoraTypeError):
        agora.Subscription(client.dict("d"))


def test_client_close_ends_a_watch_iterated_in_another_thread(client):
    d = client.dict("closing")
    w = client.watch(d)
    ended = threading.Event()

    def iterate():
        try:
            for _ in w:
                pass
        except agora.Error:
            pass
        ended.set()

    t = threading.Thread(target=iterate, daemon=True)
    t.start()
    d["a"] = 1
    client.close()  # every connection of the client, the watch's too
    assert ended.wait(10), "the iteration went on after client.close()"
    t.join(10)
