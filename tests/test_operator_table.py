"""The operator table drives the loader, both engines and the rule schema: one entry adds an operator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.conftest import ENGINES, base_profile

import backrx
from backrx.lang.condition import OPERATORS, Operator, register_operator, unregister_operator
from backrx.model.vocabulary import FIELDS
from backrx.pack.schema import schemas


def _ne_durable(key: str, member: str, value: object, negate: bool) -> dict[str, object]:
    if negate:
        return {"$or": [{"$eq": {key: value}}, {"$nex": {key: 1}}]}
    return {"$and": [{"$ex": {key: 1}}, {"$neq": {key: value}}]}


NE = Operator("ne", ("int", "float", "enum"), "scalar", lambda a, v: bool(a != v), _ne_durable,
              {"type": ["string", "number", "boolean"]}, "differs from the value (a known value only)",
              lambda value, negate: 2 if negate else 1)

RULE = """
  - id: classify.test-not-lower
    title: Pain site other than lower
    when: {pain_site: {ne: lower}}
    then: {explain: true}
    rationale: Pain is not in the lower back.
    sources: [long-2004]
"""


def test_operators_of_each_field_kind_come_from_the_table() -> None:
    """A field's allowed operators are exactly the table's entries for its kind, in table order."""
    for spec in FIELDS.values():
        assert spec.operators == tuple(name for name, op in OPERATORS.items() if spec.kind in op.kinds)


@pytest.fixture
def ne_registered() -> Iterator[Operator]:
    """`ne` in the operator table for one test, taken out again after it."""
    register_operator(NE)
    try:
        yield NE
    finally:
        unregister_operator("ne")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_new_operator_is_one_registration(pack_copy: Path, engine: str, ne_registered: Operator) -> None:
    """Registering `ne` alone makes the loader accept it, the engines run it and the schema list it."""
    path = pack_copy / "classification.yaml"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + RULE, encoding="utf-8")
    rules = backrx.load_rules(pack_copy, engine=engine)  # type: ignore[arg-type]
    fired = {site: "classify.test-not-lower" in {f.rule_id for f in rules.recommend(
        base_profile(pain_site=site)).trace} for site in ("lower", "middle", "upper")}
    assert fired == {"lower": False, "middle": True, "upper": True}
    ops = schemas()["rules"]["$defs"]["condition"]["additionalProperties"]["oneOf"][0]["properties"]
    assert "ne" in ops


def test_without_the_entry_the_operator_is_unknown(pack_copy: Path) -> None:
    """The same rule without the table entry is refused as an unknown operator on its line."""
    path = pack_copy / "classification.yaml"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + RULE, encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(pack_copy, engine="reference")
    assert [p.code for p in info.value.problems] == ["unknown-operator"]


def test_the_operator_table_cannot_be_changed_by_accident() -> None:
    """Writing to or deleting from the public operator table raises; the table stays as it was."""
    before = dict(OPERATORS)
    with pytest.raises(TypeError):
        OPERATORS["ne"] = NE  # type: ignore[index]
    with pytest.raises(TypeError):
        del OPERATORS["eq"]  # type: ignore[attr-defined]
    assert dict(OPERATORS) == before


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "eq"}, "already in the table"),
    ({"name": "any"}, "combinator"),
    ({"name": "Not Equal"}, "lower-case"),
    ({"kinds": ()}, "kinds"),
    ({"kinds": ("date",)}, "kinds"),
    ({"argument": "pair"}, "argument"),
    ({"holds": "a != v"}, "functions"),
    ({"description": " "}, "description"),
])
def test_registration_refuses_a_malformed_or_clashing_operator(change: dict[str, object],
                                                               message: str) -> None:
    """An operator with a taken name, unknown kind or argument, or no meaning is refused, naming why."""
    with pytest.raises(ValueError, match=message):
        register_operator(replace(NE, **change))  # type: ignore[arg-type]
    assert "ne" not in OPERATORS and OPERATORS["eq"].description == "equals the value"


def test_a_built_in_operator_cannot_be_unregistered() -> None:
    """unregister_operator removes extensions only: a built-in name is a KeyError and stays."""
    with pytest.raises(KeyError):
        unregister_operator("eq")
    assert "eq" in OPERATORS
