"""The safety case: the hazard log is checked against the pack, the audit and the tests, and rendered."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from tests.conftest import base_profile, dated
from tests.test_loader import line_of, replace

import backrx
from backrx import cli
from backrx.audit.invariants import default_invariants
from backrx.audit.safety_case import check_safety_case, collect_tests, read_safety_case, render_markdown
from backrx.pack.load import read_pack
from backrx.pack.read import bundled_path

TESTS = Path(__file__).resolve().parent
DOC = TESTS.parent / "docs" / "safety-case.md"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["safety-case", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bundled_safety_case_passes(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx safety-case rules` finds no error in the bundled hazard log (CI fails otherwise)."""
    code, out, err = _run(capsys, str(bundled_path()), "--tests", str(TESTS), "--format", "check")
    assert code == 0, err
    assert "0 error(s)" in out
    assert "error:" not in err and "test-not-checked" not in err


def test_a_deleted_control_rule_fails_naming_the_hazard(pack_copy: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Deleting a rule that a hazard names as a control fails the check, naming that hazard."""
    path = pack_copy / "populations.yaml"  # the post-operative limits live with their population
    text = path.read_text(encoding="utf-8")
    start = text.index("      - id: exclude.recent-surgery.light-load")
    end = text.find("\n      - id: ", start + 1)
    path.write_text(text[:start] + (text[end + 1:] if end != -1 else ""), encoding="utf-8")
    code, _, err = _run(capsys, str(pack_copy), "--tests", str(TESTS), "--format", "check")
    assert code == 1
    line = line_of(pack_copy / "safety.yaml", "rule: exclude.recent-surgery.light-load")
    assert (f"error: safety.yaml:{line}  HAZ-019  hazard HAZ-019: control rule "
            "'exclude.recent-surgery.light-load' is not a rule of the pack  [code=unknown-rule]") in err


def test_a_missing_test_or_invariant_fails_naming_the_hazard(pack_copy: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A control test that does not exist, or an invariant the audit does not run, is an error."""
    safety = pack_copy / "safety.yaml"
    replace(safety, "invariant: program.load-cap", "invariant: program.load-capped")
    replace(safety, "test: tests/test_properties.py::test_severe_pain_keeps_phase_one_light",
            "test: tests/test_properties.py::test_gone")
    code, _, err = _run(capsys, str(pack_copy), "--tests", str(TESTS), "--format", "check")
    assert code == 1
    assert "HAZ-009  hazard HAZ-009: control invariant 'program.load-capped' is not run by" in err
    assert "HAZ-009  hazard HAZ-009: control test 'tests/test_properties.py::test_gone' does not exist" in err


def test_every_red_flag_and_population_needs_a_hazard(pack_copy: Path) -> None:
    """A red-flag code or a population that no hazard covers is an error."""
    safety = pack_copy / "safety.yaml"
    replace(safety, "    red_flags: [inflammatory_back_pain]\n", "")
    replace(safety, "    populations: [pregnancy]\n", "")
    case = read_safety_case(pack_copy)
    found = check_safety_case(case, [r.id for r in read_pack(pack_copy).rules],
                              [i.id for i in default_invariants()], collect_tests(TESTS))
    errors = {(f.code, f.message) for f in found if f.severity == "error"}
    assert errors == {("red-flag-without-hazard", "no hazard covers the red flag inflammatory_back_pain"),
                      ("population-without-hazard", "no hazard covers the population pregnancy")}


def test_ratings_must_follow_the_matrix(pack_copy: Path) -> None:
    """A residual risk above the initial one, or above acceptable without a justification, fails."""
    safety = pack_copy / "safety.yaml"
    replace(safety, "    residual_risk: {severity: significant, likelihood: very-low}\n    status: closed\n\n"
            "  - id: HAZ-010", "    residual_risk: {severity: major, likelihood: very-high}\n"
            "    status: closed\n\n  - id: HAZ-010")
    found = check_safety_case(read_safety_case(pack_copy), [r.id for r in read_pack(pack_copy).rules],
                              [i.id for i in default_invariants()], collect_tests(TESTS))
    assert {(f.hazard, f.code) for f in found if f.severity == "error"} == {
        ("HAZ-009", "residual-above-initial"), ("HAZ-009", "unjustified-risk")}


def test_a_malformed_hazard_is_a_rule_error_with_its_line(pack_copy: Path) -> None:
    """A severity outside the matrix is refused with file, line and the hazard's id."""
    safety = pack_copy / "safety.yaml"
    replace(safety, "    initial_risk: {severity: minor, likelihood: high}",
            "    initial_risk: {severity: tiny, likelihood: high}")
    with pytest.raises(backrx.RuleError) as info:
        read_safety_case(pack_copy)
    (problem,) = info.value.problems
    assert (problem.file, problem.rule_id, problem.code) == ("safety.yaml", "HAZ-011", "unknown-value")
    assert problem.line == line_of(safety, "severity: tiny")


def test_without_a_tests_folder_test_controls_are_unchecked(pack_copy: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Away from a source checkout, test controls are reported as unchecked warnings, not as passing."""
    code, _, err = _run(capsys, str(pack_copy), "--format", "check")
    assert code == 0
    assert "[code=test-not-checked]" in err
    assert "warning: safety.yaml" in err


def test_tests_are_collected_from_syntax_trees(tmp_path: Path) -> None:
    """Test functions and test-class methods are collected as pytest node ids, nothing is imported."""
    folder = tmp_path / "tests"
    folder.mkdir()
    (folder / "test_a.py").write_text("import no_such_module\n\ndef test_one():\n    pass\n\n"
                                      "class TestGroup:\n    def test_two(self):\n        pass\n\n"
                                      "def helper():\n    pass\n", encoding="utf-8")
    assert collect_tests(folder) == {"tests/test_a.py::test_one", "tests/test_a.py::TestGroup::test_two"}


def test_docs_safety_case_is_generated_from_the_pack() -> None:
    """docs/safety-case.md is exactly what `backrx safety-case rules` renders (regenerate on change)."""
    expected = render_markdown(read_safety_case(bundled_path()), read_pack().name)
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/safety-case.md is stale: run `backrx safety-case rules > docs/safety-case.md`")
    assert "## How a clinic extends this safety case" in expected


def test_the_hazard_log_decides_nothing(pack_copy: Path) -> None:
    """The loader and the digest ignore safety.yaml: editing (or breaking) it changes no recommendation."""
    (pack_copy / "safety.yaml").write_text("hazards: [\n", encoding="utf-8")
    assert backrx.load_rules(pack_copy, engine="reference").digest == read_pack().digest


def test_no_health_data_reaches_logs_or_output_streams(rules: backrx.RuleSet,
                                                       caplog: pytest.LogCaptureFixture,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """recommend, adjust, override and explain log nothing and print nothing: no health data leaks."""
    caplog.set_level(logging.DEBUG)
    profile = base_profile(age=61, directional_preference="extension", history={"pregnant": False},
                           red_flags=["inflammatory_back_pain"])
    rec = rules.recommend(profile)
    feedback = {"responses": [
        {"exercise_id": "prone-press-up", "pain_during": 2, "next_day": "better", "peripheralized": False}]}
    rec = backrx.adjust(rec, dated(feedback, rec), rules=rules)
    rec = backrx.override(rec, {"remove": [{"phase": "calm", "exercise_id": "cat-camel"}]},
                          reason="Patient 4711 finds it painful", by="Dr A", rules=rules)
    rec.explain()
    rec.to_markdown()
    with pytest.raises(backrx.OverrideError):
        backrx.override(rec, {"remove": [{"phase": "calm", "exercise_id": "leg-press"}]},
                        reason="Patient 4711", by="Dr A", rules=rules)
    assert caplog.records == []
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
    assert not re.search(r"4711", str(caplog.text))
