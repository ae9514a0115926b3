"""The education parts of a program as FHIR R4 CommunicationRequests (issue 28).

Each education module, the flare plan and the graded-activity pathway becomes one
``CommunicationRequest`` based on the program's CarePlan: a local code
(``urn:backrx:education``), the person's text as its payload, and the device as the requester.
Simple, readable by any FHIR client, and no codes claimed that were not verified. They stand beside
the CarePlans rather than inside them, so each phase's CarePlan still lists exactly its exercises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backrx.interop.questionnaire import SYSTEM_PREFIX
from backrx.model.recommendation import Recommendation
from backrx.model.words import Words
from backrx.pack.texts import Texts

__all__ = ["EDUCATION_SYSTEM", "education_requests"]

EDUCATION_SYSTEM = SYSTEM_PREFIX + "education"


def _ref(resource_id: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource_id}"}


def _texts(rec: Recommendation, t: Words) -> list[tuple[str, str, str]]:
    program = rec.program
    if program is None:
        return []
    out = [(m.id, m.title, m.text) for m in program.education]
    flare = program.flare_plan
    if flare is not None:
        out.append(("flare-plan-detail", next((m.title for m in program.education if m.id == "flare-plan"),
                                              t("fhir.education.flare_plan")),
                    " ".join([*flare.first_days, flare.keep, flare.ease, flare.seek_help[0], flare.resume])))
    graded = program.graded_activity
    if graded is not None:
        out.append(("graded-activity", graded.title,
                    " ".join([graded.intro, *(s.text for s in graded.steps), graded.referral,
                              graded.supports, graded.cannot])))
    return out


def education_requests(rec: Recommendation, program_id: str, make_id: Callable[[str], str],
                       subject: dict[str, Any], device: str, *,
                       t: Words | None = None) -> list[dict[str, Any]]:
    """One CommunicationRequest per module, then the flare plan and the pathway (none without a
    program). The texts are the recommendation's own; ``t`` (the pack's words in the Bundle's
    language, the bundled English by default) words the flare plan's title when no module names it."""
    return [{"resourceType": "CommunicationRequest", "id": make_id(f"education/{code}"), "status": "active",
             "basedOn": [_ref(program_id)], "subject": subject, "requester": _ref(device),
             "category": [{"coding": [{"system": EDUCATION_SYSTEM, "code": code, "display": title}],
                           "text": title}],
             "payload": [{"contentString": text}]}
            for code, title, text in _texts(rec, t if t is not None else Texts())]
