"""agora.Manager: starting and stopping its agorad (with no orphan, however
the program ends), its constructors, and its proxies in child processes
started by fork and by spawn."""
from __future__ import annotations

import multiprocessing as mp
import gc
import os
import pickle
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import Dict, List

import pytest

import agora
from agora import manager as manager_mod

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # _manager_children, for spawned children

import _manager_children  # noqa: E402
from conftest import agorad_path  # noqa: E402

WAIT = 10.0  # bound of every wait for a process


@pytest.fixture
def agorad() -> str:
    return os.path.abspath(agorad_path())


@pytest.fixture
def manager(agorad: str):
    m = agora.Manager(agorad=agorad)
    try:
        yield m
    finally:
        m.shutdown()


def _alive(pid: int) -> bool:
    """Whether @pid runs (a zombie has exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return not _alive(pid)


def _sock_dir(m: agora.Manager) -> str:
    assert m.address is not None and m.address.startswith("unix:")
    return os.path.dirname(m.address[len("unix:"):])


def _env(agorad: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["AGORAD"] = agorad
    env["PYTHONPATH"] = PYTHON_DIR + os.pathsep + HERE
    return env


def _program(agorad: str, source: str) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(source)], env=_env(agorad),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ---- starting and stopping ---------------------------------------------


def test_with_block_starts_and_stops(agorad: str) -> None:
    with agora.Manager(agorad=agorad) as m:
        assert m.state == "started"
        pid = m.pid
        assert pid is not None and _alive(pid)
        tmp = _sock_dir(m)
        assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o700
        # agorad read its key at start; no copy stays on disk
        assert os.listdir(tmp) == ["agora.sock"]
        d = m.dict()
        d["a"] = 1
        assert d.copy() == {"a": 1}
    assert m.state == "shut down"
    assert not _alive(pid)
    assert not os.path.exists(tmp)


def test_manager_assigned_then_used_at_once(agorad: str) -> None:
    # As the seeds do with multiprocessing.Manager(): no start() call.
    m = agora.Manager(agorad=agorad)
    try:
        assert m.pid is None
        d = m.dict({"x": 1}, y=2)
        lst = m.list(range(3))
        pid = m.pid
        assert pid is not None and _alive(pid)
        assert d.copy() == {"x": 1, "y": 2}
        assert lst.copy() == [0, 1, 2]
        m.start()  # started already: no second server
        with m:    # nor here
            assert m.pid == pid
            assert m.list().copy() == []
        # the with block shut it down
        assert not _alive(pid)
        with pytest.raises(mp.ProcessError, match="shut down"):
            m.dict()
        with pytest.raises(mp.ProcessError, match="shut down"):
            m.start()
    finally:
        m.shutdown()


def test_start_shutdown_join(agorad: str) -> None:
    m = agora.Manager(agorad=agorad)
    m.start()
    pid = m.pid
    tmp = _sock_dir(m)
    m.start()
    assert m.pid == pid
    m.shutdown()
    m.join(timeout=WAIT)
    m.shutdown()  # again: nothing
    assert not _alive(pid)
    assert not os.path.exists(tmp)


def test_gone_after_normal_exit(agorad: str) -> None:
    # A non-daemon child still at work when the program ends is joined
    # (by multiprocessing) before the server stops: its write succeeds.
    p = _program(agorad, """
        import multiprocessing as mp, os, time
        import agora

        def late(d):
            time.sleep(0.5)
            d["late"] = os.getpid()
            print("child wrote", flush=True)

        if __name__ == "__main__":
            m = agora.Manager()
            d = m.dict()
            print(m.pid, m.address, flush=True)
            mp.get_context("fork").Process(target=late, args=(d,)).start()
    """)
    out, err = p.communicate(timeout=WAIT)
    assert p.returncode == 0, err
    lines = out.split("\n")
    pid_s, address = lines[0].split()
    assert lines[1] == "child wrote", (out, err)
    assert _wait_gone(int(pid_s))
    assert not os.path.exists(os.path.dirname(address[len("unix:"):]))


def test_gone_after_sigkill(agorad: str) -> None:
    p = _program(agorad, """
        import time
        import agora
        m = agora.Manager()
        m.start()
        print(m.pid, m.address, flush=True)
        time.sleep(60)
    """)
    tmp = None
    try:
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line, p.stderr.read() if p.stderr else ""
        pid_s, address = line.split()
        pid = int(pid_s)
        tmp = os.path.dirname(address[len("unix:"):])
        assert _alive(pid)
        p.send_signal(signal.SIGKILL)
        p.wait(WAIT)
        assert _wait_gone(pid, 5.0), "agorad %d outlived its program" % pid
        # Nobody is left to remove the directory, but it holds no key.
        assert "key" not in (os.listdir(tmp) if os.path.isdir(tmp) else [])
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for f in (p.stdout, p.stderr):
            if f:
                f.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def test_forked_child_exit_keeps_the_server(agorad: str) -> None:
    # A raw fork whose child leaves through the with block, runs the
    # interpreter's exit (atexit, multiprocessing's finalizers, garbage
    # collection): the parent's server must live on.
    p = _program(agorad, """
        import os, sys
        import agora
        with agora.Manager() as m:
            d = m.dict()
            pid = os.fork()
            if pid == 0:
                with m:
                    d["child"] = os.getpid()
                sys.exit(0)
            _, status = os.waitpid(pid, 0)
            assert status == 0, status
            d["parent"] = 1
            print(sorted(d.copy()), m.pid, flush=True)
    """)
    out, err = p.communicate(timeout=WAIT)
    assert p.returncode == 0, err
    keys, pid = out.rsplit(" ", 1)
    assert keys == "['child', 'parent']"
    assert _wait_gone(int(pid))


def test_proxies_keep_an_unnamed_manager(agorad: str) -> None:
    # Manager().dict(): the manager is not kept by the program, its
    # proxy keeps it (and so its server); the last one gone, it stops.
    d = agora.Manager(agorad=agorad).dict(a=1)
    gc.collect()
    d["b"] = 2
    assert d.copy() == {"a": 1, "b": 2}
    pid = d.client._manager.pid
    assert pid is not None and _alive(pid)
    del d
    gc.collect()
    assert _wait_gone(pid)


def test_started_from_a_thread_outlives_it(agorad: str) -> None:
    # agorad's parent-death signal follows the thread that forked it.
    box: List[agora.Manager] = []

    def start() -> None:
        m = agora.Manager(agorad=agorad)
        m.start()
        box.append(m)

    t = threading.Thread(target=start)
    t.start()
    t.join(WAIT)
    m = box[0]
    try:
        time.sleep(0.2)
        assert m.pid is not None and _alive(m.pid)
        d = m.dict(a=1)
        assert d.copy() == {"a": 1}
    finally:
        pid = m.pid
        m.shutdown()
    assert pid is not None and not _alive(pid)


# ---- addresses, keys, connect ----------------------------------------------


def test_tcp_address_and_key_ending_in_newline(agorad: str) -> None:
    key = b"k" * 20 + b"\n"
    with agora.Manager("tcp:127.0.0.1:0", key, agorad=agorad) as m:
        assert m.address is not None
        host, port = m.address[len("tcp:"):].rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        assert m.authkey == key
        lst = m.list(["x"])
        assert lst.copy() == ["x"]
        # the key, trailing newline included, is what the server checks
        with pytest.raises(agora.AuthError):
            agora.connect(m.address, key[:-1])
        agora.connect(m.address, key).close()


def test_connect_joins_a_running_server(manager: agora.Manager,
                                        agorad: str) -> None:
    manager.start()
    shared = manager.client.dict("shared")
    shared["from"] = "first"
    other = agora.Manager(manager.address, manager.authkey)
    other.connect()
    assert other.pid is None and other.state == "connected"
    assert other.client.dict("shared").copy() == {"from": "first"}
    other.shutdown()  # closes its connections only
    assert manager.pid is not None and _alive(manager.pid)
    assert shared.copy() == {"from": "first"}
    with pytest.raises(ValueError, match="no address"):
        agora.Manager(agorad=agorad).connect()


def test_short_authkey_and_bad_address() -> None:
    with pytest.raises(ValueError, match="5 bytes"):
        agora.Manager(authkey=b"short").start()
    with pytest.raises(ValueError, match="'nowhere'"):
        agora.Manager("nowhere")
    with pytest.raises(TypeError, match="42"):
        agora.Manager(42)
    with pytest.raises(ValueError, match="tls:"):
        agora.Manager("tls:127.0.0.1:0").start()


# ---- no agorad -------------------------------------------------------


def test_wrong_agorad_path(monkeypatch: pytest.MonkeyPatch) -> None:
    m = agora.Manager(agorad="/nonexistent/agorad")
    with pytest.raises(FileNotFoundError, match="/nonexistent/agorad"):
        m.start()
    with pytest.raises(FileNotFoundError, match="/nonexistent/agorad"):
        m.dict()
    monkeypatch.setenv("AGORAD", "/nonexistent/env-agorad")
    with pytest.raises(FileNotFoundError, match=r"\$AGORAD.*env-agorad"):
        agora.Manager().start()
    # Nothing anywhere: the message names every place tried.
    monkeypatch.delenv("AGORAD")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(manager_mod, "_repo_agorad",
                        lambda: "/nonexistent/build/server/agorad")
    with pytest.raises(FileNotFoundError) as e:
        agora.Manager().start()
    msg = str(e.value)
    assert "$AGORAD" in msg and "PATH" in msg
    assert "/nonexistent/build/server/agorad" in msg


def test_agorad_that_fails_to_start(agorad: str, tmp_path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    m = agora.Manager(agorad=agorad, args=["--max-items", "-5"])
    with pytest.raises(mp.ProcessError, match="did not start.*max-items"):
        m.start()
    assert m.pid is None
    assert os.listdir(str(tmp_path)) == []  # its directory is removed


# ---- constructors --------------------------------------------------------


def test_constructors_make_their_types(manager: agora.Manager) -> None:
    made = {
        "dict": manager.dict(),
        "list": manager.list(),
        "queue": manager.Queue(3),
        "joinable_queue": manager.JoinableQueue(),
        "value": manager.Value("i", 7),
        "array": manager.Array("d", [1.5, 2.5]),
        "namespace": manager.Namespace(x=1, y="two"),
        "lock": manager.Lock(),
        "rlock": manager.RLock(),
        "semaphore": manager.Semaphore(3),
        "bounded_semaphore": manager.BoundedSemaphore(2),
        "condition": manager.Condition(),
        "event": manager.Event(),
        "barrier": manager.Barrier(2, timeout=4.0),
    }
    # a Manager's Queue stands for queue.Queue, which has task_done and
    # join: a joinable queue
    served_as = {"queue": "joinable_queue"}
    for type_name, proxy in made.items():
        info = agora.BaseProxy.info(proxy)  # (a namespace's .info is its own)
        assert info["type"] == served_as.get(type_name, type_name)
        assert info["name"] is None  # anonymous, as a Manager's objects
    q = made["queue"]
    for i in range(3):
        q.put(i)
    with pytest.raises(queue.Full):
        q.put(3, timeout=0)
    for i in range(3):
        assert q.get() == i
        q.task_done()
    assert q.join(timeout=5)
    assert made["value"].value == 7
    assert made["array"][:] == [1.5, 2.5]
    ns = made["namespace"]
    assert (ns.x, ns.y) == (1, "two")
    assert made["semaphore"].get_value() == 3
    assert made["bounded_semaphore"].get_value() == 2
    assert made["barrier"].timeout == 4.0
    assert not made["event"].is_set()
    # Array from a length; initial contents of dict and list
    assert manager.Array("i", 4)[:] == [0, 0, 0, 0]
    assert dict(manager.dict([("a", 1)], b=2)) == {"a": 1, "b": 2}
    assert list(manager.list("xyz")) == ["x", "y", "z"]


def test_condition_over_a_lock(manager: agora.Manager) -> None:
    lock = manager.Lock()
    cond = manager.Condition(lock)
    assert cond.info()["lock"] == lock.info()["id"]
    with cond:
        assert lock.locked()
    assert not lock.locked()


def test_barrier_timeout_is_its_waits_default(manager: agora.Manager
                                              ) -> None:
    b = manager.Barrier(2, timeout=0.2)
    with pytest.raises(threading.BrokenBarrierError):
        b.wait()  # alone: the default timeout breaks it
    assert b.broken


def test_refusals(manager: agora.Manager) -> None:
    with pytest.raises(ValueError, match="action"):
        manager.Barrier(2, action=lambda: None)
    assert manager.pid is None  # refused before anything started
    with pytest.raises(NotImplementedError, match="multiprocessing.Pool"):
        manager.Pool(2)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(manager)
    with pytest.raises(TypeError, match="'3'"):
        manager.Semaphore("3")
    with pytest.raises(ValueError, match="initializer"):
        manager.start(initializer=print)
    assert manager.pid is None  # no server for refused calls


# ---- proxies in child processes ------------------------------------------


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_children_write_what_the_parent_reads(manager: agora.Manager,
                                              method: str) -> None:
    ctx = mp.get_context(method)
    d = manager.dict()
    lst = manager.list()
    procs = [ctx.Process(target=_manager_children.fill, args=(d, lst, i))
             for i in range(3)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(WAIT)
            assert p.exitcode == 0
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    assert sorted(lst.copy()) == [0, 1, 2]
    assert d.copy() == {p.pid: os.getpid() for p in procs}
    # the children's exits left the server running
    assert manager.pid is not None and _alive(manager.pid)
