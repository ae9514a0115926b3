"""The published JSON Schemas carry the models' cross-field rules, or say which ones they cannot."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

import backrx
from backrx.errors import errors_of
from backrx.model.profile import RED_FLAGS, History
from backrx.pack.schema import feedback_schema, profile_schema
from backrx.testing import profiles

PROFILE = Draft202012Validator(profile_schema())
FEEDBACK = Draft202012Validator(feedback_schema())
BASE: dict[str, Any] = {"age": 50, "duration_weeks": 20, "pain_site": "lower", "leg_pain": "none",
                        "pain_intensity": 4, "tolerance": "moderate", "red_flags": []}


def _with(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


#: Profiles the model refuses for a cross-field reason, by the code it gives.
CONTRADICTIONS: list[tuple[str, dict[str, Any]]] = [
    ("stage-required", _with(duration_weeks=None)),
    ("stage-mismatch", _with(stage="acute", duration_weeks=30)),
    ("stage-mismatch", _with(stage="subacute", duration_weeks=2)),
    ("stage-mismatch", _with(stage="chronic", duration_weeks=11.5)),
    ("red-flag-sure-and-unsure", _with(red_flags=["cancer_history"], red_flags_unsure=["cancer_history"])),
    ("sex-pregnancy-mismatch", _with(sex="male", history={"pregnant": True})),
    ("sex-pregnancy-mismatch", _with(sex="male", history={"postpartum_weeks": 10})),
    ("trauma-mismatch", _with(trauma="minor", red_flags=["major_trauma"])),
    ("pregnancy-mismatch", _with(history={"pregnant": False, "pregnancy_weeks": 12})),
    ("surgery-fields-without-surgery", _with(history={"surgeon_clearance": "yes"})),
    ("neuro-trend-without-sign", _with(findings={
        "neuro_trend": "worsening", "weakness": False, "sensory_loss": False, "difficulty_walking": False,
        "severe_weakness": False, "umn_signs": []})),
]
#: Contradictions JSON Schema cannot state (it cannot compare two values): the schema names them.
DESCRIBED: list[tuple[str, dict[str, Any]]] = [
    ("onset-age-mismatch", _with(age=30, history={"back_pain_onset_age": 40})),
    ("pregnant-and-postpartum", _with(history={"pregnancy_weeks": 20, "postpartum_weeks": 4})),
    ("too_long", _with(red_flags=["fever_or_infection"] * 201)),
]


def _codes(payload: dict[str, Any]) -> set[str]:
    try:
        backrx.Profile.model_validate(payload)
    except ValidationError as exc:
        return {e["code"] for e in errors_of(exc)}
    return set()


def test_the_base_profile_is_valid_for_both() -> None:
    """The profile the contradictions start from passes the model and the schema."""
    assert _codes(BASE) == set() and PROFILE.is_valid(BASE)


@pytest.mark.parametrize(("code", "payload"), CONTRADICTIONS, ids=[c for c, _ in CONTRADICTIONS])
def test_the_schema_refuses_what_the_model_refuses(code: str, payload: dict[str, Any]) -> None:
    """A profile the model refuses for a cross-field reason is invalid by the schema too."""
    assert _codes(payload) == {code}
    assert not PROFILE.is_valid(payload)


@pytest.mark.parametrize(("code", "payload"), DESCRIBED, ids=[c for c, _ in DESCRIBED])
def test_the_schema_names_what_it_cannot_check(code: str, payload: dict[str, Any]) -> None:
    """A refusal the schema cannot express is named, by its code, in the schema's description."""
    assert _codes(payload) == {code}
    assert f"({code})" in profile_schema()["description"]


def test_the_surgeon_fields_all_need_a_surgery() -> None:
    """Every surgeon field the History model has needs a recorded operation, by the schema too."""
    for name, value in (("surgeon_clearance", "no"), ("surgeon_restrictions", [])):
        if name in History.model_fields:
            payload = _with(history={name: value})
            assert _codes(payload) == {"surgery-fields-without-surgery"}
            assert not PROFILE.is_valid(payload)
            assert PROFILE.is_valid(_with(history={name: value, "spinal_surgery": "discectomy"}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_every_valid_profile_is_valid_by_the_schema(profile: dict[str, Any]) -> None:
    """The schema's cross-field rules never refuse a profile backrx accepts (an app may check with
    either)."""
    assert PROFILE.is_valid(profile), next(PROFILE.iter_errors(profile)).message


def _contradict(profile: dict[str, Any], how: str, flag: str) -> dict[str, Any]:
    out = copy.deepcopy(profile)
    if how == "stage":
        weeks = out.get("duration_weeks")
        assume(weeks is not None)
        out["stage"] = "chronic" if weeks < 12 else "acute"
    elif how == "flag":
        out["red_flags"] = [*out["red_flags"], flag]
        out["red_flags_unsure"] = [*out.get("red_flags_unsure", []), flag]
    elif how == "trauma":
        out["trauma"] = "none"
        out["red_flags"] = [*out["red_flags"], "major_trauma"]
    else:
        out["sex"] = "male"
        out["history"] = {**(out.get("history") or {}), "pregnant": True}
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles(), st.sampled_from(["stage", "flag", "trauma", "sex"]), st.sampled_from(RED_FLAGS))
def test_a_contradiction_fails_both_checks(profile: dict[str, Any], how: str, flag: str) -> None:
    """Whatever else a profile says, a contradiction the model refuses is refused by the schema."""
    payload = _contradict(profile, how, flag)
    assume(_codes(payload))
    assert not PROFILE.is_valid(payload)


def test_the_feedback_schema_wants_the_round_date_when_responses_are_dated() -> None:
    """Feedback whose responses carry dates but whose round has none fails the model and the schema."""
    dated = {"responses": [{"exercise_id": "cat-camel", "pain_during": 2, "next_day": "same",
                            "date": "2026-01-04"}]}
    with pytest.raises(ValidationError) as info:
        backrx.Feedback.model_validate(dated)
    assert {e["code"] for e in errors_of(info.value)} == {"date-required"}
    assert not FEEDBACK.is_valid(dated)
    assert FEEDBACK.is_valid({**dated, "date": "2026-01-05"})
    assert "(date-after-round)" in feedback_schema()["description"]
