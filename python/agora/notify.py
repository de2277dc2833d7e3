"""Watches and topic subscriptions as iterators (protocol section 11).
Work in progress."""
from __future__ import annotations

from typing import Any

__all__ = ["Watch", "Subscription"]


class Watch:
    """Work in progress."""

    def __init__(self, client: Any, obj: Any, **kw: Any) -> None:
        raise NotImplementedError("agora.Watch: not yet")


class Subscription:
    """Work in progress."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        raise NotImplementedError("agora.Subscription: not yet")
