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
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import BaseModel

from backrx._version import __version__
from backrx.model.profile import Profile

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
AGREEMENT: tuple[tuple[str, str], ...] = (("agree", "Agree"), ("disagree", "Disagree"))
#: Item 9, in scale order: the position in this tuple is the Profile's 0..4 value.
BOTHERSOMENESS: tuple[tuple[str, str], ...] = (
    ("not_at_all", "Not at all"),
    ("slightly", "Slightly"),
    ("moderately", "Moderately"),
    ("very_much", "Very much"),
    ("extremely", "Extremely"),
)
#: The answer to a list item that means "asked, none" (the Profile's ``[]``), offered where an
#: unanswered list means something else (``red_flags`` is required; ``findings`` lists are None
#: when not examined).
NO_RED_FLAGS = "none"

# Short form labels. A field without one gets a label made from its name, so a new Profile field
# still gets an item. The STarT Back wording is backrx's paraphrase: the Keele form's own wording is
# copyright, so a clinic that holds a licence can put it in its own Questionnaire.
_LABELS: dict[str, str] = {
    "age": "Age in years",
    "duration_weeks": "How many weeks has this episode of back pain lasted?",
    "stage": "Stage of the episode (when the number of weeks is not known)",
    "pain_site": "Where is the back pain mainly?",
    "leg_pain": "How far down the leg do symptoms go?",
    "bilateral_leg_symptoms": "Are both legs affected?",
    "pain_intensity": "Typical pain over the last week, 0 (none) to 10 (worst imaginable)",
    "tolerance": "How much exercise is tolerated now?",
    "directional_preference": "Repeated movement that eases or centralises the symptoms",
    "centralizes": "Do the symptoms centralise with that movement?",
    "red_flags": "Red flags present (answer 'None of these' when screened and none are present)",
    "findings": "Examination findings (leave out what was not examined)",
    "history": "Medical history (leave out what is not known)",
    "startback": "STarT Back screening (paraphrased items)",
    "startback.leg_pain": "Back pain has spread down one or both legs in the last 2 weeks",
    "startback.shoulder_neck_pain": "Pain in the shoulder or neck in the last 2 weeks",
    "startback.walked_short_distances": "Walked only short distances because of back pain",
    "startback.dressed_slowly": "Dressed more slowly than usual because of back pain",
    "startback.not_safe_to_be_active": "It is not really safe for someone like me to be physically active",
    "startback.worrying_thoughts": "Worrying thoughts have been going through my mind a lot",
    "startback.pain_terrible": "My back pain is terrible and will never get any better",
    "startback.not_enjoying": "I have not enjoyed the things I usually enjoy",
    "startback.bothersomeness": "Overall, how bothersome has the back pain been in the last 2 weeks?",
    "preferences": "Exercise preferences",
}


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


def _label(path: str, description: str | None = None) -> str:
    return _LABELS.get(path) or description or path.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def _display(code: str) -> str:
    return code.replace("_", " ").capitalize()


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


def _leaf(path: str, annotation: Any, metadata: list[Any], required: bool,
          none_option: bool, description: str | None = None) -> tuple[dict[str, Any], ItemSpec]:
    names = tuple(path.split("."))
    item: dict[str, Any] = {"linkId": path, "text": _label(path, description)}
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
        displays = tuple("None of these" if c == NO_RED_FLAGS else _display(c) for c in codes)
        item["type"] = "choice"
        item["answerOption"] = [_coding(path, c, d) for c, d in zip(codes, displays, strict=True)]
        spec = ItemSpec(path, names, "choice", repeats, codes, displays)
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


def _startback_items() -> tuple[list[dict[str, Any]], list[ItemSpec]]:
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
            "text": _label(path),
            "type": "choice",
            "answerOption": [_coding(system_key, c, d) for c, d in scale],
        })
        specs.append(ItemSpec(
            code, ("startback", name), "bothersomeness" if name == "bothersomeness" else "agreement",
            codes=tuple(c for c, _ in scale), displays=tuple(d for _, d in scale)))
    return items, specs


def _model_items(model: type[BaseModel], prefix: str) -> tuple[list[dict[str, Any]], list[ItemSpec]]:
    items: list[dict[str, Any]] = []
    specs: list[ItemSpec] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        base, metadata = _unwrap(field.annotation)
        metadata = list(field.metadata) + metadata
        if path == "startback":
            children, child_specs = _startback_items()
            items.append({"linkId": path, "code": [{"system": LOINC, "code": STARTBACK_PANEL}],
                          "text": _label(path), "type": "group", "item": children})
            specs.extend(child_specs)
        elif isinstance(base, type) and issubclass(base, BaseModel):
            children, child_specs = _model_items(base, path + ".")
            items.append({"linkId": path, "text": _label(path), "type": "group", "item": children})
            specs.extend(child_specs)
        elif (listed := _listed_model(base)) is not None:
            # A list of objects (e.g. scored activities): a group that repeats, once per object.
            children, child_specs = _model_items(listed, path + ".")
            items.append({"linkId": path, "text": _label(path), "type": "group", "repeats": True,
                          "item": children})
            specs.extend(child_specs)
        else:
            required = field.is_required()
            item, spec = _leaf(path, base, metadata, required, required or field.default is None,
                               field.description)
            items.append(item)
            specs.append(spec)
    return items, specs


def questionnaire() -> dict[str, Any]:
    """The backrx profile Questionnaire (FHIR R4 JSON data), generated from the Profile model."""
    items, _ = _model_items(Profile, "")
    return {
        "resourceType": "Questionnaire",
        "id": "backrx-profile",
        "url": QUESTIONNAIRE_URL,
        "version": __version__,
        "name": "BackrxProfile",
        "title": "backrx back-pain profile",
        "status": "active",
        "subjectType": ["Patient"],
        "description": (
            "The answers backrx needs to recommend an exercise program for back pain. Each linkId "
            "is the Profile field's dotted path; the STarT Back items use their LOINC codes. "
            "An item left out is unanswered, never a 'no'. backrx does not diagnose."
        ),
        "item": items,
    }


def item_specs() -> dict[str, ItemSpec]:
    """Every answerable item by linkId (STarT Back items also under ``/<LOINC>``)."""
    _, specs = _model_items(Profile, "")
    found: dict[str, ItemSpec] = {}
    for spec in specs:
        found[spec.link_id] = spec
        if spec.kind in ("agreement", "bothersomeness"):
            found["/" + spec.link_id] = spec
    return found


def repeating_groups() -> frozenset[str]:
    """The linkIds of groups that repeat: each occurrence is one object of a list field."""
    found: set[str] = set()

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item["type"] == "group":
                if item.get("repeats"):
                    found.add(item["linkId"])
                walk(item["item"])

    walk(questionnaire()["item"])
    return frozenset(found)


def group_ids() -> frozenset[str]:
    """The linkIds of the groups (the STarT Back panel also by its LOINC code)."""
    ids = {"startback", STARTBACK_PANEL, "/" + STARTBACK_PANEL}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item["type"] == "group":
                ids.add(item["linkId"])
                walk(item["item"])

    walk(questionnaire()["item"])
    return frozenset(ids)
