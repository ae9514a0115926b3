"""The planner's per-pack tables (the seam's ``planner`` cache) answer as the pack itself does."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from pydantic import ValidationError

import backrx
from backrx.pack.load import read_pack
from backrx.ruleset import RuleSet
from backrx.run import plantables
from backrx.run.plantables import PlanTables
from backrx.run.populations import aerobic_order
from backrx.testing import profiles
from conftest import base_profile


@pytest.fixture(scope="module")
def shared() -> tuple[backrx.RuleSet, PlanTables]:
    """One RuleSet and one table for the property below (the table fills as it runs)."""
    rules = backrx.load_rules(engine="reference")
    return rules, PlanTables(rules.pack)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles())
def test_the_aerobic_table_answers_as_the_populations_do(
        profile: dict[str, Any], shared: tuple[backrx.RuleSet, PlanTables]) -> None:
    """For generated people, the preferred aerobic modes kept by the fields their populations
    read are the ones the populations give when read afresh, so no person gets the walking
    order another person's population prefers."""
    try:
        backrx.Profile.model_validate(profile)
    except ValidationError:
        reject()
    rules, tables = shared
    values = rules.decide(profile).values
    fresh = aerobic_order(rules.pack, values)
    assert tables.aerobic(values, lambda: aerobic_order(rules.pack, values)) == fresh


def test_tables_turned_off_keep_nothing_and_give_the_same_program() -> None:
    """With the planner tables off nothing is kept, and the program is the same as with them on."""
    pack = read_pack()
    on = RuleSet(pack, "reference", caches_off={"plans", "results"})
    off = RuleSet(pack, "reference", caches_off={"plans", "results", "planner"})
    people = [base_profile(), base_profile(age=72, preferences={"settings": ["gym"]}),
              base_profile(preferences={"settings": ["home"], "equipment": ["resistance_band"]})]
    for person in people:
        assert on.recommend(person).model_dump_json() == off.recommend(person).model_dump_json()
    assert on.caches.sizes()["planner"] > 0
    assert off.caches.sizes()["planner"] == 0


def test_a_table_is_bounded(monkeypatch: Any) -> None:
    """A table never holds more than its bound: past it, it starts afresh."""
    monkeypatch.setattr(plantables, "TABLE_KEPT", 5)
    tables = PlanTables(read_pack())
    for i in range(12):
        assert tables.get("t", i, functools.partial(int.__mul__, i, 2)) == i * 2
    assert 0 < len(tables) <= 5
