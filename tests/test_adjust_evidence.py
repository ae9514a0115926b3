"""Evidence in the clinician's hands: every rule that fires shows its evidence kind, adjust included."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from tests.conftest import dated

import backrx
from backrx.render import render
from backrx.testing import profiles


@settings(max_examples=40, deadline=None)
@given(profile=profiles())
def test_every_firing_shows_its_evidence_in_the_clinician_view(profile: dict[str, Any],
                                                               rules: backrx.RuleSet) -> None:
    """Each rule in the trace has an evidence kind, and the clinician view prints it next to the rule."""
    rec = rules.recommend(profile)
    lines = [line.strip() for line in render(rec, "text", view="clinician", rules=rules).splitlines()]
    for firing in rec.trace:
        assert firing.evidence is not None, firing.rule_id
        shown = [line for line in lines if line.startswith(f"{firing.rule_id}: {firing.title}")]
        assert shown and all(line.endswith(f"({firing.evidence.describe()})") for line in shown), shown


@settings(max_examples=25, deadline=None)
@given(profile=profiles(red_flags=[]))
def test_every_adjust_firing_carries_its_evidence(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """Each rule that fires in an adjustment round carries its pack's evidence kind into the round's trace."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    spread = True
    for _ in range(2):
        assert rec.program is not None
        responses = [{"exercise_id": p.exercise.id, "pain_during": 6, "next_day": "worse",
                      "peripheralized": spread} for p in rec.program.phase_now.prescriptions[:3]]
        rec = backrx.adjust(rec, dated({"responses": responses}, rec), rules=rules)
        spread = False
        if rec.program is None:
            break
    pack_rules = {r.id: r for r in rules.pack.rules}
    fired = [f for round_ in rec.adjustments for f in round_.trace]
    assert fired
    for firing in fired:
        assert firing.evidence is not None, firing.rule_id
        stated = pack_rules[firing.rule_id].evidence
        assert stated is not None and firing.evidence.kind == stated.kind, firing.rule_id


@settings(max_examples=15, deadline=None)
@given(profile=profiles(red_flags=[]))
def test_the_clinician_view_shows_the_evidence_behind_each_adjustment(profile: dict[str, Any],
                                                                     rules: backrx.RuleSet) -> None:
    """Each change of an adjustment round shows, in the clinician view only, the evidence of the rule
    that made it; the patient view shows no evidence kind."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    responses = [{"exercise_id": p.exercise.id, "pain_during": 6, "next_day": "worse",
                  "peripheralized": False} for p in rec.program.phase_now.prescriptions[:2]]
    rec = backrx.adjust(rec, dated({"responses": responses}, rec), rules=rules)
    [round_] = rec.adjustments
    strength = {f.rule_id: f.evidence.describe() for f in round_.trace if f.evidence is not None}
    wanted = {strength[ch.rule_ids[0]] for ch in round_.changes if ch.rule_ids and ch.rule_ids[0] in strength}
    clinician = render(rec, "text", view="clinician", rules=rules)
    section = clinician[clinician.find(rules.pack.texts["heading.adjustments"]):]
    for described in wanted:
        assert described in section, described
    patient = render(rec, "text", view="patient", rules=rules)
    assert not any(f"; {d}]" in patient for d in wanted)
