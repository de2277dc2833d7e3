"""Watches and topic subscriptions as iterators (protocol section 11).

A :class:`Watch` yields the changes of one object (of one key of a dict or
namespace)::

    with client.watch(config, key="mode") as w:
        for change in w:                 # Change(version, op, key)
            reload(config["mode"])

A :class:`Subscription` yields the messages published to a topic::

    with topic.subscribe() as sub:
        for message in sub:
            handle(message)

Each has a connection of its own, so its notifications never mix with the
program's calls, and is read by one thread (or one asyncio task) at a
time; ``async for`` works too, without blocking the event loop. Both end
(``close()``, ``with``) by closing that connection; ``close()`` from
another thread ends an iteration that waits there. A server that cuts
the connection for not reading (``--max-output``, the ``cut``
notification) ends the iteration with :class:`agora.ConnectionLost`
naming the reason: a watcher then watches again with
``since=w.version, run=w.run`` to learn whether it missed a change.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Iterator, NamedTuple, Optional

from ._proxy import PROXY_TYPES, BaseProxy
from ._wire import Connection, Ref, _freeze
from .errors import ConnectionLost, Empty, Error, NoObjectError

__all__ = ["Watch", "Subscription", "Change"]

_SKIP = object()  # a notification that is not for this reader


class Change(NamedTuple):
    """One change of a watched object: its ``version`` after the change,
    ``op`` (``"dict.set"``, ``"queue.get"``, ``"lock.release"``,
    ``"dict.expired"``, ``"list.drop"``...) and ``key`` (the dict key or
    namespace attribute the change is about, else None)."""
    version: int
    op: str
    key: Any


class _Reader:
    """What a watch and a subscription share: a connection of their own,
    read for notifications, blocking or from asyncio."""

    _conn: Connection
    _what = "reader"

    def _start(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._closed = False
        self._active = 0  # iterations reading now (close wakes them)
        self._conn = client.new_connection()

    # ---- to fill in ------------------------------------------------------

    def _accept(self, method: str, params: Any) -> Any:
        """What the notification gives the program, or _SKIP."""
        raise NotImplementedError

    def _end(self) -> None:
        """Stop the server's sending (unwatch, unsubscribe)."""
        raise NotImplementedError

    def _finish(self, item: Any) -> Any:
        """What _accept gave, made ready for the program (with the socket
        blocking again: it may call the server)."""
        return item

    # ---- reading ---------------------------------------------------------

    def _enter(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._active += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1
            done = self._closed and not self._active
        if done:
            self._conn.close()

    def _cut(self, params: Any) -> ConnectionLost:
        info = params[0] if isinstance(params, list) and params and \
            isinstance(params[0], dict) else {}
        reason = info.get("reason", "unknown")
        unsent = info.get("unsent")
        with self._lock:
            self._closed = True
        return ConnectionLost(
            "%s: the server cut the connection (%s%s)%s" % (
                self._describe(), reason,
                ", %d bytes unread" % unsent if isinstance(unsent, int)
                else "", self._resume_hint()))

    def _describe(self) -> str:
        return self._what

    def _resume_hint(self) -> str:
        return ""

    def _poll(self, timeout: Optional[float]) -> Any:
        """The next item _accept gives, waiting up to @timeout (None: for
        ever; 0: not at all), or _SKIP when none came; StopIteration
        when closed (by close(), maybe from another thread),
        ConnectionLost when cut or lost."""
        deadline = None if timeout is None else time.monotonic() + timeout
        conn = self._conn
        while True:
            if self._closed:
                raise StopIteration
            left = None if deadline is None else \
                max(0.0, deadline - time.monotonic())
            try:
                note = conn.wait_note(left)
            except ConnectionLost:
                if self._closed:  # close() shut the socket to wake us
                    raise StopIteration from None
                with self._lock:
                    self._closed = True
                raise
            except (OSError, ValueError):
                if self._closed:
                    raise StopIteration from None
                raise
            if note is None:
                return _SKIP
            method, params = note
            if method == "cut":
                raise self._cut(params)
            item = self._accept(method, params)
            if item is not _SKIP:
                return item

    def _next(self, timeout: Optional[float]) -> Any:
        """_poll inside the bookkeeping that lets close() wake it."""
        if not self._enter():
            raise StopIteration
        try:
            item = self._poll(timeout)
            return item if item is _SKIP else self._finish(item)
        finally:
            self._leave()

    async def _anext(self) -> Any:
        loop = asyncio.get_running_loop()
        if not self._enter():
            raise StopAsyncIteration
        try:
            while True:
                conn = self._conn
                sock = conn.sock
                blocking = sock.gettimeout()
                try:
                    # Nothing read here may block the loop: a TLS record
                    # half there waits for the rest through add_reader.
                    sock.settimeout(0.0)
                    item = self._poll(0)
                except StopIteration:
                    raise StopAsyncIteration from None
                finally:
                    if not conn.closed:
                        sock.settimeout(blocking)
                if item is not _SKIP:
                    return self._finish(item)
                fut = loop.create_future()
                fd = sock.fileno()

                def ready(fut: "asyncio.Future[None]" = fut) -> None:
                    if not fut.done():
                        fut.set_result(None)
                loop.add_reader(fd, ready)
                try:
                    await fut
                finally:
                    loop.remove_reader(fd)
        finally:
            self._leave()

    # ---- ending ----------------------------------------------------------

    def close(self) -> None:
        """End it and close its connection (an iteration waiting in
        another thread or task ends too). Closing twice does nothing."""
        with self._lock:
            if self._closed:
                if not self._active and not self._conn.closed:
                    self._conn.close()
                return
            self._closed = True
            active = self._active
        if active:
            # Wake the reader (it closes the connection when it leaves):
            # the plain socket's shutdown, under TLS too.
            try:
                socket.socket.shutdown(self._conn.sock, socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            self._end()
        except Error:
            pass
        self._conn.close()

    @property
    def closed(self) -> bool:
        """True once closed, cut or lost."""
        return self._closed

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._conn.closed:
                self._conn.close()
        except Exception:  # half made, or interpreter shutdown
            pass


class Watch(_Reader):
    """The changes of @obj (a proxy), of its @key only for a dict or a
    namespace (and the changes with no key, ``clear``, ``update``, the
    name's drop, that may touch it), from now on, in order, none missing,
    none twice (protocol section 11.1).

    ``client.watch(obj, key=None, since=None, run=None)`` makes one. It
    watches on a connection of its own. ``version`` is the object's
    version when watched, then that of the last change read; ``run`` the
    server's run. With @since (a version seen before) and @run (the run
    it was seen in), ``changed`` tells whether the object changed since,
    or may have (another run of the server, an object made again under
    its name): then read it again; else ``changed`` is None.

    Iterating (``for``, ``async for``) yields :class:`Change` tuples
    ``(version, op, key)`` until ``close()``; :meth:`next_change` waits
    for one with a timeout. The notification tells what changed, not the
    new value: read it from the object when needed.
    """

    _what = "watch"

    def __init__(self, client: Any, obj: BaseProxy, key: Any = None,
                 since: Optional[int] = None,
                 run: Optional[str] = None) -> None:
        if not isinstance(obj, BaseProxy):
            raise TypeError("watch: expected an Agora proxy (a shared "
                            "object), got %r" % (obj,))
        if since is not None and (isinstance(since, bool) or
                                  not isinstance(since, int) or since < 0):
            raise ValueError("watch: since must be a version (an int of 0 "
                             "or more), not %r" % (since,))
        if run is not None:
            if not isinstance(run, str):
                raise TypeError("watch: run must be a str (hello's or a "
                                "watch's run), not %r" % (run,))
            if since is None:
                raise ValueError("watch: run=%r given without since= (the "
                                 "version seen in that run)" % (run,))
        self.obj = obj
        self.key = key
        self._start(client)
        try:
            conn = self._conn
            h = conn.call("open_ref", [obj._ref, obj._type
                                       if obj._type in PROXY_TYPES else None])
            opts = {}
            if key is not None:
                opts["key"] = key
            if since is not None:
                opts["since"] = since
            if run is not None:
                opts["run"] = run
            r = conn.call("watch", [h, opts])
        except BaseException:
            self._closed = True
            self._conn.close()
            raise
        self._handle = h
        self.id: int = r["watch"]
        self.version: int = r["version"]
        self.run: str = r["run"]
        self.changed: Optional[bool] = r.get("changed") \
            if since is not None else None

    def _accept(self, method: str, params: Any) -> Any:
        if method != "watch":
            return _SKIP
        try:
            n = params[0]
            if n.get("watch") != self.id:
                return _SKIP
            v = n["version"]
            op = n["op"]
        except (TypeError, IndexError, KeyError, AttributeError):
            return _SKIP
        self.version = v
        return Change(v, op, _freeze(n.get("key")))

    def _end(self) -> None:
        self._conn.call("unwatch", [self.id])

    def _describe(self) -> str:
        return "watch of %r" % (self.obj,)

    def _resume_hint(self) -> str:
        return "; watch again with since=%d, run=%r to resume" % (
            self.version, self.run)

    def next_change(self, timeout: Optional[float] = None
                    ) -> Optional[Change]:
        """The next change, waiting up to @timeout seconds (None: until
        one comes); None when none came in time, or the watch was closed
        meanwhile. ConnectionLost when the server cut the connection or
        it was lost; ValueError on a watch closed before."""
        if self._closed:
            raise ValueError("watch of %r: the watch is closed" % (self.obj,))
        try:
            item = self._next(timeout)
        except StopIteration:
            return None
        return None if item is _SKIP else item

    def __iter__(self) -> Iterator[Change]:
        return self

    def __next__(self) -> Change:
        return self._next(None)

    def __aiter__(self) -> "Watch":
        return self

    async def __anext__(self) -> Change:
        return await self._anext()

    def __repr__(self) -> str:
        return "<agora.Watch %d of %r%s version=%d%s>" % (
            self.id, self.obj, "" if self.key is None else
            " key=%r" % (self.key,), self.version,
            " closed" if self._closed else "")


class Subscription(_Reader):
    """The messages published to @topic (a topic proxy) from now on, in
    publish order, until ``close()`` (protocol sections 4.12 and 11.2);
    ``topic.subscribe()`` makes one. A message published while nobody
    subscribed is lost: a topic stores nothing.

    Iterating (``for``, ``async for``) yields the messages; :meth:`get`
    waits for one with a timeout. References in a message come as proxies
    (an object gone by the time the message is read stays an
    :class:`agora.Ref`).
    """

    _what = "subscription"

    def __init__(self, topic: BaseProxy) -> None:
        if not isinstance(topic, BaseProxy):
            raise TypeError("subscription: expected a topic proxy, got %r"
                            % (topic,))
        self.topic = topic
        self._start(topic._client)
        try:
            conn = self._conn
            h = conn.call("open_ref", [topic.ref, "topic"])
            conn.call("topic.subscribe", [h])
        except BaseException:
            self._closed = True
            self._conn.close()
            raise
        self._handle = h

    def _accept(self, method: str, params: Any) -> Any:
        if method != "topic":
            return _SKIP
        try:
            n = params[0]
            if n.get("handle") != self._handle or "message" not in n:
                return _SKIP
        except (TypeError, IndexError, AttributeError):
            return _SKIP
        return n["message"]

    def _finish(self, item: Any) -> Any:
        return self._proxies(item)

    def _proxies(self, value: Any) -> Any:
        """@value with each reference in it as a proxy, opened on this
        subscription's connection (a gone object's stays a Ref)."""
        if isinstance(value, Ref):
            try:
                return self._client.proxy_for(value, self._conn)
            except NoObjectError:
                return value
        if isinstance(value, list):
            return [self._proxies(v) for v in value]
        if isinstance(value, dict):
            return {self._proxies(k): self._proxies(v)
                    for k, v in value.items()}
        return value

    def _end(self) -> None:
        self._conn.call("topic.unsubscribe", [self._handle])

    def _describe(self) -> str:
        return "subscription to %r" % (self.topic,)

    def get(self, timeout: Optional[float] = None) -> Any:
        """The next message, waiting up to @timeout seconds (None: until
        one comes). agora.Empty (a ``queue.Empty``) when none came in
        time, or the subscription was closed meanwhile; ConnectionLost
        when the server cut the connection or it was lost; ValueError on
        a subscription closed before."""
        if self._closed:
            raise ValueError("subscription to %r is closed" % (self.topic,))
        try:
            item = self._next(timeout)
        except StopIteration:
            item = _SKIP
        if item is _SKIP:
            raise Empty("subscription to %r: no message %s" % (
                self.topic, "within %g s" % timeout if timeout is not None
                else "(closed)"))
        return item

    def get_nowait(self) -> Any:
        """A message already received, else agora.Empty at once."""
        return self.get(0)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return self._next(None)

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Any:
        return await self._anext()

    def __repr__(self) -> str:
        return "<agora.Subscription to %r%s>" % (
            self.topic, " closed" if self._closed else "")
