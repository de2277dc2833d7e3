"""agora.Manager: multiprocessing.Manager's interface over a private agorad.

Change one import line and a program written for ``multiprocessing``'s
Manager runs on Agora::

    from agora import Manager          # was: from multiprocessing import Manager

    with Manager() as manager:
        d = manager.dict()
        l = manager.list(range(3))
        p = Process(target=work, args=(d, l))
        ...

The manager starts agorad (not a Python server process) listening on a
private Unix socket, with multiprocessing's key for this program, and
stops it when the ``with`` block ends, on ``shutdown()``, when the
program exits, and (Linux) when the program dies, even by SIGKILL. Its
constructors (``dict``, ``list``, ``Queue``, ``Lock``...) make anonymous
objects in that server and return their proxies, which pass to
``multiprocessing.Process`` children (fork and spawn) as arguments.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from multiprocessing import ProcessError
from multiprocessing import util as _mp_util
from typing import (Any, Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple, Union)

from ._proxy import BaseProxy
from .client import Client

__all__ = ["Manager"]

# How long agorad has to say it listens, and to stop after SIGTERM.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

_LISTENING = "agorad: listening on "
_PR_SET_PDEATHSIG = 1

# The manager's states.
_INITIAL, _STARTED, _CONNECTED, _SHUTDOWN = ("initial", "started",
                                             "connected", "shut down")


# Every manager of this process: a forked child gets fresh locks (another
# thread of the parent may have held one at the fork).
_MANAGERS: "weakref.WeakSet[Manager]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for m in list(_MANAGERS):
        m._lock = threading.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _repo_agorad() -> str:
    """The repository's build/server/agorad, relative to this package."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "build",
                        "server", "agorad")


def find_agorad(agorad: Optional[str] = None) -> str:
    """The agorad a Manager runs: @agorad, else $AGORAD, else ``agorad``
    on PATH, else the repository's build/server/agorad when the package
    runs from a built checkout. FileNotFoundError naming every place tried
    when none is an executable file (a given @agorad or $AGORAD must be
    one: there is no falling back from an explicit choice)."""
    def runnable(p: str) -> bool:
        return os.path.isfile(p) and os.access(p, os.X_OK)

    if agorad is not None:
        if not isinstance(agorad, (str, os.PathLike)):
            raise TypeError("agorad must be a path, not %r" % (agorad,))
        agorad = os.fspath(agorad)
        found = shutil.which(agorad) if os.sep not in agorad else None
        if found or runnable(agorad):
            return found or agorad
        raise FileNotFoundError(
            "agora.Manager: agorad=%r is not an executable file" % agorad)
    env = os.environ.get("AGORAD")
    if env:
        if runnable(env):
            return env
        raise FileNotFoundError(
            "agora.Manager: $AGORAD=%r is not an executable file" % env)
    tried = ["agorad= (not given)", "$AGORAD (not set)"]
    found = shutil.which("agorad")
    if found:
        return found
    tried.append("'agorad' on PATH (not found)")
    repo = _repo_agorad()
    if runnable(repo):
        return repo
    tried.append("%s (no such executable)" % repo)
    raise FileNotFoundError(
        "agora.Manager: no agorad to run; tried %s. Install agorad, build "
        "the repository (meson setup build && ninja -C build), pass "
        "Manager(agorad=PATH) or set AGORAD" % ", ".join(tried))


def _listen_address(address: Any) -> Optional[str]:
    """@address as agorad's --listen takes it ("unix:PATH" or
    "tcp:HOST:PORT"), from also what multiprocessing takes: a (host,
    port) tuple or a socket path. None: a private socket."""
    if address is None:
        return None
    if isinstance(address, tuple) and len(address) == 2:
        host, port = address
        if not isinstance(host, str) or not isinstance(port, int):
            raise TypeError("address: expected (host, port), not %r"
                            % (address,))
        return "tcp:[%s]:%d" % (host, port) if ":" in host else \
            "tcp:%s:%d" % (host, port)
    if not isinstance(address, str):
        raise TypeError("address must be a str such as 'unix:PATH' or "
                        "'tcp:127.0.0.1:PORT', not %r" % (address,))
    if address.startswith("/"):
        return "unix:" + address
    if address.startswith(("unix:", "tcp:", "tls:")):
        return address
    raise ValueError("address %r: expected 'unix:PATH', 'tcp:HOST:PORT' "
                     "or 'tls:HOST:PORT'" % address)


def _key_bytes(authkey: Union[bytes, str, None]) -> bytes:
    """@authkey as bytes, else this process's multiprocessing authkey
    (which its children, forked or spawned, inherit)."""
    if authkey is None:
        return bytes(multiprocessing.current_process().authkey)
    if isinstance(authkey, str):
        authkey = authkey.encode()
    if not isinstance(authkey, (bytes, bytearray)):
        raise TypeError("authkey must be bytes, not %r" % (authkey,))
    return bytes(authkey)


def _deathsig_preexec(parent: int) -> Callable[[], None]:
    """What agorad's child runs before exec: SIGTERM when its parent
    dies (PR_SET_PDEATHSIG, Linux), and exit at once if the parent died
    already (before the prctl: reparented, the signal would never come).
    The prctl function is looked up here, before the fork."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError):  # not Linux: no parent-death signal
        prctl = None

    def preexec() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return preexec


class _Server:
    """The agorad a manager started, and how to stop it. Holds no
    reference to the manager, so its finalizer can."""

    def __init__(self, proc: "subprocess.Popen[bytes]", tmpdir: str,
                 errf: Any, keeper: Optional[threading.Event]) -> None:
        self.proc = proc
        self.dir = tmpdir
        self.errf = errf
        self.keeper = keeper
        self.owner = os.getpid()
        self.stopped = False

    def log(self) -> str:
        """What agorad wrote to stderr so far."""
        try:
            self.errf.seek(0)
            return self.errf.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def stop(self) -> None:
        """SIGTERM, wait (STOP_TIMEOUT, then SIGKILL), remove the
        directory. Only in the process that started it: elsewhere (a
        forked child) nothing."""
        if os.getpid() != self.owner or self.stopped:
            return
        self.stopped = True
        proc = self.proc
        try:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(STOP_TIMEOUT)
        finally:
            if self.keeper is not None:
                self.keeper.set()
            try:
                self.errf.close()
            except Exception:
                pass
            shutil.rmtree(self.dir, ignore_errors=True)


def _popen(argv: List[str], errf: Any
           ) -> Tuple["subprocess.Popen[bytes]", Optional[threading.Event]]:
    """Start agorad. PR_SET_PDEATHSIG fires when the *thread* that forked
    the child ends: from the main thread (which lives as long as the
    process) agorad is started directly; from any other thread, by a
    daemon thread that stays until the server is stopped, so that the
    end of the calling thread does not stop the server."""
    kw: Dict[str, Any] = dict(
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf,
        bufsize=0, preexec_fn=_deathsig_preexec(os.getpid()),
        # ^C at the terminal is for the program, which then shuts the
        # manager down (multiprocessing's manager ignores SIGINT too).
        start_new_session=True)
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(argv, **kw), None
    started = threading.Event()
    stop = threading.Event()
    out: Dict[str, Any] = {}

    def keeper() -> None:
        try:
            out["proc"] = subprocess.Popen(argv, **kw)
        except BaseException as e:  # noqa: B902 (handed to the caller)
            out["error"] = e
            started.set()
            return
        started.set()
        stop.wait()

    t = threading.Thread(target=keeper, name="agora-manager-keeper",
                         daemon=True)
    t.start()
    started.wait()
    if "error" in out:
        raise out["error"]
    return out["proc"], stop


def _read_line(proc: "subprocess.Popen[bytes]", timeout: float) -> str:
    """agorad's first line on stdout ("" when it ended first or said
    nothing in @timeout seconds)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n", 1)[0].decode(errors="replace") \
        if b"\n" in buf else ""


class _ManagerClient(Client):
    """The manager's client: proxies hold their client, and this one
    holds the manager, so a proxy keeps its server running (as
    multiprocessing's proxies keep their manager)."""

    _manager: Optional["Manager"] = None


class Manager:
    """A private agorad and the objects it shares, as
    ``multiprocessing.Manager()`` gives a server process.

    Manager(address=None, authkey=None, *, agorad=None, args=())

    Use it as ``with Manager() as manager:`` (started on entering,
    shut down on leaving), or as ``manager = Manager()`` and then
    ``manager.dict()`` right away: like ``multiprocessing.Manager()``,
    which returns a manager already started, it starts its server when
    first needed (by a constructor, ``client``, ``address`` once
    started...) if neither ``start()`` nor ``connect()`` was called.
    ``start()`` starts it explicitly; on a manager already started it does
    nothing (it never starts a second server); after ``shutdown()`` it is
    multiprocessing.ProcessError.

    @address: where agorad listens, "unix:PATH" or "tcp:127.0.0.1:PORT"
    (port 0: any free port; ``address`` then says which), or as
    multiprocessing takes it, a socket path or a ``(host, port)`` tuple;
    default: a socket in a fresh 0700 temporary directory. @authkey: the
    key (at least 16 bytes, agorad's rule); default
    ``multiprocessing.current_process().authkey``, which child processes
    inherit, so the proxies they receive find it. @agorad: the server to
    run (default: $AGORAD, else ``agorad`` on PATH, else the repository's
    build/server/agorad); @args: more agorad options (``["--max-memory",
    "1G"]``).

    agorad is stopped (SIGTERM, then SIGKILL after STOP_TIMEOUT s) by
    ``shutdown()``, at the end of the ``with`` block, when the manager is
    garbage-collected (its proxies keep it alive), at the program's
    normal exit (after multiprocessing has joined its non-daemon
    children), and, on Linux, when the program dies even by SIGKILL (the
    kernel's parent-death signal; only an empty temporary directory is
    then left behind). Only the process that started it stops it: a
    forked child exiting never does.

    ``connect()`` instead joins a server already running at @address
    (with @authkey), as ``multiprocessing``'s ``BaseManager.connect``.

    Differences from multiprocessing's SyncManager: ``Value``'s typecode
    is accepted and not enforced (as the Manager's own Value does: any
    value), ``Array`` takes the typecodes "b B h H i I l L q Q f d" (or a
    length for zeros), ``Barrier`` cannot run an ``action`` and there is
    no ``Pool`` (agorad runs no Python code); ``register`` of custom types
    is not supported. A manager does not pickle; its proxies do.
    """

    def __init__(self, address: Optional[Any] = None,
                 authkey: Union[bytes, str, None] = None, *,
                 agorad: Optional[str] = None,
                 args: Sequence[str] = ()) -> None:
        self._given_address = address
        self._listen = _listen_address(address)
        self._authkey = _key_bytes(authkey)
        self._agorad = agorad
        if isinstance(args, (str, bytes)):
            raise TypeError("args must be a sequence of agorad options, "
                            "not the string %r" % (args,))
        self._args = [str(a) for a in args]
        self._state = _INITIAL
        self._lock = threading.RLock()
        self._server: Optional[_Server] = None
        self._client: Optional[Client] = None
        self._address: Optional[str] = self._listen
        self._finalizer: Optional[_mp_util.Finalize] = None
        _MANAGERS.add(self)

    # ---- starting and stopping ---------------------------------------------

    def start(self, initializer: Optional[Callable[..., Any]] = None,
              initargs: Iterable[Any] = ()) -> None:
        """Start agorad and wait (START_TIMEOUT s) until it listens.
        Nothing happens on a manager already started (or connected);
        ProcessError after ``shutdown()``. FileNotFoundError when there is
        no agorad to run (naming what was tried), ProcessError with
        agorad's messages when it does not start. @initializer must be
        None: agorad runs no Python code."""
        if initializer is not None:
            raise ValueError("agora.Manager.start: initializer=%r cannot run "
                             "in agorad (it runs no Python code)"
                             % (initializer,))
        with self._lock:
            if self._state in (_STARTED, _CONNECTED):
                return
            if self._state == _SHUTDOWN:
                raise ProcessError("Manager has shut down")
            if self._listen is not None and self._listen.startswith("tls:"):
                raise ValueError(
                    "agora.Manager: address %r: a manager's agorad listens "
                    "on unix: or tcp: (a tls: server needs certificates: run "
                    "agorad with them and use agora.connect)" % self._listen)
            if len(self._authkey) < 16:
                raise ValueError("agora.Manager: authkey of %d bytes: agorad "
                                 "needs at least 16" % len(self._authkey))
            path = find_agorad(self._agorad)
            self._start(path)

    def _start(self, path: str) -> None:
        tmpdir = tempfile.mkdtemp(prefix="agora-manager-")  # mode 0700
        errf = None
        proc = None
        keeper = None
        try:
            keyfile = os.path.join(tmpdir, "key")
            fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                # The file's bytes less one trailing newline are the key.
                os.write(fd, self._authkey + b"\n")
            finally:
                os.close(fd)
            listen = self._listen or \
                "unix:" + os.path.join(tmpdir, "agora.sock")
            argv = [path, "--listen", listen, "--authkey-file", keyfile,
                    "--log-level", "warning"] + self._args
            errf = tempfile.TemporaryFile(dir=tmpdir)
            proc, keeper = _popen(argv, errf)
            line = _read_line(proc, START_TIMEOUT)
            if not line.startswith(_LISTENING):
                status = proc.poll()
                server = _Server(proc, tmpdir, errf, keeper)
                log = server.log()
                server.stop()
                errf = None
                raise ProcessError(
                    "agora.Manager: agorad (%s) did not start%s: %s"
                    % (path, " (exit status %d)" % status
                       if status is not None else
                       " within %g s" % START_TIMEOUT,
                       log.strip() or line or "it said nothing"))
            address = line[len(_LISTENING):].strip()
        except BaseException:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            if keeper is not None:
                keeper.set()
            if errf is not None:
                errf.close()
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise
        # agorad read its key at start and never again: no copy of the
        # key stays on disk, even if this program is killed.
        try:
            os.unlink(keyfile)
        except OSError:
            pass
        assert proc.stdout is not None
        proc.stdout.close()
        server = _Server(proc, tmpdir, errf, keeper)
        self._server = server
        # At exit after multiprocessing joined its children (priority -1
        # runs after its own managers' 0), at garbage collection, never in
        # another process (Finalize checks the pid; multiprocessing's
        # children clear the registry).
        self._finalizer = _mp_util.Finalize(self, server.stop,
                                            exitpriority=-1)
        try:
            client = _ManagerClient(address, self._authkey)
            client._manager = self
            client._conn()  # the handshake, now: a wrong key fails here
        except BaseException:
            self._finalizer()
            self._server = None
            raise
        self._client = client
        self._address = address
        self._state = _STARTED

    def connect(self) -> None:
        """Join the agorad already running at ``address`` (with
        ``authkey``) instead of starting one; ``shutdown()`` then only
        closes this process's connections."""
        with self._lock:
            if self._state != _INITIAL:
                raise ProcessError("agora.Manager.connect: the manager is "
                                   "already %s" % self._state)
            if self._listen is None:
                raise ValueError("agora.Manager.connect: no address given "
                                 "(Manager(address, authkey).connect())")
            client = _ManagerClient(self._listen, self._authkey)
            client._manager = self
            try:
                client._conn()
            except BaseException:
                client.close()
                raise
            self._client = client
            self._address = self._listen
            self._state = _CONNECTED

    def shutdown(self) -> None:
        """Close this process's connections and stop agorad (SIGTERM,
        wait, SIGKILL after STOP_TIMEOUT s), removing its temporary
        directory. In another process than the one that started it (a
        forked child), or on a connected manager, only the connections
        are closed. Proxies must not be used afterwards. Done again, or
        on a manager never started, it does nothing more."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._server is not None and \
                    self._server.owner == os.getpid():
                if self._finalizer is not None:
                    self._finalizer()
                self._state = _SHUTDOWN
            elif self._server is None:
                self._state = _SHUTDOWN

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait until agorad has exited (after ``shutdown()``, or on its
        own), at most @timeout seconds. Nothing to wait for on a manager
        that did not start one in this process."""
        server = self._server
        if server is None or server.owner != os.getpid():
            return
        try:
            server.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self) -> "Manager":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    def __reduce__(self) -> Any:
        raise TypeError(
            "agora.Manager cannot be pickled (nor its key sent along): pass "
            "its proxies to other processes, or its address and key to "
            "agora.connect()")

    # ---- what it is --------------------------------------------------------

    def _ready(self) -> Client:
        """The client, starting the server first when the manager is new
        (multiprocessing.Manager() returns a manager already started)."""
        client = self._client
        if client is not None and self._state in (_STARTED, _CONNECTED):
            return client
        if self._state == _SHUTDOWN:
            raise ProcessError("Manager has shut down")
        self.start()
        assert self._client is not None
        return self._client

    @property
    def client(self) -> Client:
        """The manager's agora.Client (started first if need be): named
        objects, transactions, watches, ``get_any``..."""
        return self._ready()

    @property
    def address(self) -> Optional[str]:
        """The server's address, "unix:PATH" or "tcp:HOST:PORT" (the port
        chosen when 0 was asked); before the start, the one given or
        None."""
        return self._address

    @property
    def authkey(self) -> bytes:
        """The key the server was started (or is reached) with."""
        return self._authkey

    @property
    def pid(self) -> Optional[int]:
        """agorad's process id (None when this manager did not start
        one)."""
        return self._server.proc.pid if self._server is not None else None

    @property
    def state(self) -> str:
        """"initial", "started", "connected" or "shut down"."""
        return self._state

    def __repr__(self) -> str:
        return "<agora.Manager %s%s>" % (
            self._state, " at %s" % self._address if self._address else "")

    # ---- constructors, as SyncManager's --------------------------------------

    def dict(self, *args: Any, **kwargs: Any) -> BaseProxy:
        """A new shared dict (agora.DictProxy), with the initial contents
        ``dict(*args, **kwargs)`` gives."""
        init = dict(*args, **kwargs)
        d = self._ready().dict()
        if init:
            d._call_as("dict.update", init)
        return d

    def list(self, sequence: Iterable[Any] = ()) -> BaseProxy:
        """A new shared list (agora.ListProxy) of @sequence's items."""
        items = list(sequence)
        lst = self._ready().list()
        if items:
            lst._call_as("list.extend", items)
        return lst

    def Queue(self, maxsize: int = 0) -> BaseProxy:
        """A new queue; @maxsize 0 or less: unbounded. It is a joinable
        queue (agora.JoinableQueueProxy): multiprocessing's Manager serves
        a queue.Queue, whose task_done() and join() programs call."""
        maxsize = max(0, _int("Queue", "maxsize", maxsize))
        return self._ready().joinable_queue(None, maxsize)

    def JoinableQueue(self, maxsize: int = 0) -> BaseProxy:
        """A new joinable queue (agora.JoinableQueueProxy)."""
        maxsize = max(0, _int("JoinableQueue", "maxsize", maxsize))
        return self._ready().joinable_queue(None, maxsize)

    def Value(self, typecode: Any, value: Any, lock: bool = True
              ) -> BaseProxy:
        """A new shared value (agora.ValueProxy) holding @value. As with
        multiprocessing's Manager, @typecode is accepted and not enforced
        (the value may be of any kind), and @lock is not needed: every
        call is atomic in the server (``add``, ``cas`` and ``swap`` too)."""
        return self._ready().value(None, value)

    def Array(self, typecode: str, sequence: Union[int, Sequence[Any]],
              lock: bool = True) -> BaseProxy:
        """A new shared array (agora.ArrayProxy) of @typecode (b B h H i I
        l L q Q f d), of @sequence's items, or of that many zeros when it
        is an int. @lock is not needed (each call is atomic)."""
        if not isinstance(typecode, str):
            raise TypeError("Array: typecode must be a str such as 'i' or "
                            "'d', not %r" % (typecode,))
        if isinstance(sequence, bool) or not isinstance(sequence, int):
            sequence = list(sequence)
        return self._ready().array(None, typecode, sequence)

    def Namespace(self, **kwargs: Any) -> BaseProxy:
        """A new namespace (agora.NamespaceProxy) with these attributes."""
        ns = self._ready().namespace()
        for k, v in kwargs.items():
            ns._call_as("namespace.set", k, v)
        return ns

    def Lock(self) -> BaseProxy:
        """A new lock (agora.LockProxy), released if its holder dies."""
        return self._ready().lock()

    def RLock(self) -> BaseProxy:
        """A new re-entrant lock (agora.RLockProxy)."""
        return self._ready().rlock()

    def Semaphore(self, value: int = 1) -> BaseProxy:
        """A new semaphore (agora.SemaphoreProxy) of @value permits."""
        value = _int("Semaphore", "value", value)
        return self._ready().semaphore(None, value)

    def BoundedSemaphore(self, value: int = 1) -> BaseProxy:
        """A new bounded semaphore (agora.BoundedSemaphoreProxy)."""
        value = _int("BoundedSemaphore", "value", value)
        return self._ready().bounded_semaphore(None, value)

    def Condition(self, lock: Optional[BaseProxy] = None) -> BaseProxy:
        """A new condition (agora.ConditionProxy) over @lock (a Lock or
        RLock of this manager), else over a re-entrant lock of its own."""
        return self._ready().condition(None, lock)

    def Event(self) -> BaseProxy:
        """A new event (agora.EventProxy), clear."""
        return self._ready().event()

    def Barrier(self, parties: int, action: Optional[Callable[[], Any]] = None,
                timeout: Optional[float] = None) -> BaseProxy:
        """A new barrier (agora.BarrierProxy) for @parties; @timeout is the
        default timeout of its ``wait`` (the proxy's ``timeout``). An
        @action cannot run in agorad: ValueError (run it in the party
        whose ``wait`` returns 0)."""
        if action is not None:
            raise ValueError(
                "Barrier: action=%r cannot run in agorad, which runs no "
                "Python code; call it in the party whose wait() returns 0"
                % (action,))
        if timeout is not None and (isinstance(timeout, bool) or
                                    not isinstance(timeout, (int, float))):
            raise TypeError("Barrier: timeout must be a number or None, "
                            "not %r" % (timeout,))
        parties = _int("Barrier", "parties", parties)
        b = self._ready().barrier(None, parties)
        b.timeout = timeout
        return b

    def Pool(self, *args: Any, **kwargs: Any) -> Any:
        """Not available: agorad runs no Python code."""
        raise NotImplementedError(
            "agora.Manager has no Pool (agorad runs no Python code): use "
            "multiprocessing.Pool, and pass it the manager's proxies as "
            "arguments")

    @classmethod
    def register(cls, typeid: str, *args: Any, **kwargs: Any) -> None:
        """Not available: agorad serves its own types only."""
        raise NotImplementedError(
            "agora.Manager.register(%r): agorad serves only its own types "
            "(dict, list, queues, values, arrays, namespaces, locks, "
            "semaphores, conditions, events, barriers, topics); keep custom "
            "data in them" % (typeid,))


def _int(what: str, param: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s: %s must be an int, not %r" % (what, param, v))
    return v
