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


CHOOSING = [
    pytest.param("  max_regressions: 6\n", "  max_regressions: 0\n", "out-of-range", "max_regressions: 0",
                 "from 1 to 20", id="regressions-out-of-range"),
    pytest.param("  setting_equipment: {gym: all}\n", "  setting_equipment: {gym: [dumbells]}\n",
                 "unknown-value", "setting_equipment:", "'dumbells'", id="equipment-unknown"),
    pytest.param("  setting_equipment: {gym: all}\n", "  setting_equipment: {spa: all}\n",
                 "unknown-value", "setting_equipment:", "'spa'", id="setting-unknown"),
    pytest.param("  design: true\n", "", "no-source", "max_regressions: 6", "design: true",
                 id="no-design-or-source"),
    pytest.param("did not list: {equipment}.", "did not list: {age}.", "bad-template", "needs_equipment:",
                 "{age}", id="reason-bad-field"),
]


@pytest.mark.parametrize(("old", "new", "code", "marker", "says"), CHOOSING)
def test_broken_choosing_section_is_named(pack_copy: Path, old: str, new: str, code: str, marker: str,
                                          says: str) -> None:
    """A mistake in planner.yaml's choosing section is reported with its line and code."""
    replace(pack_copy / "planner.yaml", old, new)
    found = [p for p in problems_of(pack_copy) if p.code == code and p.file == "planner.yaml"]
    assert found and says in found[0].message
    assert found[0].line == line_of(pack_copy / "planner.yaml", marker)


GYM = {"age": 45, "duration_weeks": 20, "pain_site": "lower", "leg_pain": "none", "pain_intensity": 4,
       "tolerance": "moderate", "red_flags": [], "preferences": {"settings": ["gym"]}}


def test_what_a_gym_holds_comes_from_the_pack(pack_copy: Path) -> None:
    """With `gym: all` a gym-goer gets equipment exercises; with an empty list for the gym, no
    exercise that needs equipment is chosen and each is left out for equipment."""
    before = backrx.load_rules(pack_copy, engine="reference").recommend(GYM)
    assert before.program is not None
    assert any(p.exercise.equipment for ph in before.program.phases for p in ph.prescriptions)
    replace(pack_copy / "planner.yaml", "  setting_equipment: {gym: all}\n",
            "  setting_equipment: {gym: []}\n")
    after = backrx.load_rules(pack_copy, engine="reference").recommend(GYM)
    assert after.program is not None
    assert not any(p.exercise.equipment for ph in after.program.phases for p in ph.prescriptions)
    assert any("equipment" in e.codes for e in after.program.excluded)


def test_the_regression_bound_comes_from_the_pack(pack_copy: Path) -> None:
    """max_regressions: 1 stops at the first easier variant: a candidate whose first variant is
    also ruled out is dropped, where the bundled bound may walk further down."""
    from backrx.run.decision import decide
    from backrx.run.facts import profile_values
    from backrx.run.planner import Planner

    replace(pack_copy / "planner.yaml", "  max_regressions: 6\n", "  max_regressions: 1\n")
    rules = backrx.load_rules(pack_copy, engine="reference")
    assert rules.pack.planner is not None and rules.pack.planner.choosing is not None
    assert rules.pack.planner.choosing.max_regressions == 1
    profile = backrx.Profile.model_validate({**GYM, "preferences": {"settings": ["pool"]}})
    planner = Planner(rules.pack, profile, decide(rules.pack, rules._engine, profile_values(profile)))
    exercises = rules.pack.exercises
    chains = [eid for eid, e in exercises.items() if e.easier is not None
              and planner.why_not(e, "calm")[0] and planner.why_not(exercises[e.easier], "calm")[0]]
    assert chains, "no candidate here whose easier variant is also ruled out"
    for eid in chains:
        assert planner.fit(eid, "calm")[0] is None
