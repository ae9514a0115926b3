"""What the planner looks up in the pack, worked out once per pack: the ``planner`` cache.

Every answer here follows from the pack alone (never from a person), so it is the same for
every profile: where a rule's prescription stands in the fill order, which population
requirement a rule stands for, and the sentences that say an exercise needs other
equipment or another setting. The tables belong to a RuleSet's
`backrx.run.caches.CacheSeam` (through `backrx.run.plancache.PackCache`); turned off
(``CacheSeam(pack, off={"planner"})``) each answer is worked out again on every call, with
the same result, only slower.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any

from backrx.lang.condition import Value, fields_of

if TYPE_CHECKING:
    from backrx.pack.model import Pack


#: Entries kept per table (then the table starts afresh; the pack's own values bound them).
TABLE_KEPT = 8192


class PlanTables:
    """Per-pack lookups for the planner (see the module); ``on=False`` keeps nothing."""

    def __init__(self, pack: Pack, *, on: bool = True) -> None:
        self.on = on
        self._tables: dict[str, dict[Hashable, Any]] = {}
        self._populations = pack.populations
        self._requirements: dict[str, Any] = {}
        # The fields the populations that name aerobic modes read: their answer keys on these.
        self._aerobic_fields = tuple(sorted({f for p in pack.populations.populations if p.aerobic
                                             for f in fields_of(p.when)}))

    def get(self, table: str, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key`` in ``table``, computed by ``compute()`` the first time."""
        if not self.on:
            return compute()
        rows = self._tables.get(table)
        if rows is None:
            rows = self._tables[table] = {}
        found = rows.get(key, rows)  # the table itself marks a missing key (None is a value)
        if found is rows:
            if len(rows) >= TABLE_KEPT:
                rows.clear()
            found = rows[key] = compute()
        return found

    def requirement(self, rule_id: str) -> Any:
        """The population and requirement a rule stands for, or None (populations.yaml)."""
        if not self.on:
            return self._populations.requirement(rule_id)
        rows = self._requirements
        found = rows.get(rule_id, rows)
        if found is rows:
            found = rows[rule_id] = self._populations.requirement(rule_id)
        return found

    def aerobic(self, values: Mapping[str, Value], compute: Callable[[], tuple[str, ...]]) -> tuple[str, ...]:
        """The person's preferred aerobic modes (``compute()``), kept by the values of the fields
        the populations that name some read (present or not, their type and value)."""
        key = tuple([(f in values, type(values.get(f)), values.get(f)) for f in self._aerobic_fields])
        return tuple(self.get("aerobic", key, compute))

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._tables.values()) + len(self._requirements)
