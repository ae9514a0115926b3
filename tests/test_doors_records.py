"""Doors 6 and 7 of issue 22: stored records are checked, not trusted, and an exclusion's code has
one source (the pack's rule), read alike by the planner, an override's accept and the audit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.audit.invariants import BUILTIN_INVARIANTS
from backrx.overrides.override import SAFETY_CODES, provenance_data
from backrx.ruleset import default_rules

ROOT = Path(__file__).resolve().parent.parent
WHO = {"reason": "Seen in clinic", "by": "Dr A. Clinician"}
SADDLE = base_profile(red_flags=["saddle_anaesthesia"])
EXTENSION = base_profile(directional_preference="extension")


# --------------------------------------------------------------------------- door 6: the outcome


def _refer_edited_to_program(rules: backrx.RuleSet) -> backrx.Recommendation:
    """The issue's repro: a stored emergency referral edited into a program, its profile untouched."""
    refer = rules.recommend(SADDLE)
    assert refer.outcome == "refer" and refer.referral is not None
    program = rules.recommend(base_profile())
    data = json.loads(refer.model_dump_json())
    data.update(outcome="program", referral=None,
                program=json.loads(program.model_dump_json())["program"])
    return backrx.Recommendation.model_validate(data)


def _first_exercise(rec: backrx.Recommendation) -> str:
    assert rec.program is not None
    return rec.program.phase_now.prescriptions[0].exercise.id


def test_override_refuses_a_referral_edited_into_a_program(rules: backrx.RuleSet) -> None:
    """override() refuses a stored program whose own profile (saddle anaesthesia) the pack refers."""
    forged = _refer_edited_to_program(rules)
    phase = forged.program.phase_now.id if forged.program else ""
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(forged, {"remove": [{"phase": phase, "exercise_id": _first_exercise(forged)}]},
                        **WHO, rules=rules)
    assert info.value.code == "outcome-contradicts-profile"


def test_adjust_refuses_a_referral_edited_into_a_program(rules: backrx.RuleSet) -> None:
    """adjust() refuses the edited record with a code, instead of adjusting a program nobody made."""
    forged = _refer_edited_to_program(rules)
    feedback = {"date": "2026-01-05", "responses": [{"exercise_id": _first_exercise(forged), "pain_during": 2,
                                                     "next_day": "same", "peripheralized": False}]}
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.adjust(forged, feedback, rules=rules)
    assert info.value.code == "outcome-contradicts-profile"


def test_migrate_on_the_same_pack_refuses_a_referral_edited_into_a_program(rules: backrx.RuleSet) -> None:
    """migrate() on the pack that made the record refuses it rather than passing the edit on."""
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.migrate(_refer_edited_to_program(rules), rules)
    assert info.value.code == "outcome-contradicts-profile"


def test_a_referral_made_less_urgent_is_refused(rules: backrx.RuleSet) -> None:
    """A stored referral edited to a lower tier than the profile's triage gives is refused."""
    rec = rules.recommend(SADDLE)
    assert rec.referral is not None and rec.referral.urgency == "emergency"
    edited = rec.model_copy(update={"referral": rec.referral.model_copy(update={"urgency": "urgent"})})
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.adjust(edited, {"date": "2026-01-05", "responses": []}, rules=rules)
    assert info.value.code == "outcome-contradicts-profile"


# --------------------------------------------------------------------------- door 6: the records


def _history(rules: backrx.RuleSet) -> backrx.Recommendation:
    """Two overrides, a dated round between them, and a third override: four chained records."""
    rec = rules.recommend(EXTENSION)
    rec = backrx.override(rec, {"accept": [{"phase": "calm", "exercise_id": "double-knee-to-chest",
                                            "acknowledge": ["direction"]}]},
                          **WHO, at="2026-01-04T09:00:00+00:00", rules=rules)
    rec = backrx.adjust(rec, {"date": "2026-01-05", "responses": [
        {"exercise_id": "double-knee-to-chest", "pain_during": 2, "next_day": "same",
         "peripheralized": False}]}, rules=rules)
    assert rec.program is not None
    dose = next(p for p in rec.program.phase_now.prescriptions if p.exercise.id == "double-knee-to-chest")
    rec = backrx.override(rec, {"dose": [{"phase": "calm", "exercise_id": "double-knee-to-chest",
                                          "reps": (dose.dose.reps or 5) + 1}]},
                          reason="Tolerating it well", by="Dr B. Clinician", at="2026-01-06T10:00:00+01:00",
                          rules=rules)
    rec = backrx.override(rec, {"remove": [{"phase": "calm", "exercise_id": "double-knee-to-chest"}]},
                          reason="Changed plan", by="Dr C. Clinician", at="2026-01-06T11:00:00+01:00",
                          rules=rules)
    assert len(rec.overrides) == 3 and len(rec.adjustments) == 1
    return rec


@pytest.fixture(scope="module")
def history() -> backrx.Recommendation:
    return _history(default_rules())


def _read(data: dict[str, Any]) -> backrx.Recommendation:
    return backrx.Recommendation.model_validate_json(json.dumps(data))


def _refused_on_read(data: dict[str, Any]) -> str:
    """The error type (code) with which reading ``data`` is refused."""
    with pytest.raises(ValidationError) as info:
        _read(data)
    codes = [e["type"] for e in info.value.errors()]
    assert len(codes) == 1, codes
    return codes[0]


def test_an_intact_history_reads_back_equal(history: backrx.Recommendation) -> None:
    """A chained history survives JSON unchanged, and its Provenance can be built."""
    assert history.records_head is not None
    again = _read(json.loads(history.model_dump_json()))
    assert again == history
    assert [p["agent"][0]["who"]["display"] for p in provenance_data(again)] == [
        "Dr A. Clinician", "Dr B. Clinician", "Dr C. Clinician"]


@pytest.mark.parametrize("field", ["by", "reason", "at"])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_an_edited_override_is_refused_on_read(history: backrx.Recommendation, field: str,
                                               index: int) -> None:
    """Editing who, why or when of any override (the last one included) is refused as it is read."""
    data = json.loads(history.model_dump_json())
    data["overrides"][index][field] = "2026-01-01T00:00:00+00:00" if field == "at" else "Someone else"
    assert _refused_on_read(data) == "record-chain-broken"


def test_an_edited_round_is_refused_on_read(history: backrx.Recommendation) -> None:
    """Editing a stored adjustment round's feedback is refused as it is read."""
    data = json.loads(history.model_dump_json())
    data["adjustments"][0]["feedback"]["responses"][0]["pain_during"] = 0
    assert _refused_on_read(data) == "record-chain-broken"


@pytest.mark.parametrize("where", ["first", "middle", "last", "all"])
def test_an_erased_override_is_refused_on_read(history: backrx.Recommendation, where: str) -> None:
    """Erasing any override, or all of them, is refused as it is read."""
    data = json.loads(history.model_dump_json())
    if where == "all":
        data["overrides"] = []
    else:
        del data["overrides"][{"first": 0, "middle": 1, "last": 2}[where]]
    assert _refused_on_read(data) == "record-chain-broken"


def test_erasing_a_round_or_reordering_overrides_is_refused(history: backrx.Recommendation) -> None:
    """Erasing the round, or swapping two overrides (numbers and all), is refused as it is read."""
    data = json.loads(history.model_dump_json())
    data["adjustments"] = []
    assert _refused_on_read(data) == "record-chain-broken"
    data = json.loads(history.model_dump_json())
    one, two = data["overrides"][1], data["overrides"][2]
    one["number"], two["number"] = two["number"], one["number"]
    data["overrides"][1:3] = [two, one]
    assert _refused_on_read(data) == "record-chain-broken"


def test_an_edited_profile_under_its_records_is_refused(history: backrx.Recommendation) -> None:
    """The first record hashes the recommendation it amends: editing the profile is refused."""
    data = json.loads(history.model_dump_json())
    data["profile"]["pain_intensity"] = 2
    assert _refused_on_read(data) == "record-chain-broken"


def test_an_edit_in_memory_never_reaches_provenance(history: backrx.Recommendation,
                                                    rules: backrx.RuleSet) -> None:
    """An override edited without re-reading is refused by provenance_data, to_fhir, override and adjust."""
    items = list(history.overrides)
    items[0] = items[0].model_copy(update={"by": "Someone else"})
    edited = history.model_copy(update={"overrides": items})
    with pytest.raises(ValueError, match="record-chain-broken") as info:
        provenance_data(edited)
    assert getattr(info.value, "code", None) == "record-chain-broken"
    with pytest.raises(ValueError, match="record-chain-broken"):
        edited.to_fhir()
    with pytest.raises(backrx.OverrideError) as refused:
        backrx.override(edited, {"phase": "strengthen"}, **WHO, rules=rules)
    assert refused.value.code == "record-chain-broken"
    with pytest.raises(backrx.FeedbackError) as adjusted:
        backrx.adjust(edited, {"date": "2026-01-07", "responses": []}, rules=rules)
    assert adjusted.value.code == "record-chain-broken"


def test_time_never_runs_backwards(history: backrx.Recommendation, rules: backrx.RuleSet) -> None:
    """An override timed before the one recorded ahead of it is refused (record-time-backwards)."""
    assert history.program is not None
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(history, {"phase": "strengthen"}, **WHO, at="2026-01-06T09:59:00+00:00", rules=rules)
    assert info.value.code == "record-time-backwards" and info.value.loc == ("at",)
    later = backrx.override(history, {"phase": "strengthen"}, **WHO, at="2026-01-06T10:01:00+00:00",
                            rules=rules)
    assert later.overrides[-1].at == "2026-01-06T10:01:00+00:00"


def test_time_never_runs_backwards_across_a_round(rules: backrx.RuleSet) -> None:
    """An override timed days before a round recorded ahead of it is refused."""
    rec = rules.recommend(EXTENSION)
    rec = backrx.adjust(rec, {"date": "2026-03-10", "responses": []}, rules=rules)
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(rec, {"phase": "strengthen"}, **WHO, at="2026-03-01T09:00:00+00:00", rules=rules)
    assert info.value.code == "record-time-backwards"


def test_records_written_before_the_chain_load_and_must_be_migrated(history: backrx.Recommendation,
                                                                    rules: backrx.RuleSet) -> None:
    """Unchained (older) records load, are refused with record-unchained, and migrate chains them."""
    data = json.loads(history.model_dump_json())
    for item in (*data["overrides"], *data["adjustments"]):
        del item["chain"]
    del data["records_head"]
    old = _read(data)
    assert [o.by for o in old.overrides] == [o.by for o in history.overrides]
    with pytest.raises(ValueError, match="record-unchained") as info:
        provenance_data(old)
    assert getattr(info.value, "code", None) == "record-unchained"
    with pytest.raises(backrx.OverrideError) as refused:
        backrx.override(old, {"phase": "strengthen"}, **WHO, rules=rules)
    assert refused.value.code == "record-unchained"
    with pytest.raises(backrx.FeedbackError) as adjusted:
        backrx.adjust(old, {"date": "2026-01-07", "responses": []}, rules=rules)
    assert adjusted.value.code == "record-unchained"
    migrated = backrx.migrate(old, rules)
    assert all(r.chain is not None for r in (*migrated.overrides, *migrated.adjustments))
    assert [o.by for o in migrated.overrides] == [o.by for o in history.overrides]
    assert len(provenance_data(migrated)) == len(migrated.overrides)


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 2), field=st.sampled_from(["by", "reason"]),
       text=st.text(st.characters(categories=("L", "N", "Zs", "P")), min_size=1, max_size=30))
def test_any_change_to_who_or_why_is_refused(history: backrx.Recommendation, index: int, field: str,
                                              text: str) -> None:
    """Whatever a stored override's author or reason is changed to, reading it back refuses it."""
    data = json.loads(history.model_dump_json())
    if data["overrides"][index][field] == text:
        text += "x"
    data["overrides"][index][field] = text
    with pytest.raises(ValidationError):
        _read(data)


# --------------------------------------------------------------------------- door 7: exclusion codes


WHEELCHAIR = base_profile(mobility="wheelchair")


def test_the_wheelchair_bird_dog_is_labelled_and_acknowledged_alike(rules: backrx.RuleSet) -> None:
    """The code on the wheelchair user's excluded bird-dog is the code its acceptance asks for."""
    rec = rules.recommend(WHEELCHAIR)
    assert rec.program is not None
    item = next(e for e in rec.program.excluded if e.exercise_id == "bird-dog")
    phase = item.phases[0]
    label = [c for c in item.codes if c in SAFETY_CODES]
    assert label, item.codes
    with pytest.raises(backrx.OverrideError) as info:
        backrx.override(rec, {"accept": [{"phase": phase, "exercise_id": "bird-dog"}]}, **WHO, rules=rules)
    assert info.value.code == "needs-acknowledgement"
    asked = re.search(r"acknowledge: \[([^\]]*)\]", info.value.message)
    assert asked is not None and asked.group(1).split(", ") == label
    accepted = backrx.override(rec, {"accept": [{"phase": phase, "exercise_id": "bird-dog",
                                                 "acknowledge": label}]}, **WHO, rules=rules)
    assert accepted.overrides[-1].acknowledged == label


def test_every_bundled_exclusion_declares_its_code() -> None:
    """Each exclude entry of rules/exclusions.yaml names its code: nothing in Python decides it."""
    doc = yaml.safe_load((ROOT / "rules" / "exclusions.yaml").read_text(encoding="utf-8"))
    for rule in doc["rules"]:
        entries = rule["then"]["exclude"]
        for entry in entries if isinstance(entries, list) else [entries]:
            assert "code" in entry, rule["id"]


def test_the_stored_code_is_the_rules_code(rules: backrx.RuleSet) -> None:
    """Every exclusion a rule makes carries the code that rule declares (the audit's invariant)."""
    check = next(i for i in BUILTIN_INVARIANTS if i.id == "program.exclusion-codes").check
    declared = {r.id: {x.code for x in r.then.exclude} for r in rules.pack.rules if r.then.exclude}
    profiles = [WHEELCHAIR, EXTENSION, base_profile(age=80), base_profile(history={"pregnant": True}),
                base_profile(history={"osteoporosis": True}), base_profile(mobility="walking_aid")]
    for profile in profiles:
        rec = rules.recommend(profile)
        assert check(rules, profile, rec) is None
        assert rec.program is not None
        for item in rec.program.excluded:
            for rule_id in item.rule_ids:
                assert declared.get(rule_id, set(item.codes)) & set(item.codes), (rule_id, item.codes)


def test_the_audit_finds_a_label_that_disagrees_with_the_pack(rules: backrx.RuleSet) -> None:
    """The audit's invariant fails when a stored exclusion's code is not its rule's code."""
    check = next(i for i in BUILTIN_INVARIANTS if i.id == "program.exclusion-codes").check
    rec = rules.recommend(WHEELCHAIR)
    assert rec.program is not None
    excluded = [e.model_copy(update={"codes": ["contraindication"]})
                if "exclude.wheelchair.seated-program" in e.rule_ids else e for e in rec.program.excluded]
    edited = rec.model_copy(update={"program": rec.program.model_copy(update={"excluded": excluded})})
    found = check(rules, WHEELCHAIR, edited)
    assert found is not None and "exclude.wheelchair.seated-program" in found
