"""HL7 FHIR R4 out and in: a Recommendation as a Bundle, a QuestionnaireResponse as a Profile.

The resources are built and checked with the ``fhir.resources`` models of FHIR **R4B** (4.3.0):
``fhir.resources`` 8 ships no R4 (4.0.1) package, and R4B is its closest stand-in. The output is
also checked, in backrx's tests, against HL7's official R4 JSON Schema. ``fhir.resources`` is an
optional dependency (``pip install 'backrx[fhir]'``); it is imported only when a function here
is called, and a missing install raises :class:`FhirUnavailableError` (an ``ImportError``).

Bad FHIR input raises ``pydantic.ValidationError`` whose locations name the item by its linkId,
e.g. ``item.91348-3.answer``; nothing else escapes.

docs/fhir.md has the mapping field by field, what is lost, and which codes are used.
"""

from __future__ import annotations

import hashlib
import html
import importlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from backrx._version import __version__
from backrx.profile import RED_FLAGS, Profile
from backrx.questionnaire import (
    LOINC,
    NO_RED_FLAGS,
    QUESTIONNAIRE_URL,
    SYSTEM_PREFIX,
    ItemSpec,
    group_ids,
    item_specs,
)

if TYPE_CHECKING:
    from backrx.recommendation import Phase, Prescription, Recommendation

__all__ = ["FhirUnavailableError", "from_fhir", "to_fhir"]

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
_NAMESPACE = uuid.UUID("5b1f3c2e-7d4a-5e8f-9a6b-0c1d2e3f4a5b")

PRIORITY = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}
RISK_ANSWER = {"low": ("LA9194-7", "Low"), "medium": ("LA8982-6", "Medium"), "high": ("LA9193-9", "High")}
_LOINC_DISPLAY = {
    "91349-1": "STarT Back Screening Tool panel",
    "91350-9": "Distress subscore [STarT Back]",
    "91351-7": "Total score [STarT Back]",
    "91352-5": "STarT Back Screening risk level",
}
#: SNOMED CT code the HL7 Physical Activity IG uses for an exercise prescription.
EXERCISE_THERAPY = {"system": SNOMED, "code": "229065009", "display": "Exercise therapy (regime/therapy)"}
_SCORED_STATUSES = ("completed", "amended")


class FhirUnavailableError(ImportError):
    """``fhir.resources`` is not installed: ``pip install 'backrx[fhir]'``."""


def _models() -> ModuleType:
    try:
        return importlib.import_module("fhir.resources.R4B")
    except ImportError as exc:
        raise FhirUnavailableError(
            f"FHIR support needs the optional fhir.resources package: {INSTALL_HINT}") from exc


# ---------------------------------------------------------------------------------------- out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ref(resource_id: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource_id}"}


def _concept(text: str, *codings: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text}
    if codings:
        out = {"coding": list(codings), **out}
    return out


def _weeks(count: int) -> dict[str, Any]:
    return {"value": count, "unit": "wk", "system": UCUM, "code": "wk"}


class _Builder:
    """Builds one Bundle; every id is a uuid5 of the rule pack digest, the content and a key."""

    def __init__(self, rec: Recommendation, patient: str | None, start: date | None,
                 recorded: datetime | None) -> None:
        self.rec = rec
        self.start = start
        self.recorded = recorded
        content = rec.model_dump_json()
        self.seed = "|".join((rec.ruleset.digest, _digest(content), patient or "", str(start or ""),
                              recorded.isoformat() if recorded else ""))
        if patient is not None:
            self.subject: dict[str, Any] = {"reference": f"Patient/{patient}"}
        else:
            profile_json = rec.profile.model_dump_json() if rec.profile is not None else content
            self.subject = {
                "identifier": {"system": PROFILE_ID_SYSTEM, "value": "sha256:" + _digest(profile_json)},
                "display": "the person the backrx profile describes",
            }
        self.entries: list[dict[str, Any]] = []
        self.device = self.id("device")
        self.library = self.id("library")
        self.category = _concept("Physical activity / rehabilitation",
                                 {"system": PA_CODES, "code": "PhysicalActivity"})
        self.urls = {ref.id: ref.url for ref in rec.references if ref.url}

    def id(self, key: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.seed}|{key}"))

    def add(self, resource: dict[str, Any]) -> None:
        self.entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})

    def source_urls(self, source_ids: Iterable[str]) -> list[str]:
        urls: list[str] = []
        for source in source_ids:
            url = self.urls.get(source)
            if url and url not in urls:
                urls.append(url)
        return urls

    # -- dates -------------------------------------------------------------------------------

    def phase_period(self, phase: Phase) -> dict[str, str] | None:
        if self.start is None:
            return None
        first = self.start + timedelta(days=7 * (phase.start_week - 1))
        last = self.start + timedelta(days=7 * phase.end_week - 1)
        return {"start": first.isoformat(), "end": last.isoformat()}

    # -- resources ---------------------------------------------------------------------------

    def startback(self) -> list[str]:
        """Observations for the STarT Back scores and risk group; returns their ids."""
        rec = self.rec
        risk = rec.classification.startback_risk
        screen = rec.profile.startback if rec.profile is not None else None
        total = screen.total if screen is not None else None
        psych = screen.psychosocial if screen is not None else None
        interpretation = [{"text": f"{risk} risk"}] if risk else None

        def observation(key: str, code: str, value: dict[str, Any]) -> str:
            resource: dict[str, Any] = {
                "resourceType": "Observation", "id": self.id(key), "status": "final",
                "category": [_concept("Survey", {"system": OBSERVATION_CATEGORY, "code": "survey",
                                                 "display": "Survey"})],
                "code": _concept(_LOINC_DISPLAY[code],
                                 {"system": LOINC, "code": code, "display": _LOINC_DISPLAY[code]}),
                "subject": self.subject, **value,
            }
            self.add(resource)
            return str(resource["id"])

        def score(value: int) -> dict[str, Any]:
            quantity = {"value": value, "unit": "score", "system": UCUM, "code": "{score}"}
            out: dict[str, Any] = {"valueQuantity": quantity}
            if interpretation:
                out["interpretation"] = interpretation
            return out

        members: list[str] = []
        if total is not None and psych is not None:
            members.append(observation("observation/startback-total", "91351-7", score(total)))
            members.append(observation("observation/startback-distress", "91350-9", score(psych)))
        if risk is not None:
            code, display = RISK_ANSWER[risk]
            members.append(observation("observation/startback-risk", "91352-5", {
                "valueCodeableConcept": _concept(display, {"system": LOINC, "code": code,
                                                           "display": display})}))
        if not members:
            return []
        panel = observation("observation/startback-panel", "91349-1",
                            {"hasMember": [_ref(member) for member in members]})
        return [panel, *members]

    def activity(self, prescription: Prescription, goal_id: str, phase: Phase) -> dict[str, Any]:
        exercise, dose = prescription.exercise, prescription.dose
        codings = [{"system": EXERCISE_SYSTEM, "code": exercise.id, "display": exercise.name}]
        if exercise.category != "education":
            codings.append(EXERCISE_THERAPY)
        repeat: dict[str, Any] = {}
        if dose.sessions_per_week:
            repeat.update(frequency=dose.sessions_per_week, period=1, periodUnit="wk")
        if dose.minutes:
            repeat.update(duration=dose.minutes, durationUnit="min")
        period = self.phase_period(phase)
        if period is not None:
            repeat["boundsPeriod"] = period
        else:
            repeat["boundsDuration"] = _weeks(phase.end_week - phase.start_week + 1)
        detail: dict[str, Any] = {
            "kind": "ServiceRequest",
            "code": _concept(exercise.name, *codings),
            "reasonCode": [{"text": prescription.rationale}],
            "goal": [_ref(goal_id)],
            "status": "not-started",
            "scheduledTiming": {"repeat": repeat},
            "description": (f"{dose.describe()}. {exercise.instructions}"
                            if dose.describe() != "as advised" else exercise.instructions),
        }
        urls = self.source_urls(prescription.sources)
        if urls:
            detail["instantiatesUri"] = urls
        return {"detail": detail}

    def program(self, referral_id: str | None, observations: list[str]) -> str | None:
        rec = self.rec
        if rec.program is None:
            return None
        program_id = self.id("careplan/program")
        phases = rec.program.phases
        current = next((i for i, p in enumerate(phases) if p.id == rec.program.current_phase), 0)
        goal_ids = [self.id(f"goal/{phase.id}") for phase in phases]
        plan: dict[str, Any] = {
            "resourceType": "CarePlan", "id": program_id, "status": "active", "intent": "plan",
            "category": [self.category], "title": "backrx exercise program",
            "description": " ".join(rec.rationale), "subject": self.subject,
            "author": _ref(self.device),
            "goal": [_ref(goal) for goal in goal_ids],
            "note": [{"text": line} for line in (*rec.safety_net, rec.disclaimer)],
        }
        if self.start is not None and phases:
            first, last = self.phase_period(phases[0]), self.phase_period(phases[-1])
            assert first is not None and last is not None
            plan["period"] = {"start": first["start"], "end": last["end"]}
        used = [source for phase in phases for p in phase.prescriptions for source in p.sources]
        urls = self.source_urls([*(s for f in rec.trace for s in f.sources), *used])
        if urls:
            plan["instantiatesUri"] = urls
        if observations:
            plan["supportingInfo"] = [_ref(observations[0])]
        if referral_id is not None:
            plan["activity"] = [{"reference": _ref(referral_id)}]
        self.add(plan)
        for index, (phase, goal_id) in enumerate(zip(phases, goal_ids, strict=True)):
            child: dict[str, Any] = {
                "resourceType": "CarePlan", "id": self.id(f"careplan/{phase.id}"),
                "status": "completed" if index < current else "active", "intent": "plan",
                "category": [self.category], "title": phase.name,
                "description": f"{phase.goal} (weeks {phase.start_week}-{phase.end_week})",
                "subject": self.subject, "partOf": [_ref(program_id)], "author": _ref(self.device),
                "goal": [_ref(goal_id)],
            }
            period = self.phase_period(phase)
            if period is not None:
                child["period"] = period
            if phase.prescriptions:
                child["activity"] = [self.activity(p, goal_id, phase) for p in phase.prescriptions]
            self.add(child)
        for phase, goal_id in zip(phases, goal_ids, strict=True):
            goal: dict[str, Any] = {
                "resourceType": "Goal", "id": goal_id, "lifecycleStatus": "proposed",
                "description": {"text": f"Criteria to move on from {phase.name}: "
                                        + " ".join(phase.progress_when)},
                "subject": self.subject,
            }
            period = self.phase_period(phase)
            if period is not None:
                goal["startDate"] = period["start"]
                goal["target"] = [{"dueDate": period["end"]}]
            if phase.progress_when:
                goal["note"] = [{"text": criterion} for criterion in phase.progress_when]
            self.add(goal)
        return program_id

    def referral(self) -> str | None:
        return self.id("servicerequest/referral") if self.rec.referral is not None else None

    def build(self) -> dict[str, Any]:
        rec = self.rec
        observations = self.startback()
        referral_id = self.referral()
        program_id = self.program(referral_id, observations)
        if referral_id is not None:
            self.add(self._referral_resource(referral_id, program_id))
        focus = program_id or referral_id
        for notice in rec.warnings:
            issue: dict[str, Any] = {
                "resourceType": "DetectedIssue", "id": self.id(f"detectedissue/{notice.code}"),
                "status": "preliminary",
                "code": _concept(notice.code, {"system": WARNING_SYSTEM, "code": notice.code}),
                "patient": self.subject, "author": _ref(self.device), "detail": notice.message,
            }
            if focus is not None:
                issue["implicated"] = [_ref(focus)]
            self.add(issue)
        targets = [entry["fullUrl"] for entry in self.entries]
        self.add({
            "resourceType": "Library", "id": self.library, "status": "active",
            "name": "".join(part.capitalize() for part in rec.ruleset.name.replace("_", "-").split("-")),
            "title": rec.ruleset.name, "version": rec.ruleset.version,
            "identifier": [{"system": PACK_ID_SYSTEM, "value": rec.ruleset.digest}],
            "type": {"text": "backrx rule pack"},
        })
        self.add({
            "resourceType": "Device", "id": self.device,
            "deviceName": [{"name": "backrx", "type": "user-friendly-name"}],
            "version": [{"value": __version__}],
        })
        self.add(self._provenance(targets))
        bundle: dict[str, Any] = {"resourceType": "Bundle", "id": self.id("bundle"),
                                  "type": "collection", "entry": self.entries}
        if self.recorded is not None:
            bundle["timestamp"] = self.recorded.isoformat()
        return bundle

    def _referral_resource(self, referral_id: str, program_id: str | None) -> dict[str, Any]:
        referral = self.rec.referral
        assert referral is not None
        request: dict[str, Any] = {
            "resourceType": "ServiceRequest", "id": referral_id,
            "status": "draft", "intent": "proposal", "priority": PRIORITY[referral.urgency],
            "code": {"text": f"Referral for medical assessment ({referral.urgency})"},
            "subject": self.subject, "requester": _ref(self.device),
            "reasonCode": [{"text": reason} for reason in referral.reasons],
            "patientInstruction": " ".join(self.rec.safety_net),
        }
        if program_id is not None:
            request["basedOn"] = [_ref(program_id)]
        if self.recorded is not None:
            request["authoredOn"] = self.recorded.isoformat()
        return request

    def _provenance(self, targets: list[str]) -> dict[str, Any]:
        rec = self.rec
        fired: list[str] = []
        for firing in [*rec.trace, *(f for r in rec.adjustments for f in r.trace)]:
            if firing.rule_id not in fired:
                fired.append(firing.rule_id)
        rules = html.escape(", ".join(fired)) or "none"
        div = (f'<div xmlns="http://www.w3.org/1999/xhtml"><p>Made by backrx {html.escape(__version__)} '
               f"with rule pack {html.escape(rec.ruleset.name)} {html.escape(rec.ruleset.version)} "
               f"({html.escape(rec.ruleset.digest)}).</p><p>Rules fired: {rules}.</p></div>")
        provenance: dict[str, Any] = {
            "resourceType": "Provenance", "id": self.id("provenance"),
            "text": {"status": "generated", "div": div},
            "target": [{"reference": target} for target in targets],
            "agent": [{"type": _concept("Author", {"system": PARTICIPANT_TYPE, "code": "author",
                                                   "display": "Author"}),
                       "who": _ref(self.device)}],
            "entity": [{"role": "source", "what": _ref(self.library)},
                       *({"role": "source", "what": {"display": ref.citation}} for ref in rec.references)],
        }
        if fired:
            provenance["policy"] = [RULE_PREFIX + rule_id for rule_id in fired]
        if self.recorded is not None:
            provenance["recorded"] = self.recorded.isoformat()
        else:
            # R4 requires `recorded`; without a time from the caller the output stays byte-identical
            # by saying the time is unknown, the FHIR way, instead of inventing one.
            provenance["_recorded"] = {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}
        return provenance


def to_fhir(rec: Recommendation, *, patient: str | None = None, start: date | None = None,
            recorded: datetime | None = None) -> dict[str, Any]:
    """The recommendation as a FHIR R4 Bundle (type ``collection``), as JSON data.

    ``patient``: a Patient id for ``subject`` (``Patient/<id>``); without one the subject is an
    identifier derived from the profile. ``start``: the program's first day, which gives phases,
    goals and timings real dates. ``recorded``: the time for ``Provenance.recorded`` (timezone
    required); without it the Provenance says the time is unknown. The same arguments always give
    the same Bundle, ids included.
    """
    r4b = _models()
    if recorded is not None and recorded.utcoffset() is None:
        raise ValueError("recorded must carry a timezone (FHIR instant)")
    data = _Builder(rec, patient, start, recorded).build()
    bundle = r4b.get_fhir_model_class("Bundle").model_validate(data)
    return dict(bundle.model_dump(mode="json"))


# ----------------------------------------------------------------------------------------- in


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
        try:
            return json.loads(resource)
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
                "decimal": "valueDecimal"}[kind]
    raise ValueError(f"takes {expected}")


def _red_flags(conditions: Iterable[Any], codes: Mapping[tuple[str, str], str],
               r4b: ModuleType, errors: list[InitErrorDetails]) -> list[str]:
    found: list[str] = []
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
        for coding in (data.get("code") or {}).get("coding", []):
            system, code = coding.get("system"), coding.get("code")
            flag = codes.get((system, code))
            if flag is None and system == RED_FLAG_SYSTEM and code in RED_FLAGS:
                flag = code
            if flag is not None and flag not in found:
                found.append(flag)
    return found


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
    r4b = _models()
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
    seen: set[tuple[str, ...]] = set()
    red_flags_answered = False

    def walk(items: Sequence[Mapping[str, Any]]) -> None:
        nonlocal red_flags_answered
        for item in items:
            link = item["linkId"]
            if link in groups:
                if item.get("answer"):
                    errors.append(_error("fhir-answer-type", f"item {link!r} is a group and takes no answer",
                                         ("item", link, "answer"), None))
                walk(item.get("item", []))
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
                    return
            if spec.path == ("red_flags",):
                red_flags_answered = True
            if spec.repeats and NO_RED_FLAGS in values and NO_RED_FLAGS in spec.codes:
                if len(values) > 1:
                    errors.append(_error("fhir-answer-conflict",
                                         f"item {link!r}: 'none' cannot go with other answers",
                                         ("item", link, "answer"), values))
                values = []
            node = profile
            for part in spec.path[:-1]:
                node = node.setdefault(part, {})
            node[spec.path[-1]] = values if spec.repeats else values[0]

    walk(data.get("item", []))
    flags = _red_flags([*extra_conditions, *conditions], condition_codes or {}, r4b, errors)
    _raise("QuestionnaireResponse", errors)
    if flags:
        profile["red_flags"] = [*profile.get("red_flags", []), *(f for f in flags
                                                                 if f not in profile.get("red_flags", []))]
    elif not red_flags_answered:
        _raise("QuestionnaireResponse", [_error(
            "fhir-red-flags-unanswered",
            "item 'red_flags' is unanswered: answer 'none' when the person was screened and has none",
            ("item", "red_flags"), None)])
    by_path = {spec.path: link for link, spec in specs.items() if not link.startswith("/")}
    try:
        return Profile.model_validate(profile)
    except ValidationError as exc:
        named = [_error(e["type"], e["msg"], ("item", by_path[tuple(map(str, e["loc"]))])
                        if tuple(map(str, e["loc"])) in by_path else e["loc"], e.get("input"))
                 for e in exc.errors()]
        _raise("QuestionnaireResponse", named)
        raise  # pragma: no cover - _raise always raises here


def to_questionnaire_response(profile: Profile, *, subject: str | None = None) -> dict[str, Any]:
    """A completed QuestionnaireResponse to backrx's Questionnaire holding ``profile``'s answers.

    The inverse of :func:`from_fhir` (for tests and integrations); needs no FHIR library.
    """
    from backrx.questionnaire import questionnaire

    data = profile.model_dump(mode="json", exclude_unset=True)
    specs = item_specs()

    def answer(spec: ItemSpec, value: Any) -> dict[str, Any]:
        if spec.kind == "boolean":
            return {"valueBoolean": value}
        if spec.kind == "integer":
            return {"valueInteger": value}
        if spec.kind == "decimal":
            return {"valueDecimal": value}
        if spec.kind == "agreement":
            code = "agree" if value else "disagree"
        elif spec.kind == "bothersomeness":
            code = spec.codes[value]
        else:
            code = value
        system = SYSTEM_PREFIX + ("startback.agreement" if spec.kind == "agreement" else spec.link_id)
        display = spec.displays[spec.codes.index(code)]
        return {"valueCoding": {"system": system, "code": code, "display": display}}

    def lookup(path: Sequence[str]) -> tuple[bool, Any]:
        node: Any = data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False, None
            node = node[part]
        return True, node

    def build(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if item["type"] == "group":
                children = build(item["item"])
                if children:
                    out.append({"linkId": item["linkId"], "item": children})
                continue
            spec = specs[item["linkId"]]
            present, value = lookup(spec.path)
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
        "item": build(questionnaire()["item"]),
    }
    if subject is not None:
        response["subject"] = {"reference": f"Patient/{subject}"}
    return response
