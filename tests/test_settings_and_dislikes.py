"""Every setting holds the four elements, and what the person dislikes is passed over without
giving up an element (issue 23, "choices that respect the person")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import backrx
from backrx.model.profile import Enjoys
from backrx.pack.planspec import ACTIVITIES
from backrx.run.inputs import PLANNER_FIELDS
from backrx.testing import PLAIN_PROFILE, profiles

ELEMENT_CATEGORIES = ("flexibility", "balance", "strength", "aerobic")


def _categories(rec: backrx.Recommendation, phase: str) -> set[str]:
    assert rec.program is not None
    return {p.exercise.category for ph in rec.program.phases if ph.id == phase for p in ph.prescriptions}


def _kept_in(rules: backrx.RuleSet) -> dict[str, tuple[str, ...]]:
    assert rules.pack.planner is not None
    return {e.name: e.keep_in for e in rules.pack.planner.elements}


@pytest.mark.parametrize("setting", ["pool", "outdoors"])
def test_a_single_setting_holds_every_element_where_the_pack_keeps_it(rules: backrx.RuleSet,
                                                                        setting: str) -> None:
    """Someone who exercises only in a pool, or only outdoors, gets each element in every phase the
    pack keeps it in, with no element-missing warning."""
    rec = rules.recommend({**PLAIN_PROFILE, "preferences": {"settings": [setting]}})
    assert rec.program is not None
    for element, phases in _kept_in(rules).items():
        for phase in phases:
            assert element in _categories(rec, phase), (setting, element, phase)
    assert "element-missing" not in {w.code for w in rec.warnings}


@settings(max_examples=120, deadline=None)
@given(profile=profiles(mobility="independent"),
       setting=st.sampled_from(["pool", "outdoors"]))
def test_pool_or_outdoors_only_programs_hold_the_elements_or_name_them(
        profile: dict[str, Any], setting: str, rules: backrx.RuleSet) -> None:
    """An independent person with one setting, pool or outdoors, gets each element in every phase the
    pack keeps it in, or a warning names the element and the phase."""
    profile = {**profile, "preferences": {**(profile.get("preferences") or {}), "settings": [setting]}}
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    messages = " ".join(w.message for w in rec.warnings)
    codes = {w.code for w in rec.warnings}
    for element, phases in _kept_in(rules).items():
        for phase in phases:
            held = element in _categories(rec, phase)
            named = f"{element}, {phase} phase" in messages
            assert held or named or (element == "aerobic" and "no-aerobic-option" in codes), (element, phase)


def test_every_activity_of_the_vocabulary_names_catalog_exercises(rules: backrx.RuleSet) -> None:
    """Each enjoys/dislikes value maps to catalog tags that at least one exercise carries."""
    assert rules.pack.planner is not None and rules.pack.planner.choosing is not None
    activities = rules.pack.planner.choosing.activities
    assert set(activities) == set(ACTIVITIES) == set(Enjoys.__args__)
    tags = {t for e in rules.pack.exercises.values() for t in e.tags}
    assert all(set(wanted) & tags for wanted in activities.values())


def test_dislikes_are_a_declared_planner_input() -> None:
    """preferences.dislikes is read by the planner, so the cache keys on it and the audit counts it."""
    assert "preferences.dislikes" in PLANNER_FIELDS


def test_a_disliked_walk_gives_way_to_a_liked_bike(rules: backrx.RuleSet) -> None:
    """Disliking walking, with a bike at hand, leaves every walk out and keeps aerobic work."""
    prefs = {"dislikes": ["walking"], "equipment": ["stationary_bike"]}
    rec = rules.recommend({**PLAIN_PROFILE, "preferences": prefs})
    assert rec.program is not None
    walking = {e.id for e in rules.pack.exercises.values() if "walking" in e.tags}
    for phase in rec.program.phases:
        ids = {p.exercise.id for p in phase.prescriptions}
        assert not ids & walking, phase.id
        assert "aerobic" in _categories(rec, phase.id)
    assert "disliked-activity-kept" not in {w.code for w in rec.warnings}


def test_a_disliked_walk_with_no_other_aerobic_choice_is_kept_and_named(rules: backrx.RuleSet) -> None:
    """Disliking walking at home with no equipment keeps the walk (the aerobic element stays) and
    tells the clinician which exercise was kept and why."""
    rec = rules.recommend({**PLAIN_PROFILE, "preferences": {"dislikes": ["walking"]}})
    assert rec.program is not None
    assert all("aerobic" in _categories(rec, phase.id) for phase in rec.program.phases)
    kept = [w for w in rec.warnings if w.code == "disliked-activity-kept"]
    assert kept and "(walking)" in kept[0].message


@settings(max_examples=120, deadline=None)
@given(profile=profiles(), dislikes=st.lists(st.sampled_from(ACTIVITIES), min_size=1, unique=True))
def test_a_dislike_never_takes_an_element_out_of_a_program(
        profile: dict[str, Any], dislikes: list[str], rules: backrx.RuleSet) -> None:
    """Whatever the person dislikes, each phase holds every element it held without the dislike."""
    before = rules.recommend(profile)
    assume(before.program is not None)
    prefs = {**(profile.get("preferences") or {}), "dislikes": dislikes}
    after = rules.recommend({**profile, "preferences": prefs})
    assert after.program is not None
    for element, phases in _kept_in(rules).items():
        for phase in phases:
            if element in _categories(before, phase):
                assert element in _categories(after, phase), (element, phase)
