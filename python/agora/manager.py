"""agora.Manager: multiprocessing.Manager's interface over a private
agorad. Work in progress."""
from __future__ import annotations

from typing import Any

__all__ = ["Manager"]


class Manager:
    """Work in progress."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        raise NotImplementedError("agora.Manager: not yet")
