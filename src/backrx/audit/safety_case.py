"""The safety case: a pack's hazard log (``safety.yaml``), checked against the pack and rendered.

The hazard log follows the shape of an ISO 14971 risk file and a DCB0129 hazard log: each hazard
has its causes, the harm it can do, an initial risk (severity x likelihood, rated with the log's own
risk matrix), the controls that reduce it, and the residual risk after them. A control is
checkable: a ``rule`` of the pack, an ``invariant`` that ``backrx audit`` runs, or a ``test``
(a pytest node id such as ``tests/test_x.py::test_y``). A ``measure`` is a control outside the
software (training, clinical review) and is shown but cannot be checked.

`check_safety_case` finds every control that points at nothing, every red-flag code and
population without a hazard, and risk ratings that do not follow the matrix. ``backrx
safety-case [DIR]`` prints the Markdown document and exits 1, naming the hazard, when any check
fails.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from backrx.audit.hazard_log import (
    CONTROL_KINDS,
    FILE,
    POPULATIONS,
    Control,
    Hazard,
    Risk,
    RiskMatrix,
    SafetyCase,
    read_safety_case,
)
from backrx.audit.safety_doc import render_markdown
from backrx.model.profile import RED_FLAGS


@dataclass(frozen=True)
class Finding:
    """A check that failed (``error``) or could not run (``warning``), naming the hazard."""

    hazard: str | None
    line: int | None
    code: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{FILE}:{self.line}" if self.line is not None else FILE
        hazard = f"  {self.hazard}" if self.hazard else ""
        return f"{where}{hazard}  {self.message}  [code={self.code}]"


def collect_tests(tests_dir: Path) -> set[str]:
    """The pytest node ids (``tests/test_x.py::test_y``, ``...::TestC::test_y``) defined under
    ``tests_dir``, found by reading the files' syntax trees (nothing is imported or run)."""
    root = tests_dir.parent
    found: set[str] = set()
    for path in sorted(tests_dir.rglob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        rel = path.relative_to(root).as_posix()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                found.add(f"{rel}::{node.name}")
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                            and item.name.startswith("test"):
                        found.add(f"{rel}::{node.name}::{item.name}")
    return found


def default_tests_dir(pack_dir: Path) -> Path | None:
    """The ``tests`` folder beside the pack folder (a source checkout), if there is one."""
    candidate = pack_dir.resolve().parent / "tests"
    return candidate if candidate.is_dir() else None


def check_safety_case(case: SafetyCase, rule_ids: Iterable[str], invariant_ids: Iterable[str],
                      tests: set[str] | None, populations: Iterable[str] | None = None) -> list[Finding]:
    """Every check of the hazard log against the pack, the audit's invariants and the tests.

    ``tests`` None means no test folder was found: test controls are then reported as warnings
    (unchecked), never as passing. ``populations``: those the hazard log must cover (default
    `POPULATIONS`; ``backrx safety-case`` passes the names the pack's populations.yaml gives,
    `hazard_groups`).
    """
    rules, invariants = set(rule_ids), set(invariant_ids)
    out: list[Finding] = []
    for h in case.hazards:
        if h.status == "closed" and not any(c.kind != "measure" for c in h.controls):
            out.append(Finding(h.id, h.line, "no-checkable-control",
                               f"hazard {h.id} is closed but has no rule, invariant or test among its "
                               "controls"))
        if h.status == "open":
            out.append(Finding(h.id, h.line, "open-hazard", f"hazard {h.id} is open: {h.title}",
                               "warning"))
        if h.residual.rating > h.initial.rating:
            out.append(Finding(h.id, h.line, "residual-above-initial",
                               f"hazard {h.id}: the residual risk (rating {h.residual.rating}) is above the "
                               f"initial risk (rating {h.initial.rating})"))
        if h.residual.rating > case.matrix.acceptable and not h.justification:
            out.append(Finding(h.id, h.line, "unjustified-risk",
                               f"hazard {h.id}: residual rating {h.residual.rating} is above "
                               f"{case.matrix.acceptable}, the highest acceptable without a justification"))
        for c in h.controls:
            if c.kind == "rule" and c.target not in rules:
                out.append(Finding(h.id, c.line, "unknown-rule",
                                   f"hazard {h.id}: control rule {c.target!r} is not a rule of the pack"))
            elif c.kind == "invariant" and c.target not in invariants:
                out.append(Finding(h.id, c.line, "unknown-invariant",
                                   f"hazard {h.id}: control invariant {c.target!r} is not run by "
                                   "`backrx audit`"))
            elif c.kind == "test":
                node = c.target.split("[", 1)[0]
                if tests is None:
                    out.append(Finding(h.id, c.line, "test-not-checked",
                                       f"hazard {h.id}: test {c.target!r} not checked (no tests folder; "
                                       "pass --tests DIR)", "warning"))
                elif node not in tests:
                    out.append(Finding(h.id, c.line, "unknown-test",
                                       f"hazard {h.id}: control test {c.target!r} does not exist"))
    covered_flags = {f for h in case.hazards for f in h.red_flags}
    for flag in RED_FLAGS:
        if flag not in covered_flags:
            out.append(Finding(None, None, "red-flag-without-hazard",
                               f"no hazard covers the red flag {flag}"))
    covered = {p for h in case.hazards for p in h.populations}
    for population in POPULATIONS if populations is None else tuple(populations):
        if population not in covered:
            out.append(Finding(None, None, "population-without-hazard",
                               f"no hazard covers the population {population}"))
    return out


def safety_case_command(path: str | None, tests: str | None, fmt: str) -> int:
    """``backrx safety-case [DIR] [--tests DIR] [--format md|check]``.

    Prints the document (``md``) or only the check lines (``check``) to stdout, the findings to
    stderr, and returns 1 when any check fails (0 with warnings only).
    """
    from backrx.audit.invariants import default_invariants
    from backrx.pack.load import read_pack
    from backrx.pack.read import bundled_path

    pack_dir = Path(path) if path is not None else bundled_path()
    pack = read_pack(pack_dir)  # a RuleError goes to the caller: the pack itself is broken
    case = read_safety_case(pack_dir)
    tests_dir = Path(tests) if tests is not None else default_tests_dir(pack_dir)
    if tests_dir is not None and not tests_dir.is_dir():
        raise ValueError(f"--tests {tests}: no such folder")
    collected = collect_tests(tests_dir) if tests_dir is not None else None
    findings = check_safety_case(case, (r.id for r in pack.rules), (i.id for i in default_invariants()),
                                 collected, pack.populations.hazard_groups() or POPULATIONS)
    errors = [f for f in findings if f.severity == "error"]
    if fmt == "md":
        sys.stdout.write(render_markdown(case, pack.name))
    for f in findings:
        sys.stderr.write(f"{f.severity}: {f}\n")
    summary = (f"safety case: {len(case.hazards)} hazards, {len(errors)} error(s), "
               f"{len(findings) - len(errors)} warning(s)")
    (sys.stdout if fmt == "check" else sys.stderr).write(summary + "\n")
    return 1 if errors else 0


__all__ = [
    "CONTROL_KINDS",
    "POPULATIONS",
    "Control",
    "Finding",
    "Hazard",
    "Risk",
    "RiskMatrix",
    "SafetyCase",
    "check_safety_case",
    "collect_tests",
    "read_safety_case",
    "render_markdown",
    "safety_case_command",
]
