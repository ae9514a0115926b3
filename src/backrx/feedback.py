"""The input of :func:`backrx.adjust`: how each exercise went, reported the next day."""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import Field

from backrx.profile import RedFlag, _Model, read_document

NextDay = Literal["better", "same", "worse"]


class ExerciseResponse(_Model):
    """How one exercise went: pain while doing it, and how the person felt the next day."""

    exercise_id: Annotated[str, Field(min_length=1, max_length=80)]
    pain_during: Annotated[int, Field(ge=0, le=10)]
    next_day: NextDay
    peripheralized: bool | None = Field(
        default=None,
        description="Symptoms spread further down the leg during or after it. Unanswered (None) is "
        "not a 'no': the exercise then holds rather than progresses.",
    )


class Feedback(_Model):
    """Next-day responses to a program ("test and measure")."""

    responses: Annotated[list[ExerciseResponse], Field(max_length=200)]
    new_red_flags: list[RedFlag] = Field(
        default_factory=list, description="Red flags that appeared since the recommendation."
    )


def load_feedback(path: str | os.PathLike[str]) -> Feedback:
    """Load and validate feedback from a YAML or JSON file."""
    return Feedback.model_validate(read_document(path))
