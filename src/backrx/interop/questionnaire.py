"""The FHIR Questionnaire that backrx reads a profile from, generated from the Profile model.

The Profile model stays the one source of the field vocabulary: every profile field becomes an
item whose ``linkId`` is the field's dotted path (``age``, ``findings.straight_leg_raise_deg``),
whose type follows the field's type, and whose answer options are the field's closed vocabulary.
The STarT Back items are the exception: their linkIds are the LOINC codes of the STarT Back panel
(91349-1), so a QuestionnaireResponse from another STarT Back form can be read too.

This module builds plain JSON data and needs no FHIR library; `backrx.interop.fhir` reads answers
against it.
"""

from __future__ import annotations

import datetime
import functools
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import BaseModel

from backrx._version import __version__
from backrx.model.profile import Profile
from backrx.pack.texts import Texts

if TYPE_CHECKING:
    from backrx.ruleset import RuleSet

#: Canonical URL of the questionnaire. backrx owns no web domain, so its identifiers are URNs;
#: they are local to backrx and registered nowhere.
QUESTIONNAIRE_URL = "urn:backrx:questionnaire:profile"
#: Prefix of backrx's local code systems: ``urn:backrx:<linkId>`` holds the codes of one item.
SYSTEM_PREFIX = "urn:backrx:"
LOINC = "http://loinc.org"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"

#: STarT Back panel and its nine items, in the Keele form's order (items 1 to 9).
STARTBACK_PANEL = "91349-1"
STARTBACK_ITEMS: tuple[tuple[str, str], ...] = (
    ("91340-0", "leg_pain"),
    ("91341-8", "shoulder_neck_pain"),
    ("91342-6", "walked_short_distances"),
    ("91343-4", "dressed_slowly"),
    ("91344-2", "not_safe_to_be_active"),
    ("91345-9", "worrying_thoughts"),
    ("91346-7", "pain_terrible"),
    ("91347-5", "not_enjoying"),
    ("91348-3", "bothersomeness"),
)
#: The answers of the STarT Back items 1-8, by code (their words are the pack's
#: ``questionnaire.answer.<code>`` texts).
AGREEMENT: tuple[str, ...] = ("agree", "disagree")
#: Item 9, in scale order: the position in this tuple is the Profile's 0..4 value.
BOTHERSOMENESS: tuple[str, ...] = ("not_at_all", "slightly", "moderately", "very_much", "extremely")
#: The answer to a list item that means "asked, none" (the Profile's ``[]``), offered where an
#: unanswered list means something else (``red_flags`` is required; ``findings`` lists are None
#: when not examined).
NO_RED_FLAGS = "none"
#: Where the words live: every item's text is the pack text ``questionnaire.item.<path>`` (its
#: dotted Profile path; the STarT Back items under ``startback.<name>``) and every answer's
#: display is ``questionnaire.answer.<code>``. The STarT Back wording is backrx's paraphrase: the
#: Keele form's own wording is copyright, so a clinic that holds a licence can put it in its own
#: Questionnaire. A field the pack has no text for (a new Profile field) still gets an item, worded
#: from its description, and ``backrx check`` names the missing key.
ITEM_KEY = "questionnaire.item."
ANSWER_KEY = "questionnaire.answer."
_Words = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ItemSpec:
    """What the importer knows of one answerable item."""

    link_id: str
    path: tuple[str, ...]
    kind: Literal["boolean", "integer", "decimal", "string", "date", "choice", "agreement",
                  "bothersomeness"]
    repeats: bool = False
    codes: tuple[str, ...] = ()
    displays: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # displays an older questionnaire gave these codes, also read


def _label(words: _Words, path: str, description: str | None = None) -> str:
    return words(ITEM_KEY + path) or description or path.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def _legacy(code: str) -> str:
    """The display backrx's questionnaire gave a code before its words moved to the pack."""
    return "None of these" if code == NO_RED_FLAGS else code.replace("_", " ").capitalize()


def _display(words: _Words, code: str) -> str:
    return words(ANSWER_KEY + code) or _legacy(code)




def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip Optional and Annotated; return the bare type and its constraints."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            args = get_args(annotation)
            annotation = args[0]
            for extra in args[1:]:
                metadata.extend(getattr(extra, "metadata", [extra]))
            continue
        if origin in (Union, types.UnionType):
            rest = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(rest) == 1:
                annotation = rest[0]
                continue
        return annotation, metadata


def _bounds(metadata: list[Any], value_key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in metadata:
        if isinstance(item, Ge):
            out.append({"url": MIN_VALUE, value_key: item.ge})
        elif isinstance(item, Le):
            out.append({"url": MAX_VALUE, value_key: item.le})
    return out


def _coding(link_id: str, code: str, display: str) -> dict[str, Any]:
    return {"valueCoding": {"system": SYSTEM_PREFIX + link_id, "code": code, "display": display}}


def _leaf(words: _Words, path: str, annotation: Any, metadata: list[Any], required: bool,
          none_option: bool, description: str | None = None) -> tuple[dict[str, Any], ItemSpec]:
    names = tuple(path.split("."))
    item: dict[str, Any] = {"linkId": path, "text": _label(words, path, description)}
    repeats = get_origin(annotation) is list
    base, inner_meta = _unwrap(get_args(annotation)[0]) if repeats else (annotation, [])
    metadata = metadata + inner_meta
    spec: ItemSpec
    if base is bool:
        item["type"] = "boolean"
        spec = ItemSpec(path, names, "boolean")
    elif base is int:
        item["type"] = "integer"
        spec = ItemSpec(path, names, "integer")
        if bounds := _bounds(metadata, "valueInteger"):
            item["extension"] = bounds
    elif base is str:
        item["type"] = "string"
        spec = ItemSpec(path, names, "string")
    elif base is datetime.date:
        item["type"] = "date"
        spec = ItemSpec(path, names, "date")
    elif base is float:
        item["type"] = "decimal"
        spec = ItemSpec(path, names, "decimal")
        if bounds := _bounds(metadata, "valueDecimal"):
            item["extension"] = bounds
    elif get_origin(base) is Literal:
        codes = tuple(str(code) for code in get_args(base))
        if repeats and none_option:
            codes = (*codes, NO_RED_FLAGS)
        displays = tuple(_display(words, c) for c in codes)
        item["type"] = "choice"
        item["answerOption"] = [_coding(path, c, d) for c, d in zip(codes, displays, strict=True)]
        spec = ItemSpec(path, names, "choice", repeats, codes, displays, tuple(map(_legacy, codes)))
    else:  # pragma: no cover - a new field type needs a mapping here
        raise TypeError(f"no questionnaire item type for {path}: {annotation!r}")
    if repeats:
        item["repeats"] = True
    if required:
        item["required"] = True
    return item, spec


def _listed_model(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is not list:
        return None
    inner, _ = _unwrap(get_args(annotation)[0])
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _startback_items(words: _Words) -> tuple[list[dict[str, Any]], list[ItemSpec]]:
    items: list[dict[str, Any]] = []
    specs: list[ItemSpec] = []
    for number, (code, name) in enumerate(STARTBACK_ITEMS, start=1):
        path = f"startback.{name}"
        scale = BOTHERSOMENESS if name == "bothersomeness" else AGREEMENT
        system_key = "startback.bothersomeness" if name == "bothersomeness" else "startback.agreement"
        items.append({
            "linkId": code,
            "code": [{"system": LOINC, "code": code}],
            "prefix": str(number),
            "text": _label(words, path),
            "type": "choice",
            "answerOption": [_coding(system_key, c, _display(words, c)) for c in scale],
        })
        specs.append(ItemSpec(
            code, ("startback", name), "bothersomeness" if name == "bothersomeness" else "agreement",
            codes=scale, displays=tuple(_display(words, c) for c in scale),
            aliases=tuple(map(_legacy, scale))))
    return items, specs


def _model_items(words: _Words, model: type[BaseModel],
                 prefix: str) -> tuple[list[dict[str, Any]], list[ItemSpec]]:
    items: list[dict[str, Any]] = []
    specs: list[ItemSpec] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        base, metadata = _unwrap(field.annotation)
        metadata = list(field.metadata) + metadata
        if path == "startback":
            children, child_specs = _startback_items(words)
            items.append({"linkId": path, "code": [{"system": LOINC, "code": STARTBACK_PANEL}],
                          "text": _label(words, path), "type": "group", "item": children})
            specs.extend(child_specs)
        elif isinstance(base, type) and issubclass(base, BaseModel):
            children, child_specs = _model_items(words, base, path + ".")
            items.append({"linkId": path, "text": _label(words, path), "type": "group", "item": children})
            specs.extend(child_specs)
        elif (listed := _listed_model(base)) is not None:
            # A list of objects (e.g. scored activities): a group that repeats, once per object.
            children, child_specs = _model_items(words, listed, path + ".")
            items.append({"linkId": path, "text": _label(words, path), "type": "group", "repeats": True,
                          "item": children})
            specs.extend(child_specs)
        else:
            required = field.is_required()
            item, spec = _leaf(words, path, base, metadata, required, required or field.default is None,
                               field.description)
            items.append(item)
            specs.append(spec)
    return items, specs


def questionnaire(*, locale: str = "en", rules: RuleSet | None = None) -> dict[str, Any]:
    """The backrx profile Questionnaire (FHIR R4 JSON data), generated from the Profile model.

    Its title, items and answers are the texts of ``rules`` (the bundled pack by default) in
    ``locale`` (a language the pack ships; `backrx.RuleError` ``unknown-locale`` otherwise). The
    linkIds and codes are the same in every language.
    """
    from backrx.interop._words import words as _pack_words

    texts = _pack_words(rules, locale)
    items, _ = _model_items(texts.get, Profile, "")
    return {
        "resourceType": "Questionnaire",
        "id": "backrx-profile",
        "url": QUESTIONNAIRE_URL,
        "version": __version__,
        "name": "BackrxProfile",
        "title": texts("questionnaire.title"),
        "status": "active",
        "subjectType": ["Patient"],
        "description": texts("questionnaire.description"),
        "item": items,
    }


@dataclass(frozen=True)
class ItemNode:
    """One item of the questionnaire's tree, without its words."""

    link_id: str
    type: str
    repeats: bool
    children: tuple[ItemNode, ...]


@functools.cache
def _layout() -> tuple[tuple[ItemNode, ...], types.MappingProxyType[str, ItemSpec]]:
    """The item tree (linkIds, types and children only: the same in every language) and the
    answerable items with English displays, built once from the Profile model (they depend on
    nothing else, and an importer needs them on every call)."""
    items, specs = _model_items(Texts().get, Profile, "")

    def node(item: dict[str, Any]) -> ItemNode:
        return ItemNode(item["linkId"], item["type"], bool(item.get("repeats")),
                        tuple(node(child) for child in item.get("item", ())))

    found: dict[str, ItemSpec] = {}
    for spec in specs:
        found[spec.link_id] = spec
        if spec.kind in ("agreement", "bothersomeness"):
            found["/" + spec.link_id] = spec
    return tuple(node(item) for item in items), types.MappingProxyType(found)


def item_tree() -> tuple[ItemNode, ...]:
    """The questionnaire's items as a tree of linkIds, types and children (built once)."""
    return _layout()[0]


def item_specs() -> dict[str, ItemSpec]:
    """Every answerable item by linkId (STarT Back items also under ``/<LOINC>``), with the bundled
    pack's English answer displays (an importer reads codes first, then these displays)."""
    return dict(_layout()[1])


def _groups(items: tuple[ItemNode, ...]) -> Iterator[ItemNode]:
    """Every group of ``items``, nested ones included, in order."""
    for item in items:
        if item.type == "group":
            yield item
            yield from _groups(item.children)


@functools.cache
def repeating_groups() -> frozenset[str]:
    """The linkIds of groups that repeat: each occurrence is one object of a list field."""
    return frozenset(group.link_id for group in _groups(item_tree()) if group.repeats)


@functools.cache
def group_ids() -> frozenset[str]:
    """The linkIds of the groups (the STarT Back panel also by its LOINC code)."""
    return frozenset({"startback", STARTBACK_PANEL, "/" + STARTBACK_PANEL,
                      *(group.link_id for group in _groups(item_tree()))})
