"""Golden cases inside the audit: `backrx audit` runs a pack's cases, and every problem has file:line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import backrx
from backrx import cli
from backrx.audit.cases import read_cases, run_cases
from backrx.audit.run import golden_case_coverage
from backrx.pack.read import bundled_path

SADDLE = "expect: {outcome: refer, urgency: emergency, fired: [triage.cauda-equina.saddle]}"


@pytest.fixture
def pack_with_cases(tmp_path: Path) -> Path:
    """A writable copy of the bundled pack, golden cases included."""
    target = tmp_path / "pack"
    shutil.copytree(bundled_path(), target)
    return target


def _break_saddle_case(pack: Path) -> int:
    """Make the saddle case expect a routine referral; return the line of that expectation."""
    path = pack / "cases" / "triage.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(SADDLE) == 1
    path.write_text(text.replace(SADDLE, SADDLE.replace("urgency: emergency", "urgency: routine")),
                    encoding="utf-8")
    return next(n for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if "urgency: routine, fired: [triage.cauda-equina.saddle]" in row)


def test_a_failed_expectation_names_the_line_of_that_expectation(pack_with_cases: Path) -> None:
    """The failure message of a broken expectation starts with the file and line of the expectation."""
    line = _break_saddle_case(pack_with_cases)
    report = run_cases(backrx.load_rules(pack_with_cases, engine="reference"))
    failed = [r for r in report.results if r.status == "fail"]
    assert [r.case.name for r in failed] == ["saddle-numbness-is-an-emergency"]
    assert failed[0].messages == (f"cases/triage.yaml:{line}  urgency: expected 'routine', got 'emergency'",)


def test_a_malformed_case_is_a_problem_with_file_and_line(pack_with_cases: Path) -> None:
    """A case with a key outside name/profile/rounds/expect/note is refused at that key's line."""
    (pack_with_cases / "cases" / "bad.yaml").write_text(
        "cases:\n  - name: odd\n    profile: {age: 40}\n    expected: {outcome: program}\n", encoding="utf-8")
    cases, problems = read_cases(pack_with_cases)
    assert problems == ["cases/bad.yaml:4  case odd: unknown key 'expected' (a case has name, profile, "
                        "rounds, expect, note)"]
    assert "odd" not in {c.name for c in cases}
    assert not run_cases(backrx.load_rules(pack_with_cases, engine="reference")).ok


@pytest.mark.slow
def test_audit_runs_the_golden_cases_of_the_bundled_pack(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx audit` on the bundled pack reports its golden cases, all passing, and exits 0."""
    assert cli.main(["audit", "--examples", "10"]) == 0
    out = capsys.readouterr().out
    cases, _ = read_cases(bundled_path())
    assert f"golden cases: {len(cases)} passed, 0 failed, 0 errors" in out


@pytest.mark.slow
def test_audit_fails_on_a_broken_golden_case_and_shows_where(pack_with_cases: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """With every invariant holding, one broken expectation makes `backrx audit` exit 1, with file:line."""
    line = _break_saddle_case(pack_with_cases)
    assert cli.main(["audit", str(pack_with_cases), "--examples", "10", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True  # the invariants hold: the case alone fails the audit
    failed = [r for r in data["cases"]["results"] if r["status"] != "pass"]
    assert [(r["file"], r["name"], r["status"]) for r in failed] == [
        ("cases/triage.yaml", "saddle-numbness-is-an-emergency", "fail")]
    assert failed[0]["messages"][0].startswith(f"cases/triage.yaml:{line}  urgency:")


def test_case_coverage_reads_cases_as_backrx_test_does(pack_with_cases: Path) -> None:
    """The audit's case coverage counts cases in subfolders and names an unusable case by file:line."""
    (pack_with_cases / "cases" / "broken.yaml").write_text(
        "cases:\n  - name: too-young\n    profile: {age: -3}\n    expect: {outcome: program}\n",
        encoding="utf-8")
    by_rule, problems = golden_case_coverage(backrx.load_rules(pack_with_cases, engine="reference"))
    assert len(problems) == 1 and problems[0].startswith("cases/broken.yaml:2  too-young: recommend() raised")
    adjust_labels = {label for labels in by_rule.values() for label in labels
                     if (pack_with_cases / "cases" / "adjust" / f"{label.split('/')[0]}.yaml").exists()}
    assert adjust_labels  # cases under cases/adjust/ count too
