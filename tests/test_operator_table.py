"""The operator table drives the loader, both engines and the rule schema: one entry adds an operator."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ENGINES, base_profile

import backrx
from backrx.lang.condition import OPERATORS, Operator
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


@pytest.mark.parametrize("engine", ENGINES)
def test_a_new_operator_is_one_table_entry(pack_copy: Path, engine: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding `ne` to the table alone makes the loader accept it, the engines run it, the schema list it."""
    monkeypatch.setitem(OPERATORS, "ne", NE)
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
