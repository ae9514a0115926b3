"""The hazard log of a pack (``safety.yaml``): its shape, and reading it with file:line problems.

Each hazard has its causes, the harm it can do, an initial risk (severity x likelihood, rated with
the log's own risk matrix), the controls that reduce it, and the residual risk after them. A
control is a ``rule`` of the pack, an ``invariant`` that ``backrx audit`` runs, a ``test`` (a pytest
node id) or a ``measure`` outside the software. `backrx.audit.safety_case` checks the log;
`backrx.audit.safety_doc` renders it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backrx.errors import Problem, RuleError
from backrx.model.profile import RED_FLAGS
from backrx.pack.read import Ctx, check_keys
from backrx.readers import safe_yaml

FILE = "safety.yaml"
CONTROL_KINDS = ("rule", "invariant", "test", "measure")
STATUSES = ("open", "closed")
#: The populations a hazard log must cover with at least one hazard when the pack's populations.yaml
#: names none (its populations say which hazard-log population each belongs to: ``hazard:``).
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


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.hazard: str | None = None

    def add(self, node: Any, key: str | int | None, code: str, message: str, where: str) -> None:
        line: int | None = getattr(node, "line", None)
        if isinstance(node, safe_yaml.LDict) and isinstance(key, str):
            line = node.key_lines.get(key, line)
        elif isinstance(node, safe_yaml.LList) and isinstance(key, int) and key < len(node.item_lines):
            line = node.item_lines[key]
        self.problems.append(Problem(FILE, line, self.hazard, code, message, where))

    def keys(self, node: Any, where: str, required: Iterable[str], allowed: Iterable[str]) -> bool:
        ctx = Ctx(self.problems, FILE)
        ctx.rule_id = self.hazard
        return check_keys(ctx, node, where, required, allowed, listed="allowed:")

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
        line = node.key_lines.get(kind) if isinstance(node, safe_yaml.LDict) else None
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
    """Read ``safety.yaml`` from a pack folder (or the file itself); raise `RuleError`
    listing every structural problem (file:line, hazard id, code)."""
    file = Path(path)
    if file.is_dir():
        file = file / FILE
    if not file.is_file():
        raise RuleError([Problem(FILE, None, None, "missing-file",
                                 f"no hazard log: {file.name} is not in the pack")])
    try:
        doc = safe_yaml.load(file.read_text(encoding="utf-8"), FILE)
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError([Problem(FILE, None, None, "unreadable-file", f"cannot read: {exc}")]) from None
    except safe_yaml.YamlError as exc:
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


__all__ = ["CONTROL_KINDS", "FILE", "POPULATIONS", "STATUSES", "Control", "Hazard", "Risk", "RiskMatrix",
           "SafetyCase", "read_safety_case"]
