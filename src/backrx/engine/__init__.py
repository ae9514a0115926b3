"""Engines: which rules of a layer hold for a fact. Two interchangeable implementations.

* `ReferenceEngine` interprets the pack's condition trees in pure Python
  (`backrx.lang.condition.evaluate`, no generated code). It is the oracle that
  tests hold every other engine to.
* ``CompiledEngine`` (in `backrx.engine._compiled`) compiles each layer to one
  Python function with the same meaning: the fast pure-Python engine, and the one
  ``"auto"`` picks where durable_rules cannot be imported (Python 3.13+). Tests hold it
  equal to the reference on generated profiles.
* ``DurableEngine`` (in `backrx.engine._durable`, the only module that imports
  durable_rules) compiles the same trees to durable_rules' Rete network.

Both answer the same question and return rule positions in pack order, so the
trace order is the pack's (layer, priority, rule id), never an engine's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from backrx.lang.condition import Value, evaluate
from backrx.pack.model import Pack

EngineName = Literal["auto", "durable", "reference", "compiled"]


class Engine(Protocol):
    """Matches the rules of one layer against one fact."""

    name: str

    def match(self, layer: int, values: Mapping[str, Value]) -> list[int]:
        """Positions, in pack order, of the rules in ``pack.layers[layer]`` that hold."""
        ...  # pragma: no cover

    def match_layers(self, layers: Sequence[int], values: Mapping[str, Value]) -> list[list[int]]:
        """``match`` of each of ``layers`` on the same facts, in one pass where the engine can
        (the runner asks for one run of `backrx.pack.actions.independent_runs` at a time)."""
        ...  # pragma: no cover


class ReferenceEngine:
    """The pure-Python interpreter of a pack's conditions: the oracle (no generated code)."""

    name = "reference"

    def __init__(self, pack: Pack) -> None:
        self._layers = [tuple(rule.when for rule in layer.rules) for layer in pack.layers]

    def match(self, layer: int, values: Mapping[str, Value]) -> list[int]:
        return [i for i, when in enumerate(self._layers[layer]) if evaluate(when, values)]

    def match_layers(self, layers: Sequence[int], values: Mapping[str, Value]) -> list[list[int]]:
        return [self.match(layer, values) for layer in layers]


def durable_available() -> bool:
    """Whether durable_rules imports on this Python (asked through the adapter, its only importer)."""
    try:
        import backrx.engine._durable  # noqa: F401
    except ImportError:
        return False
    return True


def make_engine(pack: Pack, name: EngineName = "auto") -> Engine:
    """The engine for ``pack``: durable_rules where it imports, else the compiled pure-Python
    engine. ``"reference"`` is the interpreter (the oracle), ``"compiled"`` its compiled twin."""
    if name == "reference":
        return ReferenceEngine(pack)
    if name == "compiled" or (name == "auto" and not durable_available()):
        from backrx.engine._compiled import CompiledEngine

        return CompiledEngine(pack)
    from backrx.engine._durable import DurableEngine

    return DurableEngine(pack)
