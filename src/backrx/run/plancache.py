"""What the planner works out once per pack, and the programs it has already planned.

The cache lives on the pack object itself (not in a module), so it is freed with the pack: a
process that loads many packs keeps no program of a pack it dropped. It holds its pack only
weakly (a copy of the pack gets its own). The planned programs are kept in a bounded table
(least recently used go first), keyed by everything the planner reads: the rules'
prescriptions, exclusions, doses and schedule (by identity; the entry keeps those objects
alive, so an identity cannot be reused while its entry exists), the rendered rationales of the
rules it quotes, and the person's settings, equipment and time. Equal keys give equal
programs; the cached program is an immutable model, built and validated once.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backrx.run.week import day_minutes

if TYPE_CHECKING:
    from backrx.model.recommendation import Program
    from backrx.pack.rulepack import Pack
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

    def __init__(self, pack: Pack) -> None:
        assert pack.planner is not None
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
        self._blocked: dict[int, tuple[Any, frozenset[str]]] = {}
        self._exercises = tuple(pack.exercises.values())
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def day_minutes(self, kind: str, per_side: bool, dose: dict[str, int]) -> float:
        key = (kind, per_side, tuple(sorted(dose.items())))
        found = self.minutes.get(key)
        if found is None:
            found = self.minutes[key] = day_minutes(self.spec, kind, per_side, dose)
        return found

    def blocked_by(self, exclude: Any, blocks: Callable[[Any, Any], bool]) -> frozenset[str]:
        """The ids of the catalog exercises ``blocks(exclude, entry)`` rules out, worked out once
        per exclusion (the entry keeps the exclusion alive, so its identity is not reused)."""
        found = self._blocked.get(id(exclude))
        if found is None or found[0] is not exclude:
            ids = frozenset(e.id for e in self._exercises if blocks(exclude, e))
            with self._lock:
                if len(self._blocked) >= PARTS_KEPT:
                    self._blocked.clear()
                self._blocked[id(exclude)] = found = (exclude, ids)
        return found[1]

    def plan(self, key: tuple[Any, ...]) -> Planned | None:
        """The program planned for ``key`` before, or None."""
        with self._lock:
            found = self._plans.get(key)
            if found is None:
                self.misses += 1
                return None
            self._plans.move_to_end(key)
            self.hits += 1
            return found[1]

    def keep(self, key: tuple[Any, ...], pins: Any, planned: Planned) -> None:
        """Remember ``planned`` for ``key``; ``pins`` are the objects whose identities the key holds."""
        with self._lock:
            self._plans[key] = (pins, planned)
            while len(self._plans) > PLANS_KEPT:
                self._plans.popitem(last=False)

    def clear(self) -> None:
        """Forget every planned program (the per-dose minutes stay: they never change)."""
        with self._lock:
            self._plans.clear()
            self._parts.clear()
            self.hits = self.misses = 0

    def prescription(self, data: dict[str, Any]) -> Any:
        """One Prescription model per distinct prescription (programs differ, their parts repeat)."""
        from backrx.model.recommendation import Prescription

        dose, minutes, exercise = data["dose"], data["minutes"], data["exercise"]
        key = ("p", id(exercise), tuple(dose.items()), data["rationale"], tuple(data["sources"]),
               tuple(data["rule_ids"]), minutes, type(minutes))
        return self._part(key, exercise, Prescription, data)

    def exclusion(self, data: dict[str, Any]) -> Any:
        """One Exclusion model per distinct exclusion."""
        from backrx.model.recommendation import Exclusion

        key = ("x", data["exercise_id"], data["exercise_name"], tuple(data["phases"]),
               tuple(data["reasons"]), tuple(data["rule_ids"]), tuple(data["codes"]))
        return self._part(key, None, Exclusion, data)

    def _part(self, key: tuple[Any, ...], pin: Any, kind: Any, data: dict[str, Any]) -> Any:
        found = self._parts.get(key)
        if found is None:
            found = kind.model_validate(data)
            with self._lock:
                if len(self._parts) >= PARTS_KEPT:
                    self._parts.clear()  # a crude bound: refilled from the next programs
                self._parts[key] = found
                self._parts[("pin", id(pin))] = pin  # the exercise model whose identity the key holds
        return found

    def __len__(self) -> int:
        return len(self._plans)


def pack_cache(pack: Pack) -> PackCache:
    """The pack's planner cache, kept on the pack itself so that it lives and dies with it."""
    cache = pack.__dict__.get("_planner_cache")
    if not isinstance(cache, PackCache) or cache.owner() is not pack:  # a copy of a pack starts afresh
        cache = PackCache(pack)
        object.__setattr__(pack, "_planner_cache", cache)  # a frozen dataclass: not a field
    return cache


def plan_key(decision: Decision, prefs: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    """The key of what the planner reads from ``decision`` and the person, and the objects
    whose identities it holds (to be kept alive with the entry)."""
    pins = (tuple(decision.prescribes), tuple(decision.excludes), tuple(decision.doses),
            tuple(decision.schedule.items()))
    quoted = dict.fromkeys(rule.id for _, rule in decision.prescribes)
    quoted.update(dict.fromkeys(rule.id for _, rule in decision.excludes))
    key = (
        tuple(id(x) for pair in decision.prescribes for x in pair),
        tuple(id(x) for pair in decision.excludes for x in pair),
        tuple(id(x) for pair in decision.doses for x in pair),
        tuple((phase, weeks, id(rule)) for phase, (weeks, rule) in decision.schedule.items()),
        tuple(decision.rationale_of(rule_id) for rule_id in quoted),
        prefs,
    )
    return key, pins
