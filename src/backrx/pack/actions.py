"""The action table: every action a rule's ``then:`` may take, in one place.

Each `Action` says which layers may use it, the JSON Schema of its argument (``backrx schema
rules``), how the loader reads the argument, the conclusion it writes (a field of `Then`)
and the policy that settles two rules writing that conclusion. The loader, the schema and the
runner (`backrx.run.decision`) all read this table; adding an action is one entry here, a
policy the runner knows, and a line in docs/rule-pack.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from backrx.model.vocabulary import PATHWAYS, RISKS, URGENCIES
from backrx.pack.limits import MAX_NUMBER
from backrx.pack.model import ADJUST_ACTIONS, LAYERS, Layer, Refer, Then, Warn
from backrx.pack.program_actions import (
    DOSE_SCHEMA,
    EXCLUDE_SCHEMA,
    PRESCRIBE_SCHEMA,
    SCHEDULE_SCHEMA,
    one_or_many,
    parse_dose,
    parse_exclude,
    parse_prescribe,
    parse_schedule,
)
from backrx.pack.read import ID, VAR, Ctx, Known, check_keys, hint, join, line_of, text_value

#: How two rules that write the same conclusion are settled (rules run in trace order:
#: layer, priority, rule id).
Policy = Literal["most-urgent", "union", "first", "refine", "most-conservative", "any", "largest",
                 "none"]
POLICIES: Mapping[Policy, str] = MappingProxyType({
    "most-urgent": "the most urgent tier of all the rules that refer wins; every reason is kept",
    "union": "every rule's items are kept, in trace order, each once",
    "first": "the first rule in trace order decides; a later rule that concludes a different value "
             "is recorded as a conflict (Decision.conflicts) and does not change it",
    "refine": "every rule applies in trace order: a later rule's values replace an earlier one's "
              "for the same phase (and dose field)",
    "most-conservative": "per exercise, the most conservative action wins (the order of ADJUST_ACTIONS)",
    "any": "it holds when any rule says so; the first such rule is the one cited",
    "largest": "the largest number wins",
    "none": "no conclusion: the rule's rationale is its only output",
})

_TEXT = {"type": "string", "minLength": 1}
_TEXTS = {"oneOf": [_TEXT, {"type": "array", "items": _TEXT, "minItems": 1}]}
#: A safety-net line: text, or the text with the state it stands for and that state's tier.
_SAFETY_LINE = {"oneOf": [_TEXT, {"type": "object", "additionalProperties": False,
                                  "required": ["text", "tier", "state"],
                                  "properties": {"text": _TEXT, "tier": {"type": "string"},
                                                 "state": {"oneOf": [
                                                     {"type": "string"},
                                                     {"type": "array", "items": {"type": "string"},
                                                      "minItems": 1}]}}}]}
_SAFETY_LINES = {"oneOf": [_SAFETY_LINE, {"type": "array", "items": _SAFETY_LINE, "minItems": 1}]}
_TRUE = {"const": True}

#: The reader of an action's argument: (ctx, value, line, where, known) -> the conclusion, or None
#: when there is none to store (its problems are on ctx).
Reader = Callable[[Ctx, Any, "int | None", str, Known], Any]


@dataclass(frozen=True)
class Action:
    """One action of a then-clause, everything about it in one place."""

    name: str
    layers: tuple[str, ...]
    writes: str  # the field of Then it fills ("" for explain: it concludes nothing)
    policy: Policy
    schema: dict[str, Any]
    read: Reader
    description: str
    #: The fact the runner shows later layers once a rule takes this action ("" for none); a name
    #: ending in "." is a prefix completed by each name the action sets (``derived.<name>``).
    exposes: str = ""


def _refer(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> Refer | None:
    if not check_keys(ctx, value, here, ("urgency", "reason"), ("urgency", "reason")):
        return None
    urgency = value["urgency"]
    reason = text_value(ctx, value, "reason", here)
    if urgency not in URGENCIES:
        ctx.add(line_of(value, "urgency"), "unknown-value",
                f"urgency {urgency!r} is not one of {', '.join(URGENCIES)}", here)
        return None
    return Refer(urgency, reason) if reason else None


def _explain(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> None:
    if value is not True:
        ctx.add(line, "wrong-type", "explain takes true: the rule's only conclusion is its rationale", here)


def _adjust(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> str | None:
    if value not in ADJUST_ACTIONS:
        ctx.add(line, "unknown-value", f"adjust {value!r} is not one of {', '.join(ADJUST_ACTIONS)}"
                f"{hint(str(value), ADJUST_ACTIONS)}", here)
        return None
    return str(value)


def _hold_rounds(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        ctx.add(line, "wrong-type", "hold_rounds takes a number of rounds, 1 to 10", here)
        return None
    return value


def _flag(name: str) -> Reader:
    def read(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> bool | None:
        if value is not True:
            ctx.add(line, "wrong-type", f"{name} takes true", here)
            return None
        return True
    return read


def _warn(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> tuple[Warn, ...]:
    warns = []
    items = value if isinstance(value, list) else [value]
    if not items:
        ctx.add(line_of(value), "wrong-type", "expected at least one entry", here)
    for i, item in enumerate(items):
        spot = join(here, i) if isinstance(value, list) else here
        if not check_keys(ctx, item, spot, ("code", "message"), ("code", "message")):
            continue
        code, message = item["code"], text_value(ctx, item, "message", spot)
        if not isinstance(code, str) or not ID.match(code):
            ctx.add(line_of(item, "code"), "bad-id",
                    f"warning code {code!r} must be lower-case kebab-case", join(spot, "code"))
        elif message:
            warns.append(Warn(code, message))
    return tuple(warns)


class SafetyLine(str):
    """A safety-net line that also says, machine-readably, what it stands for: the clinical
    ``states`` (``derived.<name>`` names the states layer sets) any one of which makes the line
    apply, and the referral ``tier`` a person already in such a state must get (``none``: advice
    only). It reads and prints as its text."""

    tier: str
    states: tuple[str, ...]

    def __new__(cls, text: str, tier: str, states: tuple[str, ...]) -> SafetyLine:
        line = super().__new__(cls, text)
        line.tier = tier
        line.states = states
        return line

    def __reduce__(self) -> tuple[Any, ...]:
        return (SafetyLine, (str(self), self.tier, self.states))


#: The tiers a safety-net line may stand for: a referral tier, or none (advice only).
SAFETY_NET_TIERS = (*URGENCIES, "none")


def _states_ok(value: Any) -> bool:
    names = value if isinstance(value, list) and value else [value]
    return all(isinstance(n, str) and n.startswith("derived.") and VAR.fullmatch(n[8:]) for n in names)


def _safety_line(ctx: Ctx, item: Any, line: int | None, here: str) -> str | None:
    if isinstance(item, str) and item.strip():
        return item.strip()
    if isinstance(item, dict) and set(item) == {"text", "tier", "state"}:
        text, tier, state = item["text"], item["tier"], item["state"]
        if not (isinstance(text, str) and text.strip()):
            ctx.add(line, "wrong-type", "a safety_net line's text must be text", here)
        elif tier not in SAFETY_NET_TIERS:
            ctx.add(line, "unknown-value", f"safety_net tier must be one of {', '.join(SAFETY_NET_TIERS)}",
                    here)
        elif not _states_ok(state):
            ctx.add(line, "wrong-type", "a safety_net line's state names a derived.<name> state, or a list "
                    "of them (the line applies when any holds)", here)
        else:
            return SafetyLine(text.strip(), tier, tuple(state) if isinstance(state, list) else (state,))
        return None
    ctx.add(line, "wrong-type", "safety_net takes text, or a list of text or {text, tier, state}", here)
    return None


def _safety_net(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, (str, dict)) else value
    if not isinstance(items, list) or not items:
        ctx.add(line, "wrong-type", "safety_net takes text, or a list of text or {text, tier, state}", here)
        return None
    lines = [_safety_line(ctx, item, line, here) for item in items]
    return None if any(found is None for found in lines) else tuple(t for t in lines if t is not None)


def _set(ctx: Ctx, value: Any, line: int | None, here: str,
         known: Known) -> tuple[tuple[str, Any], ...] | None:
    if not isinstance(value, dict) or not value:
        ctx.add(line, "wrong-type", "set takes a mapping of name: value", here)
        return None
    pairs = []
    for name, v in value.items():
        if not isinstance(name, str) or not VAR.match(name):
            ctx.add(line_of(value, name), "bad-id", f"derived name {name!r} must be lower_snake_case",
                    join(here, name))
        elif not isinstance(v, (bool, int, float, str)) or (
                isinstance(v, float) and (v != v or abs(v) > MAX_NUMBER)):
            ctx.add(line_of(value, name), "wrong-type", f"derived {name!r} must be true/false, a number "
                    "or text", join(here, name))
        else:
            pairs.append((name, v))
    return tuple(pairs)


def _pathway(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> tuple[str, ...] | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        ctx.add(line, "wrong-type", "pathway takes a pathway name or a list of them", here)
        return None
    good = []
    for name in names:
        if name not in PATHWAYS:
            ctx.add(line, "unknown-value", f"pathway {name!r} is not one of {', '.join(PATHWAYS)}"
                    f"{hint(str(name), PATHWAYS)}", here)
        else:
            good.append(name)
    return tuple(good)


_IDS_SCHEMA = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}


def _educate(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> tuple[str, ...] | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and ID.match(n) for n in names):
        ctx.add(line, "wrong-type", "educate takes a module id or a list of them (education.yaml)", here)
        return None
    return tuple(names)


def _risk(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> str | None:
    if value not in RISKS:
        ctx.add(line, "unknown-value", f"risk {value!r} is not one of {', '.join(RISKS)}", here)
        return None
    return str(value)


def _items(parse: Callable[[Ctx, Any, str, Known], list[Any]]) -> Reader:
    def read(ctx: Ctx, value: Any, line: int | None, here: str, known: Known) -> tuple[Any, ...]:
        return tuple(parse(ctx, value, here, known))
    return read


_STATES, _TRIAGE, _CLASSIFY, _COMPONENTS, _EXCLUSIONS, _DOSING, _ADJUST = LAYERS
_EVERY = LAYERS

#: The action table, read-only. Layers are named in LAYERS order; LAYER_ACTIONS and the schema
#: follow from it. It is closed: an action writes a field of Then that the runner merges by its
#: policy and a consumer reads, so a new action is a change to backrx, not an extension.
ACTIONS: Mapping[str, Action] = MappingProxyType({a.name: a for a in (
    Action("refer", (_TRIAGE, _ADJUST), "refer", "most-urgent",
           {"type": "object", "additionalProperties": False, "required": ["urgency", "reason"],
            "properties": {"urgency": {"enum": list(URGENCIES)}, "reason": _TEXT}},
           _refer, "refer the person at an urgency tier, for a reason", "referral_urgency"),
    Action("safety_net", (_TRIAGE, _CLASSIFY, _ADJUST), "safety_net", "union", _SAFETY_LINES, _safety_net,
           "advice on when to seek care, shown with any outcome"),
    Action("set", (_STATES, _TRIAGE, _CLASSIFY, _COMPONENTS), "set", "first",
           {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}, _set,
           "name derived facts (derived.<name>) that later layers read", "derived."),
    Action("warn", _EVERY, "warn", "union",
           one_or_many({"type": "object", "additionalProperties": False, "required": ["code", "message"],
                        "properties": {"code": {"type": "string", "pattern": ID.pattern},
                                       "message": _TEXT}}),
           _warn, "a clinician-facing warning with a stable code"),
    Action("explain", _EVERY, "", "none", _TRUE, _explain, "the rationale is the only conclusion"),
    Action("pathway", (_CLASSIFY, _COMPONENTS), "pathways", "union",
           {"oneOf": [{"enum": list(PATHWAYS)}, {"type": "array", "items": {"enum": list(PATHWAYS)}}]},
           _pathway, "add treatment pathways", "pathways"),
    Action("risk", (_CLASSIFY,), "risk", "first", {"enum": list(RISKS)}, _risk,
           "the STarT Back risk group", "startback_risk"),
    Action("educate", (_COMPONENTS,), "educate", "union", _IDS_SCHEMA, _educate,
           "select education modules (education.yaml) for the program"),
    Action("prescribe", (_COMPONENTS,), "prescribe", "union", PRESCRIBE_SCHEMA, _items(parse_prescribe),
           "offer exercises for a phase, to pick from"),
    Action("exclude", (_EXCLUSIONS,), "exclude", "union", EXCLUDE_SCHEMA, _items(parse_exclude),
           "leave exercises out, by id, direction, tag, category or load"),
    Action("dose", (_DOSING,), "dose", "refine", DOSE_SCHEMA, _items(parse_dose),
           "the dose of a kind of exercise, in some or every phase"),
    Action("schedule", (_DOSING,), "schedule", "refine", SCHEDULE_SCHEMA, _items(parse_schedule),
           "the length of a phase in weeks"),
    Action("adjust", (_ADJUST,), "adjust", "most-conservative", {"enum": list(ADJUST_ACTIONS)}, _adjust,
           "drop, regress, hold or progress the exercise the feedback is about"),
    Action("stop_direction", (_ADJUST,), "stop_direction", "any", _TRUE, _flag("stop_direction"),
           "stop the exercise's movement direction"),
    Action("eliminate", (_ADJUST,), "eliminate", "any", _TRUE, _flag("eliminate"),
           "the plan moves on to a direction-elimination trial"),
    Action("advance", (_ADJUST,), "advance", "any", _TRUE, _flag("advance"),
           "the person may move on to the next phase"),
    Action("hold_rounds", (_ADJUST,), "hold_rounds", "largest",
           {"type": "integer", "minimum": 1, "maximum": 10}, _hold_rounds,
           "hold the current plan for a number of rounds"),
)})

#: The actions each layer may use, in table order (read-only).
LAYER_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    layer: tuple(a.name for a in ACTIONS.values() if layer in a.layers) for layer in LAYERS})


def actions_of(then: Then) -> list[Action]:
    """The table entries whose conclusion ``then`` writes, in table order."""
    return [a for a in ACTIONS.values() if a.writes and getattr(then, a.writes) not in (None, (), False, 0)]


def exposed_by(layer: Layer) -> frozenset[str]:
    """The facts a layer's conclusions show the layers after it (the ``exposes`` of its actions)."""
    out: set[str] = set()
    for rule in layer.rules:
        for action in actions_of(rule.then):
            if action.exposes.endswith("."):
                out.update(action.exposes + name for name, _ in getattr(rule.then, action.writes))
            elif action.exposes:
                out.add(action.exposes)
    return frozenset(out)


def independent_runs(layers: Sequence[Layer]) -> tuple[tuple[int, ...], ...]:
    """The layers (by index) cut into runs that an engine may match in one pass over the same
    facts: consecutive layers that read the same inputs, none of which reads a fact that an
    earlier layer of its run concludes. Matching a run's layers together then finds what
    matching them one by one finds."""
    runs: list[list[int]] = []
    shown: set[str] = set()
    for index, layer in enumerate(layers):
        current = runs[-1] if runs else None
        if current is None or layers[current[0]].inputs != layer.inputs or shown & set(layer.fields):
            runs.append([index])
            shown = set(exposed_by(layer))
        else:
            current.append(index)
            shown |= exposed_by(layer)
    return tuple(tuple(run) for run in runs)


def parse_then(ctx: Ctx, node: Any, layer: str, where: str, known: Known) -> Then | None:
    """A rule's ``then:`` read through the action table; None when it has problems (on ctx)."""
    allowed = LAYER_ACTIONS[layer]
    if not isinstance(node, dict) or not node:
        ctx.add(line_of(node), "wrong-type", "then must be a mapping of actions", where)
        return None
    before = len(ctx.problems)
    out: dict[str, Any] = {}
    for key, value in node.items():
        line = line_of(node, key)
        here = join(where, key)
        action = ACTIONS.get(key) if isinstance(key, str) else None
        if action is None:
            ctx.add(line, "unknown-action", f"unknown action {key!r}{hint(str(key), ACTIONS)}", here)
            continue
        if key not in allowed:
            ctx.add(line, "action-not-allowed",
                    f"{key!r} belongs in the {' or '.join(action.layers)} layer, not {layer}", here)
            continue
        concluded = action.read(ctx, value, line, here, known)
        if action.writes and concluded is not None:
            out[action.writes] = concluded
    if len(ctx.problems) != before:
        return None
    return Then(**out)
