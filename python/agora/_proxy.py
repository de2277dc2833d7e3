"""The proxy base class: what every shared-object proxy does the same way.

A proxy names one object of the server by its reference (protocol
section 8) and calls its methods through the connection of the thread and
process that calls (``Session._conn()``), opening a handle on that
connection the first time (``open_ref``). So a proxy works in any thread,
and in a child process after fork or after being pickled to it (spawn),
exactly as multiprocessing's proxies do: each process, each thread, has
its own connection, so a lock taken in one thread is that thread's.

The proxy classes of each type (agora.proxies) derive from BaseProxy and
register themselves with :func:`register`.
"""
from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional

from ._session import (PROXY_TYPES, _rebuild_proxy, _spawning, proxy_class,
                       register, register_fallback)
from ._wire import Connection, Ref

if TYPE_CHECKING:  # pragma: no cover
    from ._session import Session

__all__ = ["BaseProxy", "register", "PROXY_TYPES", "proxy_class"]


@register_fallback
class BaseProxy:
    """A shared object of the server.

    ``ref`` is its reference, ``name`` its name (None when anonymous).
    Proxies compare equal and hash alike when they name the same object.
    A proxy pickles as its server's address and its reference, so it
    passes to ``multiprocessing.Process`` children as an argument (fork
    and spawn); a value stored in a container may hold proxies too (they
    travel as references and come back as proxies).
    """

    _type = "object"
    _prefix = "object."

    def __init__(self, client: "Session", ref: Ref, name: Optional[str] = None,
                 conn: Optional[Connection] = None,
                 handle: Optional[int] = None) -> None:
        self._client = client
        self._ref = ref
        self._name = name
        # The handle of the connection used last (the fast path), and those
        # of other threads' connections.
        self._hc = conn
        self._h = handle
        self._others: Optional["weakref.WeakKeyDictionary[Connection, int]"] \
            = None

    # ---- calls ---------------------------------------------------------

    def _handle(self, conn: Connection) -> int:
        """This object's handle on @conn, opened by reference the first
        time (NoObjectError when the object is gone)."""
        if self._hc is conn:
            return self._h  # type: ignore[return-value]
        others = self._others
        if others is not None:
            h = others.get(conn)
            if h is not None:
                return h
        h = conn.call("open_ref", [self._ref, self._type
                                   if self._type in PROXY_TYPES else None])
        if self._hc is None or self._hc.closed or \
                self._hc.pid != os.getpid():
            self._hc, self._h = conn, h
        else:
            if others is None:
                others = self._others = weakref.WeakKeyDictionary()
            others[conn] = h
        return h

    def _call(self, method: str, *params: Any) -> Any:
        """Call TYPE.@method of this object with @params: the result (its
        references as proxies), or raise the server's error."""
        client = self._client
        conn = client._conn()
        h = self._h if conn is self._hc else self._handle(conn)
        r = conn.call(self._prefix + method, [h, *params])
        if conn.saw_ref:
            r = client._resolve(r, conn)
        return r

    def _call_as(self, full_method: str, *params: Any) -> Any:
        """As _call, with the whole method name: a base type's method
        ("queue.put" on a joinable_queue), or a server method whose first
        param is the handle ("info", "watch", "expire"...)."""
        client = self._client
        conn = client._conn()
        h = self._h if conn is self._hc else self._handle(conn)
        r = conn.call(full_method, [h, *params])
        if conn.saw_ref:
            r = client._resolve(r, conn)
        return r

    _server = _call_as

    # ---- what every object has -------------------------------------------

    @property
    def _agora_ref(self) -> Ref:
        return self._ref

    @property
    def ref(self) -> Ref:
        """The object's reference (protocol section 8)."""
        return self._ref

    @property
    def name(self) -> Optional[str]:
        """The name it was opened by, or None for an anonymous object."""
        return self._name

    @property
    def client(self) -> "Session":
        """The client whose connections this proxy calls through."""
        return self._client

    def info(self) -> Dict[str, Any]:
        """The server's ``info`` map of the object (type, name, len,
        waiters, version and the type's own fields: a lock's owner,
        fence and abandoned count, a queue's pending items...)."""
        return self._server("info")

    def expire_name(self, seconds: Optional[float]) -> None:
        """Drop the object's name @seconds from now (None: never; the
        server method ``expire``). A dict's ``expire`` is per key."""
        self._server("expire", seconds)

    def name_ttl(self) -> Optional[float]:
        """Seconds before the name is dropped, or None (``ttl``)."""
        return self._server("ttl")

    def close(self) -> None:
        """Let this process's handles of the object go now (also done when
        the proxy is garbage-collected). An anonymous object nobody else
        holds is freed. The proxy must not be used afterwards."""
        pid = os.getpid()
        for conn, h in self._handles():
            if not conn.closed and conn.pid == pid:
                try:
                    conn.call("close", [h])
                except Exception:
                    pass
        self._hc = self._h = None
        self._others = None

    def _handles(self):
        out = []
        if self._hc is not None:
            out.append((self._hc, self._h))
        if self._others:
            out.extend(self._others.items())
        return out

    def __del__(self) -> None:
        try:
            for conn, h in self._handles():
                conn.close_handle_later(h)
        except Exception:  # interpreter shutdown
            pass

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BaseProxy):
            return other._ref == self._ref
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __hash__(self) -> int:
        return hash(self._ref)

    def __repr__(self) -> str:
        return "<%s %s id=%d>" % (
            type(self).__name__,
            "name=%r" % self._name if self._name is not None else "anonymous",
            self._ref.id)

    def __reduce__(self):
        # The key goes along only when pickled for a new process being
        # spawned (as multiprocessing does); otherwise the receiver uses
        # the key it has (current_process().authkey, or a client's).
        key = self._client.authkey if _spawning() else None
        return (_rebuild_proxy, (self._type, self._ref, self._name,
                                 self._client._spec(), key))
