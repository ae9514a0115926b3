"""Rule conditions: the closed operator vocabulary, its meaning, and the reference evaluator.

A condition is a tree of ``all`` / ``any`` / ``not`` / ``at_least`` nodes over
field tests (``eq in lt lte gt gte contains exists``). Its meaning, shared by
every engine:

* a test on a field that has no value (not given, not examined, not answered)
  is false; ``not`` turns it true. "Unknown" therefore never satisfies a
  positive test: an unanswered screen is not a "no" and not a "yes";
* ``contains`` asks whether a list field holds a value;
* ``at_least: {count: n, of: [...]}`` holds when n or more of its items hold;
* ``always: true`` holds for every set of facts (a rule that applies to everyone). It is the
  empty ``all`` (`ALWAYS`), so every function below already knows it.

`evaluate` is the pure-Python reference evaluator of this meaning. The
durable_rules adapter compiles the same trees to durable's JSON format; a
property test holds the two to identical decisions.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

Scalar = bool | int | float | str
#: A fact value: a scalar, or a frozenset for list fields.
Value = bool | int | float | str | frozenset[str]

COMBINATORS: tuple[str, ...] = ("all", "any", "not", "at_least", "always")


# --------------------------------------------------------------------------- the operator table

#: Durable test data: what `Operator.durable` returns (plain JSON-able mappings).
DurableTest = dict[str, Any]
#: The kinds of field a condition can test (see `backrx.model.vocabulary.FieldSpec`).
FieldKind = Literal["bool", "int", "float", "enum", "list"]
#: What an operator takes: one scalar of the field's type, a number, a list of scalars,
#: one member of a list field's vocabulary, or true/false.
Argument = Literal["scalar", "number", "scalars", "member", "flag"]


def _or(items: list[DurableTest]) -> DurableTest:
    return items[0] if len(items) == 1 else {"$or": items}


def _and(items: list[DurableTest]) -> DurableTest:
    return items[0] if len(items) == 1 else {"$and": items}


def _compare(op: str, flipped: str) -> Callable[[str, str, Any, bool], DurableTest]:
    """durable's comparison ``op``; negated, its flip or a missing value (unknown is not a match)."""
    def compile_(key: str, member: str, value: Any, negate: bool) -> DurableTest:
        if not negate:
            return {op: {key: value}}
        return _or([{flipped: {key: value}}, {"$nex": {key: 1}}])
    return compile_


def _in_durable(key: str, member: str, value: Any, negate: bool) -> DurableTest:
    if not negate:
        return _or([{"$eq": {key: v}} for v in value])
    return _or([_and([{"$neq": {key: v}} for v in value]), {"$nex": {key: 1}}])


def _contains_durable(key: str, member: str, value: Any, negate: bool) -> DurableTest:
    return {"$nex": {member: 1}} if negate else {"$ex": {member: 1}}


def _exists_durable(key: str, member: str, value: Any, negate: bool) -> DurableTest:
    return {"$ex": {key: 1}} if (value is True) != negate else {"$nex": {key: 1}}


@dataclass(frozen=True)
class Operator:
    """One operator of the condition language, everything about it in one place.

    ``holds`` is the reference meaning on a present value (a test on a missing value is
    false, except ``exists: false``); ``durable`` compiles a test to durable_rules' JSON,
    given the field's fact key, the member key (for list fields) and whether the test is
    negated; ``alternatives`` is how many durable patterns a test becomes (plain, negated);
    ``schema`` is the JSON Schema of the argument in a rule file.
    """

    name: str
    kinds: tuple[FieldKind, ...]
    argument: Argument
    holds: Callable[[Any, Any], bool]
    durable: Callable[[str, str, Any, bool], DurableTest]
    schema: dict[str, Any]
    description: str
    alternatives: Callable[[Any, bool], int] = lambda value, negate: 1

    def on_missing(self, value: Any) -> bool:
        """What a test with this operator gives on a field with no value."""
        return self.name == "exists" and value is False


_SCALAR = {"type": ["string", "number", "boolean"]}
_NUMBER = {"type": "number"}
_ORDERED: tuple[FieldKind, ...] = ("int", "float")


def _flip2(value: Any, negate: bool) -> int:
    return 2 if negate else 1


_BUILT_IN: dict[str, Operator] = {op.name: op for op in (
    Operator("eq", ("bool", "int", "float", "enum"), "scalar", lambda a, v: bool(a == v),
             _compare("$eq", "$neq"), _SCALAR, "equals the value", _flip2),
    Operator("in", ("int", "float", "enum"), "scalars", lambda a, v: a in v,
             _in_durable, {"type": "array", "items": _SCALAR, "minItems": 1},
             "equals one of the values", lambda v, negate: 2 if negate else len(v)),
    Operator("lt", _ORDERED, "number", lambda a, v: bool(a < v), _compare("$lt", "$gte"), _NUMBER,
             "less than", _flip2),
    Operator("lte", _ORDERED, "number", lambda a, v: bool(a <= v), _compare("$lte", "$gt"), _NUMBER,
             "less than or equal to", _flip2),
    Operator("gt", _ORDERED, "number", lambda a, v: bool(a > v), _compare("$gt", "$lte"), _NUMBER,
             "greater than", _flip2),
    Operator("gte", _ORDERED, "number", lambda a, v: bool(a >= v), _compare("$gte", "$lt"), _NUMBER,
             "greater than or equal to", _flip2),
    Operator("contains", ("list",), "member", lambda a, v: isinstance(a, frozenset) and v in a,
             _contains_durable, {"type": "string"}, "the list holds the value"),
    Operator("exists", ("bool", "int", "float", "enum", "list"), "flag", lambda a, v: v is True,
             _exists_durable, {"type": "boolean"},
             "true: the field has a value (was answered); false: it has none"),
)}

_operators: dict[str, Operator] = dict(_BUILT_IN)
_operators_lock = threading.Lock()
_OPERATOR_NAME = re.compile(r"^[a-z][a-z0-9_]*\Z")

#: The operator table, read-only: the loader, both engines, the vocabulary and ``backrx schema
#: rules`` read it. A built-in operator is one entry above (and a line in docs/rule-pack.md); an
#: extension is added with `register_operator`. Writing to this view raises ``TypeError``.
OPERATORS: Mapping[str, Operator] = MappingProxyType(_operators)


def _operator_problem(op: Operator) -> str | None:
    """Why ``op`` cannot join the table, or None."""
    if not _OPERATOR_NAME.match(op.name):
        return "its name must be lower-case letters, digits and underscores, starting with a letter"
    if op.name in COMBINATORS:
        return f"{op.name!r} is a combinator of the condition language"
    if not op.kinds or not set(op.kinds) <= set(get_args(FieldKind)):
        return f"its kinds must be some of {', '.join(get_args(FieldKind))}"
    if op.argument not in get_args(Argument):
        return f"its argument must be one of {', '.join(get_args(Argument))}"
    if not all(callable(f) for f in (op.holds, op.durable, op.alternatives)):
        return "holds, durable and alternatives must be functions"
    if not isinstance(op.schema, dict) or not op.description.strip():
        return "it needs a JSON Schema (a mapping) and a description"
    return None


def register_operator(op: Operator) -> Operator:
    """Add ``op`` to the operator table, for every pack loaded after this call; return it.

    Raises ``TypeError`` for anything but an `Operator`, and ``ValueError`` when the
    operator is malformed or its name is taken (by a built-in, a combinator or an extension).
    """
    if not isinstance(op, Operator):
        raise TypeError("register_operator takes an Operator")
    problem = _operator_problem(op)
    if problem is not None:
        raise ValueError(f"operator {op.name!r} cannot be registered: {problem}")
    with _operators_lock:
        if op.name in _operators:
            raise ValueError(f"an operator named {op.name!r} is already in the table")
        _operators[op.name] = op
    return op


def unregister_operator(name: str) -> None:
    """Remove an operator added with `register_operator` (``KeyError`` for any other name)."""
    with _operators_lock:
        if name in _BUILT_IN or name not in _operators:
            raise KeyError(name)
        del _operators[name]


@dataclass(frozen=True)
class FieldTest:
    """One field test, e.g. ``age lt 40``."""

    field: str
    op: str
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class NotOf:
    item: Condition


@dataclass(frozen=True)
class AtLeast:
    count: int
    items: tuple[Condition, ...]


Condition = FieldTest | AllOf | AnyOf | NotOf | AtLeast

#: ``always: true``: the condition that holds for every set of facts, an ``all`` of nothing.
ALWAYS = AllOf(())
#: The JSON Schema of the ``always`` form in a rule file.
ALWAYS_SCHEMA: dict[str, Any] = {"const": True, "description": "holds for everyone"}


def always_durable(key: str, negate: bool) -> DurableTest:
    """``always`` (``negate``: never) in durable's JSON, as a test on ``key``, a key every fact holds."""
    return {"$nex": {key: 1}} if negate else {"$ex": {key: 1}}


def _test(test: FieldTest, values: Mapping[str, Value]) -> bool:
    op = OPERATORS[test.op]
    if test.field not in values:
        return op.on_missing(test.value)
    return op.holds(values[test.field], test.value)


def evaluate(condition: Condition, values: Mapping[str, Value]) -> bool:
    """Whether ``condition`` holds for the fact ``values`` (the reference semantics)."""
    if isinstance(condition, FieldTest):
        return _test(condition, values)
    if isinstance(condition, AllOf):
        return all(evaluate(item, values) for item in condition.items)
    if isinstance(condition, AnyOf):
        return any(evaluate(item, values) for item in condition.items)
    if isinstance(condition, NotOf):
        return not evaluate(condition.item, values)
    held = 0
    for item in condition.items:
        if evaluate(item, values):
            held += 1
            if held >= condition.count:
                return True
    return False


def fields_of(condition: Condition) -> set[str]:
    """Every field the condition reads."""
    if isinstance(condition, FieldTest):
        return {condition.field}
    if isinstance(condition, NotOf):
        return fields_of(condition.item)
    out: set[str] = set()
    for item in condition.items:
        out |= fields_of(item)
    return out


def size_of(condition: Condition) -> int:
    """The number of nodes in the tree."""
    if isinstance(condition, FieldTest):
        return 1
    if isinstance(condition, NotOf):
        return 1 + size_of(condition.item)
    return 1 + sum(size_of(item) for item in condition.items)


def depth_of(condition: Condition) -> int:
    """The nesting depth of the tree (a single test has depth 1)."""
    if isinstance(condition, FieldTest):
        return 1
    if isinstance(condition, NotOf):
        return 1 + depth_of(condition.item)
    return 1 + max((depth_of(item) for item in condition.items), default=0)


def alternatives(condition: Condition, negate: bool = False) -> int:
    """How many alternative patterns the condition becomes once ``not`` is pushed down and
    ``any`` / ``in`` / ``at_least`` are spread out (an upper bound for ``at_least``).

    Engines that compile conditions (durable_rules) pay for each alternative, so the
    loader bounds this number, not only the size of the tree.
    """
    if isinstance(condition, FieldTest):
        return OPERATORS[condition.op].alternatives(condition.value, negate)
    if isinstance(condition, NotOf):
        return alternatives(condition.item, not negate)
    if isinstance(condition, AtLeast):
        count = len(condition.items) - condition.count + 1 if negate else condition.count
        widest = max(alternatives(item, negate) for item in condition.items)
        return math.comb(len(condition.items), count) * int(widest**count)
    parts = [alternatives(item, negate) for item in condition.items]
    if isinstance(condition, AllOf) != negate:  # a conjunction multiplies
        return int(math.prod(parts))
    return sum(parts)
