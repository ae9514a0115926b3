"""Education modules, the flare plan and the graded-activity pathway (issue 28): selected by the
pack's rules, carried by every program in phase order, shown in every format and both locales,
applied by adjust when a flare is reported, and the pathway built from the person's goals."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.interop.fhir import to_fhir
from backrx.interop.fhir_education import EDUCATION_SYSTEM
from backrx.render import render
from backrx.testing import profiles

#: STarT Back answers that score high risk (total >= 4, psychosocial subscale >= 4).
HIGH_RISK = {"leg_pain": True, "shoulder_neck_pain": True, "walked_short_distances": True,
             "dressed_slowly": True, "not_safe_to_be_active": True, "worrying_thoughts": True,
             "pain_terrible": True, "not_enjoying": True, "bothersomeness": 4}
ALWAYS = ("back-pain-basics", "scans-rarely-needed", "staying-active", "flare-plan", "when-to-seek-help")


def _rec(rules: backrx.RuleSet, locale: str | None = None, **overrides: Any) -> backrx.Recommendation:
    return rules.recommend(backrx.Profile.model_validate(base_profile(**overrides)), locale=locale)


def test_modules_follow_the_pack_in_phase_order(rules: backrx.RuleSet) -> None:
    """A program carries the modules its conditions select, each once, in the pack's phase order."""
    rec = _rec(rules)
    assert rec.program is not None
    ids = [m.id for m in rec.program.education]
    assert set(ALWAYS) <= set(ids)
    book = rules.pack.education
    positions = [book.index[i] for i in ids]
    assert positions == sorted(positions) and len(ids) == len(set(ids))
    phases = [p.id for p in rules.pack.phases]
    assert [phases.index(m.phase) for m in rec.program.education] == sorted(
        phases.index(m.phase) for m in rec.program.education)
    fired = {f.rule_id for f in rec.trace}
    assert {m.rule_id for m in rec.program.education} <= fired


def test_a_referral_carries_no_program_and_no_modules(rules: backrx.RuleSet) -> None:
    """A red flag that replaces the program leaves no education section in any handout."""
    rec = _rec(rules, red_flags=["saddle_anaesthesia"])
    assert rec.program is None
    assert rules.pack.education.heading not in render(rec, "md")


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("fmt", ["md", "text", "html"])
def test_every_format_shows_each_module_in_the_locale(rules: backrx.RuleSet, locale: str, fmt: str) -> None:
    """Each module's title is in the patient handout, in the recommendation's language."""
    rec = _rec(rules, locale=locale)
    assert rec.program is not None
    out = render(rec, fmt, rules=rules)
    words = rules.pack.locales.get(locale, {})
    for module in rules.pack.education.ordered([m.id for m in rec.program.education]):
        key = f"text.education.{module.id}.title"
        title = words.get(key, module.title) if locale == "es" else module.title
        assert title in out, (fmt, locale, module.id)
    if locale == "es":
        assert "What back pain is" not in out


def test_json_and_fhir_carry_the_modules(rules: backrx.RuleSet) -> None:
    """The stored JSON round-trips the modules and FHIR holds one CommunicationRequest per module."""
    rec = _rec(rules, locale="es")
    assert rec.program is not None
    again = backrx.Recommendation.model_validate_json(rec.model_dump_json())
    assert again.program is not None and again.program.education == rec.program.education
    bundle = to_fhir(rec)
    codes = [c["code"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CommunicationRequest"
             for cat in e["resource"]["category"] for c in cat["coding"] if c["system"] == EDUCATION_SYSTEM]
    assert {m.id for m in rec.program.education} <= set(codes)


def test_the_flare_plan_keeps_mobility_and_eases_loads(rules: backrx.RuleSet) -> None:
    """The flare plan names the program's mobility exercises to keep and its loads to ease off."""
    rec = _rec(rules, directional_preference="extension")
    assert rec.program is not None and rec.program.flare_plan is not None
    flare = rec.program.flare_plan
    spec = rules.pack.education.flare
    assert spec is not None
    exercises = {p.exercise.id: p.exercise for ph in rec.program.phases for p in ph.prescriptions}
    assert flare.keep_exercises and flare.ease_exercises
    assert all(exercises[e].category in spec.keep_categories and exercises[e].direction != "flexion"
               for e in flare.keep_exercises)
    assert all(exercises[e].category in spec.ease_categories for e in flare.ease_exercises)
    assert flare.seek_help[1:] == list(rec.safety_net)
    assert flare.resume in render(rec, "md", rules=rules)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles(startback=HIGH_RISK, red_flags=[], red_flags_unsure=[]))
def test_high_startback_risk_gets_exposure_steps_from_its_goals(rules: backrx.RuleSet,
                                                               data: dict[str, Any]) -> None:
    """A program at high STarT Back risk carries the graded-activity pathway, with a quota ladder
    for each of the person's goals (or the pack's everyday activities when none is named)."""
    rec = rules.recommend(data)
    assume(rec.program is not None)
    assert rec.program is not None and rec.classification.startback_risk == "high"
    graded = rec.program.graded_activity
    spec = rules.pack.education.graded
    assert graded is not None and spec is not None
    goals = [g for g in dict.fromkeys((data.get("preferences") or {}).get("goals") or [])
             if g in spec.activities]
    assert graded.activities == (goals or list(spec.default_activities))
    for activity in graded.activities:
        ladder = [s for s in graded.steps if s.activity == activity]
        assert [s.step for s in ladder] == list(range(1, len(spec.steps) + 1))
        assert [s.minutes for s in ladder] == [q.minutes for q in spec.steps]
        assert all(b.start_week == a.end_week + 1 for a, b in pairwise(ladder))
    assert graded.cannot and graded.referral and "pain-beliefs" in [m.id for m in rec.program.education]


def test_a_high_fear_score_alone_brings_the_pathway(rules: backrx.RuleSet) -> None:
    """FABQ physical activity above the pack's threshold brings the pathway without a STarT score."""
    assert _rec(rules, findings={"fabq_pa": 14}).program.graded_activity is None  # type: ignore[union-attr]
    rec = _rec(rules, findings={"fabq_pa": 15}, preferences={"goals": ["gardening"]})
    assert rec.program is not None and rec.program.graded_activity is not None
    assert rec.program.graded_activity.activities == ["gardening"]
    assert rec.program.graded_activity.cannot in render(rec, "text", rules=rules)


def test_a_fear_score_out_of_range_is_refused() -> None:
    """A FABQ-PA score outside 0-24 is refused, naming the field."""
    with pytest.raises(ValidationError) as err:
        backrx.Profile.model_validate(base_profile(findings={"fabq_pa": 25}))
    assert "fabq_pa" in str(err.value)


def _round(date: str, flare: str | None = None, read: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"date": date, "responses": [
        {"exercise_id": "prone-press-up", "pain_during": 3, "next_day": "same", "peripheralized": False}]}
    if flare:
        data["flare_started"] = flare
    if read:
        data["education_read"] = read
    return data


def test_a_reported_flare_applies_the_plan_and_then_resumes(rules: backrx.RuleSet) -> None:
    """A flare holds the plan with the flare-plan warning; after the window the plan resumes."""
    rec = _rec(rules, directional_preference="extension")
    during = backrx.adjust(rec, _round("2026-01-05", flare="2026-01-04"), rules=rules)
    assert during.program is not None and during.program.hold is not None
    assert "flare-plan" in [w.code for w in during.warnings]
    after = backrx.adjust(during, _round("2026-01-09", flare="2026-01-04"), rules=rules)
    fired = {f.rule_id for f in after.adjustments[-1].trace}
    assert "adjust.flare.resume" in fired and "adjust.flare.plan" not in fired
    assert "flare-plan-resumes" in [w.code for w in after.warnings]
    plain = backrx.adjust(rec, _round("2026-01-05"), rules=rules)
    assert not any(f.rule_id.startswith("adjust.flare.") for f in plain.adjustments[-1].trace)


def test_a_flare_dated_after_the_round_is_refused() -> None:
    """A flare that starts after the round's date is refused, naming the field."""
    with pytest.raises(ValidationError) as err:
        backrx.Feedback.model_validate(_round("2026-01-05", flare="2026-01-06"))
    assert "flare_started" in str(err.value)


def test_modules_marked_read_are_kept_in_the_history(rules: backrx.RuleSet) -> None:
    """A follow-up round that marks modules as read records them, and the clinician view shows it."""
    rec = _rec(rules, directional_preference="extension")
    later = backrx.adjust(rec, _round("2026-01-05", read=["hurt-not-harm"]), rules=rules)
    stored = backrx.Recommendation.model_validate(json.loads(later.model_dump_json()))
    assert stored.adjustments[-1].feedback.education_read == ["hurt-not-harm"]
    assert "(education.hurt-not-harm; read)" in render(later, "text", view="clinician", rules=rules)
