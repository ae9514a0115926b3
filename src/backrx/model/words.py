"""Doses, frequencies, tiers and yes/no in words: the one place every output turns them into text.

Text, Markdown and HTML reports, the FHIR Bundle, CDS Hooks cards, the calendar and
`Dose.describe` all call these functions. They hold no words of their own: each piece is a text
of the pack's ``text.yaml`` (translated by its ``locales/``), looked up through ``t``, a
`backrx.pack.texts.Texts` of the wanted language. The model sits below the pack, so ``t`` is
handed in; `Dose.describe` asks the bundled English texts handed down by
`backrx.model.providers.provide_words`.

Two books of dose words exist: the patient's (``dose.*``: "2 sets of 10, every day") and the
clinician's (``report.dose.*``: "2 sets x 10 reps, daily"; the FHIR and CDS Hooks wording too).
Both are built by the same steps here, so they never disagree about what a dose says.
"""

from __future__ import annotations

from typing import Protocol


class Dose(Protocol):
    """What these functions read of a `backrx.model.recommendation.Dose` (None: not part of it)."""

    @property
    def sets(self) -> int | None: ...
    @property
    def reps(self) -> int | None: ...
    @property
    def hold_seconds(self) -> int | None: ...
    @property
    def minutes(self) -> int | None: ...
    @property
    def sessions_per_week(self) -> int | None: ...
    @property
    def times_per_day(self) -> int | None: ...


class Words(Protocol):
    """The texts of one language: ``t(key, **values)`` fills a text, ``t.get(key)`` may be None."""

    def __call__(self, key: str, **values: object) -> str: ...

    def get(self, key: str) -> str | None: ...


def _amount(dose: Dose, t: Words, clinical: bool) -> list[str]:
    """Sets, repetitions, hold and minutes of one bout."""
    parts: list[str] = []
    sets, reps = dose.sets, dose.reps
    if sets and reps:
        if clinical:
            parts.append(t("report.dose.set_reps", reps=reps) if sets == 1 else
                         t("report.dose.sets_reps", sets=sets, reps=reps))
        else:
            parts.append(t("dose.set_reps" if sets == 1 else "dose.sets_reps", sets=sets, reps=reps))
    elif reps:
        parts.append(t("report.dose.reps", reps=reps) if clinical else t("dose.reps", reps=reps))
    elif sets:
        parts.append(t("report.dose.sets", sets=sets) if clinical else t("dose.sets", sets=sets))
    if dose.hold_seconds:
        seconds = dose.hold_seconds
        parts.append(t("report.dose.hold", seconds=seconds) if clinical else t("dose.hold", seconds=seconds))
    if dose.minutes:
        n = dose.minutes
        if clinical:
            parts.append(t("report.dose.minutes.one", n=n) if n == 1 else t("report.dose.minutes.many", n=n))
        else:
            parts.append((t.get("dose.minute") if n == 1 else None) or t("dose.minutes", minutes=n))
    return parts


def frequency_words(dose: Dose, t: Words, *, clinical: bool = False) -> list[str]:
    """How often, from the dose alone: bouts a day, then days a week ([] when the dose says neither).

    The patient's book leaves out a single bout a day (that is what "once" means on a day done);
    the clinician's says it.
    """
    parts: list[str] = []
    per_day = dose.times_per_day
    if per_day and clinical:
        parts.append(t("report.dose.per_day.one", n=per_day) if per_day == 1 else
                     t("report.dose.per_day.many", n=per_day))
    elif per_day and per_day > 1:
        parts.append(t("dose.per_day", n=per_day))
    n = dose.sessions_per_week
    if n and clinical:
        parts.append(t("report.dose.daily") if n >= 7 else
                     t("report.dose.per_week.one", n=n) if n == 1 else t("report.dose.per_week.many", n=n))
    elif n:
        parts.append(t("dose.daily") if n == 7 else t("dose.once_week") if n == 1 else
                     t("dose.per_week", n=n))
    return parts


def dose_words(dose: Dose, t: Words, *, clinical: bool = False, each_side: bool = False) -> str:
    """The dose in words: "2 sets of 10, every day" (patient), "2 sets x 10 reps, daily" (clinician).

    ``each_side`` marks a one-sided exercise done on both sides (clinician's book only; the
    patient's steps say it). A dose with no part reads "as advised" in the book's words.
    """
    parts = _amount(dose, t, clinical) + frequency_words(dose, t, clinical=clinical)
    if clinical:
        text = t("report.dose.separator").join(parts) if parts else t("report.dose.as_advised")
        return t("report.dose.each_side", dose=text) if each_side else text
    return t("dose.separator").join(parts) if parts else t("dose.as_advised")


def has_amount(dose: Dose) -> bool:
    """Whether the dose says anything at all (else it reads "as advised")."""
    return any((dose.sets, dose.reps, dose.hold_seconds, dose.minutes, dose.times_per_day,
                dose.sessions_per_week))


def tier_words(urgency: str, t: Words, *, header: str | None = None, clinical: bool = False) -> str:
    """A referral tier in words: the pack's heading for the patient (``urgency.<tier>.heading``);
    for the clinician the tier's own header from urgency.yaml, or its name when the pack has none."""
    if clinical:
        return header or t("report.referral.tier", tier=urgency.upper())
    return t(f"urgency.{urgency}.heading")


__all__ = ["Words", "dose_words", "frequency_words", "has_amount", "tier_words"]
