"""A CDS Hooks 2.0 service for backrx: discovery and a ``patient-view`` service (FastAPI).

``create_app()`` returns a FastAPI application; the rule pack is loaded once, when the app is
made. The ``patient-view`` service reads the prefetched QuestionnaireResponse (answers to
``backrx schema questionnaire``) and the patient's Conditions, runs :func:`backrx.recommend`, and
answers with cards:

- ``critical``: an emergency or urgent referral (exercise waits), with a suggestion that creates
  the referral ServiceRequest;
- ``warning``: a routine referral, each clinician-facing warning of the recommendation, or a
  questionnaire that could not be read (naming the item);
- ``info``: the program summary, with a suggestion that creates its CarePlans and Goals.

Needs ``pip install 'backrx[cds-hooks]'`` (FastAPI and fhir.resources). Authentication (the JWT
that CDS clients send) is left to the deployment: run the app behind a gateway that checks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backrx.interop.fhir import from_fhir, to_fhir
from backrx.interop.questionnaire import QUESTIONNAIRE_URL
from backrx.model.recommendation import Recommendation
from backrx.ruleset import RuleSet, load_rules

SERVICE_ID = "backrx-patient-view"
QR_KEY = "questionnaireResponse"
CONDITIONS_KEY = "conditions"
SUMMARY_LIMIT = 140
_NAMESPACE = uuid.UUID("0d7c9a52-3e1b-5f4a-8c6d-2b9e0f1a7c33")

__all__ = ["SERVICE_ID", "cards", "create_app", "discovery"]


class PatientViewContext(BaseModel):
    """The patient-view context: who is looking at which patient."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    user_id: str = Field(alias="userId", min_length=1)
    patient_id: str = Field(alias="patientId", min_length=1)
    encounter_id: str | None = Field(default=None, alias="encounterId")


class HookRequest(BaseModel):
    """A CDS Hooks 2.0 service call."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    hook: str
    hook_instance: uuid.UUID = Field(alias="hookInstance")
    fhir_server: str | None = Field(default=None, alias="fhirServer")
    fhir_authorization: dict[str, Any] | None = Field(default=None, alias="fhirAuthorization")
    context: PatientViewContext
    prefetch: dict[str, Any] | None = None


def discovery() -> dict[str, Any]:
    """The discovery document (``GET /cds-services``)."""
    return {"services": [{
        "hook": "patient-view",
        "id": SERVICE_ID,
        "title": "backrx: exercise program for back pain",
        "description": (
            "Reads the patient's backrx back-pain questionnaire and active Conditions, and proposes "
            "a staged exercise program, or the referral that must come first. It does not diagnose."
        ),
        "prefetch": {
            QR_KEY: ("QuestionnaireResponse?subject={{context.patientId}}&status=completed"
                     f"&questionnaire={QUESTIONNAIRE_URL}&_sort=-authored&_count=1"),
            CONDITIONS_KEY: "Condition?patient={{context.patientId}}&clinical-status=active",
        },
    }]}


def _summary(text: str) -> str:
    return text if len(text) < SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 2].rstrip() + "…"


def _relative(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Bundle's resources with ``urn:uuid:`` references turned into ``Type/id``."""
    names = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (names.get(v, v) if k == "reference" and isinstance(v, str) else swap(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [swap(value) for value in node]
        return node

    return [swap(e["resource"]) for e in bundle["entry"]]


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def cards(rec: Recommendation, *, patient_id: str, hook_instance: uuid.UUID) -> list[dict[str, Any]]:
    """The CDS Hooks cards for one recommendation, most urgent first."""
    source = {"label": f"backrx {rec.ruleset.name}@{rec.ruleset.version}"}
    resources = _relative(to_fhir(rec, patient=patient_id))

    def key(name: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{hook_instance}|{name}"))

    def of(kind: str) -> list[dict[str, Any]]:
        return [r for r in resources if r["resourceType"] == kind]

    out: list[dict[str, Any]] = []
    referral = rec.referral
    if referral is not None:
        [request] = of("ServiceRequest")
        urgent = rec.outcome == "refer"  # the pack's blocking tiers decided it (Pack.blocking_urgencies)
        # Whether exercise waits is the pack's decision (its blocking tiers), not this card's.
        summary = (f"{referral.urgency.capitalize()} referral advised: "
                   + ("exercise must wait" if urgent else "the exercise program can go on"))
        out.append({
            "uuid": key("referral"),
            "summary": _summary(summary),
            "indicator": "critical" if urgent else "warning",
            "detail": "\n\n".join(["**Why**", _bullets(referral.reasons), "**Safety net**",
                                   _bullets(rec.safety_net), f"_{rec.disclaimer}_"]),
            "source": source,
            "suggestions": [{
                "label": f"Create the {referral.urgency} referral request",
                "uuid": key("referral-suggestion"),
                "isRecommended": True,
                "actions": [{"type": "create", "description": f"Draft a {referral.urgency} referral "
                             "ServiceRequest", "resource": request}],
            }],
            "selectionBehavior": "at-most-one",
        })
    for notice in rec.warnings:
        out.append({
            "uuid": key(f"warning|{notice.code}"),
            "summary": _summary(f"Review: {notice.message}"),
            "indicator": "warning",
            "detail": notice.message
            + (f"\n\nRules: {', '.join(notice.rule_ids)}" if notice.rule_ids else ""),
            "source": source,
        })
    program = rec.program
    if program is not None:
        weeks = max(phase.end_week for phase in program.phases) if program.phases else 0
        risk = rec.classification.startback_risk
        summary_text = (f"Exercise program: {len(program.phases)} phases over {weeks} weeks"
                        + (f", STarT Back {risk} risk" if risk else ""))
        parts = ["\n\n".join(rec.rationale)]
        for phase in program.phases:
            parts.append(f"**{phase.name}** (weeks {phase.start_week}-{phase.end_week}): {phase.goal}\n\n"
                         + _bullets([f"{p.exercise.name}: {p.dose.describe()}" for p in phase.prescriptions]))
        parts.append(f"_{rec.disclaimer}_")
        plan = [*of("CarePlan"), *of("Goal")]
        labels = ["Create the program CarePlan",
                  *(f"Create the CarePlan for {phase.name}" for phase in program.phases),
                  *(f"Create the Goal for moving on from {phase.name}" for phase in program.phases)]
        out.append({
            "uuid": key("program"),
            "summary": _summary(summary_text),
            "indicator": "info",
            "detail": "\n\n".join(parts),
            "source": source,
            "suggestions": [{
                "label": "Create the exercise CarePlan",
                "uuid": key("program-suggestion"),
                "actions": [{"type": "create", "description": label, "resource": resource}
                            for label, resource in zip(labels, plan, strict=True)],
            }],
            "selectionBehavior": "at-most-one",
        })
    return out


def _entries(value: Any, kind: str) -> list[Mapping[str, Any]]:
    """Resources of one type from a prefetch value: a resource, a Bundle, or a list of either."""
    if value is None:
        return []
    if isinstance(value, list):
        return [r for item in value for r in _entries(item, kind)]
    if not isinstance(value, Mapping):
        return []
    if value.get("resourceType") == "Bundle":
        return [r for e in value.get("entry") or [] for r in _entries(e.get("resource"), kind)]
    return [value] if value.get("resourceType") == kind else []


def _about(resource: Mapping[str, Any], patient_id: str) -> bool:
    """False for a resource whose subject is another patient (a prefetch must never mix people)."""
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, Mapping) else None
    if not isinstance(reference, str):
        return True
    wanted = f"Patient/{patient_id}"
    return reference == wanted or reference.endswith("/" + wanted)


def _error_card(exc: ValidationError, source: Mapping[str, str], key: str) -> dict[str, Any]:
    problems = [f"`{'.'.join(map(str, e['loc']))}`: {e['msg']}" for e in exc.errors()]
    return {
        "uuid": key,
        "summary": "The backrx questionnaire could not be read; no exercise advice was made",
        "indicator": "warning",
        "detail": "Fix these answers and ask again:\n\n" + _bullets(problems),
        "source": dict(source),
    }


def create_app(rules: RuleSet | None = None) -> FastAPI:
    """The CDS Hooks service; loads the rule pack (bundled by default) once, now."""
    pack = rules if rules is not None else load_rules()
    app = FastAPI(title="backrx CDS Hooks service", version=pack.version)
    app.state.rules = pack
    # CDS clients running in a browser call the service cross-origin (CDS Hooks 2.0, security).
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["*"])

    @app.get("/cds-services")
    def get_discovery() -> dict[str, Any]:
        return discovery()

    @app.post(f"/cds-services/{SERVICE_ID}")
    def patient_view(request: HookRequest) -> dict[str, Any]:
        if request.hook != "patient-view":
            raise HTTPException(status_code=400,
                                detail=f"this service answers patient-view, not {request.hook}")
        prefetch = request.prefetch or {}
        if QR_KEY not in prefetch:
            # The example does not query the FHIR server itself: without the prefetch it cannot work.
            raise HTTPException(status_code=412, detail=f"prefetch '{QR_KEY}' is required")
        patient_id = request.context.patient_id
        responses = [r for r in _entries(prefetch.get(QR_KEY), "QuestionnaireResponse")
                     if str(r.get("questionnaire", QUESTIONNAIRE_URL)).split("|")[0] == QUESTIONNAIRE_URL
                     and _about(r, patient_id)]
        if not responses:
            return {"cards": []}
        latest = max(responses, key=lambda r: str(r.get("authored", "")))
        conditions = [c for c in _entries(prefetch.get(CONDITIONS_KEY), "Condition") if _about(c, patient_id)]
        source = {"label": f"backrx {pack.name}@{pack.version}"}
        try:
            profile = from_fhir(latest, conditions=conditions)
        except ValidationError as exc:
            key = str(uuid.uuid5(_NAMESPACE, f"{request.hook_instance}|unreadable"))
            return {"cards": [_error_card(exc, source, key)]}
        rec = pack.recommend(profile)
        return {"cards": cards(rec, patient_id=patient_id, hook_instance=request.hook_instance)}

    return app
