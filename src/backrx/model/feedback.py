"""The input of `backrx.adjust`: how each exercise went, reported the next day.

"Worse the next day" is a property of the whole day, so a round may answer it once
(``Feedback.next_day``, with optional ``suspects``) instead of per exercise; the per-exercise
``ExerciseResponse.next_day`` of older feedback still reads. How the two combine:

* ``Feedback.next_day`` answers for the round's own day (responses without a date, or dated on the
  round's date); responses of earlier days in the same round carry their own ``next_day``.
* A response on the round's day that leaves ``next_day`` out takes the day's answer. On a worse day
  it reads ``worse`` when no suspects are named or when it is one of them, else ``same`` (the
  person named other suspects).
* A response that gives its own answer keeps it; it must not contradict the day: ``worse`` on a day
  answered better or same, or a named suspect answered better or same, is refused
  (``next-day-conflict``).

After validation every response holds its answer, so a stored round reads the same either way.
"""

from __future__ import annotations

import datetime
import os
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from backrx.model.measures import Compact, IsoDate, Outcomes
from backrx.model.profile import RedFlag, StrictModel, read_document
from backrx.model.untrusted import PlainText

NextDay = Literal["better", "same", "worse"]


class ExerciseResponse(Compact, StrictModel):
    """How one exercise went: pain while doing it, and how the person felt the next day."""

    exercise_id: Annotated[PlainText, Field(min_length=1, max_length=80)]
    pain_during: Annotated[int, Field(ge=0, le=10)]
    next_day: NextDay | None = Field(
        default=None,
        description="how the person felt the day after; may be left out on the round's own day when "
        "the round answers it for the whole day (Feedback.next_day)",
    )
    peripheralized: bool | None = Field(
        default=None,
        description="Symptoms spread further down the leg during or after it. Unanswered (None) is "
        "not a 'no': the exercise then holds rather than progresses.",
    )
    centralized: bool | None = Field(
        default=None,
        description="Symptoms moved up out of the leg towards the spine (centralisation) with it. "
        "Unanswered (None) says nothing either way.",
    )
    date: IsoDate | None = Field(
        default=None,
        description="the day this response is about, when one round carries several days; "
        "by default the round's date",
    )


class Adherence(Compact, StrictModel):
    """What was done of the plan since the last round (CERT items 16 and 11)."""

    sessions_done: Annotated[int, Field(ge=0, le=200)]
    sessions_planned: Annotated[int, Field(ge=0, le=200)]
    adverse_events: Annotated[list[Annotated[PlainText, Field(min_length=1, max_length=300)]],
                              Field(max_length=20)] = Field(
        default_factory=list, description="adverse events since the last round, in words (CERT item 11)")


class Feedback(Compact, StrictModel):
    """Next-day responses to a program ("test and measure"), for one dated round."""

    date: IsoDate | None = Field(
        default=None,
        description="ISO 8601 date of the round (YYYY-MM-DD); required from format 2 on. Rounds "
        "must come in date order.",
    )
    responses: Annotated[list[ExerciseResponse], Field(max_length=200)]
    new_red_flags: list[RedFlag] = Field(
        default_factory=list, description="Red flags that appeared since the recommendation."
    )
    outcomes: Outcomes | None = Field(
        default=None, description="outcome measures taken for this round (all optional)")
    adherence: Adherence | None = Field(
        default=None, description="sessions done of those planned since the last round, and adverse "
        "events (optional; without it every reported day counts as one session)")
    next_day: NextDay | None = Field(
        default=None, description="how the person felt the day after the round's own day, for the "
        "whole day (see the module docs for how it combines with each response's own answer)")
    suspects: Annotated[list[Annotated[PlainText, Field(min_length=1, max_length=80)]],
                        Field(max_length=200)] = Field(
        default_factory=list, description="on a worse day: the exercises the person suspects (each "
        "with a response on the round's day); none named: every exercise of that day is a suspect")

    flare_started: IsoDate | None = Field(
        default=None, description="the day a flare-up began, when the person reports one: the flare plan "
        "applies for the pack's flare window from that day (rules adjust.flare.*), then the plan resumes")
    education_read: Annotated[list[Annotated[PlainText, Field(min_length=1, max_length=80,
                                                             pattern=r"^[a-z][a-z0-9-]*$")]],
                              Field(max_length=100)] = Field(
        default_factory=list, description="education modules (Program.education ids) the person has read "
        "since the last round; kept in the history")

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Feedback:
        made = handler(data)
        assert isinstance(made, Feedback)
        problems = made._dates_fit() + made._days_fit()
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        made._fill_next_day()
        return made

    def _on_round_day(self, response: ExerciseResponse) -> bool:
        return response.date is None or response.date == self.date

    def _dates_fit(self) -> list[InitErrorDetails]:
        """Responses dated only with a dated round, never after it (each error at its response)."""
        if self.flare_started is not None and self.date is not None and self.flare_started > self.date:
            return [_problem("flare-after-round", "the flare is dated later than the round's date",
                             ("flare_started",))]
        for i, response in enumerate(self.responses):
            if response.date is None:
                continue
            if self.date is None:
                raise PydanticCustomError(
                    "date-required", "give the round's date when responses carry their own dates")
            if response.date > self.date:
                return [_problem("date-after-round", "a response is dated later than the round's date",
                                 ("responses", i, "date"))]
        return []

    def _days_fit(self) -> list[InitErrorDetails]:
        """Every response has a next-day answer, its own or the day's, and the two agree."""
        out: list[InitErrorDetails] = []
        suspects = set(self.suspects)
        for i, r in enumerate(self.responses):
            loc: tuple[str | int, ...] = ("responses", i, "next_day")
            day = self.next_day if self._on_round_day(r) else None
            if r.next_day is None and day is None:
                out.append(_problem("next-day-required", "say how the person felt the next day, for "
                                    "this response or (on the round's own day) for the whole round", loc))
            elif r.next_day is not None and day is not None and (
                    (r.next_day == "worse" and day != "worse")
                    or (day == "worse" and r.exercise_id in suspects and r.next_day != "worse")):
                out.append(_problem("next-day-conflict", "this answer contradicts the round's answer for "
                                    "the whole day (or its suspects)", loc))
        if suspects and self.next_day != "worse":
            out.append(_problem("suspects-without-worse-day",
                                "suspects are named only for a day answered worse", ("suspects",)))
        named = {r.exercise_id for r in self.responses if self._on_round_day(r)}
        for j, suspect in enumerate(self.suspects):
            if suspect not in named:
                out.append(_problem("unknown-suspect", "a suspect names no exercise with a response on "
                                    "the round's day", ("suspects", j)))
        return out

    def _fill_next_day(self) -> None:
        """Give each response on the round's day without its own answer the day's (module docs)."""
        day = self.next_day
        if day is None:
            return
        for i, r in enumerate(self.responses):
            if r.next_day is not None or not self._on_round_day(r):
                continue
            value = day if day != "worse" or not self.suspects or r.exercise_id in self.suspects else "same"
            self.responses[i] = r.model_copy(update={"next_day": value})

    def day_of(self, response: ExerciseResponse) -> datetime.date | None:
        """The day a response is about: its own date, else the round's."""
        return response.date if response.date is not None else self.date

    @property
    def days(self) -> list[datetime.date]:
        """The distinct days this round reports on, oldest first."""
        found = {self.day_of(r) for r in self.responses}
        if self.date is not None:
            found.add(self.date)
        return sorted(d for d in found if d is not None)


def _problem(code: str, message: str, loc: tuple[str | int, ...]) -> InitErrorDetails:
    """One error at ``loc`` (input values are never echoed)."""
    return InitErrorDetails(type=PydanticCustomError(code, message), loc=loc, input=None)


def load_feedback(path: str | os.PathLike[str]) -> Feedback:
    """Load and validate feedback from a YAML or JSON file."""
    return Feedback.model_validate(read_document(path))
