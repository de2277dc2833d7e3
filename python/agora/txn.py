"""Transactions: several calls on several objects, all or nothing, guarded
by conditions (docs/protocol.md section 12).

::

    t = client.transaction()
    t.compare(stock, "getitem", ["apples"], ">=", 3)   # conditions ...
    t.held(lease)
    t.then(stock, "incr", "apples", -3)                # ... then these calls
    t.then(orders, "append", {"apples": 3})
    t.orelse(rejected, "append", "apples")             # ... else these
    r = t.run()              # TxnResult(succeeded=True, results=[7, None])

The server runs the chosen branch with nothing else in between, and
either every call of it takes effect or none does: a call that fails
undoes the ones before it and :meth:`Transaction.run` raises that call's
exception, whose ``where`` is ``{"branch": "then", "call": i}``.

A transaction runs on the connection of the thread that calls ``run``
(``held`` and ``fence`` ask whether *that* connection holds the lock, so
run it in the thread that acquired it). It refers to the objects by their
proxies and to methods by name; nothing is sent before ``run``, and a
transaction may be run again (each run sends what it holds then).
"""
from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ._proxy import PROXY_TYPES, BaseProxy
from .errors import TxnFailed

__all__ = ["Transaction", "TxnResult"]

# The comparison operators of a condition and their wire names.
_OPS: Dict[str, str] = {
    "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge",
    "eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge",
}


class TxnResult(NamedTuple):
    """What a transaction did: ``succeeded`` (the conditions held and the
    ``then`` calls ran; else the ``orelse`` calls ran) and the ``results``
    of the calls that ran, in order (references as proxies)."""
    succeeded: bool
    results: List[Any]


def _check_obj(obj: Any, what: str) -> BaseProxy:
    if not isinstance(obj, BaseProxy):
        raise TypeError("transaction %s: expected an Agora proxy (a shared "
                        "object), got %r" % (what, obj))
    return obj


def _check_method(method: Any, what: str) -> str:
    if not isinstance(method, str) or not method:
        raise TypeError("transaction %s: the method must be a method name "
                        "(a str like 'get'), not %r" % (what, method))
    return method


def _check_params(params: Any, what: str) -> List[Any]:
    if params is None:
        return []
    if not isinstance(params, (list, tuple)):
        raise TypeError("transaction %s: params must be a list or tuple of "
                        "the method's params after the object, not %r"
                        % (what, params))
    return list(params)


class _Call(NamedTuple):
    obj: BaseProxy
    method: str
    params: Tuple[Any, ...]


class Transaction:
    """A transaction of @client (``client.transaction()``): conditions,
    the calls to make when they all hold (``then``), and those to make
    otherwise (``orelse``); ``run()`` sends it as one ``txn`` request.

    Methods are named without the object's type (``"get"``, ``"set"``:
    they go as ``dict.get``, ``dict.set``); a name with a dot is sent as
    it is (``"queue.put"`` on a joinable_queue). Each building method
    returns the transaction, so calls chain. Wrong building input (an
    operator, an object that is not a proxy, a method that is not a name)
    raises at once, naming it.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._conditions: List[Tuple[Any, ...]] = []
        self._then: List[_Call] = []
        self._else: List[_Call] = []

    # ---- building ------------------------------------------------------

    def compare(self, obj: BaseProxy, method: str,
                params: Optional[Sequence[Any]], op: str,
                value: Any) -> "Transaction":
        """A condition: the read call @method of @obj with @params (a list
        of the params after the object) answers a result that compares to
        @value by @op: ``"=="``, ``"!="``, ``"<"``, ``"<="``, ``">"``,
        ``">="`` (or ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``).

        A missing key, index or item (KEY, INDEX, EMPTY) makes ``!=`` hold
        and the others not; any other error of the read call fails the
        transaction (``run`` raises it). Values compare as the server
        compares them (protocol section 6): an int never equals a float
        (``1 != 1.0``) but they order by value; a list and a tuple are
        both arrays; values that do not order (a str and an int, None)
        make ``<`` fail the transaction with AgoraTypeError."""
        _check_obj(obj, "compare")
        _check_method(method, "compare")
        ps = _check_params(params, "compare")
        wire = _OPS.get(op) if isinstance(op, str) else None
        if wire is None:
            raise ValueError("transaction compare: unknown operator %r "
                             "(expected one of ==, !=, <, <=, >, >= or "
                             "eq, ne, lt, le, gt, ge)" % (op,))
        self._conditions.append((wire, obj, method, ps, value))
        return self

    def exists(self, obj: BaseProxy, method: str,
               params: Optional[Sequence[Any]] = None) -> "Transaction":
        """A condition: the read call answers without an error (a key, an
        index, an item is there)."""
        _check_obj(obj, "exists")
        _check_method(method, "exists")
        ps = _check_params(params, "exists")
        self._conditions.append(("exists", obj, method, ps))
        return self

    def missing(self, obj: BaseProxy, method: str,
                params: Optional[Sequence[Any]] = None) -> "Transaction":
        """A condition: the read call answers KEY, INDEX or EMPTY (nothing
        there); any other error fails the transaction."""
        _check_obj(obj, "missing")
        _check_method(method, "missing")
        ps = _check_params(params, "missing")
        self._conditions.append(("missing", obj, method, ps))
        return self

    def held(self, lock: BaseProxy) -> "Transaction":
        """A condition: the connection that runs the transaction (the
        calling thread's) holds @lock (a lock or rlock)."""
        _check_lock(lock, "held")
        self._conditions.append(("held", lock))
        return self

    def fence(self, lock: BaseProxy, token: int) -> "Transaction":
        """A condition: @lock is held, and @token (from its
        ``acquire_fenced``) is the fencing token of its current
        acquisition: whoever was given @token has not lost it since."""
        _check_lock(lock, "fence")
        if isinstance(token, bool) or not isinstance(token, int):
            raise TypeError("transaction fence: the token must be an int "
                            "(acquire_fenced's), not %r" % (token,))
        self._conditions.append(("fence", lock, token))
        return self

    def then(self, obj: BaseProxy, method: str,
             *params: Any) -> "Transaction":
        """A call to make, in order, when every condition holds (or there
        are none): @method of @obj with @params, as the proxy's method
        would send them. Calls that may wait are refused by the server
        (ArgsError): give ``block=False`` params, or use ``get_nowait``."""
        _check_obj(obj, "then")
        _check_method(method, "then")
        self._then.append(_Call(obj, method, params))
        return self

    def orelse(self, obj: BaseProxy, method: str,
               *params: Any) -> "Transaction":
        """A call to make, in order, when some condition does not hold."""
        _check_obj(obj, "orelse")
        _check_method(method, "orelse")
        self._else.append(_Call(obj, method, params))
        return self

    def reset(self) -> "Transaction":
        """Forget every condition and call (to build another one)."""
        self._conditions.clear()
        self._then.clear()
        self._else.clear()
        return self

    def __len__(self) -> int:
        """The conditions and calls (the server's ``--max-txn`` bounds
        them, 1024 by default)."""
        return len(self._conditions) + len(self._then) + len(self._else)

    def __repr__(self) -> str:
        return "<agora.Transaction %d conditions, %d then, %d else>" % (
            len(self._conditions), len(self._then), len(self._else))

    # ---- running -------------------------------------------------------

    def run(self, check: bool = False) -> TxnResult:
        """Send the transaction (on the calling thread's connection) and
        return what it did: ``TxnResult(succeeded, results)``.

        With @check, conditions that did not hold raise
        :class:`agora.TxnFailed` instead (its ``result`` is the
        TxnResult: the ``orelse`` calls did run). A call or read call that
        fails raises its own exception (KeyError for a missing key...),
        with ``e.where == {"branch": "then", "call": i}`` (or "else",
        "conditions"), and nothing was done."""
        client = self._client
        conn = client._conn()
        types: Dict[int, str] = {}
        conds: List[List[Any]] = []
        for c in self._conditions:
            kind = c[0]
            if kind in ("held", "fence"):
                conds.append([kind, c[1]._handle(conn), *c[2:]])
            else:
                obj, method, params = c[1], c[2], c[3]
                conds.append([kind, _wire_method(obj, method, types),
                              [obj._handle(conn), *params], *c[4:]])
        branches = []
        for calls in (self._then, self._else):
            branches.append([
                [_wire_method(obj, method, types),
                 [obj._handle(conn), *params]]
                for obj, method, params in calls])
        r = conn.call("txn", [conds, branches[0], branches[1]])
        if conn.saw_ref:
            r = client._resolve(r, conn)
        result = TxnResult(bool(r["succeeded"]), list(r["results"]))
        if check and not result.succeeded:
            e = TxnFailed("transaction: the conditions did not hold; %s"
                          % ("the orelse calls ran" if self._else else
                             "nothing was done"))
            e.result = result  # type: ignore[attr-defined]
            raise e
        return result


def _check_lock(lock: Any, what: str) -> None:
    _check_obj(lock, what)
    if lock._type not in ("lock", "rlock") and lock._type in PROXY_TYPES:
        raise TypeError("transaction %s: expected a lock or rlock proxy, "
                        "got %r" % (what, lock))


def _wire_method(obj: BaseProxy, method: str, types: Dict[int, str]) -> str:
    """TYPE.METHOD for @method of @obj: the proxy's type, or the one its
    object has for a proxy of a type this client has no class for."""
    if "." in method:
        return method
    t = obj._type
    if t not in PROXY_TYPES:
        key = id(obj)
        t = types.get(key) or ""
        if not t:
            t = types[key] = obj.info()["type"]
    return t + "." + method
