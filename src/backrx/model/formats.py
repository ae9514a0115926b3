"""One registry of output formats for a Recommendation.

The model offers ``rec.explain()``, ``rec.to_markdown()`` and ``rec.to_fhir()``, but the renderers
sit in rooms above it and import it, so the model never names them. The registry starts empty and
is filled from above: ``backrx/__init__.py`` (which Python runs before any ``backrx.*`` module)
registers the built-in formats with loaders that import their renderer when first used. An
application adds its own format with `register_format`; the CLI's ``--format`` choices come from
this table, and the CLI writes every format through it (``--view`` only where a format has views).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

#: The formats backrx itself registers (from ``backrx/__init__.py``); they cannot be unregistered.
BUILT_IN_FORMATS: tuple[str, ...] = ("text", "md", "html", "fhir", "cert", "ics")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*\Z")
_RESERVED = ("json",)  # the Recommendation itself, written by the CLI without a renderer


@dataclass(frozen=True)
class Format:
    """An output format: its name, a loader that returns the rendering function, what it produces,
    and the views (audiences) it can be asked for (empty: one view, ``--view`` is refused).

    The renderer is called as ``render(rec, rules=...)``; a format with views is also given
    ``view=`` (None: its default), ``template_dir=`` and ``paper=``.
    """

    name: str
    load: Callable[[], Callable[..., Any]]
    produces: str
    views: tuple[str, ...] = ()

    def renderer(self) -> Callable[..., Any]:
        """The rendering function (the loader imports it when first asked for)."""
        return self.load()


_formats: dict[str, Format] = {}
_lock = threading.Lock()

#: The format table, read-only (writing to it raises ``TypeError``); add to it with `register_format`.
FORMATS: Mapping[str, Format] = MappingProxyType(_formats)


def register_format(fmt: Format) -> Format:
    """Add ``fmt`` to the format table; return it.

    Raises ``TypeError`` for anything but a `Format` (or a loader that is not a function)
    and ``ValueError`` for a malformed name, an empty description or a name already taken.
    """
    if not isinstance(fmt, Format) or not callable(fmt.load):
        raise TypeError("register_format takes a Format whose load is a function")
    if not _NAME.match(fmt.name) or fmt.name in _RESERVED:
        raise ValueError(f"format name {fmt.name!r} must be lower-case letters, digits, - or _, "
                         f"and not {', '.join(_RESERVED)}")
    if not fmt.produces.strip():
        raise ValueError(f"format {fmt.name!r} needs a description of what it produces")
    if not isinstance(fmt.views, tuple) or not all(isinstance(v, str) and _NAME.match(v) for v in fmt.views):
        raise ValueError(f"format {fmt.name!r}: views must be a tuple of lower-case names")
    with _lock:
        if fmt.name in _formats:
            raise ValueError(f"a format named {fmt.name!r} is already registered")
        _formats[fmt.name] = fmt
    return fmt


def unregister_format(name: str) -> None:
    """Remove a format added with `register_format` (``KeyError`` for a built-in or unknown name)."""
    with _lock:
        if name in BUILT_IN_FORMATS or name not in _formats:
            raise KeyError(name)
        del _formats[name]


def renderer(name: str) -> Callable[..., Any]:
    """The function that renders format ``name``; ValueError names the known formats."""
    found = FORMATS.get(name)
    if found is None:
        raise ValueError(f"unknown format {name!r}; formats are {', '.join(sorted(FORMATS))}")
    return found.renderer()


__all__ = ["BUILT_IN_FORMATS", "FORMATS", "Format", "register_format", "renderer", "unregister_format"]
