"""The field vocabulary that rule conditions may read, declared once.

Profile fields are read off `backrx.Profile` itself, so the rule loader can
never drift from the input model. Three kinds of field are added:

* scores the facts layer derives from the profile (``startback.total``,
  ``startback.psychosocial``);
* conclusions of earlier rule layers (``referral_urgency``, ``pathways``,
  ``startback_risk``);
* ``derived.<name>`` variables that a rule's ``then.set`` defines.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel

from backrx.lang.condition import OPERATORS, FieldKind
from backrx.model.profile import Profile

Kind = FieldKind

PATHWAYS: tuple[str, ...] = (
    "mckenzie_extension",
    "mckenzie_flexion",
    "stabilization",
    "lower_crossed",
    "stenosis",
    "general_conditioning",
)
URGENCIES: tuple[str, ...] = ("emergency", "urgent", "routine")
RISKS: tuple[str, ...] = ("low", "medium", "high")


@dataclass(frozen=True)
class FieldSpec:
    """What a condition may test on one field."""

    path: str
    kind: Kind
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    origin: str = "profile"  # profile | score | conclusion | derived
    description: str = ""

    @property
    def operators(self) -> tuple[str, ...]:
        """The operators that apply to this field, in the operator table's order."""
        return tuple(op.name for op in OPERATORS.values() if self.kind in op.kinds)


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip Optional and Annotated; return the core type and its constraints."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            args = get_args(annotation)
            annotation = args[0]
            metadata.extend(args[1:])
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:  # pragma: no cover - the Profile has no such unions
                raise TypeError(f"unsupported union {annotation!r}")
            annotation = members[0]
        else:
            return annotation, metadata


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    low: float | None = None
    high: float | None = None
    for item in metadata:
        for constraint in getattr(item, "metadata", [item]):
            if isinstance(constraint, annotated_types.Ge):
                low = float(constraint.ge)  # type: ignore[arg-type]
            elif isinstance(constraint, annotated_types.Le):
                high = float(constraint.le)  # type: ignore[arg-type]
    return low, high


#: Profile fields that are not facts for the recommend layers (adjust reads them as history).
_NOT_FACTS = frozenset({"outcomes", "profile_format"})


def _model_fields(model: type[BaseModel], prefix: str) -> list[FieldSpec]:
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if path in _NOT_FACTS:
            continue
        core, metadata = _unwrap(info.annotation)
        metadata.extend(info.metadata)
        description = info.description or ""
        if isinstance(core, type) and issubclass(core, BaseModel):
            specs.extend(_model_fields(core, path + "."))
            continue
        if get_origin(core) is list:
            (item,) = get_args(core)
            item_core, _ = _unwrap(item)
            specs.append(FieldSpec(path, "list", tuple(get_args(item_core)), description=description))
        elif get_origin(core) is Literal:
            specs.append(FieldSpec(path, "enum", tuple(get_args(core)), description=description))
        elif core is bool:
            specs.append(FieldSpec(path, "bool", description=description))
        elif core in (int, float):
            low, high = _bounds(metadata)
            kind: Kind = "int" if core is int else "float"
            specs.append(FieldSpec(path, kind, (), low, high, description=description))
        else:  # pragma: no cover - guarded by test_vocabulary
            raise TypeError(f"field {path} has a type the rule language cannot test: {core!r}")
    return specs


def _build() -> dict[str, FieldSpec]:
    specs = {spec.path: spec for spec in _model_fields(Profile, "")}
    # duration_weeks is absent when only stage was given; stage is always present.
    specs["startback.total"] = FieldSpec(
        "startback.total", "int", (), 0, 9, "score",
        "STarT Back total (0..9); absent unless all nine items are answered",
    )
    specs["startback.psychosocial"] = FieldSpec(
        "startback.psychosocial", "int", (), 0, 5, "score",
        "STarT Back psychosocial subscale, items 5 to 9 (0..5); absent unless complete",
    )
    specs["referral_urgency"] = FieldSpec(
        "referral_urgency", "enum", URGENCIES, origin="conclusion",
        description="the highest referral urgency concluded by the triage layer",
    )
    specs["pathways"] = FieldSpec(
        "pathways", "list", PATHWAYS, origin="conclusion",
        description="the pathways concluded by the classification layer",
    )
    specs["startback_risk"] = FieldSpec(
        "startback_risk", "enum", RISKS, origin="conclusion",
        description="the STarT Back risk group concluded by the classification layer",
    )
    return dict(sorted(specs.items()))


#: Every field a condition may read, except ``derived.*`` variables.
FIELDS: dict[str, FieldSpec] = _build()

#: Catalog vocabularies (the rule loader checks exercises.yaml against them).
DIRECTIONS: tuple[str, ...] = ("extension", "flexion", "neutral")
CATEGORIES: tuple[str, ...] = (
    "mobility", "flexibility", "balance", "strength", "aerobic", "soft_tissue", "education"
)


def _adjust_fields() -> dict[str, FieldSpec]:
    # long: one declarative table of the fields adjust rules read; split, it would only be harder to scan
    from backrx.model.profile import RED_FLAGS

    specs = [
        FieldSpec("response.pain_during", "int", (), 0, 10, "feedback", "pain during the exercise, 0..10"),
        FieldSpec("response.next_day", "enum", ("better", "same", "worse"), origin="feedback",
                  description="how the person felt the day after"),
        FieldSpec("response.peripheralized", "bool", origin="feedback",
                  description="symptoms spread further down the leg"),
        FieldSpec("exercise.direction", "enum", DIRECTIONS, origin="feedback"),
        FieldSpec("exercise.category", "enum", CATEGORIES, origin="feedback"),
        FieldSpec("exercise.load", "int", (), 1, 5, "feedback"),
        FieldSpec("exercise.has_easier", "bool", origin="feedback",
                  description="an easier variant exists that the person can do"),
        FieldSpec("exercise.has_harder", "bool", origin="feedback",
                  description="a harder variant exists that the person can do"),
        FieldSpec("exercise.reintroduced", "bool", origin="feedback",
                  description="the exercise is being reintroduced on its own (elimination)"),
        FieldSpec("feedback.responses", "int", (), 0, 200, "feedback", "number of responses"),
        FieldSpec("feedback.worse_count", "int", (), 0, 200, "feedback",
                  "number of exercises reported worse the next day"),
        FieldSpec("feedback.peripheralized_any", "bool", origin="feedback",
                  description="any exercise spread symptoms down the leg"),
        FieldSpec("feedback.all_settled", "bool", origin="feedback",
                  description="every response: pain 3/10 or less, the same or better next day"),
        FieldSpec("feedback.covers_phase", "bool", origin="feedback",
                  description="every exercise of the current phase has a response"),
        FieldSpec("feedback.new_red_flags", "list", RED_FLAGS, origin="feedback",
                  description="red flags reported since the recommendation"),
        FieldSpec("program.elimination", "bool", origin="feedback",
                  description="elimination mode is active"),
        FieldSpec("program.has_next_phase", "bool", origin="feedback",
                  description="the current phase is not the last"),
        FieldSpec("program.holding", "bool", origin="feedback",
                  description="the plan holds for reassessment after a warning sign"),
        FieldSpec("feedback.max_pain", "int", (), 0, 10, "feedback",
                  "the highest pain during any exercise this round (absent without responses)"),
        FieldSpec("feedback.days", "int", (), 0, 366, "feedback", "distinct days this round reports on"),
        FieldSpec("exercise.direction_signs", "int", (), 0, 1000, "feedback",
                  "spreading signs recorded in this exercise's direction by other movement families "
                  "(earlier rounds and this one)"),
        FieldSpec("exercise.at_top", "bool", origin="feedback",
                  description="the dose is at the top of what one phase allows (no step up is left)"),
        FieldSpec("exercise.days_at_dose", "int", (), 0, 100_000, "feedback",
                  "days since this exercise's dose last changed (absent before dated feedback)"),
        FieldSpec("exercise.sessions_at_dose", "int", (), 0, 100_000, "feedback",
                  "sessions done at the current dose (adherence, else days with a response)"),
        FieldSpec("response.centralized", "bool", origin="feedback",
                  description="symptoms moved up out of the leg towards the spine (centralisation)"),
        FieldSpec("exercise.cleared", "bool", origin="feedback",
                  description="done at its current dose on an earlier recorded day of this phase after "
                  "which nothing was worse the next day"),
        FieldSpec("response.uncleared_others", "int", (), 0, 200, "feedback",
                  "other exercises reported worse for the same day that were not cleared earlier"),
        FieldSpec("feedback.uncleared_worse", "int", (), 0, 200, "feedback",
                  "exercises reported worse this round that were not cleared earlier"),
        FieldSpec("exercise.preferred", "bool", origin="feedback",
                  description="the exercise moves in the person's directional preference (absent "
                  "without one)"),
        FieldSpec("exercise.direction_stopped", "bool", origin="feedback",
                  description="the exercise moves in a direction stopped in every phase, until a "
                  "clinician's reassessment lifts it"),
        FieldSpec("feedback.centralized_any", "bool", origin="feedback",
                  description="any exercise centralised symptoms this round"),
        FieldSpec("feedback.gap_days", "int", (), 0, 100_000, "feedback",
                  "days since the last round before this one (absent for the first round)"),
        FieldSpec("feedback.after_gap", "bool", origin="feedback",
                  description="this round comes back after a gap longer than the pack's "
                  "restart_after_gap_days"),
        FieldSpec("feedback.flare_reported", "bool", origin="feedback",
                  description="the round reports a flare-up (Feedback.flare_started); absent otherwise"),
        FieldSpec("feedback.flare_days", "int", (), 0, 100_000, "feedback",
                  "days from the start of a reported flare to the round's date (absent without both)"),
        FieldSpec("feedback.adverse_events", "int", (), 0, 20, "feedback",
                  "adverse events reported with this round's adherence (CERT item 11)"),
        FieldSpec("program.review_open", "bool", origin="feedback",
                  description="a review an adjust rule asked for is open until a clinician's "
                  "reassessment"),
        FieldSpec("phase.days", "int", (), 0, 100_000, "feedback",
                  "days since the current phase started (absent before dated feedback)"),
        FieldSpec("phase.days_left", "int", (), 0, 366, "feedback",
                  "days still to spend in the phase before its min_days are reached (0: reached)"),
        FieldSpec("phase.good_days", "int", (), 0, 100_000, "feedback",
                  "recorded days in a row, up to today, in this phase with every exercise at 3/10 or "
                  "less, the same or better the next day and no spreading"),
        FieldSpec("phase.steady_days", "int", (), 0, 100_000, "feedback",
                  "recorded days in a row, up to today, in this phase with nothing worse the next day "
                  "and no spreading"),
        FieldSpec("phase.criteria_unmet", "int", (), 0, 100, "feedback",
                  "progress criteria of the current phase not met this round"),
        FieldSpec("phase.quota_criteria_unmet", "int", (), 0, 100, "feedback",
                  "progress criteria marked quota (they apply to a quota plan) not met this round"),
        FieldSpec("outcomes.weeks", "int", (), 0, 10_000, "feedback",
                  "whole weeks since the first dated round (absent before dated feedback)"),
        FieldSpec("outcomes.followed", "int", (), 0, 10, "feedback",
                  "outcome measures with a baseline and a later value"),
        FieldSpec("outcomes.improved", "int", (), 0, 10, "feedback",
                  "outcome measures improved by at least their MCID"),
        FieldSpec("outcomes.worsened", "int", (), 0, 10, "feedback",
                  "outcome measures worse by at least their MCID"),
        FieldSpec("outcomes.walk_minutes", "int", (), 0, 600, "feedback",
                  "the latest recorded walking tolerance, in minutes"),
    ]
    return {spec.path: spec for spec in specs}


#: The fields adjust rules read: one exercise's response, the exercise, the whole feedback.
ADJUST_FIELDS: dict[str, FieldSpec] = _adjust_fields()

#: Which layer's rules conclude each conclusion field.
CONCLUDED_BY: dict[str, str] = {
    "referral_urgency": "triage",
    "pathways": "classification",  # the components layer may add general_conditioning
    "startback_risk": "classification",
}


def as_data() -> list[dict[str, Any]]:
    """The vocabulary as plain data, for editors, linters and the docs."""
    return [
        {
            "field": spec.path,
            "kind": spec.kind,
            "values": list(spec.values),
            "minimum": spec.minimum,
            "maximum": spec.maximum,
            "origin": spec.origin,
            "operators": list(spec.operators),
            "description": spec.description,
        }
        for spec in (*FIELDS.values(), *ADJUST_FIELDS.values())
    ]
