"""What a person's populations forbid and require (rules/populations.yaml), for every reader.

The planner, adjust, the audit and the tests ask the same question: "for this person, which
exercises may never appear in a phase, and which elements must be there, how often?". This module
answers it once, from the pack's populations (`backrx.pack.populations`) and the rules they
became, so no reader holds its own copy of a population's knowledge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from backrx.engine import make_engine
from backrx.lang.condition import Value, evaluate
from backrx.model.profile import Profile
from backrx.model.recommendation import Program
from backrx.pack.model import CatalogEntry, Exclude, Pack
from backrx.pack.popbook import Population, Requirement
from backrx.run.decision import Decision, decide
from backrx.run.facts import profile_values

#: The catalog tag of walking exercises (the starting walk follows the person's walking time).
WALKING_TAG = "needs-walking"


@dataclass(frozen=True)
class Required:
    """One element a population needs (see `backrx.pack.popbook.Requirement`)."""

    population: str
    requirement: Requirement


@dataclass(frozen=True)
class PopulationLimits:
    """A person's population limits: what no phase may hold, and what each phase must hold.

    ``forbidden[phase]`` holds the catalog ids that a population's exclusion rule rules out in
    that phase (every phase unless the rule names some); ``because[exercise_id]`` the rule ids
    that rule it out. ``required`` lists each element a population needs, with its phases, weekly
    floor and candidates; ``aerobic`` the preferred aerobic modes, first fitting wins.
    """

    populations: tuple[str, ...] = ()
    forbidden: Mapping[str, frozenset[str]] = field(default_factory=dict)
    because: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required: tuple[Required, ...] = ()
    aerobic: tuple[str, ...] = ()

    def allows(self, exercise_id: str, phase: str) -> bool:
        """True when no population of the person forbids ``exercise_id`` in ``phase``."""
        return exercise_id not in self.forbidden.get(phase, frozenset())

    def violations(self, pack: Pack, program: Program) -> list[str]:
        """Each place a program breaks a limit: a forbidden exercise in a phase, or a required
        element missing from a phase (empty when every limit holds)."""
        out: list[str] = []
        for phase in program.phases:
            ids = [p.exercise.id for p in phase.prescriptions]
            out += [f"{phase.id}: {eid} ({', '.join(self.because.get(eid, ()))})"
                    for eid in ids if not self.allows(eid, phase.id)]
        return out


def blocks(rule_exclude: Exclude, category: str, direction: str, tags: Iterable[str], load: int,
           exercise_id: str) -> bool:
    """True when an exclusion matches an exercise (any of its criteria)."""
    return (exercise_id in rule_exclude.exercises or direction in rule_exclude.directions
            or category in rule_exclude.categories or any(t in rule_exclude.tags for t in tags)
            or (rule_exclude.max_load is not None and load > rule_exclude.max_load))


def members(pack: Pack, values: Mapping[str, Value]) -> tuple[str, ...]:
    """The ids of the populations whose ``when`` holds on ``values`` (profile and states)."""
    return tuple(p.id for p in pack.populations.populations if evaluate(p.when, values))


def limits_for(pack: Pack, profile: Profile | Mapping[str, Value]) -> PopulationLimits:
    """The population limits for a person: call it wherever a program is built or changed.

    ``profile`` is a validated `Profile` or its flat values (`profile_values`). The
    clinical states are worked out first (the pack's states layer), then each population's
    ``when`` and each of its exclusion rules is read on them. adjust calls this before it
    progresses, replaces or brings back an exercise, and keeps every choice where
    `PopulationLimits.allows` is true; the planner and the audit read the same answer.
    """
    values = profile_values(profile) if isinstance(profile, Profile) else dict(profile)
    facts = decide(pack, make_engine(pack, "reference"), values, layers=("states",)).values
    ids = members(pack, facts)
    chosen = [p for p in pack.populations.populations if p.id in ids]
    rules = {rid for p in chosen for rid in p.avoid}
    phases = [p.id for p in pack.phases]
    forbidden: dict[str, set[str]] = {phase: set() for phase in phases}
    because: dict[str, list[str]] = {}
    for rule in pack.rules:
        if rule.id not in rules or not evaluate(rule.when, facts):
            continue
        for excl in rule.then.exclude:
            for eid, e in pack.exercises.items():
                if blocks(excl, e.category, e.direction, e.tags, e.load, eid):
                    for phase in excl.phases or phases:
                        forbidden[phase].add(eid)
                    because.setdefault(eid, [])
                    if rule.id not in because[eid]:
                        because[eid].append(rule.id)
    required = tuple(Required(p.id, r) for p in chosen for r in p.requires
                     if _holds(pack, r.rule_id, facts))
    aerobic = next((p.aerobic for p in chosen if p.aerobic), ())
    return PopulationLimits(ids, {k: frozenset(v) for k, v in forbidden.items()},
                            {k: tuple(v) for k, v in because.items()}, required, aerobic)


def _holds(pack: Pack, rule_id: str, facts: Mapping[str, Value]) -> bool:
    rule = next((r for r in pack.rules if r.id == rule_id), None)
    return rule is not None and evaluate(rule.when, facts)


def aerobic_order(pack: Pack, values: Mapping[str, Value]) -> tuple[str, ...]:
    """The preferred aerobic modes of the person's first population that names some (the file's
    order is the precedence), or () when none does. Only the populations that name some are
    read (the others cannot answer)."""
    return next((p.aerobic for p in pack.populations.populations
                 if p.aerobic and evaluate(p.when, values)), ())


def capped_walk(pack: Pack, entry: CatalogEntry, phase: str, dose: dict[str, int],
                walk: int | None) -> dict[str, int]:
    """A walking dose built from the walk the person can do now (``outcomes.walk_minutes``).

    The first phase's walk is no longer than that walk; each later phase starts at most one
    progression step (the pack's ``adjusting.step_up`` for minutes) per phase above it, and
    never above the phase's own dose. A timed dose keeps at least one whole minute."""
    minutes = dose.get("minutes")
    ids = [p.id for p in pack.phases]
    if walk is None or not minutes or phase not in ids \
            or entry.category != "aerobic" or WALKING_TAG not in entry.tags:
        return dose
    assert pack.planner is not None
    step = next((s.step for s in pack.planner.adjusting.step_up if s.part == "minutes"), 0)
    cap = walk + step * ids.index(phase)
    return {**dose, "minutes": min(minutes, max(1, cap))}


class PlanChecks:
    """The planner's checks of one phase against the populations and the four elements."""

    def __init__(self, pack: Pack, decision: Decision, *, stated: bool,
                 lookup: Callable[[str], tuple[Population, Requirement] | None] | None = None) -> None:
        self.pack = pack
        requirement = lookup or pack.populations.requirement  # a per-pack table when given
        self.stated = stated  # a time budget the person stated (may cut a floor, with a note)
        self.reqs: dict[str, tuple[str, Requirement]] = {}
        self.found: list[tuple[str, str, str]] = []  # kind, what is missing, rule id
        for _, rule in decision.prescribes:
            found = requirement(rule.id)
            if found is not None:
                self.reqs[rule.id] = (found[0].name, found[1])

    def floor(self, rule_id: str) -> int:
        """The weekly days a population asks of the exercise its rule prescribed (0: none)."""
        return self.reqs[rule_id][1].days_per_week if rule_id in self.reqs else 0

    def _categories(self, element: str) -> tuple[str, ...]:
        assert self.pack.planner is not None
        found = [e.categories for e in self.pack.planner.elements if e.name == element]
        return found[0] if found else (element,)

    def phase(self, phase: str, kept: list[tuple[str, CatalogEntry, tuple[int, ...]]],
              blocked: list[str]) -> None:
        """Record what the kept exercises of ``phase`` miss (see `warnings`)."""
        assert self.pack.planner is not None
        for rule_id, (name, req) in self.reqs.items():
            if phase not in req.phases:
                continue
            cats = self._categories(req.element)
            held = [days for rid, entry, days in kept if rid == rule_id or entry.category in cats]
            if not held:
                self.found.append(("requirement_unmet", f"{req.element}, {phase} phase ({name})", rule_id))
            elif self.stated and max(len(d) for d in held) < req.days_per_week:
                self.found.append(("below_floor", f"{req.element} on {max(len(d) for d in held)} of "
                                   f"{req.days_per_week} days, {phase} phase ({name})", rule_id))
        have = {entry.category for _, entry, _ in kept}
        for element in self.pack.planner.elements:
            if phase in element.keep_in and "aerobic" not in element.categories \
                    and not have.intersection(element.categories):
                self.found += [("element_missing", f"{element.name}, {phase} phase", r)
                               for r in dict.fromkeys(blocked or [""])]

    def warnings(self) -> list[tuple[str, str, str]]:
        """One warning per kind, naming every element and phase it stands for."""
        out: list[tuple[str, str, str]] = []
        messages = self.pack.populations.messages
        for key in ("requirement_unmet", "below_floor", "element_missing"):
            found = [(item, rid) for k, item, rid in self.found if k == key]
            if not found or key not in messages:
                continue
            code, text = messages[key]
            items = "; ".join(dict.fromkeys(item for item, _ in found))
            out += [(code, text.format(items=items), rid) for rid in dict.fromkeys(r for _, r in found)]
        return out
