"""Carrying out one round's decisions: diffs by exercise id, and replaying them.

`Revision` applies what the adjust rules chose (per exercise and for the plan) to a
program and records every change as a `Change`, a diff by
exercise id; `replay` rebuilds the full program from the original and those diffs alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backrx.followup.doses import lower_dose, raise_dose
from backrx.followup.history import family_of
from backrx.model.recommendation import (
    AdjustmentRound,
    Change,
    Dose,
    Elimination,
    Exclusion,
    Hold,
    Prescription,
    Program,
)
from backrx.pack.model import Rule
from backrx.run.planner import keep_aerobic, no_aerobic_notice
from backrx.run.populations import limits_for
from backrx.run.week import settle_week

if TYPE_CHECKING:
    from backrx.followup.outcome import Adjuster, Outcome

# ---- dose diffs (the steps themselves are backrx.followup.doses)


def _changed(old: Dose, new: Dose) -> Dose:
    """The parts of ``new`` that differ from ``old`` (the rest left empty): a dose diff."""
    return Dose(**{k: v for k, v in new.model_dump().items() if getattr(old, k) != v})


def _merged(old: Dose, diff: Dose) -> Dose:
    """``old`` with the parts a dose diff sets."""
    return old.model_copy(update={k: v for k, v in diff.model_dump().items() if v is not None})


def _max_dose(new: Dose, old: Dose, parts: set[str]) -> Dose:
    """The new dose, with each of ``parts`` that both doses have raised to the old value when that
    is higher (the other parts, such as how often, stay as the new phase plans them)."""
    values: dict[str, int | None] = {}
    for name in Dose.model_fields:
        x, y = getattr(new, name), getattr(old, name)
        values[name] = max(x, y) if name in parts and isinstance(x, int) and isinstance(y, int) else x
    return Dose(**values)


def _min_dose(new: Dose, old: Dose) -> Dose:
    """The new dose, with every part the old one also had capped at the old value."""
    values: dict[str, int | None] = {}
    for name in Dose.model_fields:
        x, y = getattr(new, name), getattr(old, name)
        values[name] = min(x, y) if x is not None and y is not None else x
    return Dose(**values)


# ---- applying


class Revision:
    """The program being changed by one round, and the changes made so far."""

    def __init__(self, adjuster: Adjuster, outcome: Outcome) -> None:
        self.a = adjuster
        self.outcome = outcome
        program = adjuster.program
        self.order = [p.id for p in program.phases]
        self.phases: dict[str, list[Prescription]] = {p.id: list(p.prescriptions) for p in program.phases}
        self.current = adjuster.phase.id
        self.dropped = list(program.dropped)
        self.excluded = list(program.excluded)
        self.elimination = program.elimination
        self.stopped: list[str] = list(program.stopped_directions)
        self.tolerated: list[str] = list(program.tolerated)
        self.plan_hold = program.hold
        self.changes: list[Change] = []
        self.steps = adjuster.steps
        self.say = adjuster.steps.text

    def _usable(self, exercise_id: str | None) -> bool:
        """A variant the person can do that is not already in the phase."""
        return self.a.fits(exercise_id, self.dropped, self.stopped) and exercise_id is not None \
            and self._find(exercise_id) is None

    def _find(self, exercise_id: str) -> Prescription | None:
        return next((p for p in self.phases[self.current] if p.exercise.id == exercise_id), None)

    def _replace(self, old: Prescription, new: Prescription | None) -> None:
        items = self.phases[self.current]
        index = items.index(old)
        if new is None:
            del items[index]
        else:
            items[index] = new

    def _record(self, action: str, exercise_id: str | None, reason: str, rule_ids: list[str], **extra: Any
                ) -> None:
        first = rule_ids[0] if rule_ids else None
        plain = next((f.rationale for f in self.outcome.firings if f.rule_id == first), None)
        self.changes.append(Change.model_validate({
            "action": action, "phase": extra.pop("phase", self.current), "exercise_id": exercise_id,
            "reason": None if reason == plain else reason, "rule_ids": rule_ids, **extra}))

    def _remove_everywhere(self, exercise_id: str, reason: str, rule_ids: list[str]) -> None:
        """Take an exercise out of every phase, and keep it out (``Program.dropped``)."""
        name = None
        phases: list[str] = []
        for phase_id in self.order:
            items = self.phases[phase_id]
            found = [p for p in items if p.exercise.id == exercise_id]
            if found:
                name = found[0].exercise.name
                phases.append(phase_id)
                self.phases[phase_id] = [p for p in items if p.exercise.id != exercise_id]
        if exercise_id not in self.dropped:
            self.dropped.append(exercise_id)
        extra: dict[str, Any] = {}
        if name is None:
            entry = self.a.pack.exercises.get(exercise_id)
            name = entry.name if entry is not None else exercise_id
            extra["exercise_name"] = name  # replay cannot find it in the program
        shown = phases or [self.current]
        self.excluded = [e for e in self.excluded if e.exercise_id != exercise_id] + [Exclusion(
            exercise_id=exercise_id, exercise_name=name, phases=shown, reasons=[reason], rule_ids=rule_ids)]
        self._record("drop", exercise_id, reason, rule_ids, phases=shown, **extra)

    def drop(self, p: Prescription, rule: Rule) -> None:
        self._remove_everywhere(p.exercise.id, self.outcome.rationale(rule), [rule.id])

    def drop_family(self, p: Prescription, rule: Rule) -> None:
        """Drop the exercise and every exercise of its movement family, in every phase."""
        self.drop(p, rule)
        family = family_of(self.a.pack.exercises[p.exercise.id])
        if family.startswith("exercise:"):
            return
        # Present ones first (in program order), then the rest of the family in the catalog, so
        # that no later regression or progression brings a family member in.
        present = [q.exercise.id for phase in self.order for q in self.phases[phase]]
        catalog = sorted(eid for eid, entry in self.a.pack.exercises.items() if family_of(entry) == family)
        members = [e for e in present if e in catalog] + catalog
        for member in dict.fromkeys(members):
            if member in self.dropped:
                continue
            self._remove_everywhere(member, self.say("same_family", exercise=p.exercise.name), [rule.id])

    def regress(self, p: Prescription, rule: Rule) -> None:
        reason = self.outcome.rationale(rule)
        entry = self.a.pack.exercises[p.exercise.id]
        if self._usable(entry.easier):
            assert entry.easier is not None
            easier = self.a.pack.exercises[entry.easier]
            base, _ = self.a.planner.dose(easier, self.current)
            dose = _min_dose(base, p.dose)  # never above the current dose, part by part
            template = self.a.planner.prescription(easier, rule, self.current, [], [])
            new = template.model_copy(update={
                "dose": dose,
                "rationale": f"{reason} {self.say('replaces', exercise=p.exercise.name)}",
                "sources": list(dict.fromkeys((*rule.sources, *easier.sources))),
                "rule_ids": [rule.id],
            })
            self._replace(p, new)
            self._record("regress", p.exercise.id, reason, [rule.id], prescription=new)
            return
        lowered = lower_dose(p.dose, self.steps)
        self._replace(p, p.model_copy(update={"dose": lowered}))
        self._record("regress", p.exercise.id, reason, [rule.id], dose=_changed(p.dose, lowered))

    def hold(self, p: Prescription, rule: Rule, reason: str | None = None) -> None:
        """Keep an exercise as it is: one record per rule and reason lists every exercise kept."""
        text = reason if reason is not None else self.outcome.rationale(rule)
        for i, change in enumerate(self.changes):
            if change.action == "hold" and change.rule_ids == [rule.id] and change.exercise_id is None \
                    and change.exercises and (change.reason or self.outcome.rationale(rule)) == text:
                self.changes[i] = change.model_copy(update={"exercises": [*change.exercises, p.exercise.id]})
                return
        self._record("hold", None, text, [rule.id], exercises=[p.exercise.id])

    def progress(self, p: Prescription, rule: Rule) -> None:
        reason = self.outcome.rationale(rule)
        raised = raise_dose(p.dose, self.steps)
        entry = self.a.pack.exercises[p.exercise.id]
        if raised is not None:
            self._replace(p, p.model_copy(update={"dose": raised}))
            self._record("progress", p.exercise.id, reason, [rule.id], dose=_changed(p.dose, raised))
            return
        # A harder variant only takes the place of one that was regressed in this phase (back up
        # the ladder); harder work beyond the phase's plan comes with the next phase and its gate.
        back = self.a.timeline.regressed_from.get(p.exercise.id)
        if back is not None and back == entry.harder and self._usable(entry.harder) \
                and p.exercise.id not in self.tolerated:
            assert entry.harder is not None
            harder = self.a.pack.exercises[entry.harder]
            template = self.a.planner.prescription(harder, rule, self.current, [], [])
            base, _ = self.a.planner.dose(harder, self.current)
            new = template.model_copy(update={
                "dose": base, "rationale": f"{reason} {self.say('moves_on', exercise=p.exercise.name)}",
                "rule_ids": [rule.id]})
            self._replace(p, new)
            self._record("progress", p.exercise.id, reason, [rule.id], prescription=new)
            return
        self.hold(p, rule, self.say("at_top"))

    def _stop(self, direction: str, rule: Rule) -> None:
        """Stop a direction in every phase; exercises the person reported as fine stay."""
        self.stopped.append(direction)
        self._record("stop", None, self.outcome.rationale(rule), [rule.id], direction=direction)
        tl = self.a.timeline
        # What the person reported as fine is read in the current phase first, so that an earlier
        # phase holding the same exercise does not take it out everywhere before it is kept.
        for p in self.phases[self.current]:
            eid = p.exercise.id
            if p.exercise.direction == direction and eid not in self.tolerated and eid not in self.dropped \
                    and tl.reported_fine(eid):
                self.tolerated.append(eid)
                self._record("keep", eid, self.say("kept_fine", exercise=p.exercise.name), [rule.id])
        for phase_id in self.order:
            for p in list(self.phases[phase_id]):
                eid = p.exercise.id
                if p.exercise.direction != direction or eid in self.tolerated or eid in self.dropped:
                    continue
                if any(q.exercise.id == eid for q in self.phases[phase_id]):
                    self._remove_everywhere(eid, self.say("stopped_direction"), [rule.id])

    def limits(self) -> None:
        """Re-apply the planner's exclusions (population limits among them) to every phase, for the
        person as they are on this round's date: a prescription that now breaks one leaves that
        phase, and the change gives the rule's own reason."""
        chosen = {o.exercise_id for o in self.a.rec.overrides if o.kind in ("add", "accept")}
        assert self.a.rec.profile is not None
        populations = limits_for(self.a.pack, self.a.rec.profile)  # the planner's own answer
        for phase_id in self.order:
            for p in list(self.phases[phase_id]):
                entry = self.a.pack.exercises.get(p.exercise.id)
                if entry is None or entry.id in chosen:  # a clinician's own choice stands
                    continue
                reasons, rule_ids = self.a.planner.why_not(entry, phase_id)
                if not populations.allows(entry.id, phase_id):
                    extra = [r for r in populations.because.get(entry.id, ()) if r not in rule_ids]
                    rule_ids = [*rule_ids, *extra]
                    reasons = [*reasons, *(self.a.decision.rationale_of(r) for r in extra)]
                if not rule_ids:
                    continue  # equipment and setting follow the person's own choices, not a limit
                self.phases[phase_id] = [q for q in self.phases[phase_id] if q.exercise.id != entry.id]
                reason = " ".join(dict.fromkeys(reasons))
                self.excluded = [e for e in self.excluded if e.exercise_id != entry.id] + [Exclusion(
                    exercise_id=entry.id, exercise_name=entry.name, phases=[phase_id], reasons=[reason],
                    rule_ids=list(dict.fromkeys(rule_ids)))]
                if entry.id not in self.dropped:
                    self.dropped.append(entry.id)
                self._record("drop", entry.id, reason, list(dict.fromkeys(rule_ids)), phase=phase_id,
                             phases=[phase_id], exercise_name=entry.name)

    def run(self) -> None:
        outcome = self.outcome
        # A direction stops only on a second, independent sign (the rules decide when).
        for exercise_id, rule in outcome.stop_directions:
            direction = self.a.pack.exercises[exercise_id].direction
            if direction != "neutral" and direction not in self.stopped:
                self._stop(direction, rule)
        worse = [r.exercise_id for r in self.a.feedback.responses if r.next_day == "worse"]
        spread = {r.exercise_id for r in self.a.feedback.responses if r.peripheralized is True}
        # Elimination: several exercises made things worse; suspend them all, bring back one a day.
        # An exercise that spread symptoms down the leg is dropped, never suspended.
        starting = outcome.eliminate is not None and self.elimination is None
        queue: list[Prescription] = list(self.elimination.queue) if self.elimination else []
        stop_rule = outcome.stop_directions[0][1] if outcome.stop_directions else None
        for exercise_id, (action, acting) in outcome.actions.items():
            found = self._find(exercise_id)
            if found is None:
                continue  # dropped already (a family member, or a stopped direction)
            p = found
            if p.exercise.direction in self.stopped and exercise_id not in self.tolerated \
                    and action not in ("drop", "drop_family"):
                action, acting = "drop", stop_rule or acting
            blocked = p.exercise.direction in self.stopped and exercise_id not in self.tolerated
            # Only what the rules blamed is suspended: a worse-day exercise they regress or drop
            # (one cleared on an earlier good day and kept by adjust.worse.cleared-earlier is not).
            blamed = exercise_id in worse and action in ("regress", "drop")
            if starting and blamed and exercise_id not in spread and not blocked:
                assert outcome.eliminate is not None
                self._replace(p, None)
                queue.append(p)
                self._record("suspend", exercise_id, outcome.rationale(outcome.eliminate),
                             [outcome.eliminate.id])
                continue
            if action == "progress" and outcome.advance is not None:
                continue  # moving to the next phase replaces step-by-step progression
            getattr(self, action)(p, acting)
        if self.elimination is not None or starting:
            eliminating = outcome.eliminate or next(
                (r for r in self.a.layer.rules if r.then.eliminate), None)
            for held in [q for q in queue if q.exercise.direction in self.stopped or
                         q.exercise.id in self.dropped]:
                queue.remove(held)
                if held.exercise.id not in self.dropped:
                    self._remove_everywhere(held.exercise.id, self.say("stopped_direction"),
                                            [stop_rule.id] if stop_rule else [])
            if queue:
                nxt = queue.pop(0)
                self.phases[self.current].append(nxt)
                then = self.say("next_up", exercise=queue[0].exercise.name) if queue else self.say("last_one")
                reason = f"{self.say('reintroduced', exercise=nxt.exercise.name)} {then}"
                self._record("reintroduce", nxt.exercise.id, reason,
                             [eliminating.id] if eliminating else [], prescription=nxt)
                self.elimination = Elimination(phase=self.current, testing=nxt.exercise.id, queue=queue)
            else:
                self.elimination = None
        # Hold and reassess: a new sign holds the plan (again); otherwise a hold counts down.
        if outcome.hold is not None:
            rounds, rule = outcome.hold
            self.plan_hold = Hold(rounds_left=rounds, reason=outcome.rationale(rule), rule_ids=[rule.id])
            self._record("pause", None, self.plan_hold.reason, [rule.id])
        # Otherwise the hold stands: only a clinician's reassessment ends it (backrx.followup.episode).
        last = self.order.index(self.current) == len(self.order) - 1
        if outcome.advance is not None and self.elimination is None and outcome.hold is None and not last:
            before = self.current
            self.current = self.order[self.order.index(self.current) + 1]
            self._record("advance", None, outcome.rationale(outcome.advance), [outcome.advance.id])
            self._carry(before, outcome.advance)
            self._keep_stopped(before, outcome.advance)

    def _carry(self, before: str, rule: Rule) -> None:
        """The dose reached in the phase left carries into the new one for the pack's categories
        (``adjusting.carry_on_advance``), onto the same exercise or one of its movement family,
        part by part, never lowering what the new phase plans."""
        for old in self.phases[before]:
            if old.exercise.category not in self.steps.carry:
                continue
            family = family_of(self.a.pack.exercises[old.exercise.id])
            for new in list(self.phases[self.current]):
                entry = self.a.pack.exercises.get(new.exercise.id)
                if entry is None or (entry.id != old.exercise.id and family_of(entry) != family):
                    continue
                dose = _max_dose(new.dose, old.dose, {step.part for step in self.steps.step_up})
                if dose != new.dose:
                    self._replace(new, new.model_copy(update={"dose": dose}))
                    self._record("carry", new.exercise.id, self.say("carried", exercise=old.exercise.name),
                                 [rule.id], dose=_changed(new.dose, dose))

    def _keep_stopped(self, before: str, rule: Rule) -> None:
        """A phase move makes no progression into a stopped direction: an exercise of that direction
        kept from the phase left keeps the dose it had there (part by part, never higher), and any
        other one leaves the new phase. The reason is the pack's rule that reads
        ``exercise.direction_stopped`` (or the advancing rule, in a pack without one)."""
        holding = next((r for r in self.a.layer.rules if "exercise.direction_stopped" in r.reads), rule)
        why = holding.rationale if holding is not rule else None
        left = {p.exercise.id: p for p in self.phases[before]}
        for new in list(self.phases[self.current]):
            eid = new.exercise.id
            if new.exercise.direction not in self.stopped:
                continue
            old = left.get(eid)
            if old is None:
                self.phases[self.current] = [q for q in self.phases[self.current] if q.exercise.id != eid]
                if eid not in self.dropped:
                    self.dropped.append(eid)
                reason = self.say("stopped_direction")
                self.excluded = [e for e in self.excluded if e.exercise_id != eid] + [Exclusion(
                    exercise_id=eid, exercise_name=new.exercise.name, phases=[self.current],
                    reasons=[reason], rule_ids=[holding.id])]
                self._record("drop", eid, reason, [holding.id], phases=[self.current],
                             exercise_name=new.exercise.name)
                continue
            dose = _min_dose(new.dose, old.dose)
            if dose != new.dose:
                self._replace(new, new.model_copy(update={"dose": dose}))
                self._record("carry", eid, why or self.say("kept_fine", exercise=new.exercise.name),
                             [holding.id], dose=_changed(new.dose, dose))

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
        self._record("replace", new.exercise.id, reason, list(dict.fromkeys((*cause, *new.rule_ids))),
                     prescription=new)

    def program(self) -> Program:
        program = self.a.program
        phases = [settle_week(ph.model_copy(update={"prescriptions": self.phases[ph.id]}))
                  for ph in program.phases]
        return program.model_copy(update={
            "phases": phases, "current_phase": self.current, "dropped": self.dropped,
            "excluded": self.excluded, "elimination": self.elimination,
            "stopped_directions": self.stopped, "tolerated": self.tolerated, "hold": self.plan_hold,
            "phase_started": None if self.current != self.a.phase.id else program.phase_started,
        })


def replay(original: Program, rounds: list[AdjustmentRound]) -> Program:
    """Rebuild a program from the original and the recorded diffs alone."""
    order = [p.id for p in original.phases]
    phases: dict[str, list[Prescription]] = {p.id: list(p.prescriptions) for p in original.phases}
    current = original.current_phase
    dropped = list(original.dropped)
    excluded = list(original.excluded)
    elimination = original.elimination
    stopped = list(original.stopped_directions)
    tolerated = list(original.tolerated)
    hold = original.hold
    started = original.phase_started
    for round_ in rounds:
        for change in round_.changes:
            eid = change.exercise_id
            if change.action == "stop":
                if change.direction is not None and change.direction not in stopped:
                    stopped.append(change.direction)
            elif change.action == "keep" and eid is not None:
                tolerated.append(eid)
            elif change.action == "advance":
                current = change.phase  # the phase moved into
                started = None  # a new phase's clock starts with the round that moved into it
            elif change.action in ("reintroduce", "replace") and change.prescription is not None:
                phases[change.phase].append(change.prescription)
            elif change.action == "suspend" and eid is not None:
                phases[change.phase] = [p for p in phases[change.phase] if p.exercise.id != eid]
            elif change.action == "drop" and eid is not None:
                name = change.exercise_name or next((p.exercise.name for phase_id in order
                                                     for p in phases[phase_id] if p.exercise.id == eid), None)
                if name is None and elimination is not None:
                    name = next((p.exercise.name for p in elimination.queue if p.exercise.id == eid), None)
                if name is None:
                    name = next((e.exercise_name for e in excluded if e.exercise_id == eid), None)
                for phase_id in change.phases or [change.phase]:
                    phases[phase_id] = [p for p in phases[phase_id] if p.exercise.id != eid]
                if eid not in dropped:
                    dropped.append(eid)
                excluded = [e for e in excluded if e.exercise_id != eid] + [Exclusion(
                    exercise_id=eid, exercise_name=name or eid, phases=change.phases or [change.phase],
                    reasons=[round_.reason_of(change)], rule_ids=change.rule_ids)]
            elif change.action in ("progress", "regress", "carry") and eid is not None:
                items = phases[change.phase]
                index = next(i for i, p in enumerate(items) if p.exercise.id == eid)
                if change.prescription is not None:
                    items[index] = change.prescription
                elif change.dose is not None:
                    merged = _merged(items[index].dose, change.dose)
                    items[index] = items[index].model_copy(update={"dose": merged})
        elimination = round_.elimination_after
        hold = round_.hold_after
        original = original.model_copy(update={  # the week settles once per round, as in adjust
            "phases": [settle_week(p.model_copy(update={"prescriptions": phases[p.id]}))
                       for p in original.phases]})
    return original.model_copy(update={
        "phases": [p.model_copy(update={"prescriptions": phases[p.id]}) for p in original.phases],
        "current_phase": current, "dropped": dropped, "excluded": excluded, "elimination": elimination,
        "stopped_directions": stopped, "tolerated": tolerated, "hold": hold, "phase_started": started,
    })
