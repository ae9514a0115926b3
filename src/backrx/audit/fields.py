"""Dead inputs: profile fields that no rule reads, or whose change never alters a decision.

Two passes over every leaf of the profile (`backrx.pack.fields.profile_leaves`):

* **Static** (`field_readers`): what reads each field. A rule reads the fields its ``when``
  tests, in every layer (states and adjust included), if its conclusion is used: a rule that only
  sets a ``derived.*`` name that nothing reads does not count. A score the facts layer computes
  (``startback.total``) counts as reading the fields it is made of, found by changing each field
  of a plain profile and watching the facts; an adjust fact made from the baseline outcome
  measures counts as reading them; the planner reads `backrx.run.inputs.PLANNER_FIELDS`.
* **Sensitivity** (`Sensitivity`): on each audited profile, each field that a recommend
  layer or the planner reads is set to each other value its type allows (each vocabulary value,
  true/false, left out, the bounds, and each threshold the pack's rules test it against, with a
  step either side). A field counts as live once one change alters the decision: the outcome, the
  referral tier and reasons, the pathways, the risk group, the program's exercises and doses, or
  the warning codes.

A field may do neither only if the pack declares it informational, with a reason
(``fields.yaml``, `backrx.pack.fields`). A declared field that a rule reads, or that changed a
decision, is a stale declaration.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from backrx.lang.condition import Condition, FieldTest, NotOf
from backrx.model.profile import Profile, validated_profile
from backrx.model.recommendation import Recommendation
from backrx.pack.fields import FieldNotes, Leaf, profile_leaves
from backrx.pack.model import Pack, Rule
from backrx.ruleset import RuleSet
from backrx.run.facts import profile_values
from backrx.run.inputs import PLANNER_FIELDS, planner_inputs

#: Facts of the adjust layer made from the profile's baseline outcome measures
#: (backrx.followup.outcome / history): "measures" stands for outcomes.<id> of each measure the pack
#: defines (outcomes.yaml).
ADJUST_FACT_SOURCES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "outcomes.followed": ("measures",),
    "outcomes.improved": ("measures",),
    "outcomes.worsened": ("measures",),
    "outcomes.walk_minutes": ("outcomes.walk_minutes",),
})
PLANNER = "planner"


def condition_tests(condition: Condition) -> Iterator[FieldTest]:
    """Every field test of a condition, negated ones included."""
    if isinstance(condition, FieldTest):
        yield condition
    elif isinstance(condition, NotOf):
        yield from condition_tests(condition.item)
    else:
        for item in condition.items:
            yield from condition_tests(item)


def effective_rules(pack: Pack) -> list[Rule]:
    """The rules whose conclusion is used: any conclusion but ``set``, or a set ``derived.*`` name
    that an effective rule reads."""
    def effect(rule: Rule) -> bool:
        then = rule.then
        return any((then.refer, then.safety_net, then.warn, then.pathways, then.risk, then.prescribe,
                    then.exclude, then.dose, then.schedule, then.adjust, then.stop_direction,
                    then.eliminate, then.advance, then.hold_rounds, then.criterion, then.educate))

    live = [rule for rule in pack.rules if effect(rule)]
    live_ids = {rule.id for rule in live}
    while True:
        wanted = {t.field for rule in live for t in condition_tests(rule.when)}
        more = [rule for rule in pack.rules if rule.id not in live_ids
                and any(f"derived.{name}" in wanted for name, _ in rule.then.set)]
        if not more:
            return live
        live += more
        live_ids |= {rule.id for rule in more}


def _mutations(leaf: Leaf, current: Any, thresholds: dict[str, list[float]]) -> list[Any]:
    """Other values the field's type allows (``_ABSENT``: left out)."""
    values: list[Any] = [] if leaf.required else [_ABSENT]
    if leaf.kind == "bool":
        values += [True, False]
    elif leaf.kind == "enum":
        values += list(leaf.values)
    elif leaf.kind == "list":
        have = list(current) if isinstance(current, list) else []
        values.append([])
        values += [[v for v in have if v != item] if item in have else [*have, item] for item in leaf.values]
    elif leaf.kind in ("int", "float"):
        step = 1.0 if leaf.kind == "int" else 0.5
        numbers = {n for t in thresholds.get(leaf.path, ()) for n in (t - step, t, t + step)}
        numbers |= {n for n in (leaf.minimum, leaf.maximum) if n is not None}
        low = leaf.minimum if leaf.minimum is not None else float("-inf")
        high = leaf.maximum if leaf.maximum is not None else float("inf")
        kept = sorted(n for n in numbers if low <= n <= high and (leaf.kind == "float" or n == int(n)))
        values += [int(n) if leaf.kind == "int" else float(n) for n in kept]
    elif leaf.kind == "other":
        values.append([])
    return [v for v in values if not _same(v, current)]


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


def _same(value: Any, current: Any) -> bool:
    if value is _ABSENT:
        return current is _ABSENT
    if isinstance(value, list) and isinstance(current, list):
        return set(map(repr, value)) == set(map(repr, current))
    return type(value) is type(current) and bool(value == current)


def _get(profile: dict[str, Any], path: str) -> Any:
    head, _, tail = path.partition(".")
    node = profile.get(head, _ABSENT)
    if not tail:
        return node
    if not isinstance(node, dict):
        return _ABSENT
    return node.get(tail, _ABSENT)


def _with(profile: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``profile`` with ``path`` set to ``value`` (left out for ``_ABSENT``)."""
    out = dict(profile)
    head, _, tail = path.partition(".")
    target = out
    if tail:
        section = out.get(head)
        target = out[head] = dict(section) if isinstance(section, dict) else {}
    key = tail or head
    if value is _ABSENT:
        target.pop(key, None)
    else:
        target[key] = value
    return out


def score_sources(base: dict[str, Any]) -> dict[str, set[str]]:
    """For each fact the facts layer derives (a score, the stage), the profile fields whose change
    altered it on ``base`` with each section filled in plainly (false, the lowest number)."""
    leaves = profile_leaves()
    plain = dict(base)
    for section in {p.split(".")[0] for p in leaves if "." in p}:
        filled = {p.split(".", 1)[1]: (False if leaf.kind == "bool" else int(leaf.minimum)
                                       if leaf.kind == "int" and leaf.minimum is not None else None)
                  for p, leaf in leaves.items() if p.startswith(section + ".")}
        candidate = {**plain, section: {k: v for k, v in filled.items() if v is not None}}
        try:
            validated_profile(candidate)
        except ValidationError:
            continue
        plain = candidate
    before = profile_values(validated_profile(plain))
    found: dict[str, set[str]] = {}
    for path, leaf in leaves.items():
        for value in _mutations(leaf, _get(plain, path), {}):
            try:
                after = profile_values(validated_profile(_with(plain, path, value)))
            except ValidationError:
                continue
            for fact in set(before) | set(after):
                if fact != path and before.get(fact) != after.get(fact):
                    found.setdefault(fact, set()).add(path)
    return found


def field_readers(pack: Pack, base: dict[str, Any]) -> dict[str, list[str]]:
    """Each profile leaf and what reads it: rule ids, ``planner``, or ``<rule> (via <fact>)``."""
    leaves = profile_leaves()
    readers: dict[str, list[str]] = {path: [] for path in leaves}
    sources = score_sources(base)
    measures = tuple(f"outcomes.{m}" for m in pack.measures)
    for rule in effective_rules(pack):
        for fact in dict.fromkeys(t.field for t in condition_tests(rule.when)):
            if fact in readers:
                readers[fact].append(rule.id)
            for leaf in sorted(sources.get(fact, ())):
                readers[leaf].append(f"{rule.id} (via {fact})")
            for source in ADJUST_FACT_SOURCES.get(fact, ()):
                for leaf in measures if source == "measures" else (source,):
                    if leaf in readers:
                        readers[leaf].append(f"{rule.id} (via {fact})")
    for path in PLANNER_FIELDS:
        readers[path].append(PLANNER)
    return {path: list(dict.fromkeys(found)) for path, found in readers.items()}


def decision_key(rec: Recommendation) -> tuple[Any, ...]:
    """What a decision is made of: outcome, referral tier and reasons, pathways, risk group, each
    phase's exercises with their doses, the education modules chosen, and the warning codes."""
    referral = (rec.referral.urgency, tuple(rec.referral.reasons)) if rec.referral is not None else None
    program = None
    if rec.program is not None:
        doses = {id(p): tuple(sorted(p.dose.model_dump(exclude_none=True).items()))
                 for phase in rec.program.phases for p in phase.prescriptions}
        phases = [(phase.id, tuple((p.exercise.id, doses[id(p)])
                                   for p in phase.prescriptions))
                  for phase in rec.program.phases]
        program = (*phases, tuple(m.id for m in rec.program.education))
    return (rec.outcome, referral, tuple(rec.classification.pathways), rec.classification.startback_risk,
            program, tuple(w.code for w in rec.warnings))


def _thresholds(pack: Pack) -> dict[str, list[float]]:
    found: dict[str, set[float]] = {}
    for rule in pack.rules:
        for test in condition_tests(rule.when):
            values = test.value if isinstance(test.value, tuple) else (test.value,)
            for value in values:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    found.setdefault(test.field, set()).add(float(value))
    return {path: sorted(numbers) for path, numbers in found.items()}


class Sensitivity:
    """Changes each tested field on each observed profile until one change alters the decision."""

    def __init__(self, rules: RuleSet, tested: list[str]) -> None:
        self.rules = rules
        leaves = profile_leaves()
        self.leaves = [leaves[path] for path in tested]
        self.thresholds = _thresholds(rules.pack)
        self.tried: dict[str, int] = dict.fromkeys(tested, 0)  # profiles a valid change was tried on
        self.changed: dict[str, int] = {}  # field -> the profile (1-based) where a change mattered
        self.profiles = 0
        self.cases = 0  # of which golden cases of the pack
        self.seconds = 0.0

    def observe(self, profile: dict[str, Any], *, case: bool = False) -> None:
        """Try every field not yet shown live on this profile (``case``: a golden case's profile)."""
        started = time.monotonic()
        self.profiles += 1
        self.cases += case
        try:
            base = validated_profile(profile)
        except ValidationError:
            return
        probe = _Probe(self.rules, base)
        for leaf in self.leaves:
            if leaf.path in self.changed:
                continue
            tried = False
            for value in _mutations(leaf, _get(profile, leaf.path), self.thresholds):
                try:
                    other = validated_profile(_with(profile, leaf.path, value))
                except ValidationError:
                    continue
                tried = True
                if probe.differs(other):
                    self.changed[leaf.path] = self.profiles
                    break
            self.tried[leaf.path] += tried
        self.seconds += time.monotonic() - started


class _Probe:
    """One base profile, its facts, firings and decision, worked out once and only when needed."""

    def __init__(self, rules: RuleSet, base: Profile) -> None:
        self.rules = rules
        self.base = base
        self.facts = profile_values(base)
        self.inputs = planner_inputs(base)
        self._fired: tuple[str, ...] | None = None
        self._key: tuple[Any, ...] | None = None

    def differs(self, other: Profile) -> bool:
        facts = profile_values(other)
        inputs = planner_inputs(other)
        if facts == self.facts and inputs == self.inputs:
            return False  # the rules and the planner see the same values
        if inputs == self.inputs:
            if self._fired is None:
                self._fired = tuple(f.rule.id for f in self.rules.decide_facts(self.facts).fired)
            if tuple(f.rule.id for f in self.rules.decide_facts(facts).fired) == self._fired:
                return False  # the same rules fire: the same conclusions
        if self._key is None:
            self._key = decision_key(self.rules.recommend(self.base))
        return decision_key(self.rules.recommend(other)) != self._key


@dataclass(frozen=True)
class FieldAudit:
    """The dead-input audit of a pack: which fields are read, live, informational or dead."""

    readers: dict[str, list[str]]  # every profile leaf -> what reads it
    informational: dict[str, str]  # declared in fields.yaml, with the reason
    dead: tuple[str, ...]  # no rule and not the planner reads it, and not declared
    inert: tuple[str, ...]  # changed on every audited profile, never altered a decision
    stale: tuple[tuple[str, str], ...]  # declared informational, but read or live: (field, why)
    tested: dict[str, int] = field(default_factory=dict)  # field -> profiles a change was tried on
    live: dict[str, int] = field(default_factory=dict)  # field -> the profile where a change mattered
    adjust_only: tuple[str, ...] = ()  # read only by feedback layers: not tested on recommend
    profiles: int = 0  # profiles the sensitivity pass changed fields on
    cases: int = 0  # of which golden cases
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No dead field, no field that never matters, no stale declaration."""
        return not (self.dead or self.inert or self.stale)

    def as_dict(self) -> dict[str, Any]:
        """The field audit as plain data (the time is left out: the same seed gives the same data)."""
        return {"ok": self.ok, "fields": len(self.readers), "dead": list(self.dead),
                "inert": list(self.inert), "stale": [{"field": f, "why": why} for f, why in self.stale],
                "informational": dict(self.informational), "adjust_only": list(self.adjust_only),
                "readers": {k: list(v) for k, v in self.readers.items()}, "tested": dict(self.tested),
                "live": dict(self.live), "profiles": self.profiles, "cases": self.cases}

    def text_lines(self) -> list[str]:
        """The field audit for people."""
        verdict = "ok" if self.ok else "FAIL"
        out = [f"Profile fields: {len(self.readers)} fields, {len(self.dead)} dead, {len(self.inert)} never "
               f"alter a decision, {len(self.stale)} stale declarations, {len(self.informational)} declared "
               f"informational ({self.profiles} profiles, of which {self.cases} golden cases; "
               f"{self.seconds:.1f} s): {verdict}"]
        out += [f"  DEAD     {path}: no rule reads it and the planner does not; declare it in fields.yaml "
                "with a reason, or add the rule that should read it" for path in self.dead]
        out += [f"  INERT    {path}: changed on {self.tested.get(path, 0)} profiles, never altered a "
                f"decision (read by {', '.join(self.readers.get(path, [])[:3]) or 'nothing'})"
                for path in self.inert]
        out += [f"  STALE    {path}: declared informational, but {why}" for path, why in self.stale]
        if self.adjust_only:
            out.append(f"  read only by feedback layers (checked by the adjust rules, not here): "
                       f"{', '.join(self.adjust_only)}")
        return out


def audit_fields(rules: RuleSet, notes: FieldNotes, sensitivity: Sensitivity | None,
                 base: dict[str, Any]) -> FieldAudit:
    """Put the static pass and the sensitivity pass together against the pack's declarations."""
    readers = field_readers(rules.pack, base)
    adjust_only = tuple(path for path, found in readers.items() if _feedback_only(rules.pack, found))
    declared = notes.informational
    dead = tuple(p for p, found in readers.items() if not found and p not in declared)
    tested = sensitivity.tried if sensitivity is not None else {}
    live = sensitivity.changed if sensitivity is not None else {}
    inert = tuple(p for p in tested if p not in live and p not in declared and readers.get(p))
    stale = [(p, f"{', '.join(readers[p][:3])} read{'s' if len(readers[p]) == 1 else ''} it")
             for p in declared if readers.get(p)]
    stale += [(p, f"changing it altered a decision (profile {live[p]})") for p in declared
              if p in live and not readers.get(p)]
    return FieldAudit(readers, dict(declared), dead, inert, tuple(stale), dict(tested), dict(live),
                      adjust_only, sensitivity.profiles if sensitivity else 0,
                      sensitivity.cases if sensitivity else 0, sensitivity.seconds if sensitivity else 0.0)


def _feedback_only(pack: Pack, readers: list[str]) -> bool:
    """Whether every reader is a rule of a layer that reads feedback (run by backrx.adjust)."""
    feedback = {layer.name for layer in pack.layers if layer.inputs == "feedback"}
    layer_of = {rule.id: rule.layer for rule in pack.rules}
    return bool(readers) and all(layer_of.get(r.split(" ")[0]) in feedback for r in readers)


def sensitivity_fields(rules: RuleSet, base: dict[str, Any]) -> list[str]:
    """The fields the sensitivity pass changes: those a recommend layer or the planner can see
    (facts of the profile, the fields scores are made of, the planner's fields)."""
    from backrx.model.vocabulary import FIELDS

    readers = field_readers(rules.pack, base)
    seen = {p for p, s in FIELDS.items() if s.origin == "profile"} | set(PLANNER_FIELDS)
    seen |= {leaf for sources in score_sources(base).values() for leaf in sources}
    return [path for path in profile_leaves()
            if path in seen and not _feedback_only(rules.pack, readers.get(path, []))]


__all__ = ["ADJUST_FACT_SOURCES", "FieldAudit", "Sensitivity", "audit_fields", "condition_tests",
           "decision_key", "effective_rules", "field_readers", "score_sources", "sensitivity_fields"]
