"""Properties a clinician cares about, over generated profiles on the bundled pack."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings

import backrx
from backrx.pack.model import Pack
from backrx.testing import profiles


@pytest.mark.slow
@settings(max_examples=300)
@given(profile=profiles())
def test_phase_one_never_goes_against_the_preference(profile: dict[str, Any],
                                                     rules: backrx.RuleSet) -> None:
    """Phase 1 holds no exercise in the direction opposite to the directional preference."""
    rec = rules.recommend(profile)
    assert rules.pack.planner is not None
    opposite = rules.pack.planner.opposite_directions.get(profile.get("directional_preference", "unknown"))
    assume(rec.program is not None)
    assume(opposite is not None)
    calm = rec.program.phases[0]
    assert [p.exercise.id for p in calm.prescriptions if p.exercise.direction == opposite] == []


@settings(max_examples=300)
@given(profile=profiles())
def test_nothing_needs_what_the_person_lacks(profile: dict[str, Any], rules: backrx.RuleSet,
                                            bundled_pack: Pack) -> None:
    """No prescription needs equipment or a setting the person did not list."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    prefs = profile.get("preferences") or {}
    places = set(prefs.get("settings", ["home"]))
    spec = bundled_pack.planner  # the bundled pack's own word on what a setting provides
    assert spec is not None and spec.choosing is not None
    kit = spec.choosing.equipment(places, prefs.get("equipment", []))
    for phase in rec.program.phases:
        for p in phase.prescriptions:
            assert set(p.exercise.equipment) <= kit, p.exercise.id
            assert places & set(p.exercise.settings), p.exercise.id


@settings(max_examples=300)
@given(profile=profiles())
def test_every_prescription_explains_itself(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """Every prescription has a rationale, sources that resolve, and rule ids found in the trace."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    fired = {f.rule_id for f in rec.trace}
    said = " ".join(w.message for w in rec.warnings if w.code == "element-missing")
    for phase in rec.program.phases:
        assert phase.prescriptions or f"{phase.id} phase" in said, f"phase {phase.id} is empty, unexplained"
        for p in phase.prescriptions:
            assert p.rationale.strip()
            assert p.sources and set(p.sources) <= set(rules.pack.sources)
            assert p.rule_ids and set(p.rule_ids) <= fired
    for f in rec.trace:
        assert f.rationale.strip() and f.sources


@settings(max_examples=200)
@given(profile=profiles(pain_intensity=8))
def test_severe_pain_keeps_phase_one_light(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """With pain of 7/10 or more, every phase-1 exercise has load 2 or less."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    assert all(p.exercise.load <= 2 for p in rec.program.phases[0].prescriptions)
