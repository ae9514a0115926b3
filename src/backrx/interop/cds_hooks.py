"""A CDS Hooks 2.0 service for backrx: discovery and a ``patient-view`` service (FastAPI).

``create_app()`` returns a FastAPI application; the rule pack is loaded once, when the app is
made. The ``patient-view`` service reads the prefetched QuestionnaireResponse (answers to
``backrx schema questionnaire``) and the patient's Conditions, MedicationStatements and
MedicationRequests (read by code through the pack's ``codes.yaml``), runs the pack's recommend,
and answers with cards:

- ``critical``: an emergency or urgent referral (exercise waits), with a suggestion that creates
  the referral ServiceRequest;
- ``warning``: a routine referral, each clinician-facing warning of the recommendation, or a
  questionnaire that could not be read (naming the item);
- a red flag recorded anywhere in the prefetched responses or Conditions that the recommendation
  did not read (an unreadable questionnaire, an older response) gets its own card, graded by the
  pack's triage rules: ``critical`` for a tier that makes exercise wait;
- ``info``: the program summary, with a suggestion that creates its CarePlans and Goals (and the
  STarT Back Observations they rest on); and the EHR codes no value set of the pack holds.

Every reference in a suggestion names a resource the same suggestion creates, the patient, or the
user of the hook.

Refusals (a body over the cap, bad JSON, a malformed call, a missing prefetch, too many
resources or items) are 4xx answers whose body is a FHIR OperationOutcome with a stable code.
Needs ``pip install 'backrx[cds-hooks]'`` (FastAPI, fhir.resources and PyJWT). Given an
`AuthConfig`, every service and feedback call must carry the CDS
Client's signed JWT (401 ``cds-auth-*`` otherwise); ``POST {service}/feedback`` records what the
clinician did with each card in a feedback log (`backrx.interop.cds_feedback`).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from backrx.interop._cds_cards import authored, clinician, codes_card, supporting, without_links
from backrx.interop._cds_cards import name as resource_name
from backrx.interop._cds_request import (
    MAX_BODY_BYTES,
    MAX_ITEMS,
    MAX_RESOURCES,
    RefusalError,
    about,
    entries,
    is_outcome,
    item_count,
    latest,
    read_body,
)
from backrx.interop._fhir import recorded_red_flags
from backrx.interop._words import words
from backrx.interop.cds_auth import AuthConfig, AuthError
from backrx.interop.cds_feedback import FeedbackLog, FeedbackRequest, IssuedCards, MemoryFeedbackLog, event
from backrx.interop.fhir import to_fhir
from backrx.interop.fhir_import import read_fhir
from backrx.interop.questionnaire import QUESTIONNAIRE_URL
from backrx.model.recommendation import Notice, Program, Recommendation, Referral
from backrx.model.vocabulary import URGENCIES
from backrx.pack.texts import Texts
from backrx.readers.documents import loads
from backrx.ruleset import RuleSet, load_rules

SERVICE_ID = "backrx-patient-view"
QR_KEY = "questionnaireResponse"
CONDITIONS_KEY = "conditions"
MEDICATIONS_KEY = "medications"
MEDICATION_REQUESTS_KEY = "medicationRequests"
#: The prefetch keys of coded records, and the resource types each may hold.
RECORD_KEYS = {CONDITIONS_KEY: ("Condition",), MEDICATIONS_KEY: ("MedicationStatement",),
               MEDICATION_REQUESTS_KEY: ("MedicationRequest",)}
SUMMARY_LIMIT = 140
PROBLEMS_SHOWN = 20
_NAMESPACE = uuid.UUID("0d7c9a52-3e1b-5f4a-8c6d-2b9e0f1a7c33")
_LOG = logging.getLogger("backrx.cds_hooks")

__all__ = ["MAX_BODY_BYTES", "MAX_ITEMS", "MAX_RESOURCES", "SERVICE_ID", "cards", "create_app", "discovery"]


class PatientViewContext(BaseModel):
    """The patient-view context: who is looking at which patient."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    user_id: str = Field(alias="userId", min_length=1)
    # A FHIR id: it becomes ``Patient/<id>`` in the suggested resources.
    patient_id: str = Field(alias="patientId", pattern=r"^[A-Za-z0-9\-.]{1,64}$")
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


def discovery(*, locale: str = "en", rules: RuleSet | None = None) -> dict[str, Any]:
    """The discovery document (``GET /cds-services``), worded by the pack's texts in ``locale``."""
    t = words(rules, locale)
    return {"services": [{
        "hook": "patient-view",
        "id": SERVICE_ID,
        "title": t("cds.service.title"),
        "description": t("cds.service.description"),
        "prefetch": {
            QR_KEY: ("QuestionnaireResponse?subject={{context.patientId}}&status=completed"
                     f"&questionnaire={QUESTIONNAIRE_URL}&_sort=-authored&_count=1"),
            # every clinical status: a resolved cancer is still a history of cancer
            CONDITIONS_KEY: "Condition?patient={{context.patientId}}",
            MEDICATIONS_KEY: "MedicationStatement?patient={{context.patientId}}&status=active",
            MEDICATION_REQUESTS_KEY: "MedicationRequest?patient={{context.patientId}}&status=active",
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


def _recorded(rec: Recommendation, t: Texts) -> list[str]:
    """The red flags the profile records, by code, so that a card names each one."""
    profile = rec.profile
    flags = [*profile.red_flags, *(getattr(profile, "red_flags_unsure", None) or [])] if profile else []
    return [t("cds.red_flags.recorded", flags=", ".join(f"`{flag}`" for flag in flags))] if flags else []


def _urgency(t: Texts, urgency: str) -> str:
    """An urgency tier in words (its code where the pack has no word for it)."""
    return t.get(f"cds.urgency.{urgency}") or urgency


def cards(rec: Recommendation, *, patient_id: str, hook_instance: uuid.UUID,
          user_id: str | None = None, locale: str | None = None,
          rules: RuleSet | None = None) -> list[dict[str, Any]]:
    """The CDS Hooks cards for one recommendation, most urgent first.

    Each suggestion stands alone: its references name what it creates, ``Patient/<patient_id>``,
    or the user (``user_id``, when it names a Practitioner or PractitionerRole, authors the
    CarePlans and requests the referral; otherwise no author or requester is set).

    Every label is a text of ``rules`` (the bundled pack by default) in ``locale`` (by default
    the recommendation's own); raises `backrx.RuleError` (``unknown-locale``) for a language the
    pack does not ship.
    """
    deck = _Deck(rec, hook_instance, {"label": f"backrx {rec.ruleset.name}@{rec.ruleset.version}"},
                 _relative(to_fhir(rec, patient=patient_id, locale=locale, rules=rules)), clinician(user_id),
                 words(rules, locale or rec.locale))
    out: list[dict[str, Any]] = []
    if rec.referral is not None:
        out.append(_referral_card(deck, rec.referral))
    out += [_warning_card(deck, notice) for notice in rec.warnings]
    if rec.program is not None:
        out.append(_program_card(deck, rec.program))
    return out


@dataclass(frozen=True)
class _Deck:
    """What every card of one recommendation shares: its source, FHIR resources and author."""

    rec: Recommendation
    hook_instance: uuid.UUID
    source: dict[str, str]
    resources: list[dict[str, Any]]
    by: dict[str, str] | None  # the user who authors, when the hook names a clinician
    t: Texts  # the pack's words, in the card's language

    def key(self, name: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.hook_instance}|{name}"))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["resourceType"] == kind]


def _referral_card(deck: _Deck, referral: Referral) -> dict[str, Any]:
    """The referral card, with its ServiceRequest to create."""
    rec, key, t = deck.rec, deck.key, deck.t
    [request] = deck.of("ServiceRequest")
    request = without_links(authored(request, "requester", deck.by), {resource_name(request)})
    urgent = rec.outcome == "refer"  # the pack's blocking tiers decided it (Pack.blocking_urgencies)
    # Whether exercise waits is the pack's decision (its blocking tiers), not this card's.
    urgency = _urgency(t, referral.urgency)
    summary = t("cds.referral.wait" if urgent else "cds.referral.go_on", urgency=urgency)
    return {
        "uuid": key("referral"),
        "summary": _summary(summary),
        "indicator": "critical" if urgent else "warning",
        "detail": "\n\n".join([f"**{t('cds.heading.why')}**", _bullets(referral.reasons), *_recorded(rec, t),
                               f"**{t('cds.heading.safety_net')}**", _bullets(rec.safety_net),
                               f"_{rec.disclaimer}_"]),
        "source": deck.source,
        "suggestions": [{
            "label": t("cds.referral.label", urgency=urgency),
            "uuid": key("referral-suggestion"),
            "isRecommended": True,
            "actions": [{"type": "create", "description": t("cds.referral.action", urgency=urgency),
                         "resource": request}],
        }],
        "selectionBehavior": "at-most-one",
    }


def _warning_card(deck: _Deck, notice: Notice) -> dict[str, Any]:
    """One review card per warning."""
    t = deck.t
    return {
        "uuid": deck.key(f"warning|{notice.code}"),
        "summary": _summary(t("cds.review", message=notice.message)),
        "indicator": "warning",
        "detail": notice.message
        + ("\n\n" + t("cds.rules", rules=", ".join(notice.rule_ids)) if notice.rule_ids else ""),
        "source": deck.source,
    }


def _program_card(deck: _Deck, program: Program) -> dict[str, Any]:
    """The program card, with the Observations, CarePlans and Goals to create."""
    rec, key, t = deck.rec, deck.key, deck.t
    weeks = max(phase.end_week for phase in program.phases) if program.phases else 0
    risk = rec.classification.startback_risk
    summary_text = (t("cds.program.summary.risk", phases=len(program.phases), weeks=weeks,
                      risk=t.get(f"risk.{risk}.clinician") or risk) if risk
                    else t("cds.program.summary", phases=len(program.phases), weeks=weeks))
    parts = ["\n\n".join(rec.rationale)]
    for phase in program.phases:
        parts.append(f"**{phase.name}** "
                     + t("cds.program.phase", start=phase.start_week, end=phase.end_week, goal=phase.goal)
                     + "\n\n"
                     + _bullets([f"{p.exercise.name}: {p.dose.describe(t)}" for p in phase.prescriptions]))
    parts.append(f"_{rec.disclaimer}_")
    plans = [authored(plan, "author", deck.by) for plan in deck.of("CarePlan")]
    scores = supporting(plans, deck.resources)  # the STarT Back Observations the program rests on
    plan = [*scores, *plans, *deck.of("Goal")]
    made = {resource_name(resource) for resource in plan}
    plan = [without_links(resource, made) for resource in plan]
    labels = [*(t("cds.program.observation", name=score["code"]["text"]) for score in scores),
              t("cds.program.careplan"),
              *(t("cds.program.phase_careplan", phase=phase.name) for phase in program.phases),
              *(t("cds.program.goal", phase=phase.name) for phase in program.phases)]
    return {
        "uuid": key("program"),
        "summary": _summary(summary_text),
        "indicator": "info",
        "detail": "\n\n".join(parts),
        "source": deck.source,
        "suggestions": [{
            "label": t("cds.program.label"),
            "uuid": key("program-suggestion"),
            "actions": [{"type": "create", "description": label, "resource": resource}
                        for label, resource in zip(labels, plan, strict=True)],
        }],
        "selectionBehavior": "at-most-one",
    }


def _problems(exc: ValidationError, t: Texts) -> list[str]:
    problems = [f"`{'.'.join(map(str, e['loc']))}`: {e['msg']}" if e["loc"] else str(e["msg"])
                for e in exc.errors()]
    return problems[:PROBLEMS_SHOWN] + ([t("cds.more", n=len(problems) - PROBLEMS_SHOWN)]
                                        if len(problems) > PROBLEMS_SHOWN else [])


def _error_card(problems: list[str], source: Mapping[str, str], key: str, t: Texts) -> dict[str, Any]:
    return {
        "uuid": key,
        "summary": t("cds.unreadable.summary"),
        "indicator": "warning",
        "detail": t("cds.unreadable.detail") + "\n\n" + _bullets(problems),
        "source": dict(source),
    }


def _flag_card(pack: RuleSet, flags: list[str], note: str, source: Mapping[str, str],
               key: str, t: Texts) -> dict[str, Any]:
    """A card for red flags recorded where no recommendation could read them, graded by the pack's
    triage rules on the flags alone. A flag the pack does not grade alone is treated as critical."""
    lines: list[str] = []
    urgencies: list[str | None] = []
    safety_net: list[str] = []
    for flag in flags:
        decision = pack.decide_facts({"red_flags": frozenset({flag}), "red_flags_unsure": frozenset()},
                                     layers=["triage"])
        urgencies.append(decision.urgency)
        titles = [f.rule.title for f in decision.fired if f.rule.then.refer is not None and f.rule.title]
        reasons = list(decision.referral_reasons)
        lines.append(f"`{flag}`" + (f" ({'; '.join(titles)})" if titles else "")
                     + (f": {' '.join(reasons)}" if reasons else ""))
        safety_net.extend(line for line in decision.safety_net if line not in safety_net)
    most = next((u for u in URGENCIES if u in urgencies), None)
    ungraded = None in urgencies or most is None
    critical = ungraded or most in pack.pack.blocking_urgencies
    shown = ", ".join(flags)
    summary = (t("cds.flags.summary", flags=shown) if ungraded or most is None
               else t("cds.flags.summary.graded", urgency=_urgency(t, most), flags=shown))
    return {
        "uuid": key,
        "summary": _summary(summary),
        "indicator": "critical" if critical else "warning",
        "detail": "\n\n".join([f"**{t('cds.heading.red_flags')}**", _bullets(lines), note,
                                 *([f"**{t('cds.heading.safety_net')}**", _bullets(safety_net)]
                                   if safety_net else [])]),
        "source": dict(source),
    }


class _Service:
    """The patient-view service: one rule pack, and the limits of one call."""

    def __init__(self, pack: RuleSet, max_resources: int, max_items: int, locale: str = "en") -> None:
        self.pack, self.max_resources, self.max_items = pack, max_resources, max_items
        self.locale = locale
        self.t = words(pack, locale)  # refuses (RuleError) a language the pack does not ship, now
        self.source = {"label": f"backrx {pack.name}@{pack.version}"}
        self.issued = IssuedCards()

    def answer(self, request: HookRequest) -> dict[str, Any]:
        """The cards for one call; each is remembered (kind and suggestions) for feedback."""
        result, warnings = self._answer(request)
        names = ["referral", "program", "flags", "unreadable", "codes",
                 *(f"warning|{code}" for code in warnings)]
        kinds = {str(uuid.uuid5(_NAMESPACE, f"{request.hook_instance}|{name}")): name for name in names}
        for card in result["cards"]:
            suggestions = frozenset(str(s.get("uuid")) for s in card.get("suggestions", []))
            self.issued.remember(card["uuid"], kinds.get(card["uuid"], "unknown"), suggestions)
        return result

    def _answer(self, request: HookRequest) -> tuple[dict[str, Any], list[str]]:
        """The answer, and the codes of the recommendation's warnings (which name their cards)."""
        if request.hook != "patient-view":
            raise RefusalError(400, "cds-wrong-hook", "this service answers the patient-view hook only",
                          "not-supported")
        prefetch = request.prefetch or {}
        if QR_KEY not in prefetch:
            # The service does not query the FHIR server itself: without the prefetch it cannot work.
            raise RefusalError(412, "cds-prefetch-missing", f"prefetch '{QR_KEY}' is required", "required")
        for name in (QR_KEY, *RECORD_KEYS):
            if is_outcome(prefetch.get(name)):
                raise RefusalError(412, "cds-prefetch-failed",
                                   f"the client could not fetch prefetch '{name}'",
                              "required")
        patient_id = request.context.patient_id
        responses = [r for r in entries(prefetch[QR_KEY], "QuestionnaireResponse", self.max_resources, QR_KEY)
                     if str(r.get("questionnaire", QUESTIONNAIRE_URL)).split("|")[0] == QUESTIONNAIRE_URL
                     and about(r, patient_id)]
        records = [r for key_, kinds in RECORD_KEYS.items() for kind in kinds
                   for r in entries(prefetch.get(key_), kind, self.max_resources, key_)
                   if about(r, patient_id)]
        if not responses:
            return {"cards": []}, []

        def key(name: str) -> str:
            return str(uuid.uuid5(_NAMESPACE, f"{request.hook_instance}|{name}"))

        t = self.t
        # Every flag recorded anywhere, read on its own: no bad answer or ordering can hide one.
        recorded = recorded_red_flags(responses, records, rules=self.pack)
        if item_count(responses) > self.max_items:
            if not recorded:
                raise RefusalError(413, "cds-too-many-items", f"the questionnaire responses hold more than "
                              f"{self.max_items} items and answers", "too-costly")
            note = t("cds.flags.too_many", n=self.max_items)
            return {"cards": [_flag_card(self.pack, recorded, note, self.source, key("flags"), self.t)]}, []
        chosen = latest(responses)
        try:
            # the pack's own codes.yaml reads the records: a clinic's mapping counts here too
            read = read_fhir(chosen, conditions=records, rules=self.pack)
        except ValidationError as exc:
            out = [_error_card(_problems(exc, self.t), self.source, key("unreadable"), self.t)]
            if recorded:
                note = t("cds.flags.unreadable")
                out.insert(0, _flag_card(self.pack, recorded, note, self.source, key("flags"), self.t))
            return {"cards": out}, []
        profile = read.profile
        rec = self.pack.recommend(profile, locale=self.locale)
        out = cards(rec, patient_id=patient_id, hook_instance=request.hook_instance,
                    user_id=request.context.user_id, locale=self.locale, rules=self.pack)
        if read.unknown_codes:
            out.append(codes_card(read.unknown_codes, self.source, key("codes"), self.t))
        kept = {*profile.red_flags, *(getattr(profile, "red_flags_unsure", None) or [])}
        unread = [flag for flag in recorded if flag not in kept]
        if unread:
            note = t("cds.flags.older")
            out.insert(0, _flag_card(self.pack, unread, note, self.source, key("flags"), self.t))
        return {"cards": out}, [notice.code for notice in rec.warnings]


def _feedback_items(data: Any) -> FeedbackRequest:
    """A feedback body, validated; a bad one is refused (422) naming the fields, not their values."""
    try:
        request = FeedbackRequest.model_validate(data)
    except ValidationError as exc:
        problems = [(".".join(map(str, e["loc"])), str(e["msg"])) for e in exc.errors(include_input=False)]
        raise RefusalError(422, "cds-bad-feedback", "the request is not CDS Hooks 2.0 feedback", "invalid",
                           problems) from None
    wrong = [(f"feedback.{n}", problem) for n, item in enumerate(request.feedback)
             if (problem := item.consistent()) is not None]
    if wrong:
        raise RefusalError(422, "cds-bad-feedback", "the request is not CDS Hooks 2.0 feedback", "invalid",
                           wrong)
    return request


def _json(body: bytes) -> Any:
    try:
        return loads(body)
    except ValueError:
        raise RefusalError(400, "cds-bad-json", "the request body is not valid JSON (UTF-8, each key "
                           "once, not nested too deeply)", "structure") from None


def create_app(rules: RuleSet | None = None, *, max_body_bytes: int = MAX_BODY_BYTES,
               max_resources: int = MAX_RESOURCES, max_items: int = MAX_ITEMS,
               auth: AuthConfig | None = None, feedback_log: FeedbackLog | None = None,
               warn_unauthenticated: bool = False, locale: str = "en") -> FastAPI:
    """The CDS Hooks service; loads the rule pack (bundled by default) once, now. ``locale`` (one the
    pack ships) is the language of the discovery document and the cards.

    Limits of one call: ``max_body_bytes`` of request body (413 ``cds-body-too-large`` beyond),
    ``max_resources`` resources in each prefetch key (413 ``cds-too-many-resources``) and
    ``max_items`` items and answers across the responses (413 ``cds-too-many-items``, unless a red
    flag is recorded: then its critical card still comes). Every refusal is a 4xx whose body is a
    FHIR OperationOutcome naming a stable code.

    ``auth`` checks the CDS Client's JWT on the service and feedback calls (and on discovery when
    it says so); without it no call is checked, and ``warn_unauthenticated`` logs a warning on every
    request. ``feedback_log`` receives one event per feedback item (in memory by default).
    """
    pack = rules if rules is not None else load_rules()
    service = _Service(pack, max_resources, max_items, locale)
    log: FeedbackLog = feedback_log if feedback_log is not None else MemoryFeedbackLog()
    app = FastAPI(title="backrx CDS Hooks service", version=pack.version)
    app.state.rules = pack
    app.state.feedback_log = log
    # CDS clients running in a browser call the service cross-origin (CDS Hooks 2.0, security).
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["*"])

    def check(request: Request, endpoint: str) -> None:
        if auth is not None:
            auth.verify(request.headers.get("authorization"), endpoint)
        elif warn_unauthenticated:
            _LOG.warning("backrx CDS Hooks: %s %s answered WITHOUT authentication (BACKRX_CDS_INSECURE)",
                         request.method, endpoint)

    @app.exception_handler(AuthError)
    async def unauthorised(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else {
            "Retry-After": "5"}
        return JSONResponse(exc.outcome(), status_code=exc.status, headers=headers)

    @app.exception_handler(RefusalError)
    async def refused(_: Request, exc: RefusalError) -> JSONResponse:
        return JSONResponse(exc.outcome(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        refusal = RefusalError(exc.status_code, f"cds-http-{exc.status_code}", str(exc.detail), "not-found")
        return JSONResponse(refusal.outcome(), status_code=exc.status_code)

    @app.get("/cds-services")
    def get_discovery(request: Request) -> dict[str, Any]:
        if auth is None or auth.protect_discovery:
            check(request, "/cds-services")
        return discovery(locale=locale, rules=pack)

    @app.post(f"/cds-services/{SERVICE_ID}")
    async def patient_view(request: Request) -> dict[str, Any]:
        check(request, f"/cds-services/{SERVICE_ID}")
        data = _json(await read_body(request, max_body_bytes))
        try:
            call = HookRequest.model_validate(data)
        except ValidationError as exc:
            problems = [(".".join(map(str, e["loc"])), str(e["msg"])) for e in exc.errors()]
            raise RefusalError(422, "cds-bad-request", "the request is not a CDS Hooks 2.0 call", "invalid",
                          problems) from None
        answer: dict[str, Any] = await run_in_threadpool(service.answer, call)
        return answer

    @app.post(f"/cds-services/{SERVICE_ID}/feedback")
    async def feedback(request: Request) -> dict[str, Any]:
        check(request, f"/cds-services/{SERVICE_ID}/feedback")
        items = _feedback_items(_json(await read_body(request, max_body_bytes)))
        received = datetime.datetime.now(datetime.timezone.utc)
        made = [event(item, service=SERVICE_ID, pack=pack.name, version=pack.version, issued=service.issued,
                      received=received) for item in items.feedback]
        for one in made:
            await run_in_threadpool(log.append, one)
        return {}

    return app
