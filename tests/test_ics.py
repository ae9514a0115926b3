"""The reminder calendar (--format ics) parses back, with icalendar, to the current phase's week:
the days, the time, the exercises with their doses in the person's words, a reminder, and the
same bytes for the same recommendation. A referral gives no calendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import icalendar
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from tests.conftest import base_profile

import backrx
from backrx.cli import main
from backrx.model.formats import renderer
from backrx.pack.examples import example_names, example_text
from backrx.pack.read import bundled_path
from backrx.render import bundled_pack
from backrx.render.context import dose_words, pack_texts
from backrx.render.ics import default_start, to_ics
from backrx.testing import profiles

START = date(2026, 1, 5)  # a Monday
AT = time(7, 30)
_PROGRAMS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


def _rec(name: str, locale: str = "en") -> backrx.Recommendation:
    return backrx.recommend(yaml.safe_load(example_text(name)), locale=locale)


def _expected(rec: backrx.Recommendation) -> dict[date, list[str]]:
    """The sessions of the first week as the model holds them: date of each day -> exercise lines."""
    assert rec.program is not None
    phase = rec.program.phase_now
    t = pack_texts(bundled_pack(), rec.locale)
    by_id = {p.exercise.id: p for p in phase.prescriptions}
    out: dict[date, list[str]] = {}
    for day in phase.week:
        done = [by_id[i] for i in day.prescriptions if by_id[i].exercise.category != "education"]
        if done:
            out[START + timedelta(days=day.day - 1)] = [
                f"{t(f'plain.{p.exercise.id}.name')}: {dose_words(p.dose, t)}" for p in done]
    return out


def _check(rec: backrx.Recommendation, text: str) -> None:
    """The calendar in ``text`` holds the current phase's week of ``rec``, and nothing else."""
    assert rec.program is not None
    phase = rec.program.phase_now
    cal = icalendar.Calendar.from_ical(text)
    events = list(cal.walk("VEVENT"))
    expected = _expected(rec)
    starts = {ev.decoded("dtstart"): ev for ev in events}
    assert sorted(d.date() for d in starts) == sorted(expected)
    weeks = phase.end_week - phase.start_week + 1
    for when, ev in starts.items():
        assert isinstance(when, datetime) and when.tzinfo is None and when.time() == AT  # floating time
        rule = ev.decoded("rrule")  # a vRecur: a dict of lists
        assert rule["FREQ"] == ["WEEKLY"] and rule["COUNT"] == [weeks]
        lines = [ln[2:] for ln in str(ev["description"]).splitlines() if ln.startswith("- ")]
        assert lines[:len(expected[when.date()])] == expected[when.date()]
        day = next(d for d in phase.week if START + timedelta(days=d.day - 1) == when.date())
        assert ev.decoded("duration") >= timedelta(minutes=day.minutes)
        alarms = list(ev.walk("VALARM"))
        assert len(alarms) == 1 and alarms[0]["action"] == "DISPLAY"
        assert alarms[0].decoded("trigger") == timedelta(minutes=-10)
    assert len({str(ev["uid"]) for ev in events}) == len(events)


@pytest.mark.parametrize("name", [n for n in example_names() if _rec(n).outcome == "program"])
@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_example_parses_back_to_its_week(name: str, locale: str) -> None:
    """Every bundled program's calendar parses back to its current phase's days, time and exercises."""
    rec = _rec(name, locale)
    _check(rec, to_ics(rec, start=START, at=AT))


@_PROGRAMS
@given(profile=profiles(red_flags=[], red_flags_unsure=[]))
def test_generated_programs_parse_back_to_their_week(profile: dict[str, object]) -> None:
    """A generated program's calendar parses back to its current phase's days, time and exercises."""
    rec = backrx.recommend(profile)
    assume(rec.outcome == "program")
    _check(rec, to_ics(rec, start=START, at=AT))


def test_the_same_recommendation_gives_the_same_bytes() -> None:
    """Two exports of the same recommendation, start and time are byte-identical (UIDs, DTSTAMP)."""
    one = to_ics(_rec("stabilization"), start=START, at=AT)
    assert one == to_ics(_rec("stabilization"), start=START, at=AT)
    other = to_ics(_rec("stabilization"), start=START + timedelta(days=7), at=AT)
    assert set(_uids(one)).isdisjoint(_uids(other))


def _uids(text: str) -> list[str]:
    return [str(ev["uid"]) for ev in icalendar.Calendar.from_ical(text).walk("VEVENT")]


def test_spanish_calendar_uses_spanish_names_and_doses() -> None:
    """A Spanish recommendation's calendar names its exercises and reminder in Spanish."""
    rec = _rec("stabilization", "es")
    cal = icalendar.Calendar.from_ical(to_ics(rec, start=START))
    es = yaml.safe_load((bundled_path() / "locales" / "es.yaml").read_text("utf-8"))
    assert str(cal["x-wr-calname"]) == es["text"]["calendar.name"]
    first = next(iter(cal.walk("VEVENT")))
    assert str(first.walk("VALARM")[0]["description"]) == es["text"]["calendar.alarm"]
    assert es["text"]["plain.cat-camel.name"] in str(first["description"])


def test_a_referral_gives_no_calendar() -> None:
    """A referral has no exercise sessions: to_ics refuses it, and the CLI exits 2 saying why."""
    rec = _rec("red-flag-emergency")
    assert rec.outcome == "refer"
    with pytest.raises(ValueError, match="referral"):
        to_ics(rec)


def test_the_registry_and_the_cli_give_the_calendar(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """--format ics goes through the format registry and writes what to_ics writes."""
    (tmp_path / "p.yaml").write_text(example_text("stenosis"), encoding="utf-8")
    assert main(["recommend", str(tmp_path / "p.yaml"), "--format", "ics", "--start", "2026-01-05",
                 "--time", "07:30"]) == 0
    rec = _rec("stenosis")
    assert capsys.readouterr().out == renderer("ics")(rec, start=START, at=AT)
    _check(rec, to_ics(rec, start=START, at=AT))


def test_cli_refuses_calendar_options_that_would_be_ignored(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """--start without ics, --view with ics, a bad date and a referral each exit 2 with a reason."""
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(base_profile()), encoding="utf-8")
    (tmp_path / "r.yaml").write_text(example_text("red-flag-emergency"), encoding="utf-8")
    for argv in (["--format", "md", "--start", "2026-01-05"], ["--format", "ics", "--view", "patient"],
                 ["--format", "ics", "--start", "5 Jan"]):
        with pytest.raises(SystemExit) as exit_:
            main(["recommend", str(tmp_path / "p.yaml"), *argv])
        assert exit_.value.code == 2
    assert main(["recommend", str(tmp_path / "r.yaml"), "--format", "ics"]) == 2
    assert "referral" in capsys.readouterr().err


def test_the_default_start_is_the_coming_monday() -> None:
    """Without --start, day 1 is the coming Monday (today on a Monday)."""
    assert default_start(date(2026, 1, 5)) == date(2026, 1, 5)
    assert default_start(date(2026, 1, 6)) == date(2026, 1, 12)
    assert default_start(date(2026, 1, 11)) == date(2026, 1, 12)
