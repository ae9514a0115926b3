"""The patient handout holds no sentence that contradicts the dose or the person's mobility.

A small checker with three explicit rules reads the patient text view, exercise by exercise:

- frequency: a frequency word in an exercise's text ("every day", "most days", "3 times a week",
  "todos los días", ...) agrees with its Dose (sessions_per_week, times_per_day);
- walking: walking advice for upright walkers ("walk tall", "let your arms swing", "a brisk pace")
  never reaches a person with a walking aid or a wheelchair, unless the sentence is written for the aid;
- pain: one pain rule per exercise (at most one "N/10" threshold in its text).

Each rule has a self-test that plants a contradiction and sees it caught; then the checker runs over
1,000 generated programs (English and Spanish), rendering each once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import backrx
from backrx.model.recommendation import Dose, Recommendation
from backrx.render import bundled_pack, render
from backrx.render.context import dose_words, pack_texts
from backrx.testing import profiles

_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7}
_N = r"(\d+|" + "|".join(_NUMBERS) + r")"
_DAILY = set(range(7, 8))
_MOST = set(range(4, 8))
# a frequency phrase -> the sessions a week it allows ("daily activities" is not a frequency)
_PER_WEEK: list[tuple[re.Pattern[str], set[int] | None]] = [
    (re.compile(r"\b(every day|each day|daily(?! (activit|life|routine|task))|todos los días|cada día|"
                r"a diario)\b", re.I), _DAILY),
    (re.compile(r"\b(most days|casi todos los días|la mayoría de los días)\b", re.I), _MOST),
    (re.compile(r"\b(once a week|una vez a la semana)\b", re.I), {1}),
    (re.compile(rf"\b{_N} (times|days) a week\b|\b{_N} (veces|días) (a|por) (la )?semana\b", re.I), None),
]
_PER_DAY = re.compile(rf"\b{_N} (times a day|veces al día)\b", re.I)
_WALKING = re.compile(r"walk(ing)? tall|arms? swing|swing your arms|brisk(ly|,)? (steady )?pace|"
                      r"walk briskly|camine erguid|balancee los brazos|paso (ligero|enérgico|rápido)", re.I)
_AID = re.compile(r"stick|cane|frame|walker|rollator|walking aid|wheelchair|bastón|andador|muleta|"
                  r"silla de ruedas", re.I)
_PAIN = re.compile(r"\b(\d+)\s*/\s*10\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_SETTINGS = settings(max_examples=1000, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word.lower()]


def frequency_problems(text: str, dose: Dose) -> list[str]:
    """Frequency words in ``text`` that disagree with ``dose``."""
    out: list[str] = []
    if dose.sessions_per_week:
        for pattern, allowed in _PER_WEEK:
            for m in pattern.finditer(text):
                ok = allowed if allowed is not None else {_count(next(g for g in m.groups() if g))}
                if dose.sessions_per_week not in ok:
                    out.append(f"{m.group(0)!r} but dosed {dose.sessions_per_week} a week")
    for m in _PER_DAY.finditer(text):
        if _count(m.group(1)) != (dose.times_per_day or 1):
            out.append(f"{m.group(0)!r} but dosed {dose.times_per_day or 1} a day")
    return out


def walking_problems(text: str, mobility: str) -> list[str]:
    """Sentences of upright walking advice given to someone with a walking aid or a wheelchair."""
    if mobility == "independent":
        return []
    return [s for s in _SENTENCE.split(text) if _WALKING.search(s) and not _AID.search(s)]


def pain_problems(text: str) -> list[str]:
    """More than one pain threshold in one exercise's text."""
    found = sorted({m.group(1) for m in _PAIN.finditer(text)})
    return [f"pain thresholds {'/10, '.join(found)}/10 side by side"] if len(found) > 1 else []


def _blocks(page: str, doses: dict[str, Dose]) -> Iterator[tuple[str, Dose]]:
    """Each exercise of the patient text view: the text under its "name: dose" line, and its Dose."""
    head: Dose | None = None
    lines: list[str] = []
    for line in [*page.splitlines(), ""]:
        stripped = line.strip().removeprefix("* ").strip()
        if stripped in doses or not line.startswith("      "):
            if head is not None:
                yield " ".join(lines), head
            head, lines = doses.get(stripped), []
        elif head is not None:
            lines.append(stripped)


def _doses(rec: Recommendation) -> dict[str, Dose]:
    """The "plain name: dose" header of every prescription, as the handout writes it, to its Dose."""
    assert rec.program is not None
    t = pack_texts(bundled_pack(), rec.locale)
    done = [p for ph in rec.program.phases for p in ph.prescriptions if p.exercise.category != "education"]
    names = [(p, name) for p in done
             for name in (p.exercise.name, t.get(f"plain.{p.exercise.id}.name")) if name]
    return {f"{name}: {dose_words(p.dose, t)}": p.dose for p, name in names}


def problems(rec: Recommendation) -> list[str]:
    """Every contradiction the three rules find in the patient text view of ``rec``."""
    assert rec.program is not None and rec.profile is not None
    page = render(rec, "text", view="patient")
    out: list[str] = []
    for text, dose in _blocks(page, _doses(rec)):
        out += frequency_problems(text, dose) + pain_problems(text)
    steps = " ".join(line.strip() for line in page.splitlines() if line.startswith("      "))
    return out + walking_problems(steps, rec.profile.mobility)  # steps and why, of exercises and advice


def test_frequency_rule_catches_a_planted_contradiction() -> None:
    """"Most days" or "5 times a week" beside a 3-a-week dose is caught; agreeing words pass."""
    three = Dose(sets=2, reps=10, sessions_per_week=3)
    assert frequency_problems("Practise them most days.", three)
    assert frequency_problems("Build up to 30 minutes, five times a week.", three)
    assert frequency_problems("Hágalo todos los días.", three)
    assert frequency_problems("Repeat it 6 times a day.", Dose(reps=10, sessions_per_week=7,
                                                                times_per_day=3))
    assert not frequency_problems("Do it 3 times a week, and keep up your daily activities.", three)
    assert not frequency_problems("Do it every day.", Dose(reps=10, sessions_per_week=7))


def test_walking_rule_catches_a_planted_contradiction() -> None:
    """"Walk tall and let your arms swing" is caught for a stick user, not for a walker or for the aid."""
    advice = "Walk tall and let your arms swing. Breathe steadily."
    assert walking_problems(advice, "walking_aid") == ["Walk tall and let your arms swing."]
    assert walking_problems("Camine erguido y balancee los brazos.", "wheelchair")
    assert not walking_problems(advice, "independent")
    aid = "Walk tall with your stick in the hand opposite the sore side."
    assert not walking_problems(aid, "walking_aid")


def test_pain_rule_catches_a_planted_contradiction() -> None:
    """"Ease off above 5/10" beside "move on at 3/10 or less" in one exercise is caught; one rule passes."""
    assert pain_problems("Ease off above 5/10. Move on at 3/10 or less.")
    assert not pain_problems("Ease off if the pain goes above 5/10, or 5 / 10 the next day.")


def test_the_checker_reads_the_handout_exercise_by_exercise() -> None:
    """The checker finds every exercise of the current phase in the patient's text (it checks something;
    later phases are only named there, under "what comes next")."""
    import yaml

    from backrx.pack.examples import example_text
    rec = backrx.recommend(yaml.safe_load(example_text("stabilization")))
    found = list(_blocks(render(rec, "text", view="patient"), _doses(rec)))
    assert rec.program is not None
    now = next(ph for ph in rec.program.phases if ph.id == rec.program.current_phase)
    assert len(found) == sum(p.exercise.category != "education" for p in now.prescriptions) > 0
    assert all(text for text, _ in found)


@pytest.mark.slow
@_SETTINGS
@given(profile=profiles(red_flags=[], red_flags_unsure=[]), locale=st.sampled_from(["en", "es"]))
def test_no_generated_handout_contradicts_its_dose_or_mobility(profile: dict[str, object],
                                                                locale: str) -> None:
    """Over 1,000 generated programs, no exercise text contradicts its dose, the mobility or one pain rule."""
    rec = backrx.recommend(profile, locale=locale)
    assume(rec.outcome == "program")
    assert problems(rec) == []
