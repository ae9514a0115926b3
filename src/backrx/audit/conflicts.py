"""Conflicts: rules whose conclusions contradict each other for some audited profile.

A prescribing rule and an exclusion that rules its exercises out (planned again without the
exclusion to see what it cost), two STarT Back risk groups, one derived name set to two values,
and directional pathways that point opposite ways.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backrx.audit.report import Conflict
from backrx.model.profile import Profile
from backrx.model.recommendation import Program, Recommendation
from backrx.pack.model import Rule
from backrx.ruleset import RuleSet
from backrx.run.planner import blocks, plan


def _words(values: Iterable[str]) -> str:
    return ", ".join(values)


def profile_key(profile: Mapping[str, Any]) -> str:
    """A profile as canonical JSON text (to recognise it again)."""
    return json.dumps(profile, sort_keys=True, default=str)


def profile_size(profile: Mapping[str, Any]) -> int:
    """How big a profile is (the smaller of two examples is the one kept)."""
    return len(profile_key(profile))


@dataclass
class ConflictTally:
    """One pair of rules in conflict, counted over the audited profiles."""

    kind: str
    rule_ids: tuple[str, str]
    phases: dict[str, None] = field(default_factory=dict)
    exercises: dict[str, None] = field(default_factory=dict)
    profiles: int = 0
    dropped: bool = False
    detail: str = ""
    profile: dict[str, Any] | None = None
    profile_dropped: bool = False

    def add(self, profile: dict[str, Any], phases: Iterable[str] = (), exercises: Iterable[str] = (),
            dropped: bool = False, detail: str = "") -> None:
        self.phases.update(dict.fromkeys(phases))
        self.exercises.update(dict.fromkeys(exercises))
        self.profiles += 1
        self.dropped = self.dropped or dropped
        # Keep the smallest example, preferring one where the prescription was dropped.
        better = (self.profile is None or (dropped and not self.profile_dropped)
                  or (dropped == self.profile_dropped and profile_size(profile) < profile_size(self.profile)))
        if better:
            self.profile = copy.deepcopy(profile)
            self.profile_dropped = dropped
            self.detail = detail or self.detail

    def freeze(self) -> Conflict:
        detail = self.detail
        if self.kind == "prescribe-vs-exclude":
            detail = (f"{self.rule_ids[1]} rules out {_words(self.exercises)} that {self.rule_ids[0]} "
                      f"prescribes in {_words(self.phases)}")
            if self.dropped:
                detail += "; for some profiles that leaves the phase with fewer exercises from it"
        return Conflict(self.kind, self.rule_ids, tuple(self.phases), tuple(self.exercises), self.profiles,
                        self.dropped, detail, self.profile or {})


class ConflictFinder:
    """Counts the conflicts among the rules that fire, profile by profile."""

    def __init__(self, rules: RuleSet, by_id: dict[str, Rule]) -> None:
        self.rules = rules
        self.by_id = by_id
        self.tallies: dict[tuple[str, str, str], ConflictTally] = {}

    def conflicts(self) -> list[Conflict]:
        """The conflicts found so far: dropped prescriptions first, then by kind and rules."""
        return sorted((tally.freeze() for tally in self.tallies.values()),
                      key=lambda c: (not c.dropped, c.kind, c.rule_ids))

    def _tally(self, kind: str, first: str, second: str) -> ConflictTally:
        key = (kind, first, second)
        found = self.tallies.get(key)
        if found is None:
            found = self.tallies[key] = ConflictTally(kind, (first, second))
        return found

    def observe(self, profile: dict[str, Any], rec: Recommendation) -> None:
        """Tally the conflicts among the rules that fired for ``profile``."""
        fired = [self.by_id[f.rule_id] for f in rec.trace if f.rule_id in self.by_id]
        risks: dict[str, str] = {}
        sets: dict[str, tuple[str, Any]] = {}
        directions: dict[str, str] = {}
        for rule in fired:
            if rule.then.risk is not None:
                for other, group in risks.items():
                    if group != rule.then.risk:
                        self._tally("risk", other, rule.id).add(
                            profile, detail=f"STarT Back risk {group} and {rule.then.risk}")
                risks[rule.id] = rule.then.risk
            for name, value in rule.then.set:
                if name in sets and sets[name][1] != value:
                    other, first_value = sets[name]
                    self._tally("set", other, rule.id).add(
                        profile, detail=f"derived.{name} set to {first_value!r} and {value!r}")
                sets.setdefault(name, (rule.id, value))
            for pathway in rule.then.pathways:
                if pathway in ("mckenzie_extension", "mckenzie_flexion"):
                    for other, seen in directions.items():
                        if seen != pathway:
                            self._tally("pathway", other, rule.id).add(
                                profile, detail=f"pathways {seen} and {pathway} point opposite ways")
                    directions[rule.id] = pathway
        program = rec.program
        if program is None:
            return
        catalog = self.rules.pack.exercises
        tried = {(e.exercise_id, phase) for e in program.excluded for phase in e.phases}
        excludes = [(e, rule) for rule in fired for e in rule.then.exclude]
        suspects: dict[str, list[tuple[Rule, str, list[str]]]] = {}  # excluding rule -> what it hit
        for rule in fired:
            for spec in rule.then.prescribe:
                for excl, by in excludes:
                    if excl.phases and spec.phase not in excl.phases:
                        continue
                    hit = [c for c in spec.exercises if (c, spec.phase) in tried and c in catalog
                           and blocks(excl, catalog[c])]
                    if hit:
                        suspects.setdefault(by.id, []).append((rule, spec.phase, hit))
        if not suspects:
            return
        # What would each prescribing rule have got without the excluding rule? Plan again and see.
        decision = self.rules.decide(profile)
        valid = Profile.model_validate(profile)
        actual = by_rule(program)
        for excluding, hits in suspects.items():
            without = dataclasses.replace(
                decision, excludes=[(e, r) for e, r in decision.excludes if r.id != excluding])
            alternative = by_rule(plan(self.rules.pack, valid, without))
            for rule, phase, hit in hits:
                got, could = actual.get((phase, rule.id), []), alternative.get((phase, rule.id), [])
                if got == could:
                    continue  # the exclusion made no difference to this rule here
                self._tally("prescribe-vs-exclude", rule.id, excluding).add(
                    profile, (phase,), hit, dropped=len(could) > len(got))


def by_rule(program: Program) -> dict[tuple[str, str], list[str]]:
    """(phase, prescribing rule) -> the exercise ids it got, in order."""
    out: dict[tuple[str, str], list[str]] = {}
    for phase in program.phases:
        for p in phase.prescriptions:
            if p.rule_ids:
                out.setdefault((phase.id, p.rule_ids[0]), []).append(p.exercise.id)
    return out


__all__ = ["ConflictFinder", "ConflictTally", "by_rule", "profile_key", "profile_size"]
