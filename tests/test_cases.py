"""Golden cases in rules/cases/: each named profile gets the outcome its case states."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

import backrx
from backrx.audit.cases import EXPECTATIONS
from backrx.pack.read import bundled_path

#: The recommend part of the one ``expect`` vocabulary (backrx.audit.cases.EXPECTATIONS).
CASE_KEYS = {key for key, entry in EXPECTATIONS.items() if "recommend" in entry.kinds}


def _cases() -> list[Any]:
    out = []
    for path in sorted((bundled_path() / "cases").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        for case in yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["cases"]:
            out.append(pytest.param(case, id=f"{path.stem}/{case['name']}"))
    return out


CASES = _cases()


def _prescribed(rec: backrx.Recommendation, phase: str | None = None) -> set[str]:
    if rec.program is None:
        return set()
    return {p.exercise.id for ph in rec.program.phases if phase in (None, ph.id) for p in ph.prescriptions}


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: dict[str, Any], rules: backrx.RuleSet) -> None:
    """The case's profile gets every outcome the case states."""
    expect = case["expect"]
    assert set(expect) <= CASE_KEYS, set(expect) - CASE_KEYS
    rec = rules.recommend(case["profile"])
    fired = [f.rule_id for f in rec.trace]
    if "outcome" in expect:
        assert rec.outcome == expect["outcome"]
    if "urgency" in expect:
        assert (rec.referral.urgency if rec.referral else None) == expect["urgency"]
    if "stage" in expect:
        assert rec.classification.stage == expect["stage"]
    if "risk" in expect:
        assert rec.classification.startback_risk == expect["risk"]
    assert set(expect.get("pathways", [])) <= set(rec.classification.pathways)
    assert not set(expect.get("not_pathways", [])) & set(rec.classification.pathways)
    assert set(expect.get("fired", [])) <= set(fired)
    assert not set(expect.get("not_fired", [])) & set(fired)
    assert set(expect.get("prescribed", [])) <= _prescribed(rec)
    assert not set(expect.get("not_prescribed", [])) & _prescribed(rec)
    for phase, ids in expect.get("not_prescribed_in", {}).items():
        assert not set(ids) & _prescribed(rec, phase), phase
    excluded = {e.exercise_id for e in rec.program.excluded} if rec.program else set()
    assert set(expect.get("excluded", [])) <= excluded
    for phase, cap in expect.get("max_load_in", {}).items():
        assert rec.program is not None
        loads = [p.exercise.load for ph in rec.program.phases if ph.id == phase for p in ph.prescriptions]
        assert loads and max(loads) <= cap
    codes = {w.code for w in rec.warnings}
    assert set(expect.get("warnings", [])) <= codes, codes
    assert not set(expect.get("not_warnings", [])) & codes
    if "max_day_minutes" in expect:
        assert rec.program is not None
        assert max(d.minutes for ph in rec.program.phases for d in ph.week) <= expect["max_day_minutes"]
    if expect.get("aerobic_in_every_phase"):
        assert rec.program is not None
        for ph in rec.program.phases:
            assert any(p.exercise.category == "aerobic" for p in ph.prescriptions), ph.id
    timed_out = {e.exercise_id for e in rec.program.excluded if "time" in e.codes} if rec.program else set()
    assert set(expect.get("excluded_for_time", [])) <= timed_out
    for exercise, by_phase in expect.get("minutes", {}).items():
        assert rec.program is not None
        got = {ph.id: p.dose.minutes for ph in rec.program.phases for p in ph.prescriptions
               if p.exercise.id == exercise}
        assert got == by_phase


def test_there_are_enough_cases() -> None:
    """The pack ships at least 40 golden cases with unique names."""
    names = [c.values[0]["name"] for c in CASES]
    assert len(names) >= 40
    assert len(set(names)) == len(names)


def test_every_rule_fires_in_some_case(rules: backrx.RuleSet) -> None:
    """Rule coverage: every recommend-layer rule fires for at least one golden case."""
    fired: set[str] = set()
    for param in CASES:
        fired |= {f.rule_id for f in rules.recommend(param.values[0]["profile"]).trace}
    layered = [rule.id for rule in rules.pack.rules if rule.layer != "adjust"]
    assert [rule_id for rule_id in layered if rule_id not in fired] == []
