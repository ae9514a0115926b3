"""The do-not-do list as a report shows it: which items apply to a recommendation, in its words.

`donotdo_for` is what a handout renders (the context key ``donotdo``): the heading and, per
item, the plain sentence in the person's language, with the clinician's line and the sources
beside it. The items and every word come from the pack (``donotdo.yaml`` and its locales).
"""

from __future__ import annotations

from typing import Any

from backrx.model.recommendation import Recommendation
from backrx.pack.model import Pack

__all__ = ["donotdo_for"]


def donotdo_for(pack: Pack, rec: Recommendation, locale: str | None = None) -> dict[str, Any]:
    """The do-not-do items that apply to ``rec``: ``{"heading": str, "items": [{"id", "text",
    "name", "advice", "sources"}]}``, ``text`` in ``locale`` (default: the recommendation's own;
    English where the pack's locale lacks it).

    Nothing applies when a referral replaced the program (the referral speaks for itself); an item
    marked ``unless_referred`` (imaging) is left out whenever the plan carries a referral, and an
    item a clinician added for this person (an acknowledged ``intervention`` override) is not
    contradicted.
    """
    words = pack.locales.get(locale or rec.locale, {})
    book = pack.donotdo
    items: list[dict[str, Any]] = []
    recorded = {o.intervention for o in rec.overrides if o.kind == "intervention"}
    if rec.program is not None:
        for item in book.items:
            if (item.unless_referred and rec.referral is not None) or item.id in recorded:
                continue
            items.append({"id": item.id, "text": words.get(f"text.donotdo.{item.id}.patient", item.patient),
                          "name": item.name, "advice": item.advice, "sources": list(item.sources)})
    heading = words.get("text.donotdo.heading", book.heading) if book.heading else ""
    return {"heading": heading, "items": items}
