"""Jobs for the worker tests: in a module of their own that imports nothing heavy, so a child starts them at once."""

from __future__ import annotations

import os
import time


def allocates(mb: int) -> int:
    block = bytearray(mb * 2**20)
    return len(block)


def sleeps(seconds: float, pid_file: str = "") -> float:
    if pid_file:
        with open(pid_file, "w") as fh:
            fh.write(str(os.getpid()))
    time.sleep(seconds)
    return seconds
