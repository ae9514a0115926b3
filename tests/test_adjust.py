"""Test and measure: adjust() follows the pack's adjust rules and keeps a replayable trail."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.audit.cases import EXPECTATIONS, FIRST_DAY, dated_rounds
from backrx.model.profile import RED_FLAGS
from backrx.pack.read import bundled_path
from backrx.testing import profiles

EXTENSION = base_profile(age=34, duration_weeks=22, leg_pain="buttock_thigh", pain_intensity=5,
                         directional_preference="extension")
#: The adjust part of the one ``expect`` vocabulary (backrx.audit.cases.EXPECTATIONS).
ADJUST_CASE_KEYS = {key for key, entry in EXPECTATIONS.items() if "adjust" in entry.kinds}


def _adjust_cases() -> list[Any]:
    out = []
    for path in sorted((bundled_path() / "cases" / "adjust").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            case = dict(case, profile=doc["profiles"][case["profile"]])
            out.append(pytest.param(case, id=f"{path.stem}/{case['name']}"))
    return out


ADJUST_CASES = _adjust_cases()


def _ids(rec: backrx.Recommendation) -> set[str]:
    assert rec.program is not None
    return {p.exercise.id for p in rec.program.phase_now.prescriptions}


def _everywhere(rec: backrx.Recommendation) -> set[str]:
    assert rec.program is not None
    return {p.exercise.id for ph in rec.program.phases for p in ph.prescriptions}


def _fired(round_: backrx.AdjustmentRound) -> set[str]:
    """Rules that fired in a round, the progress criteria met included."""
    return {f.rule_id for f in round_.trace} | {
        f"adjust.criterion.{round_.phase_before}.{c}" for c in round_.criteria_met}


def run_case(case: dict[str, Any], rules: backrx.RuleSet) -> backrx.Recommendation:
    """The recommendation after every round of a golden case."""
    rec = rules.recommend(case["profile"])
    for feedback in dated_rounds(case["rounds"]):
        rec = backrx.adjust(rec, feedback, rules=rules)
    return rec


@pytest.mark.parametrize("case", ADJUST_CASES)
def test_golden_adjustment(case: dict[str, Any], rules: backrx.RuleSet) -> None:
    """Each golden adjustment case gets the result it states after its rounds of feedback."""
    expect = case["expect"]
    assert set(expect) <= ADJUST_CASE_KEYS, set(expect) - ADJUST_CASE_KEYS
    rec = run_case(case, rules)
    last = rec.adjustments[-1]
    fired = _fired(last)
    assert set(expect.get("fired", [])) <= fired, fired
    assert not set(expect.get("not_fired", [])) & fired
    if "outcome" in expect:
        assert rec.outcome == expect["outcome"]
    if "urgency" in expect:
        assert rec.referral is not None and rec.referral.urgency == expect["urgency"]
    if expect.get("no_referral"):
        assert rec.referral is None
    codes = {n.code for n in rec.warnings}
    assert set(expect.get("warnings", [])) <= codes, codes
    assert not set(expect.get("not_warnings", [])) & codes
    assert rec.progress is not None
    for measure, wanted in expect.get("measures", {}).items():
        found = next(m for m in rec.progress.measures if m.measure == measure)
        for key, value in wanted.items():
            assert getattr(found, key) == value, (measure, key, found)
    if rec.program is None:
        return
    if "phase" in expect:
        assert rec.program.current_phase == expect["phase"]
    actions: dict[str | None, set[str]] = {}
    for change in last.changes:
        ids: list[str | None] = [*change.exercise_ids] or [None]
        for exercise_id in ids:
            actions.setdefault(exercise_id, set()).add(change.action)
    for exercise_id, action in expect.get("actions", {}).items():
        assert action in actions.get(exercise_id, set()), (exercise_id, actions)
    assert set(expect.get("present", [])) <= _ids(rec)
    assert not set(expect.get("absent", [])) & _ids(rec)
    assert not set(expect.get("absent_everywhere", [])) & _everywhere(rec)
    assert set(expect.get("dropped", [])) <= set(rec.program.dropped)
    if "stopped" in expect:
        assert rec.program.stopped_directions == expect["stopped"]
    assert set(expect.get("tolerated", [])) <= set(rec.program.tolerated)
    if "holding" in expect:
        assert (rec.program.hold is not None) == expect["holding"]
    status = rec.progress.phase
    assert status is not None
    if "days_left" in expect:
        assert status.days_left == expect["days_left"]
    met = {c.id for c in status.criteria if c.met}
    if rec.program.current_phase == last.phase_before:
        assert met == set(last.criteria_met)
    assert set(expect.get("criteria_met", [])) <= set(last.criteria_met)
    assert not set(expect.get("criteria_not_met", [])) & set(last.criteria_met)
    if "elimination_testing" in expect:
        assert rec.program.elimination is not None
        assert rec.program.elimination.testing == expect["elimination_testing"]
    if "safety_net_contains" in expect:
        assert any(expect["safety_net_contains"] in s for s in rec.safety_net)
    assert set(expect.get("warnings", [])) <= {w.code for w in rec.warnings}
    for exercise_id, dose in expect.get("dose", {}).items():
        p = next(p for p in rec.program.phase_now.prescriptions if p.exercise.id == exercise_id)
        assert p.dose.model_dump(exclude_none=True, exclude={"sessions_per_week"}) == dose


def test_enough_adjustment_cases_cover_every_adjust_rule(rules: backrx.RuleSet) -> None:
    """At least 12 golden adjustment cases, and every adjust rule fires in one of them."""
    assert len(ADJUST_CASES) >= 12
    fired: set[str] = set()
    for param in ADJUST_CASES:
        case = param.values[0]
        rec = rules.recommend(case["profile"])
        for feedback in dated_rounds(case["rounds"]):
            rec = backrx.adjust(rec, feedback, rules=rules)
            fired |= _fired(rec.adjustments[-1])
    adjust_rules = [r for r in rules.rule_ids if r.startswith("adjust.")
                    and not r.startswith("adjust.criterion.condition.")]
    assert [r for r in adjust_rules if r not in fired] == []


def _day(n: int) -> str:
    return (FIRST_DAY + datetime.timedelta(days=n)).isoformat()


def test_elimination_end_to_end(rules: backrx.RuleSet) -> None:
    """Over several days, elimination brings back one exercise a day and finds the culprit."""
    rec = rules.recommend(EXTENSION)
    rec = backrx.adjust(rec, {"date": _day(0), "responses": [
        {"exercise_id": "prone-press-up", "pain_during": 3, "next_day": "worse"},
        {"exercise_id": "cat-camel", "pain_during": 2, "next_day": "worse"},
        {"exercise_id": "single-leg-stance", "pain_during": 1, "next_day": "worse"},
    ]}, rules=rules)
    assert rec.program is not None and rec.program.elimination is not None
    assert rec.program.elimination.testing == "prone-press-up"
    assert [p.exercise.id for p in rec.program.elimination.queue] == ["cat-camel", "single-leg-stance"]
    assert "Next: Cat-camel" in rec.adjustments[-1].reason_of(rec.adjustments[-1].changes[-2])
    # Day 2: prone-press-up on its own was fine; cat-camel comes back.
    rec = backrx.adjust(rec, {"date": _day(1), "responses": [
        {"exercise_id": "prone-press-up", "pain_during": 2, "next_day": "same"}]}, rules=rules)
    assert rec.program is not None and rec.program.elimination is not None
    assert rec.program.elimination.testing == "cat-camel"
    # Day 3: cat-camel on its own made things worse: it is the culprit and is dropped.
    rec = backrx.adjust(rec, {"date": _day(2), "responses": [
        {"exercise_id": "cat-camel", "pain_during": 2, "next_day": "worse"}]}, rules=rules)
    assert rec.program is not None and "cat-camel" in rec.program.dropped
    assert rec.program.elimination is not None and rec.program.elimination.testing == "single-leg-stance"
    # Day 4: the last one is fine; elimination ends with the culprit out and the rest back.
    rec = backrx.adjust(rec, {"date": _day(3), "responses": [
        {"exercise_id": "single-leg-stance", "pain_during": 1, "next_day": "better"}]}, rules=rules)
    assert rec.program is not None and rec.program.elimination is None
    assert {"prone-press-up", "single-leg-stance"} <= _ids(rec)
    assert "cat-camel" not in _everywhere(rec)
    assert "Elimination" not in rec.explain() or "testing" not in rec.explain().split("Elimination")[-1]


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    profile = draw(profiles(red_flags=[]))
    rounds = []
    for _ in range(draw(st.integers(1, 3))):
        rounds.append({
            "gap": draw(st.integers(1, 4)),
            "pick": draw(st.lists(st.integers(0, 30), max_size=6)),
            "pain": draw(st.lists(st.integers(0, 10), min_size=6, max_size=6)),
            "day": draw(st.lists(st.sampled_from(["better", "same", "worse"]), min_size=6, max_size=6)),
            "peri": draw(st.lists(st.booleans(), min_size=6, max_size=6)),
            "flags": draw(st.one_of(st.just([]), st.just([]), st.lists(st.sampled_from(RED_FLAGS),
                                                                         max_size=2, unique=True))),
        })
    return profile, rounds


def _feedback(rec: backrx.Recommendation, spec: dict[str, Any], date: datetime.date) -> dict[str, Any]:
    assert rec.program is not None
    present = [p.exercise.id for p in rec.program.phase_now.prescriptions]
    chosen = list(dict.fromkeys(present[i % len(present)] for i in spec["pick"])) if present else []
    return {
        "date": date.isoformat(),
        "responses": [
            {"exercise_id": eid, "pain_during": spec["pain"][k], "next_day": spec["day"][k],
             "peripheralized": spec["peri"][k]}
            for k, eid in enumerate(chosen)
        ],
        "new_red_flags": spec["flags"],
    }


@settings(max_examples=150)
@given(scenario=_scenario())
def test_adjustment_properties(scenario: tuple[dict[str, Any], list[dict[str, Any]]],
                               rules: backrx.RuleSet) -> None:
    """Worse or spreading never raises a dose, a worse exercise changes, red flags refer, trail replays."""
    profile, specs = scenario
    original = rules.recommend(profile)
    rec = original
    date = FIRST_DAY
    for spec in specs:
        if rec.program is None:
            break
        date += datetime.timedelta(days=spec["gap"])
        feedback = _feedback(rec, spec, date)
        before = {p.exercise.id: p for p in rec.program.phase_now.prescriptions}
        nxt = backrx.adjust(rec, feedback, rules=rules)
        assert nxt.model_dump_json() == backrx.adjust(rec, feedback, rules=rules).model_dump_json()
        if feedback["new_red_flags"]:
            assert nxt.referral is not None
            if set(feedback["new_red_flags"]) - {"inflammatory_back_pain"}:
                assert nxt.outcome == "refer" and nxt.program is None
        bad_day = any(r["next_day"] == "worse" or r["peripheralized"] for r in feedback["responses"])
        quota = rec.classification.startback_risk == "high"
        if nxt.program is not None and bad_day:
            for change in nxt.adjustments[-1].changes:
                old = before.get(change.exercise_id or "")
                if old is None:
                    continue
                if change.dose is not None:
                    for name in ("sets", "reps", "hold_seconds", "minutes"):
                        b, a = getattr(old.dose, name), getattr(change.dose, name)
                        assert b is None or a is None or a <= b or quota, (change.action, name)
                if change.prescription is not None and change.action == "regress":
                    assert change.prescription.exercise.load <= old.exercise.load
        if nxt.program is not None and not quota:
            for r in feedback["responses"]:
                if r["next_day"] == "worse":
                    changed = {c.exercise_id for c in nxt.adjustments[-1].changes
                               if c.action in ("drop", "regress", "suspend")
                               or c.dose is not None or c.prescription is not None}
                    # Advice carries no load: beside a worse exercise that changed, it may stay. An
                    # exercise cleared on an earlier good day is not blamed while newer ones were done
                    # the same day (elimination across days, adjust.worse.cleared-earlier).
                    old = before.get(r["exercise_id"])
                    advice = old is not None and old.exercise.category == "education"
                    fired = {rid for c in nxt.adjustments[-1].changes for rid in c.rule_ids}
                    assert r["exercise_id"] in changed or old is None or (advice and bool(changed)) \
                        or "adjust.worse.cleared-earlier" in fired
        rec = nxt
    if original.program is not None and rec.program is not None:
        assert backrx.replay(original.program, rec.adjustments) == rec.program
    assert backrx.Recommendation.model_validate_json(rec.model_dump_json()) == rec


def test_feedback_errors_name_the_field(rules: backrx.RuleSet) -> None:
    """Feedback about an exercise not in the current phase is a FeedbackError naming the response."""
    rec = rules.recommend(EXTENSION)
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.adjust(rec, {"date": _day(0), "responses": [{"exercise_id": "leg-press", "pain_during": 1,
                                                            "next_day": "same"}]}, rules=rules)
    assert info.value.code == "not-in-phase" and info.value.loc == ("responses", 0, "exercise_id")
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.adjust(rec, {"date": _day(0), "responses": [
            {"exercise_id": "cat-camel", "pain_during": 1, "next_day": "same"},
            {"exercise_id": "cat-camel", "pain_during": 2, "next_day": "same"}]}, rules=rules)
    assert info.value.code == "duplicate-response" and info.value.loc == ("responses", 1, "exercise_id")
    with pytest.raises(ValidationError):
        backrx.adjust(rec, {"date": _day(0), "responses": [{"exercise_id": "cat-camel", "pain_during": 11,
                                                            "next_day": "same"}]}, rules=rules)
    with pytest.raises(ValidationError) as bad_date:
        backrx.adjust(rec, {"date": "5 Jan 2026", "responses": []}, rules=rules)
    assert bad_date.value.errors()[0]["loc"] == ("date",)


def test_dates_are_required_and_in_order(rules: backrx.RuleSet) -> None:
    """A format-2 recommendation refuses undated feedback and rounds that are not after the last one."""
    rec = rules.recommend(EXTENSION)
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.adjust(rec, {"responses": []}, rules=rules)
    assert info.value.code == "date-required" and info.value.loc == ("date",)
    rec = backrx.adjust(rec, {"date": _day(3), "responses": []}, rules=rules)
    for day in (_day(3), _day(1)):
        with pytest.raises(backrx.FeedbackError) as info:
            backrx.adjust(rec, {"date": day, "responses": []}, rules=rules)
        assert info.value.code == "round-out-of-order"
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.adjust(rec, {"date": _day(6), "responses": [
            {"exercise_id": "cat-camel", "pain_during": 1, "next_day": "same", "date": _day(2)}]},
            rules=rules)
    assert info.value.code == "round-out-of-order" and info.value.loc == ("responses", 0, "date")
    with pytest.raises(ValidationError):  # a response dated after its round
        backrx.adjust(rec, {"date": _day(6), "responses": [
            {"exercise_id": "cat-camel", "pain_during": 1, "next_day": "same", "date": _day(7)}]},
            rules=rules)


def test_another_pack_is_refused(rules: backrx.RuleSet, pack_copy: Path) -> None:
    """A recommendation is adjusted only by the pack that made it; the error says to migrate."""
    (pack_copy / "pack.yaml").write_text("name: other\nversion: '9'\n")
    other = backrx.load_rules(pack_copy, engine="reference")
    rec = rules.recommend(EXTENSION)
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.adjust(rec, {"date": _day(0), "responses": []}, rules=other)
    assert info.value.code == "pack-changed" and "migrate" in info.value.message
    assert info.value.loc == ("recommendation", "ruleset", "digest")


def test_cli_adjust(tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: backrx.RuleSet) -> None:
    """`backrx adjust REC.json FEEDBACK.yaml` prints the adjusted recommendation; errors carry their code."""
    from backrx.cli import main

    rec_path = tmp_path / "rec.json"
    rec_path.write_text(rules.recommend(EXTENSION).model_dump_json())
    fb_path = tmp_path / "fb.yaml"
    fb_path.write_text("date: 2026-01-05\nresponses:\n  - {exercise_id: cat-camel, pain_during: 2, "
                       "next_day: worse}\n")
    assert main(["adjust", str(rec_path), str(fb_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["adjustments"][0]["changes"][0]["action"] == "drop"
    assert main(["adjust", str(rec_path), str(fb_path), "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "Left out for now" in out and "Your progress" in out
    fb_path.write_text("responses: []\n")
    assert main(["adjust", str(rec_path), str(fb_path)]) == 2
    assert "fb.yaml: date: " in (err := capsys.readouterr().err) and "[code=date-required]" in err


def test_an_exercise_that_spread_symptoms_is_never_reintroduced(rules: backrx.RuleSet) -> None:
    """Spreading plus a second worse exercise: the spreading one is dropped, not queued for return."""
    rec = rules.recommend(EXTENSION)
    rec = backrx.adjust(rec, {"date": _day(0), "responses": [
        {"exercise_id": "prone-press-up", "pain_during": 6, "next_day": "worse", "peripheralized": True},
        {"exercise_id": "cat-camel", "pain_during": 2, "next_day": "worse", "peripheralized": False},
    ]}, rules=rules)
    assert rec.program is not None
    assert "prone-press-up" not in _everywhere(rec) and "prone-press-up" in rec.program.dropped
    assert rec.program.stopped_directions == []  # one sign stops the culprit, not the direction
    queued = [p.exercise.id for p in rec.program.elimination.queue] if rec.program.elimination else []
    assert "prone-press-up" not in queued
    assert rec.program.hold is not None


def test_a_referral_still_escalates_on_new_red_flags(rules: backrx.RuleSet) -> None:
    """Adjusting a referred recommendation still acts on new red flags: urgent becomes emergency."""
    rec = rules.recommend(base_profile(red_flags=["cancer_history"]))
    assert rec.referral is not None and rec.referral.urgency == "urgent"
    new = backrx.adjust(rec, {"date": _day(0), "responses": [], "new_red_flags": ["saddle_anaesthesia"]},
                        rules=rules)
    assert new.outcome == "refer" and new.referral is not None and new.referral.urgency == "emergency"
    assert [f.rule_id for f in new.adjustments[-1].trace] == ["adjust.red-flag.emergency"]


def test_a_regression_never_raises_a_part_of_the_dose(rules: backrx.RuleSet) -> None:
    """Swapping for an easier exercise of another dose kind keeps each shared part at or below the old."""
    rec = rules.recommend(base_profile(directional_preference="flexion", duration_weeks=10))
    assert rec.program is not None
    before = {p.exercise.id: p for p in rec.program.phase_now.prescriptions}
    assert "double-knee-to-chest" in before
    new = backrx.adjust(rec, {"date": _day(0), "responses": [
        {"exercise_id": "double-knee-to-chest", "pain_during": 2, "next_day": "worse",
         "peripheralized": False}]}, rules=rules)
    change = next(c for c in new.adjustments[-1].changes if c.exercise_id == "double-knee-to-chest")
    assert change.action == "regress" and change.prescription is not None
    assert change.prescription.exercise.id == "single-knee-to-chest"
    old = before["double-knee-to-chest"]
    for name in ("sets", "reps", "hold_seconds", "minutes", "sessions_per_week", "times_per_day"):
        was, now = getattr(old.dose, name), getattr(change.prescription.dose, name)
        assert was is None or now is None or now <= was, name


def test_an_edited_recommendation_is_refused_or_referred(rules: backrx.RuleSet) -> None:
    """Unknown exercises edited into a program are refused; so is a program whose profile now refers."""
    rec = rules.recommend(EXTENSION)
    data = json.loads(rec.model_dump_json())
    data["program"]["phases"][0]["prescriptions"][2]["exercise"]["id"] = "my-own-press-up"
    edited = backrx.Recommendation.model_validate(data)
    with pytest.raises(backrx.FeedbackError, match="my-own-press-up") as info:
        backrx.adjust(edited, {"date": _day(0), "responses": []}, rules=rules)
    assert info.value.code == "unknown-exercise"
    data = json.loads(rec.model_dump_json())
    data["profile"]["red_flags"] = ["cancer_history"]
    flagged = backrx.Recommendation.model_validate(data)
    with pytest.raises(backrx.FeedbackError) as refused:
        backrx.adjust(flagged, {"date": _day(0), "responses": []}, rules=rules)
    assert refused.value.code == "outcome-contradicts-profile"


def test_profiles_cannot_be_changed_after_validation() -> None:
    """A validated Profile is frozen, so a red flag cannot be removed behind the validator's back."""
    profile = backrx.Profile.model_validate(base_profile(red_flags=["cancer_history"]))
    with pytest.raises(ValidationError):
        profile.red_flags = []  # type: ignore[misc]
    sneaky = backrx.Profile.model_construct(age=40)
    with pytest.raises(ValidationError):
        backrx.recommend(sneaky)
