"""The one place a RuleSet keeps what it has worked out: every per-pack and per-RuleSet cache,
with its limit and its key.

A `CacheSeam` belongs to one RuleSet and one pack (a localised view of a RuleSet has
its own, as its texts differ). Nothing is written onto the pack, and no key is an object's
``id()``: a key is made of values (rule ids, the values a rule shows, the person's settings)
or of a firing's serial number, which is never reused. Each cache can be turned off by name
(``CacheSeam(pack, off={"results"})``); the output is the same either way (a test holds every
one of them to that over generated profiles, on both engines), only slower.

The caches, by name:

``results``
    The assembled fields of a result, by the serials of the firings, the stage and the profile
    fields the planner reads (`RESULTS_KEPT`, then the table starts afresh).
``firings``
    The output `Firing` of each firing, by serial and by
    content (`FIRINGS_KEPT`).
``fired``
    Each rule's firings, by the values it shows, so that equal firings are one object
    (`backrx.run.decision.FIRINGS_KEPT` per rule).
``tables``
    What running the rules needs, worked out once per layer (templates read, merges chosen)
    and which layers are matched together.
``plans``
    Planned programs, by what the planner reads (`backrx.run.plancache.PLANS_KEPT`).
``parts``
    Built prescriptions, exclusions, blocked exercises, dose minutes and references
    (`backrx.run.plancache.PARTS_KEPT`).
``planner``
    What the planner looks up in the pack, once per pack: fill-order ranks of the rules'
    prescriptions, population requirements by rule, equipment and setting sentences
    (`backrx.run.plantables`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from backrx.run.decision import RuleTables
from backrx.run.plancache import PackCache

if TYPE_CHECKING:
    from backrx.model.recommendation import Firing, Reference
    from backrx.pack.model import Pack

#: Every cache a seam holds, by name (see the module).
CACHES = ("results", "firings", "fired", "tables", "plans", "parts", "planner")
#: Assembled results kept per RuleSet (then the table starts afresh).
RESULTS_KEPT = 1024
#: Output firings kept per RuleSet, by serial and by content (then each table starts afresh).
FIRINGS_KEPT = 8192


class CacheSeam:
    """Every cache of one RuleSet on one pack, each of which can be turned off (see the module)."""

    def __init__(self, pack: Pack, *, off: Collection[str] = ()) -> None:
        unknown = sorted(set(off) - set(CACHES))
        if unknown:
            raise ValueError(f"no such cache: {', '.join(unknown)}; the caches are {', '.join(CACHES)}")
        self.pack = pack
        self.off = frozenset(off)
        self.results_on = "results" not in self.off
        self.firings_on = "firings" not in self.off
        self.parts_on = "parts" not in self.off
        self.tables = RuleTables(pack, keep="tables" not in self.off, share="fired" not in self.off)
        self.plans = PackCache(pack, plans="plans" not in self.off, parts=self.parts_on,
                               tables="planner" not in self.off)
        self.results: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.firing_of: dict[int, Firing] = {}  # by the serial of a runner's firing
        self.firings: dict[tuple[Any, ...], Firing] = {}  # by rule id and the values shown
        self.references: dict[str, Reference] = {}
        self.share: dict[Any, Any] | None = None  # set by a worker process for one chunk
        self.share_built: Callable[[dict[Any, Any], Any, list[Any]], None] | None = None  # its sharer

    def fresh(self) -> CacheSeam:
        """An empty seam on the same pack with the same caches turned off."""
        return CacheSeam(self.pack, off=self.off)

    def for_pack(self, pack: Pack) -> CacheSeam:
        """An empty seam on ``pack`` (a localised view) with the same caches turned off."""
        return CacheSeam(pack, off=self.off)

    def result(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        """The fields of a result assembled before for ``key``, or None."""
        return self.results.get(key) if self.results_on else None

    def keep_result(self, key: tuple[Any, ...], fields: dict[str, Any]) -> None:
        """Remember the fields of a result (without its profile)."""
        if not self.results_on:
            return
        if len(self.results) >= RESULTS_KEPT:
            self.results.clear()  # a crude bound: refilled from the next profiles
        self.results[key] = fields

    def sizes(self) -> dict[str, int]:
        """How many entries each cache holds now (for tests and the benchmarks)."""
        return {"results": len(self.results), "firings": len(self.firings) + len(self.firing_of),
                "fired": self.tables.fired_count(), "tables": self.tables.built_count(),
                "plans": len(self.plans), "parts": self.plans.parts_count() + len(self.references),
                "planner": len(self.plans.tables)}
