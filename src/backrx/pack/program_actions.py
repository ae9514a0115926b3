"""The arguments of the actions that build the program: prescribe, exclude, dose and schedule,
each one entry or a list of entries, and the JSON Schema of each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backrx.model.vocabulary import CATEGORIES, DIRECTIONS
from backrx.pack.model import (
    DOSE_FIELDS,
    DOSE_KINDS,
    DOSE_LIMITS,
    RULE_EXCLUSION_CODES,
    DoseSpec,
    Exclude,
    Prescribe,
    Schedule,
)
from backrx.pack.read import Ctx, Known, check_keys, hint, int_value, join, line_of, str_list

_IDS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}


def one_or_many(item: dict[str, Any]) -> dict[str, Any]:
    """The schema of an argument that is one ``item`` or a non-empty list of them."""
    return {"oneOf": [item, {"type": "array", "items": item, "minItems": 1}]}


PRESCRIBE_SCHEMA = one_or_many({
    "type": "object", "additionalProperties": False, "required": ["phase", "exercises"],
    "properties": {"phase": {"type": "string"},
                   "pick": {"type": "integer", "minimum": 1, "maximum": 20},
                   "role": {"type": "string"},
                   "exercises": _IDS},
})
EXCLUDE_SCHEMA = one_or_many({
    "type": "object", "additionalProperties": False,
    "properties": {
        "exercises": _IDS,
        "direction": {"oneOf": [{"enum": list(DIRECTIONS)},
                                {"type": "array", "items": {"enum": list(DIRECTIONS)}}]},
        "tags": _IDS,
        "category": {"oneOf": [{"enum": list(CATEGORIES)},
                               {"type": "array", "items": {"enum": list(CATEGORIES)}}]},
        "max_load": {"type": "integer", "minimum": 1, "maximum": 5},
        "phases": _IDS,
        "code": {"enum": list(RULE_EXCLUSION_CODES)},
    },
})
DOSE_SCHEMA = one_or_many({
    "type": "object", "additionalProperties": False, "required": ["kind"],
    "properties": {"kind": {"enum": list(DOSE_KINDS)}, "phases": _IDS,
                   **{f: {"type": "integer", "minimum": 1, "maximum": DOSE_LIMITS[f]}
                      for f in DOSE_FIELDS}},
})
SCHEDULE_SCHEMA = one_or_many({
    "type": "object", "additionalProperties": False, "required": ["phase", "weeks"],
    "properties": {"phase": {"type": "string"}, "weeks": {"type": "integer", "minimum": 1, "maximum": 52}},
})


def as_items(ctx: Ctx, value: Any, where: str) -> list[tuple[int, Any]]:
    items = value if isinstance(value, list) else [value]
    if not items:
        ctx.add(line_of(value), "wrong-type", "expected at least one entry", where)
    return list(enumerate(items))


def phase_list(ctx: Ctx, node: Any, key: str, where: str, known: Known) -> tuple[str, ...]:
    phases = str_list(ctx, node, key, where, allow_scalar=True)
    for p in phases:
        if p not in known.phases:
            ctx.add(line_of(node, key), "unknown-phase",
                    f"unknown phase {p!r}{hint(p, known.phases)}", join(where, key))
    return phases


def parse_prescribe(ctx: Ctx, value: Any, where: str, known: Known) -> list[Prescribe]:
    out = []
    for i, node in as_items(ctx, value, where):
        here = join(where, i) if isinstance(value, list) else where
        if not check_keys(ctx, node, here, ("phase", "exercises"), ("phase", "exercises", "pick", "role")):
            continue
        role = node.get("role", "")
        if "role" in node and role not in known.roles:
            ctx.add(line_of(node, "role"), "unknown-value",
                    f"role {role!r} is not one of {', '.join(known.roles)} (planner.yaml fill_order)"
                    f"{hint(str(role), known.roles)}", join(here, "role"))
            continue
        phase = node.get("phase")
        if phase not in known.phases:
            ctx.add(line_of(node, "phase"), "unknown-phase",
                    f"unknown phase {phase!r}{hint(str(phase), known.phases)}", join(here, "phase"))
            continue
        exercises = str_list(ctx, node, "exercises", here, allow_scalar=True)
        for e in exercises:
            known.refs.append(("exercise", e, line_of(node, "exercises"), join(here, "exercises"),
                               ctx.rule_id, ctx.file))
        pick = int_value(ctx, node, "pick", here, 1, 20) if "pick" in node else 1
        if exercises and pick is not None:
            out.append(Prescribe(str(phase), exercises, pick, str(role)))
        elif not exercises:
            ctx.add(line_of(node, "exercises"), "missing-value", "exercises must name at least one",
                    join(here, "exercises"))
    return out


def parse_exclude(ctx: Ctx, value: Any, where: str, known: Known) -> list[Exclude]:
    out = []
    keys = ("exercises", "direction", "tags", "category", "max_load", "phases", "code")
    for i, node in as_items(ctx, value, where):
        here = join(where, i) if isinstance(value, list) else where
        if not check_keys(ctx, node, here, (), keys):
            continue
        code = node.get("code")
        if code is not None and code not in RULE_EXCLUSION_CODES:
            ctx.add(line_of(node, "code"), "unknown-value",
                    f"code {code!r} is not one of {', '.join(RULE_EXCLUSION_CODES)}"
                    f"{hint(str(code), RULE_EXCLUSION_CODES)}", join(here, "code"))
            continue
        if not any(k in node for k in keys[:-2]):
            ctx.add(line_of(node), "missing-value",
                    "exclude needs exercises, direction, tags, category or max_load", here)
            continue
        exercises = str_list(ctx, node, "exercises", here, allow_scalar=True)
        for e in exercises:
            known.refs.append(("exercise", e, line_of(node, "exercises"), join(here, "exercises"),
                               ctx.rule_id, ctx.file))
        directions = str_list(ctx, node, "direction", here, vocabulary=DIRECTIONS, allow_scalar=True)
        tags = str_list(ctx, node, "tags", here, allow_scalar=True)
        for t in tags:
            known.refs.append(("tag", t, line_of(node, "tags"), join(here, "tags"), ctx.rule_id, ctx.file))
        categories = str_list(ctx, node, "category", here, vocabulary=CATEGORIES, allow_scalar=True)
        max_load = int_value(ctx, node, "max_load", here, 1, 5) if "max_load" in node else None
        phases = phase_list(ctx, node, "phases", here, known)
        out.append(Exclude(exercises, directions, tags, categories, max_load, phases,
                           str(code) if code is not None else
                           default_exclusion_code(exercises or tags or categories, directions, max_load)))
    return out


def default_exclusion_code(named: Sequence[str], directions: Sequence[str], max_load: int | None) -> str:
    """The code of an ``exclude`` entry that declares none (the bundled pack declares every one).

    Only the entry's shape can say it: a direction alone is ``direction``, a load cap alone is
    ``load-cap``; anything else is ``contraindication``, the cautious reading (accepting it back
    needs an acknowledgement). Decided here, once, at load: the planner, overrides and the audit
    read ``Exclude.code`` and never classify it again.
    """
    if directions and not named and max_load is None:
        return "direction"
    if max_load is not None and not named and not directions:
        return "load-cap"
    return "contraindication"


def parse_dose(ctx: Ctx, value: Any, where: str, known: Known) -> list[DoseSpec]:
    out = []
    for i, node in as_items(ctx, value, where):
        here = join(where, i) if isinstance(value, list) else where
        if not check_keys(ctx, node, here, ("kind",), ("kind", "phases", *DOSE_FIELDS)):
            continue
        kind = node.get("kind")
        if kind not in DOSE_KINDS:
            ctx.add(line_of(node, "kind"), "unknown-value",
                    f"dose kind {kind!r} is not one of {', '.join(DOSE_KINDS)}", join(here, "kind"))
            continue
        phases = phase_list(ctx, node, "phases", here, known)
        values = []
        for f in DOSE_FIELDS:
            if f in node:
                v = int_value(ctx, node, f, here, 1, DOSE_LIMITS[f])
                if v is not None:
                    values.append((f, v))
        if not values:
            ctx.add(line_of(node), "missing-value", f"dose needs one of {', '.join(DOSE_FIELDS)}", here)
            continue
        out.append(DoseSpec(str(kind), phases, tuple(values)))
    return out


def parse_schedule(ctx: Ctx, value: Any, where: str, known: Known) -> list[Schedule]:
    out = []
    for i, node in as_items(ctx, value, where):
        here = join(where, i) if isinstance(value, list) else where
        if not check_keys(ctx, node, here, ("phase", "weeks"), ("phase", "weeks")):
            continue
        phase = node.get("phase")
        weeks = int_value(ctx, node, "weeks", here, 1, 52)
        if phase not in known.phases:
            ctx.add(line_of(node, "phase"), "unknown-phase", f"unknown phase {phase!r}",
                    join(here, "phase"))
        elif weeks is not None:
            out.append(Schedule(str(phase), weeks))
    return out
