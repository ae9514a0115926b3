"""The clinician's record, applied: exclusion codes, and one recorded override on a program.

:func:`apply_override` rebuilds what an override did from the record alone; it is what
:func:`backrx.replay` uses (through :func:`replay_with_overrides`) to rebuild a program from its
history, and what :func:`backrx.override` applies as it records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backrx.lang.condition import FieldTest, NotOf
from backrx.model.recommendation import AdjustmentRound, Exclusion, Override, Prescription, Program
from backrx.pack.rulepack import Exclude, Rule

#: Exclusion codes that only an explicit acknowledgement can set aside.
SAFETY_CODES: tuple[str, ...] = (
    "direction", "peripheralization", "contraindication", "population", "load-cap", "response",
)
#: Every exclusion code an accept can name: the safety codes and ``program`` (a design choice).
EXCLUSION_CODES: tuple[str, ...] = (*SAFETY_CODES, "program")
#: Fields whose rules exclude for a population rather than a contraindication.
POPULATION_FIELDS: tuple[str, ...] = ("history.pregnant", "mobility")


def _population_test(rule: Rule) -> bool:
    """True when the rule's condition compares age (``age exists`` is the "everyone" idiom)."""
    stack: list[Any] = [rule.when]
    while stack:
        node = stack.pop()
        if isinstance(node, FieldTest):
            if node.field == "age" and node.op != "exists":
                return True
        elif isinstance(node, NotOf):
            stack.append(node.item)
        else:
            stack.extend(getattr(node, "items", ()))
    return False


def exclusion_codes(excl: Exclude, rule: Rule) -> list[str]:
    """The codes of one exclusion, derived from what it leaves out and what its rule reads."""
    codes: list[str] = []
    if excl.directions:
        codes.append("direction")
    if excl.max_load is not None:
        codes.append("load-cap")
    if excl.exercises or excl.tags or excl.categories:
        if any(f in rule.reads for f in POPULATION_FIELDS) or _population_test(rule):
            codes.append("population")
        elif any(f.startswith("history.") for f in rule.reads):
            codes.append("contraindication")
        else:
            codes.append("program")
    return codes


def find_prescription(items: list[Prescription], exercise_id: str) -> int | None:
    return next((i for i, p in enumerate(items) if p.exercise.id == exercise_id), None)


def apply_override(program: Program, item: Override) -> Program:
    """The program with one recorded override applied, from the record alone (used by replay)."""
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


__all__ = ["EXCLUSION_CODES", "POPULATION_FIELDS", "SAFETY_CODES", "apply_override", "exclusion_codes",
           "find_prescription", "replay_with_overrides"]
