"""Adjust reads its numbers and sentences from the pack (planner.yaml ``adjusting``), not from Python."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import base_profile
from tests.test_loader import line_of, problems_of, replace

import backrx
from backrx.followup.revision import lower_dose, raise_dose
from backrx.model.recommendation import Dose

EXTENSION = base_profile(age=34, duration_weeks=22, leg_pain="buttock_thigh", pain_intensity=5,
                         directional_preference="extension")


def test_steps_follow_the_pack(rules: backrx.RuleSet) -> None:
    """A step moves one part of a dose by the pack's step, never past its top or below its floor."""
    assert rules.pack.planner is not None
    steps = rules.pack.planner.adjusting
    up = {s.part: s for s in steps.step_up}
    down = {s.part: s for s in steps.step_down}
    reps = Dose(sets=1, reps=up["reps"].limit - 1)
    assert raise_dose(reps, steps) == Dose(sets=1, reps=up["reps"].limit)
    top = Dose(**{s.part: s.limit for s in steps.step_up})
    assert raise_dose(top, steps) is None
    low = Dose(sets=down["sets"].limit, reps=down["reps"].limit + 1)
    assert lower_dose(low, steps) == Dose(sets=down["sets"].limit, reps=down["reps"].limit)
    floor = Dose(**{s.part: s.limit for s in steps.step_down})
    assert lower_dose(floor, steps) == floor


def test_a_changed_comfortable_threshold_changes_what_counts_as_settled(pack_copy: Path,
                                                                        rules: backrx.RuleSet) -> None:
    """Lowering adjusting.comfortable_pain in a copy makes a 3/10 day no longer a comfortable one."""
    from backrx.followup.history import timeline
    from backrx.model.feedback import Feedback

    replace(pack_copy / "planner.yaml", "comfortable_pain: 3", "comfortable_pain: 2")
    stricter = backrx.load_rules(pack_copy, engine="reference")
    feedback = Feedback.model_validate({"date": "2026-01-05", "responses": [
        {"exercise_id": "prone-press-up", "pain_during": 3, "next_day": "same", "peripheralized": False}]})
    verdicts = []
    for pack in (rules, stricter):
        tl = timeline(pack.recommend(EXTENSION), feedback, pack.pack)
        verdicts.append((tl.comfortable(feedback.responses[0]), tl.reported_fine("prone-press-up")))
    assert verdicts == [(True, True), (False, False)]


def test_a_changed_sentence_reaches_the_program(pack_copy: Path) -> None:
    """The reasons adjust writes come from adjusting.messages (here the one for a family member)."""
    replace(pack_copy / "planner.yaml", "It belongs to the same movement family as {exercise}, which",
            "Same family as {exercise}, which")
    pack = backrx.load_rules(pack_copy, engine="reference")
    profile = base_profile(age=66, duration_weeks=30, leg_pain="buttock_thigh", pain_intensity=4,
                           directional_preference="flexion",
                           findings={"eases_with": ["sitting", "bending_forward"],
                                     "worse_with": ["standing", "walking"]})
    spread = {"exercise_id": "double-knee-to-chest", "pain_during": 3, "next_day": "same",
              "peripheralized": True}
    rec = backrx.adjust(pack.recommend(profile), {"date": "2026-01-05", "responses": [spread]}, rules=pack)
    assert rec.program is not None
    reasons = [r for e in rec.program.excluded for r in e.reasons]
    assert any(r.startswith("Same family as ") for r in reasons), reasons


@pytest.mark.parametrize(("old", "new", "code"), [
    ("    - {part: sets, step: 1, top: 3}", "    - {part: sits, step: 1, top: 3}", "unknown-value"),
    ("  comfortable_pain: 3", "  comfortable_pain: 11", "out-of-range"),
    ('    replaces: "It replaces {exercise}."', '    replaces: "It replaces {name}."', "bad-template"),
])
def test_a_bad_adjusting_section_is_named_with_its_line(pack_copy: Path, old: str, new: str,
                                                        code: str) -> None:
    """A wrong part, an out-of-range threshold or an unknown template field is a problem at its line."""
    path = pack_copy / "planner.yaml"
    replace(path, old, new)
    line = line_of(path, new.strip())
    found = [p for p in problems_of(pack_copy) if p.code == code and p.file.endswith("planner.yaml")]
    assert found and found[0].line == line, found
