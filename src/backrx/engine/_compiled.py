"""The compiled engine: the reference meaning of a layer's conditions, compiled to one Python
function per layer (`CompiledEngine`, ``engine="compiled"``). The reference engine
(`backrx.engine.ReferenceEngine`) stays an interpreter, the oracle this one is held
equal to on generated profiles (tests/test_perf_compiled.py).

`backrx.lang.condition.evaluate` walks a condition tree for every rule and every fact.
This module turns a whole layer into the source of one function that reads each field once and
tests every rule with plain ``and`` / ``or`` / ``not`` expressions, then compiles it. The
meaning is the same by construction: each field test calls the operator table's own ``holds``
on a present value and takes the operator's own answer for a missing one, exactly as
``evaluate`` does. No value of the pack is written into the source: every constant and
operator is passed in by name, so a rule's text cannot become code. A layer the compiler
cannot take (a tree too deep for Python's parser) falls back to ``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from backrx.lang.condition import (
    OPERATORS,
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    FieldTest,
    NotOf,
    Value,
    evaluate,
)
from backrx.pack.model import Pack

Matcher = Callable[[Mapping[str, Value]], list[int]]
_MISSING = object()


class _Source:
    def __init__(self) -> None:
        self.names: dict[str, Any] = {"M": _MISSING}
        self.fields: dict[str, str] = {}
        self._operators: dict[str, str] = {}
        self._count = 0

    def constant(self, value: Any) -> str:
        """A fresh name bound to ``value`` (never shared: ``1``, ``1.0`` and ``True`` are equal keys)."""
        name = f"c{self._count}"
        self._count += 1
        self.names[name] = value
        return name

    def operator(self, name: str) -> str:
        found = self._operators.get(name)
        if found is None:
            found = self._operators[name] = f"h{len(self._operators)}"
            self.names[found] = OPERATORS[name].holds
        return found

    def field(self, path: str) -> str:
        name = self.fields.get(path)
        if name is None:
            name = self.fields[path] = f"f{len(self.fields)}"
        return name

    def expr(self, condition: Condition) -> str:
        if isinstance(condition, FieldTest):
            op = OPERATORS[condition.op]
            holds = self.operator(condition.op)
            value = self.constant(condition.value)
            missing = "True" if op.on_missing(condition.value) else "False"
            field = self.field(condition.field)
            return f"({missing} if {field} is M else {holds}({field}, {value}))"
        if isinstance(condition, NotOf):
            return f"(not {self.expr(condition.item)})"
        if isinstance(condition, AtLeast):
            items = " + ".join(f"(1 if {self.expr(item)} else 0)" for item in condition.items) or "0"
            return f"(({items}) >= {int(condition.count)})"
        parts = [self.expr(item) for item in condition.items]
        if isinstance(condition, AllOf):
            return "(" + " and ".join(parts) + ")" if parts else "True"
        assert isinstance(condition, AnyOf)
        return "(" + " or ".join(parts) + ")" if parts else "False"


def _fallback(conditions: tuple[Condition, ...]) -> Matcher:
    def match(values: Mapping[str, Value]) -> list[int]:
        return [i for i, when in enumerate(conditions) if evaluate(when, values)]
    return match


def compile_layer(conditions: Sequence[Condition]) -> Matcher:
    """A function giving, for a fact, the positions of the conditions that hold (in order)."""
    conditions = tuple(conditions)
    src = _Source()
    try:
        tests = [src.expr(when) for when in conditions]
        lines = ["def match(values):", "    get = values.get"]
        lines += [f"    {name} = get({src.constant(path)}, M)" for path, name in src.fields.items()]
        lines.append("    out = []")
        lines += [f"    if {test}:\n        out.append({i})" for i, test in enumerate(tests)]
        lines.append("    return out")
        namespace = dict(src.names)
        exec(compile("\n".join(lines), "<backrx layer>", "exec"), namespace)
    except (RecursionError, SyntaxError, MemoryError):  # pragma: no cover - beyond the loader's bounds
        return _fallback(conditions)
    match: Matcher = namespace["match"]
    return match


class CompiledEngine:
    """The pure-Python engine with each layer compiled to one function (see the module)."""

    name = "compiled"

    def __init__(self, pack: Pack) -> None:
        self._layers = [compile_layer([rule.when for rule in layer.rules]) for layer in pack.layers]

    def match(self, layer: int, values: Mapping[str, Value]) -> list[int]:
        return self._layers[layer](values)

    def match_layers(self, layers: Sequence[int], values: Mapping[str, Value]) -> list[list[int]]:
        return [self._layers[layer](values) for layer in layers]
