"""The code stays clean: mypy --strict and ruff pass on the package and the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def test_mypy_strict_is_clean() -> None:
    """mypy --strict reports no issue in src/backrx."""
    result = subprocess.run([_tool("mypy"), "--strict", "src/backrx"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    """ruff reports no issue in the package, the tests and the benchmarks."""
    result = subprocess.run([_tool("ruff"), "check", "src", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _early_returns(source: str) -> list[str]:
    """The @given tests in the source that hold a return statement (outside nested functions)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        decorators = [d.func for d in node.decorator_list if isinstance(d, ast.Call)]
        if not any(getattr(d, "id", getattr(d, "attr", "")) == "given" for d in decorators):
            continue
        stack: list[ast.AST] = list(node.body)
        while stack:
            item = stack.pop()
            if isinstance(item, ast.Return):
                found.append(f"{node.name}:{item.lineno}")
            elif not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                stack.extend(ast.iter_child_nodes(item))
    return found


def test_no_property_test_returns_early() -> None:
    """No @given test returns early (a filtered precondition uses assume(), so it cannot pass vacuously)."""
    offence = "@given(x=st.none())\ndef test_x(x):\n    if x is None:\n        return\n    assert x\n"
    assert _early_returns(offence) == ["test_x:4"]
    found = {path.name: _early_returns(path.read_text(encoding="utf-8"))
             for path in sorted((ROOT / "tests").glob("*.py"))}
    assert {name: hits for name, hits in found.items() if hits} == {}
