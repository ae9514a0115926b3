"""The adjust invariant: after a worse next day, `backrx.adjust` never raises a dose."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from backrx.audit.invariant import Invariant
from backrx.model.recommendation import Recommendation
from backrx.pack.model import DOSE_FIELDS
from backrx.ruleset import RuleSet


def _words(values: Iterable[str]) -> str:
    return ", ".join(values)


AdjustFunction = Callable[..., Recommendation]


def _find_adjust() -> AdjustFunction | None:
    """`backrx.adjust`, imported when first needed."""
    from backrx.followup.apply import adjust

    return adjust


def no_dose_increase_after_worse_day(adjust: AdjustFunction | None = None) -> Invariant:
    """The invariant "adjust never raises a dose after a worse day", checked with ``adjust``.

    Without ``adjust`` it uses `backrx.adjust` and is skipped until that exists. The
    feedback reports every exercise of the current phase as worse the next day (pain 5/10
    while doing it); after `backrx.adjust`, no exercise of that phase may have a higher
    dose (sets, reps, hold, minutes, sessions a week), no change may raise the load, and none
    may progress an exercise or advance to the next phase.
    """

    def resolve() -> AdjustFunction | None:
        return adjust if adjust is not None else _find_adjust()

    def skip(rules: RuleSet) -> str | None:
        return None if resolve() is not None else "backrx.adjust is not available yet"

    def check(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
        run = resolve()
        if run is None or rec.program is None or not rec.program.phases:
            return None
        first = rec.program.phase_now
        worse = list(dict.fromkeys(p.exercise.id for p in first.prescriptions))
        feedback = {"date": "2026-01-05",
                    "responses": [{"exercise_id": eid, "pain_during": 5, "next_day": "worse"}
                                  for eid in worse]}
        try:
            takes_rules = "rules" in inspect.signature(run).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            takes_rules = False
        after = run(rec, feedback, rules=rules) if takes_rules else run(rec, feedback)
        problems: list[str] = []
        before = {p.exercise.id: p for p in first.prescriptions}
        if after.program is not None:
            for phase in after.program.phases:
                if phase.id != first.id:
                    continue
                for p in phase.prescriptions:
                    old = before.get(p.exercise.id)
                    if old is None:
                        continue
                    raised = [f"{name} {getattr(old.dose, name)} -> {getattr(p.dose, name)}"
                              for name in DOSE_FIELDS
                              if getattr(old.dose, name) is not None and getattr(p.dose, name) is not None
                              and getattr(p.dose, name) > getattr(old.dose, name)]
                    if raised:
                        problems.append(f"{p.exercise.id}: {_words(raised)}")
        for round_ in after.adjustments[-1:]:
            for change in round_.changes:
                if change.action in ("progress", "advance"):
                    problems.append(f"{change.action} of {change.exercise_id or change.phase}")
                old_p = before.get(change.exercise_id or "")
                if change.prescription is not None and old_p is not None \
                        and change.prescription.exercise.load > old_p.exercise.load:
                    problems.append(f"{old_p.exercise.id} -> {change.prescription.exercise.id} "
                                    "raises the load")
        return "after a worse day: " + "; ".join(problems) if problems else None

    return Invariant(
        "adjust.no-dose-increase-after-worse-day",
        "After a worse next day, adjust never raises a dose or a load, and never progresses.",
        check, skip,
    )


__all__ = ["AdjustFunction", "no_dose_increase_after_worse_day"]
