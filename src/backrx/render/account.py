"""What the combined account shows: ``explain()`` (plain text) and ``to_markdown()`` (a Markdown
handout), as plain data for the templates ``account.txt.j2`` and ``account.md.j2``.

These are the reports without a ``--view``: one account for clinician and person together, as
earlier versions wrote it. Every word comes from the pack's ``text.yaml`` (the ``report.*`` keys),
in the recommendation's language; doses, tiers and frequencies are worded by `backrx.model.words`.
The templates lay the lines out; nothing here is prose.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from backrx.errors import Problem, RuleError
from backrx.model.recommendation import (
    CriterionStatus,
    Firing,
    MeasureChange,
    Phase,
    PhaseStatus,
    Prescription,
    Progress,
    Recommendation,
)
from backrx.model.vocabulary import URGENCIES
from backrx.model.words import dose_words, tier_words
from backrx.pack.locale import read_locales
from backrx.pack.read import bundled_path
from backrx.pack.texts import Texts, bundled_texts
from backrx.render.context import blocks, pack_texts, texts_in
from backrx.render.education import education_context, education_heading

if TYPE_CHECKING:
    from backrx.ruleset import RuleSet


def report_texts(rec: Recommendation, rules: RuleSet | None = None) -> Texts:
    """The words of the reports of ``rec``: the pack's (default: the bundled pack's), in ``rec.locale``."""
    return pack_texts(rules.pack, rec.locale) if rules is not None else words_in(rec.locale)


@functools.lru_cache(maxsize=8)
def words_in(locale: str) -> Texts:
    """The bundled pack's words in ``locale``, read once per language from its text.yaml and
    locale files only (``rec.explain()``, FHIR and CDS Hooks need no catalog or rules)."""
    problems: list[Problem] = []
    translated = read_locales(bundled_path(), problems).get(locale, {})
    if problems:  # pragma: no cover - the bundled pack is checked by its tests
        raise RuleError(problems)
    return texts_in(bundled_texts(), translated)


def minutes(value: float) -> str:
    """Minutes as the reports print them: whole minutes, or "<1"."""
    return f"{value:.0f}" if value >= 1 else "<1"


def number(value: float | None) -> str:
    """A measure's value: "-" when missing, no ".0" on whole numbers."""
    if value is None:
        return "-"
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def _dose(p: Prescription, t: Texts) -> str:
    sided = p.exercise.per_side and p.exercise.category != "education"
    return dose_words(p.dose, t, clinical=True, each_side=sided)


def _week_rows(phase: Phase, t: Texts) -> list[dict[str, Any]]:
    """Day, minutes and what to do, for each day of the phase's typical week (empty: a rest day)."""
    names = {p.exercise.id: t("report.week.through_the_day", name=p.exercise.name, n=p.dose.times_per_day)
             if p.dose.times_per_day else p.exercise.name for p in phase.prescriptions}
    return [{"day": day.day, "minutes": minutes(day.minutes) if day.prescriptions else "-",
             "what": ", ".join(names.get(e, e) for e in day.prescriptions)} for day in phase.week]


def _classification(rec: Recommendation, t: Texts) -> str:
    c = rec.classification
    risk = t(f"report.risk.{c.startback_risk}") if c.startback_risk else t("report.risk.unknown")
    screen = rec.profile.startback if rec.profile is not None else None
    if c.startback_risk and screen is not None and screen.complete:
        risk = t("report.risk.scores", risk=risk, total=screen.total, psychosocial=screen.psychosocial)
    pathways = ", ".join(t(f"pathway.{p}") for p in c.pathways) or t("report.pathways.none")
    return t("report.classification", stage=t(f"report.stage.{c.stage}"), pathways=pathways, risk=risk)


def _evidence(firing: Firing | None, t: Texts) -> str:
    if firing is None:
        return ""
    return firing.evidence.describe() if firing.evidence is not None else t("report.evidence.none")


def _phase(rec: Recommendation, phase: Phase, t: Texts) -> dict[str, Any]:
    """One phase: its prescriptions in words, its week, and whether it is the current one."""
    assert rec.program is not None
    firings = {f.rule_id: f for f in rec.trace}
    by_override = {(o.phase, o.after.exercise.id, o.after.dose): o.number
                   for o in rec.overrides if o.after is not None}
    items = []
    for p in phase.prescriptions:
        items.append({"name": p.exercise.name, "dose": _dose(p, t), "rationale": p.rationale,
                      "instructions": p.exercise.instructions, "rule_ids": p.rule_ids, "sources": p.sources,
                      "minutes": minutes(p.minutes) if p.minutes else "",
                      "bouts": bool(p.dose.times_per_day),
                      "override": by_override.get((phase.id, p.exercise.id, p.dose)),
                      "evidence": _evidence(firings.get(p.rule_ids[0]) if p.rule_ids else None, t)})
    return {"id": phase.id, "name": phase.name, "goal": phase.goal, "start": phase.start_week,
            "end": phase.end_week, "prescriptions": items, "week": _week_rows(phase, t),
            "minutes_per_week": minutes(phase.minutes_per_week), "progress_when": phase.progress_when,
            "min_days": phase.min_days,
            "current": phase.id == rec.program.current_phase and bool(rec.adjustments)}


def _verdict(m: MeasureChange, t: Texts) -> str:
    if m.mcid is None:
        return t("report.progress.no_mcid")
    if m.improved:
        return t("report.progress.improved", mcid=number(m.mcid))
    if m.worsened:
        return t("report.progress.worsened", mcid=number(m.mcid))
    if m.latest is None:
        return t("report.progress.not_measured")
    return t("report.progress.not_yet_needs", mcid=number(m.mcid))


def _state(status: PhaseStatus, criterion: CriterionStatus, t: Texts) -> str:
    if status.quota and not criterion.quota:
        return t("report.progress.not_used")
    return t("report.progress.met") if criterion.met else t("report.progress.not_yet")


def _gate(status: PhaseStatus, t: Texts) -> str:
    days = t("report.progress.undated") if status.days is None else t("report.progress.day", n=status.days)
    text = t("report.progress.phase", phase=status.phase, days=days, min_days=status.min_days)
    if status.days_left:
        n = status.days_left
        text += ", " + (t("report.progress.days_left.one", n=n) if n == 1 else
                        t("report.progress.days_left.many", n=n))
    if status.quota:
        text += "; " + t("report.progress.quota")
    if status.holding:
        text += "; " + t("report.progress.holding")
    return text


def progress_context(progress: Progress, t: Texts) -> dict[str, Any]:
    """The progress summary: the phase gate with each criterion's state, and each outcome measure."""
    phase = progress.phase
    return {"date": progress.date.isoformat() if progress.date else "", "weeks": progress.weeks,
            "gate": None if phase is None else _gate(phase, t),
            "criteria": [] if phase is None else [{"text": c.text, "state": _state(phase, c, t)}
                                                 for c in phase.criteria],
            "measures": [{"name": m.name, "baseline": number(m.baseline), "latest": number(m.latest),
                          "change": f"{m.change:+g}" if m.change is not None else "-",
                          "percent": f"{m.percent:+g}" if m.percent is not None else None,
                          "verdict": _verdict(m, t)} for m in progress.measures]}


def _rounds(rec: Recommendation) -> list[dict[str, Any]]:
    return [{"n": r.round, "date": r.feedback.date.isoformat() if r.feedback.date else "",
             "before": r.phase_before, "after": r.phase_after,
             "changes": [{"action": ch.action, "reason": r.reason_of(ch),
                          "name": ", ".join(ch.exercise_ids) or ch.direction or ch.phase}
                         for ch in r.changes]} for r in rec.adjustments]


def _overrides(rec: Recommendation) -> list[dict[str, str]]:
    if not rec.overrides:
        return []
    from backrx.overrides.views import describe, override_status

    return [{"text": describe(item), "undone": undone or ""} for item, undone in override_status(rec)]


def _donotdo(rec: Recommendation, rules: RuleSet | None) -> dict[str, Any]:
    """The do-not-do items of ``rec`` from ``rules``' pack (default: the bundled pack)."""
    from backrx.render.donotdo import donotdo_for
    from backrx.ruleset import default_rules

    return donotdo_for((rules or default_rules()).pack, rec)


def account_context(rec: Recommendation, t: Texts, rules: RuleSet | None) -> dict[str, Any]:
    """Everything the combined account shows (``t``: the words, in ``rec.locale``), from ``rules``'
    pack (default: the bundled pack; its tiers that block exercise decide the handout's shape)."""
    program = rec.program
    referral = rec.referral
    elimination = program.elimination if program is not None else None
    heading = education_heading(rec, t)
    return {
        "rec": rec,
        "blocking": blocks(rec, rules.pack.blocking_urgencies if rules is not None else URGENCIES[:-1]),
        "tier": None if referral is None else tier_words(referral.urgency, t, header=referral.header,
                                                         clinical=True),
        "classification": _classification(rec, t),
        "phases": [] if program is None else [_phase(rec, ph, t) for ph in program.phases],
        "elimination": None if elimination is None else {
            "testing": elimination.testing,
            "next": elimination.queue[0].exercise.name if elimination.queue else None},
        "rounds": _rounds(rec),
        "overrides": _overrides(rec),
        "progress": None if rec.progress is None else progress_context(rec.progress, t),
        "education": education_context(rec, heading, patient=False),
        "donotdo": _donotdo(rec, rules) if program is not None else {"items": []},
    }


__all__ = ["account_context", "minutes", "number", "progress_context", "report_texts", "words_in"]
