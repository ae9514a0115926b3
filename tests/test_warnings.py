"""Clinician-facing warnings: the `warn` action, one Notice per code, carried through adjust."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ENGINES, base_profile

import backrx

WARN_RULE = """
  - id: classify.test-warning
    title: A test warning
    when: {pain_intensity: {gte: 8}}
    then:
      warn: {code: test-review, message: Re-examine before loading.}
    rationale: Severe pain at {pain_intensity}/10.
    sources: [long-2004]

  - id: classify.test-warning-again
    title: The same warning from a second rule
    when: {age: {gte: 60}}
    then:
      warn: {code: test-review, message: Re-examine before loading.}
    rationale: Older age.
    sources: [long-2004]
"""


def _with_warn_rules(pack: Path) -> None:
    path = pack / "classification.yaml"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + WARN_RULE, encoding="utf-8")


@pytest.mark.parametrize("engine", ENGINES)
def test_warn_action_reaches_the_recommendation(pack_copy: Path, engine: str) -> None:
    """A firing `warn` rule puts its code, message and rule id in Recommendation.warnings."""
    _with_warn_rules(pack_copy)
    rules = backrx.load_rules(pack_copy, engine=engine)  # type: ignore[arg-type]
    rec = rules.recommend(base_profile(pain_intensity=9, age=40))
    assert [(n.code, n.message, n.rule_ids) for n in rec.warnings] == [
        ("test-review", "Re-examine before loading.", ["classify.test-warning"])]
    assert rules.recommend(base_profile(pain_intensity=3, age=40)).warnings == []


def test_one_notice_per_code_lists_every_rule(pack_copy: Path) -> None:
    """Two rules raising the same code give one Notice naming both rules."""
    _with_warn_rules(pack_copy)
    # 60, not 65: from 65 severe pain is a fracture trigger (states.yaml) and triage refers first.
    # A recorded recurrence: over 50 an unrecorded episode raises the pack's malignancy-screen.
    rec = backrx.load_rules(pack_copy).recommend(base_profile(pain_intensity=9, age=60, episode="recurrence"))
    assert rec.outcome == "program" and len(rec.warnings) == 1
    assert rec.warnings[0].rule_ids == ["classify.test-warning", "classify.test-warning-again"]


def test_warnings_survive_adjust_and_json(pack_copy: Path) -> None:
    """adjust keeps the warnings, and they round-trip through JSON."""
    _with_warn_rules(pack_copy)
    rules = backrx.load_rules(pack_copy)
    rec = rules.recommend(base_profile(pain_intensity=9, age=40))
    assert rec.program is not None
    first = rec.program.phases[0].prescriptions[0].exercise.id
    after = backrx.adjust(rec, rules=rules, feedback={"date": "2026-01-05", "responses": [
        {"exercise_id": first, "pain_during": 2, "next_day": "same", "peripheralized": False}]})
    assert [n.code for n in after.warnings] == ["test-review"]
    assert backrx.Recommendation.model_validate_json(after.model_dump_json()) == after


def test_bad_warning_code_is_refused_with_file_and_line(pack_copy: Path) -> None:
    """A warning code that is not kebab-case is a bad-id problem on its line."""
    _with_warn_rules(pack_copy)
    path = pack_copy / "classification.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("code: test-review, message: Re-examine",
                                                            "code: Test_Review, message: Re-examine", 1),
                    encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack_copy, engine="reference")
    bad = [p for p in info.value.problems if p.code == "bad-id"]
    assert bad and bad[0].file == "classification.yaml" and bad[0].rule_id == "classify.test-warning"
