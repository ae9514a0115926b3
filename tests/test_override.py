"""Clinician overrides: on the record, within limits, kept through adjust and replay."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile, dated

import backrx
from backrx import cli
from backrx.audit.invariants import default_invariants
from backrx.overrides.override import SAFETY_CODES, exclusion_codes, provenance_data
from backrx.run.planner import blocks
from backrx.testing import profiles

CASES_FILE = Path(__file__).resolve().parent / "cases" / "overrides.yaml"
CASES = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
KINDS = ("add", "remove", "dose", "phase", "accept")
WHO = {"reason": "Seen in clinic today", "by": "Dr A. Clinician"}
#: The audit's invariants an override must keep: no missing equipment or setting, nothing both
#: prescribed and excluded.
CHECKS = [i for i in default_invariants()
          if i.id in ("program.equipment-and-settings", "program.not-prescribed-and-excluded")]
assert len(CHECKS) == 2


def _start(rules: backrx.RuleSet, case: dict[str, Any]) -> backrx.Recommendation:
    rec = rules.recommend(CASES["profiles"][case["profile"]])
    for round_ in case.get("rounds", []):
        rec = backrx.adjust(rec, dated(round_, rec), rules=rules)
    return rec


def _ids(rec: backrx.Recommendation, phase: str) -> list[str]:
    assert rec.program is not None
    return [p.exercise.id for ph in rec.program.phases if ph.id == phase for p in ph.prescriptions]


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_golden_override(case: dict[str, Any], rules: backrx.RuleSet) -> None:
    """Each golden override case gets the program, record or refusal it states."""
    rec = _start(rules, case)
    expect = case["expect"]
    if "refused" in expect:
        with pytest.raises(backrx.OverrideError) as info:
            backrx.override(rec, case["changes"], **WHO, rules=rules)
        assert info.value.code == expect["refused"]["code"], str(info.value)
        assert ".".join(map(str, info.value.loc)) == expect["refused"]["loc"]
        return
    after = backrx.override(rec, case["changes"], **WHO, rules=rules)
    made = after.overrides[len(rec.overrides):]
    assert after.program is not None
    for phase, ids in expect.get("present", {}).items():
        assert set(ids) <= set(_ids(after, phase)), phase
    for phase, ids in expect.get("absent", {}).items():
        assert not set(ids) & set(_ids(after, phase)), phase
    for phase, ids in expect.get("not_excluded", {}).items():
        assert not [e for e in after.program.excluded if e.exercise_id in ids and phase in e.phases]
    for exercise, parts in expect.get("dose", {}).items():
        (p,) = [p for ph in after.program.phases for p in ph.prescriptions if p.exercise.id == exercise]
        assert {k: getattr(p.dose, k) for k in parts} == parts
    if "phase" in expect:
        assert after.program.current_phase == expect["phase"]
    if "kinds" in expect:
        assert [o.kind for o in made] == expect["kinds"]
    if "overrode" in expect:
        assert [o.overrode for o in made] == expect["overrode"]
    if "acknowledged" in expect:
        assert made[-1].acknowledged == expect["acknowledged"]
    if "urgency" in expect:
        assert after.referral is not None and after.referral.urgency == expect["urgency"]
    assert all((o.by, o.reason, o.at) == (WHO["by"], WHO["reason"], None) for o in made)
    assert backrx.Recommendation.model_validate_json(after.model_dump_json()) == after


def test_golden_cases_cover_every_kind_and_refusal() -> None:
    """The golden cases make every kind of override and meet every refusal code at least once."""
    kinds = {k for c in CASES["cases"] for k in c["expect"].get("kinds", [])}
    kinds |= {k for c in CASES["cases"] for k in c["changes"] if "refused" not in c["expect"]}
    assert kinds == set(KINDS)
    refused = {c["expect"]["refused"]["code"] for c in CASES["cases"] if "refused" in c["expect"]}
    assert {"referral", "needs-acknowledgement", "unknown-acknowledgement", "excluded", "not-excluded",
            "equipment", "setting", "already-in-phase", "not-in-phase", "empty-phase", "unknown-phase",
            "unknown-exercise", "dose-out-of-range", "empty-dose", "same-phase", "elimination",
            "dropped-exercise", "no-change", "same-dose"} <= refused


def test_the_record_says_who_when_why_and_is_deterministic(rules: backrx.RuleSet) -> None:
    """An override records who, when (as given), why and the rules; the same inputs give the same JSON."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    changes = {"accept": [{"phase": "calm", "exercise_id": "double-knee-to-chest",
                           "acknowledge": ["direction"]}]}
    a = backrx.override(rec, changes, reason="flexion tolerated in clinic", by="Dr B",
                        at="2026-12-01T09:30:00+01:00", rules=rules)
    b = backrx.override(rec, changes, reason="flexion tolerated in clinic", by="Dr B",
                        at="2026-12-01T09:30:00+01:00", rules=rules)
    assert a.model_dump_json() == b.model_dump_json()
    (item,) = a.overrides
    assert (item.number, item.kind, item.by, item.at, item.after_round) == (
        1, "accept", "Dr B", "2026-12-01T09:30:00+01:00", 0)
    assert item.overrode == ["exclude.direction.against-extension-preference"]
    text = a.explain()
    assert "Clinician overrides (on the record):" in text
    assert "#1 Dr B at 2026-12-01T09:30:00+01:00 accepted excluded double-knee-to-chest in calm" in text
    assert "acknowledged direction" in text and "[override #1]" in text
    (prov,) = provenance_data(a)
    assert prov["recorded"] == "2026-12-01T09:30:00+01:00" and prov["agent"][0]["who"]["display"] == "Dr B"
    rule = "backrx rule exclude.direction.against-extension-preference"
    assert prov["entity"] == [{"role": "revision", "what": {"display": rule}}]
    assert prov["reason"][0]["text"] == "flexion tolerated in clinic"


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"reason": " ", "by": "Dr A"}, "missing-reason"),
    ({"reason": "x", "by": ""}, "missing-by"),
    ({"reason": "x", "by": "Dr A", "at": "yesterday"}, "bad-time"),
    ({"reason": "x", "by": "Dr A", "at": "2026-12-01T09:00:00"}, "bad-time"),
])
def test_who_why_and_when_are_checked(kwargs: dict[str, Any], code: str, rules: backrx.RuleSet) -> None:
    """An override without a reason or an author, or with a time lacking an offset, is refused."""
    rec = rules.recommend(base_profile())
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(rec, {"remove": [{"phase": "calm", "exercise_id": "cat-camel"}]}, rules=rules,
                        **kwargs)
    assert info.value.code == code and isinstance(info.value, ValueError)


def test_changes_of_the_wrong_shape_are_validation_errors(rules: backrx.RuleSet) -> None:
    """Unknown keys or bad values in the changes raise pydantic's ValidationError naming the field."""
    rec = rules.recommend(base_profile())
    with pytest.raises(ValidationError) as info:
        backrx.override(rec, {"add": [{"phase": "calm", "exercise": "cat-camel"}]}, **WHO, rules=rules)
    assert "add.0.exercise" in str(info.value).replace("\n", " ").replace(" ", ".") or \
        ("add", 0, "exercise") in [e["loc"] for e in info.value.errors()]
    with pytest.raises(ValidationError):
        backrx.override(rec, {"dose": [{"phase": "calm", "exercise_id": "cat-camel", "reps": 0}]}, **WHO,
                        rules=rules)


def test_another_pack_is_refused(rules: backrx.RuleSet, pack_copy: Path) -> None:
    """A recommendation made by another pack is refused with code other-pack."""
    path = pack_copy / "pack.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Red-flag and cluster", "Red flag and cluster"),
                    encoding="utf-8")  # a value, not a comment: comments do not change the digest
    other = backrx.load_rules(pack_copy, engine="reference")
    rec = rules.recommend(base_profile())
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(rec, {"phase": "strengthen"}, **WHO, rules=other)
    assert info.value.code == "other-pack"


def test_equipment_and_setting_limits_are_refused(rules: backrx.RuleSet) -> None:
    """Whatever is acknowledged, an exercise needing missing equipment or another setting is refused."""
    rec = rules.recommend(base_profile(history={"osteoporosis": True}))
    for kind in ("add", "accept"):
        for exercise, code in (("kettlebell-deadlift", "equipment"), ("water-walking", "setting"),
                               ("seated-cable-row", "equipment")):
            item: dict[str, Any] = {"phase": "condition", "exercise_id": exercise}
            if kind == "accept":
                item["acknowledge"] = ["contraindication"] if exercise == "kettlebell-deadlift" else []
            with pytest.raises(backrx.OverrideError) as info:
                backrx.override(rec, {kind: [item]}, **WHO, rules=rules)
            assert info.value.code == code, (kind, exercise, str(info.value))


# --------------------------------------------------------------------------- properties


@st.composite
def _changes(draw: st.DrawFn, rec: backrx.Recommendation, rules: backrx.RuleSet) -> dict[str, Any]:
    """A random set of changes aimed at the recommendation's program (some will be refused)."""
    phases = [p.id for p in rules.pack.phases]
    catalog = sorted(rules.pack.exercises)
    present = [(ph.id, p.exercise.id) for ph in rec.program.phases for p in ph.prescriptions] \
        if rec.program is not None else []
    out: dict[str, Any] = {}
    picks = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
    for kind in picks:
        if kind == "phase":
            out["phase"] = draw(st.sampled_from(phases))
        elif kind == "remove" and present:
            phase, eid = draw(st.sampled_from(present))
            out["remove"] = [{"phase": phase, "exercise_id": eid}]
        elif kind == "dose" and present:
            phase, eid = draw(st.sampled_from(present))
            out["dose"] = [{"phase": phase, "exercise_id": eid, "reps": draw(st.integers(1, 20))}]
        elif kind in ("add", "accept"):
            item: dict[str, Any] = {"phase": draw(st.sampled_from(phases)),
                                    "exercise_id": draw(st.sampled_from(catalog))}
            if kind == "accept":
                item["acknowledge"] = draw(st.lists(st.sampled_from((*SAFETY_CODES, "program")),
                                                    unique=True, max_size=3))
            out[kind] = [item]
    return out


def _safety_codes(rules: backrx.RuleSet, decision: Any, program: backrx.Program, phase: str,
                  eid: str) -> set[str]:
    """The safety codes that keep ``eid`` out of ``phase``, computed from the pack's decision."""
    entry = rules.pack.exercises[eid]
    codes = {c for excl, rule in decision.excludes
             if (not excl.phases or phase in excl.phases) and blocks(excl, entry)
             for c in exclusion_codes(excl, rule)}
    if entry.direction in program.stopped_directions:
        codes.add("peripheralization")
    if eid in program.dropped:
        codes.add("response")
    return codes & set(SAFETY_CODES)


@settings(max_examples=150)
@given(profile=profiles(), data=st.data())
def test_no_override_removes_a_referral(profile: dict[str, Any], data: st.DataObject,
                                        rules: backrx.RuleSet) -> None:
    """Whatever a clinician changes, the referral, the outcome and the safety net stay as they were,
    and no override brings in what the person lacks."""
    rec = rules.recommend(profile)
    for _ in range(3):
        changes = data.draw(_changes(rec, rules))
        try:
            after = backrx.override(rec, changes, **WHO, rules=rules)
        except backrx.OverrideError as exc:
            refused = exc.code
        else:
            refused = None
        if rec.program is None:
            assert refused == "referral"
        if refused is not None:
            continue
        assert rec.program is not None
        kept = (after.referral, after.outcome, after.safety_net)
        assert kept == (rec.referral, rec.outcome, rec.safety_net)
        assert after.program is not None and all(ph.prescriptions for ph in after.program.phases)
        # The audit's own checks still hold: nothing needs what the person lacks, nothing is both
        # prescribed and excluded in one phase.
        for check in CHECKS:
            assert check.check(rules, profile, after) is None, check.id
        rec = after


@settings(max_examples=150)
@given(profile=profiles(red_flags=[]), data=st.data())
def test_a_safety_exclusion_needs_its_acknowledgement(profile: dict[str, Any], data: st.DataObject,
                                                      rules: backrx.RuleSet) -> None:
    """An excluded exercise comes back only when every safety code of its exclusion is acknowledged."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    decision = rules.decide(profile)
    first = rec.program
    for _ in range(3):
        assert rec.program is not None
        phase = data.draw(st.sampled_from([p.id for p in rec.program.phases]))
        blocked = sorted(e for e in rules.pack.exercises
                         if _safety_codes(rules, decision, rec.program, phase, e))
        pool = blocked if blocked and data.draw(st.integers(0, 9)) < 8 else sorted(rules.pack.exercises)
        eid = data.draw(st.sampled_from(pool))
        ack = data.draw(st.lists(st.sampled_from((*SAFETY_CODES, "program")), unique=True, max_size=4))
        needed = _safety_codes(rules, decision, rec.program, phase, eid)
        try:
            accept = {"phase": phase, "exercise_id": eid, "acknowledge": ack}
            after = backrx.override(rec, {"accept": [accept]}, **WHO, rules=rules)
        except backrx.OverrideError as exc:
            refused = exc.code
        else:
            refused = None
        if refused == "needs-acknowledgement":
            assert not needed <= set(ack)
        if refused is not None:
            continue
        assert needed <= set(ack), (phase, eid, needed, ack)
        assert set(after.overrides[-1].acknowledged) >= needed
        rec = after
    # Every prescription a safety rule blocks is there only through an acknowledged accept.
    for ph in rec.program.phases:  # type: ignore[union-attr]
        for p in ph.prescriptions:
            needed = _safety_codes(rules, decision, first, ph.id, p.exercise.id)
            if needed:
                accepts = [o for o in rec.overrides if o.kind == "accept" and o.phase == ph.id
                           and o.exercise_id == p.exercise.id]
                assert accepts and needed <= set(accepts[-1].acknowledged), (ph.id, p.exercise.id)


def _feedback(data: st.DataObject, rec: backrx.Recommendation) -> dict[str, Any]:
    assert rec.program is not None
    ids = [p.exercise.id for p in rec.program.phase_now.prescriptions]
    if not ids:
        return {"responses": []}
    chosen = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids)))
    return {"responses": [{"exercise_id": eid, "pain_during": data.draw(st.integers(0, 8)),
                           "next_day": data.draw(st.sampled_from(("better", "same", "worse"))),
                           "peripheralized": data.draw(st.sampled_from((False, False, True)))}
                          for eid in chosen]}


@settings(max_examples=120)
@given(profile=profiles(red_flags=[]), data=st.data())
def test_history_replays_to_the_same_plan(profile: dict[str, Any], data: st.DataObject,
                                          rules: backrx.RuleSet) -> None:
    """Overrides and adjustments in any order replay, from the original program, to the same plan."""
    original = rules.recommend(profile)
    rec = original
    for step in range(data.draw(st.integers(1, 5))):
        if rec.program is None:
            break
        if data.draw(st.booleans()):
            try:
                # On the day of the next round (dated() counts from 2026-01-05): time runs forwards.
                day = 5 + len(rec.adjustments)
                rec = backrx.override(rec, data.draw(_changes(rec, rules)), **WHO,
                                      at=f"2026-01-{day:02d}T0{step}:00:00+00:00", rules=rules)
            except backrx.OverrideError:
                continue
        else:
            rec = backrx.adjust(rec, dated(_feedback(data, rec), rec), rules=rules)
    if original.program is not None and rec.program is not None:
        assert backrx.replay(original.program, rec.adjustments, overrides=rec.overrides) == rec.program
    assert backrx.Recommendation.model_validate_json(rec.model_dump_json()) == rec


@settings(max_examples=120)
@given(profile=profiles(red_flags=[]), data=st.data())
def test_adjust_keeps_an_override_unless_feedback_drops_it(profile: dict[str, Any], data: st.DataObject,
                                                           rules: backrx.RuleSet) -> None:
    """After adjust, an added exercise is still there as the clinician left it, or a warning says what
    happened to it."""
    rec = rules.recommend(profile)
    assume(rec.program is not None)
    phase = rec.program.phase_now.id
    have = {p.exercise.id for p in rec.program.phase_now.prescriptions}
    prefs = rec.profile.resolved_preferences  # an exercise the person can do where they exercise
    assert rules.pack.planner is not None and rules.pack.planner.choosing is not None
    kit = rules.pack.planner.choosing.equipment(prefs.settings, prefs.equipment)
    candidates = [e for e, entry in sorted(rules.pack.exercises.items()) if e not in have
                  and set(entry.settings) & set(prefs.settings) and set(entry.equipment) <= kit]
    eid = data.draw(st.sampled_from(candidates))
    try:
        rec = backrx.override(rec, {"add": [{"phase": phase, "exercise_id": eid}]}, **WHO, rules=rules)
    except backrx.OverrideError:
        reject()  # the pack refuses this addition: nothing to keep
    (item,) = rec.overrides
    after = backrx.adjust(rec, dated(_feedback(data, rec), rec), rules=rules)
    assert after.overrides == rec.overrides  # kept as made, a referral included
    assume(after.program is not None)
    kept = eid in _ids(after, phase)
    notice = [n for n in after.warnings if n.code == "override-1-undone"]
    touched = [c.action for c in after.adjustments[-1].changes
               if c.exercise_id == eid and c.phase == phase and c.action in ("drop", "suspend", "regress")]
    assert bool(notice) == bool(touched), (touched, notice)
    assert kept or touched  # gone only when the round changed it, and then a warning says so
    if notice:
        assert item.after is not None and item.after.exercise.name in notice[0].message
        assert "no longer in effect" in after.explain()
    assert after.overrides == rec.overrides


def test_adjust_says_when_it_drops_an_overridden_exercise(rules: backrx.RuleSet) -> None:
    """An exercise a clinician added and the person found worse is dropped, with a warning naming it."""
    rec = rules.recommend(CASES["profiles"]["extension"])
    rec = backrx.override(rec, {"add": [{"phase": "calm", "exercise_id": "prone-lying"}]}, **WHO, rules=rules)
    feedback = {"responses": [
        {"exercise_id": "prone-lying", "pain_during": 3, "next_day": "worse", "peripheralized": False}]}
    after = backrx.adjust(rec, dated(feedback, rec), rules=rules)
    assert "prone-lying" not in _ids(after, "calm")
    (notice,) = [n for n in after.warnings if n.code == "override-1-undone"]
    assert "Lying face down" in notice.message or "prone" in notice.message.lower()
    assert "Dr A. Clinician had added" in notice.message
    feedback = {"responses": [
        {"exercise_id": "prone-lying", "pain_during": 4, "next_day": "same", "peripheralized": False}]}
    other = backrx.adjust(rec, dated(feedback, rec), rules=rules)
    assert rec.overrides[0].after in [p for ph in other.program.phases for p in ph.prescriptions]  # type: ignore[union-attr]
    assert not [n for n in other.warnings if n.code.startswith("override-")]


def test_cli_override(tmp_path: Path, rules: backrx.RuleSet, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx override REC CHANGES --reason --by` prints the new recommendation; refusals exit 2."""
    rec_path = tmp_path / "rec.json"
    rec_path.write_text(rules.recommend(CASES["profiles"]["extension"]).model_dump_json(), encoding="utf-8")
    changes = tmp_path / "changes.yaml"
    changes.write_text("accept:\n  - {phase: calm, exercise_id: double-knee-to-chest, "
                       "acknowledge: [direction]}\n", encoding="utf-8")
    assert cli.main(["override", str(rec_path), str(changes), "--reason", "tolerates flexion", "--by", "Dr C",
                     "--at", "2026-12-01T11:00:00+00:00"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overrides"][0]["by"] == "Dr C" and data["overrides"][0]["at"] == "2026-12-01T11:00:00+00:00"
    assert cli.main(["override", str(rec_path), str(changes), "--reason", "r", "--by", "Dr C"]) == 0
    assert json.loads(capsys.readouterr().out)["overrides"][0]["at"].endswith("+00:00")
    changes.write_text("accept:\n  - {phase: calm, exercise_id: double-knee-to-chest}\n", encoding="utf-8")
    assert cli.main(["override", str(rec_path), str(changes), "--reason", "r", "--by", "Dr C"]) == 2
    err = capsys.readouterr().err
    assert "code=needs-acknowledgement" in err and "accept.0.acknowledge" in err


@settings(max_examples=80)
@given(profile=profiles(red_flags=[]), data=st.data())
def test_overrides_can_be_made_again_on_a_new_plan(profile: dict[str, Any], data: st.DataObject,
                                                   rules: backrx.RuleSet) -> None:
    """Re-applying the recorded overrides to a fresh plan (as migrate does) gives the same program."""
    from backrx.overrides.override import reapply

    fresh = rules.recommend(profile)
    rec = fresh
    for _ in range(3):
        with contextlib.suppress(backrx.OverrideError):
            rec = backrx.override(rec, data.draw(_changes(rec, rules)), **WHO, rules=rules)
    again, skipped = reapply(fresh, rec.overrides, rules=rules)
    assert skipped == []
    assert again.program == rec.program
    assert [(o.kind, o.phase, o.exercise_id, o.by) for o in again.overrides] == \
        [(o.kind, o.phase, o.exercise_id, o.by) for o in rec.overrides]


def test_the_clinician_handout_lists_overrides(rules: backrx.RuleSet) -> None:
    """Each override shows in the clinician view (all formats), and not in the patient view."""
    from backrx.render import render

    rec = rules.recommend(CASES["profiles"]["extension"])
    rec = backrx.override(rec, {"add": [{"phase": "calm", "exercise_id": "prone-lying"}]}, **WHO, rules=rules)
    line = "#1 Dr A. Clinician added prone-lying to calm: Seen in clinic today"
    for fmt in ("md", "text", "html"):
        assert line in render(rec, fmt, view="clinician", rules=rules), fmt
        assert "#1 Dr A. Clinician" not in render(rec, fmt, view="patient", rules=rules), fmt
    feedback = {"responses": [
        {"exercise_id": "prone-lying", "pain_during": 3, "next_day": "worse", "peripheralized": False}]}
    after = backrx.adjust(rec, dated(feedback, rec), rules=rules)
    assert "no longer in effect: dropped in adjustment round 1" in render(after, "md", view="clinician",
                                                                          rules=rules)


def test_each_override_is_a_fhir_provenance(rules: backrx.RuleSet) -> None:
    """rec.to_fhir() carries one valid Provenance per override: who, when, why, which rules."""
    pytest.importorskip("fhir.resources")
    from fhir.resources.R4B.bundle import Bundle

    rec = rules.recommend(CASES["profiles"]["extension"])
    rec = backrx.override(rec, {"accept": [{"phase": "calm", "exercise_id": "double-knee-to-chest",
                                            "acknowledge": ["direction"]}]},
                          reason="flexion tolerated", by="Dr D", at="2026-12-01T09:30:00+00:00",
                          rules=rules)
    rec = backrx.override(rec, {"remove": [{"phase": "calm", "exercise_id": "cat-camel"}]}, **WHO,
                          rules=rules)
    bundle = rec.to_fhir()
    found = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"
             and e["resource"].get("activity", {}).get("text", "").startswith("backrx override")]
    assert [p["activity"]["text"] for p in found] == ["backrx override: accept", "backrx override: remove"]
    first, second = found
    assert first["recorded"] == "2026-12-01T09:30:00Z" and first["agent"][0]["who"]["display"] == "Dr D"
    assert first["entity"] == [{"role": "revision", "what": {
        "display": "backrx rule exclude.direction.against-extension-preference"}}]
    assert [r["text"] for r in first["reason"]] == ["flexion tolerated",
                                                     "acknowledged exclusion codes: direction"]
    # An override made without a time is recorded at the export's time: Provenance.recorded is always there
    assert second["recorded"] and "_recorded" not in second
    assert Bundle.model_validate_json(json.dumps(bundle)).model_dump(mode="json") == bundle
    from tests.test_fhir import _schema_errors

    assert _schema_errors(bundle) == []


def test_a_move_into_a_phase_holding_a_dropped_exercise_is_refused(rules: backrx.RuleSet) -> None:
    """A phase move is refused while the target phase still holds an exercise adjust dropped.

    adjust now takes a dropped exercise out of every phase, so the program is edited by hand here
    to reach the guard that stays in place for stored programs."""
    fresh = rules.recommend(CASES["profiles"]["extension"])
    feedback = {"responses": [
        {"exercise_id": "cat-camel", "pain_during": 3, "next_day": "worse", "peripheralized": False}]}
    rec = backrx.adjust(fresh, dated(feedback, fresh), rules=rules)
    assert rec.program is not None and "cat-camel" in rec.program.dropped
    assert fresh.program is not None
    calm = next(p for p in fresh.program.phases[0].prescriptions if p.exercise.id == "cat-camel")
    phases = [ph.model_copy(update={"prescriptions": [*ph.prescriptions, calm]})
              if ph.id == "strengthen" else ph for ph in rec.program.phases]
    edited = rec.model_copy(update={"program": rec.program.model_copy(update={"phases": phases})})
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(edited, {"phase": "strengthen"}, **WHO, rules=rules)
    assert info.value.code == "dropped-exercise" and "cat-camel" in info.value.message
