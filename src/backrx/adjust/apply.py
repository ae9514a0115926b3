"""Test and measure: adjust a program from dated next-day responses.

The decisions are the pack's ``adjust`` rules; this module only carries them
out. For each round it reads the history (:mod:`backrx.adjust.history`: days in the
phase, streaks, signs, outcome change), runs the rules for the feedback as a
whole (the phase's progress criteria first, then the rest) and once per
exercise response, and applies, per exercise, the most conservative action any
rule chose (drop with its family, drop, regress, hold, progress), plus the
global ones (referral, hold, elimination mode, moving to the next phase).

Each round stores what changed as diffs by exercise id (:mod:`backrx.adjust.revision`);
:func:`replay` rebuilds the full program from the original and those diffs alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from backrx._version import __version__
from backrx.adjust.history import (
    Timeline,
    comfortable,
    earliest,
    latest_walk,
    measure_changes,
    steady,
    whole_weeks,
)
from backrx.adjust.history import timeline as read_timeline
from backrx.adjust.override import override_notices, replay_with_overrides
from backrx.adjust.revision import Revision, _raise
from backrx.adjust.revision import replay as _replay_rounds
from backrx.errors import FeedbackError
from backrx.lang.condition import Value
from backrx.model.feedback import ExerciseResponse, Feedback
from backrx.model.recommendation import (
    FORMAT_VERSION,
    AdjustmentRound,
    Change,
    CriterionStatus,
    Firing,
    MeasureChange,
    Notice,
    Override,
    PhaseStatus,
    Program,
    Progress,
    Recommendation,
    Referral,
)
from backrx.model.vocabulary import URGENCIES
from backrx.pack.rulepack import ADJUST_ACTIONS, CatalogEntry, Pack, Rule
from backrx.ruleset import RuleSet, default_rules
from backrx.run.decision import Decision, add_unique, note_referral, notices, referral_data
from backrx.run.evidence import evidence_model
from backrx.run.facts import profile_values
from backrx.run.planner import Planner

_BLOCKING = ("emergency", "urgent")


@dataclass
class _Outcome:
    """What the rules said in one round."""

    firings: list[Firing] = field(default_factory=list)
    actions: dict[str, tuple[str, Rule]] = field(default_factory=dict)  # exercise id -> action
    stop_directions: list[tuple[str, Rule]] = field(default_factory=list)
    eliminate: Rule | None = None
    advance: Rule | None = None
    hold: tuple[int, Rule] | None = None
    criteria: list[str] = field(default_factory=list)  # "<phase>.<criterion>" met
    urgency: str | None = None
    reasons: list[str] = field(default_factory=list)
    referral_rules: list[str] = field(default_factory=list)
    safety_net: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # code, message, rule id

    def rationale(self, rule: Rule) -> str:
        return next(f.rationale for f in self.firings if f.rule_id == rule.id)


def _adjust_layer(rules: RuleSet) -> Any:
    return next(layer for layer in rules.pack.layers if layer.name == "adjust")


def _run_rules(rules: RuleSet, values: dict[str, Value], outcome: _Outcome, exercise_id: str | None,
               *, criteria: bool = False) -> None:
    """Run the adjust layer once, through the runner every layer uses, recording what its rules
    say into ``outcome``.

    ``criteria`` runs only the rules compiled from progress criteria; otherwise they are skipped.
    Rules about one exercise act in the pass for its response, the others once, in the feedback
    pass. Each rule appears once per round in the trace (with its first match).
    """
    def wanted(rule: Rule) -> bool:
        if (rule.then.criterion is not None) != criteria:
            return False
        per_exercise = any(r.startswith(("response.", "exercise.")) for r in rule.reads)
        return per_exercise == (exercise_id is not None)

    decision = rules.decide_facts(values, layers=(_adjust_layer(rules).name,), accept=wanted)
    # Referrals, safety nets and warnings merge as in every other layer (run.decision).
    for fired in decision.fired:
        outcome.urgency = note_referral(fired.rule, outcome.urgency, outcome.reasons, outcome.referral_rules)
    add_unique(outcome.safety_net, decision.safety_net)
    outcome.warnings.extend(decision.warnings)
    for fired in decision.fired:
        rule = fired.rule
        then = rule.then
        if then.criterion is not None:
            add_unique(outcome.criteria, [then.criterion])  # kept in the round's criteria_met
            continue
        if not any(f.rule_id == rule.id for f in outcome.firings):
            outcome.firings.append(Firing(
                rule_id=rule.id, layer=rule.layer, title=rule.title, rationale=fired.rationale,
                sources=list(rule.sources), patient=fired.patient,
                matched={k: sorted(v) if isinstance(v, frozenset) else v for k, v in fired.matched.items()},
                evidence=evidence_model(rule),
            ))
        if then.eliminate and outcome.eliminate is None:
            outcome.eliminate = rule
        if then.advance and outcome.advance is None:
            outcome.advance = rule
        if then.hold_rounds and (outcome.hold is None or then.hold_rounds > outcome.hold[0]):
            outcome.hold = (then.hold_rounds, rule)
        if exercise_id is not None and then.adjust is not None:
            current = outcome.actions.get(exercise_id)
            if current is None or ADJUST_ACTIONS.index(then.adjust) < ADJUST_ACTIONS.index(current[0]):
                outcome.actions[exercise_id] = (then.adjust, rule)
        if exercise_id is not None and then.stop_direction:
            outcome.stop_directions.append((exercise_id, rule))


def _base_values(feedback: Feedback) -> dict[str, Value]:
    """The feedback-wide facts that need no program."""
    responses = feedback.responses
    values: dict[str, Value] = {
        "feedback.responses": len(responses),
        "feedback.worse_count": len({r.exercise_id for r in responses if r.next_day == "worse"}),
        "feedback.peripheralized_any": any(r.peripheralized is True for r in responses),
        "feedback.all_settled": False,
        "feedback.covers_phase": False,
        "feedback.new_red_flags": frozenset(feedback.new_red_flags),
        "feedback.days": len({feedback.day_of(r) for r in responses}),
        "program.elimination": False,
        "program.has_next_phase": False,
        "program.holding": False,
    }
    if responses:
        values["feedback.max_pain"] = max(r.pain_during for r in responses)
    return values


def _outcome_values(rec: Recommendation, feedback: Feedback, pack: Pack,
                    first: datetime.date | None) -> tuple[dict[str, Value], list[MeasureChange]]:
    """Facts about outcome measures: weeks since the start, and how many changed meaningfully."""
    changes = measure_changes(rec, [*(r.feedback for r in rec.adjustments), feedback], pack)
    counted = [m for m in changes if m.improved is not None]
    values: dict[str, Value] = {
        "outcomes.followed": len(counted),
        "outcomes.improved": sum(bool(m.improved) for m in counted),
        "outcomes.worsened": sum(bool(m.worsened) for m in counted),
    }
    weeks = whole_weeks(first, feedback.date)
    if weeks is not None:
        values["outcomes.weeks"] = weeks
    walk = latest_walk(rec, feedback)
    if walk is not None:
        values["outcomes.walk_minutes"] = walk
    return values, changes


class _Adjuster:
    def __init__(self, rules: RuleSet, rec: Recommendation, feedback: Feedback, decision: Decision) -> None:
        assert rec.profile is not None and rec.program is not None
        self.rules = rules
        self.pack = rules.pack
        self.rec = rec
        self.program = rec.program
        self.feedback = feedback
        self.decision = decision
        self.planner = Planner(self.pack, rec.profile, self.decision)
        self.phase = self.program.phase_now
        self.phase_def = next(p for p in self.pack.phases if p.id == self.phase.id)
        self.timeline: Timeline = read_timeline(rec, feedback, self.pack)
        self.measures: list[MeasureChange] = []
        self.values: dict[str, Value] = {}
        self.layer = _adjust_layer(rules)

    # ---- facts

    def fits(self, entry_id: str | None, dropped: Sequence[str], stopped: Sequence[str]) -> bool:
        """A variant the person can do: allowed by the rules, not dropped, not a stopped direction."""
        if entry_id is None or entry_id not in self.pack.exercises or entry_id in dropped:
            return False
        entry = self.pack.exercises[entry_id]
        if entry.direction in stopped:
            return False
        reasons, _ = self.planner.why_not(entry, self.phase.id)
        return not reasons

    def _feedback_values(self) -> dict[str, Value]:
        responses = self.feedback.responses
        present = {p.exercise.id for p in self.phase.prescriptions if p.exercise.category != "education"}
        answered = {r.exercise_id for r in responses}
        phase_ids = [p.id for p in self.program.phases]
        tl = self.timeline
        values: dict[str, Value] = {
            **self.decision.values,
            **_base_values(self.feedback),
            "feedback.all_settled": bool(responses) and all(comfortable(r) for r in responses),
            "feedback.covers_phase": bool(present) and present <= answered,
            "program.elimination": self.program.elimination is not None,
            "program.has_next_phase": phase_ids.index(self.phase.id) < len(phase_ids) - 1,
            "program.holding": self.program.hold is not None,
            "phase.good_days": tl.streak(comfortable),
            "phase.steady_days": tl.streak(steady),
        }
        days = tl.phase_days
        if days is not None:
            values["phase.days"] = days
            values["phase.days_left"] = max(0, self.phase_def.min_days - days)
        outcome_values, self.measures = _outcome_values(self.rec, self.feedback, self.pack, tl.first_date)
        values.update(outcome_values)
        return values

    def _response_values(self, base: dict[str, Value], response: ExerciseResponse,
                         entry: CatalogEntry) -> dict[str, Value]:
        testing = self.program.elimination.testing if self.program.elimination else None
        dropped, stopped = list(self.program.dropped), list(self.program.stopped_directions)
        values: dict[str, Value] = {
            **base,
            "response.pain_during": response.pain_during,
            "response.next_day": response.next_day,
            "exercise.direction": entry.direction,
            "exercise.category": entry.category,
            "exercise.load": entry.load,
            "exercise.has_easier": self.fits(entry.easier, dropped, stopped),
            "exercise.has_harder": self.fits(entry.harder, dropped, stopped),
            "exercise.reintroduced": testing == entry.id,
            "exercise.direction_signs": self.timeline.direction_signs(entry),
        }
        current = next((p for p in self.phase.prescriptions if p.exercise.id == entry.id), None)
        if current is not None:
            back = self.timeline.regressed_from.get(entry.id)
            values["exercise.at_top"] = _raise(current.dose) is None and not (
                back is not None and back == entry.harder and self.fits(back, dropped, stopped))
        at_dose = self.timeline.days_at_dose(entry.id)
        if at_dose is not None:
            values["exercise.days_at_dose"] = at_dose
        if response.peripheralized is not None:  # unanswered: absent, so no test on it holds
            values["response.peripheralized"] = response.peripheralized
        return values

    # ---- rules

    def decide(self) -> _Outcome:
        outcome = _Outcome()
        base = self._feedback_values()
        _run_rules(self.rules, base, outcome, None, criteria=True)
        met = {f"{self.phase.id}.{c.id}" for c in self.phase_def.criteria} & set(outcome.criteria)
        outcome.criteria = [c for c in outcome.criteria if c in met]
        unmet = [c for c in self.phase_def.criteria if f"{self.phase.id}.{c.id}" not in met]
        base["phase.criteria_unmet"] = len(unmet)
        base["phase.quota_criteria_unmet"] = sum(c.quota for c in unmet)
        self.values = base
        _run_rules(self.rules, base, outcome, None)
        for response in self.feedback.responses:
            entry = self.pack.exercises[response.exercise_id]
            _run_rules(self.rules, self._response_values(base, response, entry), outcome,
                       response.exercise_id)
        return outcome


# ---- checks


def _check(rec: Recommendation, feedback: Feedback) -> None:
    """Every response names an exercise of the current phase, once per day."""
    if rec.program is None:
        return
    phase = rec.program.phase_now
    present = {p.exercise.id for p in phase.prescriptions}
    seen: set[tuple[str, datetime.date | None]] = set()
    for i, response in enumerate(feedback.responses):
        loc: tuple[str | int, ...] = ("responses", i, "exercise_id")
        key = (response.exercise_id, feedback.day_of(response))
        if key in seen:
            raise FeedbackError(f"{response.exercise_id!r} already has a response for that day",
                                code="duplicate-response", loc=loc)
        seen.add(key)
        if response.exercise_id not in present:
            raise FeedbackError(
                f"{response.exercise_id!r} is not in the current phase ({phase.id}) of this program",
                code="not-in-phase", loc=loc)


def _check_dates(rec: Recommendation, feedback: Feedback, require: bool) -> None:
    """A dated round, later than every earlier one."""
    if feedback.date is None:
        if require:
            where = (f"format {rec.format_version}" if rec.format_version >= 2 else
                     "an older format; from now on every round is dated, and the phase clock starts "
                     "with the first dated round")
            raise FeedbackError(
                f"feedback needs its date (ISO 8601, YYYY-MM-DD): this recommendation is {where}",
                code="date-required", loc=("date",))
        return
    previous = [r.feedback.date for r in rec.adjustments if r.feedback.date is not None]
    if not previous:
        return
    last = previous[-1]
    for i, response in enumerate(feedback.responses):
        day = feedback.day_of(response)
        if day is not None and day <= last:
            raise FeedbackError(
                f"a response dated {day.isoformat()} is not after the last round ({last.isoformat()}); "
                "rounds must come in date order", code="round-out-of-order", loc=("responses", i, "date"))
    if feedback.date <= last:
        raise FeedbackError(
            f"this round ({feedback.date.isoformat()}) is not after the last one ({last.isoformat()}); "
            "rounds must come in date order", code="round-out-of-order", loc=("date",))


def _rules_for(rec: Recommendation, rules: RuleSet | None) -> RuleSet:
    chosen = rules if rules is not None else default_rules()
    if chosen.digest != rec.ruleset.digest:
        raise FeedbackError(
            f"this recommendation was made by rule pack {rec.ruleset.name} {rec.ruleset.version} "
            f"({rec.ruleset.digest[:19]}); pass rules=load_rules(<that pack>) to adjust it, or re-plan "
            "it on this pack with backrx.migrate(rec, rules)",
            code="pack-changed", loc=("recommendation", "ruleset", "digest"))
    if rec.profile is None:
        raise FeedbackError("this recommendation carries no profile, so it cannot be adjusted",
                            code="no-profile", loc=("recommendation", "profile"))
    program = rec.program
    if program is not None:
        pack = chosen.pack
        if [p.id for p in program.phases] != [p.id for p in pack.phases] or program.current_phase not in {
                p.id for p in pack.phases}:
            raise FeedbackError("the program's phases do not match the rule pack's; it was edited",
                                code="edited-program", loc=("recommendation", "program", "phases"))
        held = [p.exercise.id for ph in program.phases for p in ph.prescriptions]
        if program.elimination is not None:
            held += [p.exercise.id for p in program.elimination.queue]
        unknown = sorted({e for e in held if e not in pack.exercises})
        if unknown:
            raise FeedbackError(f"the program holds exercises the rule pack does not know: "
                                f"{', '.join(unknown)}; it was edited",
                                code="unknown-exercise", loc=("recommendation", "program"))
    return chosen


def _merge(referral: Referral | None, urgency: str | None, reasons: list[str],
           rule_ids: list[str], pack: Pack | None = None) -> Referral | None:
    """A referral with new reasons added; the most urgent tier wins."""
    if urgency is None:
        return referral
    if referral is not None:
        if URGENCIES.index(referral.urgency) < URGENCIES.index(urgency):
            urgency = referral.urgency
        reasons = list(dict.fromkeys((*referral.reasons, *reasons)))
        rule_ids = list(dict.fromkeys((*referral.rule_ids, *rule_ids)))
    if pack is not None:  # the tier's wording from the pack (urgency.yaml)
        return Referral.model_validate(referral_data(pack, urgency, reasons, rule_ids))
    return Referral(urgency=urgency, reasons=reasons, rule_ids=rule_ids)  # type: ignore[arg-type]


def _warnings(rec: Recommendation, outcome: _Outcome, changes: list[Change] | None = None) -> list[Notice]:
    """The recommendation's warnings with this round's added (one per code), including one for
    each clinician override this round undid."""
    earlier = [(n.code, n.message, rid) for n in rec.warnings for rid in n.rule_ids]
    undone = override_notices(rec, changes) if changes else []
    return [Notice.model_validate(n) for n in notices([*earlier, *outcome.warnings, *undone])]


def replay(original: Program, rounds: list[AdjustmentRound],
           overrides: Sequence[Override] = ()) -> Program:
    """Rebuild a program from the original and the recorded diffs alone; with ``overrides``
    (``rec.overrides``), each clinician override is applied again after the rounds it followed."""
    if overrides:
        return replay_with_overrides(original, rounds, overrides, _replay_rounds)
    return _replay_rounds(original, rounds)


def _status(adjuster: _Adjuster, program: Program, outcome: _Outcome) -> PhaseStatus:
    """The gate of the phase the person is in after this round."""
    phase_def = next(p for p in adjuster.pack.phases if p.id == program.current_phase)
    moved = phase_def.id != adjuster.phase.id
    days = 0 if moved and adjuster.feedback.date is not None else adjuster.timeline.phase_days
    met = set() if moved else set(outcome.criteria)
    # The criterion rules carry the person's text, in the recommendation's language.
    texts = {r.id: r.patient for r in adjuster.layer.rules if r.then.criterion is not None}
    return PhaseStatus(
        phase=phase_def.id, days=days, min_days=phase_def.min_days,
        days_left=max(0, phase_def.min_days - days) if days is not None else None,
        criteria=[CriterionStatus(id=c.id, text=texts.get(c.rule_id) or c.text,
                                  met=f"{phase_def.id}.{c.id}" in met, quota=c.quota)
                  for c in phase_def.criteria],
        quota=adjuster.decision.risk == "high", holding=program.hold is not None,
    )


# ---- entry points


def adjust(rec: Recommendation, feedback: Feedback | Mapping[str, Any], *,
           rules: RuleSet | None = None) -> Recommendation:
    """Adjust a recommendation from one dated round of next-day responses ("test and measure").

    Returns a new Recommendation whose ``adjustments`` gains one round. A recommendation of an
    older format (``format_version`` 1, backrx 0.1) is first re-planned on ``rules`` with
    :func:`backrx.migrate`; that first round may be undated, every later one needs a date. Raises
    ``pydantic.ValidationError`` for invalid feedback (naming the field) and
    :class:`backrx.FeedbackError` (with ``.code`` and ``.loc``) for everything refused after
    that: a round out of date order or without a date, a response about an exercise not in the
    current phase, a recommendation made by another pack or edited.
    """
    fb = feedback if isinstance(feedback, Feedback) else Feedback.model_validate(feedback)
    legacy = rec.format_version < FORMAT_VERSION
    if legacy:
        # Written before dated rounds (backrx 0.1): re-plan it on this pack once, replaying its
        # history (Recommendation.migration says what changed); this one round may be undated.
        chosen = rules if rules is not None else default_rules()
        if chosen.digest != rec.ruleset.digest:
            from backrx.adjust.migrate import migrate

            rec = migrate(rec, chosen)
        rules = chosen
    return _guarded(rec, fb, rules, require_date=not legacy)


def _guarded(rec: Recommendation, fb: Feedback, rules: RuleSet | None, *,
             require_date: bool) -> Recommendation:
    try:
        return _adjust(rec, fb, rules, require_date=require_date)
    except ValidationError as exc:
        # The request was valid; a stored recommendation that cannot be rebuilt is refused as such.
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        raise FeedbackError(f"the stored recommendation cannot be adjusted: {first['msg']}",
                            code="invalid-recommendation",
                            loc=("recommendation", *first["loc"])) from None


def _adjust(rec: Recommendation, fb: Feedback, rules: RuleSet | None, *,
            require_date: bool) -> Recommendation:
    chosen = _rules_for(rec, rules).for_locale(rec.locale)
    _check_dates(rec, fb, require_date)
    _check(rec, fb)
    number = len(rec.adjustments) + 1
    assert rec.profile is not None
    decision = chosen.decide_facts(profile_values(rec.profile))
    stamp = {"format_version": FORMAT_VERSION, "backrx_version": __version__}
    if rec.program is None or decision.refers:
        # No program to adjust (a referral): still act on new red flags and outcome measures. A
        # profile whose own triage refers (an edited recommendation) is referred again.
        outcome = _Outcome()
        dated = [earliest(r.feedback) for r in rec.adjustments if r.feedback.date is not None]
        values = {**decision.values, **_base_values(fb)}
        outcome_values, measures = _outcome_values(rec, fb, chosen.pack,
                                                   dated[0] if dated else earliest(fb))
        values.update(outcome_values)
        _run_rules(chosen, values, outcome, None)
        referral = _merge(rec.referral, decision.urgency, list(decision.referral_reasons),
                          list(decision.referral_rules))
        referral = _merge(referral, outcome.urgency, outcome.reasons, outcome.referral_rules,
                          chosen.pack)
        refers = referral is not None and referral.urgency in _BLOCKING
        phase = rec.program.current_phase if rec.program is not None else ""
        round_ = AdjustmentRound(round=number, feedback=fb, phase_before=phase, phase_after=phase,
                                 changes=[], trace=outcome.firings, elimination_after=None)
        return rec.model_copy(update={
            **stamp,
            "outcome": "refer" if refers else rec.outcome,
            "program": None if refers else rec.program,
            "referral": referral,
            "safety_net": list(dict.fromkeys((*rec.safety_net, *outcome.safety_net))),
            "warnings": _warnings(rec, outcome),
            "adjustments": [*rec.adjustments, round_],
            "progress": Progress(date=fb.date, phase=None, measures=measures,
                                 weeks=whole_weeks(dated[0] if dated else earliest(fb), fb.date)),
        })
    adjuster = _Adjuster(chosen, rec, fb, decision)
    outcome = adjuster.decide()
    apply = Revision(adjuster, outcome)
    apply.run()
    apply.keep_aerobic()
    program = apply.program()
    referral = _merge(rec.referral, outcome.urgency, outcome.reasons, outcome.referral_rules,
                      chosen.pack)
    refers = referral is not None and referral.urgency in _BLOCKING
    round_ = AdjustmentRound(
        round=number, feedback=fb, phase_before=adjuster.phase.id, phase_after=program.current_phase,
        changes=apply.changes, trace=outcome.firings, elimination_after=program.elimination,
        hold_after=program.hold, criteria_met=[c.split(".", 1)[1] for c in outcome.criteria],
    )
    progress = Progress(date=fb.date, weeks=whole_weeks(adjuster.timeline.first_date, fb.date),
                        phase=_status(adjuster, program, outcome), measures=adjuster.measures)
    return rec.model_copy(update={
        **stamp,
        "outcome": "refer" if refers else "program",
        "program": None if refers else program,
        "referral": referral,
        "safety_net": list(dict.fromkeys((*rec.safety_net, *outcome.safety_net))),
        "warnings": _warnings(rec, outcome, apply.changes),
        "adjustments": [*rec.adjustments, round_],
        "progress": progress,
    })


__all__ = ["adjust", "replay"]
