"""Limits that keep a hostile or oversized pack from hanging the loader or the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields

MAX_FILE_BYTES = 2_000_000
#: Bytes read from all the files of a pack together (the bundled pack holds about 0.2 MB).
MAX_PACK_BYTES = 4_000_000
#: YAML items (counted as what opens one: "," newline ":" "[" "{" "- ") in all the files of a
#: pack. Parsing time follows the number of items, not bytes (a 2 MB file of "[1,1,1,...]" is a
#: million of them), so this is what bounds the time to load or refuse a pack. The bundled pack
#: holds about 13,000.
MAX_YAML_ITEMS = 150_000
MAX_FILES = 200
MAX_RULES = 5_000  # MAX_PATTERNS bounds a pack to as many rules anyway
MAX_CONDITION_NODES = 64
MAX_CONDITION_DEPTH = 10
MAX_ALTERNATIVES = 256  # patterns one condition may expand to (see condition.alternatives)
#: Alternatives (durable patterns) summed over every rule of a pack. Memory and load time grow
#: with them (measured on durable_rules: about 27 KB and 0.3 ms each), so the sum is bounded:
#: at this limit a pack loads in about 2 s and takes about 150 MB (docs/rule-pack.md).
MAX_PATTERNS = 5_000
MAX_AT_LEAST_ITEMS = 8
MAX_IN_VALUES = 50
MAX_DERIVED = 100
MAX_TEXT = 4000
MAX_NUMBER = 1e12


@dataclass(frozen=True)
class PackLimits:
    """The size limits the loader holds a whole pack to; the defaults are the constants above.

    The defaults are safe for a pack from anywhere: they bound the time and memory a hostile or
    broken pack can cost before it is refused. Raise them only for a pack you trust (your own
    generated or very large catalog), by passing ``backrx.load_rules(path, limits=PackLimits(...))``;
    a pickled RuleSet carries its limits, so worker processes load it the same way. The limits on
    one condition (nodes, depth, alternatives, ``in`` values, texts, numbers) cannot be raised.

    Raises ``ValueError`` for a limit that is not a positive whole number.
    """

    pack_bytes: int = MAX_PACK_BYTES  #: bytes of all the files together (``pack-too-large``)
    file_bytes: int = MAX_FILE_BYTES  #: bytes of one file (``file-too-large``)
    yaml_items: int = MAX_YAML_ITEMS  #: YAML items in all the files (``pack-too-large``)
    rules: int = MAX_RULES  #: rules in the pack (``too-many-rules``)
    patterns: int = MAX_PATTERNS  #: alternatives summed over every rule (``pack-too-complex``)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if type(value) is not int or value < 1:
                raise ValueError(f"PackLimits.{item.name} must be a positive whole number")


#: The limits every load uses unless its caller raises them.
DEFAULT_LIMITS = PackLimits()
_active: ContextVar[PackLimits] = ContextVar("backrx_pack_limits", default=DEFAULT_LIMITS)


def active() -> PackLimits:
    """The limits of the load running in this thread (the defaults unless raised)."""
    return _active.get()


@contextmanager
def limits_for(limits: PackLimits | None) -> Iterator[PackLimits]:
    """Loads inside the block use ``limits`` (``None``: the defaults); other threads are not
    affected. Raises ``TypeError`` for anything but a `PackLimits` or ``None``."""
    if limits is not None and not isinstance(limits, PackLimits):
        raise TypeError(f"limits must be a backrx.pack.limits.PackLimits, not {type(limits).__name__}")
    token = _active.set(limits or DEFAULT_LIMITS)
    try:
        yield _active.get()
    finally:
        _active.reset(token)
