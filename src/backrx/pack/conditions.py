"""Conditions: which fields a rule of a layer may read (its scope), and the parsing of ``when:``
into the condition tree of `backrx.lang.condition`, checked against each field's type."""

from __future__ import annotations

import string
from typing import Any

from backrx.lang.condition import (
    ALWAYS,
    OPERATORS,
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    FieldTest,
    NotOf,
    Operator,
)
from backrx.model.vocabulary import ADJUST_FIELDS, CONCLUDED_BY, FIELDS, FieldSpec
from backrx.pack.limits import MAX_AT_LEAST_ITEMS, MAX_CONDITION_DEPTH, MAX_IN_VALUES, MAX_NUMBER
from backrx.pack.model import LAYERS
from backrx.pack.read import FIELD_REF, Ctx, check_keys, hint, int_value, join, kind_of, line_of
from backrx.readers import safe_yaml


class Scope:
    """The fields a rule in one layer may read, and what it has read."""

    def __init__(self, layer: str, derived: dict[str, tuple[str, FieldSpec]],
                 inputs: str = "profile") -> None:
        self.layer = layer
        self.inputs = inputs  # what the layer reads (model.INPUTS), as its rule files declare
        self.derived = derived
        self.read: set[str] = set()

    def lookup(self, ctx: Ctx, name: str, line: int | None, where: str) -> FieldSpec | None:
        feedback = self.inputs == "feedback"
        if feedback and name not in ADJUST_FIELDS and (name in FIELDS or name in self.derived):
            # A feedback layer runs after every profile layer: it may read the profile and their
            # conclusions.
            self.read.add(name)
            return FIELDS[name] if name in FIELDS else self.derived[name][1]
        if feedback or name in ADJUST_FIELDS:
            return self._lookup_adjust(ctx, name, line, where)
        here = LAYERS.index(self.layer)
        if name.startswith("derived."):
            found = self.derived.get(name)
            if found is None:
                names = list(self.derived)
                ctx.add(line, "unknown-field",
                        f"no rule sets {name!r}{hint(name, names)}", where)
                return None
            set_in, spec = found
            if LAYERS.index(set_in) >= here:
                ctx.add(line, "layer-order",
                        f"{name!r} is set in the {set_in} layer; a {self.layer} rule can read only "
                        "what earlier layers concluded", where)
                return None
            self.read.add(name)
            return spec
        known = FIELDS.get(name)
        if known is None:
            ctx.add(line, "unknown-field", f"unknown field {name!r}{hint(name, FIELDS)}", where)
            return None
        concluded_in = CONCLUDED_BY.get(name)
        if concluded_in is not None and LAYERS.index(concluded_in) >= here:
            ctx.add(line, "layer-order",
                    f"{name!r} is concluded by the {concluded_in} layer; a {self.layer} rule can read "
                    "only what earlier layers concluded", where)
            return None
        self.read.add(name)
        return known


    def _lookup_adjust(self, ctx: Ctx, name: str, line: int | None, where: str) -> FieldSpec | None:
        spec = ADJUST_FIELDS.get(name)
        if self.inputs != "feedback":
            ctx.add(line, "layer-order", f"{name!r} is feedback; only the rules of a layer with "
                    f"`inputs: feedback` (adjust) can read it, not a {self.layer} rule", where)
            return None
        if spec is None:
            ctx.add(line, "unknown-field",
                    f"unknown field {name!r} for a rule that reads feedback{hint(name, ADJUST_FIELDS)}; "
                    "these rules read response.*, exercise.*, feedback.*, program.*, phase.*, outcomes.* "
                    "and the profile", where)
            return None
        self.read.add(name)
        return spec


def _scalar_ok(spec: FieldSpec, value: Any) -> tuple[str, str] | None:
    """Why ``value`` cannot be compared with ``spec``, as (problem code, message); None when it can."""
    if spec.kind == "bool":
        return None if isinstance(value, bool) else (
            "type-mismatch", f"{spec.path} is true/false, not {kind_of(value)}")
    if spec.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "type-mismatch", f"{spec.path} is a number, not {kind_of(value)}"
        if value != value or abs(value) > MAX_NUMBER:
            return "type-mismatch", f"{value!r} is not a usable number"
        return None
    if spec.kind in ("enum", "list"):
        if not isinstance(value, str):
            return "type-mismatch", f"{spec.path} takes one of {', '.join(spec.values)}, not {kind_of(value)}"
        if value not in spec.values:
            return ("unknown-value", f"{value!r} is not a value of {spec.path}{hint(value, spec.values)}; "
                    f"expected one of {', '.join(spec.values)}")
        return None
    return "type-mismatch", f"{spec.path} cannot be compared"  # pragma: no cover


def _argument(spec: FieldSpec, op: Operator, value: Any) -> tuple[Any, tuple[str, str] | None]:
    """The operator's argument as the engines take it, or the problem with it (code, message)."""
    if op.argument == "flag":
        if not isinstance(value, bool):
            return None, ("type-mismatch", f"{op.name} takes true or false")
        return value, None
    if op.argument == "scalars":
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
            return None, ("type-mismatch", f"{op.name} takes a list of 1 to {MAX_IN_VALUES} values")
        bad = [why for why in (_scalar_ok(spec, v) for v in value) if why]
        return (None, bad[0]) if bad else (tuple(dict.fromkeys(value)), None)
    why = _scalar_ok(spec, value)  # scalar, number and member: one value of the field's type
    return (None, why) if why else (value, None)


def _parse_test(ctx: Ctx, scope: Scope, name: str, ops: Any, line: int | None,
                where: str) -> Condition | None:
    spec = scope.lookup(ctx, name, line, where)
    if not isinstance(ops, dict):
        ops = {"eq": ops}  # shorthand: field: value
    if not ops:
        ctx.add(line, "empty-condition", f"no operator given for {name!r}", where)
        return None
    tests: list[Condition] = []
    for op_name, value in ops.items():
        op_line = line_of(ops, op_name) if isinstance(ops, safe_yaml.LDict) else line
        op_where = join(where, op_name)
        op = OPERATORS.get(op_name) if isinstance(op_name, str) else None
        if op is None:
            choices = tuple(OPERATORS)
            ctx.add(op_line, "unknown-operator",
                    f"unknown operator {op_name!r}{hint(str(op_name), choices)}; use one of "
                    f"{', '.join(choices)}", op_where)
            continue
        if spec is None:
            continue
        if op.name not in spec.operators:
            ctx.add(op_line, "operator-not-allowed",
                    f"{op.name!r} does not apply to {name} ({spec.kind}); use one of "
                    f"{', '.join(spec.operators)}", op_where)
            continue
        argument, problem = _argument(spec, op, value)
        if problem is not None:
            ctx.add(op_line, problem[0], problem[1], op_where)
            continue
        tests.append(FieldTest(name, op.name, argument))
    if len(tests) != len(ops):
        return None
    return tests[0] if len(tests) == 1 else AllOf(tuple(tests))


def parse_condition(ctx: Ctx, scope: Scope, node: Any, where: str, depth: int = 0) -> Condition | None:
    line = line_of(node)
    if depth > MAX_CONDITION_DEPTH:
        ctx.add(line, "condition-too-deep", f"conditions nest deeper than {MAX_CONDITION_DEPTH}", where)
        return None
    if not isinstance(node, dict):
        ctx.add(line, "wrong-type", f"a condition must be a mapping, got {kind_of(node)}", where)
        return None
    if len(node) != 1:
        keys = ", ".join(map(str, node)) or "nothing"
        ctx.add(line, "ambiguous-condition",
                f"a condition has exactly one key (found {keys}); combine tests with all: [...]", where)
        return None
    ((key, value),) = node.items()
    key_line = line_of(node, key)
    here = join(where, key)
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            ctx.add(key_line, "wrong-type", f"{key} takes a non-empty list of conditions", here)
            return None
        items = [
            parse_condition(ctx, scope, item, join(here, i), depth + 1) for i, item in enumerate(value)
        ]
        if any(item is None for item in items):
            return None
        parsed = tuple(i for i in items if i is not None)
        return AllOf(parsed) if key == "all" else AnyOf(parsed)
    if key == "always":
        if value is not True:
            ctx.add(key_line, "wrong-type", "always takes true (a rule for everyone); to switch a rule "
                    "off, remove it", here)
            return None
        return ALWAYS
    if key == "not":
        item = parse_condition(ctx, scope, value, here, depth + 1)
        return NotOf(item) if item is not None else None
    if key == "at_least":
        if not check_keys(ctx, value, here, ("count", "of"), ("count", "of")):
            return None
        of = value["of"]
        if not isinstance(of, list) or not 2 <= len(of) <= MAX_AT_LEAST_ITEMS:
            ctx.add(line_of(value, "of"), "wrong-type",
                    f"at_least.of takes a list of 2 to {MAX_AT_LEAST_ITEMS} conditions", join(here, "of"))
            return None
        count = int_value(ctx, value, "count", here, 1, len(of))
        items = [parse_condition(ctx, scope, item, join(join(here, "of"), i), depth + 1)
                 for i, item in enumerate(of)]
        if count is None or any(item is None for item in items):
            return None
        return AtLeast(count, tuple(i for i in items if i is not None))
    if not isinstance(key, str) or not FIELD_REF.match(key):
        ctx.add(key_line, "unknown-field", f"{key!r} is not a field name", here)
        return None
    return _parse_test(ctx, scope, key, value, key_line, here)



_FORMATTER = string.Formatter()


def check_template(ctx: Ctx, scope: Scope, text: str, line: int | None, where: str) -> bool:
    """Rationale templates may name fields as {field.path}; nothing else is interpreted."""
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        ctx.add(line, "bad-template", f"rationale template is malformed: {exc}", where)
        return False
    ok = True
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not FIELD_REF.match(name) or spec or conversion:
            ctx.add(line, "bad-template",
                    f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                    "is not allowed: a template may only name a field, like {age}", where)
            ok = False
            continue
        if scope.lookup(ctx, name, line, where) is None:
            ok = False
    return ok


def tests_of(condition: Condition) -> list[FieldTest]:
    if isinstance(condition, FieldTest):
        return [condition]
    if isinstance(condition, NotOf):
        return []  # a negated test cannot be what makes a referral happen
    return [t for item in condition.items for t in tests_of(item)]



def alone_tests(condition: Condition) -> list[FieldTest]:
    """The tests each of which, true by itself, makes the condition true: those reached through
    `any`, `at_least` of one, or an `all` of a single item. A test combined with others is not one
    of them (a state read together with a second finding cannot refer on its own)."""
    if isinstance(condition, FieldTest):
        return [condition]
    if isinstance(condition, AnyOf) or (isinstance(condition, AtLeast) and condition.count <= 1):
        return [t for item in condition.items for t in alone_tests(item)]
    if isinstance(condition, AllOf) and len(condition.items) == 1:
        return alone_tests(condition.items[0])
    return []
