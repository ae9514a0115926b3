"""The education parts of a program as FHIR R4 CarePlan activities (issue 28).

Each education module, the flare plan and the graded-activity pathway becomes one
``CarePlan.activity.detail`` with a local code (``urn:backrx:education``) and the person's text as
its description: simple, readable by any FHIR client, and no codes claimed that were not verified.
"""

from __future__ import annotations

from typing import Any

from backrx.interop.questionnaire import SYSTEM_PREFIX
from backrx.model.recommendation import Program

__all__ = ["EDUCATION_SYSTEM", "education_activities"]

EDUCATION_SYSTEM = SYSTEM_PREFIX + "education"


def _activity(code: str, title: str, text: str) -> dict[str, Any]:
    return {"detail": {"kind": "CommunicationRequest",
                       "code": {"coding": [{"system": EDUCATION_SYSTEM, "code": code, "display": title}],
                                "text": title},
                       "status": "not-started", "description": text}}


def education_activities(program: Program | None) -> list[dict[str, Any]]:
    """One activity per module, then the flare plan and the pathway (none without a program)."""
    if program is None:
        return []
    out = [_activity(m.id, m.title, m.text) for m in program.education]
    flare = program.flare_plan
    if flare is not None:
        out.append(_activity("flare-plan-detail", "Flare plan",
                             " ".join([*flare.first_days, flare.keep, flare.ease, flare.seek_help[0],
                                       flare.resume])))
    graded = program.graded_activity
    if graded is not None:
        out.append(_activity("graded-activity", graded.title,
                             " ".join([graded.intro, *(s.text for s in graded.steps), graded.referral,
                                       graded.supports, graded.cannot])))
    return out
