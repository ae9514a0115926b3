"""Outcome measures and dates: the inputs that let backrx follow a person over time.

Outcome measures are optional: a baseline in the profile (``Profile.outcomes``) and
follow-up values in feedback (``Feedback.outcomes``). The thresholds that make a
change meaningful live in the rule pack (``outcomes.yaml``), not here.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from backrx.model.untrusted import PlainText

#: Per Compact model class: its optional fields whose default is empty, with that default.
_EMPTY_DEFAULTS: dict[type, tuple[tuple[str, Any], ...]] = {}


def _empty_defaults(cls: type[BaseModel]) -> tuple[tuple[str, Any], ...]:
    """The optional fields of ``cls`` whose default is None, [] or {}, worked out once per class.

    Asking pydantic for a default on every dump is slow (it inspects the factory's signature each
    time) and, on Python 3.11, not safe in threads: the inspection parses text with ``ast``,
    whose recursion counter is shared by every thread (CPython gh-106905).
    """
    found = _EMPTY_DEFAULTS.get(cls)
    if found is None:
        pairs = []
        for name, info in cls.model_fields.items():
            if info.is_required():
                continue
            if info.default_factory is not None:
                if info.default_factory_takes_validated_data:
                    continue  # a default computed from the other fields: never left out
                default = info.default_factory()  # type: ignore[call-arg]
            else:
                default = info.default
            if default is None or (isinstance(default, (list, dict)) and not default):
                pairs.append((name, default))
        found = _EMPTY_DEFAULTS[cls] = tuple(pairs)
    return found


class Compact(BaseModel):
    """Serialises without the optional fields that hold their empty default (None, [] or {}).

    Validation fills them back in, so JSON still round-trips to an equal object; stored
    histories stay small.
    """

    # No return annotation on purpose: pydantic would take it for the serialised type and publish
    # an empty JSON Schema; unannotated, the schema stays the model's own.
    @model_serializer(mode="wrap")
    def _without_empty_defaults(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        if not isinstance(data, dict):
            return data
        for name, default in _empty_defaults(type(self)):
            if name not in data:
                continue
            value = data[name]
            if (default is None and value is None) or (default == [] and value == []) or (
                    default == {} and value == {}):
                del data[name]
        return data


def _iso_date(value: Any) -> Any:
    """An ISO 8601 calendar date (``2026-03-01``) as text, or a date; nothing else."""
    if isinstance(value, datetime.datetime):
        raise PydanticCustomError("date-type", "give a calendar date (YYYY-MM-DD), not a date and time")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError(
                "date-format", "not an ISO 8601 date (YYYY-MM-DD)"  # never repeats the value
            ) from None
    raise PydanticCustomError("date-type", "give an ISO 8601 date as text (YYYY-MM-DD)")


#: An ISO 8601 calendar date; YAML and JSON give it as text.
IsoDate = Annotated[datetime.date, BeforeValidator(_iso_date)]

#: The measures backrx knows, in the order summaries show them.
MEASURES: tuple[str, ...] = ("odi", "rmdq", "nprs", "psfs", "walk_minutes", "mskhq", "eq5d5l_index",
                             "eq5d5l_vas")


class _Strict(Compact):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class PsfsItem(_Strict):
    """One activity of the Patient-Specific Functional Scale: 0 = unable, 10 = as before."""

    activity: Annotated[PlainText, Field(min_length=1, max_length=80)]
    score: Annotated[int, Field(ge=0, le=10)]


class Outcomes(_Strict):
    """Outcome measures taken at one time. Every measure is optional."""

    odi: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None, description="Oswestry Disability Index, 0-100 (higher is worse)")
    rmdq: Annotated[int, Field(ge=0, le=24)] | None = Field(
        default=None, description="Roland-Morris Disability Questionnaire, 0-24 (higher is worse)")
    nprs: Annotated[int, Field(ge=0, le=10)] | None = Field(
        default=None, description="numeric pain rating, 0-10 (higher is worse)")
    psfs: Annotated[list[PsfsItem], Field(max_length=10)] = Field(
        default_factory=list,
        description="Patient-Specific Functional Scale: named activities, each 0-10 (higher is better)")
    walk_minutes: Annotated[int, Field(ge=0, le=600)] | None = Field(
        default=None, description="minutes the person can walk without stopping")
    # Licensed questionnaires: backrx stores and follows their scores only, never their items.
    mskhq: Annotated[int, Field(ge=0, le=56)] | None = Field(
        default=None, description="MSK-HQ total score, 0-56 (higher is better); score only, the "
        "questionnaire is licensed (Oxford University Innovation)")
    eq5d5l_index: Annotated[float, Field(ge=-1, le=1)] | None = Field(
        default=None, description="EQ-5D-5L index value from a value set (1 = full health; the floor "
        "depends on the value set, so backrx accepts -1 to 1); score only, the instrument is licensed "
        "(EuroQol Group)")
    eq5d5l_vas: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None, description="EQ VAS, 0 (worst imaginable health) to 100 (best); score only, the "
        "instrument is licensed (EuroQol Group)")

    @model_validator(mode="after")
    def _one_score_per_activity(self) -> Outcomes:
        names = [item.activity.strip().lower() for item in self.psfs]
        if len(names) != len(set(names)):
            raise PydanticCustomError("duplicate-activity", "each PSFS activity may be scored once")
        return self

    def value(self, measure: str) -> float | None:
        """One measure as a number: PSFS is the mean of its activities; None when not taken."""
        if measure == "psfs":
            return sum(i.score for i in self.psfs) / len(self.psfs) if self.psfs else None
        found = getattr(self, measure)
        return float(found) if found is not None else None

    @property
    def empty(self) -> bool:
        """No measure was taken."""
        return all(self.value(m) is None for m in MEASURES)
