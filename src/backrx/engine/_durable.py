"""The durable_rules adapter: the only module that imports durable_rules.

It drives durable's C extension directly (the six calls durable's own Host
uses) and contains every hazard measured in shared/knowledge/durable-rules.md:

* no ``Host``: so no timer threads, no dispatcher stealing actions;
* one lock per engine: concurrent callers never share the C state at once;
* a sentinel rule in every ruleset: every assertion is handled, so
  ``MessageNotHandled`` never happens and ``delete_state`` is never called on
  a session in which no action ran (the segfault);
* one fixed session id per ruleset, whose fact is retracted after every
  assertion (the session is reused): memory stays flat and no two sessions can
  collide in durable's hash table;
* a run cut short by anything (an engine error, KeyboardInterrupt, any
  BaseException, a fork) leaves its shard dirty, and a dirty shard is thrown
  away and registered afresh, never repaired; a fresh shard must answer a canary
  fact as the reference evaluator does, every run must end with the sentinel,
  and triage is checked against the reference evaluator: otherwise EngineError;
* facts built (in `backrx.engine.wire`) from validated values only: flat, typed, small (only the
  fields a layer reads, or a run of layers matched together), floats written
  with a ``.``, no ``id`` field of ours;
* only operators proven safe are emitted (``$and $or $eq $neq $lt $lte $gt
  $gte $ex $nex``); ``in`` becomes ``$or``, list membership becomes flat
  boolean keys, and ``not`` is pushed down to the tests;
* every rule pattern is guarded by a positive test, so a negative-only test
  never matches durable's own state object;
* rules are spread over rulesets of at most `SHARD_RULES` patterns, far
  below the fan-out at which registration hangs;
* a condition with more ``$and``/``$or`` nodes than durable accepts in one
  pattern (error 113) is split into alternatives, registered as several
  durable rules that report the same backrx rule;
* the rulesets are freed when the engine goes away, each session first
  (``delete_state``, only where an action started), then ``delete_ruleset``;
* ``os.register_at_fork`` gives every engine a new lock in a forked child;
* errors of the C extension become `backrx.EngineError`.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import durable_rules_engine as _dre

from backrx.engine._compiled import Matcher, compile_layer
from backrx.engine.wire import (
    GUARD_KEY,
    SID,
    FactWriter,
    definition_json,
    encode,
    fact_json,
    fact_key,
    kinds_of,
    member_key,
)
from backrx.errors import EngineError
from backrx.lang.condition import (
    OPERATORS,
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    FieldTest,
    NotOf,
    Value,
    always_durable,
    evaluate,
)
from backrx.pack.actions import independent_runs
from backrx.pack.model import Pack

SHARD_RULES = 200  # durable patterns per ruleset
SHARD_TESTS = 256  # tests per ruleset; registration hangs past ~512 under one node
#: Layers that the reference evaluator checks on every call (see DurableEngine.match).
CHECKED_LAYERS = ("states", "triage")  # the states feed triage: a wrong state is a lost referral
_names = itertools.count()


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
    if isinstance(condition, AllOf) and not condition.items:  # always: true (an empty all)
        return always_durable(GUARD_KEY, negate)
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
    """One durable ruleset of a layer, and what it takes to rebuild it from scratch.

    ``dirty`` is set before the first C call of a run and cleared only once the run has
    finished and its fact is retracted: a run cut short anywhere (an exception, a
    KeyboardInterrupt, a signal handler raising, a fork) leaves it set, and the shard is then
    thrown away and registered afresh before it is used again.
    """

    __slots__ = ("canary", "definition", "dirty", "handle", "label", "positions")

    def __init__(self, positions: dict[str, int], definition: str, label: str,
                 canary: tuple[set[int], list[int]]) -> None:
        self.handle = -1
        self.positions = positions
        self.definition = definition
        self.label = label
        self.canary = canary  # (rules checked, those that hold for the empty fact)
        self.dirty = True


def _release(handle: int, actioned: set[int]) -> None:
    """Free a ruleset and its session.

    The session goes first: freeing only the ruleset leaves the session's memory behind
    (measured: 462 MB over 300 loads of the bundled pack). Deleting a session in which no action
    ever started crashes the process (durable never initialises its action context), so a session
    is deleted only when an action is known to have started in it, or when one can be started
    now; otherwise its memory is left behind, which only a run interrupted on a brand-new ruleset
    can cause.
    """
    ran = handle in actioned
    if not ran:
        with contextlib.suppress(Exception):
            ran = bool(_dre.start_action(handle))
    actioned.discard(handle)
    if ran:
        with contextlib.suppress(Exception):
            _dre.delete_state(handle, SID)
    with contextlib.suppress(Exception):
        _dre.delete_ruleset(handle)


def _free(handles: list[int], actioned: set[int]) -> None:
    while handles:
        _release(handles.pop(), actioned)  # popped first: a handle is never released twice


_CANARY = fact_json(encode({}, ()))
_engines: weakref.WeakSet[DurableEngine] = weakref.WeakSet()


class _Run:
    """The durable rulesets of one run of layers matched together (see ``independent_runs``).

    Each rule of the run has a number (its ``gid``): the rules of the run's first layer come
    first, in pack order, then those of the next layer. ``owners[gid]`` is (slot, position): the
    layer's place in the run and the rule's position in its layer.
    """

    __slots__ = ("layers", "owners", "shards", "write")

    def __init__(self, layers: tuple[int, ...], write: FactWriter, shards: list[_Shard],
                 owners: list[tuple[int, int]]) -> None:
        self.layers = layers
        self.write = write
        self.shards = shards
        self.owners = owners


class DurableEngine:
    """Runs a pack's conditions on durable_rules' Rete network.

    Layers that the runner may match together (``independent_runs``: none reads what an earlier
    one of its run concludes) share one durable fact and one set of rulesets, so one assertion
    answers them all; ``match`` of one layer takes its part of its run's answer.
    """

    name = "durable"

    def __init__(self, pack: Pack) -> None:
        self._lock = threading.Lock()
        self._runs: list[_Run] = []
        self._run_of: dict[int, tuple[int, int]] = {}  # layer -> (run, slot)
        self._names = [layer.name for layer in pack.layers]
        self._handles: list[int] = []
        self._actioned: set[int] = set()  # handles whose session has started an action
        self._finalizer = weakref.finalize(self, _free, self._handles, self._actioned)
        # The layers whose answer is also computed by the reference evaluator and compared: states
        # and triage decide referrals, and a referral lost to an engine fault would put a red flag into
        # exercise (measured: about 4 us a call on the bundled pack, some 7 % of a referral).
        self._checked: dict[int, Matcher] = {
            i: compile_layer([rule.when for rule in layer.rules])
            for i, layer in enumerate(pack.layers) if layer.name in CHECKED_LAYERS
        }
        for number, layers in enumerate(independent_runs(pack.layers)):
            rules = [(slot, position, pack.layers[index].rules[position])
                     for slot, index in enumerate(layers)
                     for position in range(len(pack.layers[index].rules))]
            owners = [(slot, position) for slot, position, _ in rules]
            patterns = [
                (f"r{gid}_{part}", gid, test)
                for gid, (_, _, rule) in enumerate(rules)
                for part, test in enumerate(split(compile_condition(rule.when)))
            ]
            parts = collections.Counter(gid for _, gid, _ in patterns)
            shards = []
            label_of = "-".join(pack.layers[index].name for index in layers)
            for start, chunk in enumerate(_chunks(patterns)):
                definition: dict[str, Any] = {}
                positions: dict[str, int] = {}
                for name, gid, test in chunk:
                    definition[name] = {"all": [{"m": {"$and": [{GUARD_KEY: 1}, test]}}], "pri": 1}
                    positions[name] = gid
                definition["sentinel"] = {"all": [{"m": {GUARD_KEY: 1}}], "pri": 2}
                # The self-check's expected answer, by the reference evaluator, for the rules whose
                # every pattern is in this shard (a split rule may hold through another shard).
                here = collections.Counter(gid for _, gid, _ in chunk)
                whole = {g for g, n in here.items() if n == parts[g]}
                canary = (whole, sorted(g for g in whole if evaluate(rules[g][2].when, {})))
                label = f"backrx-{pack.digest[7:19]}-{label_of}-{start}"
                shards.append(_Shard(positions, definition_json(definition), label, canary))
            fields = tuple(dict.fromkeys(f for index in layers for f in pack.layers[index].fields))
            self._runs.append(_Run(layers, FactWriter(fields, kinds_of(pack, fields)), shards, owners))
            for slot, index in enumerate(layers):
                self._run_of[index] = (number, slot)
        with self._lock:
            for run in self._runs:
                for shard in run.shards:
                    self._rebuild(shard)
        _engines.add(self)

    def match(self, layer: int, values: Mapping[str, Value]) -> list[int]:
        number, slot = self._run_of[layer]
        return self._match_run(number, values)[slot]

    def match_layers(self, layers: Sequence[int], values: Mapping[str, Value]) -> list[list[int]]:
        answers: dict[int, list[list[int]]] = {}
        out = []
        for layer in layers:
            number, slot = self._run_of[layer]
            found = answers.get(number)
            if found is None:
                found = answers[number] = self._match_run(number, values)
            out.append(found[slot])
        return out

    def _match_run(self, number: int, values: Mapping[str, Value]) -> list[list[int]]:
        """Every layer's answer in one run of layers, by slot, from one fact."""
        run = self._runs[number]
        found: list[list[int]] = [[] for _ in run.layers]
        if not run.shards:
            return found
        fact = run.write(values)
        # One line on purpose: nothing (not even a trace event) comes between the body and the
        # lock's release, so no interrupt can land where it would leave the lock held.
        with self._lock: fired = self._match_shards(run.shards, fact)  # noqa: E701
        owners = run.owners
        for gid in fired:  # sorted: the positions of each layer come out in pack order
            slot, position = owners[gid]
            found[slot].append(position)
        for slot, layer in enumerate(run.layers):
            checked = self._checked.get(layer)
            if checked is not None:
                expected = checked(values)
                if found[slot] != expected:
                    raise EngineError(f"durable_rules disagreed with the reference evaluator on the "
                                      f"{self._names[layer]} layer (rules {found[slot]}, expected "
                                      f"{expected}); backrx refuses to answer")
        return found

    def _match_shards(self, shards: list[_Shard], fact: str) -> list[int]:
        fired: set[int] = set()
        for shard in shards:
            fired.update(self._run(shard, fact))
        return sorted(fired)

    def _run(self, shard: _Shard, fact: str) -> list[int]:
        """One run on one shard; whatever cuts it short, the shard is rebuilt, never reused."""
        if shard.dirty:
            self._rebuild(shard)
        try:
            return self._once(shard, fact)
        except BaseException:
            # Rebuild at once so that no broken session waits for the next caller. If a second
            # interrupt cuts the rebuild short, the shard stays dirty and the next run rebuilds it.
            with contextlib.suppress(BaseException):
                self._rebuild(shard)
            raise

    def _rebuild(self, shard: _Shard) -> None:
        """Throw the shard's durable ruleset away and register a fresh one from its definition.

        Never trusts partial state: the old ruleset and its session are deleted, not repaired.
        The fresh ruleset must answer the canary fact exactly as the reference evaluator does
        before the shard is marked clean. Safe to interrupt at any point: the shard stays dirty
        until the end, a handle is forgotten before it is released (at worst a ruleset is
        leaked, never released twice), and every live handle is in ``_handles``, which the
        finalizer frees.
        """
        shard.dirty = True
        old = shard.handle
        try:
            handle = _dre.create_ruleset(f"{shard.label}-{next(_names)}", shard.definition)
        except _dre.error as exc:  # pragma: no cover - the loader rejects what durable cannot take
            raise EngineError(f"durable_rules refused the {shard.label} ruleset: {exc}") from None
        self._handles.append(handle)
        shard.handle = handle
        if old in self._handles:
            self._handles.remove(old)
            _release(old, self._actioned)
        whole, expected = shard.canary
        got = sorted({p for p in self._once(shard, _CANARY) if p in whole})
        if got != expected:
            raise EngineError(f"durable_rules failed the self-check of the {shard.label} ruleset: rules "
                              f"{got} matched the empty fact, {expected} expected")
        shard.dirty = False

    def _once(self, shard: _Shard, fact: str) -> list[int]:
        """Assert the fact, run every action it triggers, take the fact back out.

        The self-check: every fact is matched by the sentinel, whose priority makes it the last
        action of a complete run. A run in which the sentinel does not fire exactly once, as the
        last action, is refused with `EngineError` rather than answered.
        """
        shard.dirty = True
        handle = shard.handle
        fired: list[int] = []
        sentinel = 0
        try:
            code, state = _dre.assert_fact(handle, fact)
            if code != 0:  # the sentinel handles every fact; a leftover would be a bug
                raise EngineError(f"durable_rules did not handle the fact (code {code})")
            result = _dre.start_action_for_state(handle, state)
            message: str | None = None
            if result:
                self._actioned.add(handle)
                message = result[1]  # '{"r12_0":{...}}': our own rule names, no escapes
            positions = shard.positions
            while message:
                action = message[2:message.index('"', 2)]
                position = positions.get(action)
                if position is not None and not sentinel:
                    fired.append(position)
                elif action == "sentinel":
                    sentinel += 1
                else:
                    raise EngineError(f"durable_rules ran {action!r} out of order")
                message = _dre.complete_and_start_action(handle, state)
            if sentinel != 1:
                raise EngineError("durable_rules did not finish the run (self-check: the sentinel "
                                  f"fired {sentinel} times); the ruleset is rebuilt")
            # Keep the session and take the fact back out: the next call starts from an empty
            # session without paying to allocate a new one (measured: about a quarter faster).
            _dre.retract_fact(handle, fact)
        except _dre.error as exc:
            raise EngineError(f"durable_rules failed: {exc}") from None
        shard.dirty = False
        return fired


def _after_fork_in_child() -> None:
    """A fork copies a lock held by another thread as held, and that thread does not exist in
    the child: give every engine a new lock. A run the fork cut short left its shard dirty, so
    the child rebuilds that shard before using it."""
    for engine in list(_engines):
        engine._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # pragma: no branch - every POSIX Python has it
    os.register_at_fork(after_in_child=_after_fork_in_child)
