"""The clinician's record, applied: exclusion codes (read from the pack), and one recorded override.

`apply_override` rebuilds what an override did from the record alone; it is what
`backrx.replay` uses (through `replay_with_overrides`) to rebuild a program from its
history, and what `backrx.override` applies as it records.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Sequence

from backrx.model.recommendation import (
    AdjustmentRound,
    Exclusion,
    Override,
    PhaseStart,
    Prescription,
    Program,
)
from backrx.pack.model import SAFETY_CODES, Exclude, Rule

#: Every exclusion code an accept can name: the safety codes and ``program`` (a design choice).
EXCLUSION_CODES: tuple[str, ...] = (*SAFETY_CODES, "program")


def exclusion_codes(excl: Exclude, rule: Rule) -> list[str]:
    """The codes of one exclusion: the code its rule declares in the pack (``Exclude.code``).

    Nothing here classifies: the pack sets the code once (rules/exclusions.yaml), the planner
    stores it on the exclusion, and an accept must acknowledge the same code.
    """
    del rule  # kept in the signature: callers name the rule beside its exclusion
    return [excl.code]


def find_prescription(items: list[Prescription], exercise_id: str) -> int | None:
    return next((i for i, p in enumerate(items) if p.exercise.id == exercise_id), None)


def phase_day(item: Override, rounds: Sequence[AdjustmentRound]) -> datetime.date | None:
    """The day a clinician's phase move restarts the phase clock: the calendar day of its ``at``
    (read in its own time zone), never before the round it followed; without ``at``, the date of
    that round (backrx reads no clock). None when neither exists: the clock then starts with the
    first dated round, as for a plan never adjusted."""
    dated = [r.feedback.date for r in rounds[:item.after_round] if r.feedback.date is not None]
    days = dated[-1:]
    if item.at is not None:
        with contextlib.suppress(ValueError):  # recorded as given; a form not read gives no day
            days.append(datetime.datetime.fromisoformat(item.at).date())
    return max(days) if days else None


def apply_override(program: Program, item: Override, rounds: Sequence[AdjustmentRound] = ()) -> Program:
    """The program with one recorded override applied, from the record alone (used by replay).
    ``rounds`` (the adjustment rounds so far) date a phase move: like a reassessment's
    ``reset_phase``, it restarts the phase clock (``Program.phase_started``)."""
    if item.kind == "intervention":  # a do-not-do intervention, acknowledged: on the record only
        return program
    if item.kind == "phase":
        day = phase_day(item, rounds)
        started = PhaseStart(date=day, after_round=item.after_round) if day is not None else None
        return program.model_copy(update={"current_phase": item.phase, "phase_started": started})
    phases = {p.id: list(p.prescriptions) for p in program.phases}
    items = phases[item.phase]
    excluded = list(program.excluded)
    dropped = list(program.dropped)
    assert item.exercise_id is not None
    index = find_prescription(items, item.exercise_id)
    if item.kind in ("add", "accept"):
        assert item.after is not None
        items.append(item.after)
        # Whatever listed it as left out of this phase (the time budget, for an add) no longer holds.
        excluded = _unexclude(excluded, item.exercise_id, item.phase)
        if item.kind == "accept":
            dropped = [d for d in dropped if d != item.exercise_id]
    elif item.kind == "remove":
        assert index is not None
        del items[index]
    else:  # dose
        assert index is not None and item.after is not None
        items[index] = item.after
    return program.model_copy(update={
        "phases": [p.model_copy(update={"prescriptions": phases[p.id]}) for p in program.phases],
        "excluded": excluded, "dropped": dropped,
    })


def _unexclude(excluded: list[Exclusion], exercise_id: str, phase: str) -> list[Exclusion]:
    out: list[Exclusion] = []
    for e in excluded:
        if e.exercise_id == exercise_id and phase in e.phases:
            rest = [p for p in e.phases if p != phase]
            if rest:
                out.append(e.model_copy(update={"phases": rest}))
        else:
            out.append(e)
    return out


def replay_with_overrides(original: Program, rounds: Sequence[AdjustmentRound],
                          overrides: Sequence[Override],
                          replay_rounds: Callable[[Program, list[AdjustmentRound]], Program]) -> Program:
    """Rebuild a program from the original, the adjustment rounds and the overrides, in the order
    they were made (each override after the rounds it followed)."""
    program = original
    for item in overrides:
        if item.after_round == 0:
            program = apply_override(program, item, rounds)
    for number, round_ in enumerate(rounds, start=1):
        program = replay_rounds(program, [round_])
        for item in overrides:
            if item.after_round == number:
                program = apply_override(program, item, rounds)
    return program


__all__ = ["EXCLUSION_CODES", "SAFETY_CODES", "apply_override", "exclusion_codes",
           "find_prescription", "phase_day", "replay_with_overrides"]
