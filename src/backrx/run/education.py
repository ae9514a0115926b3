"""The program's education parts (issue 28): the modules the rules selected, the flare plan and the
graded-activity pathway, in the recommendation's language.

The rules decide (``educate`` conclusions of the ``education.<id>`` rules the loader builds from
education.yaml, see `backrx.pack.education`); this module only lays the parts out: modules in
phase order, the flare plan with the program's own exercises to keep and to ease off, and, when
the pathway's module is selected, one exposure ladder per goal of the person (or the pack's
everyday activities when none is given). Every word comes from the pack or its locale.
"""

from __future__ import annotations

import functools
from typing import Any

from backrx.model.education import EducationModule, ExposureStep, FlarePlan, GradedActivity
from backrx.model.profile import Profile
from backrx.model.recommendation import Program
from backrx.model.vocabulary import DIRECTIONS
from backrx.pack.education import EducationBook
from backrx.pack.model import Pack
from backrx.pack.texts import fill
from backrx.run.decision import Decision
from backrx.run.plantables import PlanTables

__all__ = ["education_parts", "education_sources", "exposure_activities"]


class _Words:
    """A pack text in a locale, English where the locale lacks it; a text without values is
    looked up once per pack and locale when the RuleSet's tables are given (the ``planner``
    cache of its `backrx.run.caches.CacheSeam`)."""

    def __init__(self, pack: Pack, locale: str, tables: PlanTables | None = None) -> None:
        self.texts = pack.texts
        self.words = pack.locales.get(locale, {})
        self.locale = locale
        self.tables = tables

    def __call__(self, key: str, **values: object) -> str:
        """The text, its bare placeholders filled by name (nothing is evaluated: `fill`)."""
        if not values and self.tables is not None:
            return str(self.tables.get("words", (self.locale, key), lambda: self._filled(key, values)))
        return self._filled(key, values)

    def _filled(self, key: str, values: dict[str, object]) -> str:
        return fill(self.words.get(f"text.{key}", self.texts.get(key, "")), values)


def _rule_of(decision: Decision, module: str) -> str:
    return next((f.rule.id for f in decision.fired if module in f.rule.then.educate), f"education.{module}")


def _modules(book: EducationBook, decision: Decision, t: _Words) -> list[EducationModule]:
    def built(m: Any, rule_id: str) -> EducationModule:
        return EducationModule(id=m.id, phase=m.phase, title=t(f"education.{m.id}.title"),
                               text=t(f"education.{m.id}.text"), sources=list(m.sources), rule_id=rule_id)

    out = []
    for m in book.ordered(decision.educate):
        rule_id = _rule_of(decision, m.id)
        if t.tables is None:
            out.append(built(m, rule_id))
        else:  # one immutable module per pack, locale and rule, shared by the results
            key = (t.locale, m.id, rule_id)
            out.append(t.tables.get("module", key, functools.partial(built, m, rule_id)))
    return out


def _flare(book: EducationBook, program: Program, profile: Profile, safety_net: list[str],
           t: _Words) -> FlarePlan | None:
    plan = book.flare
    if plan is None:
        return None
    preference = profile.directional_preference
    keep: list[str] = []
    ease: list[str] = []
    for phase in program.phases:
        for p in phase.prescriptions:
            ex = p.exercise
            if ex.category in plan.keep_categories and (
                    preference not in DIRECTIONS or ex.direction in (preference, "neutral")):
                keep.append(ex.id)
            elif ex.category in plan.ease_categories:
                ease.append(ex.id)
    return FlarePlan(window_days=plan.window_days,
                     first_days=[t(f"education.flare.first_48h.{i}") for i in range(len(plan.first_48h))],
                     keep=t("education.flare.keep"), keep_exercises=list(dict.fromkeys(keep)),
                     ease=t("education.flare.ease"), ease_exercises=list(dict.fromkeys(ease)),
                     seek_help=[t("education.flare.seek_help"), *safety_net],
                     resume=t("education.flare.resume"), sources=list(plan.sources))


def exposure_activities(book: EducationBook, profile: Profile) -> list[str]:
    """The activities an exposure ladder is built for: the person's goals the pack names, else the
    pack's everyday activities."""
    graded = book.graded
    if graded is None:
        return []
    prefs = profile.preferences
    goals = [g for g in (prefs.goals if prefs is not None else []) if g in graded.activities]
    return list(dict.fromkeys(goals)) or list(graded.default_activities)


def _graded(book: EducationBook, decision: Decision, profile: Profile, t: _Words) -> GradedActivity | None:
    graded = book.graded
    if graded is None or graded.module not in decision.educate:
        return None
    steps: list[ExposureStep] = []
    for activity in exposure_activities(book, profile):
        name = t(f"education.activity.{activity}")
        week = 1
        for n, quota in enumerate(graded.steps, start=1):
            end = week + quota.weeks - 1
            text = t("education.graded.step", step=n, start=week, end=end, activity=name,
                     minutes=quota.minutes, days=quota.days)
            steps.append(ExposureStep(activity=activity, step=n, start_week=week, end_week=end,
                                      minutes=quota.minutes, days_per_week=quota.days, text=text))
            week = end + 1
    return GradedActivity(title=t("education.graded.title"), intro=t("education.graded.intro"),
                          activities=exposure_activities(book, profile), steps=steps,
                          referral=t("education.graded.referral"), supports=t("education.graded.supports"),
                          cannot=t("education.graded.cannot"), sources=list(graded.sources),
                          rule_ids=[_rule_of(decision, graded.module)])


def education_parts(pack: Pack, profile: Profile, decision: Decision, program: Program, locale: str,
                    safety_net: list[str], tables: PlanTables | None = None) -> dict[str, Any]:
    """The Program fields the education parts fill (an update for ``program.model_copy``);
    ``tables``, a RuleSet's per-pack tables, keep the texts and modules once per locale."""
    book = pack.education
    if not book.modules:
        return {}
    t = _Words(pack, locale, tables)
    return {"education": _modules(book, decision, t),
            "flare_plan": _flare(book, program, profile, safety_net, t),
            "graded_activity": _graded(book, decision, profile, t)}


def education_sources(program: Program | None) -> list[str]:
    """The sources the education parts cite (for the recommendation's references)."""
    if program is None:
        return []
    out = [s for m in program.education for s in m.sources]
    out += program.flare_plan.sources if program.flare_plan else []
    out += program.graded_activity.sources if program.graded_activity else []
    return list(dict.fromkeys(out))
