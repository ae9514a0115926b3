"""EHR codes to profile fields: the rule pack's ``codes.yaml``, and how a record's status is read.

A Condition, MedicationStatement, MedicationRequest or Procedure whose code is in one of the
pack's value sets sets a profile field (a red flag, ``history.osteoporosis``, ``history.pregnant``,
``history.anticoagulant``...). The status is read on the safe side: an active, recurrent or
relapsed record counts; a resolved, inactive or remission one counts only where the value set
says its history matters (``inactive: keep``, e.g. a past cancer); entered-in-error and refuted
never count; statuses that disagree read as active. A code no value set holds is listed, never
dropped in silence. Reads raw JSON data defensively; the structure is checked elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from backrx.errors import Problem, RuleError
from backrx.model.profile import RED_FLAGS

__all__ = ["CODES_FILE", "CodeMapping", "Derived", "Facts", "ValueSet", "facts", "mapping_of"]

CODES_FILE = "codes.yaml"
CODED_RESOURCES = ("Condition", "MedicationStatement", "MedicationRequest", "Procedure")
#: The profile fields a value set may set, and the kind of value each takes. A field not here
#: could change advice in ways the import cannot weigh, so a pack may not name it.
FIELDS: dict[str, Literal["flag", "bool", "tri", "list"]] = {
    "red_flags": "flag", "red_flags_unsure": "flag",
    "history.osteoporosis": "bool", "history.pregnant": "bool",
    "history.long_term_corticosteroids": "bool",
    "history.anticoagulant": "tri", "history.known_aaa": "tri",
    "history.fragility_fractures": "list", "history.infection_risk_factors": "list",
    "findings.inflammatory_features": "list",
}
_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_INACTIVE = frozenset({"inactive", "remission", "resolved"})
_WITHDRAWN = frozenset({"refuted", "entered-in-error"})
_SUSPECTED = frozenset({"provisional", "differential", "unconfirmed"})
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
#: Resource status -> how it reads: current, history or void (a resource type with no entry here
#: is read from its Condition statuses).
_STATUS: dict[str, dict[str, str]] = {
    "MedicationStatement": {"active": "current", "intended": "current", "on-hold": "current",
                            "unknown": "current", "completed": "history", "stopped": "history",
                            "not-taken": "void", "entered-in-error": "void"},
    "MedicationRequest": {"active": "current", "on-hold": "current", "draft": "current",
                          "unknown": "current", "completed": "history", "stopped": "history",
                          "cancelled": "void", "entered-in-error": "void"},
    "Procedure": {"completed": "history", "in-progress": "current", "preparation": "current",
                  "on-hold": "current", "unknown": "current", "stopped": "history",
                  "not-done": "void", "entered-in-error": "void"},
}


@dataclass(frozen=True)
class ValueSet:
    """One value set of codes.yaml."""

    id: str
    resources: tuple[str, ...]
    field: str
    value: Any
    keep_inactive: bool
    suspected: str | None
    sources: tuple[str, ...]
    codes: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class CodeMapping:
    """The value sets of a pack, indexed by (system, code)."""

    value_sets: tuple[ValueSet, ...] = ()

    @functools.cached_property
    def index(self) -> dict[tuple[str, str], list[ValueSet]]:
        out: dict[tuple[str, str], list[ValueSet]] = {}
        for value_set in self.value_sets:
            for key in value_set.codes:
                out.setdefault(key, []).append(value_set)
        return out

    def red_flag_codes(self) -> dict[tuple[str, str], str]:
        """``{(system, code): red_flag}`` of the Condition value sets that set a red flag."""
        return {key: str(vs.value) for vs in self.value_sets if vs.field == "red_flags"
                and "Condition" in vs.resources for key in vs.codes}


@dataclass(frozen=True)
class Derived:
    """One profile field one coded record set."""

    field: str
    value: Any
    value_set: str
    resource: str  # the resource type
    system: str
    code: str
    status: str  # current or history


@dataclass
class Facts:
    """What coded records say: the fields they set, and the codes no value set holds."""

    derived: list[Derived] = field(default_factory=list)
    unknown: list[tuple[str, str, str]] = field(default_factory=list)  # (resource type, system, code)

    def apply(self, profile: dict[str, Any]) -> None:
        """Set the derived fields in Profile data, taking the safer reading where answers disagree:
        a true, "yes" or listed value from a record wins over a "no" or a "false" answer."""
        for item in self.derived:
            parent = profile
            *path, last = item.field.split(".")
            for part in path:
                child = parent.get(part)
                parent = parent.setdefault(part, {}) if child is None else child
                if not isinstance(parent, dict):
                    break
            else:
                kind = FIELDS[item.field]
                if kind in ("flag", "list"):
                    current = parent.get(last)
                    listed = list(current) if isinstance(current, list) else []
                    parent[last] = [*listed, item.value] if item.value not in listed else listed
                else:
                    parent[last] = item.value


def _codings(concept: Any) -> list[tuple[str, str]]:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    return [(c["system"], c["code"]) for c in codings if isinstance(c, Mapping)
            and isinstance(c.get("system"), str) and isinstance(c.get("code"), str)] \
        if isinstance(codings, list) else []


def _status_codes(concept: Any, system: str) -> set[str]:
    return {code for sys, code in _codings(concept) if sys == system}


def reading(resource: Mapping[str, Any]) -> tuple[str, bool]:
    """How a coded record reads: (current | history | void, suspected)."""
    kind = resource.get("resourceType")
    if kind != "Condition":
        status = resource.get("status")
        return _STATUS.get(str(kind), {}).get(status if isinstance(status, str) else "", "current"), False
    clinical = _status_codes(resource.get("clinicalStatus"), CLINICAL)
    verification = _status_codes(resource.get("verificationStatus"), VERIFICATION)
    if verification & _WITHDRAWN and not verification - _WITHDRAWN:
        return "void", False
    suspected = bool(verification & _SUSPECTED) and "confirmed" not in verification
    if clinical & _INACTIVE and not clinical & _ACTIVE:
        return "history", suspected
    return "current", suspected


def _concept_of(resource: Mapping[str, Any]) -> Any:
    if resource.get("resourceType") in ("MedicationStatement", "MedicationRequest"):
        return resource.get("medicationCodeableConcept")
    return resource.get("code")


def facts(resources: Iterable[Any], mapping: CodeMapping) -> Facts:
    """The profile fields the coded records set, and the codes the mapping does not know."""
    out = Facts()
    index = mapping.index
    for resource in resources:
        if not isinstance(resource, Mapping) or resource.get("resourceType") not in CODED_RESOURCES:
            continue
        status, suspected = reading(resource)
        if status == "void":
            continue
        kind = str(resource["resourceType"])
        for system, code in _codings(_concept_of(resource)):
            sets = [vs for vs in index.get((system, code), []) if kind in vs.resources]
            if not sets:
                if (kind, system, code) not in out.unknown:
                    out.unknown.append((kind, system, code))
                continue
            for vs in sets:
                if status == "history" and not vs.keep_inactive:
                    continue
                target = vs.suspected if suspected and vs.suspected else vs.field
                found = Derived(target, vs.value, vs.id, kind, system, code, status)
                if found not in out.derived:
                    out.derived.append(found)
    return out


def _problem(where: str, code: str, message: str) -> Problem:
    return Problem(CODES_FILE, None, None, code, message, where)


def _value_set(key: str, node: Any, sources: Iterable[str], problems: list[Problem]) -> ValueSet | None:
    """One value set, checked; None (and problems) when it is malformed."""
    where = f"value_sets.{key}"
    allowed = {"resources", "field", "value", "inactive", "suspected", "sources", "codes"}
    if not isinstance(node, Mapping) or set(node) - allowed or not {"resources", "field", "value",
                                                                   "codes", "sources"} <= set(node):
        problems.append(_problem(where, "bad-value-set", "a value set is a mapping with resources, "
                                 "field, value, codes and sources (and optional inactive, suspected)"))
        return None
    kinds = node["resources"]
    if not isinstance(kinds, list) or not kinds or any(k not in CODED_RESOURCES for k in kinds):
        problems.append(_problem(f"{where}.resources", "unknown-value",
                                 f"resources are some of {', '.join(CODED_RESOURCES)}"))
    target, value = node["field"], node["value"]
    kind = FIELDS.get(target) if isinstance(target, str) else None
    suspected = node.get("suspected")
    if kind is None or (suspected is not None and FIELDS.get(suspected) != kind):
        problems.append(_problem(f"{where}.field", "unknown-field",
                                 f"field (and suspected) are among {', '.join(FIELDS)}"))
    elif (kind == "flag" and value not in RED_FLAGS) or (kind == "bool" and value is not True) \
            or (kind == "tri" and value != "yes") or (kind == "list" and not isinstance(value, str)):
        problems.append(_problem(f"{where}.value", "bad-value", f"{target} takes a red flag, true, "
                                 "\"yes\" or a list entry (the answer that keeps the person safer)"))
    unknown = [s for s in node["sources"] or [] if s not in sources]
    if not node["sources"] or unknown:
        problems.append(_problem(f"{where}.sources", "unknown-source",
                                 "every value set cites ids of sources.yaml"))
    codes = node["codes"]
    pairs = {(str(system), str(code)) for system, listed in codes.items() for code in listed
             if isinstance(listed, list)} if isinstance(codes, Mapping) else set()
    if not pairs:
        problems.append(_problem(f"{where}.codes", "bad-codes", "codes maps a code system URI to codes"))
    if node.get("inactive", "drop") not in ("keep", "drop"):
        problems.append(_problem(f"{where}.inactive", "unknown-value", "inactive is keep or drop"))
    return ValueSet(key, tuple(kinds), str(target), value, node.get("inactive") == "keep",
                    suspected, tuple(node["sources"] or ()), frozenset(pairs))


@functools.cache
def _read(path: str, sources: frozenset[str], digest: str = "") -> CodeMapping:
    """codes.yaml of the pack at ``path``; cached by path and pack digest (an edited pack reloads)."""
    file = Path(path) / CODES_FILE
    if not file.is_file():
        return CodeMapping()
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise RuleError([_problem("", "bad-yaml", "codes.yaml cannot be read as YAML")]) from None
    sets = doc.get("value_sets") if isinstance(doc, Mapping) else None
    if not isinstance(sets, Mapping) or doc.get("format") != 1:
        raise RuleError([_problem("", "bad-codes-file", "codes.yaml holds format: 1 and value_sets")])
    problems: list[Problem] = []
    found = [_value_set(str(key), node, sources, problems) for key, node in sets.items()]
    if problems:
        raise RuleError(problems)
    return CodeMapping(tuple(vs for vs in found if vs is not None))


def mapping_of(rules: Any = None) -> CodeMapping:
    """The code mapping of a RuleSet (or a Pack), by default the bundled pack's; read once.

    Raises `backrx.errors.RuleError` naming codes.yaml and the value set when it is malformed.
    """
    if rules is None:
        from backrx.pack.read import bundled_path

        return _read(str(bundled_path()), _bundled_sources())
    pack = getattr(rules, "_pack", rules)
    return _read(str(pack.path), frozenset(pack.sources), str(pack.digest))


@functools.cache
def _bundled_sources() -> frozenset[str]:
    from backrx.pack.read import bundled_path

    doc = yaml.safe_load((bundled_path() / "sources.yaml").read_text(encoding="utf-8"))
    return frozenset(str(s.get("id")) for s in doc.get("sources", []) if isinstance(s, Mapping))
