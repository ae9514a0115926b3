"""A GoRules zen-engine baseline: the pack's triage and classification layers as a zen decision graph.

The graph is generated from the loaded pack (not written by hand), so it encodes exactly the
conditions backrx runs: one expression node whose outputs are one boolean per rule, each the
rule's ``when`` in zen's expression language with backrx's meaning of an absent value (a test
on a field with no value is false; ``not`` turns it true). ``check`` holds it to backrx's
reference engine on every profile before anything is timed.

Needs the optional benchmark dependency ``zen-engine`` (``pip install backrx[bench]``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from backrx.lang.condition import AllOf, AnyOf, AtLeast, Condition, FieldTest, NotOf, Value
from backrx.pack.model import Pack


def _key(path: str) -> str:
    return path.replace(".", "__")


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)


def _test(test: FieldTest) -> str:
    key, op, value = _key(test.field), test.op, test.value
    if op == "exists":
        return f"({key} != null)" if value is True else f"({key} == null)"
    if op == "contains":
        return f"({key} != null and contains({key}, {_literal(value)}))"
    if op == "in":
        assert isinstance(value, tuple)
        return f"({key} != null and {key} in [{', '.join(_literal(v) for v in value)}])"
    symbol = {"eq": "==", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
    return f"({key} != null and {key} {symbol} {_literal(value)})"


def expression(condition: Condition) -> str:
    """A condition tree as a zen expression."""
    if isinstance(condition, FieldTest):
        return _test(condition)
    if isinstance(condition, NotOf):
        return f"(not {expression(condition.item)})"
    if isinstance(condition, AtLeast):
        terms = " + ".join(f"({expression(item)} ? 1 : 0)" for item in condition.items)
        return f"(({terms}) >= {condition.count})"
    joiner = " and " if isinstance(condition, AllOf) else " or "
    assert isinstance(condition, (AllOf, AnyOf))
    if not condition.items:  # ``always: true`` is the empty all; an empty any never holds
        return "true" if isinstance(condition, AllOf) else "false"
    return "(" + joiner.join(expression(item) for item in condition.items) + ")"


def graph(pack: Pack, layers: tuple[int, ...] = (0, 1)) -> tuple[dict[str, Any], list[str]]:
    """The JDM decision graph for these layers, and the rule id of each output ``r<i>``."""
    ids: list[str] = []
    expressions = []
    for layer in layers:
        for rule in pack.layers[layer].rules:
            expressions.append({"id": f"e{len(ids)}", "key": f"r{len(ids)}", "value": expression(rule.when)})
            ids.append(rule.id)
    nodes = [
        {"id": "in", "type": "inputNode", "name": "profile", "position": {"x": 0, "y": 0}},
        {"id": "rules", "type": "expressionNode", "name": "triage and classification",
         "position": {"x": 200, "y": 0}, "content": {"expressions": expressions}},
        {"id": "out", "type": "outputNode", "name": "fired", "position": {"x": 400, "y": 0}},
    ]
    edges = [{"id": "a", "sourceId": "in", "targetId": "rules", "type": "edge"},
             {"id": "b", "sourceId": "rules", "targetId": "out", "type": "edge"}]
    return {"nodes": nodes, "edges": edges}, ids


def context(values: Mapping[str, Value]) -> dict[str, Any]:
    """backrx's fact values as a zen input (lists as arrays, flat keys)."""
    return {_key(k): sorted(v) if isinstance(v, frozenset) else v for k, v in values.items()}


def matcher(pack: Pack) -> Callable[[Mapping[str, Value]], set[str]]:
    """A function from fact values to the ids of the triage and classification rules that hold."""
    import zen

    content, ids = graph(pack)
    # An engine with a static loader keeps the parsed graph (measured: ~40 us a call here);
    # ZenDecision.evaluate on create_decision's result took ~10x longer in zen-engine 2.1.
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {"backrx": content}}})

    def run(values: Mapping[str, Value]) -> set[str]:
        result = engine.evaluate("backrx", context(values))["result"]
        return {ids[int(key[1:])] for key, held in result.items() if held is True}

    return run
