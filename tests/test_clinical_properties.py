"""Clinical properties of the triage clusters, special populations and urgency wording (issue 15)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import backrx
from backrx.model.profile import RED_FLAGS
from backrx.testing import profiles

#: Most urgent first; None (no referral) ranks last.
RANK = {"emergency": 0, "urgent": 1, "routine": 2, None: 3}
#: The tier each ticked red flag deserves (clinical-basis: cauda equina and major trauma are emergencies,
#: inflammatory back pain is a routine rheumatology referral, every other flag an urgent review).
EMERGENCY_FLAGS = {"saddle_anaesthesia", "bladder_bowel_dysfunction", "bilateral_neurological_symptoms",
                   "major_trauma"}
ROUTINE_FLAGS = {"inflammatory_back_pain"}
#: Every way a neurological sign can be recorded (ticked, unsure, or as a finding).
NEURO_SIGNS: list[tuple[str, Any]] = [
    *[("red_flags", f) for f in ("progressive_neurological_deficit", "bilateral_neurological_symptoms",
                                 "saddle_anaesthesia", "bladder_bowel_dysfunction")],
    *[("red_flags_unsure", f) for f in ("progressive_neurological_deficit", "bilateral_neurological_symptoms",
                                        "saddle_anaesthesia", "bladder_bowel_dysfunction")],
    ("leg_pain", "below_knee"), ("bilateral_leg_symptoms", True),
    *[("findings." + f, True)
      for f in ("weakness", "sensory_loss", "difficulty_walking", "sexual_dysfunction")],
]


def _set(profile: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The profile with ``path`` set; list fields gain ``value`` instead."""
    out = copy.deepcopy(profile)
    if path in ("red_flags", "red_flags_unsure"):
        out[path] = list(dict.fromkeys([*out.get(path, []), value]))
        other = "red_flags_unsure" if path == "red_flags" else "red_flags"
        out[other] = [flag for flag in out.get(other, []) if flag != value]  # ticked or unsure, not both
    elif "." in path:
        section, name = path.split(".")
        out[section] = {**(out.get(section) or {}), name: value}
    else:
        out[path] = value
    return out


def _onset_within_age(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile without a back-pain onset age above its (changed) age, which format 3 refuses."""
    history = profile.get("history") or {}
    if (history.get("back_pain_onset_age") or 0) > profile["age"]:
        profile["history"] = {k: v for k, v in history.items() if k != "back_pain_onset_age"}
    return profile


def _tier(rec: backrx.Recommendation) -> str | None:
    return rec.referral.urgency if rec.referral is not None else None


def _at_least(rec: backrx.Recommendation, tier: str) -> None:
    assert RANK[_tier(rec)] <= RANK[tier], (_tier(rec), tier, [f.rule_id for f in rec.trace])
    if tier in ("emergency", "urgent"):
        assert rec.outcome == "refer" and rec.program is None


@settings(max_examples=150)
@given(profile=profiles(), sign=st.sampled_from(NEURO_SIGNS), unsure=st.booleans())
def test_cancer_with_any_neurological_sign_is_an_emergency(profile: dict[str, Any], sign: tuple[str, Any],
                                                           unsure: bool, rules: backrx.RuleSet) -> None:
    """Cancer (ticked or unsure) with any neurological sign, however recorded, is an emergency."""
    with_cancer = _set(profile, "red_flags_unsure" if unsure else "red_flags", "cancer_history")
    _at_least(rules.recommend(_set(with_cancer, *sign)), "emergency")


@settings(max_examples=150)
@given(profile=profiles(duration_weeks=1.0, bilateral_leg_symptoms=True),
       feature=st.sampled_from(["sexual_dysfunction", "weakness"]))
def test_new_both_legs_with_a_cauda_equina_feature_is_an_emergency(
        profile: dict[str, Any], feature: str, rules: backrx.RuleSet) -> None:
    """Symptoms in both legs within 14 days, with a sexual change or weakness, are an emergency."""
    _at_least(rules.recommend(_set(profile, "findings." + feature, True)), "emergency")


@settings(max_examples=150)
@given(profile=profiles(bilateral_leg_symptoms=True, leg_pain="below_knee"),
       new=st.sampled_from(["acute", "worsening"]))
def test_new_or_worsening_bilateral_radicular_pain_is_at_least_urgent(
        profile: dict[str, Any], new: str, rules: backrx.RuleSet) -> None:
    """Below-knee pain in both legs in a new (under 4 weeks) or worsening episode is at least urgent."""
    if new == "acute":
        profile = {k: v for k, v in profile.items() if k != "stage"}
        profile["duration_weeks"] = min(profile.get("duration_weeks", 1.0), 3.9)
    else:
        profile["symptom_trend"] = "worsening"
    rec = rules.recommend(profile)
    _at_least(rec, "urgent")


@settings(max_examples=150)
@given(profile=profiles(bilateral_leg_symptoms=True))
def test_both_legs_always_carry_the_cauda_equina_safety_net(profile: dict[str, Any],
                                                             rules: backrx.RuleSet) -> None:
    """Anyone with symptoms in both legs gets the written cauda equina safety net and a clinician prompt."""
    rec = rules.recommend(profile)
    assert any("both legs" in line and "emergency department now" in line for line in rec.safety_net)
    assert "both-legs-ces-screen" in {w.code for w in rec.warnings}


@settings(max_examples=150)
@given(profile=profiles(), risk=st.sampled_from(["age", "osteoporosis", "steroids"]),
       trigger=st.sampled_from(["sudden", "severe"]))
def test_fracture_risk_with_sudden_or_severe_pain_is_at_least_urgent(
        profile: dict[str, Any], risk: str, trigger: str, rules: backrx.RuleSet) -> None:
    """Age 70+, osteoporosis or long-term steroids with sudden onset or pain 7+/10 is at least urgent."""
    if risk == "age":
        profile["age"] = max(profile["age"], 70)
        profile = _onset_within_age(profile)
    else:
        profile = _set(profile, "history." + ("osteoporosis" if risk == "osteoporosis"
                                              else "long_term_corticosteroids"), True)
    if trigger == "sudden":
        profile["onset"] = "sudden"
    else:
        profile["pain_intensity"] = max(profile["pain_intensity"], 7)
    _at_least(rules.recommend(profile), "urgent")


@settings(max_examples=150)
@given(profile=profiles(pain_site="middle"), age=st.integers(51, 110),
       sign=st.sampled_from(["night_pain", "nothing_eases"]))
def test_thoracic_pain_over_50_at_night_or_unrelieved_is_at_least_urgent(
        profile: dict[str, Any], age: int, sign: str, rules: backrx.RuleSet) -> None:
    """Mid-back pain over 50 that is worse at night or eased by nothing gets a same-day review."""
    profile["age"] = age
    profile = _onset_within_age(profile)
    _at_least(rules.recommend(_set(profile, "findings." + sign, True)), "urgent")


@settings(max_examples=150)
@given(profile=profiles(), age=st.integers(10, 17))
def test_adolescent_extension_pain_is_reviewed_and_spared_extension(
        profile: dict[str, Any], age: int, rules: backrx.RuleSet) -> None:
    """Under 18 with pain on bending backward: at least a routine review, and no extension exercise."""
    profile["age"] = age
    profile = _onset_within_age(profile)
    findings = dict(profile.get("findings") or {})
    findings["worse_with"] = list(dict.fromkeys([*(findings.get("worse_with") or []), "bending_backward"]))
    profile["findings"] = findings
    rec = rules.recommend(profile)
    _at_least(rec, "routine")
    if rec.program is not None:
        assert [p.exercise.id for ph in rec.program.phases for p in ph.prescriptions
                if p.exercise.direction == "extension"] == []


@settings(max_examples=200)
@given(profile=profiles(), flag=st.sampled_from(RED_FLAGS))
def test_an_unsure_red_flag_gets_the_tier_of_the_flag(profile: dict[str, Any], flag: str,
                                                      rules: backrx.RuleSet) -> None:
    """A red flag answered "not sure" gets a referral at least as urgent as the ticked flag deserves."""
    expected = "emergency" if flag in EMERGENCY_FLAGS else "routine" if flag in ROUTINE_FLAGS else "urgent"
    rec = rules.recommend(_set(profile, "red_flags_unsure", flag))
    _at_least(rec, expected)
    assert "unsure-red-flag" in {w.code for w in rec.warnings}


@settings(max_examples=100)
@given(profile=profiles())
def test_high_startback_risk_gets_a_routine_referral(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """A STarT Back psychosocial score of 4 or more gets at least a routine referral (NICE NG59)."""
    profile["startback"] = {"leg_pain": False, "shoulder_neck_pain": False, "walked_short_distances": False,
                            "dressed_slowly": False, "not_safe_to_be_active": True, "worrying_thoughts": True,
                            "pain_terrible": True, "not_enjoying": True, "bothersomeness": 0}
    rec = rules.recommend(profile)
    _at_least(rec, "routine")
    if rec.program is not None:
        assert rec.classification.startback_risk == "high"


def _tags(rules: backrx.RuleSet, rec: backrx.Recommendation) -> list[tuple[str, set[str]]]:
    if rec.program is None:
        return []
    return [(p.exercise.id, set(rules.pack.exercises[p.exercise.id].tags))
            for ph in rec.program.phases for p in ph.prescriptions]


@settings(max_examples=200)
@given(profile=profiles(mobility="wheelchair"))
def test_a_wheelchair_user_never_walks_or_stands(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """A wheelchair user gets no exercise tagged as needing walking or standing, and no standing breaks."""
    rec = rules.recommend(profile)
    wrong = [eid for eid, tags in _tags(rules, rec) if tags & {"needs-walking", "needs-standing"}]
    assert wrong == []
    if rec.program is not None:
        assert "lower_crossed" not in rec.classification.pathways
        assert all(ph.prescriptions for ph in rec.program.phases)


@settings(max_examples=200)
@given(profile=profiles(), weeks=st.one_of(st.none(), st.floats(0, 42, allow_nan=False)))
def test_a_pregnant_person_gets_no_stenosis_prone_or_late_supine_work(
        profile: dict[str, Any], weeks: float | None, rules: backrx.RuleSet) -> None:
    """Pregnant: never stenosis, no prone work, no supine-only work from 20 weeks or weeks unknown."""
    history = {**(profile.get("history") or {}), "pregnant": True}
    history.pop("postpartum_weeks", None)  # a birth after this pregnancy began: pregnant-and-postpartum
    if profile.get("sex") == "male":
        profile.pop("sex")  # sex recorded male with a pregnancy is refused (sex-pregnancy-mismatch)
    history.pop("pregnancy_weeks", None)
    if weeks is not None:
        history["pregnancy_weeks"] = weeks
    profile["history"] = history
    rec = rules.recommend(profile)
    assert "stenosis" not in rec.classification.pathways
    tags = _tags(rules, rec)
    assert [eid for eid, t in tags if "prone" in t] == []
    if weeks is None or weeks >= 20:
        assert [eid for eid, t in tags if "supine" in t] == []
    if weeks is None or weeks >= 13:
        assert [eid for eid, t in tags if t & {"spinal-flexion-load", "loaded-flexion"}] == []


@settings(max_examples=150)
@given(profile=profiles(history={"pelvic_girdle_pain": True}))
def test_pelvic_girdle_pain_gets_no_single_leg_loading(profile: dict[str, Any],
                                                       rules: backrx.RuleSet) -> None:
    """With pelvic girdle pain, no exercise loads one leg at a time, and the pattern is never stenosis."""
    rec = rules.recommend(profile)
    assert [eid for eid, t in _tags(rules, rec) if "single-leg" in t] == []
    assert "stenosis" not in rec.classification.pathways


@settings(max_examples=150)
@given(profile=profiles(), age=st.integers(75, 110), falls=st.integers(0, 5))
def test_older_or_fallen_adults_start_light_with_falls_advice(
        profile: dict[str, Any], age: int, falls: int, rules: backrx.RuleSet) -> None:
    """At 75+ the first two phases stay at load 2 or less, with no impact work, and falls advice is given."""
    profile["age"] = age
    profile = _onset_within_age(profile)
    profile["mobility"] = "independent"
    profile.update(red_flags=[], red_flags_unsure=[], onset="gradual")  # no referral: the program is tested
    for answer in ("trauma", "episode"):
        profile.pop(answer, None)
    profile = _set(profile, "history.falls_last_year", falls)
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    for ph in rec.program.phases[:2]:
        assert all(p.exercise.load <= 2 for p in ph.prescriptions), ph.id
    assert [eid for eid, t in _tags(rules, rec) if "impact" in t] == []
    given = {p.exercise.id for ph in rec.program.phases for p in ph.prescriptions}
    assert "education-falls-prevention" in given


# --------------------------------------------------------------------------- one wording per tier


def _check_wording(rules: backrx.RuleSet, rec: backrx.Recommendation) -> None:
    tiers = rules.pack.tiers
    assert tiers is not None
    phrases = {name: tier.phrase.lower() for name, tier in tiers.tiers.items()}
    for line in rec.safety_net:
        assert not [bad for bad in tiers.avoid if bad.lower() in line.lower()], line
    if rec.referral is None:
        return
    tier = rec.referral.urgency
    header = rec.referral.header or ""
    assert phrases[tier] in header.lower()
    said = []
    for reason in rec.referral.reasons:
        low = " ".join(reason.lower().split())
        found = [name for name, phrase in phrases.items() if phrase in low]
        assert len(found) == 1, reason
        assert RANK[found[0]] >= RANK[tier], reason  # no reason is more urgent than the header
        if rec.outcome == "refer":
            assert found[0] != "routine", reason  # "the program can continue" under a referral
        assert not [bad for bad in tiers.avoid if bad.lower() in low], reason
        said.append(found[0])
    assert said[0] == tier  # the reasons open with the header's tier
    assert header in rec.explain()
    first = rec.to_markdown().splitlines()[0]
    if rec.outcome == "refer":
        assert first != "# Your back exercise plan"
        assert first == f"# {rec.referral.title}"
    else:
        assert first == "# Your back exercise plan" and header in rec.to_markdown()


@pytest.mark.parametrize(("flag", "tier"), [("saddle_anaesthesia", "emergency"),
                                            ("fever_or_infection", "urgent"),
                                            ("inflammatory_back_pain", "routine")])
@settings(max_examples=60)
@given(data=st.data())
def test_urgency_wording_agrees_for_every_tier(flag: str, tier: str, data: st.DataObject,
                                               rules: backrx.RuleSet) -> None:
    """Header, reasons and safety net use the one wording of the referral's tier, for every tier."""
    profile = data.draw(profiles(red_flags=[flag]))
    rec = rules.recommend(profile)
    assert rec.referral is not None and RANK[rec.referral.urgency] <= RANK[tier]
    _check_wording(rules, rec)


@settings(max_examples=200)
@given(profile=profiles())
def test_urgency_wording_agrees_for_any_profile(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """For any profile, the referral's header, reasons and safety net never mix urgency tiers."""
    _check_wording(rules, rules.recommend(profile))


def test_each_tier_has_its_own_wording_in_the_pack(rules: backrx.RuleSet) -> None:
    """urgency.yaml gives each tier a distinct phrase that its header says: now, today, continue."""
    tiers = rules.pack.tiers
    assert tiers is not None and set(tiers.tiers) == {"emergency", "urgent", "routine"}
    assert "now" in tiers.tiers["emergency"].phrase and "today" in tiers.tiers["urgent"].phrase
    assert "continue" in tiers.tiers["routine"].phrase
    assert len({t.phrase for t in tiers.tiers.values()}) == 3
