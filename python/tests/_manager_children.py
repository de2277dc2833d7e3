"""Targets of the processes test_manager.py starts (spawn needs them in an
importable module)."""
from __future__ import annotations

import os
from typing import Any


def fill(d: Any, lst: Any, i: int) -> None:
    """What the seeds' workers do: d[pid] = ppid, the list gets the pid."""
    d[os.getpid()] = os.getppid()
    lst.append(i)
