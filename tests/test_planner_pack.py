"""The planner's pack data is checked with the rest: planner.yaml, patterns, roles, exclusion codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.test_loader import line_of, problems_of, replace

import backrx

CASES = [
    pytest.param("exercises.yaml", "    name: Chin tuck\n    pattern: chin-tuck\n", "    name: Chin tuck\n",
                 "missing-key", "- id: chin-tuck", None, "'pattern'", id="pattern-missing"),
    pytest.param("exercises.yaml", "    name: Chin tuck\n    pattern: chin-tuck\n",
                 "    name: Chin tuck\n    pattern: Chin Tuck\n", "bad-id", "pattern: Chin Tuck", None,
                 "movement family", id="pattern-bad"),
    pytest.param("exercises.yaml", "    pattern: side-plank\n    per_side: true\n    category: strength\n"
                 "    direction: neutral\n    load: 3\n", "    pattern: side-plank\n    per_side: 2\n"
                 "    category: strength\n    direction: neutral\n    load: 3\n", "wrong-type", "per_side: 2",
                 None, "true or false", id="per-side-not-bool"),
    pytest.param("planner.yaml", "  max_items_per_session: 8\n", "  max_items_per_session: 0\n",
                 "out-of-range", "max_items_per_session: 0", None, "from 1 to 30", id="cap-out-of-range"),
    pytest.param("planner.yaml", "default_role: general\n", "default_role: generl\n", "unknown-value",
                 "default_role: generl", None, "fill_order", id="default-role-unknown"),
    pytest.param("planner.yaml", "  setup_seconds: 15\n", "  setup_seconds: 15\n  warmup: 3\n",
                 "unknown-key", "warmup: 3", None, "warmup", id="timing-unknown-key"),
    pytest.param("planner.yaml", "seconds_per_rep: {reps: 4,", "seconds_per_rep: {repz: 4,",
                 "unknown-value", "repz", None, "'repz'", id="timing-unknown-kind"),
    pytest.param("planner.yaml", "({minutes} minutes, {sessions} times a week)",
                 "({minutes} minutes, {age} times a week)", "bad-template", "left_out_for_time:", None,
                 "{age}", id="message-bad-field"),
    pytest.param("components.yaml", "pick: 1, role: pathway}\n        - {phase: strengthen, exercises: "
                 "[prone-superman", "pick: 1, role: pathwy}\n        - {phase: strengthen, exercises: "
                 "[prone-superman", "unknown-value", "role: pathwy", "components.mckenzie.extension",
                 "did you mean 'pathway'", id="role-unknown"),
    pytest.param("exclusions.yaml", "jog-walk-intervals], code: contraindication}",
                 "jog-walk-intervals], code: because}", "unknown-value", "code: because",
                 "exclude.stenosis.upright-walking", "population", id="exclusion-code-unknown"),
]


@pytest.mark.parametrize(("file", "old", "new", "code", "marker", "rule", "says"), CASES)
def test_broken_planner_data_is_named(pack_copy: Path, file: str, old: str, new: str, code: str,
                                      marker: str, rule: str | None, says: str) -> None:
    """A mistake in the planner's data is reported with its file, line, rule id and code."""
    replace(pack_copy / file, old, new)
    problems = problems_of(pack_copy)
    found = [p for p in problems if p.code == code and p.file == file]
    assert found, "\n".join(str(p) for p in problems)
    problem = found[0]
    assert problem.line == line_of(pack_copy / file, marker)
    assert problem.rule_id == rule
    assert says in problem.message


def test_a_pack_needs_planner_yaml(pack_copy: Path) -> None:
    """Without planner.yaml the pack is refused: its budget and timing are part of the pack."""
    (pack_copy / "planner.yaml").unlink()
    assert "missing-file" in {p.code for p in problems_of(pack_copy) if p.file == "planner.yaml"}


def test_a_clinic_can_change_the_default_budget(pack_copy: Path) -> None:
    """The default session length and count come from planner.yaml, not from code."""
    replace(pack_copy / "planner.yaml", "  minutes_per_session: 30\n  sessions_per_week: 3\n",
            "  minutes_per_session: 45\n  sessions_per_week: 2\n")
    rules = backrx.load_rules(pack_copy, engine="reference")
    rec = rules.recommend({"age": 45, "duration_weeks": 20, "pain_site": "lower", "leg_pain": "none",
                           "pain_intensity": 4, "tolerance": "moderate", "red_flags": []})
    assert rec.program is not None
    for phase in rec.program.phases:
        assert sum(1 for d in phase.week if d.prescriptions) == 2
        assert max(d.minutes for d in phase.week) <= 45 * 1.1
