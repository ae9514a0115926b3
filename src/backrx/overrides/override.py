"""Clinician overrides: the clinician stays in charge, and every change is on the record.

`override` returns a new Recommendation in which a clinician has added or removed an exercise
in a phase, changed a dose, moved the person to another phase, or accepted an exercise that a rule
excluded. Each change becomes one `backrx.Override` in ``rec.overrides`` (what, who, when,
why, which rules it set aside), applied with `apply_override`, the same function that
`backrx.replay` uses to rebuild the program from its history.

Limits, enforced with `backrx.OverrideError` (``code``, ``loc``):

* an override never touches the referral, the outcome or the safety net, and a recommendation
  whose referral replaced the program cannot be overridden into a program (``referral``);
* accepting an exercise that a safety exclusion left out needs ``acknowledge`` naming every
  safety code of that exclusion (`SAFETY_CODES`); a program-design exclusion (code
  ``program``) needs none;
* an exercise that needs equipment the person lacks, or a setting they do not use, is refused
  (``equipment``, ``setting``), whatever is acknowledged;
* ``add`` refuses an excluded exercise (use ``accept``), and no change may leave a phase empty;
* an intervention on the pack's do-not-do list (``interventions``: traction, a lumbar brace, ...)
  is refused unless ``acknowledge`` gives the reason for this person (``donotdo-unacknowledged``);
  it is then recorded (kind ``intervention``) and changes no exercise.

Time: ``at`` is recorded as given (ISO 8601 with an offset, or a timezone-aware datetime); by
default it is None. backrx never reads the clock itself, so the same inputs always give the same
JSON; the command line passes the current time unless ``--at`` is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backrx.errors import OverrideError
from backrx.followup.integrity import refusal
from backrx.model import chain
from backrx.model.recommendation import Override, Prescription, Recommendation
from backrx.overrides.record import (
    EXCLUSION_CODES,
    SAFETY_CODES,
    apply_override,
    exclusion_codes,
    find_prescription,
    replay_with_overrides,
)
from backrx.overrides.views import (
    describe,
    in_effect,
    override_notices,
    override_status,
    provenance_data,
)
from backrx.pack.model import DOSE_FIELDS, DOSE_LIMITS, CatalogEntry
from backrx.ruleset import RuleSet, default_rules
from backrx.run.decision import Decision
from backrx.run.facts import profile_values
from backrx.run.planner import Planner, blocks, exercise_data


class PhaseExercise(BaseModel):
    """One exercise of one phase (the target of add and remove)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phase: str
    exercise_id: str


class DoseOverride(PhaseExercise):
    """A new dose for one exercise of a phase; the parts not given stay as they are."""

    sets: int | None = Field(default=None, ge=1)
    reps: int | None = Field(default=None, ge=1)
    hold_seconds: int | None = Field(default=None, ge=1)
    minutes: int | None = Field(default=None, ge=1)
    sessions_per_week: int | None = Field(default=None, ge=1)
    times_per_day: int | None = Field(default=None, ge=1)


class AcceptOverride(PhaseExercise):
    """An excluded exercise taken back into a phase, naming the exclusion codes acknowledged."""

    acknowledge: list[str] = Field(default_factory=list)


class InterventionOverride(BaseModel):
    """A do-not-do intervention (an id of the pack's donotdo.yaml) added to the person's care, with
    the clinician's acknowledgement: their reason for going against the advice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    acknowledge: str | None = Field(default=None, description="why, for this intervention (required)")


class OverrideChanges(BaseModel):
    """What a clinician changes in one call of `override` (every key optional).

    Applied in this order: ``remove``, ``add``, ``accept``, ``dose``, ``phase``, then
    ``interventions`` (recorded; they change no exercise).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    add: list[PhaseExercise] = Field(default_factory=list)
    remove: list[PhaseExercise] = Field(default_factory=list)
    dose: list[DoseOverride] = Field(default_factory=list)
    phase: str | None = Field(default=None, description="the phase id to move the person to")
    accept: list[AcceptOverride] = Field(default_factory=list)
    interventions: list[InterventionOverride] = Field(
        default_factory=list, description="do-not-do interventions added, each acknowledged with a reason")


# --------------------------------------------------------------------------- making overrides


def _time(at: str | datetime | None) -> str | None:
    if at is None:
        return None
    if isinstance(at, datetime):
        parsed = at
        text = at.isoformat()
    elif isinstance(at, str):
        text = at.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise OverrideError("bad-time", f"at {at!r} is not an ISO 8601 date-time", ("at",)) from None
    else:
        raise OverrideError("bad-time", "at must be an ISO 8601 date-time or a datetime", ("at",))
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise OverrideError("bad-time", f"at {text!r} needs a time zone offset (e.g. +00:00)", ("at",))
    return text


class _Session:
    """One call of `override`: the pack's conclusions for the profile, and the program so far."""

    def __init__(self, rules: RuleSet, rec: Recommendation, reason: str, by: str, at: str | None) -> None:
        assert rec.profile is not None and rec.program is not None
        self.pack = rules.pack
        self.decision: Decision = rules.decide_facts(profile_values(rec.profile))
        self.planner = Planner(self.pack, rec.profile, self.decision)
        self.program = rec.program
        self.reason, self.by, self.at = reason, by, at
        self.after_round = len(rec.adjustments)
        self.rounds = rec.adjustments
        self.number = len(rec.overrides)
        self.made: list[Override] = []
        self.in_effect = in_effect(rec)
        assert self.pack.planner is not None
        self.say = self.pack.planner.adjusting.text
        self.stopping = [r.id for r in self.pack.rules if r.then.stop_direction]
        self.advancing = [r.id for r in self.pack.rules if r.then.advance]

    def record(self, **fields: Any) -> None:
        self.number += 1
        item = Override(number=self.number, reason=self.reason, by=self.by, at=self.at,
                        after_round=self.after_round, **fields)
        self.program = apply_override(self.program, item, self.rounds)
        self.made.append(item)

    # ---- lookups

    def phase_items(self, phase: str, loc: tuple[str | int, ...]) -> list[Prescription]:
        for p in self.program.phases:
            if p.id == phase:
                return list(p.prescriptions)
        known = ", ".join(p.id for p in self.program.phases)
        raise OverrideError("unknown-phase", f"{phase!r} is not a phase of this program ({known})", loc)

    def entry(self, exercise_id: str, loc: tuple[str | int, ...]) -> CatalogEntry:
        found = self.pack.exercises.get(exercise_id)
        if found is None:
            raise OverrideError("unknown-exercise", f"{exercise_id!r} is not in the rule pack's catalog", loc)
        return found

    def limits(self, entry: CatalogEntry, loc: tuple[str | int, ...]) -> None:
        """Refuse what the person cannot do where they exercise, whatever is acknowledged."""
        missing = [e for e in entry.equipment if e not in self.planner.equipment]
        if missing:
            raise OverrideError("equipment", f"{entry.id} needs equipment the person did not list: "
                                f"{', '.join(missing)}; an override cannot supply equipment", loc)
        if not self.planner.settings.intersection(entry.settings):
            raise OverrideError("setting", f"{entry.id} is done at {', '.join(entry.settings)}; the person "
                                f"exercises at {', '.join(sorted(self.planner.settings))}", loc)

    def blockers(self, entry: CatalogEntry, phase: str) -> list[tuple[str, list[str]]]:
        """(rule id, codes) for everything that keeps ``entry`` out of ``phase``, rules first."""
        out: list[tuple[str, list[str]]] = []
        for excl, rule in self.decision.excludes:
            if (not excl.phases or phase in excl.phases) and blocks(excl, entry):
                out.append((rule.id, exclusion_codes(excl, rule)))
        if entry.direction in self.program.stopped_directions:
            out.append((self.stopping[0] if self.stopping else "", ["peripheralization"]))
        if entry.id in self.program.dropped:
            earlier = next((e for e in self.program.excluded if e.exercise_id == entry.id), None)
            rule_id = earlier.rule_ids[0] if earlier and earlier.rule_ids else ""
            dropping = next((r for r in self.pack.rules if r.id == rule_id), None)
            spread = dropping is not None and bool(
                {"response.peripheralized", "feedback.peripheralized_any"} & set(dropping.reads))
            out.append((rule_id, ["peripheralization"] if spread else ["response"]))
        return out

    def new_prescription(self, entry: CatalogEntry, phase: str, rationale: str) -> Prescription:
        dose, dose_rules = self.planner.dose(entry, phase)
        return Prescription(exercise=exercise_data(entry), dose=dose, rationale=rationale,
                            sources=list(entry.sources), rule_ids=dose_rules)

    # ---- the five kinds

    def present(self, phase: str, exercise_id: str,
                loc: tuple[str | int, ...]) -> tuple[list[Prescription], int]:
        """The phase's prescriptions and the place of ``exercise_id`` among them (not-in-phase)."""
        items = self.phase_items(phase, (*loc, "phase"))
        index = find_prescription(items, exercise_id)
        if index is None:
            raise OverrideError("not-in-phase", f"{exercise_id!r} is not in phase {phase}",
                                (*loc, "exercise_id"))
        return items, index

    def remove(self, item: PhaseExercise, loc: tuple[str | int, ...]) -> None:
        items, index = self.present(item.phase, item.exercise_id, loc)
        if len(items) == 1:
            raise OverrideError("empty-phase", f"removing {item.exercise_id} would leave phase {item.phase} "
                                "empty; add another exercise first", (*loc, "exercise_id"))
        before = items[index]
        self.record(kind="remove", phase=item.phase, exercise_id=item.exercise_id, before=before,
                    overrode=list(before.rule_ids))

    def newcomer(self, item: PhaseExercise | AcceptOverride, loc: tuple[str | int, ...]) -> CatalogEntry:
        """The catalog entry an add or accept brings into a phase: known, not there yet, and within
        the person's equipment and settings (else OverrideError)."""
        items = self.phase_items(item.phase, (*loc, "phase"))
        entry = self.entry(item.exercise_id, (*loc, "exercise_id"))
        if find_prescription(items, entry.id) is not None:
            raise OverrideError("already-in-phase", f"{entry.id} is already in phase {item.phase}",
                                (*loc, "exercise_id"))
        self.limits(entry, (*loc, "exercise_id"))
        return entry

    def add(self, item: PhaseExercise, loc: tuple[str | int, ...]) -> None:
        entry = self.newcomer(item, loc)
        blocking = self.blockers(entry, item.phase)
        if blocking:
            codes = sorted({c for _, cs in blocking for c in cs})
            rules = ", ".join(r for r, _ in blocking if r) or "an earlier adjustment"
            raise OverrideError("excluded", f"{entry.id} is excluded in phase {item.phase} by {rules} "
                                f"(codes: {', '.join(codes)}); use accept, acknowledging "
                                f"{', '.join(c for c in codes if c in SAFETY_CODES) or 'nothing'}",
                                (*loc, "exercise_id"))
        after = self.new_prescription(entry, item.phase, self.say("added", by=self.by, reason=self.reason))
        self.record(kind="add", phase=item.phase, exercise_id=entry.id, after=after, overrode=[])

    def accept(self, item: AcceptOverride, loc: tuple[str | int, ...]) -> None:
        entry = self.newcomer(item, loc)
        blocking = self.blockers(entry, item.phase)
        if not blocking:
            raise OverrideError("not-excluded", f"{entry.id} is not excluded in phase {item.phase}; "
                                "use add", (*loc, "exercise_id"))
        codes = list(dict.fromkeys(c for _, cs in blocking for c in cs))
        unknown = [c for c in item.acknowledge if c not in codes]
        if unknown:
            raise OverrideError("unknown-acknowledgement",
                                f"acknowledge names {', '.join(unknown)}, which do not apply to {entry.id} "
                                f"in "
                                f"phase {item.phase} (its exclusion codes: {', '.join(codes)})",
                                (*loc, "acknowledge"))
        needed = [c for c in codes if c in SAFETY_CODES and c not in item.acknowledge]
        if needed:
            rules = ", ".join(r for r, cs in blocking if r and set(cs) & set(needed))
            raise OverrideError("needs-acknowledgement",
                                f"{entry.id} is left out of phase {item.phase} for safety "
                                f"({rules or 'an earlier adjustment'}); accepting it needs acknowledge: "
                                f"[{', '.join(needed)}]", (*loc, "acknowledge"))
        rationale = self.say("accepted", by=self.by, codes=", ".join(codes), reason=self.reason)
        after = self.new_prescription(entry, item.phase, rationale)
        self.record(kind="accept", phase=item.phase, exercise_id=entry.id, after=after,
                    overrode=list(dict.fromkeys(r for r, _ in blocking if r)),
                    acknowledged=list(dict.fromkeys(item.acknowledge)))

    def dose(self, item: DoseOverride, loc: tuple[str | int, ...]) -> None:
        items, index = self.present(item.phase, item.exercise_id, loc)
        given = {name: getattr(item, name) for name in DOSE_FIELDS if getattr(item, name) is not None}
        if not given:
            raise OverrideError("empty-dose", f"give at least one of {', '.join(DOSE_FIELDS)}", loc)
        for name, value in given.items():
            if value > DOSE_LIMITS[name]:
                raise OverrideError("dose-out-of-range", f"{name} {value} is above {DOSE_LIMITS[name]}",
                                    (*loc, name))
        before = items[index]
        if all(getattr(before.dose, name) == value for name, value in given.items()):
            raise OverrideError("same-dose",
                                f"{item.exercise_id} already has this dose in phase {item.phase}", loc)
        after = before.model_copy(update={
            "dose": before.dose.model_copy(update=given),
            "rationale": f"{before.rationale} {self.say('dose_set', by=self.by, reason=self.reason)}",
        })
        layers = {r.id: r.layer for r in self.pack.rules}
        overrode = [r for r in before.rule_ids if layers.get(r) in ("dosing", "adjust")]
        self.record(kind="dose", phase=item.phase, exercise_id=item.exercise_id, before=before, after=after,
                    overrode=overrode)

    def move(self, phase: str) -> None:
        loc: tuple[str | int, ...] = ("phase",)
        items = self.phase_items(phase, loc)
        now = self.program.current_phase or self.program.phases[0].id
        if phase == now:
            raise OverrideError("same-phase", f"the person is already in phase {phase}", loc)
        if self.program.elimination is not None:
            raise OverrideError("elimination", "elimination mode is testing exercises one at a time in "
                                f"phase {self.program.elimination.phase}; finish it before moving", loc)
        # A clinician's accept (in effect, or made in this change) answers for its exercise; anything
        # else dropped or in a stopped direction (an exercise kept because it was reported fine in
        # another phase, at this phase's dose) needs a decision before the person moves.
        accepted = {(o.phase, o.exercise_id) for o in [*self.in_effect, *self.made] if o.kind == "accept"}
        held = [p.exercise.id for p in items if (phase, p.exercise.id) not in accepted
                and (p.exercise.id in self.program.dropped
                     or p.exercise.direction in self.program.stopped_directions)]
        if held:
            raise OverrideError("dropped-exercise", f"phase {phase} holds {', '.join(held)}, dropped or in a "
                                "stopped direction; remove them in the same change, and accept them again "
                                "(acknowledging the exclusion) to keep them", loc)
        self.record(kind="phase", phase=phase, phase_before=now, overrode=list(self.advancing))

    def intervention(self, item: InterventionOverride, loc: tuple[str | int, ...]) -> None:
        """Record a do-not-do intervention: refused unless it is on the pack's list and acknowledged."""
        found = self.pack.donotdo.get(item.id)
        if found is None:
            known = ", ".join(self.pack.donotdo.ids) or "none"
            raise OverrideError("unknown-intervention", f"{item.id!r} is not on the rule pack's do-not-do "
                                f"list ({known}); backrx records only those", (*loc, "id"))
        why = " ".join((item.acknowledge or "").split())
        if not why:
            raise OverrideError("donotdo-unacknowledged",
                                f"{found.id} ({found.name}) is advised against in routine care "
                                f"({', '.join(found.sources)}); adding it needs acknowledge: the reason "
                                "for this person", (*loc, "acknowledge"))
        if any(o.kind == "intervention" and o.intervention == found.id
               for o in [*self.in_effect, *self.made]):
            raise OverrideError("already-recorded", f"{found.id} is already recorded for this person",
                                (*loc, "id"))
        now = self.program.current_phase or self.program.phases[0].id
        self.record(kind="intervention", phase=now, overrode=[], intervention=found.id,
                    acknowledgement=why, acknowledged=[found.id])


def _rules_for(rec: Recommendation, rules: RuleSet | None) -> RuleSet:
    chosen = rules if rules is not None else default_rules()
    if chosen.digest != rec.ruleset.digest:
        raise OverrideError("other-pack", f"this recommendation was made by rule pack {rec.ruleset.name} "
                            f"{rec.ruleset.version}; pass rules=load_rules(<that pack>)", ())
    if rec.profile is None:
        raise OverrideError("no-profile", "this recommendation carries no profile", ())
    found = refusal(rec, chosen)  # records as written, and an outcome the profile's triage gives
    if found is not None:
        raise OverrideError(found[0], found[1], found[2])
    if rec.program is None:
        urgency = rec.referral.urgency if rec.referral is not None else "a"
        raise OverrideError("referral", f"an {urgency} referral replaces the program; an override never "
                            "removes a referral", ())
    if [p.id for p in rec.program.phases] != [p.id for p in chosen.pack.phases]:
        raise OverrideError("edited", "the program's phases do not match the rule pack's", ())
    return chosen


def override(rec: Recommendation, changes: OverrideChanges | Mapping[str, Any], *, reason: str, by: str,
             at: str | datetime | None = None, rules: RuleSet | None = None) -> Recommendation:
    """A new Recommendation with a clinician's changes applied and recorded in ``overrides``.

    ``reason`` (why) and ``by`` (who) are required; ``at`` (when) is an ISO 8601 date-time with an
    offset, recorded as given, or None (the default: backrx reads no clock). Raises
    ``pydantic.ValidationError`` for changes of the wrong shape and `backrx.OverrideError`
    (``code``, ``loc``) for a change backrx refuses. Nothing is applied unless every change is.
    """
    parsed = changes if isinstance(changes, OverrideChanges) else OverrideChanges.model_validate(changes)
    for name, value in (("reason", reason), ("by", by)):
        if not isinstance(value, str) or not value.strip():
            meaning = "why" if name == "reason" else "who"
            raise OverrideError(f"missing-{name}", f"an override needs {name}: {meaning}", (name,))
    when = _time(at)
    chosen = _rules_for(rec, rules)
    if not (parsed.add or parsed.remove or parsed.dose or parsed.accept or parsed.phase
            or parsed.interventions):
        raise OverrideError("no-change", "the changes are empty", ())
    session = _Session(chosen, rec, " ".join(reason.split()), " ".join(by.split()), when)
    for i, item in enumerate(parsed.remove):
        session.remove(item, ("remove", i))
    for i, item in enumerate(parsed.add):
        session.add(item, ("add", i))
    for i, accepted in enumerate(parsed.accept):
        session.accept(accepted, ("accept", i))
    for i, dosed in enumerate(parsed.dose):
        session.dose(dosed, ("dose", i))
    if parsed.phase is not None:
        session.move(parsed.phase)
    for i, added in enumerate(parsed.interventions):
        session.intervention(added, ("interventions", i))
    made = rec.model_copy(update={"program": session.program, "overrides": [*rec.overrides, *session.made]})
    sealed = chain.seal(made, len(session.made))  # each new override joins the chain of records
    try:
        chain.verify(sealed)
    except chain.ChainError as exc:  # the only check left to fail: time running backwards
        raise OverrideError(exc.code, exc.message, ("at",)) from None
    return sealed


def intent(item: Override) -> dict[str, Any]:
    """The changes that make ``item`` again on another recommendation (for migrate): what the
    clinician asked for, not the prescription it produced."""
    target = {"phase": item.phase, "exercise_id": item.exercise_id}
    if item.kind == "phase":
        return {"phase": item.phase}
    if item.kind == "intervention":
        return {"interventions": [{"id": item.intervention, "acknowledge": item.acknowledgement}]}
    if item.kind == "accept":
        return {"accept": [{**target, "acknowledge": list(item.acknowledged)}]}
    if item.kind == "dose":
        assert item.before is not None and item.after is not None
        parts = {name: getattr(item.after.dose, name) for name in DOSE_FIELDS
                 if getattr(item.after.dose, name) != getattr(item.before.dose, name)
                 and getattr(item.after.dose, name) is not None}
        return {"dose": [{**target, **parts}]}
    return {item.kind: [target]}


def reapply(rec: Recommendation, items: Iterable[Override], *,
            rules: RuleSet | None = None) -> tuple[Recommendation, list[str]]:
    """Make ``items`` again, in order, on ``rec`` (a re-planned recommendation), with their
    original author, reason and time. Returns the result and a line for each override that the
    new plan refuses (it is left out, never forced)."""
    skipped: list[str] = []
    for item in items:
        try:
            rec = override(rec, intent(item), reason=item.reason, by=item.by, at=item.at, rules=rules)
        except OverrideError as exc:
            skipped.append(f"override {item.number} ({item.kind} {item.exercise_id or item.phase}): "
                           f"not re-applied ({exc.code}: {exc.message})")
    return rec, skipped


__all__ = [
    "EXCLUSION_CODES",
    "SAFETY_CODES",
    "AcceptOverride",
    "DoseOverride",
    "InterventionOverride",
    "OverrideChanges",
    "PhaseExercise",
    "apply_override",
    "describe",
    "exclusion_codes",
    "intent",
    "override",
    "override_notices",
    "override_status",
    "provenance_data",
    "reapply",
    "replay_with_overrides",
]
