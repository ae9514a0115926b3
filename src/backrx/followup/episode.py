"""An episode of care as a timeline of dated events; the plan at any date is derived from it.

An `Episode` stores events once, in date order: the intake (the profile), profile changes
from a date, feedback rounds (with adherence and adverse events), a clinician's reassessment,
overrides, referrals and their clearance. Nothing derived is stored: `Episode.plan` folds the
events up to a date over the pack with the existing entry points (``recommend``, ``adjust``,
``override``), so the same events on the same pack give byte-identical plans, and migrating is a
replay on another pack (`Episode.plan` with ``rules=``).

Clinical time comes from the dates. The weeks of a pregnancy, the weeks after a birth, the weeks of
the episode (``duration_weeks``) and the person's age advance from the date each was recorded to
the date of each event, and the pack's exclusions (population limits among them) are applied again
for the person as they are on that date: a stored prescription that now breaks one is dropped, with
the rule's own reason.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError

from backrx.errors import FeedbackError
from backrx.followup.apply import adjust, merge_referral
from backrx.followup.outcome import Adjuster, Outcome, adjust_layer
from backrx.followup.revision import Revision
from backrx.model import chain
from backrx.model.feedback import Adherence, Feedback
from backrx.model.measures import Compact, IsoDate
from backrx.model.profile import Profile, StrictModel
from backrx.model.recommendation import PhaseStart, Recommendation
from backrx.model.untrusted import PlainText
from backrx.model.vocabulary import URGENCIES
from backrx.overrides.override import intent, override
from backrx.ruleset import RuleSet, default_rules
from backrx.run.facts import profile_values

#: The format of a stored episode (``Episode.format``).
EPISODE_FORMAT: Literal[1] = 1

Text = Annotated[PlainText, Field(min_length=1, max_length=2000)]
Direction = Annotated[str, Field(pattern="^(extension|flexion|neutral)$")]


class _Event(Compact, StrictModel):
    date: IsoDate = Field(description="the day the event happened (ISO 8601, YYYY-MM-DD)")
    note: Text | None = Field(default=None, description="a clinician's note, kept with the event")


class Intake(_Event):
    """The first event: the profile as assessed on ``date``."""

    kind: Literal["intake"] = "intake"
    profile: dict[str, Any] = Field(description="the profile as given (validated as backrx.Profile)")


class ProfileChange(_Event):
    """Profile fields that change from ``date`` on (a top-level field is replaced whole)."""

    kind: Literal["profile"] = "profile"
    changes: dict[str, Any]


class Round(_Event):
    """One feedback round; its date is the feedback's date."""

    kind: Literal["round"] = "round"
    feedback: Feedback


class AdherenceReport(_Event):
    """Sessions done of those planned, and adverse events (CERT items 16 and 11), joined to the next
    round that carries no adherence of its own."""

    kind: Literal["adherence"] = "adherence"
    adherence: Adherence


class Reassessment(_Event):
    """A clinician's reassessment: the only event that ends a hold, closes a review an adjust rule
    opened, lifts a stopped direction or resets the phase."""

    kind: Literal["reassessment"] = "reassessment"
    by: Text
    end_hold: bool = True
    close_review: bool = True
    lift_directions: list[Direction] = Field(default_factory=list)
    confirm_directions: list[Direction] = Field(default_factory=list)
    reset_phase: str | None = None
    profile: dict[str, Any] = Field(default_factory=dict, description="re-classification: profile "
                                    "fields that change with this reassessment")


class OverrideEvent(_Event):
    """A clinician override (the arguments of `backrx.override`)."""

    kind: Literal["override"] = "override"
    changes: dict[str, Any]
    reason: Text
    by: Text
    at: str | None = None


class ReferralEvent(_Event):
    """A clinician's referral: a blocking tier replaces the program until a clearance."""

    kind: Literal["referral"] = "referral"
    urgency: Annotated[str, Field(pattern="^(emergency|urgent|routine)$")]
    reason: Text
    by: Text


class Clearance(_Event):
    """A clinician clears the person to resume exercise after a referral: the plan is made again
    from the profile as it is on ``date``."""

    kind: Literal["clearance"] = "clearance"
    by: Text
    note: Text


Event = Annotated[Intake | ProfileChange | Round | AdherenceReport | Reassessment | OverrideEvent
                  | ReferralEvent | Clearance, Field(discriminator="kind")]

#: Profile fields that are clocks: (section or None, field, days per unit).
_CLOCKS: tuple[tuple[str | None, str, float], ...] = (
    ("history", "pregnancy_weeks", 7.0), ("history", "postpartum_weeks", 7.0),
    (None, "duration_weeks", 7.0), (None, "age", 365.25))


class Episode(Compact, StrictModel):
    """A course of care as dated events; plans are derived (see the module docs)."""

    format: Literal[1] = EPISODE_FORMAT
    events: list[Event] = Field(default_factory=list, max_length=2000)
    _fold: Any = PrivateAttr(default=None)  # the fold of every event, kept between adds

    def add(self, event: Event | Mapping[str, Any], *, rules: RuleSet | None = None) -> Episode:
        """A new Episode with ``event`` added. Raises `backrx.FeedbackError` when the event
        comes before the last one (``event-out-of-order``), the first event is not an intake
        (``intake-required``), or the plan on its date refuses it (for example
        ``feedback-after-referral``); ``pydantic.ValidationError`` for an event of the wrong shape."""
        chosen = rules if rules is not None else default_rules()
        new = Episode.model_validate({"events": [*self.events, event]})
        added = new.events[-1]
        if self.events and added.date < self.events[-1].date:
            raise FeedbackError("an event must not be dated before the last one in the episode",
                                code="event-out-of-order", loc=("events", len(self.events), "date"))
        fold = self._folded(chosen)
        if fold is None:
            fold = _Fold(chosen)
            fold.fold(new.events)  # refused here, not later
        else:
            fold = fold.copy()
            fold.fold([added], first=len(self.events))
        new._fold = fold
        return new

    def _folded(self, rules: RuleSet) -> _Fold | None:
        """The fold of every event kept from the last add, when it was made on ``rules``."""
        fold = self._fold
        if isinstance(fold, _Fold) and fold.rules.digest == rules.digest and fold.count == len(self.events):
            return fold
        return None

    def plan(self, at: datetime.date | str | None = None, *, rules: RuleSet | None = None) -> Recommendation:
        """The recommendation on ``at`` (default: the last event's date), from the events up to that
        date on ``rules`` (default: the bundled pack; another pack migrates the episode)."""
        chosen = rules if rules is not None else default_rules()
        day = datetime.date.fromisoformat(at) if isinstance(at, str) else at
        fold = self._folded(chosen)
        if fold is None or not self.events or (day is not None and day < self.events[-1].date):
            fold = _Fold(chosen)
            fold.fold(self.events, until=day)
        return fold.result(day if day is not None else self.events[-1].date)

    def replay(self, *, rules: RuleSet | None = None) -> Recommendation:
        """The plan on the last event's date, folded again from the first event (no kept state)."""
        chosen = rules if rules is not None else default_rules()
        fold = _Fold(chosen)
        fold.fold(self.events)
        return fold.result(self.events[-1].date)

    @classmethod
    def from_recommendation(cls, rec: Recommendation, intake: datetime.date | str) -> Episode:
        """The episode of a stored recommendation, for histories kept before episodes: its profile,
        its rounds, and its clinician overrides, each as an override event right after the round
        it followed (dated as that round, or as the intake), with its author, reason and time."""
        if rec.profile is None:
            raise FeedbackError("this recommendation carries no profile", code="no-profile",
                                loc=("recommendation", "profile"))
        events: list[dict[str, Any]] = [{"kind": "intake", "date": str(intake),
                                         "profile": rec.profile.model_dump(mode="json", exclude_none=True)}]
        day = str(intake)

        def overrides_after(number: int) -> None:
            for item in (o for o in rec.overrides if o.after_round == number):
                events.append({"kind": "override", "date": day, "changes": intent(item),
                               "reason": item.reason, "by": item.by, "at": item.at})

        overrides_after(0)
        for r in rec.adjustments:
            fb = r.feedback.model_dump(mode="json")
            day = fb.get("date") or day
            events.append({"kind": "round", "date": day, "feedback": fb})
            overrides_after(r.round)
        return cls.model_validate({"events": events})


def _advance(base: dict[str, Any], since: dict[tuple[str | None, str], datetime.date],
             day: datetime.date) -> dict[str, Any]:
    """The profile's clocks moved on from the date each was recorded to ``day``."""
    out = dict(base)
    for section, name, per in _CLOCKS:
        holder = out.get(section) if section else out
        if not isinstance(holder, dict) or not isinstance(holder.get(name), (int, float)):
            continue
        start = since.get((section, name))
        if start is None or day <= start:
            continue
        elapsed = (day - start).days / per
        moved = dict(holder)
        moved[name] = holder[name] + int(elapsed) if name == "age" else round(holder[name] + elapsed, 2)
        candidate = {**out, section: moved} if section else moved
        try:
            Profile.model_validate(candidate)
        except ValidationError:
            continue  # past the field's range: it stays as recorded until the clinician updates it
        out = candidate
    if "duration_weeks" in out and "stage" not in base:
        out.pop("stage", None)  # derived from the duration, so it moves on with it
    return out


class _Fold:
    """Events folded, in order, into the recommendation of one date."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.profile: dict[str, Any] = {}
        self.since: dict[tuple[str | None, str], datetime.date] = {}
        self.rec: Recommendation | None = None
        self.adherence: Adherence | None = None
        self.overrides_before_rounds: list[OverrideEvent] = []
        self.count = 0

    def _set(self, changes: Mapping[str, Any], day: datetime.date) -> None:
        for key, value in changes.items():
            self.profile[key] = value
        for section, name, _ in _CLOCKS:
            holder = changes.get(section) if section else changes
            if isinstance(holder, Mapping) and name in holder:
                self.since[(section, name)] = day

    def profile_at(self, day: datetime.date) -> Profile:
        return Profile.model_validate(_advance(self.profile, self.since, day))

    def copy(self) -> _Fold:
        """A fold that can go on without changing this one."""
        other = _Fold(self.rules)
        other.profile, other.since = dict(self.profile), dict(self.since)
        other.rec, other.adherence, other.count = self.rec, self.adherence, self.count
        other.overrides_before_rounds = list(self.overrides_before_rounds)
        return other

    def fold(self, events: Sequence[Any], *, first: int = 0, until: datetime.date | None = None) -> None:
        """Take in ``events`` (the first of them is event number ``first``), up to ``until``."""
        if first == 0 and (not events or not isinstance(events[0], Intake)):
            raise FeedbackError("an episode starts with an intake event", code="intake-required",
                                loc=("events", 0, "kind"))
        for index, event in enumerate(events, start=first):
            if until is not None and event.date > until:
                break
            if index > 0 and isinstance(event, Intake):
                raise FeedbackError("an episode has one intake, its first event", code="intake-required",
                                    loc=("events", index, "kind"))
            try:
                self.step(event)
            except FeedbackError as exc:
                raise FeedbackError(exc.message, code=exc.code, loc=("events", index, *exc.loc)) from None
            self.count = index + 1

    def result(self, day: datetime.date) -> Recommendation:
        """The recommendation on ``day``: the person's clocks moved on, the limits applied again."""
        assert self.rec is not None
        return self._reprofile(self.profile_at(day), limits_on=day)

    def step(self, event: Any) -> None:
        if isinstance(event, Intake):
            self._set(event.profile, event.date)
            self.rec = self.rules.recommend(self.profile_at(event.date))
            return
        assert self.rec is not None
        if isinstance(event, ProfileChange):
            self._set(event.changes, event.date)
            self.rec = self._reprofile(self.profile_at(event.date), limits_on=None, replan=True)
        elif isinstance(event, Round):
            self._round(event)
        elif isinstance(event, AdherenceReport):
            self.adherence = event.adherence
        elif isinstance(event, Reassessment):
            if event.profile:
                self._set(event.profile, event.date)
                self.rec = self._reprofile(self.profile_at(event.date), limits_on=None, replan=True)
            self.rec = _reassess(self.rec, event, self.rules)
        elif isinstance(event, OverrideEvent):
            if not self.rec.adjustments:
                self.overrides_before_rounds.append(event)
            self.rec = override(self.rec, event.changes, reason=event.reason, by=event.by, at=event.at,
                                rules=self.rules)
            if event.changes.get("phase") is not None:
                self.rec = _moved_on(self.rec, event.date)
        elif isinstance(event, ReferralEvent):
            self.rec = _refer(self.rec, event, self.rules)
        elif isinstance(event, Clearance):
            self.overrides_before_rounds = []
            self.rec = self.rules.recommend(self.profile_at(event.date), locale=self.rec.locale)

    def _round(self, event: Round) -> None:
        assert self.rec is not None
        fb = event.feedback
        if fb.date is None:
            fb = fb.model_copy(update={"date": event.date})
        if fb.adherence is None and self.adherence is not None:
            fb = fb.model_copy(update={"adherence": self.adherence})
        self.adherence = None
        self.rec = self._reprofile(self.profile_at(event.date), limits_on=None)
        self.rec = adjust(self.rec, fb, rules=self.rules)

    def _reprofile(self, profile: Profile, *, limits_on: datetime.date | None,
                   replan: bool = False) -> Recommendation:
        """The recommendation for the person as they are now; with ``limits_on``, the pack's
        exclusions applied again to the stored program on that date. ``replan``: a changed profile
        (not only its clocks) before any round makes the plan again."""
        rec = self.rec
        assert rec is not None
        if rec.profile != profile:
            if replan and not rec.adjustments:  # nothing recorded yet: the plan is made again
                rec = self.rules.recommend(profile, locale=rec.locale)
                for o in self.overrides_before_rounds:
                    rec = override(rec, o.changes, reason=o.reason, by=o.by, at=o.at, rules=self.rules)
                    if o.changes.get("phase") is not None:
                        rec = _moved_on(rec, o.date)
            else:
                rec = _triaged(rec.model_copy(update={"profile": profile}), self.rules)
                rec = chain.seal(rec, len(chain.records(rec)))  # anchored on the profile of today
        if limits_on is not None and rec.program is not None:
            rec = _limits(rec, self.rules, limits_on)
        return rec


def _triaged(rec: Recommendation, rules: RuleSet) -> Recommendation:
    """A changed profile's own triage joins the stored referral (the most urgent tier wins)."""
    assert rec.profile is not None
    decision = rules.decide_facts(profile_values(rec.profile))
    referral = merge_referral(rec.referral, decision.urgency, list(decision.referral_reasons),
                      list(decision.referral_rules), rules.pack)
    refers = referral is not None and referral.urgency in rules.pack.blocking_urgencies
    return rec.model_copy(update={"referral": referral, "outcome": "refer" if refers else rec.outcome,
                                  "program": None if refers else rec.program})


def _limits(rec: Recommendation, rules: RuleSet, day: datetime.date) -> Recommendation:
    """The stored program with every prescription the pack now excludes for this person taken out
    (each exclusion gives the rule's reason)."""
    assert rec.profile is not None
    decision = rules.decide_facts(profile_values(rec.profile))
    adjuster = Adjuster(rules, rec, Feedback(date=day, responses=[]), decision)
    revision = Revision(adjuster, Outcome())
    revision.limits()
    if not revision.changes:
        return rec
    return rec.model_copy(update={"program": revision.program()})


def _reassess(rec: Recommendation, event: Reassessment, rules: RuleSet) -> Recommendation:
    """What a clinician's reassessment ends: the hold, the reviews adjust rules opened, stopped
    directions lifted, the phase reset; the warnings of what ended go with it. A confirmed direction
    stays stopped (``exercise.direction_stopped`` holds its exercises); only its warning ends."""
    program = rec.program
    ended: set[str] = set()
    layer = adjust_layer(rules)
    if program is not None:
        update: dict[str, Any] = {}
        if event.end_hold and program.hold is not None:
            update["hold"] = None
            ended |= {r.id for r in layer.rules if r.then.hold_rounds}
        lifted = [d for d in program.stopped_directions if d in event.lift_directions]
        still = [d for d in program.stopped_directions if d not in lifted]
        if lifted:
            update["stopped_directions"] = still
        # The request to reassess a stopped direction is answered once each direction still stopped
        # is confirmed (it stays stopped: nothing in it progresses) or lifted.
        if (lifted or program.stopped_directions) and set(still) <= set(event.confirm_directions):
            ended |= {r.id for r in layer.rules if r.then.stop_direction}
        if event.reset_phase is not None:
            if event.reset_phase not in [p.id for p in program.phases]:
                raise FeedbackError("reset_phase names no phase of this program", code="unknown-phase",
                                    loc=("reset_phase",))
            update["current_phase"] = event.reset_phase
            update["phase_started"] = PhaseStart(date=event.date, after_round=len(rec.adjustments))
        program = program.model_copy(update=update)
    referral = rec.referral
    if event.close_review and referral is not None:
        ours = {r.id for r in layer.rules}
        closed = [rid for rid in referral.rule_ids if rid in ours]
        if closed and referral.urgency not in rules.pack.blocking_urgencies:
            ended |= set(closed)
            kept_ids = [rid for rid in referral.rule_ids if rid not in ours]
            reasons = [r.then.refer.reason for r in layer.rules if r.id in closed and r.then.refer]
            kept_reasons = [x for x in referral.reasons if x not in reasons]
            referral = (referral.model_copy(update={"rule_ids": kept_ids, "reasons": kept_reasons})
                        if kept_ids else None)
    warnings = [w for w in rec.warnings if not (w.rule_ids and set(w.rule_ids) <= ended)]
    return rec.model_copy(update={"program": program, "referral": referral, "warnings": warnings})


def _moved_on(rec: Recommendation, day: datetime.date) -> Recommendation:
    """A clinician's phase move restarts the phase clock on the event's own date (never before the
    day the override itself gives, from its ``at`` or the round it followed)."""
    program = rec.program
    if program is None:
        return rec
    known = program.phase_started.date if program.phase_started is not None else day
    started = PhaseStart(date=max(day, known), after_round=len(rec.adjustments))
    return rec.model_copy(update={"program": program.model_copy(update={"phase_started": started})})


def _refer(rec: Recommendation, event: ReferralEvent, rules: RuleSet) -> Recommendation:
    """A clinician's referral joins the stored one; a blocking tier replaces the program."""
    if event.urgency not in URGENCIES:  # the pattern above holds the same names
        raise FeedbackError("unknown referral urgency", code="unknown-urgency", loc=("urgency",))
    referral = merge_referral(rec.referral, event.urgency, [event.reason], [], rules.pack)
    refers = referral is not None and referral.urgency in rules.pack.blocking_urgencies
    return rec.model_copy(update={"referral": referral, "outcome": "refer" if refers else rec.outcome,
                                  "program": None if refers else rec.program})


__all__ = [
    "EPISODE_FORMAT",
    "AdherenceReport",
    "Clearance",
    "Episode",
    "Event",
    "Intake",
    "OverrideEvent",
    "ProfileChange",
    "Reassessment",
    "ReferralEvent",
    "Round",
]
