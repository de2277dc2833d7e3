"""A session with an agorad: its address, its key, this process's
connections to it, and the proxy class of each type.

A :class:`Session` makes its connections when first needed, one per thread
and per process (after ``fork`` a child makes its own), as
multiprocessing's proxies do: so a lock a thread takes is that thread's,
and a forked worker never shares a socket with its parent. Values read
through it come back with their references as proxies, of the class
registered for the object's type (``register``).

agora.Client is a Session with the constructors and the server methods.
Proxies (agora._proxy) need only this part, which is below them; a proxy
unpickled in another process finds or makes that process's client here
(``_rebuild_proxy``), of the class agora.client sets.
"""
from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, Union

from ._wire import (DEFAULT_CONNECT_TIMEOUT, DEFAULT_PEER_TIMEOUT,
                    DEFAULT_SPIN, Connection, Ref, check_spin,
                    default_address, resolve_key)

__all__ = ["Session", "register", "proxy_class", "PROXY_TYPES",
           "set_client_class"]

# The proxy class of each wire type ("list", "dict", ...), and the class
# of a type this client does not know (a later server's): BaseProxy.
PROXY_TYPES: Dict[str, Type[Any]] = {}
_FALLBACK: List[Type[Any]] = []


def register(type_name: str) -> Callable[[Type[Any]], Type[Any]]:
    """Class decorator: @type_name's proxies are of this class."""
    def deco(cls: Type[Any]) -> Type[Any]:
        cls._type = type_name
        cls._prefix = type_name + "."
        PROXY_TYPES[type_name] = cls
        return cls
    return deco


def register_fallback(cls: Type[Any]) -> Type[Any]:
    """Class decorator: the proxy class of the types no class is
    registered for."""
    _FALLBACK[:] = [cls]
    return cls


def proxy_class(type_name: str) -> Type[Any]:
    """The proxy class for a wire type (the base class for a type this
    client does not know)."""
    return PROXY_TYPES.get(type_name) or _FALLBACK[0]


# The class of the clients _rebuild_proxy makes: agora.Client, which
# sets it when imported (it is above this module).
_CLIENT_CLASS: List[Type["Session"]] = []


def set_client_class(cls: Type["Session"]) -> None:
    """Proxies unpickled in this process get clients of class @cls."""
    _CLIENT_CLASS[:] = [cls]

# Every live client of this process, to forget their connections in a
# forked child; and the key of each address a client here uses, for
# proxies unpickled without one.
_CLIENTS: "weakref.WeakSet[Session]" = weakref.WeakSet()
_KEYS: Dict[str, bytes] = {}
_BY_SPEC: "weakref.WeakValueDictionary[Tuple, Session]" = \
    weakref.WeakValueDictionary()
_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    global _LOCK
    _LOCK = threading.Lock()
    for c in list(_CLIENTS):
        c._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _spawning() -> bool:
    """True while multiprocessing pickles the arguments of a process it
    starts (spawn, forkserver)."""
    try:
        from multiprocessing.context import get_spawning_popen
    except ImportError:  # pragma: no cover
        return False
    return get_spawning_popen() is not None


class Session:
    """An agorad to talk to and this process's connections to it:
    what proxies need of a client (agora.Client is one, with the
    constructors and the server methods).

    Its arguments are agora.Client's, which documents them. Nothing
    connects until the first call; ``close()`` (or ``with``) closes this
    process's connections.
    """

    def __init__(self, address: Optional[str] = None,
                 authkey: Union[bytes, str, None] = None, *,
                 user: Optional[str] = None, tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 peer_timeout: float = DEFAULT_PEER_TIMEOUT,
                 spin: float = DEFAULT_SPIN) -> None:
        self.address = address or default_address()
        self.authkey = resolve_key(authkey)
        check_spin(spin)
        if user is None:
            user = os.environ.get("AGORA_USER") or None
        self.user = user
        self._opts = dict(user=user, tls_ca=tls_ca, tls_cert=tls_cert,
                          tls_key=tls_key, connect_timeout=connect_timeout,
                          peer_timeout=peer_timeout, spin=spin)
        self._local = threading.local()
        self._conns: "weakref.WeakSet[Connection]" = weakref.WeakSet()
        self._closed = False
        with _LOCK:
            _CLIENTS.add(self)
            _KEYS.setdefault(self.address, self.authkey)
            _BY_SPEC.setdefault(self._spec_key(self.authkey), self)

    # ---- connections -------------------------------------------------------

    def _spec(self) -> Tuple[str, Dict[str, Any]]:
        """What a proxy pickles to reach this server again."""
        return (self.address, self._opts)

    def _spec_key(self, key: bytes) -> Tuple:
        return (self.address, key, tuple(sorted(self._opts.items())))

    def new_connection(self) -> Connection:
        """A connection of its own (for a watch or a subscription, whose
        notifications must not mix with calls), authenticated."""
        if self._closed:
            raise ValueError("the client is closed")
        conn = Connection(self.address, self.authkey, **self._opts)
        self._conns.add(conn)
        return conn

    def _conn(self) -> Connection:
        """The calling thread's connection (made on first use)."""
        try:
            conn = self._local.conn
        except AttributeError:
            conn = None
        if conn is None or conn.closed:
            conn = self.new_connection()
            self._local.conn = conn
            self._local.keep = conn  # the thread's reference keeps it
        return conn

    def _forked(self) -> None:
        # In a forked child: the parent's connections are the parent's.
        self._local = threading.local()
        self._conns = weakref.WeakSet()

    @property
    def hello(self) -> Dict[str, Any]:
        """The server's answer to hello: ``server`` (its version),
        ``run`` (the id of this start of the server), ``started``..."""
        return self._conn().hello

    @property
    def run(self) -> str:
        """The id of the server's current run (changes at each restart)."""
        return self._conn().hello["run"]

    def close(self) -> None:
        """Close this process's connections to the server."""
        self._closed = True
        pid = os.getpid()
        for conn in list(self._conns):
            if conn.pid == pid:
                conn.close()
        self._local = threading.local()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- calls ---------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """Call any method of the protocol (docs/protocol.md) on this
        thread's connection: its result, references as proxies."""
        conn = self._conn()
        r = conn.call(method, list(params))
        if conn.saw_ref:
            r = self._resolve(r, conn)
        return r

    def _resolve(self, value: Any, conn: Connection) -> Any:
        """@value with each Ref in it replaced by a proxy of its object,
        opened on @conn (taking the holds passed to it, section 8)."""
        if isinstance(value, Ref):
            return self.proxy_for(value, conn)
        if isinstance(value, list):
            return [self._resolve(v, conn) for v in value]
        if isinstance(value, tuple):
            return tuple(self._resolve(v, conn) for v in value)
        if isinstance(value, dict):
            return {self._resolve(k, conn): self._resolve(v, conn)
                    for k, v in value.items()}
        return value

    def proxy_for(self, ref: Ref, conn: Optional[Connection] = None
                  ) -> Any:
        """A proxy for the object @ref names, of the class its type has
        (NoObjectError when it is gone)."""
        conn = conn or self._conn()
        h = conn.call("open_ref", [ref])
        try:
            info = conn.call("info", [h])
        except BaseException:
            conn.close_handle_later(h)
            raise
        cls = proxy_class(info["type"])
        return cls(self, ref, info.get("name"), conn, h)

def _client_for(spec: Tuple[str, Dict[str, Any]], key: Optional[bytes]
                ) -> Session:
    """The client of this process for a pickled proxy's server: one that
    exists already, else a new one with @key, else the key this process
    knows for the address, else multiprocessing's authkey (which its
    children inherit, as a Manager's are given)."""
    address, opts = spec
    if key is None:
        key = _KEYS.get(address)
    if key is None:
        import multiprocessing
        key = bytes(multiprocessing.current_process().authkey)
    skey = (address, key, tuple(sorted(opts.items())))
    with _LOCK:
        c = _BY_SPEC.get(skey)
    if c is not None and not c._closed:
        return c
    c = (_CLIENT_CLASS or [Session])[0](address, key, **opts)
    with _LOCK:
        _BY_SPEC[skey] = c
    return c


def _rebuild_proxy(type_name: str, ref: Ref, name: Optional[str],
                   spec: Tuple[str, Dict[str, Any]],
                   key: Optional[bytes]) -> Any:
    """Unpickling a proxy: the same object, through this process's client
    of its server (its handle opened on first use)."""
    client = _client_for(spec, key)
    return proxy_class(type_name)(client, ref, name)

