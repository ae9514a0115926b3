"""The planner: fills each phase from the catalog with what the rules asked for.

It decides nothing clinical. For each phase it walks the rules' prescriptions in
trace order and takes, from each candidate list, the first exercises that the
person can do: not excluded by a rule, no equipment they lack, a setting they
use. A candidate that is ruled out is replaced by its easier variant when that
one fits; the candidate is then listed among the exclusions with its reasons.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from backrx.decision import Decision
from backrx.profile import GYM_EQUIPMENT, Profile
from backrx.recommendation import Dose, Exercise, Prescription, Program
from backrx.rulepack import DOSE_FIELDS, CatalogEntry, Exclude, Pack, Rule

MAX_REGRESSIONS = 6


@dataclass
class _Blocked:
    name: str
    phases: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)

    def add(self, phase: str, reasons: list[str], rule_ids: list[str]) -> None:
        if phase not in self.phases:
            self.phases.append(phase)
        for reason in reasons:
            if reason not in self.reasons:
                self.reasons.append(reason)
        for rule_id in rule_ids:
            if rule_id not in self.rule_ids:
                self.rule_ids.append(rule_id)


def _blocks(rule_exclude: Exclude, entry: CatalogEntry) -> bool:
    return (
        entry.id in rule_exclude.exercises
        or entry.direction in rule_exclude.directions
        or entry.category in rule_exclude.categories
        or any(tag in entry.tags for tag in rule_exclude.tags)
        or (rule_exclude.max_load is not None and entry.load > rule_exclude.max_load)
    )


def _words(values: list[str] | tuple[str, ...]) -> str:
    return ", ".join(v.replace("_", " ") for v in values)


@functools.lru_cache(maxsize=8192)
def exercise_data(entry: CatalogEntry) -> Exercise:
    """The output Exercise of a catalog entry, built once: models are immutable, and pydantic
    takes an existing instance without validating it again."""
    return Exercise.model_validate({
        "id": entry.id, "name": entry.name, "category": entry.category, "direction": entry.direction,
        "load": entry.load, "equipment": entry.equipment, "settings": entry.settings,
        "targets": entry.targets, "instructions": entry.instructions, "easier": entry.easier,
        "harder": entry.harder, "media": list(entry.media),
    })


class _Planner:
    def __init__(self, pack: Pack, profile: Profile, decision: Decision) -> None:
        self.pack = pack
        self.decision = decision
        prefs = profile.resolved_preferences
        self.settings: set[str] = set(prefs.settings)
        self.equipment: set[str] = set(prefs.equipment)
        if "gym" in self.settings:
            self.equipment |= GYM_EQUIPMENT
        self.blocked: dict[str, _Blocked] = {}
        self._verdicts: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
        self._doses: dict[tuple[str, str], tuple[dict[str, int], list[str]]] = {}

    def why_not(self, entry: CatalogEntry, phase: str) -> tuple[list[str], list[str]]:
        """Reasons and rule ids that rule ``entry`` out in ``phase`` (empty when it fits)."""
        key = (entry.id, phase)
        if key not in self._verdicts:
            self._verdicts[key] = self._why_not(entry, phase)
        return self._verdicts[key]

    def _why_not(self, entry: CatalogEntry, phase: str) -> tuple[list[str], list[str]]:
        """Reasons and rule ids that rule ``entry`` out in ``phase`` (empty when it fits)."""
        reasons: list[str] = []
        rule_ids: list[str] = []
        for excl, rule in self.decision.excludes:
            if (not excl.phases or phase in excl.phases) and _blocks(excl, entry):
                reasons.append(self.decision.rationale_of(rule.id))
                rule_ids.append(rule.id)
        missing = [e for e in entry.equipment if e not in self.equipment]
        if missing:
            reasons.append(f"It needs equipment you did not list: {_words(missing)}.")
        if not self.settings.intersection(entry.settings):
            reasons.append(
                f"It is done in a place you did not list ({_words(entry.settings)}); "
                f"you exercise at: {_words(sorted(self.settings))}."
            )
        return reasons, rule_ids

    def fit(self, candidate: str, phase: str) -> tuple[CatalogEntry | None, list[str], list[str]]:
        """The candidate, or its nearest easier variant that fits; with the rules that moved it."""
        entry: CatalogEntry | None = self.pack.exercises[candidate]
        moved_by: list[str] = []
        notes: list[str] = []
        for _ in range(MAX_REGRESSIONS):
            assert entry is not None
            reasons, rule_ids = self.why_not(entry, phase)
            if not reasons:
                return entry, moved_by, notes
            self.blocked.setdefault(entry.id, _Blocked(entry.name)).add(phase, reasons, rule_ids)
            moved_by.extend(r for r in rule_ids if r not in moved_by)
            notes.append(f"{entry.name} was left out: {' '.join(reasons)}")
            if entry.easier is None:
                return None, moved_by, notes
            entry = self.pack.exercises[entry.easier]
        return None, moved_by, notes

    def dose(self, entry: CatalogEntry, phase: str) -> tuple[Dose, list[str]]:
        values, rule_ids = self.dose_values(entry, phase)
        return Dose(**values), rule_ids

    def dose_values(self, entry: CatalogEntry, phase: str) -> tuple[dict[str, int], list[str]]:
        key = (entry.dose_kind, phase)
        if key not in self._doses:
            self._doses[key] = self._dose_values(entry, phase)
        values, rule_ids = self._doses[key]
        return dict(values), list(rule_ids)

    def _dose_values(self, entry: CatalogEntry, phase: str) -> tuple[dict[str, int], list[str]]:
        values: dict[str, int] = {}
        rule_ids: list[str] = []
        for spec, rule in self.decision.doses:
            if spec.kind == entry.dose_kind and (not spec.phases or phase in spec.phases):
                values.update(spec.values)
                if rule.id not in rule_ids:
                    rule_ids.append(rule.id)
        return {k: v for k, v in values.items() if k in DOSE_FIELDS}, rule_ids

    def prescription(self, entry: CatalogEntry, rule: Rule, phase: str, moved_by: list[str],
                     notes: list[str]) -> Prescription:
        return Prescription.model_validate(self.prescription_data(entry, rule, phase, moved_by, notes))

    def prescription_data(self, entry: CatalogEntry, rule: Rule, phase: str, moved_by: list[str],
                          notes: list[str]) -> dict[str, Any]:
        """A prescription as plain data; the Recommendation validates it once, in one pass."""
        dose, dose_rules = self.dose_values(entry, phase)
        rationale = self.decision.rationale_of(rule.id)
        if notes:
            rationale += f" Using {entry.name} instead. " + " ".join(notes)
        sources = list(dict.fromkeys((*rule.sources, *entry.sources)))
        rule_ids = list(dict.fromkeys((rule.id, *moved_by, *dose_rules)))
        return {"exercise": exercise_data(entry), "dose": dose, "rationale": rationale,
                "sources": sources, "rule_ids": rule_ids}

    def plan(self) -> dict[str, Any]:
        """The program as plain data (see :func:`plan`)."""
        phases: list[dict[str, Any]] = []
        week = 1
        for phase_def in self.pack.phases:
            chosen: list[dict[str, Any]] = []
            taken: set[str] = set()
            for spec, rule in self.decision.prescribes:
                if spec.phase != phase_def.id:
                    continue
                count = 0
                for candidate in spec.exercises:
                    if count >= spec.pick:
                        break
                    entry, moved_by, notes = self.fit(candidate, phase_def.id)
                    if entry is None or entry.id in taken:
                        continue
                    taken.add(entry.id)
                    chosen.append(self.prescription_data(entry, rule, phase_def.id, moved_by, notes))
                    count += 1
            weeks = self.decision.schedule.get(phase_def.id, (phase_def.weeks, None))[0]
            phases.append({
                "id": phase_def.id, "name": phase_def.name, "goal": phase_def.goal, "start_week": week,
                "end_week": week + weeks - 1, "progress_when": list(phase_def.progress_when),
                "prescriptions": chosen, "min_days": phase_def.min_days,
            })
            week += weeks
        # Exercises a rule names outright are reported even when no rule asked for them.
        for excl, rule in self.decision.excludes:
            for eid in excl.exercises:
                entry = self.pack.exercises[eid]
                scope = list(excl.phases) or [p.id for p in self.pack.phases]
                for phase in scope:
                    self.blocked.setdefault(eid, _Blocked(entry.name)).add(
                        phase, [self.decision.rationale_of(rule.id)], [rule.id])
        excluded = [
            {"exercise_id": eid, "exercise_name": b.name, "phases": b.phases, "reasons": b.reasons,
             "rule_ids": b.rule_ids}
            for eid, b in sorted(self.blocked.items())
        ]
        return {"phases": phases, "excluded": excluded,
                "current_phase": phases[0]["id"] if phases else ""}


def plan_data(pack: Pack, profile: Profile, decision: Decision) -> dict[str, Any]:
    """The staged program, as plain data validated later in one pass with the Recommendation."""
    return _Planner(pack, profile, decision).plan()


def plan(pack: Pack, profile: Profile, decision: Decision) -> Program:
    """The staged program for a profile the rules did not refer."""
    return Program.model_validate(plan_data(pack, profile, decision))
