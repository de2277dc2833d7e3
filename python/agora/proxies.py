"""The proxy of each type, with the Python API of what it stands for.

ListProxy is a MutableSequence, DictProxy a MutableMapping, QueueProxy has
queue.Queue's methods and exceptions, locks are context managers, and so
on (docs/python.md lists them). Each method is one call to the server
(protocol section 4), atomic there.
"""
from __future__ import annotations

from typing import Any

from ._proxy import BaseProxy, register

__all__ = ["ListProxy", "DictProxy"]


@register("list")
class ListProxy(BaseProxy):
    """A shared list (work in progress: the whole API comes next)."""

    def append(self, v: Any) -> None:
        self._call("append", v)

    def __len__(self) -> int:
        return self._call("len")

    def __getitem__(self, i: int) -> Any:
        return self._call("get", i)

    def copy(self) -> list:
        return self._call("copy")


@register("dict")
class DictProxy(BaseProxy):
    """A shared dict (work in progress: the whole API comes next)."""

    def __setitem__(self, k: Any, v: Any) -> None:
        self._call("set", k, v)

    def __getitem__(self, k: Any) -> Any:
        return self._call("getitem", k)

    def copy(self) -> dict:
        return self._call("copy")
