"""What backrx's FHIR modules share: code systems, identifiers, and the lazy fhir.resources import."""

from __future__ import annotations

import functools
import importlib
import uuid
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from backrx.errors import BackrxError
from backrx.interop.fhir_codes import facts, mapping_of
from backrx.interop.questionnaire import SYSTEM_PREFIX
from backrx.model.profile import RED_FLAGS

INSTALL_HINT = "pip install 'backrx[fhir]'"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
PA_CODES = "http://hl7.org/fhir/us/physical-activity/CodeSystem/pa-temporary-codes"
#: backrx's local code systems and identifier systems (URNs; registered nowhere).
EXERCISE_SYSTEM = SYSTEM_PREFIX + "exercise"
WARNING_SYSTEM = SYSTEM_PREFIX + "warning"
RED_FLAG_SYSTEM = SYSTEM_PREFIX + "red_flags"
RULE_PREFIX = SYSTEM_PREFIX + "rule:"
PROFILE_ID_SYSTEM = SYSTEM_PREFIX + "profile-digest"
PACK_ID_SYSTEM = SYSTEM_PREFIX + "rule-pack-digest"
#: Namespace of the deterministic resource ids (uuid5).
NAMESPACE = uuid.UUID("5b1f3c2e-7d4a-5e8f-9a6b-0c1d2e3f4a5b")

PRIORITY = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}
RISK_ANSWER = {"low": ("LA9194-7", "Low"), "medium": ("LA8982-6", "Medium"), "high": ("LA9193-9", "High")}
LOINC_DISPLAY = {
    "91349-1": "STarT Back Screening Tool panel",
    "91350-9": "Distress subscore [STarT Back]",
    "91351-7": "Total score [STarT Back]",
    "91352-5": "STarT Back Screening risk level",
}
#: SNOMED CT code the HL7 Physical Activity IG uses for an exercise prescription.
EXERCISE_THERAPY = {"system": SNOMED, "code": "229065009", "display": "Exercise therapy (regime/therapy)"}


class FhirUnavailableError(BackrxError, ImportError):
    """``fhir.resources`` is not installed: ``pip install 'backrx[fhir]'``."""

    code = "fhir-unavailable"


def models() -> ModuleType:
    """The fhir.resources R4B package, or FhirUnavailableError."""
    try:
        return importlib.import_module("fhir.resources.R4B")
    except ImportError as exc:
        raise FhirUnavailableError(
            f"FHIR support needs the optional fhir.resources package: {INSTALL_HINT}") from exc


# -- limits and a reading of red flags that no bad answer can hide ----------------------------

#: The deepest nesting of JSON objects and arrays backrx reads in a FHIR document (a real
#: QuestionnaireResponse to backrx's Questionnaire nests about 12 deep; a Bundle adds 3).
MAX_DEPTH = 64
#: The largest FHIR document backrx reads: bytes of JSON text, or for data already parsed, the
#: characters of its strings and keys plus one for every value.
MAX_SIZE = 5_000_000
#: The statuses of a QuestionnaireResponse (FHIR R4); only these are ever repeated in an error.
RESPONSE_STATUSES = frozenset({"in-progress", "completed", "amended", "entered-in-error", "stopped"})
_NOT_ACTIVE = frozenset({"inactive", "remission", "resolved"})
_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_WITHDRAWN = frozenset({"refuted", "entered-in-error"})
_SUSPECTED = frozenset({"provisional", "differential", "unconfirmed"})


def shape_problem(data: Any, *, max_depth: int = MAX_DEPTH,
                  max_size: int = MAX_SIZE) -> tuple[str, str] | None:
    """``(code, message)`` when ``data`` nests deeper or weighs more than the limits, else None.

    Walks without recursion, so no depth of nesting can overflow the stack, and stops at the
    limit, so a cyclic Python structure is refused as too large.
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    size = 0
    while stack:
        node, depth = stack.pop()
        size += 1
        if isinstance(node, (dict, list, tuple)):
            if depth > max_depth:
                return "fhir-too-deep", f"the document nests deeper than {max_depth} levels"
            children = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in children:
                size += len(key) if isinstance(key, str) else 0
                stack.append((value, depth + 1))
        elif isinstance(node, str):
            size += len(node)
        if size > max_size:
            return "fhir-too-large", f"the document is larger than {max_size} units (bytes of JSON)"
    return None


def _codes(concept: Any, system: str) -> set[str]:
    """The codes of one system in a CodeableConcept, read defensively (the data may be raw)."""
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    if not isinstance(codings, list):
        return set()
    return {str(c.get("code")) for c in codings if isinstance(c, Mapping) and c.get("system") == system}


def condition_flags(data: Mapping[str, Any],
                    codes: Mapping[tuple[str, str], str]) -> tuple[list[str], bool]:
    """The red flags one Condition states, and whether it is only suspected.

    A Condition whose clinical status says only inactive, remission or resolved, or whose
    verification status says only refuted or entered-in-error, states none. Statuses that
    disagree (confirmed and refuted, active and resolved) take the safer reading: the flag stays.
    """
    clinical = _codes(data.get("clinicalStatus"), CONDITION_CLINICAL)
    verification = _codes(data.get("verificationStatus"), CONDITION_VERIFICATION)
    if clinical & _NOT_ACTIVE and not clinical & _ACTIVE:
        return [], False
    if verification & _WITHDRAWN and not verification - _WITHDRAWN:
        return [], False
    unsure = bool(verification & _SUSPECTED) and "confirmed" not in verification
    found: list[str] = []
    concept = data.get("code")
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    for coding in codings if isinstance(codings, list) else []:
        if not isinstance(coding, Mapping):
            continue
        system, code = coding.get("system"), coding.get("code")
        flag = codes.get((system, code)) if isinstance(system, str) and isinstance(code, str) else None
        if flag is None and system == RED_FLAG_SYSTEM and code in RED_FLAGS:
            flag = str(code)
        if flag is not None and flag not in found:
            found.append(flag)
    return found, unsure


@functools.cache
def _flag_items() -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """linkId of each red-flag item: (code by code, code by casefolded display)."""
    from backrx.interop.questionnaire import item_specs

    out: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for link, spec in item_specs().items():
        if spec.path in (("red_flags",), ("red_flags_unsure",)):
            pairs = [(c, d) for c, d in [*zip(spec.codes, spec.displays, strict=True),
                                         *zip(spec.codes, spec.aliases, strict=True)] if c in RED_FLAGS]
            out[link] = ({c: c for c, _ in pairs}, {d.casefold(): c for c, d in pairs})
    return out


def _answer_flag(answer: Any, by_code: Mapping[str, str], by_display: Mapping[str, str]) -> str | None:
    if not isinstance(answer, Mapping):
        return None
    text = answer.get("valueString")
    if isinstance(text, str) and text in by_code:
        return by_code[text]
    coding = answer.get("valueCoding")
    if not isinstance(coding, Mapping):
        return None
    system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
    if system is not None and not str(system).startswith(SYSTEM_PREFIX):
        return None
    if isinstance(code, str) and code in by_code:
        return by_code[code]
    if isinstance(display, str):
        return by_display.get(display.strip().casefold())
    return None


def recorded_red_flags(resources: Iterable[Any], conditions: Iterable[Any] = (),
                       codes: Mapping[tuple[str, str], str] | None = None, *,
                       max_nodes: int = MAX_SIZE, rules: Any = None) -> list[str]:
    """Every red flag that QuestionnaireResponses or Conditions record anywhere, however badly
    the rest of them is written: answers of a red-flag item at any depth (under ``item``,
    ``answer.item`` or a Bundle's entries), and Conditions as `condition_flags` reads them
    and as the codes.yaml of ``rules`` (a RuleSet; the bundled pack by default) maps them (a
    suspected or past flag counts here too).

    Reads raw data without validating it and without recursion, visiting at most ``max_nodes``
    values. A response marked entered-in-error is skipped. Used where a document cannot be read
    as a whole, so that a bad answer elsewhere never hides a flag.
    """
    items = _flag_items()
    mapping = mapping_of(rules)
    found: list[str] = []
    stack: list[Any] = [*resources, *conditions]
    visited = 0
    while stack and visited < max_nodes:
        node = stack.pop()
        visited += 1
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, Mapping) or node.get("status") == "entered-in-error":
            continue
        if node.get("resourceType") == "Condition":
            flags, _ = condition_flags(node, codes or {})
            # and the red flags of the pack's codes.yaml
            flags += [str(d.value) for d in facts([node], mapping).derived
                      if d.field in ("red_flags", "red_flags_unsure")]
            found.extend(flag for flag in flags if flag not in found)
            continue
        link = node.get("linkId")
        answers = node.get("answer")
        if isinstance(link, str) and link in items and isinstance(answers, list):
            for answer in answers:
                flag = _answer_flag(answer, *items[link])
                if flag is not None and flag not in found:
                    found.append(flag)
        stack.extend(value for value in node.values() if isinstance(value, (list, Mapping)))
    return found
