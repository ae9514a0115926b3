"""Which pack texts backrx's code reads, and ``backrx check``'s report of the ones a pack lacks.

Every word an output shows is a text of the pack (``text.yaml``, translated in
``locales/<lang>.yaml``). At run time a key the pack lacks falls back to the bundled pack's
English, so a plan never breaks on a missing word; ``backrx check`` names it instead:

- ``text-key-missing``: the pack's ``text.yaml`` lacks a key the code reads (the renderer and its
  templates, the questionnaire, the CDS Hooks cards, the override notices, the words a rationale
  shows for a value);
- ``translation-missing``: a locale lacks a text the pack has (every locale key of
  `backrx.pack.locale.catalog`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backrx.errors import Problem
from backrx.interop.questionnaire import ANSWER_KEY, ITEM_KEY, item_specs, questionnaire
from backrx.model.vocabulary import URGENCIES
from backrx.pack.locale import catalog
from backrx.pack.model import Pack
from backrx.render.keys import template_fields, template_keys

#: Keys built at run time from a closed vocabulary (the literal ``t("key")`` calls are read from
#: the source by `backrx.render.keys.template_fields`).
_BUILT: tuple[str, ...] = (
    *(f"cds.urgency.{u}" for u in URGENCIES),
    *(f"override.action.{a}" for a in ("drop", "suspend", "regress", "progress")),
    *(f"override.verb.{k}" for k in ("add", "accept", "dose")),
    "questionnaire.title", "questionnaire.description",
)


def questionnaire_keys() -> set[str]:
    """The keys of every item text and answer display of the Questionnaire."""
    keys: set[str] = set()
    by_link = {link: spec for link, spec in item_specs().items() if not link.startswith("/")}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            link = str(item["linkId"])
            spec = by_link.get(link)
            keys.add(ITEM_KEY + (".".join(spec.path) if spec is not None else link))
            options = item.get("answerOption", [])
            keys.update(ANSWER_KEY + str(option["valueCoding"]["code"]) for option in options)
            walk(item.get("item", []))

    walk(questionnaire()["item"])
    return keys


def used_keys() -> set[str]:
    """Every text key backrx's code reads."""
    return template_keys() | set(template_fields()) | questionnaire_keys() | set(_BUILT)


def missing_keys(pack: Pack, root: Path | None) -> list[Problem]:
    """A coded problem for each key the code reads that the pack's ``text.yaml`` lacks (checked when
    the pack at ``root`` has a text.yaml of its own), and for each text a locale lacks."""
    problems: list[Problem] = []
    if root is not None and (root / "text.yaml").is_file():
        problems += [Problem("text.yaml", None, None, "text-key-missing",
                             f"backrx reads the text {key}, which this pack does not have; add it", key)
                     for key in sorted(used_keys() - set(pack.texts))]
    source = catalog(pack)
    for lang, texts in sorted(pack.locales.items()):
        problems += [Problem(f"locales/{lang}.yaml", None, None, "translation-missing",
                             f"{key} has no {lang} translation (English is shown instead); add it", key)
                     for key in sorted(k for k in source if k not in texts)]
    return problems
