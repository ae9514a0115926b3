"""What the model needs from the rooms above it, handed down at import time.

The model sits below the pack, so it cannot import the pack to read the bundled disclaimer.
``backrx/__init__.py``, which Python runs before any ``backrx.*`` module, hands down a function
that reads it (`provide_disclaimer`); the model calls it when a Recommendation without a
disclaimer is made. The same is done for the output formats (`backrx.model.formats`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_lock = threading.Lock()
_disclaimer: dict[str, Callable[[], str]] = {}


def provide_disclaimer(source: Callable[[], str]) -> None:
    """Set the function that returns the bundled pack's disclaimer (called once, from above)."""
    if not callable(source):
        raise TypeError("provide_disclaimer takes a function")
    with _lock:
        _disclaimer["bundled"] = source


def bundled_disclaimer() -> str:
    """The bundled pack's disclaimer, from the function handed down by `provide_disclaimer`."""
    source = _disclaimer.get("bundled")
    if source is None:  # only if backrx/__init__.py did not run, which Python does not allow
        raise RuntimeError("backrx was not initialised: no source of the bundled disclaimer")
    return source()


__all__ = ["bundled_disclaimer", "provide_disclaimer"]
