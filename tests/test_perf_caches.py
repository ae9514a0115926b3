"""The cache seam: every cache a RuleSet keeps can be turned off, and the output stays the same."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.test_education import HIGH_RISK  # high risk: the program carries an exposure ladder

import backrx
from backrx.pack.load import read_pack
from backrx.ruleset import RuleSet
from backrx.run.caches import CACHES, CacheSeam
from backrx.testing import profiles
from conftest import ENGINES, base_profile


@pytest.fixture(scope="module")
def seams() -> dict[tuple[str, str], RuleSet]:
    """For each engine: a RuleSet with every cache on, one with each cache off, one with all off."""
    pack = read_pack()
    out: dict[tuple[str, str], RuleSet] = {}
    for engine in ENGINES:
        out[(engine, "")] = RuleSet(pack, engine)  # type: ignore[arg-type]
        for name in (*CACHES, "all"):
            off = CACHES if name == "all" else (name,)
            out[(engine, name)] = RuleSet(pack, engine, caches_off=off)  # type: ignore[arg-type]
    return out


# 100 examples: each one runs every cache seam on every engine twice (about 20 recommendations).
@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles())
def test_each_cache_turned_off_gives_the_same_json(profile: dict[str, Any],
                                                   seams: dict[tuple[str, str], RuleSet]) -> None:
    """On generated profiles, on both engines, a RuleSet with any one cache (or all) turned off
    writes the same JSON as one with every cache on, asked twice (the second time from the caches
    that are on)."""
    try:
        backrx.Profile.model_validate(profile)
    except ValidationError:
        reject()
    expected = seams[(ENGINES[0], "")].recommend(profile).model_dump_json()
    for rules in seams.values():
        for _ in range(2):
            assert rules.recommend(profile).model_dump_json() == expected


def _reordered(profile: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """``profile`` with each list of its preferences in another order drawn by ``data``."""
    prefs = dict(profile.get("preferences") or {})
    for key, value in prefs.items():
        if isinstance(value, list) and len(value) > 1:
            prefs[key] = data.draw(st.permutations(value), label=key)
    return {**profile, "preferences": prefs}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles(startback=HIGH_RISK), data=st.data())
def test_a_reordered_list_is_not_answered_from_the_cache_of_another_order(
        profile: dict[str, Any], data: st.DataObject, seams: dict[tuple[str, str], RuleSet]) -> None:
    """Asked after a profile, the same profile with its goals, dislikes, settings and equipment
    listed in another order gets what a RuleSet with no cache gives it (the exposure ladder
    follows the order of the goals, so a cache must not merge two orders)."""
    try:
        backrx.Profile.model_validate(profile)
    except ValidationError:
        reject()
    other = _reordered(profile, data)
    assume(other.get("preferences") != (profile.get("preferences") or {}))  # some list was reordered
    for engine in ENGINES:
        cached = seams[(engine, "")]
        cached.recommend(profile)
        assert (cached.recommend(other).model_dump_json()
                == seams[(engine, "all")].recommend(other).model_dump_json())


def test_a_cache_turned_off_keeps_nothing_and_one_on_does() -> None:
    """With a cache off its table stays empty after many results; with it on it fills (so the
    test above compares a cache that answers with one that does not)."""
    pack = read_pack()
    people = [base_profile(age=30 + i % 40, preferences={"minutes_per_session": 10 + i % 5})
              for i in range(40)]
    on = RuleSet(pack, "reference")
    for person in people:
        on.recommend(person)
    filled = on.caches.sizes()
    assert all(filled[name] > 0 for name in CACHES), filled
    for name in CACHES:
        off = RuleSet(pack, "reference", caches_off={name})
        for person in people:
            off.recommend(person)
        assert off.caches.sizes()[name] == 0, name


def test_an_unknown_cache_name_is_refused() -> None:
    """A misspelt cache name raises ValueError naming it, rather than leaving every cache on."""
    with pytest.raises(ValueError, match="no such cache: result"):
        CacheSeam(read_pack(), off={"result"})


def test_a_localised_view_has_caches_of_its_own() -> None:
    """The Spanish view of a RuleSet keeps its own caches (its texts differ) and the same ones off."""
    rules = RuleSet(read_pack(), "reference", caches_off={"plans"})
    spanish = rules.for_locale("es")
    assert spanish.caches is not rules.caches
    assert spanish.caches.off == frozenset({"plans"})
    assert spanish.recommend(base_profile()).locale == "es"
    assert spanish.caches.sizes()["results"] == 1 and rules.caches.sizes()["results"] == 0

