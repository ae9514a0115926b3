"""What the model needs from the rooms above it, handed down at import time.

The model sits below the pack, so it cannot import the pack to read the bundled disclaimer.
``backrx/__init__.py``, which Python runs before any ``backrx.*`` module, hands down a function
that reads it (`provide_disclaimer`); the model calls it when a Recommendation without a
disclaimer is made. The same is done for the bundled texts `Dose.describe` words a dose with
(`provide_words`), and for the output formats (`backrx.model.formats`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backrx.model.words import Words

_lock = threading.Lock()
_disclaimer: dict[str, Callable[[], str]] = {}
_words: dict[str, Callable[[], Words]] = {}


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


def provide_words(source: Callable[[], Words]) -> None:
    """Set the function that returns the bundled pack's texts in English (called once, from above)."""
    if not callable(source):
        raise TypeError("provide_words takes a function")
    with _lock:
        _words["bundled"] = source


def bundled_words() -> Words:
    """The bundled pack's texts, from the function handed down by `provide_words` (the words of
    `backrx.model.recommendation.Dose.describe` when it is given none)."""
    source = _words.get("bundled")
    if source is None:  # only if backrx/__init__.py did not run, which Python does not allow
        raise RuntimeError("backrx was not initialised: no source of the bundled texts")
    return source()


__all__ = ["bundled_disclaimer", "bundled_words", "provide_disclaimer", "provide_words"]
