"""The client: an agorad's address and key, and the connections to it.

``agora.connect(address, authkey)`` gives a :class:`Client`. Its
connections are made when first needed, one per thread and per process
(after ``fork`` a child makes its own), as multiprocessing's proxies do:
so a lock a thread takes is that thread's, and a forked worker never
shares a socket with its parent.

Named objects are how unrelated programs meet::

    client = agora.connect("unix:/run/agora.sock", key)
    results = client.dict("results")      # get or create, by name
    jobs = client.queue("jobs")

Every constructor takes the name first (None: a new anonymous object) and
the open options of protocol section 3.1 as keywords: ``create=False``
(join only: NoObjectError when nobody made it), ``exclusive=True``
(create only: ExistsError when it exists), ``ephemeral=True`` (the name
goes when this connection ends), ``ttl=seconds``.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ._proxy import BaseProxy
from ._session import Session, proxy_class, set_client_class
from ._wire import Connection
from .notify import Watch
from .txn import Transaction

__all__ = ["Client", "connect"]

def _open_options(options: Dict[str, Any], create: bool, exclusive: bool,
                  ephemeral: bool, ttl: Optional[float]) -> Dict[str, Any]:
    if not create:
        options["create"] = False
    if exclusive:
        options["exclusive"] = True
    if ephemeral:
        options["ephemeral"] = True
    if ttl is not None:
        options["ttl"] = ttl
    return options


class Client(Session):
    """An agorad to talk to: its address, the key, how to connect; the
    objects in it, by name, and its server methods.

    Client(address=None, authkey=None, *, user=None, tls_ca=None,
    tls_cert=None, tls_key=None, connect_timeout=10.0, peer_timeout=30.0,
    spin=40e-6)

    @address: "unix:PATH", "tcp:HOST:PORT" or "tls:HOST:PORT" (default:
    AGORA_ADDRESS, else agorad's default socket). @authkey: bytes (default:
    the file AGORA_AUTHKEY_FILE names, else AGORA_AUTHKEY). @user: a user
    of the server's users file (default: AGORA_USER, else the default user
    of --authkey-file). @tls_ca, @tls_cert, @tls_key: PEM files for tls:
    addresses (default: AGORA_TLS_CA, AGORA_TLS_CERT, AGORA_TLS_KEY; the
    system's CAs). The server's certificate and host name are always
    verified, and the handshake is bound to the TLS channel. @spin:
    seconds a call polls for its answer before it sleeps (0: never; see
    agora._wire.Connection; docs/performance.md, "Python").

    Nothing connects until the first call. ``close()`` (or ``with``) closes
    this process's connections; proxies made from it must not be used
    afterwards.
    """

    def open(self, type: str, name: Optional[str] = None,
             options: Optional[Dict[str, Any]] = None, *,
             create: bool = True, exclusive: bool = False,
             ephemeral: bool = False,
             ttl: Optional[float] = None) -> BaseProxy:
        """Open (get or create) the object @name of @type ("list", "dict",
        "queue", ...), or a new anonymous one when @name is None, with
        the type's creation @options (protocol section 3.1)."""
        opts = _open_options(dict(options or {}), create, exclusive,
                             ephemeral, ttl)
        conn = self._conn()
        h = conn.call("open", [type, name, opts])
        try:
            info = conn.call("info", [h])
        except BaseException:
            conn.close_handle_later(h)
            raise
        return proxy_class(info["type"])(self, info["ref"], name, conn, h)

    # ---- named (or anonymous) objects, one constructor per type ------------

    def list(self, name: Optional[str] = None, **kw: Any):
        """A list (agora.ListProxy)."""
        return self.open("list", name, **kw)

    def dict(self, name: Optional[str] = None, **kw: Any):
        """A dict (agora.DictProxy)."""
        return self.open("dict", name, **kw)

    def queue(self, name: Optional[str] = None, maxsize: int = 0, *,
              max_deliveries: Optional[int] = None,
              dead_letter: Optional[str] = None, **kw: Any):
        """A queue (agora.QueueProxy); @maxsize 0 is unbounded. An item
        taken with ``take`` @max_deliveries times and not acknowledged
        goes to the queue named @dead_letter."""
        return self.open("queue", name,
                         _queue_options(maxsize, max_deliveries, dead_letter),
                         **kw)

    def joinable_queue(self, name: Optional[str] = None, maxsize: int = 0, *,
                       max_deliveries: Optional[int] = None,
                       dead_letter: Optional[str] = None, **kw: Any):
        """A joinable queue (agora.JoinableQueueProxy)."""
        return self.open("joinable_queue", name,
                         _queue_options(maxsize, max_deliveries, dead_letter),
                         **kw)

    def value(self, name: Optional[str] = None, initial: Any = 0, **kw: Any):
        """A value (agora.ValueProxy), @initial when created."""
        return self.open("value", name, {"initial": initial}, **kw)

    def array(self, name: Optional[str], typecode: str,
              size_or_items: Union[int, Sequence[Any]] = 0, **kw: Any):
        """An array (agora.ArrayProxy) of @typecode ("b B h H i I l L q Q
        f d"), of that many zeros or of those items when created."""
        opts: Dict[str, Any] = {"typecode": typecode}
        if isinstance(size_or_items, int):
            opts["length"] = size_or_items
        else:
            opts["items"] = list(size_or_items)
        return self.open("array", name, opts, **kw)

    def namespace(self, name: Optional[str] = None, **kw: Any):
        """A namespace (agora.NamespaceProxy): attributes."""
        return self.open("namespace", name, **kw)

    def lock(self, name: Optional[str] = None, **kw: Any):
        """A lock (agora.LockProxy)."""
        return self.open("lock", name, **kw)

    def rlock(self, name: Optional[str] = None, **kw: Any):
        """A re-entrant lock (agora.RLockProxy)."""
        return self.open("rlock", name, **kw)

    def semaphore(self, name: Optional[str] = None, value: int = 1, *,
                  owned: bool = False, **kw: Any):
        """A semaphore (agora.SemaphoreProxy) of @value permits; @owned:
        each process may release only what it holds, and what it holds
        when it dies is given back."""
        return self.open("semaphore", name,
                         {"value": value, "owned": owned}, **kw)

    def bounded_semaphore(self, name: Optional[str] = None, value: int = 1,
                          *, owned: bool = False, **kw: Any):
        """A bounded semaphore (agora.BoundedSemaphoreProxy)."""
        return self.open("bounded_semaphore", name,
                         {"value": value, "owned": owned}, **kw)

    def condition(self, name: Optional[str] = None, lock: Any = None,
                  **kw: Any):
        """A condition (agora.ConditionProxy) over @lock (a lock or rlock
        proxy), or over an rlock of its own."""
        opts: Dict[str, Any] = {}
        if lock is not None:
            if not isinstance(lock, BaseProxy) or \
                    lock._type not in ("lock", "rlock"):
                raise TypeError("condition: lock must be a lock or rlock "
                                "proxy, not %r" % (lock,))
            opts["lock"] = lock._handle(self._conn())
        return self.open("condition", name, opts, **kw)

    def event(self, name: Optional[str] = None, **kw: Any):
        """An event (agora.EventProxy)."""
        return self.open("event", name, **kw)

    def barrier(self, name: Optional[str], parties: int, **kw: Any):
        """A barrier (agora.BarrierProxy) for @parties."""
        return self.open("barrier", name, {"parties": parties}, **kw)

    def topic(self, name: Optional[str] = None, **kw: Any):
        """A topic (agora.TopicProxy): publish and subscribe."""
        return self.open("topic", name, **kw)

    # ---- server methods ----------------------------------------------------

    def ping(self, value: Any = None) -> Any:
        """The server echoes @value."""
        return self.call("ping", value)

    def ls(self, pattern: Optional[str] = None) -> List[Dict[str, Any]]:
        """The named objects (those matching the fnmatch @pattern): maps
        with ``name``, ``type``, ``len``..."""
        return self.call("ls", pattern)

    def drop(self, name: str) -> bool:
        """Remove the name (the object lives on while held); whether it
        existed."""
        return self.call("drop", name)

    def expire(self, name: str, seconds: Optional[float]) -> None:
        """Drop @name @seconds from now (None: clear the deadline)."""
        self.call("expire", name, seconds)

    def ttl(self, name: str) -> Optional[float]:
        """Seconds before @name is dropped, or None."""
        return self.call("ttl", name)

    def stats(self) -> Dict[str, Any]:
        """The server's counters (connections, objects, memory...)."""
        return self.call("stats")

    def clients(self) -> List[Dict[str, Any]]:
        """One map per connection the server has (who holds what)."""
        return self.call("clients")

    def kill(self, id: int) -> bool:
        """End connection @id (from clients()) as if it had died."""
        return self.call("kill", id)

    def save(self) -> Dict[str, Any]:
        """Write a snapshot now (a server with a data directory)."""
        return self.call("save")

    def _handles(self, proxies: Iterable[BaseProxy], what: str
                 ) -> Tuple[Connection, List[int], Dict[int, BaseProxy]]:
        conn = self._conn()
        hs: List[int] = []
        back: Dict[int, BaseProxy] = {}
        for p in proxies:
            if not isinstance(p, BaseProxy):
                raise TypeError("%s: expected proxies, got %r" % (what, p))
            h = p._handle(conn)
            hs.append(h)
            back[h] = p
        return conn, hs, back

    def get_any(self, queues: Iterable[BaseProxy], block: bool = True,
                timeout: Optional[float] = None) -> Tuple[BaseProxy, Any]:
        """``(queue, item)``: an item from the first of @queues that has
        one, waiting for one when none has (queue.Empty after @timeout)."""
        conn, hs, back = self._handles(queues, "get_any")
        h, item = conn.call("get_any", [hs, block, timeout])
        if conn.saw_ref:
            item = self._resolve(item, conn)
        return back[h], item

    def wait_any(self, events: Iterable[BaseProxy],
                 timeout: Optional[float] = None) -> Optional[BaseProxy]:
        """The first of @events that is set (waiting for one), or None
        after @timeout."""
        conn, hs, back = self._handles(events, "wait_any")
        h = conn.call("wait_any", [hs, timeout])
        return None if h is None else back[h]

    def acquire_any(self, locks: Iterable[BaseProxy], block: bool = True,
                    timeout: Optional[float] = None) -> Optional[BaseProxy]:
        """Take the first free of @locks (waiting in every line), or None
        after @timeout."""
        conn, hs, back = self._handles(locks, "acquire_any")
        h = conn.call("acquire_any", [hs, block, timeout])
        return None if h is None else back[h]

    def transaction(self) -> Transaction:
        """A new :class:`agora.Transaction` on this thread's connection."""
        return Transaction(self)

    def watch(self, obj: BaseProxy, key: Any = None,
              since: Optional[int] = None, run: Optional[str] = None):
        """An :class:`agora.Watch`: an iterator of @obj's changes (of one
        @key of a dict or namespace), on a connection of its own."""
        return Watch(self, obj, key=key, since=since, run=run)

    def __repr__(self) -> str:
        return "<agora.Client %s>" % self.address


def _queue_options(maxsize: int, max_deliveries: Optional[int],
                   dead_letter: Optional[str]) -> Dict[str, Any]:
    opts: Dict[str, Any] = {"maxsize": maxsize}
    if max_deliveries is not None or dead_letter is not None:
        opts["max_deliveries"] = max_deliveries
        opts["dead_letter"] = dead_letter
    return opts


def connect(address: Optional[str] = None,
            authkey: Union[bytes, str, None] = None, **kw: Any) -> Client:
    """A :class:`Client` of the agorad at @address with @authkey (see
    Client for the keywords and the defaults the environment gives). It
    connects at once, so a wrong address or key fails here."""
    client = Client(address, authkey, **kw)
    try:
        client._conn()
    except BaseException:
        client.close()
        raise
    return client


set_client_class(Client)
