"""What the planner works out once per pack, and the programs it has already planned.

The cache belongs to a RuleSet's `backrx.run.caches.CacheSeam` (nothing is written onto
the pack); assembly makes it the one the planner finds (`active`) while it plans. A
planner run outside a RuleSet gets a cache of its own for that run. It holds its pack only
weakly. The planned programs are kept in a bounded table (least recently used go first),
keyed by everything the planner reads, as values: the ids of the rules whose prescriptions,
exclusions, doses and schedule it takes (a rule's items join the decision together, in its
order), the rendered rationales of the rules it quotes, and the person's settings, equipment
and time. Equal keys give equal programs; the cached program is an immutable model, built and
validated once.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from backrx.run.plantables import PlanTables
from backrx.run.week import day_minutes

if TYPE_CHECKING:
    from backrx.model.recommendation import Program
    from backrx.pack.model import Pack
    from backrx.run.decision import Decision

#: Planned programs kept per pack. With their parts, a full table held about 10 MB (measured:
#: about 20 MB for 512 programs of the synthetic cohort).
PLANS_KEPT = 256

#: Distinct prescriptions and exclusions kept as built models, per pack.
PARTS_KEPT = 8192

#: A planned program: the model, the planner's warnings (code, message, rule id) and the sources
#: its prescriptions cite, in order.
Planned = tuple["Program", tuple[tuple[str, str, str], ...], tuple[str, ...]]


class PackCache:
    """Minutes of each dose, variant links, and planned programs, for one pack."""

    def __init__(self, pack: Pack, *, plans: bool = True, parts: bool = True, tables: bool = True) -> None:
        assert pack.planner is not None
        self.tables = PlanTables(pack, on=tables)  # the seam's ``planner`` cache
        self.plans_on = plans
        self.parts_on = parts
        self.owner = weakref.ref(pack)  # held weakly: the cache never keeps its pack alive
        self.spec = pack.planner
        self.minutes: dict[tuple[str, bool, tuple[tuple[str, int], ...]], float] = {}
        self.links: dict[str, set[str]] = {eid: set() for eid in pack.exercises}
        for eid, entry in pack.exercises.items():
            for other in (entry.easier, entry.harder):
                if other is not None and other in self.links:
                    self.links[eid].add(other)
                    self.links[other].add(eid)
        self._plans: OrderedDict[tuple[Any, ...], tuple[Any, Planned]] = OrderedDict()
        self._parts: dict[tuple[Any, ...], Any] = {}
        self._blocked: dict[Any, frozenset[str]] = {}
        self._exercises = tuple(pack.exercises.values())
        self._lock = threading.Lock()
        from backrx.model.recommendation import Exclusion, Prescription  # the output models, once

        self._models = (Prescription, Exclusion)
        self.hits = 0
        self.misses = 0

    def day_minutes(self, kind: str, per_side: bool, dose: dict[str, int]) -> float:
        key = (kind, per_side, tuple(sorted(dose.items())))
        found = self.minutes.get(key)
        if found is None:
            found = day_minutes(self.spec, kind, per_side, dose)
            if self.parts_on:
                self.minutes[key] = found
        return found

    def blocked_by(self, exclude: Any, blocks: Callable[[Any, Any], bool]) -> frozenset[str]:
        """The ids of the catalog exercises ``blocks(exclude, entry)`` rules out, worked out once
        per exclusion (an exclusion is a frozen value: equal ones block the same exercises)."""
        found = self._blocked.get(exclude)
        if found is None:
            found = frozenset(e.id for e in self._exercises if blocks(exclude, e))
            if self.parts_on:
                with self._lock:
                    if len(self._blocked) >= PARTS_KEPT:
                        self._blocked.clear()
                    self._blocked[exclude] = found
        return found

    def plan(self, key: tuple[Any, ...]) -> Planned | None:
        """The program planned for ``key`` before, or None."""
        if not self.plans_on:
            return None
        with self._lock:
            found = self._plans.get(key)
            if found is None:
                self.misses += 1
                return None
            self._plans.move_to_end(key)
            self.hits += 1
            return found[1]

    def keep(self, key: tuple[Any, ...], pins: Any, planned: Planned) -> None:
        """Remember ``planned`` for ``key`` (``pins``: what the entry keeps alive with it)."""
        if not self.plans_on:
            return
        with self._lock:
            self._plans[key] = (pins, planned)
            while len(self._plans) > PLANS_KEPT:
                self._plans.popitem(last=False)

    def clear(self) -> None:
        """Forget every planned program (the per-dose minutes stay: they never change)."""
        with self._lock:
            self._plans.clear()
            self._parts.clear()
            self._blocked.clear()
            self.hits = self.misses = 0

    def prescription(self, data: dict[str, Any]) -> Any:
        """One Prescription model per distinct prescription (programs differ, their parts repeat)."""
        dose, minutes, exercise = data["dose"], data["minutes"], data["exercise"]
        key = ("p", exercise.id, tuple(dose.items()), data["rationale"], tuple(data["sources"]),
               tuple(data["rule_ids"]), minutes, type(minutes))
        return self._part(key, self._models[0], data)

    def exclusion(self, data: dict[str, Any]) -> Any:
        """One Exclusion model per distinct exclusion."""
        key = ("x", data["exercise_id"], data["exercise_name"], tuple(data["phases"]),
               tuple(data["reasons"]), tuple(data["rule_ids"]), tuple(data["codes"]))
        return self._part(key, self._models[1], data)

    def _part(self, key: tuple[Any, ...], kind: Any, data: dict[str, Any]) -> Any:
        found = self._parts.get(key)
        if found is None:
            found = kind.model_validate(data)
            if self.parts_on:
                with self._lock:
                    if len(self._parts) >= PARTS_KEPT:
                        self._parts.clear()  # a crude bound: refilled from the next programs
                    self._parts[key] = found
        return found

    def parts_count(self) -> int:
        return len(self._parts) + len(self._blocked) + len(self.minutes)

    def __len__(self) -> int:
        return len(self._plans)


_ACTIVE: ContextVar[PackCache | None] = ContextVar("backrx_plan_cache", default=None)


@contextlib.contextmanager
def active(cache: PackCache) -> Iterator[None]:
    """While inside, `pack_cache` of the cache's pack answers ``cache`` (a RuleSet's)."""
    token = _ACTIVE.set(cache)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def pack_cache(pack: Pack) -> PackCache:
    """The planner cache of the RuleSet now assembling a result on ``pack`` (see `active`);
    elsewhere a new one, for this planner run only."""
    cache = _ACTIVE.get()
    if cache is not None and cache.owner() is pack:
        return cache
    return PackCache(pack)


def plan_key(decision: Decision, prefs: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    """The key of what the planner reads from ``decision`` and the person, all values: each
    rule's items join the decision together and in the rule's order, so within one pack the
    sequence of rule ids names the items. The second part is kept for compatibility (None)."""
    quoted = dict.fromkeys(rule.id for _, rule in decision.prescribes)
    quoted.update(dict.fromkeys(rule.id for _, rule in decision.excludes))
    key = (
        tuple([rule.id for _, rule in decision.prescribes]),
        tuple([rule.id for _, rule in decision.excludes]),
        tuple([rule.id for _, rule in decision.doses]),
        tuple([(phase, weeks, rule.id) for phase, (weeks, rule) in decision.schedule.items()]),
        tuple([decision.rationale_of(rule_id) for rule_id in quoted]),
        prefs,
    )
    return key, None
