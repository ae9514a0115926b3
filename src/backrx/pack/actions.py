"""The then-clause of a rule: each action, what it takes and what it concludes."""

from __future__ import annotations

from typing import Any

from backrx.model.vocabulary import CATEGORIES, DIRECTIONS, PATHWAYS, RISKS, URGENCIES
from backrx.pack.limits import MAX_NUMBER
from backrx.pack.model import (
    ADJUST_ACTIONS,
    DOSE_FIELDS,
    DOSE_KINDS,
    DOSE_LIMITS,
    EXCLUSION_CODES,
    LAYER_ACTIONS,
    DoseSpec,
    Exclude,
    Prescribe,
    Refer,
    Schedule,
    Then,
    Warn,
)
from backrx.pack.read import (
    ID,
    VAR,
    Ctx,
    Known,
    check_keys,
    hint,
    int_value,
    join,
    line_of,
    str_list,
    text_value,
)


def parse_then(ctx: Ctx, node: Any, layer: str, where: str, known: Known) -> Then | None:
    allowed = LAYER_ACTIONS[layer]
    if not isinstance(node, dict) or not node:
        ctx.add(line_of(node), "wrong-type", "then must be a mapping of actions", where)
        return None
    before = len(ctx.problems)
    out: dict[str, Any] = {}
    for key, value in node.items():
        line = line_of(node, key)
        here = join(where, key)
        every = tuple(a for acts in LAYER_ACTIONS.values() for a in acts)
        if key not in every:
            ctx.add(line, "unknown-action", f"unknown action {key!r}{hint(str(key), every)}", here)
            continue
        if key not in allowed:
            home = [name for name, acts in LAYER_ACTIONS.items() if key in acts]
            ctx.add(line, "action-not-allowed",
                    f"{key!r} belongs in the {' or '.join(home)} layer, not {layer}", here)
            continue
        if key == "refer":
            if check_keys(ctx, value, here, ("urgency", "reason"), ("urgency", "reason")):
                urgency = value["urgency"]
                reason = text_value(ctx, value, "reason", here)
                if urgency not in URGENCIES:
                    ctx.add(line_of(value, "urgency"), "unknown-value",
                            f"urgency {urgency!r} is not one of {', '.join(URGENCIES)}", here)
                elif reason:
                    out["refer"] = Refer(urgency, reason)
        elif key == "explain":
            if value is not True:
                ctx.add(line, "wrong-type",
                        "explain takes true: the rule's only conclusion is its rationale", here)
        elif key == "adjust":
            if value not in ADJUST_ACTIONS:
                ctx.add(line, "unknown-value",
                        f"adjust {value!r} is not one of {', '.join(ADJUST_ACTIONS)}"
                        f"{hint(str(value), ADJUST_ACTIONS)}", here)
            else:
                out["adjust"] = value
        elif key == "hold_rounds":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
                ctx.add(line, "wrong-type", "hold_rounds takes a number of rounds, 1 to 10", here)
            else:
                out["hold_rounds"] = value
        elif key in ("stop_direction", "eliminate", "advance"):
            if value is not True:
                ctx.add(line, "wrong-type", f"{key} takes true", here)
            else:
                out[key] = True
        elif key == "warn":
            warns = []
            for i, item in as_items(ctx, value, here):
                spot = join(here, i) if isinstance(value, list) else here
                if not check_keys(ctx, item, spot, ("code", "message"), ("code", "message")):
                    continue
                code, message = item["code"], text_value(ctx, item, "message", spot)
                if not isinstance(code, str) or not ID.match(code):
                    ctx.add(line_of(item, "code"), "bad-id",
                            f"warning code {code!r} must be lower-case kebab-case", join(spot, "code"))
                elif message:
                    warns.append(Warn(code, message))
            out["warn"] = tuple(warns)
        elif key == "safety_net":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(t, str) and t.strip() for t in items):
                ctx.add(line, "wrong-type", "safety_net takes text or a list of text", here)
            else:
                out["safety_net"] = tuple(t.strip() for t in items)
        elif key == "set":
            pairs = []
            if not isinstance(value, dict) or not value:
                ctx.add(line, "wrong-type", "set takes a mapping of name: value", here)
            else:
                for name, v in value.items():
                    if not isinstance(name, str) or not VAR.match(name):
                        ctx.add(line_of(value, name), "bad-id",
                                f"derived name {name!r} must be lower_snake_case", join(here, name))
                    elif not isinstance(v, (bool, int, float, str)) or (
                        isinstance(v, float) and (v != v or abs(v) > MAX_NUMBER)):
                        ctx.add(line_of(value, name), "wrong-type",
                                f"derived {name!r} must be true/false, a number or text",
                                join(here, name))
                    else:
                        pairs.append((name, v))
                out["set"] = tuple(pairs)
        elif key == "pathway":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not names:
                ctx.add(line, "wrong-type", "pathway takes a pathway name or a list of them", here)
            else:
                good = []
                for name in names:
                    if name not in PATHWAYS:
                        ctx.add(line, "unknown-value",
                                f"pathway {name!r} is not one of {', '.join(PATHWAYS)}"
                                f"{hint(str(name), PATHWAYS)}", here)
                    else:
                        good.append(name)
                out["pathways"] = tuple(good)
        elif key == "risk":
            if value not in RISKS:
                ctx.add(line, "unknown-value", f"risk {value!r} is not one of {', '.join(RISKS)}", here)
            else:
                out["risk"] = value
        elif key == "prescribe":
            out["prescribe"] = tuple(parse_prescribe(ctx, value, here, known))
        elif key == "exclude":
            out["exclude"] = tuple(parse_exclude(ctx, value, here, known))
        elif key == "dose":
            out["dose"] = tuple(parse_dose(ctx, value, here, known))
        elif key == "schedule":
            out["schedule"] = tuple(parse_schedule(ctx, value, here, known))
    if len(ctx.problems) != before:
        return None
    return Then(**out)



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
        if code is not None and code not in EXCLUSION_CODES:
            ctx.add(line_of(node, "code"), "unknown-value",
                    f"code {code!r} is not one of {', '.join(EXCLUSION_CODES)}"
                    f"{hint(str(code), EXCLUSION_CODES)}", join(here, "code"))
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
                           str(code) if code is not None else None))
    return out


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
