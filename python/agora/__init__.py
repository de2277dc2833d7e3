"""Agora for Python: shared objects served by agorad.

``agora.Manager()`` is a drop-in for ``multiprocessing.Manager()``: it
starts a private agorad and makes dicts, lists, queues, values, arrays,
namespaces, locks, semaphores, conditions, events and barriers whose
proxies pass to ``multiprocessing.Process`` children (fork and spawn).
``agora.connect(address, authkey)`` reaches a running agorad, where
unrelated programs, in C or Python, share objects by name.

docs/python.md: install, the migration from multiprocessing.Manager, the
API.
"""
from __future__ import annotations

from ._proxy import BaseProxy
from ._wire import Ref
from .client import Client, connect
from .errors import (AgoraIndexError, AgoraKeyError, AgoraTypeError,
                     AgoraValueError, ArgsError, AuthError, BrokenError,
                     CancelledError, ConnectionLost, DeniedError, Empty,
                     Error, ExistsError, Full, LimitError, NoMethodError,
                     NoObjectError, NotOwnerError, ProtocolError,
                     ShutdownError, StorageError, TxnFailed, VersionError)
from .manager import Manager
from .notify import Subscription, Watch
from .proxies import *  # noqa: F401,F403  (the proxy classes)
from .proxies import __all__ as _proxies_all
from .txn import Transaction, TxnResult

__version__ = "0.1.0"  # the project's, meson.build's

__all__ = [
    "Manager", "Client", "connect", "BaseProxy", "Ref", "Transaction",
    "TxnResult", "Watch", "Subscription",
    "Error", "ProtocolError", "AuthError", "VersionError", "NoMethodError",
    "ArgsError", "NoObjectError", "AgoraTypeError", "AgoraKeyError",
    "AgoraIndexError", "AgoraValueError", "Empty", "Full", "NotOwnerError",
    "BrokenError", "LimitError", "ShutdownError", "ExistsError",
    "DeniedError", "StorageError", "CancelledError", "ConnectionLost",
    "TxnFailed",
] + list(_proxies_all)
