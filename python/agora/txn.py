"""Transactions: several calls on several objects, all or nothing, guarded
by conditions (docs/protocol.md section 12). Work in progress."""
from __future__ import annotations

from typing import Any, List, NamedTuple

__all__ = ["Transaction", "TxnResult"]


class TxnResult(NamedTuple):
    """What a transaction did: ``succeeded`` (the conditions held and the
    ``then`` calls ran; else the ``orelse`` calls ran) and the ``results``
    of the calls that ran, in order."""
    succeeded: bool
    results: List[Any]


class Transaction:
    """Work in progress."""

    def __init__(self, client: Any) -> None:
        raise NotImplementedError("agora.Transaction: not yet")
