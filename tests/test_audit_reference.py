"""The clinical facts the audit and the strategies read from a pack, instead of restating them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.test_loader import line_of, problems_of, replace

import backrx
from backrx.audit.invariants import BUILTIN_INVARIANTS
from backrx.audit.reference import (
    blocking_urgencies,
    emergency_signs,
    load_cap,
    opposite_directions,
    reference_facts,
    reference_urgency,
    threshold,
)
from backrx.audit.run import audit
from backrx.pack.load import read_pack
from backrx.testing import corner_profile, pathway_triggers

#: What the bundled triage decides, written out here as the independent expectation.
CAUDA_EQUINA_AND_TRAUMA = ("saddle_anaesthesia", "bladder_bowel_dysfunction",
                           "bilateral_neurological_symptoms", "major_trauma")


def test_emergency_signs_are_the_flags_the_bundled_triage_sends_to_emergency_care() -> None:
    """The red flags that alone give an emergency referral are the cauda equina signs and major trauma."""
    assert emergency_signs() == CAUDA_EQUINA_AND_TRAUMA
    assert reference_facts().emergency_signs == CAUDA_EQUINA_AND_TRAUMA


def test_emergency_signs_follow_the_triage_rules_of_a_pack(pack_copy: Path) -> None:
    """A copy whose saddle rule refers urgently no longer counts saddle anaesthesia as an emergency sign."""
    doc = yaml.safe_load((pack_copy / "triage.yaml").read_text(encoding="utf-8"))
    saddle = next(r for r in doc["rules"] if r["id"] == "triage.cauda-equina.saddle")
    saddle["then"]["refer"].update(urgency="urgent", reason="Saddle numbness: see a doctor today.")
    (pack_copy / "triage.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    assert "saddle_anaesthesia" not in emergency_signs(read_pack(pack_copy))
    assert "saddle_anaesthesia" in emergency_signs()  # the reference the invariant uses is unchanged


def test_blocking_urgencies_and_opposites_come_from_the_pack() -> None:
    """Emergency and urgent referrals replace the program; extension and flexion work against each other."""
    assert set(blocking_urgencies()) == {"emergency", "urgent"}
    assert opposite_directions() == {"extension": "flexion", "flexion": "extension"}
    assert reference_facts().supine_from_weeks == 20


def test_a_one_sided_opposite_direction_is_named_with_its_line(pack_copy: Path) -> None:
    """planner.yaml's opposite_directions must pair directions both ways; a one-sided entry is refused."""
    replace(pack_copy / "planner.yaml", "opposite_directions: {extension: flexion, flexion: extension}",
            "opposite_directions: {extension: flexion, flexion: neutral}")
    problems = [p for p in problems_of(pack_copy) if p.file == "planner.yaml"]
    assert problems, problems
    assert {p.code for p in problems} == {"wrong-value"}
    assert all(p.line == line_of(pack_copy / "planner.yaml", "opposite_directions:") for p in problems)


def test_an_older_pack_without_opposite_directions_still_loads(pack_copy: Path) -> None:
    """opposite_directions is optional: a pack written before it loads, with no opposites declared."""
    replace(pack_copy / "planner.yaml", "opposite_directions: {extension: flexion, flexion: extension}\n", "")
    rules = backrx.load_rules(pack_copy, engine="reference")
    assert rules.pack.planner is not None and rules.pack.planner.opposite_directions == {}


def test_thresholds_are_read_from_the_rule_that_uses_them() -> None:
    """The cut-offs of the pathway rules and the supine exclusion are found in the bundled pack's rules."""
    pack = read_pack()
    assert threshold(pack, "age", "gt", pathway="stenosis") == 48
    assert threshold(pack, "age", "lt", pathway="stabilization") == 40
    assert threshold(pack, "findings.sitting_hours_per_day", "gte", pathway="lower_crossed") == 6
    assert threshold(pack, "history.pregnancy_weeks", "gte", excludes_tag="supine") == 20
    assert threshold(pack, "age", "gt", pathway="no-such-pathway") is None


def test_pathway_triggers_follow_a_clinics_own_cut_offs(pack_copy: Path) -> None:
    """With the stenosis age cut-off raised to 55 in a copy, a 50-year-old's pattern is stenosis only
    under the bundled pack, and the copy's engine agrees with pathway_triggers on the copy."""
    replace(pack_copy / "classification.yaml", "        - {age: {gt: 48}}\n", "        - {age: {gt: 55}}\n")
    profile = corner_profile({"age": 50, "leg_pain": "below_knee", "bilateral_leg_symptoms": True,
                              "findings": {"worse_with": ["walking"], "eases_with": ["sitting"]}})
    copy = backrx.load_rules(pack_copy, engine="reference")
    assert "stenosis" in pathway_triggers(profile)
    assert "stenosis" not in pathway_triggers(profile, copy.pack)
    concluded = copy.recommend(profile).classification.pathways
    assert sorted(pathway_triggers(profile, copy.pack)) == sorted(concluded)


def test_the_load_cap_is_read_from_the_rule_that_caps_phase_one() -> None:
    """Pain 7/10 or more, or low tolerance, caps phase-1 load at 2 in the bundled pack."""
    cap = load_cap()
    assert cap is not None
    assert (cap.pain_from, cap.tolerances, cap.max_load) == (7, ("low",), 2)


def test_a_loosened_load_cap_is_caught_against_the_reference(pack_copy: Path) -> None:
    """A copy that puts a plank first in phase 1 and raises the phase-1 load cap to 5 fails
    program.load-cap: the reference cap is 2."""
    replace(pack_copy / "exclusions.yaml", "      exclude: {max_load: 2, phases: [calm], code: load-cap}\n",
            "      exclude: {max_load: 5, phases: [calm], code: load-cap}\n")
    replace(pack_copy / "components.yaml", "exercises: [prone-press-up, standing-back-extension,",
            "exercises: [front-plank, prone-press-up, standing-back-extension,")
    chosen = [i for i in BUILTIN_INVARIANTS if i.id == "program.load-cap"]
    report = audit(backrx.load_rules(pack_copy, engine="reference"), fields=False, max_examples=20,
                   invariants=chosen)
    assert [r.id for r in report.violations] == ["program.load-cap"]
    found = report.violations[0].counterexample
    assert found is not None and "holds load above 2" in found.reason


def _bilateral(weeks: float, trend: str) -> dict[str, object]:
    """A person who ticked nerve symptoms in both legs, with how long and which way they are going."""
    return {"age": 50, "duration_weeks": weeks, "pain_site": "lower", "leg_pain": "below_knee",
            "pain_intensity": 5, "tolerance": "moderate", "red_flags": ["bilateral_neurological_symptoms"],
            "symptom_trend": trend}


def _emergency_check(rules: backrx.RuleSet, profile: dict[str, object]) -> str | None:
    """The emergency-signs invariant's verdict on one profile under ``rules``."""
    check = next(i for i in BUILTIN_INVARIANTS if i.id == "safety.emergency-signs-emergency")
    return check.check(rules, profile, rules.recommend(profile))


def test_settled_bilateral_signs_keep_the_urgent_tier_the_reference_gives_them() -> None:
    """Nerve signs in both legs for three weeks and improving go to urgent review; the invariant agrees."""
    rules = backrx.load_rules()
    profile = _bilateral(3, "improving")
    assert reference_urgency(profile) == "urgent"
    assert rules.recommend(profile).referral.urgency == "urgent"  # type: ignore[union-attr]
    assert _emergency_check(rules, profile) is None
    assert reference_urgency(_bilateral(1, "improving")) == "emergency"  # 14 days or less: emergency
    assert reference_urgency(_bilateral(3, "worsening")) == "emergency"


def test_an_edited_pack_that_downgrades_active_bilateral_signs_breaks_the_invariant(pack_copy: Path) -> None:
    """A copy sending new or worsening nerve signs in both legs to urgent review fails the emergency check."""
    doc = yaml.safe_load((pack_copy / "triage.yaml").read_text(encoding="utf-8"))
    rule = next(r for r in doc["rules"] if r["id"] == "triage.cauda-equina.bilateral")
    rule["then"]["refer"].update(urgency="urgent", reason="Nerve signs in both legs: see a doctor today.")
    (pack_copy / "triage.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    edited = backrx.load_rules(pack_copy)
    worsening = _bilateral(1, "worsening")
    assert edited.recommend(worsening).referral.urgency == "urgent"  # type: ignore[union-attr]
    verdict = _emergency_check(edited, worsening)
    assert verdict is not None and "not an emergency one" in verdict
    assert _emergency_check(edited, _bilateral(3, "improving")) is None  # the settled case was urgent anyway


@pytest.mark.slow
def test_the_default_audit_of_the_bundled_pack_finds_no_violation() -> None:
    """`backrx audit`'s default run (500 generated profiles, seed 0, the corner cases) breaks no invariant."""
    report = audit(backrx.load_rules(engine="reference"), fields=False)
    broken = {r.id: r.counterexample for r in report.results if r.status == "violated"}
    assert report.examples >= 500 and not broken, broken
