"""The walk builds from the person's walking time (outcomes.walk_minutes) in every phase, and the
catalog's movement tags reach every flexion and twisting limit (issue 23, third review)."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import backrx

BASE = {"age": 45, "duration_weeks": 20.0, "pain_site": "lower", "leg_pain": "none",
        "pain_intensity": 3, "tolerance": "moderate", "red_flags": [], "onset": "gradual",
        "symptom_trend": "stable", "episode": "recurrence"}
STENOSIS = {"age": 70, "leg_pain": "below_knee", "bilateral_leg_symptoms": True,
            "findings": {"worse_with": ["walking", "standing"], "eases_with": ["sitting", "bending_forward"],
                         "night_pain": False, "nothing_eases": False}}


def _step(rules: backrx.RuleSet) -> int:
    assert rules.pack.planner is not None
    return next(s.step for s in rules.pack.planner.adjusting.step_up if s.part == "minutes")


def _walks(rules: backrx.RuleSet, profile: dict[str, Any]) -> list[tuple[int, int]]:
    """(phase index, minutes) of every walking exercise of the program."""
    rec = rules.recommend(profile)
    assert rec.program is not None
    return [(i, p.dose.minutes or 0) for i, phase in enumerate(rec.program.phases)
            for p in phase.prescriptions
            if p.exercise.category == "aerobic"
            and "needs-walking" in rules.pack.exercises[p.exercise.id].tags]


@settings(max_examples=25, deadline=None)
@given(walk=st.integers(min_value=1, max_value=40), stenosis=st.booleans())
def test_no_phase_walks_further_than_the_person_has_built_up_to(walk: int, stenosis: bool,
                                                                 rules: backrx.RuleSet) -> None:
    """Phase 1's walk is no longer than the walk the person can do now, and each later phase starts
    at most one progression step per phase above it (stenosis or not)."""
    profile = {**BASE, **(STENOSIS if stenosis else {}), "outcomes": {"walk_minutes": walk}}
    walks = _walks(rules, profile)
    assume(walks)
    step = _step(rules)
    assert all(minutes <= walk + step * i for i, minutes in walks)


def test_a_short_walker_starts_at_their_walk_and_still_builds(rules: backrx.RuleSet) -> None:
    """A stenosis walker who manages 4 minutes starts at 4 (no floor above it), and each phase walks
    longer than the one before."""
    walks = _walks(rules, {**BASE, **STENOSIS, "outcomes": {"walk_minutes": 4}})
    minutes = [m for _, m in sorted(walks)]
    assert minutes[0] == 4 and minutes == sorted(set(minutes))


def test_a_good_walker_keeps_the_phase_doses(rules: backrx.RuleSet) -> None:
    """A person who already walks 40 minutes gets the pack's own phase doses, the same as with no
    walking time recorded."""
    assert _walks(rules, {**BASE, "outcomes": {"walk_minutes": 40}}) == _walks(rules, BASE)


FLEXION_LIMITS = [{"osteoporosis": True}, {"long_term_corticosteroids": True},
                  {"fragility_fractures": ["vertebral"]},
                  {"spinal_surgery": "fusion", "recent_spinal_surgery_weeks": 20.0,
                   "surgeon_clearance": "yes", "surgeon_restrictions": ["no_bending"]},
                  {"spinal_surgery": "fusion", "recent_spinal_surgery_weeks": 8.0,
                   "surgeon_clearance": "yes"}]


@settings(max_examples=20, deadline=None)
@given(history=st.sampled_from(FLEXION_LIMITS),
       preference=st.sampled_from(["flexion", "extension", "unknown"]))
def test_no_exercise_that_rounds_the_back_passes_a_flexion_limit(history: dict[str, Any], preference: str,
                                                                 rules: backrx.RuleSet) -> None:
    """With osteoporosis, long-term steroids, a vertebral fracture, a surgeon's no-bending or a
    fusion under 12 weeks without recorded restrictions, no phase holds an exercise the catalog
    says rounds the back (the cat-camel included)."""
    rec = rules.recommend({**BASE, "directional_preference": preference, "history": history})
    assume(rec.program is not None)
    assert rec.program is not None
    rounding = {"spinal-flexion", "end-range-flexion", "spinal-flexion-load", "loaded-flexion"}
    found = [p.exercise.id for ph in rec.program.phases for p in ph.prescriptions
             if rounding & set(rules.pack.exercises[p.exercise.id].tags)]
    assert found == []
    assert "spinal-flexion" in rules.pack.exercises["cat-camel"].tags
