"""Dead inputs: the audit finds profile fields no rule reads and fields whose change alters nothing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import backrx
from backrx.audit.fields import FieldAudit, field_readers
from backrx.audit.run import audit, audit_command
from backrx.errors import RuleError
from backrx.pack.fields import field_notes, profile_leaves
from backrx.pack.load import read_pack
from backrx.pack.read import bundled_path
from backrx.run.inputs import PLANNER_FIELDS
from backrx.testing import PLAIN_PROFILE

EXAMPLES = 200


def _copy_pack(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(bundled_path(), target)
    return target


def _edit(pack: Path, file: str, change: Callable[[dict[str, Any]], None]) -> None:
    doc = yaml.safe_load((pack / file).read_text(encoding="utf-8"))
    change(doc)
    (pack / file).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _fields(pack: Path | None, examples: int = EXAMPLES) -> FieldAudit:
    report = audit(backrx.load_rules(pack, engine="reference"), max_examples=examples, invariants=[])
    assert report.fields is not None
    return report.fields


def _sole_reader(field: str) -> str:
    """The one rule of the bundled pack that reads ``field`` (the test needs exactly one)."""
    readers = field_readers(read_pack(), PLAIN_PROFILE)[field]
    assert len(readers) == 1, readers
    return readers[0]


@pytest.fixture(scope="module")
def bundled() -> FieldAudit:
    """The field audit of the bundled pack over 200 generated profiles (shared below)."""
    return _fields(None)


def test_bundled_pack_has_no_dead_or_inert_fields(bundled: FieldAudit) -> None:
    """Every profile field of the bundled pack is read and alters some decision, or is declared."""
    assert bundled.ok, "\n".join(bundled.text_lines())
    assert (bundled.dead, bundled.inert, bundled.stale) == ((), (), ())


def test_every_profile_leaf_is_accounted_for(bundled: FieldAudit) -> None:
    """Each leaf of the profile model is read, declared informational, or read only by adjust."""
    leaves = set(profile_leaves())
    assert set(bundled.readers) == leaves
    for path in leaves:
        assert bundled.readers[path] or path in bundled.informational, path
    assert {"findings.weakness", "outcomes.walk_minutes", "startback.bothersomeness"} <= leaves


def test_declared_fields_carry_their_reason(bundled: FieldAudit) -> None:
    """The bundled declarations name real fields, each with a reason, and no rule reads them."""
    notes = field_notes(bundled_path())
    assert notes.informational == bundled.informational
    assert notes.informational and all(len(reason) > 40 for reason in notes.informational.values())
    for path in notes.informational:
        assert not bundled.readers[path], path


def test_scores_and_the_planner_count_as_readers(bundled: FieldAudit) -> None:
    """STarT Back items are read through the scores, the planner's fields by the planner."""
    assert any("(via startback.total)" in r for r in bundled.readers["startback.worrying_thoughts"])
    for path in PLANNER_FIELDS:
        assert "planner" in bundled.readers[path]


def test_static_pass_finds_a_field_whose_only_rule_is_removed(tmp_path: Path) -> None:
    """Removing the only rule that reads hamstring tightness makes that field dead."""
    rule_id = _sole_reader("findings.hamstring_tightness")
    pack = _copy_pack(tmp_path)
    rule = next(r for r in read_pack(pack).rules if r.id == rule_id)
    _edit(pack, rule.file, lambda doc: doc.update(rules=[r for r in doc["rules"] if r["id"] != rule_id]))
    found = _fields(pack, examples=20)
    assert "findings.hamstring_tightness" in found.dead
    assert not found.ok
    assert "DEAD     findings.hamstring_tightness" in "\n".join(found.text_lines())


def test_sensitivity_pass_finds_a_field_whose_only_rule_is_neutralised(tmp_path: Path) -> None:
    """A rule that still reads the wound finding but can never hold leaves that field inert."""
    rule_id = _sole_reader("findings.wound_problem")
    pack = _copy_pack(tmp_path)
    rule = next(r for r in read_pack(pack).rules if r.id == rule_id)

    def neutralise(doc: dict[str, Any]) -> None:
        found = next(r for r in doc["rules"] if r["id"] == rule_id)
        found["when"] = {"all": [found["when"], {"age": {"gt": 200}}]}

    _edit(pack, rule.file, neutralise)
    found = _fields(pack, examples=50)
    assert "findings.wound_problem" not in found.dead
    assert "findings.wound_problem" in found.inert
    assert found.tested["findings.wound_problem"] > 0


def test_a_declaration_a_rule_reads_is_stale(tmp_path: Path) -> None:
    """Declaring a field informational that a rule reads is reported as a stale declaration."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "fields.yaml", lambda doc: doc["informational"].update(
        {"findings.weakness": "Claimed to decide nothing, though the states layer reads it."}))
    found = _fields(pack, examples=10)
    assert [path for path, _ in found.stale] == ["findings.weakness"]
    assert found.readers["findings.weakness"][0] in dict(found.stale)["findings.weakness"]


def test_unknown_declared_field_is_a_pack_problem(tmp_path: Path) -> None:
    """A fields.yaml path that is not a profile field, or a missing reason, refuses the pack (file, line)."""
    pack = _copy_pack(tmp_path)
    with (pack / "fields.yaml").open("a", encoding="utf-8") as out:
        out.write("  findings.weaknes: A typo.\n  history.osteoporosis: ''\n")
    with pytest.raises(RuleError) as caught:
        read_pack(pack)
    problems = {(p.file, p.code): p for p in caught.value.problems}
    assert problems[("fields.yaml", "unknown-field")].line is not None
    assert "findings.weakness" in problems[("fields.yaml", "unknown-field")].message  # the hint
    assert ("fields.yaml", "missing-reason") in problems


@pytest.mark.slow
def test_audit_command_fails_without_a_neurological_rule(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """backrx audit exits 1 on a pack copy without triage.neuro.progressive."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "triage.yaml", lambda doc: doc.update(
        rules=[r for r in doc["rules"] if r["id"] != "triage.neuro.progressive"]))
    assert audit_command(str(pack), 100, 0, "text") == 1
    out = capsys.readouterr().out
    assert "safety.net-consistent" in out and "Profile fields:" in out
