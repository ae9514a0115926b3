"""Pausing Python's cyclic garbage collector while a batch runs.

backrx makes no reference cycles, so reference counting frees everything a batch drops; the
collector would only re-scan the RuleSet's caches and the caller's growing list of results again
and again (measured: about a third of a batch's time). Reference counting goes on as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(pause: bool = True) -> Iterator[None]:
    """The collector is off inside the block (when ``pause`` and it was on), and on again after."""
    paused = pause and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
