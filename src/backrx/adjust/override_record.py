"""The clinician's record, applied: exclusion codes (read from the pack), and one recorded override.

:func:`apply_override` rebuilds what an override did from the record alone; it is what
:func:`backrx.replay` uses (through :func:`replay_with_overrides`) to rebuild a program from its
history, and what :func:`backrx.override` applies as it records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from backrx.model.recommendation import AdjustmentRound, Exclusion, Override, Prescription, Program
from backrx.pack.rulepack import SAFETY_CODES, Exclude, Rule

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


def apply_override(program: Program, item: Override) -> Program:
    """The program with one recorded override applied, from the record alone (used by replay)."""
    if item.kind == "intervention":  # a do-not-do intervention, acknowledged: on the record only
        return program
    if item.kind == "phase":
        return program.model_copy(update={"current_phase": item.phase})
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
            program = apply_override(program, item)
    for number, round_ in enumerate(rounds, start=1):
        program = replay_rounds(program, [round_])
        for item in overrides:
            if item.after_round == number:
                program = apply_override(program, item)
    return program


__all__ = ["EXCLUSION_CODES", "SAFETY_CODES", "apply_override", "exclusion_codes",
           "find_prescription", "replay_with_overrides"]
