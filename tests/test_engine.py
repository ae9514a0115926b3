"""Both engines reach the same decisions; the durable adapter contains durable's hazards."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import base_profile, needs_durable

import backrx
from backrx.engine import ReferenceEngine
from backrx.lang.condition import (
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    FieldTest,
    NotOf,
    Value,
    alternatives,
    evaluate,
)
from backrx.pack.load import read_pack
from backrx.pack.model import Layer, Pack, Rule, Then
from backrx.testing import profiles

SRC = str(Path(__file__).resolve().parent.parent / "src")


def _decision_view(rec: backrx.Recommendation) -> str:
    return rec.model_dump_json()


@pytest.fixture(scope="module")
def durable_rules() -> backrx.RuleSet:
    """The bundled pack on durable_rules."""
    return backrx.load_rules(engine="durable")


@needs_durable
@settings(max_examples=500)
@given(profile=profiles())
def test_engines_agree(
    profile: dict[str, Any], durable_rules: backrx.RuleSet, reference_rules: backrx.RuleSet
) -> None:
    """durable_rules and the reference evaluator give byte-identical recommendations and traces."""
    assert _decision_view(durable_rules.recommend(profile)) == _decision_view(
        reference_rules.recommend(profile))


# ---- every operator form the adapter emits, in both polarities, against the reference

_VALUES: list[dict[str, Value]] = [
    {},
    {"age": 30, "stage": "acute", "red_flags": frozenset()},
    {"age": 40, "stage": "chronic", "red_flags": frozenset({"cancer_history"}),
     "findings.straight_leg_raise_deg": 91.0, "findings.aberrant_movement": True},
    {"age": 41, "stage": "subacute", "red_flags": frozenset({"cancer_history", "major_trauma"}),
     "findings.straight_leg_raise_deg": 91.5, "findings.aberrant_movement": False},
    {"age": 110, "findings.straight_leg_raise_deg": 5e-05},
]

_TESTS: list[Condition] = [
    FieldTest("age", "eq", 40),
    FieldTest("age", "lt", 40),
    FieldTest("age", "lte", 40),
    FieldTest("age", "gt", 40),
    FieldTest("age", "gte", 40),
    FieldTest("age", "in", (30, 41)),
    FieldTest("age", "exists", True),
    FieldTest("age", "exists", False),
    FieldTest("stage", "eq", "acute"),
    FieldTest("stage", "in", ("acute", "chronic")),
    FieldTest("red_flags", "contains", "cancer_history"),
    FieldTest("red_flags", "exists", True),
    FieldTest("findings.straight_leg_raise_deg", "gt", 91),
    FieldTest("findings.straight_leg_raise_deg", "lt", 1e-4),
    FieldTest("findings.aberrant_movement", "eq", True),
    FieldTest("findings.aberrant_movement", "eq", False),
]


def _pack_of(condition: Condition) -> Pack:
    rule = Rule("x.rule", "t", "classification", 0, condition, Then(), "r", ("s",), "f.yaml", 1)
    layers = tuple(Layer(name, (rule,) if name == "classification" else (), ("age",))
                   for name in ("triage", "classification", "components", "exclusions", "dosing"))
    fields = tuple(sorted({"age", "stage", "red_flags", "findings.straight_leg_raise_deg",
                           "findings.aberrant_movement"}))
    layers = tuple(Layer(layer.name, layer.rules, fields) for layer in layers)
    return Pack("p", "1", "", "sha256:" + "0" * 64, "", layers, {}, {}, ())


@needs_durable
@pytest.mark.parametrize("test", _TESTS, ids=lambda t: f"{t.field}-{t.op}-{t.value}")
@pytest.mark.parametrize("negate", [False, True], ids=["plain", "not"])
def test_operator_forms_match_reference(test: Condition, negate: bool) -> None:
    """Each operator, plain and negated, matches the same facts on durable as in the reference."""
    from backrx.engine._durable import DurableEngine

    condition: Condition = NotOf(test) if negate else test
    engine = DurableEngine(_pack_of(condition))
    for values in _VALUES:
        assert (engine.match(1, values) == [0]) == evaluate(condition, values), values


_leaf = st.sampled_from(_TESTS)
_trees = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: AllOf(tuple(xs))),
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: AnyOf(tuple(xs))),
        inner.map(NotOf),
        st.lists(inner, min_size=2, max_size=5).flatmap(
            lambda xs: st.integers(1, len(xs)).map(lambda n: AtLeast(n, tuple(xs)))),
    ),
    max_leaves=12,
)


@needs_durable
@settings(max_examples=150)
@given(_trees)
def test_condition_trees_match_reference(condition: Condition) -> None:
    """Arbitrary all/any/not/at_least trees compile to durable with the reference meaning."""
    from backrx.engine._durable import DurableEngine, compile_condition, split

    assert len(split(compile_condition(condition))) <= alternatives(condition)

    engine = DurableEngine(_pack_of(condition))
    for values in _VALUES:
        assert (engine.match(1, values) == [0]) == evaluate(condition, values), values


def test_reference_engine_matches_in_pack_order() -> None:
    """The reference engine returns rule positions in pack order."""
    pack = read_pack()
    engine = ReferenceEngine(pack)
    from backrx.run.facts import profile_values

    values = profile_values(backrx.Profile.model_validate(base_profile()))
    triage = [layer.name for layer in pack.layers].index("triage")
    matched = engine.match(triage, values)
    assert matched == sorted(matched)
    # Several rules of one layer must hold, or any order would pass: three red flags match three
    # triage rules and the safety net, and the positions come back rising.
    flagged = profile_values(backrx.Profile.model_validate(base_profile(
        red_flags=["cancer_history", "saddle_anaesthesia", "fever_or_infection"])))
    several = engine.match(triage, flagged)
    assert len(several) >= 4
    assert several == sorted(several) and len(set(several)) == len(several)


# ---- threads, isolation, memory, crashes


@needs_durable
def test_many_threads_share_one_ruleset() -> None:
    """8 threads x 1,000 recommendations on one RuleSet: no crash, every result equals the serial one."""
    rules = backrx.load_rules(engine="durable")
    inputs = [
        base_profile(age=20 + i % 60, duration_weeks=float(i % 30), pain_intensity=i % 11,
                     directional_preference=("extension", "flexion", "none", "unknown")[i % 4],
                     red_flags=[] if i % 7 else ["cancer_history"])
        for i in range(50)
    ]
    expected = [rules.recommend(p).model_dump_json() for p in inputs]
    before = threading.active_count()

    def work(seed: int) -> int:
        wrong = 0
        for k in range(1000):
            i = (seed * 7 + k) % len(inputs)
            if rules.recommend(inputs[i]).model_dump_json() != expected[i]:
                wrong += 1
        return wrong

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, range(8))) == [0] * 8
    assert threading.active_count() <= before


@needs_durable
def test_engine_starts_no_threads() -> None:
    """Loading a pack on durable_rules and recommending starts no background thread."""
    before = {t.ident for t in threading.enumerate()}
    rules = backrx.load_rules(engine="durable")
    rules.recommend(base_profile())
    assert {t.ident for t in threading.enumerate()} <= before


_BARE_HOST_CRASH = textwrap.dedent("""
    from durable import engine
    host = engine.Host()
    host.set_rulesets({"bare": {"r": {"all": [{"m": {"kind": "x"}}], "pri": 1,
                                      "run": lambda c: None}}})
    try:
        host.assert_fact("bare", {"sid": "1", "kind": "nothing-matches"})
    except engine.MessageNotHandledException:
        pass
    host.delete_state("bare", "1")   # durable frees state it never initialised: SIGSEGV
    print("survived")
""")

_BACKRX_SAME_INPUT = textwrap.dedent("""
    import backrx
    from backrx.pack.load import read_pack
    rules = backrx.load_rules(engine="durable")
    # Profiles that match no rule in several layers: a bare Host would crash on cleanup.
    for i in range(2000):
        rules.recommend({"age": 30 + i % 50, "stage": "acute", "pain_site": "lower",
                         "leg_pain": "none", "pain_intensity": i % 11, "tolerance": "high",
                         "red_flags": []})
    print("survived")
""")


@needs_durable
@pytest.mark.slow
def test_crash_is_contained() -> None:
    """An unhandled fact crashes durable's bare API on cleanup; backrx survives the same situation."""
    bare = subprocess.run([sys.executable, "-c", _BARE_HOST_CRASH], capture_output=True, text=True,
                          timeout=120, check=False)
    assert bare.returncode < 0 and "survived" not in bare.stdout  # killed by a signal
    ours = subprocess.run([sys.executable, "-c", _BACKRX_SAME_INPUT], capture_output=True, text=True,
                          timeout=300, check=False, env={"PYTHONPATH": SRC, "PATH": ""})
    assert ours.returncode == 0, ours.stderr
    assert "survived" in ours.stdout


@needs_durable
def test_no_fact_outlives_its_request() -> None:
    """After each recommendation every durable session is empty: nothing of one request reaches the next."""
    import durable_rules_engine

    rules = backrx.load_rules(engine="durable")
    rules.recommend(base_profile(directional_preference="extension", red_flags=["inflammatory_back_pain"]))
    shards = [shard for run in rules._engine._runs for shard in run.shards]  # type: ignore[attr-defined]
    assert shards
    for shard in shards:
        try:
            facts = json.loads(durable_rules_engine.get_facts(shard.handle, "1"))
        except durable_rules_engine.error:  # the session was never used
            continue
        assert facts == [] or facts == {}, facts


@needs_durable
def test_an_interrupted_run_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """If a run is interrupted mid-way (e.g. KeyboardInterrupt), the next request is unaffected."""
    import durable_rules_engine

    from backrx.engine import _durable

    rules = backrx.load_rules(engine="durable")
    good = base_profile()
    flagged = base_profile(red_flags=["saddle_anaesthesia"])
    expected = rules.recommend(good).model_dump_json()

    class Interrupting:
        calls = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(durable_rules_engine, name)

        def start_action_for_state(self, *args: Any) -> Any:
            Interrupting.calls += 1
            raise KeyboardInterrupt

    monkeypatch.setattr(_durable, "_dre", Interrupting())
    with pytest.raises(KeyboardInterrupt):
        rules.recommend(flagged)
    monkeypatch.setattr(_durable, "_dre", durable_rules_engine)
    assert Interrupting.calls >= 1  # the run, then the rebuild's self-check (interrupted too)
    assert rules.recommend(good).model_dump_json() == expected
    assert rules.recommend(flagged).outcome == "refer"
    assert rules.recommend(good).model_dump_json() == expected


@needs_durable
def test_many_tests_on_one_field_do_not_hang_registration(pack_copy: Path) -> None:
    """Rules with long `in` lists on one field are spread over rulesets, so loading returns."""
    values = ", ".join(str(1000.5 + i) for i in range(50))
    rules = "\n".join(
        f"  - id: triage.many-{i}\n    title: Many values {i}\n"
        f"    when: {{duration_weeks: {{in: [{values}]}}}}\n    then: {{explain: true}}\n"
        f"    rationale: Never fires.\n    sources: [hill-2008]"
        for i in range(12)
    )
    (pack_copy / "many.yaml").write_text(f"layer: triage\nrules:\n{rules}\n")
    code = (f"import backrx; r = backrx.load_rules({str(pack_copy)!r}, engine='durable'); "
            "print(r.recommend({'age': 40, 'duration_weeks': 1000.5, 'pain_site': 'lower', "
            "'leg_pain': 'none', 'pain_intensity': 3, 'tolerance': 'high', 'red_flags': []}).outcome)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False, env={"PYTHONPATH": SRC, "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "program"


def test_the_reference_engine_is_an_interpreter_and_the_compiled_one_is_apart(monkeypatch: Any) -> None:
    """The reference engine (the oracle) builds and matches without generating or compiling any
    code; engine="compiled" is the compiled matcher, and "auto" picks it where durable is absent."""
    import builtins

    import backrx.engine as engines

    pack = read_pack()

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the reference engine generated code")

    with monkeypatch.context() as patched:
        patched.setattr(builtins, "exec", refused)
        patched.setattr(builtins, "compile", refused)
        rules = backrx.RuleSet(pack, "reference")
        rec = rules.recommend(base_profile(red_flags=["saddle_anaesthesia"]))
    assert rules.engine == "reference" and rec.outcome == "refer"
    assert backrx.RuleSet(pack, "compiled").engine == "compiled"
    monkeypatch.setattr(engines, "durable_available", lambda: False)
    assert engines.make_engine(pack, "auto").name == "compiled"
