"""What the recorded feedback says over time: days in the phase, streaks, signs, outcome change.

These are facts, not decisions: counts and dates read off the stored rounds and the new
feedback. The adjust rules decide what they mean (the MCIDs they compare with come from the
pack's ``outcomes.yaml``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from backrx.model.feedback import ExerciseResponse, Feedback
from backrx.model.measures import MEASURES, Outcomes
from backrx.model.recommendation import AdjustmentRound, MeasureChange, Recommendation
from backrx.pack.model import CatalogEntry, Pack

#: Tolerance when comparing a change with an MCID (PSFS means are fractions).
_EPSILON = 1e-9


def family_of(entry: CatalogEntry) -> str:
    """The movement family of an exercise: its catalog ``pattern`` when it has one, else itself."""
    pattern = getattr(entry, "pattern", None)
    return f"pattern:{pattern}" if isinstance(pattern, str) and pattern else f"exercise:{entry.id}"


def comfortable(response: ExerciseResponse, limit: int) -> bool:
    """Pain during at most ``limit`` (the pack's ``adjusting.comfortable_pain``), not worse the next
    day, and spreading answered "no"."""
    return response.pain_during <= limit and response.next_day != "worse" and response.peripheralized is False


def steady(response: ExerciseResponse) -> bool:
    """Not worse the next day, and spreading answered "no" (an unanswered question is not a no)."""
    return response.next_day != "worse" and response.peripheralized is False


@dataclass
class Sign:
    """Symptoms spread down the leg with one exercise."""

    exercise_id: str
    direction: str
    family: str


@dataclass
class Timeline:
    """The history of one program, as of the round being adjusted."""

    today: datetime.date | None
    first_date: datetime.date | None
    phase_start: datetime.date | None
    #: the pack's highest pain during a comfortable response (planner.yaml ``adjusting``)
    comfortable_pain: int
    #: responses of the current phase by day (earlier rounds and this one), oldest first
    days: list[tuple[datetime.date, list[ExerciseResponse]]] = field(default_factory=list)
    #: latest response to each exercise in the current phase (earlier rounds and this one)
    latest: dict[str, ExerciseResponse] = field(default_factory=dict)
    dose_since: dict[str, datetime.date] = field(default_factory=dict)
    signs: list[Sign] = field(default_factory=list)
    spread: set[str] = field(default_factory=set)  # exercises that ever spread symptoms
    #: in the current phase: the easier exercise put in -> the exercise it replaced
    regressed_from: dict[str, str] = field(default_factory=dict)
    #: days between the last round before this one and this round's first day (None: no earlier round)
    gap_days: int | None = None
    #: this round comes back after a gap longer than the pack's ``restart_after_gap_days``
    restart: bool = False
    #: sessions recorded, by round date, for each exercise (adherence, else days with a response)
    sessions: list[tuple[datetime.date, dict[str, int]]] = field(default_factory=list)

    @property
    def phase_days(self) -> int | None:
        if self.today is None or self.phase_start is None:
            return None
        return (self.today - self.phase_start).days

    def streak(self, test: Callable[[ExerciseResponse], bool]) -> int:
        """Recorded days in a row, latest first, on which every response passes ``test``."""
        count = 0
        for _, responses in reversed(self.days):
            if responses and all(test(r) for r in responses):
                count += 1
            else:
                break
        return count

    def days_at_dose(self, exercise_id: str) -> int | None:
        """Days since the exercise's dose last changed (or since a restart after a gap)."""
        if self.today is None:
            return None
        since = self.dose_since.get(exercise_id, self.phase_start)
        return (self.today - since).days if since is not None else None

    def sessions_at_dose(self, exercise_id: str) -> int:
        """Sessions done at the current dose: those recorded by rounds after the dose last changed."""
        since = self.dose_since.get(exercise_id)
        return sum(counts.get(exercise_id, 0) for day, counts in self.sessions
                   if since is None or day > since or (self.restart and day >= since))

    def cleared(self, exercise_id: str, day: datetime.date | None) -> bool:
        """Cleared before ``day``: done at its current dose on an earlier recorded day of this phase
        after which nothing was worse the next day (and it did not spread symptoms)."""
        since = self.dose_since.get(exercise_id)
        for when, responses in self.days:
            if day is None or when >= day:
                break
            if (since is not None and when <= since) or any(r.next_day == "worse" for r in responses):
                continue
            if any(r.exercise_id == exercise_id and r.peripheralized is not True for r in responses):
                return True
        return False

    def direction_signs(self, entry: CatalogEntry) -> int:
        """Independent signs in this exercise's direction: distinct other movement families."""
        if entry.direction == "neutral":
            return 0
        own = family_of(entry)
        return len({s.family for s in self.signs if s.direction == entry.direction and s.family != own})

    def reported_fine(self, exercise_id: str) -> bool:
        """The latest response to it in this phase was comfortable, and it never spread symptoms."""
        latest = self.latest.get(exercise_id)
        return latest is not None and self.comfortable(latest) and exercise_id not in self.spread

    def comfortable(self, response: ExerciseResponse) -> bool:
        """A comfortable response, by the pack's threshold."""
        return comfortable(response, self.comfortable_pain)


def earliest(feedback: Feedback) -> datetime.date | None:
    """The first day a round reports on: its earliest response date, else its own date."""
    days = [d for d in (feedback.date, *(r.date for r in feedback.responses)) if d is not None]
    return min(days) if days else None


def _by_day(feedback: Feedback) -> dict[datetime.date, list[ExerciseResponse]]:
    out: dict[datetime.date, list[ExerciseResponse]] = {}
    for response in feedback.responses:
        day = feedback.day_of(response)
        if day is not None:
            out.setdefault(day, []).append(response)
    return out


def _sessions(feedback: Feedback) -> dict[str, int]:
    """Sessions of each exercise one round records: its adherence count when it gives one (every
    exercise reported took part in each session done), else the days it has a response."""
    days: dict[str, set[datetime.date | None]] = {}
    for r in feedback.responses:
        days.setdefault(r.exercise_id, set()).add(feedback.day_of(r))
    if feedback.adherence is not None:
        return dict.fromkeys(days, feedback.adherence.sessions_done)
    return {eid: len(found) for eid, found in days.items()}


def _phase_start(rounds: list[AdjustmentRound], current: str, feedback: Feedback
                 ) -> tuple[int, datetime.date | None, datetime.date | None]:
    """Where the current phase starts: the index of its first round, its first day, and the first
    dated day of the whole history."""
    dated = [earliest(r.feedback) for r in rounds if r.feedback.date is not None]
    first = dated[0] if dated else earliest(feedback)
    start_index = 0
    phase_start = first
    for i, round_ in enumerate(rounds):
        if round_.phase_after == current and round_.phase_before != current:
            start_index = i + 1
            phase_start = round_.feedback.date if round_.feedback.date is not None else None
    if phase_start is None and start_index < len(rounds):
        later = [earliest(r.feedback) for r in rounds[start_index:] if r.feedback.date is not None]
        phase_start = later[0] if later else earliest(feedback)
    if phase_start is None:
        phase_start = earliest(feedback)
    return start_index, phase_start, first


def _silent(rounds: list[AdjustmentRound], feedback: Feedback, limit: int | None
            ) -> list[tuple[datetime.date, int]]:
    """Each round that came back after a gap longer than ``limit`` days: its first day, the gap."""
    out: list[tuple[datetime.date, int]] = []
    last: datetime.date | None = None
    for fb in [*(r.feedback for r in rounds), feedback]:
        first = earliest(fb)
        if first is not None and last is not None and limit is not None and (first - last).days > limit:
            out.append((first, (first - last).days))
        if fb.date is not None:
            last = fb.date
    return out


def timeline(rec: Recommendation, feedback: Feedback, pack: Pack) -> Timeline:
    """Read the stored rounds and the new feedback into a `Timeline`.

    Time is read from the dates: the phase clock leaves out the silent days of every gap longer
    than the pack's ``restart_after_gap_days``, and after such a gap the streaks and the time at
    each dose start again on the day back.
    """
    assert rec.program is not None
    rounds = rec.adjustments
    start_index, phase_start, first = _phase_start(rounds, rec.program.current_phase, feedback)
    reset = rec.program.phase_started
    if reset is not None and reset.after_round >= start_index:  # a reassessment reset the phase
        start_index, phase_start = min(reset.after_round, len(rounds)), reset.date
    adjusting = pack.planner.adjusting if pack.planner else None
    limit = adjusting.gap_days if adjusting is not None else None
    gaps = _silent(rounds, feedback, limit)
    previous = [r.feedback.date for r in rounds if r.feedback.date is not None]
    back = earliest(feedback)
    gap = (back - previous[-1]).days if previous and back is not None else None
    restart = bool(gaps) and gaps[-1][0] == back
    if phase_start is not None:  # silent days do not count towards the phase
        phase_start += datetime.timedelta(days=sum(g for day, g in gaps if day > phase_start))
    tl = Timeline(today=feedback.date, first_date=first, phase_start=phase_start,
                  comfortable_pain=adjusting.comfortable_pain if adjusting else 0,
                  gap_days=gap, restart=restart)
    days: dict[datetime.date, list[ExerciseResponse]] = {}
    for round_ in rounds[start_index:]:
        for day, responses in _by_day(round_.feedback).items():
            days.setdefault(day, []).extend(responses)
        for r in round_.feedback.responses:
            tl.latest[r.exercise_id] = r
        if round_.feedback.date is not None:
            tl.sessions.append((round_.feedback.date, _sessions(round_.feedback)))
            for change in round_.changes:
                if change.action == "regress" and change.prescription is not None and change.exercise_id:
                    tl.regressed_from[change.prescription.exercise.id] = change.exercise_id
                if change.action in ("progress", "regress", "reintroduce") and change.exercise_id:
                    tl.dose_since[change.exercise_id] = round_.feedback.date
                    if change.prescription is not None:
                        tl.dose_since[change.prescription.exercise.id] = round_.feedback.date
    if restart and back is not None:  # the day back: streaks and time at dose start again
        days = {}
        held = sorted({p.exercise.id for ph in rec.program.phases for p in ph.prescriptions})
        tl.dose_since = dict.fromkeys(held, back)
        tl.sessions = []
    for day, responses in _by_day(feedback).items():
        days.setdefault(day, []).extend(responses)
    for r in feedback.responses:
        tl.latest[r.exercise_id] = r
    if feedback.date is not None:
        tl.sessions.append((feedback.date, _sessions(feedback)))
    tl.days = sorted(days.items())
    for round_feedback in [*(r.feedback for r in rounds), feedback]:
        for r in round_feedback.responses:
            if r.peripheralized is True and r.exercise_id in pack.exercises:
                entry = pack.exercises[r.exercise_id]
                tl.signs.append(Sign(entry.id, entry.direction, family_of(entry)))
                tl.spread.add(entry.id)
    return tl


def latest_walk(rec: Recommendation, feedback: Feedback) -> int | None:
    """The most recent walking tolerance recorded (feedback first, then the profile's baseline)."""
    for fb in [feedback, *(r.feedback for r in reversed(rec.adjustments))]:
        if fb.outcomes is not None and fb.outcomes.walk_minutes is not None:
            return fb.outcomes.walk_minutes
    profile = rec.profile
    if profile is not None and profile.outcomes is not None:
        return profile.outcomes.walk_minutes
    return None


def _psfs_pair(baseline: Outcomes, latest: Outcomes) -> tuple[float, float] | None:
    """Mean PSFS over the activities scored at both times (matched by name)."""
    base = {i.activity.strip().lower(): i.score for i in baseline.psfs}
    now = {i.activity.strip().lower(): i.score for i in latest.psfs}
    shared = [a for a in base if a in now]
    if not shared:
        return None
    return sum(base[a] for a in shared) / len(shared), sum(now[a] for a in shared) / len(shared)


def measure_changes(rec: Recommendation, feedbacks: Iterable[Feedback], pack: Pack) -> list[MeasureChange]:
    """Baseline, latest and change of every measure taken, judged against the pack's MCIDs."""
    profile_outcomes = rec.profile.outcomes if rec.profile is not None else None
    taken = [fb.outcomes for fb in feedbacks if fb.outcomes is not None and not fb.outcomes.empty]
    out: list[MeasureChange] = []
    for measure in MEASURES:
        spec = pack.measures.get(measure)
        holders = [o for o in taken if o.value(measure) is not None]
        baseline_from: str | None = None
        base_doc: Outcomes | None = None
        if profile_outcomes is not None and profile_outcomes.value(measure) is not None:
            base_doc, baseline_from = profile_outcomes, "profile"
            later = holders
        elif holders:
            base_doc, baseline_from = holders[0], "feedback"
            later = holders[1:]
        else:
            continue
        latest_doc = later[-1] if later else None
        if measure == "psfs" and latest_doc is not None:
            pair = _psfs_pair(base_doc, latest_doc)
            baseline, latest = pair if pair is not None else (base_doc.value(measure), None)
        else:
            baseline = base_doc.value(measure)
            latest = latest_doc.value(measure) if latest_doc is not None else None
        change = latest - baseline if latest is not None and baseline is not None else None
        percent = round(100 * change / baseline, 1) if change is not None and baseline else None
        mcid = spec.mcid if spec is not None else None
        better = spec.better if spec is not None else ("higher" if measure in ("psfs", "walk_minutes")
                                                        else "lower")
        improved = worsened = None
        if change is not None and mcid is not None:
            gain = -change if better == "lower" else change
            improved = gain >= mcid - _EPSILON
            worsened = -gain >= mcid - _EPSILON
        out.append(MeasureChange.model_validate({
            "measure": measure, "name": spec.name if spec is not None else measure, "better": better,
            "baseline": baseline, "latest": latest,
            "change": round(change, 2) if change is not None else None, "percent": percent,
            "mcid": mcid, "improved": improved, "worsened": worsened, "baseline_from": baseline_from,
            "sources": list(spec.sources) if spec is not None else [],
        }))
    return out


def whole_weeks(first: datetime.date | None, today: datetime.date | None) -> int | None:
    """Whole weeks from ``first`` to ``today`` (None when either is unknown)."""
    if first is None or today is None:
        return None
    return max(0, (today - first).days) // 7
