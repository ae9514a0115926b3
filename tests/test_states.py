"""Clinical states (rules/states.yaml): a recorded state decides, however it was recorded."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.audit.safety_net import safety_lines, safety_net_consistent
from backrx.model.profile import migrate_profile
from backrx.testing import profiles

REFERRING = ("urgent", "emergency")


def _with(profile: dict[str, Any], section: str, **values: Any) -> dict[str, Any]:
    out = copy.deepcopy(profile)
    out[section] = {**(out.get(section) or {}), **values}
    return out


def _without_flag(profile: dict[str, Any], flag: str) -> dict[str, Any]:
    out = copy.deepcopy(profile)
    for key in ("red_flags", "red_flags_unsure"):
        out[key] = [f for f in out.get(key, []) if f != flag]
    return out


def _tier(rec: backrx.Recommendation) -> str | None:
    return rec.referral.urgency if rec.referral is not None else None


# The four ways a progressive or bilateral neurological state is recorded: two flags, two sets of findings.
RECORDINGS = ("flag-progressive", "flag-bilateral", "findings-worsening", "findings-both-legs")


def _record(profile: dict[str, Any], how: str) -> dict[str, Any]:
    if how == "flag-progressive":
        out = _without_flag(profile, "progressive_neurological_deficit")
        out["red_flags"] = [*out["red_flags"], "progressive_neurological_deficit"]
        return out
    if how == "flag-bilateral":
        out = _without_flag(profile, "bilateral_neurological_symptoms")
        out["red_flags"] = [*out["red_flags"], "bilateral_neurological_symptoms"]
        return out
    if how == "findings-worsening":
        return _with(profile, "findings", weakness=True, neuro_trend="worsening")
    out = _with(profile, "findings", sensory_loss=True)
    out["bilateral_leg_symptoms"] = True
    return out


@settings(max_examples=300)
@given(profile=profiles(), how=st.sampled_from(RECORDINGS))
def test_a_progressive_or_bilateral_neurological_state_is_referred_urgently(
        profile: dict[str, Any], how: str, rules: backrx.RuleSet) -> None:
    """A progressive or bilateral nerve state, flagged or found on examination, is referred urgently."""
    rec = rules.recommend(_record(profile, how))
    assert rec.outcome == "refer" and _tier(rec) in REFERRING


@settings(max_examples=200)
@given(profile=profiles())
def test_the_both_legs_flag_and_the_findings_give_the_same_tier(profile: dict[str, Any],
                                                               rules: backrx.RuleSet) -> None:
    """Nerve symptoms in both legs give one tier whether the flag is ticked or only the findings say so."""
    found = _with(_without_flag(profile, "bilateral_neurological_symptoms"), "findings", sensory_loss=True)
    found["bilateral_leg_symptoms"] = True
    flagged = copy.deepcopy(found)
    flagged["red_flags"] = [*flagged["red_flags"], "bilateral_neurological_symptoms"]
    assert _tier(rules.recommend(found)) == _tier(rules.recommend(flagged))


@settings(max_examples=200)
@given(profile=profiles())
def test_night_pain_that_nothing_eases_equals_the_unrelenting_night_pain_flag(
        profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """Night pain that nothing eases is referred like the unrelenting-night-pain flag: at least urgent."""
    found = _with(_without_flag(profile, "unrelenting_night_pain"), "findings", night_pain=True,
                  nothing_eases=True)
    assert _tier(rules.recommend(found)) in REFERRING


@settings(max_examples=300)
@given(profile=profiles())
def test_the_safety_net_agrees_with_the_decision(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """A profile already meeting a safety-net line's condition is referred at that line's tier or higher."""
    assert safety_net_consistent(rules, profile, rules.recommend(profile)) is None


def test_safety_net_lines_name_states_the_pack_sets(rules: backrx.RuleSet) -> None:
    """Every state a safety-net line names is set by a rule of the states layer."""
    set_by_states = {f"derived.{name}" for rule in rules.pack.rules if rule.layer == "states"
                     for name, _ in rule.then.set}
    named = {state for _, line in safety_lines(rules) for state in line.states}
    assert named and named <= set_by_states


def test_a_pack_without_the_progressive_rule_breaks_the_safety_net(pack_copy: Path) -> None:
    """Without triage.neuro.progressive, worsening weakness meets the urgent safety-net line unreferred."""
    triage = pack_copy / "triage.yaml"
    text = triage.read_text(encoding="utf-8")
    start = text.index("  - id: triage.neuro.progressive\n")
    end = text.index("  - id: ", start + 10)
    triage.write_text(text[:start] + text[end:], encoding="utf-8")
    rules = backrx.load_rules(pack_copy)
    profile = base_profile(leg_pain="below_knee", findings={"weakness": True, "neuro_trend": "worsening"})
    problem = safety_net_consistent(rules, profile, rules.recommend(profile))
    assert problem is not None and "derived.neuro_progressive" in problem


def test_the_bundled_safety_net_holds_for_a_worsening_weakness(rules: backrx.RuleSet) -> None:
    """The bundled pack refers worsening weakness urgently, so its safety net has nothing to report."""
    profile = base_profile(leg_pain="below_knee", findings={"weakness": True, "neuro_trend": "worsening"})
    rec = rules.recommend(profile)
    assert _tier(rec) == "urgent" and safety_net_consistent(rules, profile, rec) is None


@pytest.mark.parametrize(("change", "code"), [
    ({"red_flags": ["fever_or_infection"], "red_flags_unsure": ["fever_or_infection"]},
     "red-flag-sure-and-unsure"),
    ({"history": {"pregnancy_weeks": 30, "postpartum_weeks": 2}}, "pregnant-and-postpartum"),
    ({"sex": "male", "history": {"pregnant": True}}, "sex-pregnancy-mismatch"),
    ({"trauma": "none", "red_flags": ["major_trauma"]}, "trauma-mismatch"),
    ({"history": {"back_pain_onset_age": 60}}, "onset-age-mismatch"),
    ({"history": {"surgeon_clearance": "yes"}}, "surgery-fields-without-surgery"),
    ({"findings": {"neuro_trend": "stable", "weakness": False, "sensory_loss": False,
                   "difficulty_walking": False, "severe_weakness": False, "umn_signs": []}},
     "neuro-trend-without-sign"),
])
def test_contradictions_are_refused_with_a_code(change: dict[str, Any], code: str) -> None:
    """A profile that contradicts itself is refused with the contradiction's code, in format 2 and 3 alike."""
    for fmt in (2, 3):
        with pytest.raises(ValidationError) as caught:
            backrx.Profile.model_validate(base_profile(profile_format=fmt, **change))
        assert code in {error["type"] for error in caught.value.errors()}


def test_a_format_2_profile_migrates_with_every_new_field_unknown() -> None:
    """Migrating a format-2 profile sets format 3 and leaves every new answer absent (unknown, not no)."""
    migrated = migrate_profile(base_profile())
    profile = backrx.Profile.model_validate(migrated)
    assert profile.profile_format == 3 and profile.bilateral_leg_symptoms is None
    assert profile.trauma is None and profile.sex is None and profile.episode is None


def test_migration_refuses_a_contradiction() -> None:
    """A format-2 profile holding a contradiction is refused on migration, not silently repaired."""
    with pytest.raises(ValidationError):
        migrate_profile(base_profile(red_flags=["iv_drug_use"], red_flags_unsure=["iv_drug_use"]))
