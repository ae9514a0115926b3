"""Synthetic cohorts: many varied, valid profiles from a seed, for batch runs, diffs and benchmarks.

The mix is chosen to exercise the rules, not to resemble any population: most people have no
red flag, some have one or two; examination findings, STarT Back answers, history and
preferences are present in part of the cohort and absent (unknown) in the rest.
"""

from __future__ import annotations

import random
from typing import Any, get_args

from backrx.model.profile import (
    Activity,
    Direction,
    Enjoys,
    Equipment,
    Goal,
    LegPain,
    PainSite,
    Posture,
    RedFlag,
    Setting,
    Tolerance,
)
from backrx.model.vocabulary import DIRECTIONS


def _some(rnd: random.Random, values: tuple[str, ...], most: int) -> list[str]:
    return sorted(rnd.sample(values, rnd.randint(0, min(most, len(values)))))


def _maybe_bool(rnd: random.Random) -> bool | None:
    return rnd.choice((True, False, None))


def profile(rnd: random.Random) -> dict[str, Any]:
    """One synthetic profile drawn from ``rnd``."""
    flags: tuple[str, ...] = get_args(RedFlag)
    activities: tuple[str, ...] = get_args(Activity)
    p: dict[str, Any] = {
        "age": rnd.randint(18, 92),
        "duration_weeks": round(rnd.choice((rnd.uniform(0, 4), rnd.uniform(4, 12), rnd.uniform(12, 200))), 1),
        "pain_site": rnd.choice(get_args(PainSite)),
        "leg_pain": rnd.choice(get_args(LegPain)),
        "bilateral_leg_symptoms": rnd.random() < 0.2,
        "pain_intensity": rnd.randint(0, 10),
        "tolerance": rnd.choice(get_args(Tolerance)),
        "directional_preference": rnd.choice(get_args(Direction)),
        "red_flags": sorted(rnd.sample(flags, rnd.choice((1, 1, 2)))) if rnd.random() < 0.15 else [],
    }
    if p["directional_preference"] in DIRECTIONS and rnd.random() < 0.7:  # a direction of movement
        p["centralizes"] = rnd.random() < 0.6
    if rnd.random() < 0.7:
        findings: dict[str, Any] = {
            "aberrant_movement": _maybe_bool(rnd),
            "prone_instability_test": _maybe_bool(rnd),
            "hamstring_tightness": _maybe_bool(rnd),
            "glute_weakness": _maybe_bool(rnd),
            "worse_with": _some(rnd, activities, 2),
            "eases_with": _some(rnd, activities, 2),
        }
        if rnd.random() < 0.6:
            findings["straight_leg_raise_deg"] = float(rnd.randint(30, 110))
        if rnd.random() < 0.7:
            findings["sitting_hours_per_day"] = round(rnd.uniform(0, 14) * 2) / 2
        if rnd.random() < 0.3:
            findings["posture"] = _some(rnd, get_args(Posture), 2)
        p["findings"] = {k: v for k, v in findings.items() if v is not None}
    if rnd.random() < 0.5:
        answers: dict[str, Any] = {name: rnd.random() < 0.4 for name in (
            "leg_pain", "shoulder_neck_pain", "walked_short_distances", "dressed_slowly",
            "not_safe_to_be_active", "worrying_thoughts", "pain_terrible", "not_enjoying")}
        answers["bothersomeness"] = rnd.randint(0, 4)
        if rnd.random() < 0.1:
            answers.pop(rnd.choice(sorted(answers)))  # an unanswered item: no risk group
        p["startback"] = answers
    if rnd.random() < 0.2:
        p["history"] = {"osteoporosis": rnd.random() < 0.3, "pregnant": rnd.random() < 0.1}
    if rnd.random() < 0.6:
        prefs: dict[str, Any] = {
            "settings": sorted(rnd.sample(get_args(Setting), rnd.randint(1, 2))),
            "equipment": _some(rnd, get_args(Equipment), 3),
            "enjoys": _some(rnd, get_args(Enjoys), 2),
            "goals": _some(rnd, get_args(Goal), 1),
        }
        if rnd.random() < 0.3:
            prefs["minutes_per_session"] = rnd.choice((10, 20, 30, 45, 60))
        if rnd.random() < 0.3:
            prefs["sessions_per_week"] = rnd.randint(1, 7)
        p["preferences"] = prefs
    return p


def generate(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` synthetic profiles; the same ``seed`` always gives the same profiles."""
    rnd = random.Random(seed)
    return [profile(rnd) for _ in range(count)]
