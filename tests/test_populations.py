"""Populations as data (rules/populations.yaml): every limit holds in every phase and after an
adjustment, every independent person's program holds the four elements or names what is missing,
and flexibility work fits the straight-leg raise."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.conftest import dated

import backrx
from backrx.model.profile import Profile
from backrx.run.populations import limits_for
from backrx.testing import feedback, profiles


def _limits(rules: backrx.RuleSet, profile: dict[str, Any]) -> Any:
    return limits_for(rules.pack, Profile.model_validate(profile))


def test_every_population_is_declared_once_with_a_trigger_and_a_source(rules: backrx.RuleSet) -> None:
    """The pack declares the eleven populations of issue 23, each with a trigger and sources."""
    ids = [p.id for p in rules.pack.populations.populations]
    assert len(ids) == len(set(ids))
    assert set(ids) >= {"pregnancy", "postpartum", "osteoporosis", "older-falls", "wheelchair",
                        "walking-aid", "adolescent", "post-operative", "hypermobile",
                        "cardiorespiratory", "weight-bearing-limited"}
    assert all(p.sources for p in rules.pack.populations.populations)


@settings(max_examples=150, deadline=None)
@given(profile=profiles())
def test_every_population_limit_holds_in_every_phase(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """No phase of a program holds an exercise a population of the person forbids there."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    assert rec.program is not None
    limits = _limits(rules, profile)
    assert limits.violations(rules.pack, rec.program) == []


@settings(max_examples=150, deadline=None)
@given(profile=profiles(history={"falls_last_year": 2}))
def test_after_falls_balance_is_in_every_phase_on_three_days(profile: dict[str, Any],
                                                             rules: backrx.RuleSet) -> None:
    """Two falls in a year: every phase holds balance work on 3 or more days a week (WHO 2020), or
    a warning names the phase it could not fill or the stated time that cut it."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    assert rec.program is not None
    codes = {w.code for w in rec.warnings}
    for phase in rec.program.phases:
        balance = [p for p in phase.prescriptions if p.exercise.category == "balance"]
        days = max((len([d for d in phase.week if p.exercise.id in d.prescriptions]) for p in balance),
                   default=0)
        assert days >= 3 or codes & {"population-requirement-unmet",
                                     "population-requirement-below-floor"}, phase.id


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_population_limits_hold_after_an_adjustment(data: st.DataObject, rules: backrx.RuleSet) -> None:
    """After each of three rounds of adjust, no phase holds an exercise the person's populations
    forbid (progressions, replacements and reintroductions included)."""
    profile = data.draw(profiles())
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    limits = _limits(rules, profile)
    for _ in range(3):
        assert rec.program is not None
        ids = [p.exercise.id for p in rec.program.phase_now.prescriptions]
        rec = backrx.adjust(rec, dated(data.draw(feedback(exercise_ids=ids)), rec), rules=rules)
        if rec.program is None:
            break
        assert limits.violations(rules.pack, rec.program) == []


@settings(max_examples=150, deadline=None)
@given(profile=profiles(mobility="independent"))
def test_an_independent_program_holds_the_four_elements_or_names_what_is_missing(
        profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """Each element is in every phase the pack keeps it in, or a warning names it."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    assert rec.program is not None and rules.pack.planner is not None
    messages = " ".join(w.message for w in rec.warnings)
    codes = {w.code for w in rec.warnings}
    for element in rules.pack.planner.elements:
        for phase in rec.program.phases:
            if phase.id not in element.keep_in:
                continue
            held = any(p.exercise.category in element.categories for p in phase.prescriptions)
            named = f"{element.name}, {phase.id} phase" in messages
            assert held or named or (element.name == "aerobic" and "no-aerobic-option" in codes), \
                (element.name, phase.id)


@settings(max_examples=150, deadline=None)
@given(profile=profiles(leg_pain="below_knee"), slr=st.floats(0, 44.9))
def test_no_static_hamstring_stretch_in_phase_one_with_slr_under_45_and_pain_below_the_knee(
        profile: dict[str, Any], slr: float, rules: backrx.RuleSet) -> None:
    """SLR < 45 degrees with pain below the knee: phase 1 holds no static hamstring stretch."""
    profile = {**profile, "findings": {**(profile.get("findings") or {}), "straight_leg_raise_deg": slr}}
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    assert rec.program is not None
    first = rec.program.phases[0]
    stretches = [p.exercise.id for p in first.prescriptions
                 if "neural-tension" in rules.pack.exercises[p.exercise.id].tags]
    assert stretches == []


def test_no_end_range_stretch_for_a_hypermobile_person(rules: backrx.RuleSet) -> None:
    """A Beighton score at the adult cut-off (5) takes every static stretch out of every phase."""
    base = {"age": 30, "duration_weeks": 20.0, "pain_site": "lower", "leg_pain": "none",
            "pain_intensity": 4, "tolerance": "moderate", "red_flags": []}
    rec = rules.recommend({**base, "findings": {"beighton_score": 5}})
    plain = rules.recommend({**base, "findings": {"beighton_score": 4}})
    assert rec.program is not None and plain.program is not None

    def static(r: backrx.Recommendation) -> list[str]:
        assert r.program is not None
        return [p.exercise.id for ph in r.program.phases for p in ph.prescriptions
                if "static-stretch" in rules.pack.exercises[p.exercise.id].tags]

    assert static(rec) == [] and static(plain) != []


def test_the_default_budget_keeps_the_walk_the_guidance_asks_for(rules: backrx.RuleSet) -> None:
    """With no stated time, the last phase's walk is 30 minutes; a stated 20 minutes cuts it, with
    the shortened-for-time note."""
    base = {"age": 40, "duration_weeks": 20.0, "pain_site": "lower", "leg_pain": "none",
            "pain_intensity": 3, "tolerance": "moderate", "red_flags": []}
    dosing = [r for r in rules.pack.rules if r.id == "dose.base.timed"]
    target = max(dict(d.values).get("minutes", 0) for r in dosing for d in r.then.dose)

    def walk(profile: dict[str, Any]) -> Any:
        rec = rules.recommend(profile)
        assert rec.program is not None
        return next(p for p in rec.program.phases[-1].prescriptions if p.exercise.category == "aerobic")

    assert walk(base).dose.minutes == target
    short = walk({**base, "preferences": {"minutes_per_session": 20}})
    assert short.dose.minutes < target


def test_walking_tolerance_sets_the_starting_walk(rules: backrx.RuleSet) -> None:
    """A person who can walk 6 minutes starts phase 1 with a walk no longer than 6 minutes."""
    base = {"age": 40, "duration_weeks": 20.0, "pain_site": "lower", "leg_pain": "none",
            "pain_intensity": 3, "tolerance": "moderate", "red_flags": []}
    rec = rules.recommend({**base, "outcomes": {"walk_minutes": 6}})
    assert rec.program is not None
    walks = [p for p in rec.program.phases[0].prescriptions if "needs-walking" in
             rules.pack.exercises[p.exercise.id].tags and p.exercise.category == "aerobic"]
    assert walks and all((p.dose.minutes or 0) <= 6 for p in walks)
