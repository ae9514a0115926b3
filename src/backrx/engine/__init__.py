"""Engines: which rules of a layer hold for a fact. Two interchangeable implementations.

* :class:`ReferenceEngine` evaluates the pack's condition trees in pure Python.
  It is the engine where durable_rules cannot be imported (Python 3.13+) and
  the oracle that tests hold the durable engine to.
* ``DurableEngine`` (in :mod:`backrx.engine._durable`, the only module that imports
  durable_rules) compiles the same trees to durable_rules' Rete network.

Both answer the same question and return rule positions in pack order, so the
trace order is the pack's (layer, priority, rule id), never an engine's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from backrx.lang.condition import Value
from backrx.pack.rulepack import Pack

EngineName = Literal["auto", "durable", "reference"]


class Engine(Protocol):
    """Matches the rules of one layer against one fact."""

    name: str

    def match(self, layer: int, values: Mapping[str, Value]) -> list[int]:
        """Positions, in pack order, of the rules in ``pack.layers[layer]`` that hold."""
        ...  # pragma: no cover

    def match_layers(self, layers: Sequence[int], values: Mapping[str, Value]) -> list[list[int]]:
        """``match`` of each of ``layers`` on the same facts, in one pass where the engine can
        (the runner asks for one run of :func:`backrx.pack.actions.independent_runs` at a time)."""
        ...  # pragma: no cover


class ReferenceEngine:
    """The pure-Python evaluator of a pack's conditions."""

    name = "reference"

    def __init__(self, pack: Pack) -> None:
        from backrx.engine._compiled import compile_layer

        # Each layer's conditions compiled to one function with the meaning of `evaluate`.
        self._layers = [compile_layer([rule.when for rule in layer.rules]) for layer in pack.layers]

    def match(self, layer: int, values: Mapping[str, Value]) -> list[int]:
        return self._layers[layer](values)

    def match_layers(self, layers: Sequence[int], values: Mapping[str, Value]) -> list[list[int]]:
        return [self._layers[layer](values) for layer in layers]


def durable_available() -> bool:
    """Whether durable_rules imports on this Python (asked through the adapter, its only importer)."""
    try:
        import backrx.engine._durable  # noqa: F401
    except ImportError:
        return False
    return True


def make_engine(pack: Pack, name: EngineName = "auto") -> Engine:
    """The engine for ``pack``: durable_rules where it imports, else the reference evaluator."""
    if name == "reference" or (name == "auto" and not durable_available()):
        return ReferenceEngine(pack)
    from backrx.engine._durable import DurableEngine

    return DurableEngine(pack)
