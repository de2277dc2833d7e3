"""The proxy of each type, with the Python API of what it stands for.

ListProxy is a MutableSequence, DictProxy a MutableMapping, QueueProxy has
queue.Queue's methods and exceptions, locks are context managers, and so
on, as multiprocessing's proxies (docs/python.md lists them). Each method
is one call to the server (protocol section 4), atomic there; the few
that Python does in one step but the server has no method for (a list's
extended slice assignment, a sort with a key) read the list and write it
back in one transaction, guarded by what they read.

Errors are Python's: a missing key is a KeyError (``e.args[0]`` the key),
an index out of range an IndexError, an empty queue ``queue.Empty``,
releasing a lock this thread does not hold a RuntimeError, a broken
barrier ``threading.BrokenBarrierError`` (agora.errors: each is also an
:class:`agora.Error` carrying the server's sentence).
"""
from __future__ import annotations

import operator
import time
from collections.abc import MutableMapping, MutableSequence
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Tuple, Union)

from ._proxy import BaseProxy, register
from ._wire import _freeze
from .errors import AgoraKeyError, TxnFailed

__all__ = [
    "ListProxy", "DictProxy", "QueueProxy", "JoinableQueueProxy", "Delivery",
    "ValueProxy", "ArrayProxy", "NamespaceProxy", "LockProxy", "RLockProxy",
    "SemaphoreProxy", "BoundedSemaphoreProxy", "ConditionProxy",
    "EventProxy", "BarrierProxy", "TopicProxy",
]

# How many times a guarded read-modify-write of a list is tried when
# another client changed the list in between, before TxnFailed.
_GUARD_TRIES = 20


def _index(i: Any, what: str) -> int:
    """@i as an int index (bools and __index__ objects too), or the
    TypeError Python raises for a list."""
    try:
        return operator.index(i)
    except TypeError:
        raise TypeError("%s indices must be integers or slices, not %s"
                        % (what, type(i).__name__)) from None


def _int(n: Any, what: str) -> int:
    """@n as an int (a count), or TypeError naming it."""
    try:
        return operator.index(n)
    except TypeError:
        raise TypeError("%s must be an int, not %r" % (what, n)) from None


def _opt_index(i: Any) -> Optional[int]:
    if i is None:
        return None
    try:
        return operator.index(i)
    except TypeError:
        raise TypeError("slice indices must be integers or None or have an "
                        "__index__ method, not %r" % (i,)) from None


def _key_error(e: AgoraKeyError, key: Any) -> AgoraKeyError:
    """@e with args[0] the missing key, as Python's KeyError (its str()
    stays the server's sentence)."""
    e.args = (key,)
    return e


def _check_timeout(block: bool, timeout: Optional[float]) -> None:
    # queue.Queue's check, before anything is sent.
    if block and timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")


def _acquire_args(blocking: bool, timeout: Optional[float], who: str
                  ) -> Optional[float]:
    """threading's rules for (blocking, timeout): -1 and None wait for
    ever (None on the wire); a timeout with blocking False or another
    negative one is ValueError."""
    if timeout is not None and timeout == -1:
        timeout = None
    if timeout is not None:
        if not blocking:
            raise ValueError("%s: can't specify a timeout for a non-blocking "
                             "call (timeout=%r)" % (who, timeout))
        if timeout < 0:
            raise ValueError("%s: timeout must be a non-negative number or "
                             "-1, not %r" % (who, timeout))
    return timeout


class _PairsMap(dict):
    """A map to send that keeps keys Python merges (1, 1.0 and True are
    one dict key in Python, three on the wire): msgpack packs a dict
    subclass from its items()."""

    def __init__(self, pairs: List[Tuple[Any, Any]]) -> None:
        super().__init__()
        self._pairs = pairs

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self):  # type: ignore[override]
        return iter(self._pairs)


# ---------------------------------------------------------------------------
# list


@register("list")
class ListProxy(BaseProxy, MutableSequence):
    """A shared list: Python's list API (``l[i]``, slices, ``append``,
    ``sort``, ``+=``...). Iteration, ``reversed`` and ``+`` work on a
    snapshot (one ``copy``); ``str(l)`` shows the contents."""

    # ---- the guard: read, change locally, write back if unchanged --------

    def _rewrite(self, build: Callable[[list, Callable[[], list]], list],
                 what: str) -> None:
        """Replace the whole list with build(raw, resolved) in a
        transaction that holds only while the list is still what was read;
        try again when another client changed it meanwhile."""
        client = self._client
        for attempt in range(_GUARD_TRIES):
            conn = client._conn()
            h = self._handle(conn)
            raw = conn.call(self._prefix + "copy", [h])
            saw = conn.saw_ref
            cache: List[list] = []

            def resolved() -> list:
                if not cache:
                    cache.append(client._resolve(raw, conn) if saw
                                 else raw)
                return cache[0]
            new = build(raw, resolved)
            r = conn.call("txn", [
                [["eq", self._prefix + "copy", [h], raw]],
                [[self._prefix + "set_slice", [h, None, None, new]]]])
            if r["succeeded"]:
                return
            time.sleep(min(0.001 * (attempt + 1), 0.02))
        raise TxnFailed("%s: the list kept changing under %d tries"
                        % (what, _GUARD_TRIES))

    # ---- the sequence ------------------------------------------------------

    def __len__(self) -> int:
        return self._call("len")

    def __getitem__(self, i: Union[int, slice]) -> Any:
        if isinstance(i, slice):
            return self._call("slice", _opt_index(i.start),
                              _opt_index(i.stop), _opt_index(i.step))
        return self._call("get", _index(i, "list"))

    def __setitem__(self, i: Union[int, slice], v: Any) -> None:
        if not isinstance(i, slice):
            self._call("set", _index(i, "list"), v)
            return
        start, stop, step = (_opt_index(i.start), _opt_index(i.stop),
                             _opt_index(i.step))
        try:
            items = list(v)
        except TypeError:
            raise TypeError("can only assign an iterable to a slice, not "
                            "%s" % type(v).__name__) from None
        if step is None or step == 1:
            self._call("set_slice", start, stop, items)
            return
        if step == 0:
            raise ValueError("slice step cannot be zero")
        sl = slice(start, stop, step)

        def build(raw: list, _res: Callable[[], list]) -> list:
            n = len(range(*sl.indices(len(raw))))
            if n != len(items):
                raise ValueError("attempt to assign sequence of size %d to "
                                 "extended slice of size %d"
                                 % (len(items), n))
            new = list(raw)
            new[sl] = items
            return new
        self._rewrite(build, "list[%r] = ..." % (sl,))

    def __delitem__(self, i: Union[int, slice]) -> None:
        if not isinstance(i, slice):
            self._call("delete", _index(i, "list"))
            return
        start, stop, step = (_opt_index(i.start), _opt_index(i.stop),
                             _opt_index(i.step))
        if step is None or step == 1:
            self._call("del_slice", start, stop)
            return
        if step == 0:
            raise ValueError("slice step cannot be zero")
        sl = slice(start, stop, step)

        def build(raw: list, _res: Callable[[], list]) -> list:
            new = list(raw)
            del new[sl]
            return new
        self._rewrite(build, "del list[%r]" % (sl,))

    def __contains__(self, v: Any) -> bool:
        return self._call("contains", v)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.copy())

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self.copy())

    # ---- list's methods ------------------------------------------------------

    def append(self, v: Any) -> None:
        """Add @v at the end."""
        self._call("append", v)

    def extend(self, items: Iterable[Any]) -> None:
        """Add every item of @items at the end (one call)."""
        self._call("extend", list(items))

    def insert(self, i: int, v: Any) -> None:
        """Insert @v before index @i (clamped to the list, as Python)."""
        self._call("insert", _index(i, "list"), v)

    def pop(self, i: int = -1) -> Any:
        """Remove and return the item at @i (IndexError when out of range
        or empty)."""
        return self._call("pop", _index(i, "list"))

    def remove(self, v: Any) -> None:
        """Remove the first item equal to @v (ValueError when none is)."""
        self._call("remove", v)

    def index(self, v: Any, start: int = 0, stop: Optional[int] = None
              ) -> int:
        """The first position of @v within [start:stop] (ValueError when
        it is not there)."""
        return self._call("index", v, _index(start, "list"),
                          _opt_index(stop))

    def count(self, v: Any) -> int:
        """How many items equal @v."""
        return self._call("count", v)

    def reverse(self) -> None:
        """Reverse the list in place."""
        self._call("reverse")

    def sort(self, *, key: Optional[Callable[[Any], Any]] = None,
             reverse: bool = False) -> None:
        """Sort in place, stably. Without @key the server sorts (TypeError
        for items that do not order); with @key the list is sorted here
        and written back, in one transaction, if nobody changed it
        meanwhile (else it is read again)."""
        if key is None:
            self._call("sort", bool(reverse))
            return

        def build(raw: list, res: Callable[[], list]) -> list:
            items = res()
            order = sorted(range(len(items)), key=lambda j: key(items[j]),
                           reverse=bool(reverse))
            return [raw[j] for j in order]
        self._rewrite(build, "sort")

    def clear(self) -> None:
        """Remove every item."""
        self._call("clear")

    def copy(self) -> list:
        """The items, as a Python list."""
        return self._call("copy")

    def __iadd__(self, other: Iterable[Any]) -> "ListProxy":
        self.extend(other)
        return self

    def __imul__(self, n: int) -> "ListProxy":
        n = _int(n, "the repeat count")
        if n <= 0:
            self.clear()
        elif n > 1:
            self._rewrite(lambda raw, _res: raw * n, "list *= %d" % n)
        return self

    def __add__(self, other: Any) -> list:
        if isinstance(other, ListProxy):
            other = other.copy()
        if not isinstance(other, list):
            return NotImplemented
        return self.copy() + other

    def __radd__(self, other: Any) -> list:
        if not isinstance(other, list):
            return NotImplemented
        return other + self.copy()

    def __mul__(self, n: int) -> list:
        return self.copy() * _int(n, "the repeat count")

    __rmul__ = __mul__

    def __str__(self) -> str:
        return str(self.copy())


# ---------------------------------------------------------------------------
# dict


@register("dict")
class DictProxy(BaseProxy, MutableMapping):
    """A shared dict: Python's dict API (``d[k]``, ``get``, ``pop``,
    ``update``...), keys in insertion order. ``keys()``, ``values()`` and
    ``items()`` are lists (snapshots), as multiprocessing's DictProxy
    returns. Keys are compared as the server does: 1, 1.0 and True are
    three keys; an array key comes back as a tuple. Agora's own:
    ``incr``, ``set`` with a ttl, ``expire``, ``ttl``."""

    def __getitem__(self, k: Any) -> Any:
        try:
            return self._call("getitem", k)
        except AgoraKeyError as e:
            raise _key_error(e, k) from None

    def __setitem__(self, k: Any, v: Any) -> None:
        self._call("set", k, v)

    def __delitem__(self, k: Any) -> None:
        try:
            self._call("delete", k)
        except AgoraKeyError as e:
            raise _key_error(e, k) from None

    def __contains__(self, k: Any) -> bool:
        return self._call("contains", k)

    def __len__(self) -> int:
        return self._call("len")

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def keys(self) -> List[Any]:  # type: ignore[override]
        """The keys, in insertion order (a list)."""
        return [_freeze(k) for k in self._call("keys")]

    def values(self) -> List[Any]:  # type: ignore[override]
        """The values, in the keys' order (a list)."""
        return self._call("values")

    def items(self) -> List[Tuple[Any, Any]]:  # type: ignore[override]
        """``(key, value)`` pairs in insertion order (a list)."""
        return [(_freeze(k), v) for k, v in self._call("items")]

    def get(self, k: Any, default: Any = None) -> Any:
        """The value of @k, or @default when it is missing."""
        if default is None:  # the server's own get: no error to make
            return self._call("get", k)
        try:
            return self._call("getitem", k)
        except AgoraKeyError:
            return default

    _MISSING = object()

    def pop(self, k: Any, default: Any = _MISSING) -> Any:
        """Remove @k and return its value; @default when it is missing
        (KeyError without one)."""
        try:
            return self._call("pop", k)
        except AgoraKeyError as e:
            if default is DictProxy._MISSING:
                raise _key_error(e, k) from None
            return default

    def popitem(self) -> Tuple[Any, Any]:
        """Remove and return the last inserted ``(key, value)`` (KeyError
        when empty)."""
        k, v = self._call("popitem")
        return _freeze(k), v

    def setdefault(self, k: Any, default: Any = None) -> Any:
        """The value of @k, storing @default first when it is missing."""
        return self._call("setdefault", k, default)

    def update(self, other: Any = (), **kw: Any) -> None:  # type: ignore
        """Set every pair of @other (a mapping or pairs) and of @kw, in
        one call."""
        if isinstance(other, DictProxy):
            pairs = other.items()
        elif hasattr(other, "keys"):
            pairs = [(k, other[k]) for k in other.keys()]
        else:
            pairs = []
            for n, p in enumerate(other):
                try:
                    kv = list(p)
                except TypeError:
                    raise TypeError("cannot convert dictionary update "
                                    "sequence element #%d to a sequence: "
                                    "%r" % (n, p)) from None
                if len(kv) != 2:
                    raise ValueError("dictionary update sequence element "
                                     "#%d has length %d; 2 is required"
                                     % (n, len(kv)))
                pairs.append((kv[0], kv[1]))
        pairs.extend(kw.items())
        if pairs:
            self._call("update", _PairsMap(pairs))

    def clear(self) -> None:
        """Remove every key."""
        self._call("clear")

    def copy(self) -> Dict[Any, Any]:
        """The contents as a Python dict (where Python merges keys the
        server keeps apart, 1 and 1.0 and True, the last one's value)."""
        return self._call("copy")

    def __str__(self) -> str:
        return "{%s}" % ", ".join("%r: %r" % kv for kv in self.items())

    # ---- Agora's own -------------------------------------------------------

    def incr(self, k: Any, delta: Union[int, float] = 1) -> Union[int, float]:
        """``d[k] += delta`` atomically (a missing key counts as 0): the
        new value."""
        return self._call("incr", k, delta)

    def set(self, k: Any, v: Any, ttl: Optional[float] = None) -> None:
        """``d[k] = v``; with @ttl the key expires that many seconds from
        now."""
        if ttl is None:
            self._call("set", k, v)
        else:
            self._call("set", k, v, ttl)

    def expire(self, k: Any, seconds: Optional[float]) -> None:
        """Make @k expire @seconds from now (None: never)."""
        try:
            self._call("expire", k, seconds)
        except AgoraKeyError as e:
            raise _key_error(e, k) from None

    def ttl(self, k: Any) -> Optional[float]:
        """Seconds before @k expires, or None when it has no deadline."""
        try:
            return self._call("ttl", k)
        except AgoraKeyError as e:
            raise _key_error(e, k) from None


# ---------------------------------------------------------------------------
# queues


class Delivery:
    """An item taken with :meth:`QueueProxy.take`: it stays the queue's
    until acknowledged. ``id`` names it across deliveries, ``item`` is
    the value, ``deliveries`` how many times it was handed out (1 the
    first time). ``ack()`` is done with it, ``nack()`` gives it back;
    with ``with`` it is acknowledged on a normal exit and given back on
    an exception. Acknowledge from the thread that took it (its
    connection holds it)."""

    __slots__ = ("queue", "id", "item", "deliveries", "done")

    def __init__(self, queue: "QueueProxy", id: int, item: Any,
                 deliveries: int) -> None:
        self.queue = queue
        self.id = id
        self.item = item
        self.deliveries = deliveries
        self.done = False

    def ack(self) -> None:
        """The item is done: it leaves the queue for good."""
        self.queue._call("ack", self.id)
        self.done = True

    def nack(self) -> None:
        """Give the item back: it is the next one delivered."""
        self.queue._call("nack", self.id)
        self.done = True

    def __enter__(self) -> "Delivery":
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        if self.done:
            return
        if et is None:
            self.ack()
        else:
            self.nack()

    def __repr__(self) -> str:
        return "Delivery(id=%d, item=%r, deliveries=%d)" % (
            self.id, self.item, self.deliveries)


@register("queue")
class QueueProxy(BaseProxy):
    """A shared FIFO queue: ``queue.Queue``'s methods, raising
    ``queue.Empty`` and ``queue.Full`` as it does. ``take`` hands out an
    item to acknowledge (:class:`Delivery`)."""

    def put(self, item: Any, block: bool = True,
            timeout: Optional[float] = None) -> None:
        """Put @item, waiting for room up to @timeout (None: for ever);
        queue.Full when there was none."""
        _check_timeout(block, timeout)
        if block and timeout is None:
            self._call("put", item)
        else:
            self._call("put", item, bool(block), timeout)

    def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        """Take the oldest item, waiting up to @timeout (None: for ever);
        queue.Empty when none came."""
        _check_timeout(block, timeout)
        if block and timeout is None:
            return self._call("get")
        return self._call("get", bool(block), timeout)

    def put_nowait(self, item: Any) -> None:
        """put(item, False): queue.Full at once when full."""
        self._call("put_nowait", item)

    def get_nowait(self) -> Any:
        """get(False): queue.Empty at once when empty."""
        return self._call("get_nowait")

    def qsize(self) -> int:
        """The number of items."""
        return self._call("qsize")

    def empty(self) -> bool:
        """Whether the queue holds no item."""
        return self._call("empty")

    def full(self) -> bool:
        """Whether it holds maxsize items (never for an unbounded one)."""
        return self._call("full")

    def peek(self, n: int = 1) -> List[Any]:
        """Up to @n of the oldest items, oldest first, left in the
        queue."""
        return self._call("peek", _int(n, "peek's n"))

    def take(self, block: bool = True, timeout: Optional[float] = None,
             lease: Optional[float] = None) -> Delivery:
        """Take the oldest item to acknowledge: a :class:`Delivery`.
        Waits and raises queue.Empty as ``get``; an item not acknowledged
        within @lease seconds (None: no limit), or when this connection
        ends, goes back to the queue's head."""
        _check_timeout(block, timeout)
        id_, item, n = self._call("take", bool(block), timeout, lease, True)
        return Delivery(self, id_, item, n)

    def pending(self) -> List[Dict[str, Any]]:
        """The items taken and not yet acknowledged: maps with ``id``,
        ``conn``, ``deliveries`` and ``lease``."""
        return self._call("pending")

    @property
    def maxsize(self) -> int:
        """The most items it holds (0: unbounded)."""
        m = self.__dict__.get("_maxsize")
        if m is None:
            m = self._maxsize = self._server("info")["maxsize"]
        return m


@register("joinable_queue")
class JoinableQueueProxy(QueueProxy):
    """A queue that counts unfinished tasks: ``task_done`` and
    ``join``, as multiprocessing's JoinableQueue."""

    def task_done(self) -> None:
        """One item taken with ``get`` is done (ValueError when called
        more times than items were put)."""
        self._call("task_done")

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait until every item put is done: True; False when @timeout
        passed first (None: wait for ever)."""
        if timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        return self._call("join", timeout)


# ---------------------------------------------------------------------------
# value and array


@register("value")
class ValueProxy(BaseProxy):
    """A shared value (``multiprocessing.Value`` of any value): ``value``
    to read and write; ``add``, ``cas`` and ``swap`` are atomic."""

    @property
    def value(self) -> Any:
        """The value (reading and assigning are one call each)."""
        return self._call("get")

    @value.setter
    def value(self, v: Any) -> None:
        self._call("set", v)

    def get(self) -> Any:
        """The value."""
        return self._call("get")

    def set(self, v: Any) -> None:
        """Store @v."""
        self._call("set", v)

    def add(self, delta: Union[int, float] = 1) -> Union[int, float]:
        """Add @delta atomically: the new value."""
        return self._call("add", delta)

    def cas(self, expected: Any, new: Any) -> bool:
        """Store @new if the value equals @expected; whether it did."""
        return self._call("cas", expected, new)

    def swap(self, v: Any) -> Any:
        """Store @v: the old value."""
        return self._call("swap", v)

    def __repr__(self) -> str:
        try:
            return "Value(%r)" % (self.get(),)
        except Exception:
            return BaseProxy.__repr__(self)

    __str__ = __repr__


@register("array")
class ArrayProxy(BaseProxy):
    """A shared fixed-length array of numbers of one typecode
    (``multiprocessing.Array``): indices, slices, iteration. Its length
    never changes: deleting an item is TypeError, assigning a slice of
    another length ValueError."""

    def _len(self) -> int:
        n = self.__dict__.get("_length")
        if n is None:
            n = self._length = self._call("len")
        return n

    def __len__(self) -> int:
        return self._len()

    def __getitem__(self, i: Union[int, slice]) -> Any:
        if not isinstance(i, slice):
            return self._call("get", _index(i, "array"))
        start, stop, step = (_opt_index(i.start), _opt_index(i.stop),
                             _opt_index(i.step))
        if step is None or step == 1:
            return self._call("slice", start, stop)
        if step == 0:
            raise ValueError("slice step cannot be zero")
        idx = range(*slice(start, stop, step).indices(self._len()))
        if not idx:
            return []
        lo = min(idx[0], idx[-1])
        chunk = self._call("slice", lo, max(idx[0], idx[-1]) + 1)
        return [chunk[j - lo] for j in idx]

    def __setitem__(self, i: Union[int, slice], v: Any) -> None:
        if not isinstance(i, slice):
            self._call("set", _index(i, "array"), v)
            return
        start, stop, step = (_opt_index(i.start), _opt_index(i.stop),
                             _opt_index(i.step))
        if step == 0:
            raise ValueError("slice step cannot be zero")
        try:
            items = list(v)
        except TypeError:
            raise TypeError("can only assign an iterable to an array slice, "
                            "not %s" % type(v).__name__) from None
        idx = range(*slice(start, stop, step).indices(self._len()))
        if len(idx) != len(items):
            raise ValueError("Can only assign sequence of same size: %d "
                             "items to a slice of %d" % (len(items),
                                                         len(idx)))
        if not items:
            return
        if step is None or step == 1:
            self._call("set_slice", idx[0], items)
            return
        # An extended slice: one set per element, all in one transaction.
        conn = self._client._conn()
        h = self._handle(conn)
        conn.call("txn", [[], [[self._prefix + "set", [h, j, x]]
                               for j, x in zip(idx, items)]])

    def __delitem__(self, i: Any) -> None:
        raise TypeError("Array does not support item deletion (its length "
                        "is fixed)")

    def __iter__(self) -> Iterator[Any]:
        return iter(self.tolist())

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self.tolist())

    def __contains__(self, v: Any) -> bool:
        return v in self.tolist()

    def tolist(self) -> List[Any]:
        """The elements, as a list."""
        return self._call("copy")

    copy = tolist

    @property
    def typecode(self) -> str:
        """The typecode ("b", "i", "d"...)."""
        t = self.__dict__.get("_typecode")
        if t is None:
            t = self._typecode = self._server("info")["typecode"]
        return t

    def __str__(self) -> str:
        return "array(%r, %r)" % (self.typecode, self.tolist())


# ---------------------------------------------------------------------------
# namespace


@register("namespace")
class NamespaceProxy(BaseProxy):
    """Shared attributes (multiprocessing's Namespace): ``ns.x = 1``,
    ``ns.x``, ``del ns.x``, each one call. Every name that does not start
    with "_" is the namespace's (so BaseProxy's ``name``, ``info()``...
    are reached as ``BaseProxy.info(ns)``); a missing one is
    AttributeError."""

    def __getattribute__(self, attr: str) -> Any:
        if attr.startswith("_"):
            return object.__getattribute__(self, attr)
        try:
            return object.__getattribute__(self, "_call")("get", attr)
        except AgoraKeyError as e:
            raise AttributeError(str(e)) from None

    def __setattr__(self, attr: str, v: Any) -> None:
        if attr.startswith("_"):
            object.__setattr__(self, attr, v)
        else:
            self._call("set", attr, v)

    def __delattr__(self, attr: str) -> None:
        if attr.startswith("_"):
            object.__delattr__(self, attr)
            return
        try:
            self._call("delete", attr)
        except AgoraKeyError as e:
            raise AttributeError(str(e)) from None

    def _items(self) -> Dict[str, Any]:
        """Every attribute and its value, in order (one call)."""
        return self._call("items")

    def __repr__(self) -> str:
        try:
            items = self._items()
        except Exception:
            return BaseProxy.__repr__(self)
        return "Namespace(%s)" % ", ".join(
            "%s=%r" % kv for kv in items.items() if not kv[0].startswith("_"))

    __str__ = __repr__


# ---------------------------------------------------------------------------
# locks, semaphores, conditions, events, barriers


class _Acquirer(BaseProxy):
    """What a lock, a semaphore and a condition share: ``acquire`` with
    threading's arguments, ``release``, and ``with``."""

    def acquire(self, blocking: bool = True,
                timeout: Optional[float] = None) -> bool:
        """Take it (a lock, a permit, a condition's lock): True; False
        when @timeout passed (None or -1: wait for ever) or at once with
        @blocking False."""
        timeout = _acquire_args(blocking, timeout, "acquire")
        if blocking and timeout is None:
            return self._call("acquire")
        return self._call("acquire", bool(blocking), timeout)

    def release(self) -> None:
        """Release it (RuntimeError unless this thread holds it)."""
        self._call("release")

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


@register("lock")
class LockProxy(_Acquirer):
    """A shared lock (``threading.Lock``), held by the thread that took it
    (each thread, each process has its own connection): another thread
    releasing it gets RuntimeError. A holder that dies releases it."""

    def locked(self) -> bool:
        """Whether anyone holds it."""
        return self._call("locked")

    def acquire_fenced(self, blocking: bool = True,
                       timeout: Optional[float] = None) -> Union[int, bool]:
        """``acquire``, answering this acquisition's fencing token (an int
        larger than every earlier holder's) instead of True; False as
        ``acquire``."""
        timeout = _acquire_args(blocking, timeout, "acquire_fenced")
        return self._call("acquire_fenced", bool(blocking), timeout)

    @property
    def fence(self) -> int:
        """The token of the latest acquisition (0 before the first)."""
        return self._server("info")["fence"]

    @property
    def abandoned(self) -> int:
        """How many times a holder's death released it."""
        return self._server("info")["abandoned"]


@register("rlock")
class RLockProxy(LockProxy):
    """A shared re-entrant lock (``threading.RLock``): its holder may
    take it again; it is free once released as many times."""


@register("semaphore")
class SemaphoreProxy(_Acquirer):
    """A shared semaphore (``threading.Semaphore``)."""

    def release(self, n: int = 1) -> None:  # type: ignore[override]
        """Give back @n permits (ValueError for n < 1, or past a bounded
        semaphore's initial count)."""
        self._call("release", _int(n, "release's n"))

    def get_value(self) -> int:
        """The count now."""
        return self._call("value")


@register("bounded_semaphore")
class BoundedSemaphoreProxy(SemaphoreProxy):
    """A shared ``threading.BoundedSemaphore``: releasing past the initial
    count is ValueError."""


@register("condition")
class ConditionProxy(_Acquirer):
    """A shared ``threading.Condition`` over a shared lock or rlock:
    ``acquire``, ``release`` and ``with`` act on that lock."""

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Release the lock, wait to be notified (up to @timeout), take
        the lock back: True when notified, False when the timeout passed.
        RuntimeError unless this thread holds the lock."""
        if timeout is not None and timeout < 0:
            timeout = 0
        return self._call("wait", timeout)

    def wait_for(self, predicate: Callable[[], Any],
                 timeout: Optional[float] = None) -> Any:
        """Wait until @predicate() is true (checked with the lock held,
        after each wake-up), or @timeout passed: its last result."""
        endtime = None
        waittime = timeout
        result = predicate()
        while not result:
            if waittime is not None:
                if endtime is None:
                    endtime = time.monotonic() + waittime
                else:
                    waittime = endtime - time.monotonic()
                    if waittime <= 0:
                        break
            self.wait(waittime)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake @n waiters (RuntimeError unless this thread holds the
        lock)."""
        self._call("notify", _int(n, "notify's n"))

    def notify_all(self) -> None:
        """Wake every waiter."""
        self._call("notify_all")

    notifyAll = notify_all


@register("event")
class EventProxy(BaseProxy):
    """A shared ``threading.Event``."""

    def set(self) -> None:
        """Set the flag: every waiter wakes."""
        self._call("set")

    def clear(self) -> None:
        """Clear the flag."""
        self._call("clear")

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return self._call("is_set")

    isSet = is_set

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the flag is set (True) or @timeout passed (False)."""
        if timeout is not None and timeout < 0:
            timeout = 0
        return self._call("wait", timeout)


@register("barrier")
class BarrierProxy(BaseProxy):
    """A shared ``threading.Barrier``. ``timeout`` (default None) is used
    by a ``wait()`` given none."""

    timeout: Optional[float] = None

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for every party: this one's arrival index (0 to
        parties-1). threading.BrokenBarrierError when the barrier is or
        becomes broken (a timeout breaks it)."""
        if timeout is None:
            timeout = self.timeout
        if timeout is not None and timeout < 0:
            timeout = 0
        return self._call("wait", timeout)

    def reset(self) -> None:
        """Back to empty and not broken (waiters get BrokenBarrierError)."""
        self._call("reset")

    def abort(self) -> None:
        """Break the barrier."""
        self._call("abort")

    @property
    def parties(self) -> int:
        """The number of parties."""
        return self._call("parties")

    @property
    def n_waiting(self) -> int:
        """The parties waiting now."""
        return self._call("n_waiting")

    @property
    def broken(self) -> bool:
        """Whether the barrier is broken."""
        return self._call("broken")

    def __reduce__(self):
        fn, args = BaseProxy.__reduce__(self)
        return (fn, args, {"timeout": self.timeout})


# ---------------------------------------------------------------------------
# topic


@register("topic")
class TopicProxy(BaseProxy):
    """Publish and subscribe: a message goes to the subscriptions the
    topic has when it is published."""

    def publish(self, message: Any) -> int:
        """Send @message to every subscription: how many received it."""
        return self._call("publish", message)

    def subscribe(self):
        """An :class:`agora.Subscription`: an iterator of the messages
        published from now on (on a connection of its own)."""
        from .notify import Subscription
        return Subscription(self)
