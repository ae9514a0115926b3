"""docs/security.md stays true: every test it names exists in the file its table names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def _named(text: str) -> dict[str, list[str]]:
    """Each table's test file and the test names listed under it."""
    named: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        header = re.match(r"\| test \((tests/[\w/]+\.py)\) \|", line)
        if header:
            current = header.group(1)
            named[current] = []
        elif current and line.startswith("| `test_"):
            named[current].append(line.split("`")[1])
        elif not line.startswith("|"):
            current = None
    return named


def test_every_door_lists_tests_that_exist() -> None:
    """Each door's table names a test file and tests that are in it (no promise without its test)."""
    named = _named(DOC.read_text(encoding="utf-8"))
    assert len(named) >= 7
    missing = {f: sorted(set(tests) - _tests_in(ROOT / f)) for f, tests in named.items()}
    assert {f: m for f, m in missing.items() if m} == {}
    assert all(named.values())


def test_the_checker_catches_a_name_that_does_not_exist(tmp_path: Path) -> None:
    """A test name that no longer exists in its file is reported (the check can fail)."""
    fake = tmp_path / "test_x.py"
    fake.write_text("def test_here() -> None:\n    pass\n", encoding="utf-8")
    doc = "| test (tests/test_x.py) |\n| --- |\n| `test_here` |\n| `test_gone` |\n\nprose\n"
    named = _named(doc)
    assert named == {"tests/test_x.py": ["test_here", "test_gone"]}
    assert set(named["tests/test_x.py"]) - _tests_in(fake) == {"test_gone"}
