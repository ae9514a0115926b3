"""Rule conditions: the closed operator vocabulary, its meaning, and the reference evaluator.

A condition is a tree of ``all`` / ``any`` / ``not`` / ``at_least`` nodes over
field tests (``eq in lt lte gt gte contains exists``). Its meaning, shared by
every engine:

* a test on a field that has no value (not given, not examined, not answered)
  is false; ``not`` turns it true. "Unknown" therefore never satisfies a
  positive test: an unanswered screen is not a "no" and not a "yes";
* ``contains`` asks whether a list field holds a value;
* ``at_least: {count: n, of: [...]}`` holds when n or more of its items hold.

:func:`evaluate` is the pure-Python reference evaluator of this meaning. The
durable_rules adapter compiles the same trees to durable's JSON format; a
property test holds the two to identical decisions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

Scalar = bool | int | float | str
#: A fact value: a scalar, or a frozenset for list fields.
Value = bool | int | float | str | frozenset[str]

OPERATORS: tuple[str, ...] = ("eq", "in", "lt", "lte", "gt", "gte", "contains", "exists")
COMBINATORS: tuple[str, ...] = ("all", "any", "not", "at_least")


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


def _test(test: FieldTest, values: Mapping[str, Value]) -> bool:
    if test.field not in values:
        return test.op == "exists" and test.value is False
    actual = values[test.field]
    op = test.op
    if op == "exists":
        return test.value is True
    if op == "contains":
        return isinstance(actual, frozenset) and test.value in actual
    if isinstance(actual, frozenset):  # pragma: no cover - the loader forbids it
        return False
    if op == "eq":
        return actual == test.value
    if op == "in":
        assert isinstance(test.value, tuple)
        return actual in test.value
    if isinstance(actual, (bool, str)) or isinstance(test.value, (bool, str, tuple)):
        return False  # pragma: no cover - the loader allows ordering on numbers only
    if op == "lt":
        return actual < test.value
    if op == "lte":
        return actual <= test.value
    if op == "gt":
        return actual > test.value
    return actual >= test.value  # gte


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
        if condition.op == "in":
            assert isinstance(condition.value, tuple)
            return 2 if negate else len(condition.value)
        return 2 if negate and condition.op in ("eq", "lt", "lte", "gt", "gte") else 1
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
