"""FHIR in: a QuestionnaireResponse to backrx's Questionnaire, read into a Profile.

Bad FHIR input raises ``pydantic.ValidationError`` whose locations name the item by its linkId,
e.g. ``item.91348-3.answer``; nothing else escapes. ``fhir.resources`` (R4B models, the nearest it
has to R4) checks the structure; backrx checks the answers against its Questionnaire.
"""

from __future__ import annotations

import datetime
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from backrx.interop._fhir import RED_FLAG_SYSTEM, RESPONSE_STATUSES, condition_flags, models, shape_problem
from backrx.interop.fhir_codes import CODED_RESOURCES, CodeMapping, Facts, facts, mapping_of
from backrx.interop.fhir_outcomes import outcomes_by_record
from backrx.interop.questionnaire import (
    NO_RED_FLAGS,
    QUESTIONNAIRE_URL,
    SYSTEM_PREFIX,
    ItemSpec,
    group_ids,
    item_specs,
    repeating_groups,
)
from backrx.interop.questionnaire_response_out import to_questionnaire_response
from backrx.model.profile import RED_FLAGS, Profile
from backrx.readers.documents import MAX_INPUT_BYTES, SHOW_INPUT_IN_ERRORS, loads

__all__ = ["FhirCodeWarning", "from_fhir", "to_questionnaire_response"]

_SCORED_STATUSES = ("completed", "amended")
#: A linkId that may be repeated in an error: a short name, as a form writes them. Any other
#: linkId is named by its position instead, so an error never carries free text from the input.
_SAFE_LINK = re.compile(r"[A-Za-z0-9_./-]{1,64}")
_FLAG_PATHS = (("red_flags",), ("red_flags_unsure",))


def _error(kind: str, message: str, loc: tuple[str | int, ...], value: Any = None) -> InitErrorDetails:
    # The value reaches the error only when the user asked for it (BACKRX_SHOW_INPUT_IN_ERRORS=1).
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc,
                            input=value if SHOW_INPUT_IN_ERRORS else None)


def _raise(title: str, errors: Sequence[InitErrorDetails]) -> None:
    if errors:
        raise ValidationError.from_exception_data(title, list(errors), hide_input=not SHOW_INPUT_IN_ERRORS)


def _link(item: Any, index: int) -> str | int:
    """How an error names an item: its linkId when that is a plain name, else its position."""
    link = item.get("linkId") if isinstance(item, Mapping) else None
    return link if isinstance(link, str) and _SAFE_LINK.fullmatch(link) else index


def _named(loc: Sequence[str | int], data: Any) -> tuple[str | int, ...]:
    """A pydantic location in raw FHIR data, with each item's list index replaced by its linkId."""
    out: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        parent = loc[index - 1] if index else None
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            out.append(_link(node, part) if parent == "item" else part)
            continue
        node = node.get(part) if isinstance(node, dict) and isinstance(part, str) else None
        out.append(part)
    return tuple(out)


def _as_data(resource: Any, what: str, loc: tuple[str | int, ...] = ()) -> Any:
    """The resource as JSON data, within the depth and size limits (a coded error otherwise)."""
    if isinstance(resource, (str, bytes, bytearray)):
        if len(resource) > MAX_INPUT_BYTES:
            _raise(what, [_error("fhir-too-large", f"the document is larger than {MAX_INPUT_BYTES} bytes",
                                 loc)])
        try:
            # A repeated key is refused, naming it: keeping the last one could drop an answer.
            resource = loads(resource)
        except ValueError as exc:
            # The parser's message says where (line, column) and names a repeated key; no excerpt.
            _raise(what, [_error("fhir-json", f"not valid JSON: {exc}", loc)])
    else:
        dump = getattr(resource, "model_dump", None)
        if callable(dump):
            resource = dump(mode="json")
    problem = shape_problem(resource)
    if problem is not None:
        _raise(what, [_error(problem[0], problem[1], loc)])
    return resource


def _validate(r4b: ModuleType, data: Mapping[str, Any], expected: str,
              loc: tuple[str | int, ...] = ()) -> None:
    got = data.get("resourceType")
    if got != expected:
        try:  # a FHIR type name is repeated; anything else is not
            named = f"resourceType {r4b.get_fhir_model_class(got).__name__}" if isinstance(got, str) else None
        except (KeyError, ValueError, LookupError):
            named = None
        _raise(expected, [_error("fhir-wrong-resource-type",
                                 f"expected a {expected} resource, got {named or 'another resourceType'}",
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
        shown = display.strip().casefold()
        for known_code, known_display in zip(spec.codes, spec.displays, strict=True):
            if shown == known_display.casefold():
                return known_code
        for known_code, alias in zip(spec.codes, spec.aliases, strict=True):  # an older form's words
            if shown == alias.casefold():
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


def _red_flags(conditions: Iterable[Any], codes: Mapping[tuple[str, str], str], r4b: ModuleType,
               errors: list[InitErrorDetails],
               records: list[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Red flags the Conditions state: (present, suspected). A suspected one is provisional,
    differential or unconfirmed. Every coded record read (a Condition, MedicationStatement,
    MedicationRequest or Procedure, each checked as its own type) goes into ``records``."""
    found: list[str] = []
    suspected: list[str] = []
    for index, raw in enumerate(conditions):
        loc: tuple[str | int, ...] = ("conditions", index)
        try:
            data = _as_data(raw, "Condition", loc)
            if not isinstance(data, Mapping):
                _raise("Condition", [_error("fhir-not-a-resource", "a Condition must be a JSON object", loc)])
            kind = data.get("resourceType")
            _validate(r4b, data, kind if kind in CODED_RESOURCES else "Condition", loc)
        except ValidationError as exc:
            errors.extend(_error(e["type"], e["msg"], e["loc"], e.get("input")) for e in exc.errors())
            continue
        records.append(data)
        if data.get("resourceType") != "Condition":
            continue
        flags, unsure = condition_flags(data, codes)
        into = suspected if unsure else found
        into.extend(flag for flag in flags if flag not in into)
    return found, [flag for flag in suspected if flag not in found]


class _Reader:
    """Reads a validated QuestionnaireResponse's items into Profile data, collecting every problem.

    Items nested under a question (``item.item``) or under an answer (``answer.item``) are read as
    if they stood beside it. The red-flag items may be answered in several places: every answer
    counts, and "none" beside a flag is a conflict, never a "no".
    """

    def __init__(self, errors: list[InitErrorDetails]) -> None:
        self.errors = errors
        self.specs, self.groups, self.repeating = item_specs(), group_ids(), repeating_groups()
        self.flags: dict[tuple[str, ...], list[Any]] = {}  # every answer of each red-flag item
        self.flag_links: dict[tuple[str, ...], str] = {}

    def items(self, items: Any, target: dict[str, Any], prefix: tuple[str, ...],
              seen: set[tuple[str, ...]]) -> None:
        """Read ``items`` into ``target``, whose own path is ``prefix``."""
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, Mapping) or not isinstance(item.get("linkId"), str):
                continue  # the FHIR model has refused these already
            link = item["linkId"]
            if link in self.groups:
                self.group(item, link, target, prefix, seen)
                continue
            self.question(item, link, index, target, prefix, seen)
            self.items(item.get("item"), target, prefix, seen)
            for answer in item.get("answer") or []:
                if isinstance(answer, Mapping):
                    self.items(answer.get("item"), target, prefix, seen)

    def _placed(self, path: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
        """Whether an item at ``path`` may stand where the reader is (inside ``prefix``, and not
        inside a repeating group the reader is not in)."""
        if path[: len(prefix)] != prefix:
            return False
        return not any(len(group) > len(prefix) and path[: len(group)] == group and path != group
                       for group in (tuple(g.split(".")) for g in self.repeating))

    def group(self, item: Mapping[str, Any], link: str, target: dict[str, Any],
              prefix: tuple[str, ...], seen: set[tuple[str, ...]]) -> None:
        if item.get("answer"):
            self.errors.append(_error("fhir-answer-type", f"item {link!r} is a group and takes no answer",
                                      ("item", link, "answer")))
        if link not in self.repeating:
            self.items(item.get("item"), target, prefix, seen)
            return
        # One occurrence of a repeating group is one object of a list field.
        path = tuple(link.split("."))
        if not self._placed(path, prefix) or path == prefix:
            self.errors.append(_error("fhir-item-out-of-place", f"group {link!r} is not where the "
                                      "Questionnaire puts it", ("item", link)))
            return
        instance: dict[str, Any] = {}
        self.items(item.get("item"), instance, path, set())
        if instance:
            node = self.node(target, path[len(prefix):-1], link)
            if node is not None:
                found = node.setdefault(path[-1], [])
                if isinstance(found, list):
                    found.append(instance)

    def node(self, target: dict[str, Any], parts: Sequence[str], link: str) -> dict[str, Any] | None:
        node = target
        for part in parts:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                self.errors.append(_error("fhir-item-out-of-place", f"item {link!r} is not where the "
                                          "Questionnaire puts it", ("item", link)))
                return None
            node = child
        return node

    def question(self, item: Mapping[str, Any], link: str, index: int, target: dict[str, Any],
                 prefix: tuple[str, ...], seen: set[tuple[str, ...]]) -> None:
        spec = self.specs.get(link)
        if spec is None:
            named = _link(item, index)
            self.errors.append(_error("fhir-unknown-item",
                                      (f"unknown item linkId {named!r}" if isinstance(named, str) else
                                       "an item with an unknown linkId")
                                      + ": the backrx Questionnaire has no such item "
                                      "(see `backrx schema questionnaire`)", ("item", named)))
            return
        values = self.values(item, spec, link)
        if spec.path in _FLAG_PATHS:
            self.flag_links.setdefault(spec.path, link)
            if values is not None:
                self.flags.setdefault(spec.path, []).extend(values)
            return
        if not self._placed(spec.path, prefix):
            self.errors.append(_error("fhir-item-out-of-place", f"item {link!r} is not where the "
                                      "Questionnaire puts it", ("item", link)))
            return
        if spec.path in seen:
            self.errors.append(_error("fhir-duplicate-item", f"item {link!r} is answered twice",
                                      ("item", link)))
            return
        seen.add(spec.path)
        if not values:
            return  # unanswered (or unreadable, which is reported) stays unanswered
        values = self.without_none(spec, link, values)
        node = self.node(target, spec.path[len(prefix):-1], link)
        if node is not None:
            node[spec.path[-1]] = values if spec.repeats else values[0]

    def values(self, item: Mapping[str, Any], spec: ItemSpec, link: str) -> list[Any] | None:
        """The item's answers as Profile values; None (and an error) when one cannot be read."""
        answers = [a for a in item.get("answer") or [] if isinstance(a, Mapping)]
        if len(answers) > 1 and not spec.repeats:
            self.errors.append(_error("fhir-answer-count", f"item {link!r} takes one answer, got "
                                      f"{len(answers)}", ("item", link, "answer")))
            return None
        values: list[Any] = []
        for answer in answers:
            key, value = _value(answer)
            try:
                values.append(_answer(spec, key, value))
            except ValueError as exc:
                self.errors.append(_error("fhir-answer-type", f"item {link!r} {exc}; got {key or 'no value'}",
                                          ("item", link, "answer"), value))
                return None
        return values

    def without_none(self, spec: ItemSpec, link: str, values: list[Any]) -> list[Any]:
        """A list answer with "none" (asked, none) as the empty list; "none" beside others is refused."""
        if spec.repeats and NO_RED_FLAGS in values and NO_RED_FLAGS in spec.codes:
            if len(set(values)) > 1:
                self.errors.append(_error("fhir-answer-conflict",
                                          f"item {link!r}: 'none' cannot go with other answers",
                                          ("item", link, "answer")))
            return []
        return values

    def read_flags(self, profile: dict[str, Any]) -> bool:
        """Put the red-flag answers, from wherever they were, into ``profile``; whether
        ``red_flags`` was answered."""
        for path, values in self.flags.items():
            spec = self.specs[self.flag_links[path]]
            kept = self.without_none(spec, self.flag_links[path], values)
            profile[path[0]] = list(dict.fromkeys(kept))
        return ("red_flags",) in self.flags


def _response_of(data: Mapping[str, Any],
                 r4b: ModuleType) -> tuple[Mapping[str, Any], list[Any], list[Any]]:
    """The QuestionnaireResponse a resource holds (itself, or a Bundle's one), the Bundle's coded
    records (Condition, MedicationStatement, MedicationRequest, Procedure) and its Observations."""
    if data.get("resourceType") != "Bundle":
        return data, [], []
    _validate(r4b, data, "Bundle")
    listed = [e.get("resource") for e in data.get("entry") or [] if isinstance(e, Mapping)]
    resources: list[Mapping[str, Any]] = [r for r in listed if isinstance(r, Mapping)]
    found = [r for r in resources if r.get("resourceType") == "QuestionnaireResponse"]
    if len(found) != 1:
        _raise("Bundle", [_error("fhir-questionnaire-response-count", "the Bundle must hold exactly one "
                                 f"QuestionnaireResponse, it holds {len(found)}", ("entry",))])
    return (found[0], [r for r in resources if r.get("resourceType") in CODED_RESOURCES],
            [r for r in resources if r.get("resourceType") == "Observation"])


def _header_errors(data: Mapping[str, Any]) -> list[InitErrorDetails]:
    errors: list[InitErrorDetails] = []
    status = data.get("status")
    if status not in _SCORED_STATUSES:
        said = f"this one is {status!r}" if status in RESPONSE_STATUSES else "this one has another status"
        errors.append(_error("fhir-status", "only a completed or amended QuestionnaireResponse is read, "
                             + said, ("status",), status))
    questionnaire = data.get("questionnaire")
    if questionnaire is not None and str(questionnaire).split("|")[0] != QUESTIONNAIRE_URL:
        errors.append(_error("fhir-questionnaire", "answers a different Questionnaire; backrx reads "
                             f"{QUESTIONNAIRE_URL}", ("questionnaire",), questionnaire))
    return errors


def from_fhir(resource: Any, *, conditions: Iterable[Any] = (),
              condition_codes: Mapping[tuple[str, str], str] | None = None, rules: Any = None) -> Profile:
    """A Profile from a QuestionnaireResponse to backrx's Questionnaire (``backrx schema questionnaire``).

    ``resource`` is a QuestionnaireResponse, or a Bundle holding exactly one, as a dict, JSON
    text or a ``fhir.resources`` model; the Bundle's Conditions are read too. STarT Back items are
    matched by their LOINC linkIds (``91340-0`` or ``/91340-0``); an item left out stays
    unanswered (None), never "no". Items nested under an answer or a question are read too, and a
    red flag answered anywhere counts. Active Conditions coded in ``urn:backrx:red_flags``, or
    mapped by ``condition_codes`` (``{(system, code): red_flag}``), add red flags; so do the
    value sets of the pack's ``codes.yaml`` (``rules``, a RuleSet; the bundled pack by default),
    which read Conditions, MedicationStatements, MedicationRequests and Procedures (in
    ``conditions`` or the Bundle) into profile fields, taking the safer reading where they and the
    answers disagree. Codes no value set holds raise a `FhirCodeWarning` that counts them
    (`backrx.interop.fhir_import.read_fhir` lists them). Outcome Observations in the Bundle
    (as ``to_fhir`` writes them) fill ``outcomes`` when the response has none. Bad input raises
    ``pydantic.ValidationError`` naming the item's linkId and never repeating an answer; a
    document nested deeper than 64 levels (``fhir-too-deep``) or larger than 5 MB
    (``fhir-too-large``) is refused.
    """
    profile, found, _ = read_response(resource, conditions, condition_codes, mapping_of(rules))
    if found.unknown:
        warnings.warn(FhirCodeWarning(f"{len(found.unknown)} code(s) of the EHR records are in no value "
                                      "set of the pack's codes.yaml (read_fhir lists them)"), stacklevel=2)
    return profile


class FhirCodeWarning(UserWarning):
    """Some codes of the EHR records are in no value set of the pack's codes.yaml."""


def read_response(resource: Any, conditions: Iterable[Any], condition_codes: Mapping[tuple[str, str], str]
                  | None, mapping: CodeMapping) -> tuple[Profile, Facts, dict[str, dict[str, Any]]]:
    """`from_fhir`'s work: the Profile, what the coded records said, and the outcome data by
    record (``baseline``, ``round-<n>``) of the outcome Observations."""
    r4b = models()
    data = _as_data(resource, "QuestionnaireResponse")
    if not isinstance(data, Mapping):
        _raise("QuestionnaireResponse", [_error("fhir-not-a-resource",
                                                "a FHIR resource must be a JSON object", ())])
    data, extra_records, observations = _response_of(data, r4b)
    _validate(r4b, data, "QuestionnaireResponse")
    errors = _header_errors(data)
    profile: dict[str, Any] = {}
    reader = _Reader(errors)
    reader.items(data.get("item"), profile, (), set())
    red_flags_answered = reader.read_flags(profile)
    records: list[Mapping[str, Any]] = []
    flags, suspected = _red_flags([*extra_records, *conditions], condition_codes or {}, r4b, errors, records)
    _raise("QuestionnaireResponse", errors)
    found = facts(records, mapping)
    # Codes read by condition_flags (backrx's own system, condition_codes) are known, not unknown.
    known = {*(condition_codes or {}), *((RED_FLAG_SYSTEM, flag) for flag in RED_FLAGS)}
    found.unknown = [entry for entry in found.unknown if entry[1:] not in known]
    for item in found.derived:
        into = flags if item.field == "red_flags" else suspected if item.field == "red_flags_unsure" else None
        if into is not None and item.value not in into:
            into.append(item.value)
    Facts([d for d in found.derived if not d.field.startswith("red_flags")]).apply(profile)
    outcomes = outcomes_by_record(observations)
    if "outcomes" not in profile and "baseline" in outcomes:
        profile["outcomes"] = outcomes["baseline"]
    suspected = [flag for flag in suspected if flag not in flags]
    return _profile(profile, flags, suspected, red_flags_answered), found, outcomes


def _profile(profile: dict[str, Any], flags: list[str], suspected: list[str],
             red_flags_answered: bool) -> Profile:
    """The Profile, with the Conditions' red flags added, or the errors named by linkId."""
    if not red_flags_answered and suspected:
        # Not screened, but a red flag is suspected: read it as present, the safer side.
        flags, suspected = [*flags, *suspected], []
    if suspected and "red_flags_unsure" not in Profile.model_fields:
        flags, suspected = [*flags, *suspected], []
    if flags:
        profile["red_flags"] = [*profile.get("red_flags", []), *(f for f in flags
                                                                 if f not in profile.get("red_flags", []))]
        # A flag a record confirms is present, even where the person answered "unsure".
        if profile.get("red_flags_unsure"):
            profile["red_flags_unsure"] = [f for f in profile["red_flags_unsure"]
                                           if f not in profile["red_flags"]]
    if suspected:
        unsure = [f for f in suspected if f not in profile["red_flags"]]
        profile["red_flags_unsure"] = [*profile.get("red_flags_unsure", []),
                                       *(f for f in unsure if f not in profile.get("red_flags_unsure", []))]
    if not flags and not red_flags_answered:
        _raise("QuestionnaireResponse", [_error(
            "fhir-red-flags-unanswered",
            "item 'red_flags' is unanswered: answer 'none' when the person was screened and has none",
            ("item", "red_flags"))])
    by_path = {spec.path: link for link, spec in item_specs().items() if not link.startswith("/")}

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
