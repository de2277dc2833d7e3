"""The client itself: addresses, keys, connecting, what a call does with
bad values, interrupts, forks, threads, handles let go."""
from __future__ import annotations

import os
import queue
import signal
import threading

import pytest

import agora
from agora._wire import Connection, parse_address
from conftest import Server


def test_addresses_parse_and_bad_ones_are_named() -> None:
    assert parse_address("unix:/run/a.sock") == ("unix", "/run/a.sock")
    assert parse_address("/run/a.sock") == ("unix", "/run/a.sock")
    assert parse_address("tcp:127.0.0.1:7070") == ("tcp", ("127.0.0.1", 7070))
    assert parse_address("tls:[::1]:7070") == ("tls", ("::1", 7070))
    for bad in ("", "udp:1.2.3.4:5", "tcp:host", "tcp:host:0",
                "tcp:host:70000", "unix:"):
        with pytest.raises(ValueError) as e:
            parse_address(bad)
        assert repr(bad) in str(e.value)
    with pytest.raises(TypeError):
        parse_address(7070)  # type: ignore[arg-type]


def test_connect_errors_name_what_was_wrong(server: Server) -> None:
    missing = "unix:" + server.path + ".nothere"
    with pytest.raises(agora.ConnectionLost) as e:
        agora.connect(missing, server.key)
    assert missing in str(e.value)
    with pytest.raises(agora.AuthError):
        agora.connect(server.address, b"not the key at all")
    with pytest.raises(ValueError):
        agora.Client(server.address, b"")


def test_key_from_the_environment(server: Server,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_ADDRESS", server.address)
    monkeypatch.setenv("AGORA_AUTHKEY_FILE", server.keyfile)
    with agora.connect() as c:  # the key file's bytes less one newline
        assert c.ping("hi") == "hi"
    monkeypatch.delenv("AGORA_AUTHKEY_FILE")
    monkeypatch.delenv("AGORA_AUTHKEY", raising=False)
    with pytest.raises(ValueError) as e:
        agora.Client(server.address)
    assert "AGORA_AUTHKEY" in str(e.value)


def test_values_that_cannot_be_sent_fail_that_call_only(client) -> None:
    l = client.list()
    with pytest.raises(OverflowError) as e:
        l.append(2 ** 64)
    assert "list.append" in str(e.value) and str(2 ** 64) in str(e.value)
    with pytest.raises(TypeError) as e:
        l.append({1, 2})
    assert "set" in str(e.value)
    with pytest.raises(ValueError):
        l.append("\udcff")  # not UTF-8
    l.append(2 ** 64 - 1)
    l.append(-2 ** 63)
    assert l.copy() == [2 ** 64 - 1, -2 ** 63]


def test_each_thread_has_its_own_connection(client) -> None:
    ids = []
    mine = [c["id"] for c in client.clients() if c["self"]]

    def run() -> None:
        ids.extend(c["id"] for c in client.clients() if c["self"])

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    assert len(mine) == 1 and len(ids) == 1 and ids != mine


def test_a_forked_child_makes_its_own_connection(client) -> None:
    d = client.dict("fork")
    d["parent"] = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: the parent's socket is not used
        code = 1
        try:
            me = [c for c in client.clients() if c["self"]][0]
            d["child_conn_pid"] = me["pid"]
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert d["child_conn_pid"] == pid
    # the parent's connection is still in step
    assert d["parent"] == os.getpid()


def test_an_interrupted_wait_is_withdrawn_and_the_connection_stays_usable(
        client) -> None:
    q = client.queue("jobs")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            q.get()  # waits: nothing was put
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    # the withdrawn get takes nothing: the next item goes to the next get
    q.put("first")
    assert q.get(timeout=5) == "first"
    assert client.ping(1) == 1
    assert q.info()["waiters"] == 0


def test_a_collected_proxy_lets_its_handle_go(client) -> None:
    def handles() -> int:
        return [c for c in client.clients() if c["self"]][0]["handles"]

    before = handles()
    made = [client.list() for _ in range(20)]
    assert handles() == before + 20
    del made
    client.ping()  # the closes go with the next request
    assert handles() == before
    assert client.stats()["objects"] == 0  # anonymous: freed


def test_polling_for_answers_is_optional(server: Server) -> None:
    with pytest.raises(ValueError):
        agora.Client(server.address, server.key, spin=-1)
    for spin in (0, 40e-6, 0.001):
        with server.client(spin=spin) as c:
            d = c.dict("spin")
            for i in range(200):
                d[i] = i
            assert len(d) == 200 and d[199] == 199
            q = c.queue("spin-q")
            with pytest.raises(queue.Empty):
                q.get(timeout=0.05)  # answered late: the poll gives up


def test_slow_answers_stop_the_polling_for_a_while(server: Server) -> None:
    with server.client() as c:
        q = c.queue("slow")
        conn = c._conn()
        for _ in range(8):  # each answer comes after the poll's time
            with pytest.raises(queue.Empty):
                q.get(timeout=0.01)
        assert conn._spin_skip > 0  # the next calls sleep at once
        start = conn._spin_skip
        c.ping()
        assert conn._spin_skip == start - 1


def test_a_connection_to_a_stopped_server_fails_clearly() -> None:
    s = Server()
    c = s.client()
    l = c.list("x")
    l.append(1)
    s.stop()
    with pytest.raises(agora.ConnectionLost):
        l.append(2)
    c.close()


def test_connection_refuses_a_bad_spin(server: Server) -> None:
    with pytest.raises(ValueError) as e:
        Connection(server.address, server.key, spin="fast")  # type: ignore
    assert "spin" in str(e.value)


def test_a_proxy_sets_and_reads_its_name_deadline(client) -> None:
    d = client.dict("short-lived")
    assert d.name_ttl() is None
    d.expire_name(1000)
    assert 990 < d.name_ttl() <= 1000
    assert [o["name"] for o in client.ls("short-*")] == ["short-lived"]
    d.expire_name(None)
    assert d.name_ttl() is None
    anon = client.list()
    with pytest.raises(agora.NoObjectError):
        anon.expire_name(10)  # an anonymous object has no name to drop
