"""The clinical facts the built-in invariants rest on, read from the bundled (reference) pack.

An invariant holds a pack to what backrx's own reviewed pack decides: which red flags on their own
lead to an emergency referral, which urgencies replace the program, which exercise direction works
against a preference, from how many weeks of pregnancy supine work is left out. Reading them from
the reference pack, never from the pack under audit, means an edit to a pack (a downgraded
referral, a deleted exclusion) cannot weaken the check that audits it. Python holds only how the
facts are found.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from backrx.engine import ReferenceEngine
from backrx.lang.condition import AllOf, AnyOf, AtLeast, Condition, FieldTest, NotOf, Value, evaluate
from backrx.model.profile import RED_FLAGS, validated_profile
from backrx.pack.load import read_pack
from backrx.pack.model import Pack
from backrx.run.decision import decide
from backrx.run.facts import profile_values

#: The tier of the referral that sends a person to emergency care now.
EMERGENCY = "emergency"

_lock = threading.Lock()
_pack: list[Pack] = []


def reference_pack() -> Pack:
    """The bundled pack, read once."""
    with _lock:
        if not _pack:
            _pack.append(read_pack())
        return _pack[0]


def emergency_signs(pack: Pack | None = None) -> tuple[str, ...]:
    """The red flags that on their own (nothing else known) make a triage rule of ``pack`` (the
    reference pack by default) refer to emergency care, in the model's order of red flags."""
    pack = pack or reference_pack()
    referring = [rule for rule in pack.rules if rule.layer == "triage" and rule.then.refer is not None
                 and rule.then.refer.urgency == EMERGENCY]
    engine = ReferenceEngine(pack)

    def facts(flag: str) -> dict[str, Value]:
        """The flag alone, with the states the pack derives from it (triage reads states)."""
        values: dict[str, Value] = {"red_flags": frozenset({flag})}
        return {**values, **decide(pack, engine, values, layers=["states"]).values}

    return tuple(flag for flag in RED_FLAGS
                 if any(evaluate(rule.when, facts(flag)) for rule in referring))


@cache
def _reference_engine() -> ReferenceEngine:
    """The interpreter over the reference pack, built once."""
    return ReferenceEngine(reference_pack())


def reference_urgency(profile: dict[str, Any]) -> str | None:
    """The referral tier the reference pack's states and triage give this whole profile (None: no
    referral). A flag that alone means emergency care may mean less in a recorded context: nerve
    signs in both legs, older than two weeks and recorded as improving, go to an urgent review."""
    values = profile_values(validated_profile(profile))
    return decide(reference_pack(), _reference_engine(), values, layers=["states", "triage"]).urgency


def blocking_urgencies(pack: Pack | None = None) -> tuple[str, ...]:
    """The referral urgencies that replace the exercise program (``Pack.blocking_urgencies``)."""
    pack = pack or reference_pack()
    return pack.blocking_urgencies


def opposite_directions(pack: Pack | None = None) -> dict[str, str]:
    """Exercise direction -> the direction that works against it (planner.yaml)."""
    pack = pack or reference_pack()
    return dict(pack.planner.opposite_directions) if pack.planner is not None else {}


def field_tests(condition: Condition, negated: bool = False) -> Iterator[tuple[FieldTest, bool]]:
    """Every field test of a condition tree, with whether a ``not`` above it turns it round."""
    if isinstance(condition, FieldTest):
        yield condition, negated
    elif isinstance(condition, NotOf):
        yield from field_tests(condition.item, not negated)
    elif isinstance(condition, (AllOf, AnyOf, AtLeast)):
        for item in condition.items:
            yield from field_tests(item, negated)


def threshold(pack: Pack, field: str, op: str, *, pathway: str | None = None,
              excludes_tag: str | None = None) -> float | None:
    """The number a rule of ``pack`` compares ``field`` with (``op``): the rule that concludes
    ``pathway``, or the one that excludes exercise tagged ``excludes_tag``. None when no rule does."""
    for rule in pack.rules:
        if pathway is not None and pathway not in rule.then.pathways:
            continue
        if excludes_tag is not None and not any(excludes_tag in e.tags for e in rule.then.exclude):
            continue
        for test, negated in field_tests(rule.when):
            if test.field == field and test.op == op and not negated \
                    and isinstance(test.value, (int, float)) and not isinstance(test.value, bool):
                return float(test.value)
    return None


@dataclass(frozen=True)
class LoadCap:
    """The phase-1 load cap: from which pain, for which tolerances, and the highest load allowed."""

    pain_from: float | None
    tolerances: tuple[str, ...]
    max_load: int


def load_cap(pack: Pack | None = None) -> LoadCap | None:
    """The first-phase load cap of the rule that caps load for severe pain (None: no such rule)."""
    pack = pack or reference_pack()
    first = pack.phases[0].id if pack.phases else None
    setters: dict[str, list[Condition]] = {}
    for rule in pack.rules:
        for name, _ in rule.then.set:
            setters.setdefault(f"derived.{name}", []).append(rule.when)
    for rule in pack.rules:
        tests = [t for t, negated in field_tests(rule.when, False) if not negated]
        # a named derived fact (``set:``) stands for the conditions of the rules that set it
        tests += [t for derived in tests if derived.field in setters and derived.value is True
                  for when in setters[derived.field] for t, negated in field_tests(when) if not negated]
        pain = [t.value for t in tests if t.field == "pain_intensity" and t.op == "gte"
                and isinstance(t.value, (int, float)) and not isinstance(t.value, bool)]
        if not pain:
            continue
        for e in rule.then.exclude:
            if e.max_load is not None and (not e.phases or first in e.phases):
                tolerances = tuple(str(t.value) for t in tests if t.field == "tolerance" and t.op == "eq")
                return LoadCap(float(pain[0]), tolerances, e.max_load)
    return None


@dataclass(frozen=True)
class ReferenceFacts:
    """The facts of the reference pack, found once."""

    emergency_signs: tuple[str, ...]
    blocking_urgencies: tuple[str, ...]
    opposite_directions: dict[str, str]
    supine_from_weeks: float | None  # pregnancy weeks from which supine work is left out
    load_cap: LoadCap | None


@cache
def reference_facts() -> ReferenceFacts:
    """The reference pack's facts, found on first use and kept."""
    pack = reference_pack()
    return ReferenceFacts(emergency_signs(pack), blocking_urgencies(pack), opposite_directions(pack),
                          threshold(pack, "history.pregnancy_weeks", "gte", excludes_tag="supine"),
                          load_cap(pack))


__all__ = ["EMERGENCY", "LoadCap", "ReferenceFacts", "blocking_urgencies", "emergency_signs", "field_tests",
           "load_cap", "opposite_directions", "reference_facts", "reference_pack", "reference_urgency",
           "threshold"]
