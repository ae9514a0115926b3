"""`backrx test`: a pack's golden cases as a product feature, with file:line on every failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import backrx
from backrx import cli
from backrx.audit.cases import EXPECTATIONS, read_cases, run_cases
from backrx.pack.read import bundled_path


@pytest.fixture
def pack_with_cases(tmp_path: Path) -> Path:
    """A writable copy of the bundled pack, golden cases included."""
    target = tmp_path / "pack"
    shutil.copytree(bundled_path(), target)
    return target


def test_bundled_pack_passes_its_cases(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx test` on the bundled pack runs every case (recommend, adjust, episode) and exits 0."""
    assert cli.main(["test"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    cases, _ = read_cases(bundled_path())
    assert last == f"{len(cases)} passed, 0 failed, 0 errors"
    assert {c.kind for c in cases} == {"recommend", "adjust", "episode"}


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


PLAIN = ("{age: 40, duration_weeks: 20, pain_site: lower, leg_pain: none, pain_intensity: 3, "
         "tolerance: moderate, red_flags: []}")


def test_every_case_gets_pass_fail_or_error_and_a_summary(pack_with_cases: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx test` prints PASS, FAIL or ERROR for every case (ERROR: it could not run: an invalid
    profile, a crash) with one-line reasons, counts them in the summary, and exits 1."""
    (pack_with_cases / "cases" / "mixed.yaml").write_text(
        "cases:\n"
        f"  - name: plain-gets-a-program\n    profile: {PLAIN}\n    expect: {{outcome: program}}\n"
        f"  - name: plain-wrongly-referred\n    profile: {PLAIN}\n    expect: {{outcome: refer}}\n"
        "  - name: age-is-not-a-number\n    profile: {age: old, duration_weeks: 20, pain_site: lower,"
        " leg_pain: none, pain_intensity: 3, tolerance: moderate, red_flags: []}\n"
        "    expect: {outcome: program}\n"
        f"  - name: a-round-that-is-a-number\n    profile: {PLAIN}\n    rounds: [5]\n"
        "    expect: {outcome: program}\n", encoding="utf-8")
    cases, _ = read_cases(pack_with_cases)
    assert cli.main(["test", str(pack_with_cases)]) == 1
    lines = capsys.readouterr().out.splitlines()
    status = {line.split("  ")[1]: line.rsplit("  ", 1)[1] for line in lines if line.startswith("cases/")}
    assert len(status) == len(cases)
    assert [status[n] for n in ("plain-gets-a-program", "plain-wrongly-referred", "age-is-not-a-number",
                                "a-round-that-is-a-number")] == ["PASS", "FAIL", "ERROR", "ERROR"]
    assert lines[-1] == f"{len(cases) - 3} passed, 1 failed, 2 errors"
    invalid = lines[lines.index(next(x for x in lines if "age-is-not-a-number" in x)) + 1]
    assert "could not run: invalid Profile: age:" in invalid and "https://" not in invalid


def test_json_report_carries_each_status_and_the_counts(pack_with_cases: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx test --format json` gives every case its status and the passed/failed/errors counts."""
    (pack_with_cases / "cases" / "bad.yaml").write_text(
        f"cases:\n  - name: plain-wrongly-referred\n    profile: {PLAIN}\n    expect: {{outcome: refer}}\n"
        "  - nameless: true\n", encoding="utf-8")
    assert cli.main(["test", str(pack_with_cases), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    statuses = [r["status"] for r in data["results"]]
    assert statuses.count("fail") == 1 and statuses.count("error") == 0
    assert (data["passed"], data["failed"], data["errors"]) == (statuses.count("pass"), 1, 1)
    assert data["ok"] is False and data["problems"][0].startswith("cases/bad.yaml:5")
