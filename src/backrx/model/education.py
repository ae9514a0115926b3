"""The education parts of a program (issue 28): modules, the flare plan, the graded-activity pathway.

Output models like those of `backrx.model.recommendation` (frozen, no extra keys, empty
optional fields left out of the JSON); `Program` carries them.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from backrx.model.measures import Compact
from backrx.readers.documents import SHOW_INPUT_IN_ERRORS

__all__ = ["EducationModule", "ExposureStep", "FlarePlan", "GradedActivity"]


class _Out(Compact):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=not SHOW_INPUT_IN_ERRORS)


class EducationModule(_Out):
    """An education module the program carries (rules/education.yaml), in the person's language."""

    id: str
    phase: str = Field(description="the phase it belongs to; modules come in phase order")
    title: str
    text: str
    sources: list[str]
    rule_id: str = Field(description="the rule that selected it (education.<id>)")


class ExposureStep(_Out):
    """One graded step towards a feared, valued activity, with its quota (time-contingent)."""

    activity: str = Field(description="the goal (preferences.goals) or everyday activity it builds up")
    step: int = Field(ge=1)
    start_week: int = Field(ge=1)
    end_week: int = Field(ge=1)
    minutes: int = Field(ge=1, description="minutes per day of the quota")
    days_per_week: int = Field(ge=1, le=7)
    text: str


class GradedActivity(_Out):
    """The graded-activity pathway (CFT-informed): exposure ladders built from the person's goals,
    the referral the pack advises, and plainly what backrx supports and cannot deliver."""

    title: str
    intro: str
    activities: list[str]
    steps: list[ExposureStep]
    referral: str
    supports: str
    cannot: str
    sources: list[str]
    rule_ids: list[str]


class FlarePlan(_Out):
    """What to do in a flare: the first days, what to keep and ease off, when to seek help, how the
    plan resumes. A reported flare (Feedback.flare_started) applies it (rules adjust.flare.*)."""

    window_days: int = Field(ge=1)
    first_days: list[str]
    keep: str
    keep_exercises: list[str] = Field(description="exercises kept as they are (gentle mobility)")
    ease: str
    ease_exercises: list[str] = Field(description="exercises eased off during the flare window")
    seek_help: list[str] = Field(description="the flare's own warning line, then the safety net")
    resume: str
    sources: list[str]
