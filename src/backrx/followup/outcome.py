"""What the adjust rules say in one round, and the facts they read.

`Adjuster` derives the facts of one round (the feedback as a whole, then each response)
from the recommendation, its history and the new feedback, and runs the pack's ``adjust`` layer
over them through the runner every layer uses (`backrx.RuleSet.decide_facts`);
`Outcome` holds what the rules concluded, for `backrx.followup.revision.Revision` to
carry out.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backrx.followup.doses import raise_dose
from backrx.followup.history import Timeline, latest_walk, measure_changes, steady, whole_weeks
from backrx.followup.history import timeline as read_timeline
from backrx.lang.condition import Value
from backrx.model.feedback import ExerciseResponse, Feedback
from backrx.model.recommendation import Firing, MeasureChange, Recommendation
from backrx.model.vocabulary import DIRECTIONS, URGENCIES
from backrx.pack.model import ADJUST_ACTIONS, CatalogEntry, Pack, Rule
from backrx.ruleset import RuleSet
from backrx.run.decision import Decision, add_unique
from backrx.run.evidence import evidence_model
from backrx.run.planner import Planner


@dataclass
class Outcome:
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


def adjust_layer(rules: RuleSet) -> Any:
    """The layer whose rules read a round of feedback (its file declares ``inputs: feedback``)."""
    return next(layer for layer in rules.pack.layers if layer.inputs == "feedback")


def run_rules(rules: RuleSet, values: dict[str, Value], outcome: Outcome, exercise_id: str | None,
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

    decision = rules.decide_facts(values, layers=(adjust_layer(rules).name,), accept=wanted)
    # The runner has merged this pass by the action table's policies (run.decision.merge_of): the
    # most urgent referral, the most conservative action, the longest hold, the first rule that
    # eliminates, advances or stops a direction. The round joins its passes with the same policies.
    outcome.urgency = _more_urgent(outcome.urgency, decision.urgency)
    add_unique(outcome.reasons, decision.referral_reasons)
    add_unique(outcome.referral_rules, decision.referral_rules)
    add_unique(outcome.safety_net, decision.safety_net)
    outcome.warnings.extend(decision.warnings)
    for fired in decision.fired:
        rule = fired.rule
        if rule.then.criterion is not None:
            add_unique(outcome.criteria, [rule.then.criterion])  # kept in the round's criteria_met
        elif not any(f.rule_id == rule.id for f in outcome.firings):
            outcome.firings.append(Firing(
                rule_id=rule.id, layer=rule.layer, title=rule.title, rationale=fired.rationale,
                sources=list(rule.sources), patient=fired.patient,
                matched={k: sorted(v) if isinstance(v, frozenset) else v for k, v in fired.matched.items()},
                evidence=evidence_model(rule),
            ))
    outcome.eliminate = outcome.eliminate or decision.eliminate
    outcome.advance = outcome.advance or decision.advance
    if decision.hold is not None and (outcome.hold is None or decision.hold[0] > outcome.hold[0]):
        outcome.hold = decision.hold
    if exercise_id is not None and decision.adjust is not None:
        current = outcome.actions.get(exercise_id)
        if current is None or ADJUST_ACTIONS.index(decision.adjust[0]) < ADJUST_ACTIONS.index(current[0]):
            outcome.actions[exercise_id] = decision.adjust
    if exercise_id is not None and decision.stop_direction is not None:
        outcome.stop_directions.append((exercise_id, decision.stop_direction))


def _more_urgent(held: str | None, new: str | None) -> str | None:
    """The more urgent of two referral tiers (None: no referral)."""
    if new is None or (held is not None and URGENCIES.index(held) <= URGENCIES.index(new)):
        return held
    return new


def review_open(rec: Recommendation, layer: Any) -> bool:
    """A referral that an adjust rule raised (a review) stands until a clinician's reassessment
    ends it (`backrx.followup.episode`)."""
    if rec.referral is None:
        return False
    ours = {rule.id for rule in layer.rules}
    return any(rid in ours for rid in rec.referral.rule_ids)


def base_values(feedback: Feedback) -> dict[str, Value]:
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
        "feedback.centralized_any": any(r.centralized is True for r in responses),
        "feedback.adverse_events": len(feedback.adherence.adverse_events) if feedback.adherence else 0,
        "program.elimination": False,
        "program.has_next_phase": False,
        "program.holding": False,
    }
    if responses:
        values["feedback.max_pain"] = max(r.pain_during for r in responses)
    if feedback.flare_started is not None:  # the flare plan (education.yaml, rules adjust.flare.*)
        values["feedback.flare_reported"] = True
        if feedback.date is not None:
            values["feedback.flare_days"] = max(0, (feedback.date - feedback.flare_started).days)
    return values


def outcome_values(rec: Recommendation, feedback: Feedback, pack: Pack,
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


class Adjuster:
    """One round being decided: the program, the feedback, its history and the facts derived."""

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
        self.layer = adjust_layer(rules)
        assert self.pack.planner is not None
        self.steps = self.pack.planner.adjusting

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
            **base_values(self.feedback),
            "feedback.all_settled": bool(responses) and all(tl.comfortable(r) for r in responses),
            "feedback.covers_phase": bool(present) and present <= answered,
            "program.elimination": self.program.elimination is not None,
            "program.has_next_phase": phase_ids.index(self.phase.id) < len(phase_ids) - 1,
            "program.holding": self.program.hold is not None,
            "phase.good_days": tl.streak(tl.comfortable),
            "phase.steady_days": tl.streak(steady),
            "feedback.after_gap": tl.restart,
            "program.review_open": review_open(self.rec, self.layer),
            "feedback.uncleared_worse": len({r.exercise_id for r in responses if r.next_day == "worse"
                                             and not tl.cleared(r.exercise_id, self.feedback.day_of(r))}),
        }
        if tl.gap_days is not None:
            values["feedback.gap_days"] = tl.gap_days
        days = tl.phase_days
        if days is not None:
            values["phase.days"] = days
            values["phase.days_left"] = max(0, self.phase_def.min_days - days)
        measured, self.measures = outcome_values(self.rec, self.feedback, self.pack, tl.first_date)
        values.update(measured)
        return values

    def _response_values(self, base: dict[str, Value], response: ExerciseResponse,
                         entry: CatalogEntry) -> dict[str, Value]:
        testing = self.program.elimination.testing if self.program.elimination else None
        dropped, stopped = list(self.program.dropped), list(self.program.stopped_directions)
        values: dict[str, Value] = {
            **base,
            "response.pain_during": response.pain_during,
            "exercise.direction": entry.direction,
            "exercise.category": entry.category,
            "exercise.load": entry.load,
            "exercise.has_easier": self.fits(entry.easier, dropped, stopped),
            "exercise.has_harder": self.fits(entry.harder, dropped, stopped),
            "exercise.reintroduced": testing == entry.id,
            "exercise.direction_signs": self.timeline.direction_signs(entry),
            "exercise.direction_stopped": entry.direction in stopped,
        }
        current = next((p for p in self.phase.prescriptions if p.exercise.id == entry.id), None)
        if current is not None:
            back = self.timeline.regressed_from.get(entry.id)
            values["exercise.at_top"] = raise_dose(current.dose, self.steps) is None and not (
                back is not None and back == entry.harder and self.fits(back, dropped, stopped))
        at_dose = self.timeline.days_at_dose(entry.id)
        if at_dose is not None:
            values["exercise.days_at_dose"] = at_dose
        values["exercise.sessions_at_dose"] = self.timeline.sessions_at_dose(entry.id)
        if response.next_day is not None:  # always answered once the feedback is validated
            values["response.next_day"] = response.next_day
        day = self.feedback.day_of(response)
        values["exercise.cleared"] = self.timeline.cleared(entry.id, day)
        values["response.uncleared_others"] = len({
            r.exercise_id for r in self.feedback.responses if r.exercise_id != entry.id
            and r.next_day == "worse" and self.feedback.day_of(r) == day
            and not self.timeline.cleared(r.exercise_id, day)})
        preference = self.rec.profile.directional_preference if self.rec.profile is not None else None
        if preference in DIRECTIONS:  # "none" and "unknown" name no direction
            values["exercise.preferred"] = entry.direction == preference
        if response.centralized is not None:
            values["response.centralized"] = response.centralized
        if response.peripheralized is not None:  # unanswered: absent, so no test on it holds
            values["response.peripheralized"] = response.peripheralized
        return values

    # ---- rules

    def decide(self) -> Outcome:
        outcome = Outcome()
        base = self._feedback_values()
        run_rules(self.rules, base, outcome, None, criteria=True)
        met = {f"{self.phase.id}.{c.id}" for c in self.phase_def.criteria} & set(outcome.criteria)
        outcome.criteria = [c for c in outcome.criteria if c in met]
        unmet = [c for c in self.phase_def.criteria if f"{self.phase.id}.{c.id}" not in met]
        base["phase.criteria_unmet"] = len(unmet)
        base["phase.quota_criteria_unmet"] = sum(c.quota for c in unmet)
        self.values = base
        run_rules(self.rules, base, outcome, None)
        for response in self.feedback.responses:
            entry = self.pack.exercises[response.exercise_id]
            run_rules(self.rules, self._response_values(base, response, entry), outcome,
                       response.exercise_id)
        return outcome


__all__ = ["Adjuster", "Outcome", "adjust_layer", "base_values", "outcome_values", "review_open", "run_rules"]
