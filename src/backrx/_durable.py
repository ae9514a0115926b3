"""The durable_rules adapter: the only module that imports durable_rules.

It drives durable's C extension directly (the six calls durable's own Host
uses) and contains every hazard measured in shared/knowledge/durable-rules.md:

* no ``Host``: so no timer threads, no dispatcher stealing actions;
* one lock per engine: concurrent callers never share the C state at once;
* a sentinel rule in every ruleset: every assertion is handled, so
  ``MessageNotHandled`` never happens and ``delete_state`` is never called on
  a session in which no action ran (the segfault);
* one fixed session id per ruleset, whose fact is retracted after every
  assertion (the session is reused; it is deleted only after an error): memory
  stays flat and no two sessions can collide in durable's hash table;
* facts built here from validated values only: flat, typed, small (only the
  fields a layer reads), floats written with a ``.``, no ``id`` field of ours;
* only operators proven safe are emitted (``$and $or $eq $neq $lt $lte $gt
  $gte $ex $nex``); ``in`` becomes ``$or``, list membership becomes flat
  boolean keys, and ``not`` is pushed down to the tests;
* every rule pattern is guarded by a positive test, so a negative-only test
  never matches durable's own state object;
* rules are spread over rulesets of at most :data:`SHARD_RULES` patterns, far
  below the fan-out at which registration hangs;
* a condition with more ``$and``/``$or`` nodes than durable accepts in one
  pattern (error 113) is split into alternatives, registered as several
  durable rules that report the same backrx rule;
* the rulesets are freed with ``delete_ruleset`` when the engine goes away;
* errors of the C extension become :class:`backrx.EngineError`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import durable_rules_engine as _dre

from backrx.condition import OPERATORS, AllOf, AnyOf, AtLeast, Condition, FieldTest, NotOf, Value
from backrx.errors import EngineError
from backrx.rulepack import Pack

SHARD_RULES = 200  # durable patterns per ruleset
SHARD_TESTS = 256  # tests per ruleset; registration hangs past ~512 under one node
_GUARD_KEY = "__backrx"
_SID = "1"
_names = itertools.count()


def fact_key(path: str) -> str:
    """The flat key of a field in a durable fact."""
    return path.replace(".", "__")


def member_key(path: str, member: str) -> str:
    """The flat key that says a list field holds ``member``."""
    return f"{fact_key(path)}___{member}"


def _number(value: float) -> str:
    text = repr(value)
    mantissa, sep, exponent = text.partition("e")
    if sep and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"  # durable rejects 5e-05 but accepts 5.0e-05
    return text


def dumps(obj: Any) -> str:
    """JSON as durable accepts it."""
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return _number(obj)
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, dict):
        return "{" + ",".join(f"{dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    raise TypeError(f"cannot send {type(obj).__name__} to the engine")  # pragma: no cover


def _flat(op: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    flat: list[dict[str, Any]] = []
    for item in items:
        flat.extend(item.get(op, [item]))
    return flat[0] if len(flat) == 1 else {op: flat}


def _or(items: list[dict[str, Any]]) -> dict[str, Any]:
    return _flat("$or", items)


def _and(items: list[dict[str, Any]]) -> dict[str, Any]:
    return _flat("$and", items)


def _test(test: FieldTest, negate: bool) -> dict[str, Any]:
    """One field test in durable's JSON, compiled as the operator table says."""
    member = member_key(test.field, test.value) if isinstance(test.value, str) else ""
    return OPERATORS[test.op].durable(fact_key(test.field), member, test.value, negate)


def compile_condition(condition: Condition, negate: bool = False) -> dict[str, Any]:
    """A condition tree as a durable test, with ``not`` pushed down to the tests."""
    if isinstance(condition, FieldTest):
        return _test(condition, negate)
    if isinstance(condition, NotOf):
        return compile_condition(condition.item, not negate)
    if isinstance(condition, AtLeast):
        count, items = condition.count, condition.items
        if negate:  # fewer than `count` hold: at least len-count+1 fail
            count = len(items) - count + 1
        groups = [
            _and([compile_condition(item, negate) for item in group])
            for group in itertools.combinations(items, count)
        ]
        return _or(groups)
    parts = [compile_condition(item, negate) for item in condition.items]
    conjunctive = isinstance(condition, AllOf) != negate
    assert isinstance(condition, (AllOf, AnyOf))
    return _and(parts) if conjunctive else _or(parts)


#: durable refuses a pattern with more than 15 $and/$or nodes (measured: error 113); the guard
#: takes one, so a compiled condition keeps at most this many.
MAX_COMPOSITE = 13


def _composites(test: dict[str, Any]) -> int:
    (op, body), = test.items()
    if op in ("$and", "$or"):
        return 1 + sum(_composites(item) for item in body)
    return 0


def split(test: dict[str, Any]) -> list[dict[str, Any]]:
    """Alternatives whose union is ``test``, each small enough for durable to register."""
    if _composites(test) <= MAX_COMPOSITE:
        return [test]
    (op, body), = test.items()
    if op == "$or":
        return [part for item in body for part in split(item)]
    # An $and too large: distribute it over its largest $or member.
    assert op == "$and"
    ors = [i for i, item in enumerate(body) if "$or" in item]
    if not ors:  # pragma: no cover - an $and of plain tests has no composite to spare
        raise EngineError("a rule condition is too large for durable_rules")
    pick = max(ors, key=lambda i: _composites(body[i]))
    rest = body[:pick] + body[pick + 1:]
    return [part for alt in body[pick]["$or"] for part in split(_and([*rest, alt]))]


def _plain_floats(fact: dict[str, Any]) -> bool:
    return not any(isinstance(v, float) and "e" in repr(v) for v in fact.values())


def fact_json(fact: dict[str, Any]) -> str:
    """A flat fact as JSON: the C encoder, unless a float would be written in a form durable refuses."""
    if _plain_floats(fact):
        return json.dumps(fact, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return dumps(fact)


def encode(values: Mapping[str, Value], fields: tuple[str, ...]) -> dict[str, Any]:
    """The durable fact for one layer: only the fields it reads, flat."""
    fact: dict[str, Any] = {"sid": _SID, _GUARD_KEY: 1}
    for path in fields:
        value = values.get(path)
        if value is None:
            continue
        if isinstance(value, frozenset):
            fact[fact_key(path)] = len(value)
            for member in value:
                fact[member_key(path, member)] = True
        else:
            fact[fact_key(path)] = value
    return fact


def _leaves(test: dict[str, Any]) -> int:
    ((op, body),) = test.items()
    if op in ("$and", "$or"):
        return sum(_leaves(item) for item in body)
    return 1


def _chunks(patterns: list[tuple[str, int, dict[str, Any]]]) -> list[list[tuple[str, int, dict[str, Any]]]]:
    """Patterns in rulesets of at most SHARD_RULES patterns and SHARD_TESTS tests.

    Every pattern hangs off the shared guard test, and durable's registration never returns
    once more than about 512 tests hang under one node (measured), so each ruleset stays
    well below that, counting every test, not only every pattern.
    """
    chunks: list[list[tuple[str, int, dict[str, Any]]]] = []
    current: list[tuple[str, int, dict[str, Any]]] = []
    tests = 0
    for item in patterns:
        size = _leaves(item[2])
        if current and (len(current) >= SHARD_RULES or tests + size > SHARD_TESTS):
            chunks.append(current)
            current, tests = [], 0
        current.append(item)
        tests += size
    if current:
        chunks.append(current)
    return chunks


class _Shard:
    __slots__ = ("handle", "positions")

    def __init__(self, handle: int, positions: dict[str, int]) -> None:
        self.handle = handle
        self.positions = positions


def _free(handles: list[int]) -> None:
    for handle in handles:
        with contextlib.suppress(Exception):  # best effort at shutdown
            _dre.delete_ruleset(handle)


class DurableEngine:
    """Runs a pack's conditions on durable_rules' Rete engine."""

    name = "durable"

    def __init__(self, pack: Pack) -> None:
        self._lock = threading.Lock()
        self._layers: list[tuple[tuple[str, ...], list[_Shard]]] = []
        handles: list[int] = []
        self._finalizer = weakref.finalize(self, _free, handles)
        for layer in pack.layers:
            patterns = [
                (f"r{position}_{part}", position, test)
                for position, rule in enumerate(layer.rules)
                for part, test in enumerate(split(compile_condition(rule.when)))
            ]
            shards = []
            for start, chunk in enumerate(_chunks(patterns)):
                definition: dict[str, Any] = {}
                positions: dict[str, int] = {}
                for name, position, test in chunk:
                    definition[name] = {"all": [{"m": {"$and": [{_GUARD_KEY: 1}, test]}}], "pri": 1}
                    positions[name] = position
                definition["sentinel"] = {"all": [{"m": {_GUARD_KEY: 1}}], "pri": 2}
                name = f"backrx-{pack.digest[7:19]}-{layer.name}-{start}-{next(_names)}"
                try:
                    handle = _dre.create_ruleset(name, dumps(definition))
                except _dre.error as exc:  # pragma: no cover - the loader rejects what durable cannot take
                    raise EngineError(f"durable_rules refused the {layer.name} layer: {exc}") from None
                handles.append(handle)
                shards.append(_Shard(handle, positions))
            self._layers.append((layer.fields, shards))

    def match(self, layer: int, values: Mapping[str, Value]) -> list[int]:
        fields, shards = self._layers[layer]
        if not shards:
            return []
        fact = fact_json(encode(values, fields))
        fired: set[int] = set()
        with self._lock:
            for shard in shards:
                fired.update(self._run(shard, fact))
        return sorted(fired)

    @staticmethod
    def _run(shard: _Shard, fact: str) -> list[int]:
        try:
            return DurableEngine._once(shard, fact)
        except BaseException:
            # Whatever interrupted the run (an engine error, KeyboardInterrupt, ...), leave the
            # session empty so that nothing of this request reaches the next one.
            _recover(shard.handle, fact)
            raise

    @staticmethod
    def _once(shard: _Shard, fact: str) -> list[int]:
        handle = shard.handle
        fired: list[int] = []
        try:
            code, state = _dre.assert_fact(handle, fact)
            if code != 0:  # the sentinel handles every fact; a leftover would be a bug
                raise EngineError(f"durable_rules did not handle the fact (code {code})")
            result = _dre.start_action_for_state(handle, state)
            while result:
                message: str = result[1]  # '{"r12_0":{...}}': our own rule names, no escapes
                action = message[2:message.index('"', 2)]
                position = shard.positions.get(action)
                if position is not None:
                    fired.append(position)
                following = _dre.complete_and_start_action(handle, state)
                result = (None, following) if following else None
            # Keep the session and take the fact back out: the next call starts from an empty
            # session without paying to allocate a new one (measured: about a quarter faster).
            _dre.retract_fact(handle, fact)
        except _dre.error as exc:
            raise EngineError(f"durable_rules failed: {exc}") from None
        return fired


def _recover(handle: int, fact: str) -> None:
    """Empty the session after an interrupted run: retract the fact, run out pending actions,
    then delete the session, unless no action ever ran in it (deleting that one crashes)."""
    ran = False
    with contextlib.suppress(BaseException):
        _dre.retract_fact(handle, fact)
    with contextlib.suppress(BaseException):
        for _ in range(100_000):
            pending = _dre.start_action(handle)
            if not pending:
                break
            ran = True
            while _dre.complete_and_start_action(handle, pending[2]):
                pass
    if ran:
        with contextlib.suppress(BaseException):
            _dre.delete_state(handle, _SID)
