"""A reminder calendar: the current phase's week as an iCalendar file (RFC 5545).

``to_ics(rec, start=date(2026, 1, 5), at=time(8, 0))`` gives one event per exercise day of the
current phase's typical week (``Phase.week``). Each event repeats weekly for as many weeks as the
phase lasts (``RRULE:FREQ=WEEKLY;COUNT=n``), so a calendar app shows the whole phase and reminds
the person before each session (a ``VALARM``). Day 1 of the week is ``start``; the time is a
floating local time, so the reminder rings at that hour wherever the person is.

The event's description lists the exercises by their plain names with their doses, then the safety
net, in the recommendation's language; every word comes from the pack's texts. The output is a
function of the recommendation, the start and the time only: UIDs are digests of them and DTSTAMP
is the start date at midnight UTC, so exporting twice gives the same bytes, and re-importing the
same export updates the events instead of adding copies.

A referral has no sessions: ``to_ics`` raises ``ValueError`` rather than write an empty calendar
that could read as "nothing to worry about". Needs the ``icalendar`` package (``backrx[calendar]``).
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING

from backrx.model.recommendation import Phase, Prescription, Recommendation
from backrx.model.words import dose_words
from backrx.render.context import pack_texts

if TYPE_CHECKING:
    import icalendar

    from backrx.pack.texts import Texts
    from backrx.ruleset import RuleSet

#: The default time of day of a session (floating local time) and of the reminder before it.
DEFAULT_TIME = time(8, 0)
DEFAULT_REMIND_MINUTES = 10
_ADVICE = "education"  # advice items are read, not done: they are no session's exercises


def default_start(today: date | None = None) -> date:
    """The default first day of the calendar: the coming Monday (today, if today is a Monday)."""
    today = today or date.today()
    return today + timedelta(days=(7 - today.weekday()) % 7)


def to_ics(rec: Recommendation, *, rules: RuleSet | None = None, start: date | None = None,
           at: time = DEFAULT_TIME, remind_minutes: int = DEFAULT_REMIND_MINUTES) -> str:
    """The current phase's weekly sessions of ``rec`` as an iCalendar (RFC 5545) text.

    ``start`` is day 1 of the week (default: `default_start`), ``at`` the time of day of each
    session, ``remind_minutes`` how long before it the reminder rings; ``rules`` is the pack whose
    texts are used (default: the bundled pack's). Raises ``ValueError`` for a referral, a program
    with no exercise session, or a negative reminder.
    """
    import icalendar

    if rec.outcome != "program" or rec.program is None:
        raise ValueError("a referral has no exercise sessions, so there is no calendar to make; "
                         "give the person the referral sheet (--format html) instead")
    if remind_minutes < 0:
        raise ValueError("remind_minutes must be 0 or more")
    from backrx.render import bundled_pack  # the package module; imported here, not at load

    pack = rules.pack if rules is not None else bundled_pack()
    t = pack_texts(pack, rec.locale)
    phase = rec.program.phase_now
    first = start if start is not None else default_start()
    key = _digest(rec, first, at)
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//backrx//backrx {rec.backrx_version}//{t('meta.lang').upper()}")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", t("calendar.name"))
    events = [_event(phase, day.day, day.prescriptions, day.minutes, first, at, key, remind_minutes,
                     rec, t) for day in phase.week if _exercises(phase, day.prescriptions)]
    if not events:
        raise ValueError("the current phase has no exercise session, so there is no calendar to make")
    for event in events:
        cal.add_component(event)
    text: str = cal.to_ical().decode("utf-8")
    return text


def _digest(rec: Recommendation, start: date, at: time) -> str:
    """A short digest of what the calendar is made from: the recommendation, the start and time."""
    h = hashlib.sha256(rec.model_dump_json().encode("utf-8"))
    h.update(f"|{start.isoformat()}|{at.isoformat()}".encode())
    return h.hexdigest()[:24]


def _exercises(phase: Phase, ids: list[str]) -> list[Prescription]:
    """The prescriptions done on a day, in the day's order (advice left out)."""
    by_id = {p.exercise.id: p for p in phase.prescriptions}
    return [by_id[i] for i in ids if i in by_id and by_id[i].exercise.category != _ADVICE]


def _event(phase: Phase, day: int, ids: list[str], minutes: float, start: date, at: time, key: str,
           remind_minutes: int, rec: Recommendation, t: Texts) -> icalendar.Event:
    """One weekly repeating session: its time, length, exercises and reminder."""
    import icalendar

    items = _exercises(phase, ids)
    length = max(1, math.ceil(minutes))
    event = icalendar.Event()
    event.add("uid", f"{key}-{phase.id}-day{day}@backrx")
    event.add("dtstamp", datetime.combine(start, time(0, 0), tzinfo=timezone.utc))
    event.add("dtstart", datetime.combine(start + timedelta(days=day - 1), at))
    event.add("duration", timedelta(minutes=length))
    event.add("rrule", {"freq": "weekly", "count": max(1, phase.end_week - phase.start_week + 1)})
    event.add("summary", t("calendar.summary", minutes=length))
    event.add("description", _description(items, rec, t))
    event.add("transp", "OPAQUE")
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", t("calendar.alarm"))
    alarm.add("trigger", timedelta(minutes=-remind_minutes))
    event.add_component(alarm)
    return event


def _description(items: list[Prescription], rec: Recommendation, t: Texts) -> str:
    """The session's exercises by plain name and dose, then the safety net and what comes next."""
    lines = [t("calendar.intro")]
    for p in items:
        name = t.get(f"plain.{p.exercise.id}.name") or p.exercise.name
        lines.append("- " + t("calendar.item", name=name, dose=dose_words(p.dose, t)))
    if rec.safety_net:
        lines += ["", t("heading.safety_net") + ":"]
        lines += [f"- {line}" for line in rec.safety_net]
    lines += ["", t("calendar.stage")]
    return "\n".join(lines)


__all__ = ["DEFAULT_REMIND_MINUTES", "DEFAULT_TIME", "default_start", "to_ics"]
