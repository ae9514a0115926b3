"""The action table drives the loader, the rule schema and the runner's conflict policies."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from tests.conftest import base_profile

import backrx
from backrx.engine import make_engine
from backrx.pack.actions import ACTIONS, LAYER_ACTIONS, POLICIES, actions_of, exposed_by, independent_runs
from backrx.pack.load import read_pack
from backrx.pack.model import LAYERS, Then
from backrx.pack.schema import schemas
from backrx.run.decision import decide
from backrx.run.facts import profile_values
from backrx.testing import profiles


def test_layer_actions_follow_the_table() -> None:
    """Each layer's allowed actions are exactly the table entries naming that layer, in table order."""
    for layer in LAYERS:
        assert LAYER_ACTIONS[layer] == tuple(n for n, a in ACTIONS.items() if layer in a.layers)
    assert set(LAYER_ACTIONS) == set(LAYERS)


def test_every_action_names_a_conclusion_and_a_known_policy() -> None:
    """Every action writes a field of Then (or nothing, for explain) under a documented policy."""
    fields = set(Then.__dataclass_fields__)
    for action in ACTIONS.values():
        assert action.policy in POLICIES
        assert action.writes in fields or (action.writes == "" and action.policy == "none")
        assert all(layer in LAYERS for layer in action.layers)


def test_the_rule_schema_lists_the_table() -> None:
    """`backrx schema rules` offers exactly the table's actions in a then-clause, with their schemas."""
    then = schemas()["rules"]["$defs"]["rule"]["properties"]["then"]["properties"]
    assert set(then) == set(ACTIONS)
    assert then["risk"]["enum"] == ACTIONS["risk"].schema["enum"]


def test_the_docs_list_every_action_and_policy() -> None:
    """docs/rule-pack.md names every action of the table and every conflict policy."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "rule-pack.md").read_text(encoding="utf-8")
    for name in (*ACTIONS, *POLICIES):
        assert f"`{name}`" in text, name


def test_an_action_outside_its_layers_names_them(pack_copy: Path) -> None:
    """`risk` in a dosing rule is refused with the layers the table allows it in."""
    (pack_copy / "extra.yaml").write_text(
        "layer: dosing\nrules:\n  - id: dose.test-risk\n    title: t\n    when: {always: true}\n"
        "    then: {risk: low}\n    rationale: r\n    sources: [hill-2008]\n", encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    [problem] = info.value.problems
    assert problem.code == "action-not-allowed" and "classification layer, not dosing" in problem.message


RISKY = """
  - id: classify.test-risk-a
    title: Test risk A
    priority: 2
    when: {always: true}
    then: {risk: medium, set: {test_flag: 1}}
    rationale: Test.
    sources: [hill-2008]
  - id: classify.test-risk-b
    title: Test risk B
    priority: 3
    when: {always: true}
    then: {risk: high, set: {test_flag: 2}}
    rationale: Test.
    sources: [hill-2008]
"""
READER = """
  - id: components.test-reads-flag
    title: Reads the flag
    when: {derived.test_flag: {gte: 1}}
    then: {explain: true}
    rationale: Test.
    sources: [hill-2008]
"""


def test_first_by_trace_order_decides_and_a_conflict_is_recorded(pack_copy: Path) -> None:
    """Two rules concluding different risks and derived values: the first decides, the next is a conflict."""
    for name, text in (("classification.yaml", RISKY), ("components.yaml", READER)):
        path = pack_copy / name
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + text, encoding="utf-8")
    pack = read_pack(pack_copy)
    decision = decide(pack, make_engine(pack, "reference"), profile_values(
        backrx.Profile.model_validate(base_profile())))
    assert decision.risk == "medium" and decision.values["derived.test_flag"] == 1
    found = {(c.conclusion, c.kept, c.kept_rule, c.dropped, c.dropped_rule) for c in decision.conflicts}
    assert found == {("risk", "medium", "classify.test-risk-a", "high", "classify.test-risk-b"),
                     ("derived.test_flag", 1, "classify.test-risk-a", 2, "classify.test-risk-b")}


def test_the_most_urgent_referral_wins_and_every_reason_is_kept(reference_rules: backrx.RuleSet) -> None:
    """Two triage referrals of different tiers: the most urgent tier, with both reasons."""
    rec = reference_rules.recommend(base_profile(red_flags=["saddle_anaesthesia", "iv_drug_use"]))
    assert rec.referral is not None and rec.referral.urgency == "emergency"
    assert len(rec.referral.reasons) >= 2


def test_a_triage_rule_is_known_by_its_file_not_its_id(pack_copy: Path) -> None:
    """A broken referral rule of triage.yaml whose id does not start with "triage." still holds back the
    red-flag coverage check (its layer comes from its file)."""
    path = pack_copy / "triage.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - id: triage.infection.iv-drug-use")
    end = text.index("\n  - id:", start + 1)
    rule = text[start:end].replace("id: triage.infection.iv-drug-use", "id: infection.iv-drug-use", 1)
    rule = rule.replace("when:", "when: {no_such_field: 1}\n    old_when:", 1)
    path.write_text(text[:start] + rule + text[end:], encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    codes = {p.code for p in info.value.problems}
    assert "red-flag-without-referral" not in codes and "unknown-key" in codes


@settings(max_examples=150, deadline=None)
@given(profile=profiles())
def test_the_runner_shows_later_layers_only_what_the_table_says(profile: dict[str, Any]) -> None:
    """Every fact the runner adds for later layers is one the action table's ``exposes`` names for
    a rule that fired: the table is what decides which layers may be matched together."""
    rules = _RULES
    values = profile_values(backrx.Profile.model_validate(profile))
    decision = decide(rules.pack, rules._engine, values)
    added = set(decision.values) - set(values)
    shown: set[str] = set()
    for fired in decision.fired:
        for action in actions_of(fired.rule.then):
            if action.exposes.endswith("."):
                shown |= {action.exposes + name for name, _ in fired.rule.then.set}
            elif action.exposes:
                shown.add(action.exposes)
    assert added <= shown


def test_no_layer_is_matched_with_one_whose_conclusion_it_reads() -> None:
    """In each run of layers matched together, no layer reads a fact an earlier one of the run
    concludes, and all read the same inputs; the bundled pack makes the runs the docs name."""
    pack = _RULES.pack
    runs = independent_runs(pack.layers)
    assert [i for run in runs for i in run] == list(range(len(pack.layers)))
    for run in runs:
        for k, index in enumerate(run):
            earlier = set().union(*(exposed_by(pack.layers[i]) for i in run[:k]))
            assert not earlier & set(pack.layers[index].fields)
            assert pack.layers[index].inputs == pack.layers[run[0]].inputs
    names = [tuple(pack.layers[i].name for i in run) for run in runs]
    # states alone: triage reads the clinical states (derived.*) that layer concludes.
    assert names == [("states",), ("triage", "classification"), ("components",),
                     ("exclusions", "dosing"), ("adjust",)]


def test_a_layer_that_reads_an_earlier_conclusion_starts_a_new_run() -> None:
    """A layer reading ``pathways`` is not matched with the layer that sets them, nor a layer
    reading a derived fact with the layer that sets it."""
    pack = _RULES.pack
    by_name = {layer.name: layer for layer in pack.layers}
    classification, components = by_name["classification"], by_name["components"]
    assert "pathways" in exposed_by(classification) and "pathways" in components.fields
    assert independent_runs([classification, components]) == ((0,), (1,))
    reader = dataclasses.replace(by_name["dosing"], fields=("derived.severe_pain",))
    assert "derived.severe_pain" in exposed_by(classification)
    assert independent_runs([classification, reader]) == ((0,), (1,))
    assert independent_runs([by_name["triage"], reader]) == ((0, 1),)


_RULES = backrx.load_rules()


@pytest.mark.parametrize("table", [ACTIONS, LAYER_ACTIONS, POLICIES], ids=["actions", "layers", "policies"])
def test_the_action_tables_cannot_be_changed_by_accident(table: Any) -> None:
    """Writing an entry into, or deleting one from, the action, layer or policy table raises."""
    first = next(iter(table))
    before = dict(table)
    with pytest.raises(TypeError):
        table[first] = table[first]
    with pytest.raises(TypeError):
        del table[first]
    assert dict(table) == before
