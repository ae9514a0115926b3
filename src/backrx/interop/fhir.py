"""HL7 FHIR R4 out and in: a Recommendation as a Bundle (here), a QuestionnaireResponse as a Profile.

The resources are built and checked with the ``fhir.resources`` models of FHIR **R4B** (4.3.0):
``fhir.resources`` 8 ships no R4 (4.0.1) package, and R4B is its closest stand-in. The output is
also checked, in backrx's tests, against HL7's official R4 JSON Schema. ``fhir.resources`` is an
optional dependency (``pip install 'backrx[fhir]'``); it is imported only when a function here
is called, and a missing install raises `FhirUnavailableError` (an ``ImportError``).

Reading FHIR lives in `backrx.interop.questionnaire_response` (re-exported here). docs/fhir.md has
the mapping field by field, what is lost, and which codes are used.
"""

from __future__ import annotations

import hashlib
import html
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from backrx._version import __version__
from backrx.interop._fhir import (
    EXERCISE_SYSTEM,
    EXERCISE_THERAPY,
    LOINC_DISPLAY,
    NAMESPACE,
    OBSERVATION_CATEGORY,
    PA_CODES,
    PACK_ID_SYSTEM,
    PARTICIPANT_TYPE,
    PRIORITY,
    PROFILE_ID_SYSTEM,
    RED_FLAG_SYSTEM,
    RISK_ANSWER,
    RULE_PREFIX,
    UCUM,
    WARNING_SYSTEM,
    FhirUnavailableError,
    models,
)
from backrx.interop.fhir_education import education_requests
from backrx.interop.fhir_outcomes import observations as outcome_observations
from backrx.interop.fhir_words import fhir_texts
from backrx.interop.questionnaire import LOINC
from backrx.interop.questionnaire_response import from_fhir, to_questionnaire_response
from backrx.model import chain
from backrx.model.words import dose_words, has_amount
from backrx.pack.texts import Texts

if TYPE_CHECKING:
    from backrx.model.recommendation import Override, Phase, Prescription, Recommendation
    from backrx.ruleset import RuleSet

__all__ = ["RED_FLAG_SYSTEM", "FhirUnavailableError", "from_fhir", "to_fhir", "to_questionnaire_response"]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ref(resource_id: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource_id}"}


def _concept(text: str, *codings: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text}
    if codings:
        out = {"coding": list(codings), **out}
    return out


def _instant(moment: datetime) -> str:
    """An ISO 8601 instant as fhir.resources writes it (UTC as Z)."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weeks(count: int) -> dict[str, Any]:
    return {"value": count, "unit": "wk", "system": UCUM, "code": "wk"}


class _Builder:
    """Builds one Bundle; every id is a uuid5 of the rule pack digest, the content and a key.

    Every word backrx writes comes from ``texts`` (the pack's texts in the Bundle's language).
    """

    def __init__(self, rec: Recommendation, patient: str | None, start: date | None,
                 recorded: datetime | None, texts: Mapping[str, str]) -> None:
        self.rec = rec
        self.texts = texts
        self.t = t = Texts(texts)
        self.start = start
        self.recorded = recorded
        # Provenance.recorded is always given: the caller's time, else the time of this export.
        self.stamp = _instant(recorded if recorded is not None else datetime.now(timezone.utc))
        content = rec.model_dump_json()
        self.seed = "|".join((rec.ruleset.digest, _digest(content), patient or "", str(start or ""),
                              recorded.isoformat() if recorded else ""))
        if patient is not None:
            self.subject: dict[str, Any] = {"reference": f"Patient/{patient}"}
        else:
            profile_json = rec.profile.model_dump_json() if rec.profile is not None else content
            self.subject = {
                "identifier": {"system": PROFILE_ID_SYSTEM, "value": "sha256:" + _digest(profile_json)},
                "display": t("fhir.subject"),
            }
        self.entries: list[dict[str, Any]] = []
        self.device = self.id("device")
        self.library = self.id("library")
        self.category = _concept(t("fhir.category"),
                                 {"system": PA_CODES, "code": "PhysicalActivity"})
        self.urls = {ref.id: ref.url for ref in rec.references if ref.url}

    def id(self, key: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.seed}|{key}"))

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

    def week_days(self, phase: Phase, exercise_id: str) -> list[str]:
        """FHIR day-of-week codes of the phase's typical week on which the exercise is done.

        Day n of the week is the phase's first day + (n - 1), so this needs a start date.
        """
        if self.start is None:
            return []
        first = self.start + timedelta(days=7 * (phase.start_week - 1))
        found = {(first + timedelta(days=day.day - 1)).weekday()
                 for day in getattr(phase, "week", []) if exercise_id in day.prescriptions}
        return [_WEEKDAYS[index] for index in sorted(found)]

    # -- resources ---------------------------------------------------------------------------

    def startback(self) -> list[str]:
        """Observations for the STarT Back scores and risk group; returns their ids."""
        rec, t = self.rec, self.t
        risk = rec.classification.startback_risk
        screen = rec.profile.startback if rec.profile is not None else None
        total = screen.total if screen is not None else None
        psych = screen.psychosocial if screen is not None else None
        interpretation = [{"text": t("fhir.startback.risk", risk=t(f"report.risk.{risk}"))}] if risk else None

        def observation(key: str, code: str, value: dict[str, Any]) -> str:
            resource: dict[str, Any] = {
                "resourceType": "Observation", "id": self.id(key), "status": "final",
                "category": [_concept(t("fhir.category.survey"), {"system": OBSERVATION_CATEGORY,
                                                                  "code": "survey", "display": "Survey"})],
                "code": _concept(LOINC_DISPLAY[code],
                                 {"system": LOINC, "code": code, "display": LOINC_DISPLAY[code]}),
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

    def outcomes(self) -> list[str]:
        """Observations for the outcome measures of the profile and of each feedback round."""
        rec = self.rec
        found = outcome_observations(rec.profile.outcomes if rec.profile is not None else None,
                                     "baseline", self.subject, self.id, t=self.t)
        for number, round_ in enumerate(rec.adjustments, start=1):
            feedback = round_.feedback
            when = feedback.date.isoformat() if feedback.date is not None else None
            found += outcome_observations(feedback.outcomes, f"round-{number}", self.subject, self.id, when,
                                          t=self.t)
        for resource in found:
            self.add(resource)
        return [str(resource["id"]) for resource in found]

    def activity(self, prescription: Prescription, goal_id: str, phase: Phase) -> dict[str, Any]:
        exercise, dose = prescription.exercise, prescription.dose
        codings = [{"system": EXERCISE_SYSTEM, "code": exercise.id, "display": exercise.name}]
        if exercise.category != "education":
            codings.append(EXERCISE_THERAPY)
        repeat: dict[str, Any] = {}
        weekly = dose.sessions_per_week
        # Fields of backrx 0.2 (Dose.times_per_day, Phase.week), read so that older output works.
        per_day: int | None = getattr(dose, "times_per_day", None)
        if per_day and (weekly is None or weekly >= 7):
            repeat.update(frequency=per_day, period=1, periodUnit="d")
        elif per_day and weekly:
            repeat.update(frequency=per_day * weekly, period=1, periodUnit="wk")
        elif weekly:
            repeat.update(frequency=weekly, period=1, periodUnit="wk")
        days = self.week_days(phase, exercise.id)
        if days:
            repeat["dayOfWeek"] = days
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
            # the dose in the clinician's words of the Bundle's language, as the clinician's report
            # words it (backrx.model.words)
            "description": (f"{self.dose(prescription)}. {exercise.instructions}"
                            if has_amount(dose) else exercise.instructions),
        }
        urls = self.source_urls(prescription.sources)
        if urls:
            detail["instantiatesUri"] = urls
        return {"detail": detail}

    def dose(self, prescription: Prescription) -> str:
        """The dose in the clinician's words (each side for a one-sided exercise)."""
        exercise = prescription.exercise
        return dose_words(prescription.dose, self.t, clinical=True,
                          each_side=exercise.per_side and exercise.category != "education")

    def program(self, referral_id: str | None, observations: list[str]) -> str | None:
        rec, t = self.rec, self.t
        if rec.program is None:
            return None
        program_id = self.id("careplan/program")
        phases = rec.program.phases
        current = next((i for i, p in enumerate(phases) if p.id == rec.program.current_phase), 0)
        goal_ids = [self.id(f"goal/{phase.id}") for phase in phases]
        plan: dict[str, Any] = {
            "resourceType": "CarePlan", "id": program_id, "status": "active", "intent": "plan",
            "category": [self.category], "title": t("fhir.program.title"),
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
                "description": t("fhir.phase.description", goal=phase.goal, start=phase.start_week,
                                 end=phase.end_week),
                "subject": self.subject, "partOf": [_ref(program_id)], "author": _ref(self.device),
                "goal": [_ref(goal_id)],
            }
            period = self.phase_period(phase)
            if period is not None:
                child["period"] = period
            if phase.prescriptions:
                child["activity"] = [self.activity(p, goal_id, phase) for p in phase.prescriptions]
            self.add(child)
        for resource in education_requests(rec, program_id, self.id, self.subject, self.device, t=t):
            self.add(resource)  # issue 28: modules, flare plan and pathway
        for phase, goal_id in zip(phases, goal_ids, strict=True):
            goal: dict[str, Any] = {
                "resourceType": "Goal", "id": goal_id, "lifecycleStatus": "proposed",
                "description": {"text": t("fhir.goal", phase=phase.name,
                                          criteria=" ".join(phase.progress_when))},
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
        rec, t = self.rec, self.t
        observations = self.startback()
        self.outcomes()
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
            "type": {"text": t("fhir.library.type")},
        })
        self.add({
            "resourceType": "Device", "id": self.device,
            "deviceName": [{"name": "backrx", "type": "user-friendly-name"}],
            "version": [{"value": __version__}],
        })
        self.add(self._provenance(targets))
        for item in rec.overrides:  # each clinician override on the record, as its own Provenance
            self.add(self._override_provenance(item, targets))
        bundle: dict[str, Any] = {"resourceType": "Bundle", "id": self.id("bundle"),
                                  "type": "collection", "entry": self.entries}
        if self.recorded is not None:
            bundle["timestamp"] = _instant(self.recorded)
        return bundle

    def _referral_resource(self, referral_id: str, program_id: str | None) -> dict[str, Any]:
        referral, t = self.rec.referral, self.t
        assert referral is not None
        urgency = {"emergency": t("fhir.urgency.emergency"), "urgent": t("fhir.urgency.urgent"),
                   "routine": t("fhir.urgency.routine")}[referral.urgency]
        request: dict[str, Any] = {
            "resourceType": "ServiceRequest", "id": referral_id,
            "status": "draft", "intent": "proposal", "priority": PRIORITY[referral.urgency],
            "code": {"text": t("fhir.referral", urgency=urgency)},
            "subject": self.subject, "requester": _ref(self.device),
            "reasonCode": [{"text": reason} for reason in referral.reasons],
            "patientInstruction": " ".join(self.rec.safety_net),
        }
        if program_id is not None:
            request["basedOn"] = [_ref(program_id)]
        if self.recorded is not None:
            request["authoredOn"] = _instant(self.recorded)
        return request

    def _override_provenance(self, item: Override, targets: list[str]) -> dict[str, Any]:
        from backrx.overrides.override import describe

        t = self.t
        provenance: dict[str, Any] = {
            "resourceType": "Provenance", "id": self.id(f"override-{item.number}"),
            "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>'
                     f"{html.escape(describe(item, self.texts))}</p></div>"},
            "target": [{"reference": target} for target in targets],
            "activity": {"text": t("fhir.override.activity", kind=item.kind)},
            "reason": [{"text": item.reason}] + (
                [{"text": t("fhir.override.acknowledged", codes=", ".join(item.acknowledged))}]
                if item.acknowledged else []),
            "agent": [{"type": self.author(), "who": {"display": item.by}}],
        }
        if item.overrode:
            provenance["entity"] = [{"role": "revision", "what": {"display": t("fhir.rule", rule=rule_id)}}
                                    for rule_id in item.overrode]
        if item.at is not None:
            at = item.at[:-1] + "+00:00" if item.at.endswith("Z") else item.at
            provenance["recorded"] = _instant(datetime.fromisoformat(at))
        else:  # the override's own time was not kept: the time it was recorded here
            provenance["recorded"] = self.stamp
            provenance["reason"].append({"text": t("fhir.override.time_unknown")})
        return provenance

    def author(self) -> dict[str, Any]:
        """The Provenance agent type ``author`` (HL7's display; the text in the Bundle's words)."""
        t = self.t
        return _concept(t("fhir.author"), {"system": PARTICIPANT_TYPE, "code": "author", "display": "Author"})

    def _provenance(self, targets: list[str]) -> dict[str, Any]:
        rec, t = self.rec, self.t
        fired: list[str] = []
        for firing in [*rec.trace, *(f for r in rec.adjustments for f in r.trace)]:
            if firing.rule_id not in fired:
                fired.append(firing.rule_id)
        made = t("fhir.provenance.made_by", version=__version__, pack=rec.ruleset.name,
                 pack_version=rec.ruleset.version, digest=rec.ruleset.digest)
        fired_text = t("fhir.provenance.rules", rules=", ".join(fired) or t("value.none"))
        div = (f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(made)}</p>'
               f"<p>{html.escape(fired_text)}</p></div>")
        provenance: dict[str, Any] = {
            "resourceType": "Provenance", "id": self.id("provenance"),
            "text": {"status": "generated", "div": div},
            "target": [{"reference": target} for target in targets],
            "agent": [{"type": self.author(), "who": _ref(self.device)}],
            "entity": [{"role": "source", "what": _ref(self.library)},
                       *({"role": "source", "what": {"display": ref.citation}} for ref in rec.references)],
        }
        if fired:
            provenance["policy"] = [RULE_PREFIX + rule_id for rule_id in fired]
        provenance["recorded"] = self.stamp
        return provenance


def to_fhir(rec: Recommendation, *, patient: str | None = None, start: date | None = None,
            recorded: datetime | None = None, locale: str | None = None,
            rules: RuleSet | None = None) -> dict[str, Any]:
    """The recommendation as a FHIR R4 Bundle (type ``collection``), as JSON data.

    ``patient``: a Patient id for ``subject`` (``Patient/<id>``); without one the subject is an
    identifier derived from the profile. ``start``: the program's first day, which gives phases,
    goals and timings real dates. ``recorded``: the time of the decision for ``Provenance.recorded``
    (timezone required); without it ``recorded`` is the time of this call. Outcome measures (the
    profile's and each feedback round's) are Observations (`backrx.interop.fhir_outcomes`).
    ``locale``: the language of the words backrx writes (labels, narratives, the dose), by
    default the recommendation's own; ``rules``: the pack whose ``text.yaml`` (and locale files)
    word them, by default the bundled pack (`backrx.interop.fhir_words`). The texts that came with
    the recommendation (phase names, rationales, instructions) stay in the language it was made in.
    The same arguments, ``recorded`` included, always give the same Bundle; without ``recorded``
    only the ``recorded`` times differ between calls, never an id. Raises `backrx.RuleError`
    (``unknown-locale``) for a language the pack does not ship.
    """
    # No edited, erased or unchained override reaches a Provenance (backrx.model.chain.ChainError).
    chain.verify(rec, allow_unchained=not rec.overrides)
    r4b = models()
    if recorded is not None and recorded.utcoffset() is None:
        raise ValueError("recorded must carry a timezone (FHIR instant)")
    data = _Builder(rec, patient, start, recorded, fhir_texts(rec, locale, rules)).build()
    # Validate with fhir.resources, but return the data as built: it is already JSON-safe, and the
    # tests check that fhir.resources would dump exactly the same (its dump costs twice the check).
    r4b.get_fhir_model_class("Bundle").model_validate(data)
    return data
