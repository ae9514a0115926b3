"""What the person dislikes (``preferences.dislikes``): passed over, never at the cost of an element.

The pack names, for each activity of the enjoys/dislikes vocabulary, the catalog tags of its
exercises (planner.yaml ``choosing.activities``). The planner tries a rule's other candidates
before a disliked one (`liked_first`), then leaves a disliked exercise out of a phase while
another exercise of its kind (its catalog category) stays there (`spare`). When it is the
only one, it is kept, and the clinician is told (``choosing.disliked_kept``): a dislike never
takes an element (flexibility, balance, strength, aerobic) out of a program.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from backrx.pack.model import CatalogEntry
from backrx.pack.planspec import Choosing


class _Chosen(Protocol):
    entry: CatalogEntry
    rule: Any


Item = TypeVar("Item", bound=_Chosen)


def disliked_ids(choosing: Choosing, catalog: Mapping[str, CatalogEntry],
                 dislikes: Iterable[str]) -> dict[str, str]:
    """Catalog id -> the disliked activity it stands for (empty when nothing is disliked)."""
    wanted = list(dislikes)
    if not wanted:
        return {}
    return choosing.disliked({eid: e.tags for eid, e in catalog.items()}, wanted)


def liked_first(candidates: Sequence[str], disliked: Mapping[str, str]) -> list[str]:
    """``candidates`` in their order, the disliked ones moved last (tried only when no other fits)."""
    return sorted(candidates, key=lambda eid: eid in disliked)


def spare(items: list[Item], disliked: Mapping[str, str],
          phase: str) -> tuple[list[Item], list[tuple[str, str]]]:
    """The items without a disliked exercise that another of its category replaces in the phase;
    and, for each disliked one kept because it is the only one of its kind, (what, rule id)."""
    if not disliked:
        return items, []
    others = {i.entry.category for i in items if i.entry.id not in disliked}
    kept = [i for i in items if i.entry.id not in disliked or i.entry.category not in others]
    notes = [(f"{i.entry.name} ({disliked[i.entry.id].replace('_', ' ')}), {phase} phase", str(i.rule.id))
             for i in kept if i.entry.id in disliked]
    return kept, notes


def kept_warnings(choosing: Choosing, notes: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """One ``disliked_kept`` warning (code, message, rule id) per rule that kept a disliked exercise."""
    if not notes or not choosing.disliked_kept.code:
        return []
    items = "; ".join(dict.fromkeys(what for what, _ in notes))
    message = choosing.disliked_kept.message.format(items=items)
    return [(choosing.disliked_kept.code, message, rid) for rid in dict.fromkeys(r for _, r in notes)]


__all__ = ["disliked_ids", "kept_warnings", "liked_first", "spare"]
