"""Dose arithmetic for adjust: one step up or down in one part of a dose.

The steps, tops and floors are the pack's (planner.yaml ``adjusting``); this module only applies
them. It sits below both the rules' outcome and the revision that carries it out.
"""

from __future__ import annotations

from backrx.model.recommendation import Dose
from backrx.pack.planspec import Adjusting


def lower_dose(dose: Dose, steps: Adjusting) -> Dose:
    """One step down in one part of the dose, never below its floor (the dose itself when every
    part is at its floor)."""
    for item in steps.step_down:
        value = getattr(dose, item.part)
        if value and value > item.limit:
            return dose.model_copy(update={item.part: max(item.limit, value - item.step)})
    return dose


def raise_dose(dose: Dose, steps: Adjusting) -> Dose | None:
    """One step up in one part of the dose, never past its top; None when every part is at the top."""
    for item in steps.step_up:
        value = getattr(dose, item.part)
        if value and value < item.limit:
            return dose.model_copy(update={item.part: min(item.limit, value + item.step)})
    return None


__all__ = ["lower_dose", "raise_dose"]
