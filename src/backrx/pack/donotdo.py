"""donotdo.yaml: interventions the guidance advises against in routine care (issue 28).

Each item names an intervention (traction, TENS, a lumbar brace, ...), the clinician's line, the
plain sentence the person reads, and its sources. backrx never prescribes any of them; an override
that adds one needs an acknowledgement with a reason (`backrx.overrides.override`). The patient
sentences join the pack's texts under ``donotdo.<id>.patient`` (and the heading under
``donotdo.heading``), so a locale translates them like any other text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from backrx.pack.read import Ctx, Known, check_keys, join, line_of, str_list, text_value

__all__ = ["FILE", "DoNotDo", "DoNotDoBook", "read_donotdo"]

FILE = "donotdo.yaml"
_TOP_KEYS = ("description", "heading", "interventions")
_ITEM_KEYS = ("id", "name", "advice", "patient", "unless_referred", "sources")
_ID = re.compile(r"^[a-z][a-z0-9-]{0,60}\Z")
MAX_ITEMS = 100


@dataclass(frozen=True)
class DoNotDo:
    """One intervention advised against in routine care."""

    id: str
    name: str
    advice: str  # the clinician's line
    patient: str  # the plain sentence, in the pack's own language
    unless_referred: bool  # not stated to a person whose plan carries a referral
    sources: tuple[str, ...]


@dataclass(frozen=True)
class DoNotDoBook:
    """The do-not-do list of a pack (empty when the pack has no donotdo.yaml)."""

    heading: str = ""
    items: tuple[DoNotDo, ...] = ()

    def get(self, intervention: str) -> DoNotDo | None:
        return next((i for i in self.items if i.id == intervention), None)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.items)


def read_donotdo(ctx: Ctx, doc: Any, known: Known) -> tuple[DoNotDoBook, dict[str, str]]:
    """The book, and the texts it adds to the pack (heading and patient sentences)."""
    if not check_keys(ctx, doc, "", ("heading", "interventions"), _TOP_KEYS):
        return DoNotDoBook(), {}
    heading = text_value(ctx, doc, "heading", "") or ""
    node = doc["interventions"]
    if not isinstance(node, list) or len(node) > MAX_ITEMS:
        ctx.add(line_of(doc, "interventions"), "wrong-type",
                f"interventions is a list of at most {MAX_ITEMS} items", "interventions")
        return DoNotDoBook(), {}
    items: list[DoNotDo] = []
    texts = {"donotdo.heading": heading} if heading else {}
    for i, item in enumerate(node):
        where = f"interventions[{i}]"
        if not check_keys(ctx, item, where, ("id", "name", "advice", "patient", "sources"), _ITEM_KEYS):
            continue
        ident = item["id"]
        if not isinstance(ident, str) or not _ID.match(ident):
            ctx.add(line_of(item, "id"), "bad-id", "an intervention id is lower-case words joined by "
                    "hyphens", join(where, "id"))
            continue
        if any(d.id == ident for d in items):
            ctx.add(line_of(item, "id"), "duplicate-id", f"intervention {ident} is listed twice",
                    join(where, "id"))
            continue
        unless = item.get("unless_referred", False)
        if not isinstance(unless, bool):
            ctx.add(line_of(item, "unless_referred"), "wrong-type", "unless_referred is true or false",
                    join(where, "unless_referred"))
            continue
        sources = str_list(ctx, item, "sources", where)
        if not sources:
            ctx.add(line_of(item, "sources"), "missing-value", "each intervention cites a source",
                    join(where, "sources"))
        for s in sources:
            known.refs.append(("source", s, line_of(item, "sources"), join(where, "sources"), None, ctx.file))
        words = [text_value(ctx, item, key, where) for key in ("name", "advice", "patient")]
        if any(w is None for w in words) or not sources:
            continue
        name, advice, patient = (" ".join(str(w).split()) for w in words)
        items.append(DoNotDo(ident, name, advice, patient, unless, tuple(sources)))
        texts[f"donotdo.{ident}.patient"] = patient
    return DoNotDoBook(heading, tuple(items)), texts
