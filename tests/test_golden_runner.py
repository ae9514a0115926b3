"""`backrx test`: a pack's golden cases as a product feature, with file:line on every failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import backrx
from backrx import cli
from backrx.audit.cases import EXPECTATIONS, read_cases, run_cases
from backrx.pack.rulepack import bundled_path


@pytest.fixture
def pack_with_cases(tmp_path: Path) -> Path:
    """A writable copy of the bundled pack, golden cases included."""
    target = tmp_path / "pack"
    shutil.copytree(bundled_path(), target)
    return target


def test_bundled_pack_passes_its_cases(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx test` on the bundled pack runs every case, recommend and adjust, and exits 0."""
    assert cli.main(["test"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    cases, _ = read_cases(bundled_path())
    assert last == f"{len(cases)} passed, 0 failed, 0 errors"
    assert {c.kind for c in cases} == {"recommend", "adjust"}


def test_broken_expectation_fails_with_file_and_line(pack_with_cases: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A case whose expectation no longer holds fails, naming its file and line."""
    path = pack_with_cases / "cases" / "triage.yaml"
    text = path.read_text(encoding="utf-8")
    old = "expect: {outcome: refer, urgency: emergency, fired: [triage.cauda-equina.saddle]}"
    assert text.count(old) == 1
    path.write_text(text.replace(old, old.replace("urgency: emergency", "urgency: routine")),
                    encoding="utf-8")
    line = next(n for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if "name: saddle-numbness-is-an-emergency" in row)
    assert cli.main(["test", str(pack_with_cases)]) == 1
    out = capsys.readouterr().out
    assert f"cases/triage.yaml:{line}  saddle-numbness-is-an-emergency  FAIL" in out
    assert "urgency: expected 'routine', got 'emergency'" in out


def test_case_without_expectation_fails(pack_with_cases: Path) -> None:
    """A case that states nothing could never fail, so it fails."""
    (pack_with_cases / "cases" / "empty.yaml").write_text(
        "cases:\n  - name: says-nothing\n    profile: {age: 40, duration_weeks: 20, pain_site: lower,"
        " leg_pain: none, pain_intensity: 3, tolerance: moderate, red_flags: []}\n    expect: {}\n",
        encoding="utf-8")
    report = run_cases(backrx.load_rules(pack_with_cases))
    failed = [r for r in report.results if r.status != "pass"]
    assert [(r.case.name, r.status, r.where) for r in failed] == [
        ("says-nothing", "fail", "cases/empty.yaml:2")]
    assert not report.ok


def test_unknown_expectation_is_an_error_on_its_line(pack_with_cases: Path) -> None:
    """An expect key outside the vocabulary is an error naming the key's own line."""
    (pack_with_cases / "cases" / "typo.yaml").write_text(
        "cases:\n  - name: typo\n    profile: {age: 40, duration_weeks: 20, pain_site: lower,"
        " leg_pain: none, pain_intensity: 3, tolerance: moderate, red_flags: []}\n"
        "    expect:\n      outcome: program\n      urgancy: null\n", encoding="utf-8")
    report = run_cases(backrx.load_rules(pack_with_cases))
    bad = next(r for r in report.results if r.case.name == "typo")
    assert bad.status == "error"
    assert bad.messages[0].startswith("cases/typo.yaml:6  unknown expectation 'urgancy'")


def test_pack_without_cases_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pack with no golden cases at all fails `backrx test`: nothing was checked."""
    target = tmp_path / "pack"
    shutil.copytree(bundled_path(), target, ignore=shutil.ignore_patterns("cases"))
    assert cli.main(["test", str(target), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["results"] == []


def test_expectation_table_in_the_docs_equals_the_code() -> None:
    """docs/rule-pack.md lists exactly the expect vocabulary, with its kinds and meanings."""
    doc = (Path(__file__).parent.parent / "docs" / "rule-pack.md").read_text(encoding="utf-8")
    section = doc[doc.index("The `expect` vocabulary"):]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{k}` | {', '.join(e.kinds)} | {e.meaning} |" for k, e in EXPECTATIONS.items()]
