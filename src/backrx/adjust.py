"""Test and measure: adjust a program from next-day responses.

The decisions are the pack's ``adjust`` rules; this module only carries them
out. For each call it runs the rules once for the feedback as a whole and once
per exercise response, then applies, per exercise, the most conservative
action any rule chose (drop, regress, hold, progress), plus the global ones
(referral, elimination mode, moving to the next phase). Every change is
recorded with its before, after, reason and rule ids, so the history of a
program can be replayed (:func:`replay`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from backrx.condition import Value, fields_of
from backrx.decision import Decision, add_unique, decide, note_referral, notices, referral_data, render
from backrx.errors import FeedbackError
from backrx.evidence import evidence_model
from backrx.facts import profile_values
from backrx.feedback import ExerciseResponse, Feedback
from backrx.override import override_notices, replay_with_overrides
from backrx.planner import _Planner, keep_aerobic, no_aerobic_notice
from backrx.recommendation import (
    AdjustmentRound,
    Change,
    Dose,
    Elimination,
    Exclusion,
    Firing,
    Notice,
    Override,
    Prescription,
    Program,
    Recommendation,
    Referral,
)
from backrx.rulepack import ADJUST_ACTIONS, CatalogEntry, Pack, Rule
from backrx.ruleset import RuleSet, default_rules
from backrx.vocabulary import URGENCIES
from backrx.week import settle_week

_BLOCKING = ("emergency", "urgent")
#: How far one progression step may take each part of a dose.
_CAPS = {"reps": 12, "sets": 3, "minutes": 30, "hold_seconds": 30}


@dataclass
class _Outcome:
    """What the rules said in one call."""

    firings: list[Firing] = field(default_factory=list)
    actions: dict[str, tuple[str, Rule]] = field(default_factory=dict)  # exercise id -> action
    stop_directions: list[tuple[str, Rule]] = field(default_factory=list)
    eliminate: Rule | None = None
    advance: Rule | None = None
    urgency: str | None = None
    reasons: list[str] = field(default_factory=list)
    referral_rules: list[str] = field(default_factory=list)
    safety_net: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # code, message, rule id


def _invalid(loc: tuple[str | int, ...], code: str, message: str, value: object) -> ValidationError:
    detail: InitErrorDetails = {"type": PydanticCustomError(code, message), "loc": loc, "input": value}
    return ValidationError.from_exception_data("Feedback", [detail])


def _global_values(feedback: Feedback) -> dict[str, Value]:
    """The feedback-wide facts; the program-dependent ones are false (there is no program)."""
    responses = feedback.responses
    return {
        "feedback.responses": len(responses),
        "feedback.worse_count": sum(r.next_day == "worse" for r in responses),
        "feedback.peripheralized_any": any(r.peripheralized is True for r in responses),
        "feedback.all_settled": False,
        "feedback.covers_phase": False,
        "feedback.new_red_flags": frozenset(feedback.new_red_flags),
        "program.elimination": False,
        "program.has_next_phase": False,
    }


def _run_rules(rules: RuleSet, values: dict[str, Value], outcome: _Outcome, exercise_id: str | None) -> None:
    """Run the adjust layer once, recording what its rules say into ``outcome``."""
    index = next(i for i, layer in enumerate(rules.pack.layers) if layer.name == "adjust")
    layer = rules.pack.layers[index]
    for position in rules._engine.match(index, values):
        rule = layer.rules[position]
        per_exercise = any(r.startswith(("response.", "exercise.")) for r in rule.reads)
        if per_exercise != (exercise_id is not None):
            continue  # global rules act once, in the feedback pass
        matched = {name: values.get(name) for name in sorted(fields_of(rule.when))}
        outcome.firings.append(Firing(
            rule_id=rule.id, layer=rule.layer, title=rule.title,
            rationale=render(rule.rationale, values), sources=list(rule.sources),
            patient=render(rule.patient, values) if rule.patient else None,
            matched={k: sorted(v) if isinstance(v, frozenset) else v for k, v in matched.items()},
            evidence=evidence_model(rule),
        ))
        then = rule.then
        outcome.urgency = note_referral(rule, outcome.urgency, outcome.reasons, outcome.referral_rules)
        add_unique(outcome.safety_net, then.safety_net)
        outcome.warnings.extend((w.code, w.message, rule.id) for w in then.warn)
        if then.eliminate and outcome.eliminate is None:
            outcome.eliminate = rule
        if then.advance and outcome.advance is None:
            outcome.advance = rule
        if exercise_id is not None and then.adjust is not None:
            current = outcome.actions.get(exercise_id)
            if current is None or ADJUST_ACTIONS.index(then.adjust) < ADJUST_ACTIONS.index(current[0]):
                outcome.actions[exercise_id] = (then.adjust, rule)
        if exercise_id is not None and then.stop_direction:
            outcome.stop_directions.append((exercise_id, rule))


class _Adjuster:
    def __init__(self, rules: RuleSet, rec: Recommendation, feedback: Feedback, decision: Decision) -> None:
        assert rec.profile is not None and rec.program is not None
        self.rules = rules
        self.pack = rules.pack
        self.rec = rec
        self.program = rec.program
        self.feedback = feedback
        self.decision = decision
        self.planner = _Planner(self.pack, rec.profile, self.decision)
        self.phase = self.program.phase_now
        self.layer = next(layer for layer in self.pack.layers if layer.name == "adjust")

    # ---- facts

    def _fits(self, entry_id: str | None) -> bool:
        if entry_id is None or entry_id not in self.pack.exercises:
            return False
        reasons, _ = self.planner.why_not(self.pack.exercises[entry_id], self.phase.id)
        return not reasons

    def _feedback_values(self) -> dict[str, Value]:
        responses = self.feedback.responses
        present = {p.exercise.id for p in self.phase.prescriptions if p.exercise.category != "education"}
        answered = {r.exercise_id for r in responses}
        phase_ids = [p.id for p in self.program.phases]
        return {
            **_global_values(self.feedback),
            "feedback.all_settled": bool(responses) and all(
                r.pain_during <= 3 and r.next_day != "worse" and r.peripheralized is False
                for r in responses),
            "feedback.covers_phase": bool(present) and present <= answered,
            "program.elimination": self.program.elimination is not None,
            "program.has_next_phase": phase_ids.index(self.phase.id) < len(phase_ids) - 1,
        }

    def _response_values(self, base: dict[str, Value], response: ExerciseResponse,
                         entry: CatalogEntry) -> dict[str, Value]:
        testing = self.program.elimination.testing if self.program.elimination else None
        values: dict[str, Value] = {
            **base,
            "response.pain_during": response.pain_during,
            "response.next_day": response.next_day,
            "exercise.direction": entry.direction,
            "exercise.category": entry.category,
            "exercise.load": entry.load,
            "exercise.has_easier": self._fits(entry.easier),
            "exercise.has_harder": self._fits(entry.harder),
            "exercise.reintroduced": testing == entry.id,
        }
        if response.peripheralized is not None:  # unanswered: absent, so no test on it holds
            values["response.peripheralized"] = response.peripheralized
        return values

    # ---- rules

    def decide(self) -> _Outcome:
        outcome = _Outcome()
        base = self._feedback_values()
        _run_rules(self.rules, base, outcome, None)
        for response in self.feedback.responses:
            entry = self.pack.exercises[response.exercise_id]
            _run_rules(self.rules, self._response_values(base, response, entry), outcome,
                       response.exercise_id)
        return outcome


# ---- dose arithmetic


def _lower(dose: Dose) -> Dose:
    """One step down in one variable (never up)."""
    if dose.sets and dose.sets > 1:
        return dose.model_copy(update={"sets": dose.sets - 1})
    if dose.reps and dose.reps > 4:
        return dose.model_copy(update={"reps": dose.reps - 2})
    if dose.minutes and dose.minutes > 5:
        return dose.model_copy(update={"minutes": max(5, dose.minutes - 5)})
    if dose.hold_seconds and dose.hold_seconds > 5:
        return dose.model_copy(update={"hold_seconds": max(5, dose.hold_seconds - 5)})
    return dose


def _raise(dose: Dose) -> Dose | None:
    """One step up in one variable: reps, then sets, then minutes; None at the top."""
    if dose.reps and dose.reps < _CAPS["reps"]:
        return dose.model_copy(update={"reps": min(_CAPS["reps"], dose.reps + 2)})
    if dose.sets and dose.sets < _CAPS["sets"]:
        return dose.model_copy(update={"sets": dose.sets + 1})
    if dose.minutes and dose.minutes < _CAPS["minutes"]:
        return dose.model_copy(update={"minutes": min(_CAPS["minutes"], dose.minutes + 5)})
    return None


def _min_dose(new: Dose, old: Dose) -> Dose:
    """The new dose, with every part the old one also had capped at the old value."""
    values: dict[str, int | None] = {}
    for name in Dose.model_fields:
        x, y = getattr(new, name), getattr(old, name)
        values[name] = min(x, y) if x is not None and y is not None else x
    return Dose(**values)


# ---- applying


class _Apply:
    def __init__(self, adjuster: _Adjuster, outcome: _Outcome) -> None:
        self.a = adjuster
        self.outcome = outcome
        self.phases: dict[str, list[Prescription]] = {
            p.id: list(p.prescriptions) for p in adjuster.program.phases
        }
        self.current = adjuster.phase.id
        self.dropped = list(adjuster.program.dropped)
        self.excluded = list(adjuster.program.excluded)
        self.elimination = adjuster.program.elimination
        self.stopped: list[str] = list(adjuster.program.stopped_directions)
        self.changes: list[Change] = []

    def _rationale(self, rule: Rule) -> str:
        return next(f.rationale for f in self.outcome.firings if f.rule_id == rule.id)

    def _usable(self, exercise_id: str | None) -> bool:
        """A variant the person can do that is not already in the phase."""
        return self.a._fits(exercise_id) and exercise_id is not None and self._find(exercise_id) is None

    def _find(self, exercise_id: str) -> Prescription | None:
        return next((p for p in self.phases[self.current] if p.exercise.id == exercise_id), None)

    def _replace(self, old: Prescription, new: Prescription | None) -> None:
        items = self.phases[self.current]
        index = items.index(old)
        if new is None:
            del items[index]
        else:
            items[index] = new

    def _record(self, action: str, old: Prescription | None, new: Prescription | None, reason: str,
                rule_ids: list[str], exercise_id: str | None = None, phase: str | None = None,
                direction: str | None = None) -> None:
        if exercise_id is None:
            shown = old if old is not None else new
            exercise_id = shown.exercise.id if shown is not None else None
        self.changes.append(Change(
            action=action,  # type: ignore[arg-type]
            phase=phase or self.current, exercise_id=exercise_id,
            before=old, after=new, reason=reason, rule_ids=rule_ids, direction=direction,  # type: ignore[arg-type]
        ))

    def _exclude(self, p: Prescription, reason: str, rule_ids: list[str]) -> None:
        if p.exercise.id not in self.dropped:
            self.dropped.append(p.exercise.id)
        self.excluded = [e for e in self.excluded if e.exercise_id != p.exercise.id] + [Exclusion(
            exercise_id=p.exercise.id, exercise_name=p.exercise.name, phases=[self.current],
            reasons=[reason], rule_ids=rule_ids)]

    def drop(self, p: Prescription, rule: Rule) -> None:
        reason = self._rationale(rule)
        self._replace(p, None)
        self._exclude(p, reason, [rule.id])
        self._record("drop", p, None, reason, [rule.id])

    def regress(self, p: Prescription, rule: Rule) -> None:
        reason = self._rationale(rule)
        entry = self.a.pack.exercises[p.exercise.id]
        if self._usable(entry.easier):
            assert entry.easier is not None
            easier = self.a.pack.exercises[entry.easier]
            base, _ = self.a.planner.dose(easier, self.current)
            dose = _min_dose(base, p.dose)  # never above the current dose, part by part
            template = self.a.planner.prescription(easier, rule, self.current, [], [])
            new = template.model_copy(update={
                "dose": dose,
                "rationale": f"{reason} It replaces {p.exercise.name}.",
                "sources": list(dict.fromkeys((*rule.sources, *easier.sources))),
                "rule_ids": [rule.id],
            })
        else:
            new = p.model_copy(update={"dose": _lower(p.dose), "rationale": reason, "rule_ids": [rule.id]})
        self._replace(p, new)
        self._record("regress", p, new, reason, [rule.id])

    def hold(self, p: Prescription, rule: Rule) -> None:
        self._record("hold", p, p, self._rationale(rule), [rule.id])

    def progress(self, p: Prescription, rule: Rule) -> None:
        reason = self._rationale(rule)
        raised = _raise(p.dose)
        entry = self.a.pack.exercises[p.exercise.id]
        if raised is not None:
            new = p.model_copy(update={"dose": raised, "rationale": reason, "rule_ids": [rule.id]})
        elif self._usable(entry.harder):
            assert entry.harder is not None
            harder = self.a.pack.exercises[entry.harder]
            template = self.a.planner.prescription(harder, rule, self.current, [], [])
            base, _ = self.a.planner.dose(harder, self.current)
            new = template.model_copy(update={
                "dose": base, "rationale": f"{reason} It moves on from {p.exercise.name}.",
                "rule_ids": [rule.id]})
        else:
            self._record("hold", p, p, "This exercise is at the top of its progression; keep it as it is.",
                         [rule.id])
            return
        self._replace(p, new)
        self._record("progress", p, new, reason, [rule.id])

    def run(self) -> None:
        outcome = self.outcome
        # Directions that spread symptoms down the leg: stop every exercise moving that way, now
        # and in later phases (a neutral exercise is dropped on its own).
        for exercise_id, rule in outcome.stop_directions:
            direction = self.a.pack.exercises[exercise_id].direction
            if direction == "neutral" or direction in self.stopped:
                continue
            self.stopped.append(direction)
            self._record("stop", None, None, self._rationale(rule), [rule.id], direction=direction)
            for p in list(self.phases[self.current]):
                if p.exercise.direction == direction and p.exercise.id not in outcome.actions:
                    self.drop(p, rule)
        worse = [r.exercise_id for r in self.a.feedback.responses if r.next_day == "worse"]
        # Elimination: several exercises made things worse; suspend them all, bring back one a day.
        # An exercise that spread symptoms down the leg is dropped, never suspended.
        spread = {r.exercise_id for r in self.a.feedback.responses if r.peripheralized is True}
        starting = outcome.eliminate is not None and self.elimination is None
        queue: list[Prescription] = list(self.elimination.queue) if self.elimination else []
        for exercise_id, (action, acting) in outcome.actions.items():
            found = self._find(exercise_id)
            if found is None:
                continue
            p = found
            if p.exercise.direction in self.stopped and action != "drop":
                action = "drop"
                acting = next(rule for _, rule in outcome.stop_directions) if outcome.stop_directions \
                    else acting
            if starting and exercise_id in worse and exercise_id not in spread \
                    and p.exercise.direction not in self.stopped:
                assert outcome.eliminate is not None
                self._replace(p, None)
                queue.append(p)
                self._record("suspend", p, None, self._rationale(outcome.eliminate), [outcome.eliminate.id])
                continue
            if action == "progress" and outcome.advance is not None:
                continue  # moving to the next phase replaces step-by-step progression
            getattr(self, action)(p, acting)
        if self.elimination is not None or starting:
            # The exercise tested today was kept (hold) or dropped/regressed by the rules above.
            eliminating = outcome.eliminate or next(
                (r for r in self.a.layer.rules if r.then.eliminate), None)
            stop_ids = [rule.id for _, rule in outcome.stop_directions][:1]
            for held in [q for q in queue if q.exercise.direction in self.stopped]:
                queue.remove(held)
                reason = ("It moves in a direction that spread your symptoms down the leg, so it does "
                          "not come back.")
                self._exclude(held, reason, stop_ids)
                self._record("drop", held, None, reason, stop_ids)
            if queue:
                nxt = queue.pop(0)
                self.phases[self.current].append(nxt)
                reason = (f"Elimination: {nxt.exercise.name} comes back on its own today."
                          + (f" Next: {queue[0].exercise.name}." if queue else " It is the last one."))
                self._record("reintroduce", None, nxt, reason, [eliminating.id] if eliminating else [])
                self.elimination = Elimination(phase=self.current, testing=nxt.exercise.id, queue=queue)
            else:
                self.elimination = None
        ids = [p.id for p in self.a.program.phases]
        last = ids.index(self.current) == len(ids) - 1
        if outcome.advance is not None and self.elimination is None and not last:
            before = self.current
            self.current = ids[ids.index(before) + 1]
            reason = self._rationale(outcome.advance)
            self._record("advance", None, None, reason, [outcome.advance.id], phase=self.current)
            for p in list(self.phases[self.current]):
                if p.exercise.id in self.dropped:
                    self.phases[self.current].remove(p)
                    self._record("drop", p, None,
                                 "Dropped earlier for making you worse; it comes back only on its own.",
                                 [outcome.advance.id])
                elif p.exercise.direction in self.stopped:
                    self.phases[self.current].remove(p)
                    self.dropped.append(p.exercise.id)
                    self._record("drop", p, None,
                                 f"It moves in the {p.exercise.direction} direction, which spread your "
                                 "symptoms down the leg.", [outcome.advance.id])

    def keep_aerobic(self) -> None:
        """A phase that held an aerobic option keeps one: the next best replaces a dropped one
        (the planner chooses it), or a warning says plainly that none fits."""
        queued = self.elimination.queue if self.elimination is not None else []
        if any(q.exercise.category == "aerobic" for q in queued):
            return  # it is being brought back
        before = next(p for p in self.a.program.phases if p.id == self.current).prescriptions
        had = any(p.exercise.category == "aerobic" for p in before)
        assert self.a.rec.profile is not None
        new, reason = keep_aerobic(self.a.pack, self.a.rec.profile, self.a.decision, self.current,
                                   self.phases[self.current], had, self.dropped, self.stopped)
        if reason is None:
            return
        cause = [rid for c in self.changes if c.action == "drop" for rid in c.rule_ids][-1:]
        if new is None:
            code, message = no_aerobic_notice(self.a.pack)
            self.outcome.warnings.extend((code, message, rid) for rid in cause or [""])
            return
        self.phases[self.current].append(new)
        self._record("replace", None, new, reason, list(dict.fromkeys((*cause, *new.rule_ids))))

    def program(self) -> Program:
        program = self.a.program
        phases = [settle_week(ph.model_copy(update={"prescriptions": self.phases[ph.id]}))
                  for ph in program.phases]
        return program.model_copy(update={
            "phases": phases, "current_phase": self.current, "dropped": self.dropped,
            "excluded": self.excluded, "elimination": self.elimination,
            "stopped_directions": self.stopped,
        })


def _check(rec: Recommendation, feedback: Feedback) -> None:
    if rec.program is None:
        return
    phase = rec.program.phase_now
    present = {p.exercise.id for p in phase.prescriptions}
    seen: set[str] = set()
    for i, response in enumerate(feedback.responses):
        loc: tuple[str | int, ...] = ("responses", i, "exercise_id")
        if response.exercise_id in seen:
            raise _invalid(loc, "duplicate-response", "this exercise already has a response",
                           response.exercise_id)
        seen.add(response.exercise_id)
        if response.exercise_id not in present:
            raise _invalid(loc, "not-in-phase",
                           f"{response.exercise_id!r} is not in the current phase ({phase.id}) of this "
                           "program", response.exercise_id)


def _rules_for(rec: Recommendation, rules: RuleSet | None) -> RuleSet:
    chosen = rules if rules is not None else default_rules()
    if chosen.digest != rec.ruleset.digest:
        raise FeedbackError(
            f"this recommendation was made by rule pack {rec.ruleset.name} {rec.ruleset.version} "
            f"({rec.ruleset.digest[:19]}); pass rules=load_rules(<that pack>) to adjust it"
        )
    if rec.profile is None:
        raise FeedbackError("this recommendation carries no profile, so it cannot be adjusted")
    program = rec.program
    if program is not None:
        pack = chosen.pack
        if [p.id for p in program.phases] != [p.id for p in pack.phases] or program.current_phase not in {
                p.id for p in pack.phases}:
            raise FeedbackError("the program's phases do not match the rule pack's; it was edited")
        held = [p.exercise.id for ph in program.phases for p in ph.prescriptions]
        if program.elimination is not None:
            held += [p.exercise.id for p in program.elimination.queue]
        unknown = sorted({e for e in held if e not in pack.exercises})
        if unknown:
            raise FeedbackError(f"the program holds exercises the rule pack does not know: "
                                f"{', '.join(unknown)}; it was edited")
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


def adjust(rec: Recommendation, feedback: Feedback | Mapping[str, Any], *,
           rules: RuleSet | None = None) -> Recommendation:
    """Adjust a recommendation from next-day responses ("test and measure").

    Returns a new Recommendation whose ``adjustments`` gains one round. Raises
    ``pydantic.ValidationError`` for invalid feedback (naming the field) and
    :class:`backrx.FeedbackError` when the recommendation was made by another pack.
    """
    fb = feedback if isinstance(feedback, Feedback) else Feedback.model_validate(feedback)
    chosen = _rules_for(rec, rules).for_locale(rec.locale)
    _check(rec, fb)
    number = len(rec.adjustments) + 1
    assert rec.profile is not None
    decision = decide(chosen.pack, chosen._engine, profile_values(rec.profile))
    if rec.program is None or decision.refers:
        # No program to adjust (a referral): still act on new red flags. A profile whose own
        # triage refers (an edited recommendation) is referred again, never adjusted.
        outcome = _Outcome()
        _run_rules(chosen, _global_values(fb), outcome, None)
        referral = _merge(rec.referral, decision.urgency, list(decision.referral_reasons),
                          list(decision.referral_rules))
        referral = _merge(referral, outcome.urgency, outcome.reasons, outcome.referral_rules,
                          chosen.pack)
        refers = referral is not None and referral.urgency in _BLOCKING
        phase = rec.program.current_phase if rec.program is not None else ""
        round_ = AdjustmentRound(round=number, feedback=fb, phase_before=phase, phase_after=phase,
                                 changes=[], trace=outcome.firings, elimination_after=None)
        return rec.model_copy(update={
            "outcome": "refer" if refers else rec.outcome,
            "program": None if refers else rec.program,
            "referral": referral,
            "safety_net": list(dict.fromkeys((*rec.safety_net, *outcome.safety_net))),
            "warnings": _warnings(rec, outcome),
            "adjustments": [*rec.adjustments, round_],
        })
    adjuster = _Adjuster(chosen, rec, fb, decision)
    outcome = adjuster.decide()
    apply = _Apply(adjuster, outcome)
    apply.run()
    apply.keep_aerobic()
    program = apply.program()
    referral = _merge(rec.referral, outcome.urgency, outcome.reasons, outcome.referral_rules,
                      chosen.pack)
    refers = referral is not None and referral.urgency in _BLOCKING
    round_ = AdjustmentRound(
        round=number, feedback=fb, phase_before=adjuster.phase.id, phase_after=program.current_phase,
        changes=apply.changes, trace=outcome.firings, elimination_after=program.elimination,
    )
    safety = list(dict.fromkeys((*rec.safety_net, *outcome.safety_net)))
    return rec.model_copy(update={
        "outcome": "refer" if refers else "program",
        "program": None if refers else program,
        "referral": referral,
        "safety_net": safety,
        "warnings": _warnings(rec, outcome, apply.changes),
        "adjustments": [*rec.adjustments, round_],
    })


def _warnings(rec: Recommendation, outcome: _Outcome, changes: list[Change] | None = None) -> list[Notice]:
    """The recommendation's warnings with this round's added (one per code), including one for
    each clinician override this round undid."""
    earlier = [(n.code, n.message, rid) for n in rec.warnings for rid in n.rule_ids]
    undone = override_notices(rec, changes) if changes else []
    return [Notice.model_validate(n) for n in notices([*earlier, *outcome.warnings, *undone])]


def replay(original: Program, rounds: list[AdjustmentRound],
           overrides: Sequence[Override] = ()) -> Program:
    """Rebuild a program from the original and the recorded changes alone; with ``overrides``
    (``rec.overrides``), each clinician override is applied again after the rounds it followed."""
    if overrides:
        return replay_with_overrides(original, rounds, overrides, replay)
    phases: dict[str, list[Prescription]] = {p.id: list(p.prescriptions) for p in original.phases}
    current = original.current_phase
    dropped = list(original.dropped)
    excluded = list(original.excluded)
    elimination = original.elimination
    stopped = list(original.stopped_directions)
    for round_ in rounds:
        for change in round_.changes:
            items = phases[change.phase]
            if change.action == "stop":
                if change.direction is not None and change.direction not in stopped:
                    stopped.append(change.direction)
                continue
            if change.action == "advance":
                current = change.phase
                continue
            if change.action in ("reintroduce", "replace"):
                assert change.after is not None
                items.append(change.after)
                continue
            assert change.before is not None
            index = next((i for i, p in enumerate(items) if p.exercise.id == change.before.exercise.id), None)
            if change.after is None:
                if index is not None:  # else it waited in the elimination queue
                    del items[index]
                if change.action == "drop":
                    if change.before.exercise.id not in dropped:
                        dropped.append(change.before.exercise.id)
                    if change.phase == round_.phase_before:
                        excluded = [e for e in excluded if e.exercise_id != change.before.exercise.id] + [
                            Exclusion(exercise_id=change.before.exercise.id,
                                      exercise_name=change.before.exercise.name, phases=[change.phase],
                                      reasons=[change.reason], rule_ids=change.rule_ids)]
            else:
                assert index is not None
                items[index] = change.after
        elimination = round_.elimination_after
        original = original.model_copy(update={  # the week settles once per round, as in adjust
            "phases": [settle_week(p.model_copy(update={"prescriptions": phases[p.id]}))
                       for p in original.phases]})
    return original.model_copy(update={
        "phases": [p.model_copy(update={"prescriptions": phases[p.id]}) for p in original.phases],
        "current_phase": current, "dropped": dropped, "excluded": excluded, "elimination": elimination,
        "stopped_directions": stopped,
    })
