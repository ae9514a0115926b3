"""The compiled layer functions mean exactly what the reference evaluator means."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import backrx
from backrx.engine._compiled import compile_layer
from backrx.lang.condition import AllOf, AnyOf, AtLeast, Condition, FieldTest, NotOf, Value, evaluate
from backrx.run.decision import decide, fill
from backrx.run.facts import profile_values
from backrx.testing import corner_profile, corners, profiles

# A small world of fields of every kind, so that random trees hit present, missing and typed values.
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "n": st.integers(-3, 3),
    "x": st.sampled_from([-1.5, 0.0, 1.0, 2.5]),
    "b": st.booleans(),
    "e": st.sampled_from(["a", "b", "c"]),
}
_MEMBERS = ("a", "b", "c")


def _tests() -> st.SearchStrategy[Condition]:
    scalar = st.one_of(
        st.builds(FieldTest, st.just("n"), st.sampled_from(["eq", "lt", "lte", "gt", "gte"]),
                  st.integers(-3, 3)),
        st.builds(FieldTest, st.just("x"), st.sampled_from(["eq", "lt", "gte"]),
                  st.sampled_from([0, 1, 1.0, 2.5, True])),
        st.builds(FieldTest, st.just("b"), st.just("eq"), st.booleans()),
        st.builds(FieldTest, st.sampled_from(["e", "n"]), st.just("in"),
                  st.lists(st.sampled_from(["a", "b", 1, 2, True]), min_size=1, max_size=3).map(tuple)),
        st.builds(FieldTest, st.just("l"), st.just("contains"), st.sampled_from(_MEMBERS)),
        st.builds(FieldTest, st.sampled_from(["n", "l", "e", "b"]), st.just("exists"), st.booleans()),
    )
    return st.recursive(scalar, lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: AllOf(tuple(xs))),
        st.lists(inner, max_size=3).map(lambda xs: AnyOf(tuple(xs))),
        inner.map(NotOf),
        st.lists(inner, min_size=1, max_size=4).flatmap(
            lambda xs: st.integers(1, len(xs)).map(lambda k: AtLeast(k, tuple(xs))))),
        max_leaves=12)


@st.composite
def _facts(draw: st.DrawFn) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, strategy in _SCALARS.items():
        if draw(st.booleans()):
            out[name] = draw(strategy)
    if draw(st.booleans()):
        out["l"] = frozenset(draw(st.lists(st.sampled_from(_MEMBERS), max_size=3)))
    return out


@settings(max_examples=400)
@given(conditions=st.lists(_tests(), min_size=1, max_size=6), values=_facts())
def test_a_compiled_layer_equals_evaluate_on_random_trees(conditions: list[Condition],
                                                          values: dict[str, Value]) -> None:
    """For random condition trees and facts, the compiled layer fires exactly the conditions
    that evaluate() holds true, in order (missing fields, not, at_least and mixed types included)."""
    expected = [i for i, when in enumerate(conditions) if evaluate(when, values)]
    assert compile_layer(conditions)(values) == expected


def _layer_facts(rules: backrx.RuleSet, profile: dict[str, Any]) -> list[dict[str, Value]]:
    """The facts each layer sees for a profile (later layers read earlier conclusions)."""
    valid = backrx.Profile.model_validate(profile)
    decision = decide(rules.pack, rules._engine, profile_values(valid))
    return [decision.values] * len(rules.pack.layers)


@pytest.fixture(scope="module")
def compiled(rules: backrx.RuleSet) -> list[Any]:
    return [compile_layer([rule.when for rule in layer.rules]) for layer in rules.pack.layers]


@settings(max_examples=150)
@given(profile=profiles())
def test_the_bundled_layers_compile_to_evaluate(profile: dict[str, Any], rules: backrx.RuleSet,
                                                compiled: list[Any]) -> None:
    """On generated profiles, every bundled layer compiled fires the rules evaluate() fires."""
    for index, values in enumerate(_layer_facts(rules, profile)):
        layer = rules.pack.layers[index]
        expected = [i for i, rule in enumerate(layer.rules) if evaluate(rule.when, values)]
        assert compiled[index](values) == expected, layer.name


def test_the_bundled_layers_compile_to_evaluate_on_corner_profiles(rules: backrx.RuleSet,
                                                                   compiled: list[Any]) -> None:
    """The same on the hand-picked corner profiles (every threshold on and off its line)."""
    checked = 0
    for fixed in corners():
        profile = corner_profile(fixed)
        try:
            backrx.Profile.model_validate(profile)
        except ValidationError:
            continue  # some corners are invalid on purpose
        checked += 1
        for index, values in enumerate(_layer_facts(rules, profile)):
            layer = rules.pack.layers[index]
            expected = [i for i, rule in enumerate(layer.rules) if evaluate(rule.when, values)]
            assert compiled[index](values) == expected, layer.name
    assert checked > 10


def test_no_pack_text_becomes_code() -> None:
    """A field name or value that looks like Python stays data: it is passed in, never written."""
    tricky = 'x") or __import__("os").system("exit 1") or ("'
    layer = compile_layer([FieldTest(tricky, "eq", tricky), FieldTest("n", "eq", tricky)])
    assert layer({tricky: tricky}) == [0]
    assert layer({"n": 1}) == []


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)


@st.composite
def _wire_facts(draw: st.DrawFn) -> dict[str, Value]:
    """Facts of every kind the engine is sent, floats in exponent form and non-ASCII text included."""
    kinds: list[st.SearchStrategy[Any]] = [
        st.booleans(), st.integers(-10**6, 10**6), _TEXT,
        st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([5e-05, 1e22, -0.0]),
        st.frozensets(st.sampled_from(["a", "b_c", "é"]), max_size=3)]
    return {f"f{i}.x": draw(kind) for i, kind in enumerate(kinds) if draw(st.booleans())}


@settings(max_examples=300)
@given(values=_wire_facts(), kinds=st.lists(st.sampled_from(["bool", "int", "float", "enum", "list", ""]),
                                            min_size=6, max_size=6))
def test_the_fact_writer_sends_what_the_dict_encoder_sends(values: dict[str, Value],
                                                        kinds: list[str]) -> None:
    """The engine receives the same JSON text from the direct writer as from building the fact
    dict and encoding it, for every kind of value, whatever kind the field is declared to have
    (so the fast path changes no match)."""
    from backrx.engine.wire import FactWriter, encode, fact_json

    fields = (*sorted(values), "absent.field")
    declared = {path: kind for path, kind in zip(fields, kinds, strict=False) if kind}
    written = FactWriter(fields, declared)(values)
    assert written == fact_json(encode(values, fields))
    assert json.loads(written) == json.loads(fact_json(encode(values, fields)))


_JSONISH = st.recursive(
    st.one_of(st.booleans(), st.integers(), _TEXT,
              st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([5e-05, 1e22])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=15)


@settings(max_examples=200)
@given(definition=_JSONISH)
def test_a_ruleset_definition_is_written_as_the_durable_encoder_writes_it(definition: Any) -> None:
    """The C encoder is used for a ruleset definition only where it writes the very text that
    backrx's own encoder writes (floats in exponent form go to backrx's)."""
    from backrx.engine.wire import definition_json, dumps

    assert definition_json(definition) == dumps(definition)


def test_rule_templates_fill_as_a_plain_substitution(rules: backrx.RuleSet) -> None:
    """Every bundled rationale and patient text, read once and filled, reads as substituting
    each ``{field}`` with the shown value (a second, independent reading of the template)."""
    from backrx.run.decision import layer_runs, show

    values: dict[str, Value] = {"age": 71, "pain.intensity": 7.5, "leg_pain": True,
                                "pathways": frozenset({"flexion_bias", "lumbar_stabilization"})}
    checked = 0
    for layer in layer_runs(rules.pack):
        for run in layer:
            for template, parsed in ((run.rule.rationale, run.rationale), (run.rule.patient, run.patient)):
                if template is None:
                    continue
                expected = re.sub(r"\{([^{}]+)\}", lambda m: show(values.get(m[1])), template)
                assert fill(parsed, values) == expected, run.rule.id
                checked += 1
    assert checked > 100


def test_the_fact_writer_takes_subclasses_of_the_usual_types() -> None:
    """A value of a subclass of bool's base, str, float or frozenset is written as its base type is."""
    import enum

    from backrx.engine.wire import FactWriter, encode, fact_json

    class Text(str):
        pass

    class Count(enum.IntEnum):
        TWO = 2

    class Members(frozenset[str]):
        pass

    values: dict[str, Any] = {"a": Text("é"), "b": Count.TWO, "c": Members({"x", "y"}), "d": 0.5}
    fields = tuple(values)
    assert FactWriter(fields)(values) == fact_json(encode(values, fields))
