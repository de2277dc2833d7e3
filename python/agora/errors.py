"""Exceptions: one class per error of the wire protocol (docs/protocol.md,
section 5), each also the Python exception a Python program would catch
for the same mistake.

Every exception Agora raises derives from :class:`Error`. Those with a
Python counterpart derive from it too, so ``except KeyError`` catches a
missing dict key whether the dict is a Python dict or an Agora one, and
``except queue.Empty`` a queue that stayed empty. ``str(e)`` is the
server's sentence, which names the wrong value; ``e.code`` and ``e.name``
are the protocol's code and name (decide by them, never by the sentence).
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Dict, Optional, Type

__all__ = [
    "Error", "ProtocolError", "AuthError", "VersionError", "NoMethodError",
    "ArgsError", "NoObjectError", "AgoraTypeError", "AgoraKeyError",
    "AgoraIndexError", "AgoraValueError", "Empty", "Full", "NotOwnerError",
    "BrokenError", "LimitError", "ShutdownError", "ExistsError",
    "DeniedError", "StorageError", "CancelledError", "ConnectionLost",
    "TxnFailed", "from_wire",
]


class Error(Exception):
    """An error the server answered, or a connection that failed.

    ``code`` and ``name``: the protocol's (section 5), e.g. 8 and "KEY";
    0 and "CONNECTION" for a connection that failed on this side.
    ``message``: the server's sentence, also ``str(e)``.
    ``where``: for a failed call of a transaction, ``{"branch": ...,
    "call": i}`` (protocol section 12), else None.
    """

    code = 0
    name = "ERROR"

    def __init__(self, message: str, code: Optional[int] = None,
                 name: Optional[str] = None,
                 where: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if name is not None:
            self.name = name
        self.where = where

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # picklable, for errors sent between processes
        return (_rebuild, (type(self), self.message, self.code, self.name,
                           self.where))


def _rebuild(cls, message, code, name, where):
    return cls(message, code, name, where)


class ProtocolError(Error):
    """PROTOCOL: the bytes broke the protocol; the connection is closed."""
    code, name = 1, "PROTOCOL"


class AuthError(Error, PermissionError):
    """AUTH: a wrong key (or user), or the server's proof was wrong."""
    code, name = 2, "AUTH"


class VersionError(Error):
    """VERSION: the server does not speak this protocol version."""
    code, name = 3, "VERSION"


class NoMethodError(Error, AttributeError):
    """NO_METHOD: the server has no such method (an older server)."""
    code, name = 4, "NO_METHOD"


class ArgsError(Error, TypeError):
    """ARGS: wrong number or kind of arguments, an unknown option."""
    code, name = 5, "ARGS"


class NoObjectError(Error, LookupError):
    """NO_OBJECT: the object is gone (dropped and freed, a wrong
    reference), or ``create=False`` of a name nobody made."""
    code, name = 6, "NO_OBJECT"


class AgoraTypeError(Error, TypeError):
    """TYPE: a value or object of the wrong kind (a name opened as
    another type, ``incr`` of a str, an unhashable dict key)."""
    code, name = 7, "TYPE"


class AgoraKeyError(Error, KeyError):
    """KEY: a missing dict key or namespace attribute. ``e.args[0]`` is
    the key when the proxy knows it (as Python's KeyError)."""
    code, name = 8, "KEY"

    def __str__(self) -> str:  # KeyError's own quotes the key
        return self.message


class AgoraIndexError(Error, IndexError):
    """INDEX: a list or array index out of range."""
    code, name = 9, "INDEX"


class AgoraValueError(Error, ValueError):
    """VALUE: the right kind but a wrong value."""
    code, name = 10, "VALUE"


class Empty(Error, queue.Empty):
    """EMPTY: the queue stayed empty (``queue.Empty`` catches it)."""
    code, name = 11, "EMPTY"


class Full(Error, queue.Full):
    """FULL: the queue stayed full (``queue.Full`` catches it)."""
    code, name = 12, "FULL"


class NotOwnerError(Error, RuntimeError):
    """NOT_OWNER: releasing a lock (or permits) this process does not
    hold; ``threading.Lock`` raises RuntimeError for the same."""
    code, name = 13, "NOT_OWNER"


class BrokenError(Error, threading.BrokenBarrierError):
    """BROKEN: the barrier is broken (``threading.BrokenBarrierError``)."""
    code, name = 14, "BROKEN"


class LimitError(Error, MemoryError):
    """LIMIT: a configured limit of the server would be exceeded."""
    code, name = 15, "LIMIT"


class ShutdownError(Error):
    """SHUTDOWN: the server is stopping; the call was not done."""
    code, name = 16, "SHUTDOWN"


class ExistsError(Error, FileExistsError):
    """EXISTS: ``exclusive=True`` of a name that exists."""
    code, name = 17, "EXISTS"


class DeniedError(Error, PermissionError):
    """DENIED: this user lacks the right, or may not reach the name."""
    code, name = 18, "DENIED"


class StorageError(Error, OSError):
    """STORAGE: the server could not make the change durable (disk full);
    nothing changed."""
    code, name = 19, "STORAGE"


class CancelledError(Error):
    """CANCELLED: a waiting call withdrawn by ``cancel``; it did nothing."""
    code, name = 20, "CANCELLED"


class ConnectionLost(Error, ConnectionError):
    """The connection to the server failed or closed. A call that was
    sent may or may not have been done."""
    code, name = 0, "CONNECTION"


class TxnFailed(Error):
    """Raised by :meth:`agora.Transaction.run` with ``check=True`` when the
    conditions did not hold (nothing was done)."""
    code, name = 0, "TXN"


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls for cls in (
        ProtocolError, AuthError, VersionError, NoMethodError, ArgsError,
        NoObjectError, AgoraTypeError, AgoraKeyError, AgoraIndexError,
        AgoraValueError, Empty, Full, NotOwnerError, BrokenError,
        LimitError, ShutdownError, ExistsError, DeniedError, StorageError,
        CancelledError)
}


def from_wire(err: Any) -> Error:
    """The exception for an error array ``[code, name, message]`` (and a
    fourth element, a transaction's ``{"branch", "call"}``) as the server
    sends it; an unknown code (a later server's) gives a plain Error."""
    try:
        code, name, message = err[0], err[1], err[2]
    except (TypeError, IndexError, KeyError):
        return ProtocolError("malformed error from the server: %r" % (err,))
    where = err[3] if len(err) > 3 and isinstance(err[3], dict) else None
    cls = _BY_CODE.get(code, Error)
    return cls(str(message), code, str(name), where)
