"""The episode over time: a timeline of dated events, and the plan at any date derived from it."""

from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pydantic import ValidationError

import backrx
from backrx.errors import FeedbackError
from backrx.followup.episode import Episode
from backrx.followup.history import family_of
from backrx.model.recommendation import Recommendation
from backrx.ruleset import RuleSet, default_rules
from backrx.run.facts import profile_values
from backrx.run.planner import Planner
from backrx.run.populations import limits_for

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
START = datetime.date(2026, 1, 5)
BASE = {"age": 31, "sex": "female", "duration_weeks": 10, "pain_site": "lower", "leg_pain": "none",
        "pain_intensity": 4, "tolerance": "moderate", "red_flags": []}
PREGNANT = {**BASE, "history": {"pregnant": True, "pregnancy_weeks": 17}}
FLEXION = {"age": 66, "duration_weeks": 30, "pain_site": "lower", "leg_pain": "buttock_thigh",
           "pain_intensity": 4, "tolerance": "moderate", "directional_preference": "flexion", "red_flags": [],
           "findings": {"eases_with": ["sitting", "bending_forward"], "worse_with": ["standing", "walking"]}}
EXTENSION = {"age": 34, "duration_weeks": 22, "pain_site": "lower", "leg_pain": "buttock_thigh",
             "pain_intensity": 5, "tolerance": "moderate", "directional_preference": "extension",
             "red_flags": []}


@functools.cache
def _adjust_rules() -> list[dict[str, Any]]:
    """The adjust layer's rules as written in the pack (read once)."""
    doc = yaml.safe_load((RULES_DIR / "adjust.yaml").read_text(encoding="utf-8"))
    rules: list[dict[str, Any]] = doc["rules"]
    return rules


def _rule(rule_id: str) -> dict[str, Any]:
    return next(r for r in _adjust_rules() if r["id"] == rule_id)


def _threshold(rule_id: str, field: str) -> int:
    """The ``gte`` a rule's ``all:`` sets on ``field`` (read from the pack, not restated here)."""
    found = [c[field]["gte"] for c in _rule(rule_id)["when"]["all"] if isinstance(c, dict) and field in c]
    return int(found[0])


MIN_DAYS = _threshold("adjust.progress", "exercise.days_at_dose")
GAP_DAYS = int(yaml.safe_load((RULES_DIR / "planner.yaml").read_text(encoding="utf-8"))
               ["adjusting"]["restart_after_gap_days"])
EMERGENCY_FLAG = next(c["feedback.new_red_flags"]["contains"]
                      for c in _rule("adjust.red-flag.emergency")["when"]["any"])
GAP_WARNING = _rule("adjust.gap.restart")["then"]["warn"]["code"]
HOLD_WARNING = _rule("adjust.hold.peripheralized")["then"]["warn"]["code"]
STOP_WARNING = _rule("adjust.peripheralized.second-sign")["then"]["warn"]["code"]
_PLANNER = yaml.safe_load((RULES_DIR / "planner.yaml").read_text(encoding="utf-8"))
CARRIED = set(_PLANNER["adjusting"]["carry_on_advance"])
BLAMES = {"regress", "drop", "suspend"}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return default_rules()


def _responses(rec: Recommendation, pain: int = 1, next_day: str = "same",
               spread: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    assert rec.program is not None
    return [{"exercise_id": p.exercise.id, "pain_during": pain, "next_day": next_day,
             "peripheralized": p.exercise.id in spread}
            for p in rec.program.phase_now.prescriptions if p.exercise.category != "education"]


def _round(day: datetime.date, responses: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"kind": "round", "date": day.isoformat(),
            "feedback": {"date": day.isoformat(), "responses": responses, **extra}}


def _start(profile: dict[str, Any], rules: RuleSet) -> Episode:
    return Episode().add({"kind": "intake", "date": START.isoformat(), "profile": profile}, rules=rules)


def _limits_hold(rec: Recommendation, rules: RuleSet) -> list[str]:
    """Prescriptions the pack's exclusions rule out for the person as the plan states them."""
    assert rec.profile is not None and rec.program is not None
    planner = Planner(rules.pack, rec.profile, rules.decide_facts(profile_values(rec.profile)))
    limits = limits_for(rules.pack, rec.profile)
    return [f"{ph.id}:{p.exercise.id}" for ph in rec.program.phases for p in ph.prescriptions
            if planner.why_not(rules.pack.exercises[p.exercise.id], ph.id)[1]
            or not limits.allows(p.exercise.id, ph.id)]


def test_gestation_advances_and_supine_work_leaves_at_the_packs_limit(rules: RuleSet) -> None:
    """A woman at 17 weeks keeps no exercise the pack excludes at the weeks she has reached later."""
    ep = _start(PREGNANT, rules)
    first = ep.plan(rules=rules)
    day = START
    for _ in range(6):
        day += datetime.timedelta(days=7)
        ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
    rec = ep.plan(rules=rules)
    assert rec.profile is not None and rec.profile.history is not None
    assert rec.profile.history.pregnancy_weeks == pytest.approx(17 + (day - START).days / 7, abs=0.01)
    assert _limits_hold(rec, rules) == []
    assert first.program is not None and rec.program is not None
    gone = {p.exercise.id for ph in first.program.phases for p in ph.prescriptions} - {
        p.exercise.id for ph in rec.program.phases for p in ph.prescriptions}
    assert gone, "an exercise allowed at 17 weeks should leave once the pack's limit is passed"
    dropped = [c for r in rec.adjustments for c in r.changes if c.action == "drop" and c.exercise_id in gone]
    assert dropped and all(c.rule_ids and r.reason_of(c) for r in rec.adjustments for c in r.changes
                           if c in dropped)


def test_daily_reports_do_not_speed_up_progression(rules: RuleSet) -> None:
    """Reporting every day steps a dose up no more often than the pack's days at dose allow."""
    ep = _start(EXTENSION, rules)
    day = START
    for _ in range(16):
        day += datetime.timedelta(days=1)
        ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
    rec = ep.plan(rules=rules)
    steps = [(r.feedback.date, c.exercise_id) for r in rec.adjustments for c in r.changes
             if c.action == "progress"]
    assert steps, "comfortable days over two weeks should progress something"
    by_exercise: dict[str, list[datetime.date]] = {}
    for when, eid in steps:
        assert when is not None and eid is not None
        by_exercise.setdefault(eid, []).append(when)
    first_day = rec.adjustments[0].feedback.date
    assert first_day is not None
    for days in by_exercise.values():
        gaps = [(b - a).days for a, b in zip([first_day, *days], days, strict=False)]
        assert min(gaps) >= MIN_DAYS


def test_a_gap_restarts_without_progress_or_a_phase_move(rules: RuleSet) -> None:
    """Back after a gap longer than the pack's threshold: no dose rises and no phase starts that day."""
    ep = _start(EXTENSION, rules)
    day = START
    for _ in range(10):
        day += datetime.timedelta(days=1)
        ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
    before = ep.plan(rules=rules)
    day += datetime.timedelta(days=GAP_DAYS + 21)
    ep = ep.add(_round(day, _responses(before)), rules=rules)
    last = ep.plan(rules=rules).adjustments[-1]
    assert {c.action for c in last.changes}.isdisjoint({"progress", "advance"})
    assert "adjust.gap.restart" in {f.rule_id for f in last.trace}


def test_emergency_round_records_no_change_and_refuses_feedback_until_cleared(rules: RuleSet) -> None:
    """A new emergency sign changes nothing in the program; exercise feedback then waits for a clearance."""
    ep = _start(EXTENSION, rules)
    day = START + datetime.timedelta(days=8)
    plan = ep.plan(rules=rules)
    ep = ep.add(_round(day, _responses(plan), new_red_flags=[EMERGENCY_FLAG]), rules=rules)
    rec = ep.plan(rules=rules)
    assert rec.outcome == "refer" and rec.adjustments[-1].changes == []
    with pytest.raises(FeedbackError) as info:
        ep.add(_round(day + datetime.timedelta(days=1), _responses(plan)), rules=rules)
    assert info.value.code == "feedback-after-referral"
    ep = ep.add({"kind": "clearance", "date": (day + datetime.timedelta(days=3)).isoformat(),
                 "by": "Dr A", "note": "scan clear; resume"}, rules=rules)
    resumed = ep.plan(rules=rules)
    assert resumed.outcome == "program"
    ep = ep.add(_round(day + datetime.timedelta(days=4), _responses(resumed)), rules=rules)
    assert len(ep.plan(rules=rules).adjustments) == 1


def test_a_hold_ends_only_with_a_reassessment(rules: RuleSet) -> None:
    """After symptoms spread, the plan holds through good rounds until a clinician reassesses."""
    ep = _start(EXTENSION, rules)
    day = START + datetime.timedelta(days=1)
    plan = ep.plan(rules=rules)
    spread = frozenset(r["exercise_id"] for r in _responses(plan)[:1])
    ep = ep.add(_round(day, _responses(plan, spread=spread)), rules=rules)
    for _ in range(4):
        day += datetime.timedelta(days=7)
        ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
        held = ep.plan(rules=rules)
        assert held.program is not None and held.program.hold is not None
        assert {c.action for c in held.adjustments[-1].changes}.isdisjoint({"progress", "advance"})
    ep = ep.add({"kind": "reassessment", "date": day.isoformat(), "by": "PT B",
                 "note": "centralising again"}, rules=rules)
    after = ep.plan(rules=rules)
    assert after.program is not None and after.program.hold is None
    assert all(not set(w.rule_ids) <= {"adjust.hold.peripheralized"} for w in after.warnings)


def test_events_out_of_order_and_without_intake_are_refused(rules: RuleSet) -> None:
    """An episode starts with an intake, and events come in date order; both refusals are coded."""
    with pytest.raises(FeedbackError) as info:
        Episode().add(_round(START, []), rules=rules)
    assert info.value.code == "intake-required"
    ep = _start(EXTENSION, rules)
    with pytest.raises(FeedbackError) as info:
        ep.add(_round(START - datetime.timedelta(days=1), []), rules=rules)
    assert info.value.code == "event-out-of-order"


def test_twelve_weekly_rounds_store_compactly(rules: RuleSet) -> None:
    """Twelve weekly rounds are stored as events under 25 KB of JSON, and reload to the same plan."""
    ep = _start(EXTENSION, rules)
    day = START
    for _ in range(12):
        day += datetime.timedelta(days=7)
        ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
    text = ep.model_dump_json()
    assert len(text.encode()) < 25_000
    again = Episode.model_validate_json(text)
    assert again.plan(rules=rules).model_dump_json() == ep.plan(rules=rules).model_dump_json()


def test_a_response_dated_after_its_round_names_its_location(rules: RuleSet) -> None:
    """A response dated after its round is refused with the response's date as the error's location."""
    ep = _start(EXTENSION, rules)
    late = _responses(ep.plan(rules=rules))[:1]
    late[0]["date"] = (START + datetime.timedelta(days=3)).isoformat()
    with pytest.raises(ValidationError) as info:
        ep.add(_round(START + datetime.timedelta(days=2), late), rules=rules)
    found = [e for e in info.value.errors() if e["type"] == "date-after-round"]
    assert found and found[0]["loc"][-3:] == ("responses", 0, "date")
    with pytest.raises(ValidationError) as direct:
        backrx.Feedback.model_validate({"date": START.isoformat(), "responses": late})
    assert [e["loc"] for e in direct.value.errors()] == [("responses", 0, "date")]


def test_a_whole_day_answer_fills_each_response_and_conflicts_are_refused() -> None:
    """A round's next-day answer covers the day's responses; a contradicting own answer is refused at it."""
    day = START.isoformat()
    both = [{"exercise_id": "prone-press-up", "pain_during": 2},
            {"exercise_id": "cat-camel", "pain_during": 2}]
    fb = backrx.Feedback.model_validate({"date": day, "next_day": "worse", "responses": both})
    assert [r.next_day for r in fb.responses] == ["worse", "worse"]
    named = backrx.Feedback.model_validate({"date": day, "next_day": "worse", "suspects": ["cat-camel"],
                                            "responses": both})
    assert {r.exercise_id: r.next_day for r in named.responses} == {"prone-press-up": "same",
                                                                    "cat-camel": "worse"}
    assert backrx.Feedback.model_validate(named.model_dump(mode="json")) == named
    with pytest.raises(ValidationError) as info:
        backrx.Feedback.model_validate({"date": day, "next_day": "same", "responses": [
            {**both[0], "next_day": "worse"}]})
    assert [(e["type"], e["loc"]) for e in info.value.errors()] == [
        ("next-day-conflict", ("responses", 0, "next_day"))]
    with pytest.raises(ValidationError) as missing:
        backrx.Feedback.model_validate({"date": day, "responses": both[:1]})
    assert [e["type"] for e in missing.value.errors()] == ["next-day-required"]


def test_a_phase_reset_restarts_the_phase_clock(rules: RuleSet) -> None:
    """After a reassessment resets the phase, its days count from the reassessment, not from before."""
    ep = _start(EXTENSION, rules)
    day = START
    for _ in range(10):
        day += datetime.timedelta(days=1)
        ep = ep.add(_round(day, _responses(ep.plan(rules=rules), pain=5)), rules=rules)
    phase = ep.plan(rules=rules).program
    assert phase is not None
    reset = day + datetime.timedelta(days=1)
    ep = ep.add({"kind": "reassessment", "date": reset.isoformat(), "by": "PT", "end_hold": True,
                 "reset_phase": phase.current_phase}, rules=rules)
    day = reset + datetime.timedelta(days=2)
    ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
    status = ep.plan(rules=rules).progress
    assert status is not None and status.phase is not None
    assert status.phase.days == (day - reset).days
    assert status.phase.phase == phase.current_phase


def test_from_recommendation_carries_the_overrides_over(rules: RuleSet) -> None:
    """A stored history with a clinician override becomes an episode whose plan keeps that override."""
    rec = rules.recommend(EXTENSION)
    day = START + datetime.timedelta(days=1)
    rec = backrx.adjust(rec, {"date": day.isoformat(), "responses": _responses(rec)}, rules=rules)
    assert rec.program is not None
    target = next(p.exercise.id for p in rec.program.phase_now.prescriptions
                  if p.exercise.category != "education")
    rec = backrx.override(rec, {"remove": [{"phase": rec.program.current_phase, "exercise_id": target}]},
                          reason="not tolerated in clinic", by="PT E", rules=rules)
    ep = Episode.from_recommendation(rec, START)
    kinds = [e.kind for e in ep.events]
    assert kinds == ["intake", "round", "override"]
    plan = ep.plan(rules=rules)
    assert [(o.kind, o.exercise_id, o.by, o.after_round) for o in plan.overrides] == [
        (o.kind, o.exercise_id, o.by, o.after_round) for o in rec.overrides]
    assert plan.program is not None
    assert target not in {p.exercise.id for p in plan.program.phase_now.prescriptions}


def test_a_gap_warning_lasts_only_for_the_round_back(rules: RuleSet) -> None:
    """The warning raised on the day back after a gap is gone after the next round."""
    ep = _start(EXTENSION, rules)
    day = START + datetime.timedelta(days=1)
    ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
    day += datetime.timedelta(days=GAP_DAYS + 3)
    ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
    assert GAP_WARNING in {w.code for w in ep.plan(rules=rules).warnings}
    day += datetime.timedelta(days=1)
    ep = ep.add(_round(day, _responses(ep.plan(rules=rules))), rules=rules)
    assert GAP_WARNING not in {w.code for w in ep.plan(rules=rules).warnings}


def _stop_flexion(rules: RuleSet) -> tuple[Episode, str]:
    """Two independent spreading signs in flexion, with an exercise of that direction reported fine."""
    ep = _start(FLEXION, rules)
    fine = {"pain_during": 1, "next_day": "better", "peripheralized": False}
    kept = "walking-forward-lean"
    for day, culprit in ((START, "double-knee-to-chest"), (START + datetime.timedelta(days=1),
                                                            "posterior-pelvic-tilt")):
        ep = ep.add(_round(day, [{"exercise_id": culprit, "pain_during": 3, "next_day": "same",
                                  "peripheralized": True}, {"exercise_id": kept, **fine}]), rules=rules)
    rec = ep.plan(rules=rules)
    assert rec.program is not None and rec.program.stopped_directions == ["flexion"]
    assert kept in rec.program.tolerated
    return ep, kept


def _kept_dose(rec: Recommendation, exercise_id: str) -> dict[str, Any]:
    assert rec.program is not None
    found = next(p for p in rec.program.phase_now.prescriptions if p.exercise.id == exercise_id)
    return found.dose.model_dump(exclude_none=True)


def test_a_stopped_direction_holds_its_kept_exercise_until_a_reassessment_lifts_it(rules: RuleSet) -> None:
    """An exercise kept in a stopped direction never steps up, even when confirmed; lifting lets it."""
    ep, kept = _stop_flexion(rules)
    start = _kept_dose(ep.plan(rules=rules), kept)
    day = START + datetime.timedelta(days=2)
    ep = ep.add({"kind": "reassessment", "date": day.isoformat(), "by": "PT",
                 "confirm_directions": ["flexion"]}, rules=rules)
    fine = [{"exercise_id": kept, "pain_during": 1, "next_day": "better", "peripheralized": False}]
    for _ in range(3):
        day += datetime.timedelta(days=MIN_DAYS)
        ep = ep.add(_round(day, fine), rules=rules)
        rec = ep.plan(rules=rules)
        assert "adjust.hold.direction-stopped" in {f.rule_id for f in rec.adjustments[-1].trace}
        assert _kept_dose(rec, kept) == start
    ep = ep.add({"kind": "reassessment", "date": day.isoformat(), "by": "PT", "lift_directions": ["flexion"]},
                rules=rules)
    day += datetime.timedelta(days=MIN_DAYS)
    ep = ep.add(_round(day, fine), rules=rules)
    rec = ep.plan(rules=rules)
    assert rec.program is not None and rec.program.stopped_directions == []
    assert [c.exercise_id for c in rec.adjustments[-1].changes if c.action == "progress"] == [kept]
    assert _kept_dose(rec, kept) != start


def test_a_phase_override_restarts_the_phase_clock(rules: RuleSet) -> None:
    """A clinician's phase move counts the new phase's days from its own day, and replays the same."""
    rec = rules.recommend(EXTENSION)
    walk = [{"exercise_id": "walking-program", "pain_during": 1, "next_day": "same", "peripheralized": False}]
    for offset in (1, 15):
        day = START + datetime.timedelta(days=offset)
        rec = backrx.adjust(rec, {"date": day.isoformat(), "responses": walk}, rules=rules)
    assert rec.program is not None
    target = next(p.id for p in rec.program.phases if p.id != rec.program.current_phase)
    moved_on = START + datetime.timedelta(days=17)
    original = rules.recommend(EXTENSION).program
    rec = backrx.override(rec, {"phase": target}, reason="ready in clinic", by="PT F",
                          at=f"{moved_on.isoformat()}T10:00:00+01:00", rules=rules)
    assert rec.program is not None and rec.program.phase_started is not None
    assert rec.program.phase_started.date == moved_on
    assert original is not None
    assert backrx.replay(original, rec.adjustments, overrides=rec.overrides) == rec.program
    day = moved_on + datetime.timedelta(days=3)
    rec = backrx.adjust(rec, {"date": day.isoformat(), "responses": walk}, rules=rules)
    status = rec.progress.phase if rec.progress is not None else None
    assert status is not None and status.phase == target and status.days == 3


class Timelines(RuleBasedStateMachine):
    """Generated timelines: rounds at any pace, flares, spreading, gaps, reassessments, referrals."""

    def __init__(self) -> None:
        super().__init__()
        self.rules = default_rules()
        self.ep = _start(PREGNANT, self.rules)
        self.day = START
        self.referred = False
        self.seen: set[str] = set()  # exercises reported in the current phase since its clock started
        self.cleared: set[str] = set()  # reported on the last round, a good day, at the dose they still hold
        self.reset: datetime.date | None = None  # the last phase reset, until the phase moves
        self.last_round: datetime.date | None = None
        self.first_round: datetime.date | None = None  # of the current plan (a clearance makes a new one)
        self.progressed: dict[str, datetime.date] = {}  # the last day each exercise stepped up

    @initialize(profile=st.sampled_from([PREGNANT, FLEXION]), stop=st.booleans(), data=st.data())
    def intake(self, profile: dict[str, Any], stop: bool, data: st.DataObject) -> None:
        """The intake; on some timelines a direction is stopped in the first days, and confirmed."""
        self.ep = _start(profile, self.rules)
        if stop and self._directions():
            self._spread_twice(1, data)
            if not self.referred:
                self.reassess_direction(0, lift=False)  # confirmed: the hold ends, the stop stands

    def _plan(self) -> Recommendation:
        return self.ep.plan(rules=self.rules)

    def _forget(self) -> None:
        self.seen, self.cleared = set(), set()

    @precondition(lambda self: not self.referred)
    @rule(step=st.integers(1, 40), pain=st.integers(0, 7), worse=st.booleans(), spread=st.integers(0, 6),
          whole_day=st.booleans(), skip=st.integers(0, 6), centralized=st.booleans())
    def report(self, step: int, pain: int, worse: bool, spread: int, whole_day: bool, skip: int,
               centralized: bool) -> None:
        before = self._plan()
        assume(before.program is not None)
        assert before.program is not None
        self.day += datetime.timedelta(days=step)
        responses = _responses(before, pain=pain, next_day="worse" if worse else "same")
        if len(responses) > 1 and skip < len(responses):
            del responses[skip]  # not every exercise is done every day
        spreading = spread < len(responses)
        if spreading:
            responses[spread]["peripheralized"] = True
        for r in responses:
            r["centralized"] = centralized and not r["peripheralized"]
        extra: dict[str, Any] = {}
        if whole_day:
            for r in responses:
                del r["next_day"]
            extra["next_day"] = "worse" if worse else "same"
        self.ep = self.ep.add(_round(self.day, responses, **extra), rules=self.rules)
        after = self._plan()
        last = after.adjustments[-1]
        actions = {c.action for c in last.changes}
        back = self.last_round is not None and (self.day - self.last_round).days > GAP_DAYS
        gap = back and len(after.adjustments) > 1
        self.last_round = self.day
        if gap:
            assert actions.isdisjoint({"progress", "advance"})
        self._nothing_into_stopped(before, after)
        if before.program.hold is not None:
            assert actions.isdisjoint({"progress", "advance"})
        self._paced(last)
        done = {r["exercise_id"] for r in responses}
        if worse and not spreading and pain <= 5 and not gap and done - self.seen:
            # A worse day with an exercise never done before in this phase: what was cleared on
            # the last round, a good day, is not blamed again.
            for c in last.changes:  # (a population limit that now applies is not blame)
                blamed = c.action in BLAMES and any(rid.startswith("adjust.") for rid in c.rule_ids)
                assert not (blamed and c.exercise_id in self.cleared & done), c
        self._carried(before, after)
        self._warnings_end(after, gap)
        self._phase_clock(after)
        moved = last.phase_after != last.phase_before
        if moved or gap:
            self._forget()
        changed = {c.exercise_id for c in last.changes if c.action in ("progress", "regress", "reintroduce")}
        self.seen |= done
        self.cleared = set() if worse or spreading or moved or gap else done - changed
        self.referred = after.outcome == "refer"
        if moved:
            self.reset = None

    @precondition(lambda self: not self.referred)
    @rule(step=st.integers(MIN_DAYS, 2 * MIN_DAYS))
    def good_week(self, step: int) -> None:
        """A comfortable round a week or more on, every exercise done, nothing worse or spreading."""
        self.report(step, pain=1, worse=False, spread=10_000, whole_day=False, skip=10_000, centralized=False)

    def _nothing_into_stopped(self, before: Recommendation, after: Recommendation) -> None:
        """Until a reassessment lifts it, nothing progresses into a stopped direction, in any phase:
        no dose rises, no harder variant comes, and a phase move brings no exercise of it in."""
        assert before.program is not None
        stopped = set(before.program.stopped_directions)
        if not stopped or after.program is None:
            return
        pack = self.rules.pack
        for c in after.adjustments[-1].changes:
            if c.action == "progress" and c.exercise_id is not None:
                assert pack.exercises[c.exercise_id].direction not in stopped, c
            if c.prescription is not None and c.action != "regress":
                assert c.prescription.exercise.direction not in stopped, c
        was = {p.exercise.id: p.dose for p in before.program.phase_now.prescriptions}
        for p in after.program.phase_now.prescriptions:
            if p.exercise.direction not in stopped:
                continue
            assert p.exercise.id in was, p.exercise.id  # nothing new in a stopped direction
            for part, value in p.dose.model_dump(exclude_none=True).items():
                old = getattr(was[p.exercise.id], part)
                assert old is None or value <= old, (p.exercise.id, part)

    def _paced(self, last: Any) -> None:
        """However often the person reports, a dose steps up at most once per the pack's days at
        dose, and not before that many days from the plan's first round."""
        if self.first_round is None:
            self.first_round = self.day
        for c in last.changes:
            if c.action != "progress" or c.exercise_id is None:
                continue
            assert (self.day - self.first_round).days >= MIN_DAYS
            previous = self.progressed.get(c.exercise_id)
            assert previous is None or (self.day - previous).days >= MIN_DAYS
            self.progressed[c.exercise_id] = self.day

    def _carried(self, before: Recommendation, after: Recommendation) -> None:
        """When a phase starts, the dose reached in a carried category does not drop."""
        last = after.adjustments[-1]
        if "advance" not in {c.action for c in last.changes} or after.program is None:
            return
        assert before.program is not None
        touched = {c.exercise_id for c in last.changes if c.action != "carry"}
        new_phase = after.program.phase_now.prescriptions
        for p in before.program.phase_now.prescriptions:
            if p.exercise.category not in CARRIED or p.exercise.id in touched or p.dose.minutes is None:
                continue
            for q in new_phase:
                if q.exercise.id == p.exercise.id and q.dose.minutes is not None:
                    assert q.dose.minutes >= p.dose.minutes

    def _warnings_end(self, after: Recommendation, gap: bool) -> None:
        """A gap's warning stands only on the round back; a hold's only while the plan holds."""
        codes = {w.code for w in after.warnings}
        if not gap:
            assert GAP_WARNING not in codes
        if after.program is not None and after.program.hold is None:
            assert HOLD_WARNING not in codes

    def _phase_clock(self, after: Recommendation) -> None:
        """After a phase reset, the phase's days count from the reassessment."""
        status = after.progress.phase if after.progress is not None else None
        if self.reset is not None and status is not None and status.days is not None:
            assert status.days <= (self.day - self.reset).days

    @precondition(lambda self: not self.referred)
    @rule(step=st.integers(1, 10))
    def emergency(self, step: int) -> None:
        before = self._plan()
        assume(before.program is not None)
        self.day += datetime.timedelta(days=step)
        self.ep = self.ep.add(_round(self.day, _responses(before), new_red_flags=[EMERGENCY_FLAG]),
                              rules=self.rules)
        after = self._plan()
        assert after.outcome == "refer" and after.adjustments[-1].changes == []
        self.referred = True
        self.last_round = self.day

    @precondition(lambda self: self.referred)
    @rule(step=st.integers(1, 5))
    def feedback_refused_then_cleared(self, step: int) -> None:
        self.day += datetime.timedelta(days=step)
        with pytest.raises(FeedbackError) as info:
            self.ep.add(_round(self.day, [{"exercise_id": "walking-program", "pain_during": 1,
                                           "next_day": "same", "peripheralized": False}]), rules=self.rules)
        assert info.value.code == "feedback-after-referral"
        self.ep = self.ep.add({"kind": "clearance", "date": self.day.isoformat(), "by": "Dr C",
                               "note": "cleared to resume"}, rules=self.rules)
        self._forget()
        self.reset = None
        self.first_round, self.progressed = None, {}
        self.referred = self._plan().outcome == "refer"

    @rule(step=st.integers(0, 14), reset=st.booleans())
    def reassess(self, step: int, reset: bool) -> None:
        self.day += datetime.timedelta(days=step)
        event: dict[str, Any] = {"kind": "reassessment", "date": self.day.isoformat(), "by": "PT D"}
        plan = self._plan()
        if reset and plan.program is not None:
            event["reset_phase"] = plan.program.current_phase
        self.ep = self.ep.add(event, rules=self.rules)
        rec = self._plan()
        assert rec.program is None or rec.program.hold is None
        assert HOLD_WARNING not in {w.code for w in rec.warnings}
        if "reset_phase" in event:
            self.reset = self.day
            self._forget()
            if self.first_round is None:  # the plan's clock (and its time at dose) starts here
                self.first_round = self.day

    def _directions(self) -> dict[str, list[str]]:
        """Directions with two movement families in the current phase: one exercise of each."""
        plan = self._plan()
        families: dict[str, dict[str, str]] = {}
        for p in plan.program.phase_now.prescriptions if plan.program is not None else []:
            if p.exercise.direction != "neutral" and p.exercise.category != "education" \
                    and p.exercise.direction not in plan.program.stopped_directions:
                entry = self.rules.pack.exercises[p.exercise.id]
                families.setdefault(p.exercise.direction, {}).setdefault(family_of(entry), p.exercise.id)
        return {d: sorted(found.values())[:2] for d, found in sorted(families.items()) if len(found) >= 2}

    @precondition(lambda self: not self.referred and bool(self._directions()))
    @rule(step=st.integers(1, 7), data=st.data())
    def spread_twice(self, step: int, data: st.DataObject) -> None:
        """Symptoms spread with two movement families of one direction on two days: it stops."""
        self._spread_twice(step, data)

    def _spread_twice(self, step: int, data: st.DataObject) -> None:
        usable = self._directions()
        direction = data.draw(st.sampled_from(sorted(usable)))
        for culprit in usable[direction]:
            before = self._plan()
            assert before.program is not None
            present = {p.exercise.id for p in before.program.phase_now.prescriptions}
            assert culprit in present  # another family's spreading does not take it out
            self.day += datetime.timedelta(days=step)
            responses = _responses(before, spread=frozenset({culprit}))
            self.ep = self.ep.add(_round(self.day, responses), rules=self.rules)
            after = self._plan()
            self.first_round = self.first_round or self.day
            self.last_round = self.day
            self._nothing_into_stopped(before, after)
            self._paced(after.adjustments[-1])
            self._forget()
            self.referred = after.outcome == "refer"
            if self.referred:
                return
        rec = self._plan()
        assert rec.program is not None and direction in rec.program.stopped_directions

    def _stopped(self) -> list[str]:
        program = self._plan().program
        return list(program.stopped_directions) if program is not None else []

    @precondition(lambda self: not self.referred and bool(self._stopped()))
    @rule(step=st.integers(0, 14), lift=st.booleans())
    def reassess_direction(self, step: int, lift: bool) -> None:
        """A clinician confirms or lifts every stopped direction; lifting lets them progress again."""
        plan = self._plan()
        assert plan.program is not None
        self.day += datetime.timedelta(days=step)
        directions = list(plan.program.stopped_directions)
        key = "lift_directions" if lift else "confirm_directions"
        self.ep = self.ep.add({"kind": "reassessment", "date": self.day.isoformat(), "by": "PT G",
                               key: directions}, rules=self.rules)
        rec = self._plan()
        assert rec.program is not None
        assert rec.program.stopped_directions == ([] if lift else directions)
        assert STOP_WARNING not in {w.code for w in rec.warnings}

    @invariant()
    def limits_hold_on_the_last_event_date(self) -> None:
        rec = self._plan()
        if rec.program is not None:
            assert _limits_hold(rec, self.rules) == []

    def teardown(self) -> None:
        replayed = self.ep.replay(rules=self.rules).model_dump_json()
        assert replayed == self._plan().model_dump_json()
        assert Episode.model_validate_json(self.ep.model_dump_json()).replay(
            rules=self.rules).model_dump_json() == replayed


Timelines.TestCase.settings = settings(max_examples=40, stateful_step_count=12, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
test_generated_timelines = Timelines.TestCase
test_generated_timelines.__doc__ = (
    "Over generated timelines: replay is byte-identical, limits hold at every event date, doses rise "
    "no faster than the time at dose allows, nothing progresses into a stopped direction until a "
    "reassessment lifts it, gaps, holds, emergencies and referrals behave, a cleared "
    "exercise is not blamed again, walks do not drop, warnings end with their cause and a phase reset "
    "restarts the clock.")


def test_adjust_stays_a_thin_layer(rules: RuleSet) -> None:
    """The plan of an episode equals recommend then adjust on the same dated feedback (same day)."""
    ep = _start(EXTENSION, rules)
    day = START
    fb = {"date": day.isoformat(), "responses": _responses(ep.plan(rules=rules))}
    ep = ep.add({"kind": "round", "date": day.isoformat(), "feedback": fb}, rules=rules)
    direct = backrx.adjust(rules.recommend(EXTENSION), fb, rules=rules)
    assert ep.plan(rules=rules).model_dump_json() == direct.model_dump_json()
