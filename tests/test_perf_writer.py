"""The fast JSON writer writes exactly what pydantic's own dump of the output models writes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from pydantic import BaseModel, ValidationError

import backrx
from backrx import batch
from backrx.model.recommendation import Recommendation
from backrx.model.writer import dump_json
from backrx.testing import profiles
from conftest import base_profile


def slow(rec: Recommendation) -> str:
    """The validated slow path: pydantic's dump, Compact's Python step on every model."""
    return BaseModel.model_dump_json(rec)


@pytest.mark.slow
def test_the_writer_equals_pydantic_on_3300_recommendations() -> None:
    """On 3,300 recommendations of a synthetic cohort (programs and referrals, English and
    Spanish) the fast writer's JSON is byte for byte pydantic's, and reads back equal."""
    rules = backrx.load_rules()
    cohort = batch.generate(3300, seed=26)
    recs = rules.recommend_many(cohort[:3000]) + rules.for_locale("es").recommend_many(cohort[3000:])
    outcomes = {rec.outcome for rec in recs}
    assert outcomes == {"program", "refer"}
    for rec in recs:
        text = rec.model_dump_json()
        assert text == slow(rec)
    assert Recommendation.model_validate_json(recs[0].model_dump_json()) == recs[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles())
def test_the_writer_equals_pydantic_on_generated_profiles(profile: dict[str, Any],
                                                           rules: backrx.RuleSet) -> None:
    """On generated profiles (every optional part present or absent) the writer's JSON is pydantic's."""
    try:
        rec = rules.recommend(profile)
    except ValidationError:
        reject()
    assert dump_json(rec) == slow(rec)


def test_the_writer_equals_pydantic_on_adjusted_and_overridden_plans(rules: backrx.RuleSet) -> None:
    """A recommendation with adjustment rounds, progress and an override (history, records head)
    is written the same by both."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    assert rec.program is not None
    phase = rec.program.phase_now
    first = phase.prescriptions[0].exercise.id
    adjusted = backrx.adjust(rec, {"date": "2026-03-02", "responses": [
        {"exercise_id": first, "pain_during": 2, "next_day": "same", "peripheralized": False}]}, rules=rules)
    overridden = backrx.override(adjusted, {"remove": [{"phase": phase.id, "exercise_id": first}]},
                                 reason="a test", by="a clinician", rules=rules)
    for item in (rec, adjusted, overridden):
        assert item.model_dump_json() == slow(item)
    assert overridden.adjustments and overridden.overrides


def test_options_take_pydantic_s_own_path(rules: backrx.RuleSet) -> None:
    """With an option (indent, exclude) the dump is pydantic's, as on any model."""
    rec = rules.recommend(base_profile())
    assert rec.model_dump_json(indent=2) == BaseModel.model_dump_json(rec, indent=2)
    assert '"trace"' not in rec.model_dump_json(exclude={"trace"})
