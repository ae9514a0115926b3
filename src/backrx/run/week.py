"""Minutes and the weekly layout: how long a dose takes, and which days it goes on.

Pure arithmetic over the pack's timing constants (planner.yaml); nothing clinical is decided here.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import TYPE_CHECKING, Any, Protocol

from backrx.model.recommendation import Day, Dose, Phase
from backrx.pack.planspec import PlannerSpec

if TYPE_CHECKING:
    from backrx.pack.model import CatalogEntry

DAYS = 7


class MinutesCache(Protocol):
    """What the week needs of the planner's per-pack cache (run.plancache.PackCache)."""

    def day_minutes(self, kind: str, per_side: bool, dose: dict[str, int]) -> float:
        """Minutes on a day this dose of a kind takes (memoised)."""
        ...  # pragma: no cover


def session_days(count: int) -> tuple[int, ...]:
    """``count`` days of the week (1..7), spread as evenly as the week allows."""
    n = max(1, min(DAYS, count))
    return tuple(sorted({1 + (i * DAYS) // n for i in range(n)}))


def is_daily(dose: dict[str, int]) -> bool:
    """A dose done every day: bouts through the day, or seven sessions a week."""
    return bool(dose.get("times_per_day")) or dose.get("sessions_per_week", 0) >= DAYS


def day_minutes(spec: PlannerSpec, kind: str, per_side: bool, dose: dict[str, int]) -> float:
    """Estimated minutes on a day the dose is done, every bout of the day included."""
    if kind == "education":
        return 0.0
    sides = 2 if per_side else 1
    sets = dose.get("sets") or 1
    reps = dose.get("reps") or (0 if dose.get("minutes") else 1)
    hold = dose.get("hold_seconds")
    each = float(hold) if hold else spec.seconds_per_rep.get(kind, 0.0)
    work = sets * reps * each * sides
    work += sets * max(0, reps - 1) * spec.rest_between_reps.get(kind, 0.0) * sides
    work += max(0, sets - 1) * spec.rest_between_sets.get(kind, 0.0)
    work += (dose.get("minutes") or 0) * 60.0 * sides
    bout = work + spec.setup_seconds
    return round(bout * (dose.get("times_per_day") or 1) / 60.0, 1)


def _consecutive(days: tuple[int, ...]) -> bool:
    chosen = set(days)
    return any((d % DAYS) + 1 in chosen for d in chosen) and len(chosen) > 1


class Week:
    """The days of one phase being filled: minutes used and items held per day."""

    def __init__(self, capacity: float, max_items: int, sessions: tuple[int, ...]) -> None:
        self.capacity = capacity
        self.max_items = max_items
        self.sessions = sessions
        self.used: dict[int, float] = dict.fromkeys(range(1, DAYS + 1), 0.0)
        self.items: dict[int, list[str]] = {d: [] for d in range(1, DAYS + 1)}

    def room(self, day: int) -> float:
        return self.capacity - self.used[day]

    def choose(self, count: int, minutes: float, *, daily: bool, spaced: bool,
               force: bool = False) -> tuple[int, ...] | None:
        """The best ``count`` days for an item of ``minutes`` (most room left), or None.

        Daily items take every day. ``spaced`` items never sit on two days in a row (the week
        repeats, so day 7 and day 1 are neighbours). With ``force`` the minutes may overrun.
        """
        pool = tuple(range(1, DAYS + 1)) if daily else self.sessions
        count = DAYS if daily else min(count, len(pool))
        if not spaced:  # the days with most room (earliest first on a tie) are the best choice
            items, used = self.items, self.used
            # ``pool`` is in day order and the sort is stable: a tie keeps the earlier day first.
            open_days = sorted([d for d in pool if len(items[d]) < self.max_items],
                               key=used.__getitem__)[:count]
            if len(open_days) < count:
                return None
            # the least room of the days is the capacity less the most minutes used (exactly): the
            # last of the days sorted by minutes used
            most = used[open_days[-1]] if open_days else max([used[d] for d in open_days])
            if self.capacity - most - minutes < -1e-9 and not force:
                return None
            open_days.sort()
            return tuple(open_days)
        best: tuple[float, tuple[int, ...]] | None = None
        for days in combinations(pool, count):
            if spaced and _consecutive(days):
                continue
            if any(len(self.items[d]) >= self.max_items for d in days):
                continue
            left = min(self.room(d) for d in days) - minutes
            if left < -1e-9 and not force:
                continue
            if best is None or left > best[0] + 1e-9:
                best = (left, days)
        return best[1] if best else None

    def widest(self, count: int, floor: float, *, spaced: bool) -> tuple[tuple[int, ...], float] | None:
        """The ``count`` session days with the most room, if every one has at least ``floor``."""
        count = min(count, len(self.sessions))
        if not spaced:
            open_days = sorted((d for d in self.sessions if len(self.items[d]) < self.max_items),
                               key=lambda d: (self.used[d], d))[:count]
            if len(open_days) < count:
                return None
            room = min(self.room(d) for d in open_days)
            return (tuple(sorted(open_days)), room) if room + 1e-9 >= floor else None
        best: tuple[float, tuple[int, ...]] | None = None
        for days in combinations(self.sessions, count):
            if spaced and _consecutive(days):
                continue
            if any(len(self.items[d]) >= self.max_items for d in days):
                continue
            room = min(self.room(d) for d in days)
            if room + 1e-9 >= floor and (best is None or room > best[0] + 1e-9):
                best = (room, days)
        return (best[1], best[0]) if best else None

    def place(self, exercise_id: str, days: tuple[int, ...], minutes: float) -> None:
        for d in days:
            self.used[d] += minutes
            self.items[d].append(exercise_id)

    def grow(self, days: tuple[int, ...], extra: float) -> None:
        for d in days:
            self.used[d] += extra


class WeekFitter:
    """The part of the planner that lays chosen exercises out on the days of a week: each on as
    many session days as its dose asks (fewer, down to the pack's floor, when time is short),
    timed work shortened to fit and grown back into what room is left."""

    spec: PlannerSpec
    minutes: int
    cache: MinutesCache
    #: With no time budget stated, essential timed work keeps its full dose (the guidance's
    #: 20-30 minutes of walking): the pack's default budget never cuts it; a stated one may.
    protect_timed: bool = False

    def minutes_of(self, entry: CatalogEntry, dose: Dose | dict[str, int]) -> float:
        """Estimated minutes on a day this dose of ``entry`` is done."""
        values = dose.model_dump(exclude_none=True) if isinstance(dose, Dose) else dose
        return self.cache.day_minutes(entry.dose_kind, entry.per_side, values)

    def _wanted_days(self, item: Any) -> int:
        return item.dose.get("sessions_per_week") or 1

    def _fewest_days(self, item: Any, want: int) -> int:
        """The fewest days the item may take when time is short (the pack's floor)."""
        return min(want, self.spec.fewest_days.get(item.entry.dose_kind, 1))

    def _place(self, item: Any, week: Week) -> bool:
        spec = self.spec
        entry = item.entry
        if entry.category == "education":
            return True
        daily = is_daily(item.dose)
        spaced = entry.dose_kind in spec.non_consecutive
        want = min(self._wanted_days(item), len(week.sessions))
        fewest = self._fewest_days(item, want)
        full = self.minutes_of(entry, item.dose)
        target = full
        if item.timed and item.essential and not item.extra:
            if self.protect_timed and entry.category == "aerobic":
                days = week.choose(want, full, daily=daily, spaced=spaced, force=True)
                if days is not None:
                    self._put(item, week, days, full)
                    return True
            target = min(full, max(self._floor(item), spec.aerobic_share * self.minutes))
        counts = range(want, fewest - 1, -1)
        for count in counts:
            days = week.choose(count, target, daily=daily, spaced=spaced)
            if days is not None:
                self._put(item, week, days, target)
                return True
        if item.timed and not item.extra:  # a further aerobic option comes whole or not at all
            floor = self._floor(item)
            for count in counts:
                found = week.widest(count, self._minutes_for(item, floor), spaced=spaced)
                if found is not None:
                    days, room = found
                    self._put(item, week, days, self._shorten(item, room))
                    return True
        if item.essential:
            minutes = self._minutes_for(item, self._floor(item)) if item.timed else full
            if item.timed:
                self._shorten(item, minutes)
            days = week.choose(want, minutes, daily=daily, spaced=spaced, force=True)
            if days is not None:
                self._put(item, week, days, minutes)
                return True
        return False

    def _floor(self, item: Any) -> int:
        full = item.dose.get("minutes") or 0
        return min(full, self.spec.shortest_minutes.get(item.entry.category, full))

    def _minutes_for(self, item: Any, minutes: int) -> float:
        return self.cache.day_minutes(item.entry.dose_kind, item.entry.per_side,
                                      {**item.dose, "minutes": minutes})

    def _shorten(self, item: Any, room: float) -> float:
        """Cut a timed dose to the whole minutes that fit in ``room`` (never below its floor)."""
        full = item.dose.get("minutes") or 0
        floor = self._floor(item)
        base = self._minutes_for(item, 0)
        step = self._minutes_for(item, 1) - base  # minutes are linear in the timed part
        fits = math.floor((room - base) / step + 1e-9) if step > 0 else full
        best = max(floor, min(full, fits))
        while best > floor and self._minutes_for(item, best) > room + 1e-9:  # rounding
            best -= 1
        item.dose = {**item.dose, "minutes": best}
        return self._minutes_for(item, best)

    def _put(self, item: Any, week: Week, days: tuple[int, ...], minutes: float) -> None:
        if item.timed and minutes < self.minutes_of(item.entry, item.dose) - 1e-9:
            minutes = self._shorten(item, minutes)
        week.place(item.entry.id, days, minutes)
        item.days = days
        item.minutes = minutes
        if not is_daily(item.dose):
            item.dose = {**item.dose, "sessions_per_week": len(days)}

    def _grow(self, items: list[Any], week: Week, full: dict[str, int]) -> None:
        """Give timed work that was cut back whatever room its days still have."""
        for item in items:
            if not item.timed or not item.days or item.dose.get("minutes", 0) >= full[item.entry.id]:
                continue
            room = item.minutes + min(week.room(d) for d in item.days)
            before = item.minutes
            saved = item.dose
            item.dose = {**item.dose, "minutes": full[item.entry.id]}
            after = self._shorten(item, room)
            if after < before:  # never shrink here
                item.dose = saved
                continue
            week.grow(item.days, after - before)
            item.minutes = after



def settle_week(phase: Phase) -> Phase:
    """The phase's week after adjust changed its exercises: pure, so replay gives the same.

    Exercises no longer in the phase leave their days; an exercise new to the phase takes the days
    that lost one (or, failing that, the days that hold work), as many as its dose asks (every day
    for a daily dose); the minutes are summed again. A phase without a week is left as it is.
    """
    if not phase.week:
        return phase
    present = {p.exercise.id: p for p in phase.prescriptions if p.exercise.category != "education"}
    days = {d.day: [e for e in d.prescriptions if e in present] for d in phase.week}
    freed = [d.day for d in phase.week if any(e not in present for e in d.prescriptions)]
    busy = [d for d, ids in days.items() if ids]
    placed = {e for ids in days.values() for e in ids}
    for eid, p in present.items():
        if eid in placed:
            continue
        dose = p.dose
        if dose.times_per_day or (dose.sessions_per_week or 0) >= DAYS:
            chosen = list(range(1, DAYS + 1))
        else:
            pool = freed or busy or list(session_days(dose.sessions_per_week or 1))
            chosen = pool[:max(1, dose.sessions_per_week or 1)]
        for d in chosen:
            days[d].append(eid)
    week = [Day(day=d, prescriptions=ids, minutes=round(sum(present[e].minutes for e in ids), 1))
            for d, ids in sorted(days.items())]
    return phase.model_copy(update={
        "week": week, "minutes_per_session": max(d.minutes for d in week),
        "minutes_per_week": round(sum(d.minutes for d in week), 1)})
