"""The input of :func:`backrx.adjust`: how each exercise went, reported the next day."""

from __future__ import annotations

import datetime
import os
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from backrx.model.measures import Compact, IsoDate, Outcomes
from backrx.model.profile import RedFlag, StrictModel, read_document
from backrx.model.untrusted import PlainText

NextDay = Literal["better", "same", "worse"]


class ExerciseResponse(Compact, StrictModel):
    """How one exercise went: pain while doing it, and how the person felt the next day."""

    exercise_id: Annotated[PlainText, Field(min_length=1, max_length=80)]
    pain_during: Annotated[int, Field(ge=0, le=10)]
    next_day: NextDay
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

    @model_validator(mode="after")
    def _dates_fit(self) -> Feedback:
        for response in self.responses:
            if response.date is None:
                continue
            if self.date is None:
                raise PydanticCustomError(
                    "date-required", "give the round's date when responses carry their own dates")
            if response.date > self.date:
                raise PydanticCustomError(
                    "date-after-round",
                    "a response dated {day} is later than the round's date {date}",
                    {"day": response.date.isoformat(), "date": self.date.isoformat()})
        return self

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


def load_feedback(path: str | os.PathLike[str]) -> Feedback:
    """Load and validate feedback from a YAML or JSON file."""
    return Feedback.model_validate(read_document(path))
