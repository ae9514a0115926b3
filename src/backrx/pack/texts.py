"""The words reports put around a pack's own texts: headings, labels, risk and urgency wording.

They live in the pack's ``text.yaml`` (a flat ``text:`` mapping of dotted keys to text), so a
clinic can reword them and a translation can replace them; nothing a patient reads is a Python
literal. A text may hold ``{name}`` placeholders, filled by the renderer.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

_KEY = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*\Z")
_FORMATTER = string.Formatter()
MAX_TEXT = 4000


class _Collector(Protocol):
    def add(self, line: int | None, code: str, message: str, where: str = "") -> None: ...


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders in a text."""
    return {name for _, name, _, _ in _FORMATTER.parse(text) if name}


def read_texts(ctx: _Collector, doc: Any, root: Path | None = None) -> dict[str, str]:
    """The ``text:`` mapping of a parsed text.yaml; problems go to ``ctx`` (None: no file, no texts)."""
    from backrx.pack.read import line_of as _line_of

    if doc is None:
        return {}
    if not isinstance(doc, dict) or set(doc) - {"text", "description"} or "text" not in doc:
        ctx.add(_line_of(doc), "unknown-field", "text.yaml holds a `text:` mapping (and an optional "
                "description)")
        return {}
    items = doc["text"]
    if not isinstance(items, dict):
        ctx.add(_line_of(doc, "text"), "wrong-type", "text must be a mapping of key: text", "text")
        return {}
    out: dict[str, str] = {}
    for key, value in items.items():
        where = f"text.{key}"
        if not isinstance(key, str) or not _KEY.match(key):
            ctx.add(_line_of(items, key), "bad-id", f"text key {key!r} must be dotted lower-case words",
                    where)
            continue
        if not isinstance(value, str) or not value.strip():
            ctx.add(_line_of(items, key), "wrong-type", f"{key} must be non-empty text", where)
            continue
        if len(value) > MAX_TEXT:
            ctx.add(_line_of(items, key), "too-long", f"{key} is longer than {MAX_TEXT} characters", where)
            continue
        try:
            placeholders(value)
        except ValueError as exc:
            ctx.add(_line_of(items, key), "bad-template", f"{key}: {exc}", where)
            continue
        out[key] = re.sub(r"\s+", " ", value)
    return out


@functools.lru_cache(maxsize=1)
def bundled_texts() -> Mapping[str, str]:
    """The bundled pack's texts (the fallback for a pack without its own text.yaml)."""
    from backrx import _yaml
    from backrx.errors import Problem, RuleError
    from backrx.pack.read import Ctx as _Ctx
    from backrx.pack.read import bundled_path

    path = bundled_path() / "text.yaml"
    problems: list[Problem] = []
    texts = read_texts(_Ctx(problems, "text.yaml"), _yaml.load(path.read_text(encoding="utf-8"), path.name))
    if problems:  # pragma: no cover - the bundled pack is checked by its tests
        raise RuleError(problems)
    return texts


class Texts:
    """Looks texts up by key: the pack's own first, then the bundled pack's."""

    def __init__(self, own: Mapping[str, str] | None = None) -> None:
        self._own = dict(own or {})
        self._base = bundled_texts()

    def __call__(self, key: str, **values: object) -> str:
        """The text for ``key`` with its placeholders filled; a missing key raises ``KeyError``."""
        text = self._own.get(key) or self._base[key]
        return text.format(**values) if values else text

    def get(self, key: str) -> str | None:
        """The text for ``key``, or None when no pack has it."""
        return self._own.get(key) or self._base.get(key)
