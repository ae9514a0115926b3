"""migrate keeps the clinician's overrides: made again where they were made, or listed when refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.conftest import base_profile, dated
from tests.test_override import _changes

import backrx

WHO = {"reason": "Seen in clinic today", "by": "Dr A. Clinician", "at": "2026-01-04T09:00:00+00:00"}
EXTENSION = base_profile(age=34, duration_weeks=22, leg_pain="buttock_thigh", pain_intensity=5,
                         directional_preference="extension")


def _newer(pack_copy: Path) -> backrx.RuleSet:
    """The bundled pack with one calm dose changed (so its digest differs)."""
    dosing = pack_copy / "dosing.yaml"
    text = dosing.read_text(encoding="utf-8")
    old = "{kind: repeated, phases: [calm], sets: 1, reps: 10,"
    assert old in text
    new = "{kind: repeated, phases: [calm], sets: 1, reps: 8,"
    dosing.write_text(text.replace(old, new), encoding="utf-8")
    return backrx.load_rules(pack_copy, engine="reference")


def _round(rec: backrx.Recommendation, pain: int = 2) -> dict[str, Any]:
    assert rec.program is not None
    return dated({"responses": [
        {"exercise_id": p.exercise.id, "pain_during": pain, "next_day": "same", "peripheralized": False}
        for p in rec.program.phase_now.prescriptions if p.exercise.category != "education"]}, rec)


def test_migrate_makes_the_overrides_again_after_the_rounds_they_followed(
        rules: backrx.RuleSet, pack_copy: Path) -> None:
    """Overrides made before and between rounds survive migrate, in place, with who, why and when."""
    rec = rules.recommend(EXTENSION)
    rec = backrx.override(rec, {"remove": [{"phase": "calm", "exercise_id": "cat-camel"}]}, **WHO,
                          rules=rules)
    rec = backrx.adjust(rec, _round(rec), rules=rules)
    rec = backrx.override(rec, {"add": [{"phase": "strengthen", "exercise_id": "prone-lying"}]}, **WHO,
                          rules=rules)
    rec = backrx.adjust(rec, _round(rec), rules=rules)
    newer = _newer(pack_copy)
    migrated = backrx.migrate(rec, newer)
    assert migrated.migration is not None and migrated.migration.skipped == []
    def record(items: list[backrx.Override]) -> list[tuple[Any, ...]]:
        return [(o.kind, o.phase, o.exercise_id, o.after_round, o.by, o.reason, o.at) for o in items]

    assert record(migrated.overrides) == record(rec.overrides)
    assert migrated.program is not None
    calm = [p.exercise.id for p in migrated.program.phases[0].prescriptions]
    strengthen = [p.exercise.id for p in migrated.program.phases[1].prescriptions]
    assert "cat-camel" not in calm and "prone-lying" in strengthen
    fresh = newer.recommend(EXTENSION)
    assert fresh.program is not None
    replayed = backrx.replay(fresh.program, migrated.adjustments, overrides=migrated.overrides)
    assert replayed == migrated.program
    assert backrx.adjust(migrated, _round(migrated), rules=newer).overrides == migrated.overrides


def test_migrate_lists_an_override_the_new_plan_refuses(rules: backrx.RuleSet, pack_copy: Path) -> None:
    """An override the new pack cannot make again (its dose is now the pack's own) is listed, not forced."""
    rec = rules.recommend(EXTENSION)
    assert rec.program is not None
    (press,) = [p for p in rec.program.phases[0].prescriptions if p.exercise.id == "prone-press-up"]
    assert press.dose.reps == 10
    change = {"dose": [{"phase": "calm", "exercise_id": "prone-press-up", "reps": 8}]}
    rec = backrx.override(rec, change, **WHO, rules=rules)
    migrated = backrx.migrate(rec, _newer(pack_copy))
    assert migrated.overrides == [] and migrated.migration is not None
    (line,) = migrated.migration.skipped
    assert line.startswith("override 1 (dose prone-press-up): not re-applied (same-dose")
    assert migrated.program is not None
    (press,) = [p for p in migrated.program.phases[0].prescriptions if p.exercise.id == "prone-press-up"]
    assert press.dose.reps == 8


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_migrate_on_the_same_pack_keeps_every_override(data: st.DataObject, rules: backrx.RuleSet) -> None:
    """Migrating onto the pack that made it re-makes every override and gives the same program."""
    rec = rules.recommend(EXTENSION)
    for step in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            try:
                rec = backrx.override(rec, data.draw(_changes(rec, rules)), **WHO, rules=rules)
            except backrx.OverrideError:
                continue
        else:
            rec = backrx.adjust(rec, _round(rec, pain=step), rules=rules)
        assume(rec.program is not None)
    migrated = backrx.migrate(rec, rules)
    assert migrated.migration is not None and migrated.migration.skipped == []
    assert migrated.overrides == rec.overrides
    assert migrated.program == rec.program
