"""Urgency tiers: one wording per tier, read from the pack's ``urgency.yaml``.

The file is optional. When a pack has it, the loader checks that every referral
reason and every safety-net line speaks with the wording of its tier: a reason of
tier T contains T's ``phrase`` and no other tier's, and no text uses an ``avoid``
phrase (wording that mixes tiers, such as "within a day or two" for a same-day
review). The header and title of each tier are copied onto the Referral, so the
header, the reasons and the safety net say the same thing.

Each tier also says whether its referral replaces the exercise program
(``blocks_exercise``), with the sources behind that choice or ``design: true``; from
pack format 3 on this is required.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from backrx.errors import Problem
from backrx.readers import safe_yaml

FILE = "urgency.yaml"
URGENCY_ORDER: tuple[str, ...] = ("emergency", "urgent", "routine")


@dataclass(frozen=True)
class Tier:
    """The wording of one urgency tier."""

    urgency: str
    phrase: str
    header: str
    title: str | None
    blocks_exercise: bool | None = None  # None: a format-2 tier, which did not say
    sources: tuple[str, ...] = ()
    design: bool = False


@dataclass(frozen=True)
class Tiers:
    """Every tier's wording and the phrases no text may use."""

    tiers: dict[str, Tier]
    avoid: tuple[str, ...]

    @functools.cached_property
    def blocking(self) -> tuple[str, ...] | None:
        """The tiers whose referral replaces exercise, most urgent first; None if a tier does not say."""
        if any(tier.blocks_exercise is None for tier in self.tiers.values()):
            return None
        return tuple(u for u in URGENCY_ORDER if u in self.tiers and self.tiers[u].blocks_exercise)

    def phrase_problems(self, text: str, urgency: str | None) -> list[str]:
        """Why ``text`` (a reason of ``urgency``, or a safety-net line when None) breaks the wording."""
        low = " ".join(text.lower().split())
        out = [f"it says {bad!r}, which mixes urgency tiers" for bad in self.avoid if bad.lower() in low]
        if urgency is not None and urgency in self.tiers:
            own = self.tiers[urgency].phrase
            if own.lower() not in low:
                out.append(f"a {urgency} reason must say {own!r}")
            for other, tier in self.tiers.items():
                if other != urgency and tier.phrase.lower() in low:
                    out.append(f"a {urgency} reason says {tier.phrase!r}, the wording of the {other} tier")
        return out


def _line(node: Any, key: str | None = None) -> int | None:
    if key is not None and isinstance(node, safe_yaml.LDict):
        return node.key_lines.get(key, node.line)
    return getattr(node, "line", None)


def _text(node: Any, key: str, where: str, problems: list[Problem], *, required: bool = True) -> str | None:
    value = node.get(key) if isinstance(node, dict) else None
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(FILE, _line(node, key), None, "wrong-type",
                                f"{key} must be non-empty text", f"{where}.{key}"))
        return None
    return " ".join(value.split())


def _blocks(node: dict[str, Any], where: str, problems: list[Problem],
            format_version: int) -> tuple[bool | None, tuple[str, ...], bool]:
    """A tier's ``blocks_exercise`` with its ``sources`` or ``design: true``."""
    value = node.get("blocks_exercise")
    sources = node.get("sources", [])
    design = node.get("design", False)
    if value is None:
        if format_version >= 3:
            problems.append(Problem(FILE, _line(node), None, "missing-key",
                                    "a tier says whether its referral replaces the exercise program "
                                    "(blocks_exercise: true or false)", where))
        return None, (), False
    if not isinstance(value, bool):
        problems.append(Problem(FILE, _line(node, "blocks_exercise"), None, "wrong-type",
                                "blocks_exercise takes true or false", f"{where}.blocks_exercise"))
        return None, (), False
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        problems.append(Problem(FILE, _line(node, "sources"), None, "wrong-type",
                                "sources is a list of source ids", f"{where}.sources"))
        sources = []
    if not isinstance(design, bool):
        problems.append(Problem(FILE, _line(node, "design"), None, "wrong-type",
                                "design takes true or false", f"{where}.design"))
        design = False
    if not sources and not design:
        problems.append(Problem(FILE, _line(node, "blocks_exercise"), None, "missing-value",
                                "blocks_exercise cites its sources, or says design: true",
                                f"{where}.blocks_exercise"))
    return value, tuple(sources), design


def read_tiers(doc: Any, problems: list[Problem], format_version: int = 3) -> Tiers | None:
    """Parse ``urgency.yaml``; report problems with file and line."""
    if not isinstance(doc, dict):
        problems.append(Problem(FILE, _line(doc), None, "wrong-type", "expected a mapping"))
        return None
    for key in doc:
        if key not in ("tiers", "avoid", "description"):
            problems.append(Problem(FILE, _line(doc, key), None, "unknown-key", f"unknown key {key!r}", key))
    tiers_node = doc.get("tiers")
    if not isinstance(tiers_node, dict):
        problems.append(Problem(FILE, _line(doc), None, "missing-key", "urgency.yaml needs tiers", "tiers"))
        return None
    tiers: dict[str, Tier] = {}
    for urgency in URGENCY_ORDER:
        node = tiers_node.get(urgency)
        where = f"tiers.{urgency}"
        if not isinstance(node, dict):
            problems.append(Problem(FILE, _line(tiers_node), None, "missing-key",
                                    f"urgency.yaml needs the {urgency} tier", where))
            continue
        for key in node:
            if key not in ("phrase", "header", "title", "blocks_exercise", "sources", "design"):
                problems.append(Problem(FILE, _line(node, key), None, "unknown-key",
                                        f"unknown key {key!r}", f"{where}.{key}"))
        phrase = _text(node, "phrase", where, problems)
        header = _text(node, "header", where, problems)
        title = _text(node, "title", where, problems, required=False)
        if phrase and header and phrase.lower() not in header.lower():
            problems.append(Problem(FILE, _line(node, "header"), None, "urgency-wording",
                                    f"the {urgency} header must say {phrase!r}", f"{where}.header"))
        blocks, sources, design = _blocks(node, where, problems, format_version)
        if phrase and header:
            tiers[urgency] = Tier(urgency, phrase, header, title, blocks, sources, design)
    for key in tiers_node:
        if key not in URGENCY_ORDER:
            problems.append(Problem(FILE, _line(tiers_node, key), None, "unknown-value",
                                    f"{key!r} is not an urgency tier", f"tiers.{key}"))
    avoid_node = doc.get("avoid", [])
    avoid: list[str] = []
    if not isinstance(avoid_node, list) or not all(isinstance(a, str) and a.strip() for a in avoid_node):
        problems.append(Problem(FILE, _line(doc, "avoid"), None, "wrong-type",
                                "avoid must be a list of text", "avoid"))
    else:
        avoid = [" ".join(a.split()) for a in avoid_node]
    if len(tiers) != len(URGENCY_ORDER):
        return None
    return Tiers(tiers, tuple(avoid))


def check_wording(tiers: Tiers, texts: Iterable[tuple[str, int, str, str | None, str, str]],
                  problems: list[Problem]) -> None:
    """Check ``(file, line, rule_id, urgency or None, where, text)`` items against the tiers."""
    for file, line, rule_id, urgency, where, text in texts:
        for why in tiers.phrase_problems(text, urgency):
            problems.append(Problem(file, line, rule_id, "urgency-wording", why, where))
