"""Minutes and the weekly layout: how long a dose takes, and which days it goes on.

Pure arithmetic over the pack's timing constants (planner.yaml); nothing clinical is decided here.
"""

from __future__ import annotations

from itertools import combinations

from backrx.model.recommendation import Day, Phase
from backrx.pack.planspec import PlannerSpec

DAYS = 7


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
            open_days = sorted((d for d in pool if len(self.items[d]) < self.max_items),
                               key=lambda d: (self.used[d], d))[:count]
            if len(open_days) < count:
                return None
            if min(self.room(d) for d in open_days) - minutes < -1e-9 and not force:
                return None
            return tuple(sorted(open_days))
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
