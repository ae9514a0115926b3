"""A rule file: its layer, the derived names its rules set, and each rule with its evidence."""

from __future__ import annotations

from typing import Any

from backrx.errors import Problem
from backrx.lang.condition import Scalar, alternatives, depth_of, size_of
from backrx.model.vocabulary import FieldSpec
from backrx.pack.actions import LAYER_ACTIONS, parse_then
from backrx.pack.conditions import Scope, check_template, parse_condition
from backrx.pack.limits import MAX_ALTERNATIVES, MAX_CONDITION_DEPTH, MAX_CONDITION_NODES
from backrx.pack.model import FORMAT_2_INPUTS, INPUTS, LAYERS, SOURCE_KINDS, Rule, RuleEvidence
from backrx.pack.read import (
    RULE_ID,
    Ctx,
    Known,
    check_id,
    check_keys,
    hint,
    int_value,
    line_of,
    str_list,
    text_value,
)

_RULE_KEYS = ("id", "title", "priority", "when", "then", "rationale", "patient", "sources", "evidence",
              "design")
_EVIDENCE_KEYS = ("kind", "grade", "note")


def _parse_evidence(ctx: Ctx, node: Any) -> RuleEvidence | None:
    """A rule's ``evidence:`` (a kind, or {kind, grade, note}) and ``design: true``; None if neither."""
    design = node.get("design", False)
    if not isinstance(design, bool):
        ctx.add(line_of(node, "design"), "wrong-type", "design takes true or false", "design")
        design = False
    value = node.get("evidence")
    if value is None:
        if "evidence" in node:
            ctx.add(line_of(node, "evidence"), "wrong-type", "evidence must name a kind", "evidence")
        return RuleEvidence(None, design=True) if design else None
    grade = note = None
    if isinstance(value, dict):
        if not check_keys(ctx, value, "evidence", ("kind",), _EVIDENCE_KEYS):
            return None
        grade = text_value(ctx, value, "grade", "evidence", required=False)
        note = text_value(ctx, value, "note", "evidence", required=False)
        value = value.get("kind")
    if value not in SOURCE_KINDS:
        ctx.add(line_of(node, "evidence"), "unknown-value",
                f"evidence {value!r} is not one of {', '.join(SOURCE_KINDS)}"
                f"{hint(str(value), SOURCE_KINDS)}",
                "evidence")
        return None
    return RuleEvidence(str(value), grade, note, design)


def read_rule_file(ctx: Ctx, doc: Any, known: Known, derived: dict[str, tuple[str, FieldSpec]],
                   format_version: int = 3) -> tuple[str, str, list[tuple[Any, str]]] | None:
    """First pass over a rule file: its layer, what the layer reads, and the rule nodes. Records
    derived names."""
    if not check_keys(ctx, doc, "", ("layer", "rules"), ("layer", "rules", "inputs", "description")):
        return None
    layer = doc["layer"]
    if layer not in LAYERS:
        ctx.add(line_of(doc, "layer"), "unknown-layer",
                f"unknown layer {layer!r}{hint(str(layer), LAYERS)}; layers are {', '.join(LAYERS)}",
                "layer")
        return None
    default = FORMAT_2_INPUTS.get(layer, "profile") if format_version < 3 else "profile"
    inputs = doc.get("inputs", default)
    if inputs not in INPUTS:
        ctx.add(line_of(doc, "inputs"), "unknown-value",
                f"inputs {inputs!r} is not one of {', '.join(INPUTS)}{hint(str(inputs), INPUTS)}", "inputs")
        return None
    rules = doc["rules"]
    if not isinstance(rules, list):
        ctx.add(line_of(doc, "rules"), "wrong-type", "rules must be a list", "rules")
        return None
    nodes = []
    for i, node in enumerate(rules):
        nodes.append((node, f"rules[{i}]"))
        then = node.get("then") if isinstance(node, dict) else None
        sets = then.get("set") if isinstance(then, dict) else None
        if isinstance(sets, dict) and "set" in LAYER_ACTIONS[layer]:
            for name, value in sets.items():
                if isinstance(name, str) and isinstance(value, (bool, int, float, str)):
                    path = f"derived.{name}"
                    spec = _derived_spec(path, value)
                    previous = derived.get(path)
                    if previous is not None and (previous[0] != layer or previous[1].kind != spec.kind):
                        ctx.add(line_of(sets, name), "type-mismatch",
                                f"{path} is set as {previous[1].kind} in the {previous[0]} layer and as "
                                f"{spec.kind} in the {layer} layer", "then.set")
                    elif previous is not None and spec.kind == "enum":
                        merged = tuple(dict.fromkeys((*previous[1].values, *spec.values)))
                        derived[path] = (layer, FieldSpec(path, "enum", merged, origin="derived"))
                    else:
                        derived[path] = (layer, spec)
    return str(layer), str(inputs), nodes


def _derived_spec(path: str, value: Scalar) -> FieldSpec:
    if isinstance(value, bool):
        return FieldSpec(path, "bool", origin="derived")
    if isinstance(value, int):
        return FieldSpec(path, "int", origin="derived")
    if isinstance(value, float):
        return FieldSpec(path, "float", origin="derived")
    return FieldSpec(path, "enum", (value,), origin="derived")


def parse_rule(ctx: Ctx, node: Any, where: str, layer: str, known: Known,
               derived: dict[str, tuple[str, FieldSpec]], file: str, inputs: str = "profile") -> Rule | None:
    ctx.rule_id = None
    if isinstance(node, dict) and isinstance(node.get("id"), str):
        ctx.rule_id = node["id"]
    if not check_keys(ctx, node, where, ("id", "title", "when", "then", "rationale", "sources"), _RULE_KEYS):
        return None
    before = len(ctx.problems)
    rid = check_id(ctx, node, where, RULE_ID)
    title = text_value(ctx, node, "title", where)
    priority = int_value(ctx, node, "priority", where, 0, 1_000_000) if "priority" in node else 100
    scope = Scope(layer, derived, inputs)
    when = parse_condition(ctx, scope, node["when"], "when")
    if when is not None:
        if size_of(when) > MAX_CONDITION_NODES:
            ctx.add(line_of(node, "when"), "condition-too-large",
                    f"the condition has {size_of(when)} parts; the limit is {MAX_CONDITION_NODES}", "when")
        elif alternatives(when) > MAX_ALTERNATIVES:
            ctx.add(line_of(node, "when"), "condition-too-complex",
                    f"the condition spreads into {alternatives(when)} alternatives (nested any, in or "
                    f"at_least); the limit is {MAX_ALTERNATIVES}: split it into several rules", "when")
        if depth_of(when) > MAX_CONDITION_DEPTH:  # pragma: no cover - caught while parsing
            ctx.add(line_of(node, "when"), "condition-too-deep", "the condition nests too deeply", "when")
    then = parse_then(ctx, node["then"], layer, "then", known)
    rationale = text_value(ctx, node, "rationale", where)
    if rationale is not None:
        check_template(ctx, scope, rationale, line_of(node, "rationale"), "rationale")
    patient = text_value(ctx, node, "patient", where) if "patient" in node else None
    if patient is not None:
        check_template(ctx, scope, patient, line_of(node, "patient"), "patient")
    sources = str_list(ctx, node, "sources", where)
    evidence = _parse_evidence(ctx, node)
    if not sources and isinstance(node.get("sources"), list):
        ctx.add(line_of(node, "sources"), "missing-value", "a rule cites at least one source", "sources")
    for s in sources:
        known.refs.append(("source", s, line_of(node, "sources"), "sources", ctx.rule_id, ctx.file))
    if len(ctx.problems) != before or None in (rid, title, priority, when, then, rationale):
        return None
    assert rid and title and priority is not None and when and then and rationale
    reads = frozenset(scope.read)
    return Rule(rid, title, layer, priority, when, then, rationale, sources, file, line_of(node) or 0,
                reads, evidence, patient)


def layer_inputs(files: list[tuple[Ctx, str, str, list[tuple[Any, str]]]], format_version: int
                 ) -> dict[str, str]:
    """What each layer reads, as its rule files declare (``inputs:``); every file of a layer says
    the same, and no layer that reads the profile runs after one that reads feedback."""
    out: dict[str, str] = {}
    first: dict[str, str] = {}
    for ctx, layer, inputs, _ in files:
        if layer in out and out[layer] != inputs:
            ctx.add(None, "inputs-mismatch", f"this {layer} file reads {inputs} but {first[layer]} "
                    f"reads {out[layer]}: the files of one layer read the same inputs", "inputs")
            continue
        out[layer] = inputs
        first.setdefault(layer, ctx.file)
    for layer in LAYERS:  # a layer without a file: profile (format 2: what that format fixed)
        out.setdefault(layer, FORMAT_2_INPUTS.get(layer, "profile") if format_version < 3 else "profile")
    seen_feedback = None
    for layer in LAYERS:
        if out[layer] == "feedback":
            seen_feedback = seen_feedback or layer
        elif seen_feedback is not None and layer in first:
            files[0][0].problems.append(Problem(first[layer], None, None, "layer-order",
                                                f"the {layer} layer reads the profile but runs after "
                                                f"{seen_feedback}, which reads feedback", "inputs"))
    return out
