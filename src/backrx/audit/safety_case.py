"""The safety case: a pack's hazard log (``safety.yaml``), checked against the pack and rendered.

The hazard log follows the shape of an ISO 14971 risk file and a DCB0129 hazard log: each hazard
has its causes, the harm it can do, an initial risk (severity x likelihood, rated with the log's own
risk matrix), the controls that reduce it, and the residual risk after them. A control is
checkable: a ``rule`` of the pack, an ``invariant`` that ``backrx audit`` runs, or a ``test``
(a pytest node id such as ``tests/test_x.py::test_y``). A ``measure`` is a control outside the
software (training, clinical review) and is shown but cannot be checked.

:func:`check_safety_case` finds every control that points at nothing, every red-flag code and
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
from typing import Any

from backrx import _yaml
from backrx.errors import Problem, RuleError
from backrx.model.profile import RED_FLAGS

FILE = "safety.yaml"
CONTROL_KINDS = ("rule", "invariant", "test", "measure")
STATUSES = ("open", "closed")
#: The populations every hazard log must cover with at least one hazard.
POPULATIONS = ("pregnancy", "wheelchair", "adolescent", "older")
_HAZARD_KEYS = ("id", "title", "harm", "causes", "red_flags", "populations", "initial_risk", "controls",
                "residual_risk", "justification", "status", "actions")
_TOP_KEYS = ("title", "scope", "risk_matrix", "hazards")


@dataclass(frozen=True)
class Control:
    """One control of a hazard: ``kind`` is rule, invariant, test or measure."""

    kind: str
    target: str
    line: int | None


@dataclass(frozen=True)
class Risk:
    """A severity and a likelihood, and the rating the matrix gives them."""

    severity: str
    likelihood: str
    rating: int
    note: str = ""


@dataclass(frozen=True)
class Hazard:
    """One entry of the hazard log."""

    id: str
    title: str
    harm: str
    causes: tuple[str, ...]
    red_flags: tuple[str, ...]
    populations: tuple[str, ...]
    initial: Risk
    controls: tuple[Control, ...]
    residual: Risk
    justification: str
    status: str
    actions: tuple[str, ...]
    line: int | None


@dataclass(frozen=True)
class RiskMatrix:
    """Severity and likelihood scales (lowest first), their meanings and the ratings."""

    severities: tuple[tuple[str, str], ...]
    likelihoods: tuple[tuple[str, str], ...]
    ratings: dict[str, tuple[int, ...]]  # likelihood -> rating per severity
    acceptable: int  # ratings up to this are acceptable without a justification

    def rate(self, severity: str, likelihood: str) -> int:
        """The rating of a severity and a likelihood."""
        return self.ratings[likelihood][[s for s, _ in self.severities].index(severity)]


@dataclass(frozen=True)
class SafetyCase:
    """A pack's hazard log, read and structurally validated."""

    title: str
    scope: str
    matrix: RiskMatrix
    hazards: tuple[Hazard, ...]
    path: str


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


# --------------------------------------------------------------------------- reading


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.hazard: str | None = None

    def add(self, node: Any, key: str | int | None, code: str, message: str, where: str) -> None:
        line: int | None = getattr(node, "line", None)
        if isinstance(node, _yaml.LDict) and isinstance(key, str):
            line = node.key_lines.get(key, line)
        elif isinstance(node, _yaml.LList) and isinstance(key, int) and key < len(node.item_lines):
            line = node.item_lines[key]
        self.problems.append(Problem(FILE, line, self.hazard, code, message, where))

    def keys(self, node: Any, where: str, required: Iterable[str], allowed: Iterable[str]) -> bool:
        if not isinstance(node, dict):
            self.add(node, None, "wrong-type", "expected a mapping", where)
            return False
        allowed = tuple(allowed)
        ok = True
        for key in node:
            if key not in allowed:
                self.add(node, key, "unknown-key", f"unknown key {key!r}; allowed: {', '.join(allowed)}",
                         f"{where}.{key}" if where else str(key))
                ok = False
        for key in required:
            if key not in node:
                self.add(node, None, "missing-key", f"missing required key {key!r}", where)
                ok = False
        return ok

    def text(self, node: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
        value = node.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.add(node, key, "wrong-type", f"{key} must be non-empty text", f"{where}.{key}")
            return ""
        return " ".join(value.split())

    def texts(self, node: dict[str, Any], key: str, where: str, *, vocabulary: Iterable[str] | None = None,
              required: bool = False) -> tuple[str, ...]:
        value = node.get(key)
        if value is None:
            if required:
                self.add(node, None, "missing-key", f"missing required key {key!r}", where)
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.add(node, key, "wrong-type", f"{key} must be a list of text", f"{where}.{key}")
            return ()
        vocab = tuple(vocabulary) if vocabulary is not None else None
        out: list[str] = []
        for i, item in enumerate(value):
            if vocab is not None and item not in vocab:
                self.add(value, i, "unknown-value", f"{item!r} is not one of {', '.join(vocab)}",
                         f"{where}.{key}[{i}]")
            elif item not in out:
                out.append(" ".join(item.split()))
        if required and not out and not vocab:
            self.add(node, key, "missing-value", f"{key} needs at least one entry", f"{where}.{key}")
        return tuple(out)

    def matrix(self, node: Any) -> RiskMatrix | None:
        where = "risk_matrix"
        if not self.keys(node, where, ("severity", "likelihood", "ratings", "acceptable_up_to"),
                         ("severity", "likelihood", "ratings", "acceptable_up_to")):
            return None
        scales: dict[str, tuple[tuple[str, str], ...]] = {}
        for key in ("severity", "likelihood"):
            items = node[key]
            if not isinstance(items, list) or not items or not all(
                    isinstance(i, dict) and set(i) == {"id", "meaning"} and isinstance(i["id"], str)
                    and isinstance(i["meaning"], str) for i in items):
                self.add(node, key, "wrong-type", f"{key} is a list of {{id, meaning}}, lowest first",
                         f"{where}.{key}")
                return None
            scales[key] = tuple((i["id"], " ".join(i["meaning"].split())) for i in items)
        ratings = node["ratings"]
        severities = [s for s, _ in scales["severity"]]
        out: dict[str, tuple[int, ...]] = {}
        if not isinstance(ratings, dict) or set(ratings) != {i for i, _ in scales["likelihood"]}:
            self.add(node, "ratings", "wrong-type", "ratings maps each likelihood to one rating per "
                     "severity", f"{where}.ratings")
            return None
        for likelihood, row in ratings.items():
            if not isinstance(row, list) or len(row) != len(severities) or not all(
                    isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 5 for r in row):
                self.add(ratings, likelihood, "wrong-type",
                         f"ratings.{likelihood} needs {len(severities)} ratings from 1 to 5",
                         f"{where}.ratings.{likelihood}")
                return None
            out[likelihood] = tuple(row)
        acceptable = node["acceptable_up_to"]
        if not isinstance(acceptable, int) or isinstance(acceptable, bool) or not 1 <= acceptable <= 5:
            self.add(node, "acceptable_up_to", "wrong-type", "acceptable_up_to is a rating from 1 to 5",
                     f"{where}.acceptable_up_to")
            return None
        return RiskMatrix(scales["severity"], scales["likelihood"], out, acceptable)

    def risk(self, node: dict[str, Any], key: str, where: str, matrix: RiskMatrix) -> Risk | None:
        value = node.get(key)
        here = f"{where}.{key}"
        if not self.keys(value, here, ("severity", "likelihood"), ("severity", "likelihood", "note")) \
                or not isinstance(value, dict):
            return None
        severity, likelihood = value["severity"], value["likelihood"]
        ok = True
        for name, got, scale in (("severity", severity, matrix.severities),
                                 ("likelihood", likelihood, matrix.likelihoods)):
            ids = [i for i, _ in scale]
            if got not in ids:
                self.add(value, name, "unknown-value", f"{name} {got!r} is not one of {', '.join(ids)}",
                         f"{here}.{name}")
                ok = False
        if not ok:
            return None
        note = self.text(value, "note", here, required=False)
        return Risk(severity, likelihood, matrix.rate(severity, likelihood), note)

    def control(self, node: Any, where: str) -> Control | None:
        if not isinstance(node, dict) or len(node) != 1:
            self.add(node, None, "wrong-type",
                     f"a control is one of {', '.join(f'{k}: ...' for k in CONTROL_KINDS)}", where)
            return None
        ((kind, target),) = node.items()
        if kind not in CONTROL_KINDS:
            self.add(node, kind, "unknown-key", f"unknown control {kind!r}; use {', '.join(CONTROL_KINDS)}",
                     f"{where}.{kind}")
            return None
        if not isinstance(target, str) or not target.strip():
            self.add(node, kind, "wrong-type", f"{kind} must be text", f"{where}.{kind}")
            return None
        line = node.key_lines.get(kind) if isinstance(node, _yaml.LDict) else None
        return Control(kind, " ".join(target.split()), line)

    def hazard_of(self, node: Any, where: str, matrix: RiskMatrix) -> Hazard | None:
        self.hazard = node.get("id") if isinstance(node, dict) and isinstance(node.get("id"), str) else None
        if not self.keys(node, where, ("id", "title", "harm", "causes", "initial_risk", "controls",
                                       "residual_risk", "status"), _HAZARD_KEYS):
            return None
        before = len(self.problems)
        hid = self.text(node, "id", where)
        title = self.text(node, "title", where)
        harm = self.text(node, "harm", where)
        causes = self.texts(node, "causes", where, required=True)
        red_flags = self.texts(node, "red_flags", where, vocabulary=RED_FLAGS)
        populations = self.texts(node, "populations", where)
        initial = self.risk(node, "initial_risk", where, matrix)
        residual = self.risk(node, "residual_risk", where, matrix)
        justification = self.text(node, "justification", where, required=False)
        actions = self.texts(node, "actions", where)
        status = node.get("status")
        if status not in STATUSES:
            self.add(node, "status", "unknown-value", f"status {status!r} is not one of "
                     f"{', '.join(STATUSES)}", f"{where}.status")
        items = node.get("controls")
        controls: list[Control] = []
        if not isinstance(items, list):
            self.add(node, "controls", "wrong-type", "controls must be a list", f"{where}.controls")
        else:
            for i, item in enumerate(items):
                found = self.control(item, f"{where}.controls[{i}]")
                if found is not None:
                    controls.append(found)
        if len(self.problems) != before or initial is None or residual is None:
            return None
        line = getattr(node, "line", None)
        return Hazard(hid, title, harm, causes, red_flags, populations, initial, tuple(controls), residual,
                      justification, str(status), actions, line)


def read_safety_case(path: str | Path) -> SafetyCase:
    """Read ``safety.yaml`` from a pack folder (or the file itself); raise :class:`RuleError`
    listing every structural problem (file:line, hazard id, code)."""
    file = Path(path)
    if file.is_dir():
        file = file / FILE
    if not file.is_file():
        raise RuleError([Problem(FILE, None, None, "missing-file",
                                 f"no hazard log: {file.name} is not in the pack")])
    try:
        doc = _yaml.load(file.read_text(encoding="utf-8"), FILE)
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError([Problem(FILE, None, None, "unreadable-file", f"cannot read: {exc}")]) from None
    except _yaml.YamlError as exc:
        raise RuleError([Problem(FILE, exc.line, None, exc.code, exc.message)]) from None
    reader = _Reader()
    if not reader.keys(doc, "", _TOP_KEYS, _TOP_KEYS):
        raise RuleError(reader.problems)
    title = reader.text(doc, "title", "")
    scope = reader.text(doc, "scope", "")
    matrix = reader.matrix(doc["risk_matrix"])
    hazards: list[Hazard] = []
    items = doc["hazards"]
    if not isinstance(items, list) or not items:
        reader.add(doc, "hazards", "wrong-type", "hazards must be a non-empty list", "hazards")
    elif matrix is not None:
        seen: set[str] = set()
        for i, node in enumerate(items):
            found = reader.hazard_of(node, f"hazards[{i}]", matrix)
            if found is None:
                continue
            if found.id in seen:
                reader.add(node, "id", "duplicate-id", f"hazard id {found.id!r} is used twice", "id")
                continue
            seen.add(found.id)
            hazards.append(found)
    if reader.problems or matrix is None:
        raise RuleError(reader.problems)
    return SafetyCase(title, scope, matrix, tuple(hazards), str(file))


# --------------------------------------------------------------------------- checking


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
                      tests: set[str] | None) -> list[Finding]:
    """Every check of the hazard log against the pack, the audit's invariants and the tests.

    ``tests`` None means no test folder was found: test controls are then reported as warnings
    (unchecked), never as passing.
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
    for population in POPULATIONS:
        if population not in covered:
            out.append(Finding(None, None, "population-without-hazard",
                               f"no hazard covers the population {population}"))
    return out


# --------------------------------------------------------------------------- rendering


def _cell(text: str) -> str:
    return text.replace("|", "/")


def _control(c: Control) -> str:
    if c.kind == "measure":
        return f"measure: {c.target}"
    return f"{c.kind} `{c.target}`"


def render_markdown(case: SafetyCase, pack_name: str) -> str:
    """The safety case as a Markdown document (the same input always gives the same text)."""
    m = case.matrix
    severities = [s for s, _ in m.severities]
    out = [f"# {case.title}", "",
           "<!-- Generated by `backrx safety-case` from the pack's safety.yaml: edit that file, then "
           "regenerate this one. -->", "",
           case.scope, "",
           f"Rule pack: `{pack_name}`. Hazards: {len(case.hazards)} "
           f"({sum(h.status == 'open' for h in case.hazards)} open).", "",
           "## How to read this document", "",
           "Each hazard is a way backrx could contribute to harm. Its risk is rated twice with the risk "
           "matrix below: before any control (initial) and after the controls listed (residual). A "
           "control is a rule of the pack, an invariant that `backrx audit` checks on generated "
           "profiles, a test of the test suite, or a measure outside the software. `backrx safety-case` "
           "fails when a rule, invariant or test named here does not exist, and when a red-flag code or "
           "a population has no hazard.", "",
           "## Risk matrix", "",
           "| likelihood \\ severity | " + " | ".join(severities) + " |",
           "|---|" + "---|" * len(severities)]
    for likelihood, _ in reversed(m.likelihoods):
        out.append(f"| {likelihood} | " + " | ".join(str(r) for r in m.ratings[likelihood]) + " |")
    out += ["", f"Ratings up to {m.acceptable} are acceptable; a higher residual rating needs a "
            "written justification.", "", "| severity | meaning |", "|---|---|"]
    out += [f"| {s} | {_cell(meaning)} |" for s, meaning in m.severities]
    out += ["", "| likelihood | meaning |", "|---|---|"]
    out += [f"| {s} | {_cell(meaning)} |" for s, meaning in m.likelihoods]
    out += ["", "## Summary", "", "| id | hazard | initial | residual | status |", "|---|---|---|---|---|"]
    for h in case.hazards:
        out.append(f"| {h.id} | {_cell(h.title)} | {h.initial.rating} ({h.initial.severity}, "
                   f"{h.initial.likelihood}) | {h.residual.rating} ({h.residual.severity}, "
                   f"{h.residual.likelihood}) | {h.status} |")
    out += ["", "## Hazards", ""]
    for h in case.hazards:
        out += [f"### {h.id}: {h.title}", "", f"**Harm.** {h.harm}", "", "**Causes.**", ""]
        out += [f"- {c}" for c in h.causes]
        if h.red_flags or h.populations:
            out += [""]
            if h.red_flags:
                out.append(f"**Red flags.** {', '.join(f'`{f}`' for f in h.red_flags)}")
            if h.populations:
                out.append(("" if not h.red_flags else "\n") + f"**Populations.** {', '.join(h.populations)}")
        out += ["", f"**Initial risk.** {h.initial.rating}: {h.initial.severity}, {h.initial.likelihood}"
                + (f". {h.initial.note}" if h.initial.note else "."), "", "**Controls.**", ""]
        out += [f"- {_control(c)}" for c in h.controls] or ["- none yet"]
        out += ["", f"**Residual risk.** {h.residual.rating}: {h.residual.severity}, {h.residual.likelihood}"
                + (f". {h.residual.note}" if h.residual.note else ".")]
        if h.justification:
            out += ["", f"**Justification.** {h.justification}"]
        if h.actions:
            out += ["", "**Actions.**", ""]
            out += [f"- {a}" for a in h.actions]
        out += ["", f"**Status.** {h.status}.", ""]
    out += ["## Coverage", "", "| red flag | hazards |", "|---|---|"]
    for flag in RED_FLAGS:
        out.append(f"| `{flag}` | {', '.join(h.id for h in case.hazards if flag in h.red_flags) or 'none'} |")
    out += ["", "| population | hazards |", "|---|---|"]
    populations = list(dict.fromkeys((*POPULATIONS, *(p for h in case.hazards for p in h.populations))))
    for population in populations:
        out.append(f"| {population} | "
                   f"{', '.join(h.id for h in case.hazards if population in h.populations) or 'none'} |")
    out += ["", _EXTENDING]
    return "\n".join(out) + "\n"


_EXTENDING = """## How a clinic extends this safety case

A clinic that runs its own pack owns its own safety case; backrx's is a starting point, not a
certificate. DCB0129 asks the manufacturer of health IT for a clinical risk management file and
DCB0160 asks the deploying organisation for its own; this log is material for both.

1. Copy `safety.yaml` into your pack folder next to your rule files. `backrx check` and the
   digest ignore it: editing the log never changes a recommendation.
2. For each rule you add or change, ask what could go wrong for a patient and add a hazard, or a
   control to an existing hazard: `rule: <your rule id>`. Keep the hazard ids stable; retire a
   hazard by closing it with a note rather than deleting it.
3. Name the invariants that guard it. Invariants you register with
   `backrx.audit.invariants.register_invariant` count once the module that registers them is imported by
   the command that runs the check.
4. Name the tests that pin it, as pytest node ids relative to the folder that holds `tests/`
   (`tests/test_my_pack.py::test_no_running_after_surgery`). Pass `--tests DIR` when your tests do
   not sit beside the pack.
5. Rate the risk before and after the controls with the matrix; give a justification for any
   residual rating above the acceptable level, and mark a hazard `open` while its controls are
   still being built.
6. Run `backrx safety-case my-pack/` in CI. It exits 1, naming the hazard, when a control points at
   nothing (a rule you renamed, an invariant you dropped, a test you deleted), when a red-flag code
   or one of the populations (pregnancy, wheelchair, adolescent, older) has no hazard, or when a
   rating does not follow the matrix; `--format md` writes the document you review and sign.
"""


# --------------------------------------------------------------------------- command line


def safety_case_command(path: str | None, tests: str | None, fmt: str) -> int:
    """``backrx safety-case [DIR] [--tests DIR] [--format md|check]``.

    Prints the document (``md``) or only the check lines (``check``) to stdout, the findings to
    stderr, and returns 1 when any check fails (0 with warnings only).
    """
    from backrx.audit.invariants import default_invariants
    from backrx.pack.rulepack import bundled_path, read_pack

    pack_dir = Path(path) if path is not None else bundled_path()
    pack = read_pack(pack_dir)  # a RuleError goes to the caller: the pack itself is broken
    case = read_safety_case(pack_dir)
    tests_dir = Path(tests) if tests is not None else default_tests_dir(pack_dir)
    if tests_dir is not None and not tests_dir.is_dir():
        raise ValueError(f"--tests {tests}: no such folder")
    collected = collect_tests(tests_dir) if tests_dir is not None else None
    findings = check_safety_case(case, (r.id for r in pack.rules), (i.id for i in default_invariants()),
                                 collected)
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
