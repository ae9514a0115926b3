"""FHIR in: a QuestionnaireResponse to backrx's Questionnaire, read into a Profile.

Bad FHIR input raises ``pydantic.ValidationError`` whose locations name the item by its linkId,
e.g. ``item.91348-3.answer``; nothing else escapes. ``fhir.resources`` (R4B models, the nearest it
has to R4) checks the structure; backrx checks the answers against its Questionnaire.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from backrx._input import MAX_INPUT_BYTES, loads
from backrx.interop._fhir import CONDITION_CLINICAL, CONDITION_VERIFICATION, RED_FLAG_SYSTEM, models
from backrx.interop.questionnaire import (
    NO_RED_FLAGS,
    QUESTIONNAIRE_URL,
    SYSTEM_PREFIX,
    ItemSpec,
    group_ids,
    item_specs,
    repeating_groups,
)
from backrx.model.profile import RED_FLAGS, Profile

__all__ = ["from_fhir", "to_questionnaire_response"]

_SCORED_STATUSES = ("completed", "amended")


def _error(kind: str, message: str, loc: tuple[str | int, ...], value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


def _raise(title: str, errors: Sequence[InitErrorDetails]) -> None:
    if errors:
        raise ValidationError.from_exception_data(title, list(errors))


def _named(loc: Sequence[str | int], data: Any) -> tuple[str | int, ...]:
    """A pydantic location in raw FHIR data, with each item's list index replaced by its linkId."""
    out: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        parent = loc[index - 1] if index else None
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            link = node.get("linkId") if isinstance(node, dict) else None
            out.append(link if parent == "item" and isinstance(link, str) else part)
            continue
        node = node.get(part) if isinstance(node, dict) and isinstance(part, str) else None
        out.append(part)
    return tuple(out)


def _as_data(resource: Any, what: str) -> Any:
    if isinstance(resource, (str, bytes, bytearray)):
        if len(resource) > MAX_INPUT_BYTES:
            _raise(what, [_error("fhir-json", f"the document is larger than {MAX_INPUT_BYTES} bytes",
                                 (), len(resource))])
        try:
            # A repeated key is refused, naming it: keeping the last one could drop an answer.
            return loads(resource)
        except ValueError as exc:
            _raise(what, [_error("fhir-json", f"not valid JSON: {exc}", (), str(resource)[:80])])
    dump = getattr(resource, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return resource


def _validate(r4b: ModuleType, data: Mapping[str, Any], expected: str,
              loc: tuple[str | int, ...] = ()) -> None:
    got = data.get("resourceType")
    if got != expected:
        _raise(expected, [_error("fhir-wrong-resource-type",
                                 f"expected a {expected} resource, got resourceType {got!r}",
                                 (*loc, "resourceType"), got)])
    try:
        r4b.get_fhir_model_class(expected).model_validate(data)
    except ValidationError as exc:
        errors = [_error(e["type"], e["msg"], (*loc, *_named(e["loc"], data)), e.get("input"))
                  for e in exc.errors()]
        _raise(expected, errors)


def _value(answer: Mapping[str, Any]) -> tuple[str, Any]:
    keys = [key for key in answer if key.startswith("value")]
    if len(keys) != 1:
        return "", None
    return keys[0], answer[keys[0]]


def _choose(spec: ItemSpec, coding: Mapping[str, Any], any_system_display: bool) -> str | None:
    system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
    ours = system is None or str(system).startswith(SYSTEM_PREFIX)
    if ours and code in spec.codes:
        return str(code)
    if (ours or any_system_display) and isinstance(display, str):
        for known_code, known_display in zip(spec.codes, spec.displays, strict=True):
            if display.strip().casefold() == known_display.casefold():
                return known_code
    return None


def _answer(spec: ItemSpec, key: str, value: Any) -> Any:
    """The Profile value of one answer, or raise ValueError with what this item takes."""
    kind = spec.kind
    if kind == "boolean" and key == "valueBoolean" and isinstance(value, bool):
        return value
    if kind == "integer" and key == "valueInteger" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if (kind == "decimal" and key in ("valueDecimal", "valueInteger")
            and isinstance(value, (int, float)) and not isinstance(value, bool)):
        return float(value)
    if kind == "string" and key == "valueString" and isinstance(value, str):
        return value
    if kind == "date" and key == "valueDate" and isinstance(value, str) and len(value) == 10:
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise ValueError("takes a full date (valueDate, YYYY-MM-DD)") from None
    if kind == "choice":
        code = None
        if key == "valueCoding" and isinstance(value, Mapping):
            code = _choose(spec, value, any_system_display=False)
        elif key == "valueString" and value in spec.codes:
            code = value
        if code is not None:
            return code
        raise ValueError(f"takes one of {', '.join(spec.codes)} (valueCoding or valueString)")
    if kind == "agreement":
        if key == "valueBoolean" and isinstance(value, bool):
            return value
        if key == "valueInteger" and value in (0, 1) and not isinstance(value, bool):
            return value == 1
        code = None
        if key == "valueCoding" and isinstance(value, Mapping):
            code = _choose(spec, value, any_system_display=True)
        elif key == "valueString" and value in spec.codes:
            code = value
        if code is not None:
            return code == "agree"
        raise ValueError("takes agree or disagree (valueCoding), true/false (valueBoolean) or "
                         "1/0 (valueInteger)")
    if kind == "bothersomeness":
        if key == "valueInteger" and value in range(5) and not isinstance(value, bool):
            return value
        code = None
        if key == "valueCoding" and isinstance(value, Mapping):
            code = _choose(spec, value, any_system_display=True)
        elif key == "valueString" and value in spec.codes:
            code = value
        if code is not None:
            return spec.codes.index(code)
        raise ValueError(f"takes one of {', '.join(spec.codes)} (valueCoding or valueString) or "
                         "0..4 (valueInteger, 0 = not at all)")
    expected = {"boolean": "valueBoolean", "integer": "valueInteger",
                "decimal": "valueDecimal", "string": "valueString",
                "date": "valueDate (YYYY-MM-DD)"}[kind]
    raise ValueError(f"takes {expected}")


def _red_flags(conditions: Iterable[Any], codes: Mapping[tuple[str, str], str],
               r4b: ModuleType, errors: list[InitErrorDetails]) -> tuple[list[str], list[str]]:
    """Red flags the Conditions state: (present, suspected). A suspected one is provisional,
    differential or unconfirmed."""
    found: list[str] = []
    suspected: list[str] = []
    for index, raw in enumerate(conditions):
        data = _as_data(raw, "Condition")
        if not isinstance(data, Mapping):
            errors.append(_error("fhir-not-a-resource", "a Condition must be a JSON object",
                                 ("conditions", index), str(data)[:80]))
            continue
        try:
            _validate(r4b, data, "Condition", ("conditions", index))
        except ValidationError as exc:
            errors.extend(_error(e["type"], e["msg"], e["loc"], e.get("input")) for e in exc.errors())
            continue
        clinical = {c.get("code") for c in (data.get("clinicalStatus") or {}).get("coding", [])
                    if c.get("system") == CONDITION_CLINICAL}
        verification = {c.get("code") for c in (data.get("verificationStatus") or {}).get("coding", [])
                        if c.get("system") == CONDITION_VERIFICATION}
        if clinical and not clinical & {"active", "recurrence", "relapse"}:
            continue
        if verification & {"refuted", "entered-in-error"}:
            continue
        unsure = bool(verification & {"provisional", "differential", "unconfirmed"}) and not (
            verification & {"confirmed"})
        for coding in (data.get("code") or {}).get("coding", []):
            system, code = coding.get("system"), coding.get("code")
            flag = codes.get((system, code))
            if flag is None and system == RED_FLAG_SYSTEM and code in RED_FLAGS:
                flag = code
            into = suspected if unsure else found
            if flag is not None and flag not in into:
                into.append(flag)
    return found, [flag for flag in suspected if flag not in found]


def from_fhir(resource: Any, *, conditions: Iterable[Any] = (),
              condition_codes: Mapping[tuple[str, str], str] | None = None) -> Profile:
    """A Profile from a QuestionnaireResponse to backrx's Questionnaire (``backrx schema questionnaire``).

    ``resource`` is a QuestionnaireResponse, or a Bundle holding exactly one, as a dict, JSON
    text or a ``fhir.resources`` model; the Bundle's Conditions are read too. STarT Back items are
    matched by their LOINC linkIds (``91340-0`` or ``/91340-0``); an item left out stays
    unanswered (None), never "no". Active Conditions coded in ``urn:backrx:red_flags``, or mapped
    by ``condition_codes`` (``{(system, code): red_flag}``), add red flags. Bad input raises
    ``pydantic.ValidationError`` naming the item's linkId.
    """
    r4b = models()
    data = _as_data(resource, "QuestionnaireResponse")
    if not isinstance(data, Mapping):
        _raise("QuestionnaireResponse", [_error("fhir-not-a-resource",
                                                "a FHIR resource must be a JSON object",
                                                (), str(data)[:80])])
    extra_conditions: list[Any] = []
    if data.get("resourceType") == "Bundle":
        _validate(r4b, data, "Bundle")
        found = [e.get("resource") for e in data.get("entry", [])
                 if (e.get("resource") or {}).get("resourceType") == "QuestionnaireResponse"]
        extra_conditions = [e.get("resource") for e in data.get("entry", [])
                            if (e.get("resource") or {}).get("resourceType") == "Condition"]
        if len(found) != 1:
            _raise("Bundle", [_error("fhir-questionnaire-response-count",
                                     "the Bundle must hold exactly one QuestionnaireResponse, "
                                     f"it holds {len(found)}",
                                     ("entry",), len(found))])
        data = found[0]
    _validate(r4b, data, "QuestionnaireResponse")
    errors: list[InitErrorDetails] = []
    status = data.get("status")
    if status not in _SCORED_STATUSES:
        errors.append(_error("fhir-status", f"only a completed or amended QuestionnaireResponse is read, "
                                            f"this one is {status!r}", ("status",), status))
    questionnaire = data.get("questionnaire")
    if questionnaire is not None and str(questionnaire).split("|")[0] != QUESTIONNAIRE_URL:
        errors.append(_error("fhir-questionnaire", f"answers a different Questionnaire ({questionnaire}); "
                                                   f"backrx reads {QUESTIONNAIRE_URL}",
                             ("questionnaire",), questionnaire))
    specs, groups = item_specs(), group_ids()
    profile: dict[str, Any] = {}
    repeating = repeating_groups()
    red_flags_answered = False

    def walk(items: Sequence[Mapping[str, Any]], target: dict[str, Any], offset: int,
             seen: set[tuple[str, ...]]) -> None:
        """Read ``items`` into ``target``, whose own path is the first ``offset`` parts of each item's."""
        nonlocal red_flags_answered
        for item in items:
            link = item["linkId"]
            if link in groups:
                if item.get("answer"):
                    errors.append(_error("fhir-answer-type", f"item {link!r} is a group and takes no answer",
                                         ("item", link, "answer"), None))
                if link in repeating:
                    # One occurrence of a repeating group is one object of a list field.
                    path = tuple(link.split("."))
                    instance: dict[str, Any] = {}
                    walk(item.get("item", []), instance, len(path), set())
                    if instance:
                        node = target
                        for part in path[offset:-1]:
                            node = node.setdefault(part, {})
                        node.setdefault(path[-1], []).append(instance)
                else:
                    walk(item.get("item", []), target, offset, seen)
                continue
            spec = specs.get(link)
            if spec is None:
                errors.append(_error("fhir-unknown-item",
                                     f"unknown item linkId {link!r}: the backrx Questionnaire has no such "
                                     "item (see `backrx schema questionnaire`)", ("item", link), link))
                continue
            if spec.path in seen:
                errors.append(_error("fhir-duplicate-item", f"item {link!r} is answered twice",
                                     ("item", link), link))
                continue
            seen.add(spec.path)
            answers = item.get("answer") or []
            if not answers:
                continue  # unanswered stays unanswered
            if len(answers) > 1 and not spec.repeats:
                errors.append(_error("fhir-answer-count",
                                     f"item {link!r} takes one answer, got {len(answers)}",
                                     ("item", link, "answer"), len(answers)))
                continue
            values: list[Any] = []
            for answer in answers:
                key, value = _value(answer)
                try:
                    values.append(_answer(spec, key, value))
                except ValueError as exc:
                    errors.append(_error("fhir-answer-type", f"item {link!r} {exc}; got {key or 'no value'}",
                                         ("item", link, "answer"), value))
                    break
            if len(values) < len(answers):
                continue
            if spec.path == ("red_flags",):
                red_flags_answered = True
            if spec.repeats and NO_RED_FLAGS in values and NO_RED_FLAGS in spec.codes:
                if len(values) > 1:
                    errors.append(_error("fhir-answer-conflict",
                                         f"item {link!r}: 'none' cannot go with other answers",
                                         ("item", link, "answer"), values))
                values = []
            node = target
            for part in spec.path[offset:-1]:
                node = node.setdefault(part, {})
            node[spec.path[-1]] = values if spec.repeats else values[0]

    walk(data.get("item", []), profile, 0, set())
    flags, suspected = _red_flags([*extra_conditions, *conditions], condition_codes or {}, r4b, errors)
    _raise("QuestionnaireResponse", errors)
    if not red_flags_answered and suspected:
        # Not screened, but a red flag is suspected: read it as present, the safer side.
        flags, suspected = [*flags, *suspected], []
    if suspected and "red_flags_unsure" not in Profile.model_fields:
        flags, suspected = [*flags, *suspected], []
    if flags:
        profile["red_flags"] = [*profile.get("red_flags", []), *(f for f in flags
                                                                 if f not in profile.get("red_flags", []))]
    if suspected:
        unsure = [f for f in suspected if f not in profile["red_flags"]]
        profile["red_flags_unsure"] = [*profile.get("red_flags_unsure", []),
                                       *(f for f in unsure if f not in profile.get("red_flags_unsure", []))]
    if not flags and not red_flags_answered:
        _raise("QuestionnaireResponse", [_error(
            "fhir-red-flags-unanswered",
            "item 'red_flags' is unanswered: answer 'none' when the person was screened and has none",
            ("item", "red_flags"), None)])
    by_path = {spec.path: link for link, spec in specs.items() if not link.startswith("/")}

    def item_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
        # A Profile location as the item's linkId (list positions, as in repeated groups, kept).
        path = tuple(str(part) for part in loc if not isinstance(part, int))
        if path not in by_path:
            return loc
        return ("item", by_path[path], *(part for part in loc if isinstance(part, int)))

    try:
        return Profile.model_validate(profile)
    except ValidationError as exc:
        named = [_error(e["type"], e["msg"], item_loc(e["loc"]), e.get("input")) for e in exc.errors()]
        _raise("QuestionnaireResponse", named)
        raise  # pragma: no cover - _raise always raises here


def to_questionnaire_response(profile: Profile, *, subject: str | None = None) -> dict[str, Any]:
    """A completed QuestionnaireResponse to backrx's Questionnaire holding ``profile``'s answers.

    The inverse of :func:`from_fhir` (for tests and integrations); needs no FHIR library.
    """
    from backrx.interop.questionnaire import questionnaire

    data = profile.model_dump(mode="json", exclude_unset=True)
    specs = item_specs()

    def answer(spec: ItemSpec, value: Any) -> dict[str, Any]:
        if spec.kind == "boolean":
            return {"valueBoolean": value}
        if spec.kind == "integer":
            return {"valueInteger": value}
        if spec.kind == "decimal":
            return {"valueDecimal": value}
        if spec.kind == "string":
            return {"valueString": value}
        if spec.kind == "date":
            return {"valueDate": value}
        if spec.kind == "agreement":
            code = "agree" if value else "disagree"
        elif spec.kind == "bothersomeness":
            code = spec.codes[value]
        else:
            code = value
        system = SYSTEM_PREFIX + ("startback.agreement" if spec.kind == "agreement" else spec.link_id)
        display = spec.displays[spec.codes.index(code)]
        return {"valueCoding": {"system": system, "code": code, "display": display}}

    def lookup(root: Any, path: Sequence[str]) -> tuple[bool, Any]:
        node: Any = root
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False, None
            node = node[part]
        return True, node

    def build(items: list[dict[str, Any]], root: Any, offset: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if item["type"] == "group" and item.get("repeats"):
                path = item["linkId"].split(".")
                _, objects = lookup(root, path[offset:])
                for element in objects or []:
                    children = build(item["item"], element, len(path))
                    if children:
                        out.append({"linkId": item["linkId"], "item": children})
                continue
            if item["type"] == "group":
                children = build(item["item"], root, offset)
                if children:
                    out.append({"linkId": item["linkId"], "item": children})
                continue
            spec = specs[item["linkId"]]
            present, value = lookup(root, spec.path[offset:])
            if not present or value is None:
                continue
            if spec.repeats and value == [] and NO_RED_FLAGS in spec.codes:
                value = [NO_RED_FLAGS]
            values = value if spec.repeats else [value]
            if values:
                out.append({"linkId": item["linkId"], "answer": [answer(spec, v) for v in values]})
        return out

    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": QUESTIONNAIRE_URL,
        "status": "completed",
        "item": build(questionnaire()["item"], data, 0),
    }
    if subject is not None:
        response["subject"] = {"reference": f"Patient/{subject}"}
    return response
