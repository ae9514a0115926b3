"""Reading and validating a rule pack: YAML files in, a checked :class:`Pack` out.

A pack is a folder::

    pack.yaml        name, version, description
    sources.yaml     the bibliography
    exercises.yaml   the exercise catalog
    phases.yaml      the program's phases, in order, with min_days and progress criteria
    outcomes.yaml    optional: outcome measures and their minimal important differences
    text.yaml        the words reports put around the pack's texts (optional; see backrx.pack.texts)
    locales/         <lang>.yaml translations of the patient-facing texts (see backrx.pack.locale)
    *.yaml           rule files, each ``layer: <name>`` and ``rules: [...]``
    cases/           golden cases (read by tests and audits, not by the loader)

Packs are untrusted input. The whole pack is checked before anything runs and
every problem is reported at once in one :class:`RuleError`; nothing of a broken
pack is loaded.
"""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import hashlib
import heapq
import json
import os
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backrx import _input, _yaml
from backrx.errors import Problem, RuleError
from backrx.lang.condition import (
    OPERATORS,
    AllOf,
    AnyOf,
    AtLeast,
    Condition,
    FieldTest,
    NotOf,
    Operator,
    Scalar,
    alternatives,
    depth_of,
    fields_of,
    size_of,
)
from backrx.model.profile import EQUIPMENT, RED_FLAGS, SETTINGS
from backrx.model.vocabulary import (
    ADJUST_FIELDS,
    CATEGORIES,
    CONCLUDED_BY,
    DIRECTIONS,
    FIELDS,
    PATHWAYS,
    RISKS,
    URGENCIES,
    FieldSpec,
)
from backrx.pack.planspec import PlannerSpec, read_planner
from backrx.pack.tiers import FILE as TIERS_FILE
from backrx.pack.tiers import Tiers, check_wording, read_tiers

#: The layers, in the order they run. Each reads only what earlier layers concluded.
LAYERS: tuple[str, ...] = ("triage", "classification", "components", "exclusions", "dosing", "adjust")
#: The layers :func:`backrx.recommend` runs; ``adjust`` runs in :func:`backrx.adjust`.
RECOMMEND_LAYERS: tuple[str, ...] = LAYERS[:5]
#: Per-exercise adjust actions, most conservative first. drop_family also drops the exercise's
#: movement family (its catalog pattern), in every phase.
ADJUST_ACTIONS: tuple[str, ...] = ("drop_family", "drop", "regress", "hold", "progress")
LAYER_ACTIONS: dict[str, tuple[str, ...]] = {
    "triage": ("refer", "safety_net", "set", "warn", "explain"),
    "classification": ("pathway", "risk", "set", "safety_net", "warn", "explain"),
    "components": ("prescribe", "pathway", "set", "warn", "explain"),
    "exclusions": ("exclude", "warn", "explain"),
    "dosing": ("dose", "schedule", "warn", "explain"),
    "adjust": ("adjust", "stop_direction", "eliminate", "advance", "hold_rounds", "refer", "safety_net",
               "warn", "explain"),
}
#: Priority of the rules compiled from phases.yaml progress criteria (after every adjust rule).
CRITERION_PRIORITY = 900
DOSE_KINDS = ("hold", "reps", "stretch", "timed", "education", "repeated", "position", "mobility",
              "soft_tissue", "balance")
#: Kinds of source, strongest first (see docs/rule-pack.md, "Evidence").
SOURCE_KINDS = ("guideline", "systematic-review", "rct", "cohort", "expert-opinion", "seed-article")
#: Kind names of packs written before 0.2, and the kind each now loads as. ``practitioner`` maps
#: to expert opinion: only the pack's author can say which practitioner pages are seed articles.
LEGACY_SOURCE_KINDS = {"trial": "rct", "review": "systematic-review", "prediction-rule": "cohort",
                       "consensus": "expert-opinion", "practitioner": "expert-opinion"}
#: Files of a pack that are not rule files (read by their own commands, not part of the digest).
NON_RULE_FILES = ("safety.yaml",)
DOSE_FIELDS = ("sets", "reps", "hold_seconds", "minutes", "sessions_per_week", "times_per_day")
DOSE_LIMITS = {"sets": 10, "reps": 100, "hold_seconds": 600, "minutes": 240, "sessions_per_week": 14,
               "times_per_day": 12}
#: Why an exercise was left out, as stable codes beside the human reasons.
EXCLUSION_CODES = ("time", "equipment", "setting", "direction", "contraindication", "population")

# Limits that keep a hostile or oversized pack from hanging the engine.
MAX_FILE_BYTES = 2_000_000
#: Bytes read from all the files of a pack together (the bundled pack holds about 0.2 MB).
MAX_PACK_BYTES = 4_000_000
#: YAML items (counted as what opens one: "," newline ":" "[" "{" "- ") in all the files of a
#: pack. Parsing time follows the number of items, not bytes (a 2 MB file of "[1,1,1,...]" is a
#: million of them), so this is what bounds the time to load or refuse a pack. The bundled pack
#: holds about 13,000.
MAX_YAML_ITEMS = 150_000
MAX_FILES = 200
MAX_RULES = 5_000  # MAX_PATTERNS bounds a pack to as many rules anyway
MAX_CONDITION_NODES = 64
MAX_CONDITION_DEPTH = 10
MAX_ALTERNATIVES = 256  # patterns one condition may expand to (see condition.alternatives)
#: Alternatives (durable patterns) summed over every rule of a pack. Memory and load time grow
#: with them (measured on durable_rules: about 27 KB and 0.3 ms each), so the sum is bounded:
#: at this limit a pack loads in about 2 s and takes about 150 MB (docs/rule-pack.md).
MAX_PATTERNS = 5_000
MAX_AT_LEAST_ITEMS = 8
MAX_IN_VALUES = 50
MAX_DERIVED = 100
MAX_TEXT = 4000
MAX_NUMBER = 1e12

# \Z, not $: "$" also matches before a trailing newline, so "triage.x\n" would pass as an id.
_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*\Z")
_RULE_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*(?:\.[a-z0-9]+(?:[-_][a-z0-9]+)*)+\Z")
_VAR = re.compile(r"^[a-z][a-z0-9_]{0,40}\Z")
_FIELD_REF = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*\Z")
#: Characters no pack text may hold: control characters but tab and newline (NUL included),
#: bidirectional overrides and isolates, zero-width and other invisible format characters, and
#: the Unicode line and paragraph separators. They can hide or reorder what a clinician reads.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0001\U000e0020-\U000e007f]"
)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Source:
    id: str
    citation: str
    year: int | None
    kind: str
    url: str | None
    verified: bool
    note: str
    grade: str | None = None  # the grade the source itself gives what backrx draws from it
    legacy_kind: str | None = None  # the pre-0.2 kind name the pack used, if any


@dataclass(frozen=True)
class RuleEvidence:
    """How strong the support for what a rule recommends is, as the rule states it."""

    kind: str | None  # one of SOURCE_KINDS; None when the rule is a design choice only
    grade: str | None = None  # the grade of the recommendation, where a source grades it
    note: str | None = None
    design: bool = False  # backrx (or the pack's author) chose without evidence


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    category: str
    direction: str
    load: int
    dose_kind: str
    equipment: tuple[str, ...]
    settings: tuple[str, ...]
    targets: tuple[str, ...]
    tags: tuple[str, ...]
    instructions: str
    easier: str | None
    harder: str | None
    sources: tuple[str, ...]
    pattern: str = ""  # movement family: a phase holds one exercise per family
    per_side: bool = False  # done once on each side (the work time doubles)
    media: tuple[str, ...] = ()


@dataclass(frozen=True)
class CriterionDef:
    """A criterion for leaving a phase: its text, and the adjust rule that checks it."""

    id: str
    text: str
    quota: bool  # it also applies when the plan is built up by quota (not by pain)
    rule_id: str


@dataclass(frozen=True)
class PhaseDef:
    id: str
    name: str
    goal: str
    weeks: int
    progress_when: tuple[str, ...]
    min_days: int = 0
    criteria: tuple[CriterionDef, ...] = ()


@dataclass(frozen=True)
class Measure:
    """An outcome measure and the change that counts as meaningful (outcomes.yaml)."""

    id: str
    name: str
    better: str  # lower | higher
    mcid: float | None
    percent: float | None
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Refer:
    urgency: str
    reason: str


@dataclass(frozen=True)
class Warn:
    """A clinician-facing warning: a stable kebab-case code and its message."""

    code: str
    message: str


@dataclass(frozen=True)
class Prescribe:
    phase: str
    exercises: tuple[str, ...]
    pick: int
    role: str = ""  # the planner's fill-order role (planner.yaml); empty: the default role


@dataclass(frozen=True)
class Exclude:
    exercises: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    max_load: int | None = None
    phases: tuple[str, ...] = ()  # empty: every phase
    code: str | None = None  # an EXCLUSION_CODES code; None: direction or contraindication


@dataclass(frozen=True)
class DoseSpec:
    kind: str
    phases: tuple[str, ...]  # empty: every phase
    values: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Schedule:
    phase: str
    weeks: int


@dataclass(frozen=True)
class Then:
    refer: Refer | None = None
    safety_net: tuple[str, ...] = ()
    warn: tuple[Warn, ...] = ()
    set: tuple[tuple[str, Scalar], ...] = ()
    pathways: tuple[str, ...] = ()
    risk: str | None = None
    prescribe: tuple[Prescribe, ...] = ()
    exclude: tuple[Exclude, ...] = ()
    dose: tuple[DoseSpec, ...] = ()
    schedule: tuple[Schedule, ...] = ()
    adjust: str | None = None
    stop_direction: bool = False
    eliminate: bool = False
    advance: bool = False
    hold_rounds: int = 0
    criterion: str | None = None  # set on the rules compiled from phases.yaml: "<phase>.<criterion>"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    layer: str
    priority: int
    when: Condition
    then: Then
    rationale: str
    sources: tuple[str, ...]
    file: str
    line: int
    reads: frozenset[str] = frozenset()
    evidence: RuleEvidence | None = None  # None: the rule states no evidence (a check warning)
    patient: str | None = None  # the rationale in plain words, for the patient view


@dataclass(frozen=True)
class Layer:
    name: str
    rules: tuple[Rule, ...]  # in pack order: priority, then rule id
    fields: tuple[str, ...]  # every field this layer's conditions read

    @property
    def index(self) -> int:
        return LAYERS.index(self.name)


@dataclass(frozen=True)
class Pack:
    """A validated rule pack. Build one with :func:`read_pack`."""

    name: str
    version: str
    description: str
    digest: str
    path: str
    layers: tuple[Layer, ...]
    exercises: dict[str, CatalogEntry]
    sources: dict[str, Source]
    phases: tuple[PhaseDef, ...]
    derived: dict[str, FieldSpec] = field(default_factory=dict)
    planner: PlannerSpec | None = None  # planner.yaml; always set on a loaded pack
    measures: dict[str, Measure] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # text.yaml: report words, by key
    locales: dict[str, dict[str, str]] = field(default_factory=dict)  # locales/<lang>.yaml, flattened
    tiers: Tiers | None = None  # urgency.yaml: one wording per urgency tier (optional)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule, in trace order (layer, priority, rule id)."""
        return tuple(rule for layer in self.layers for rule in layer.rules)

    def field(self, path: str) -> FieldSpec:
        """The spec of a field a condition may read in this pack."""
        return self.derived[path] if path in self.derived else FIELDS[path]


# --------------------------------------------------------------------------- reading


class _Ctx:
    """Collects problems while reading one file."""

    def __init__(self, problems: list[Problem], file: str) -> None:
        self.problems = problems
        self.file = file
        self.rule_id: str | None = None

    def add(self, line: int | None, code: str, message: str, where: str = "") -> None:
        self.problems.append(Problem(self.file, line, self.rule_id, code, message, where))


def _line_of(node: Any, key: str | int | None = None) -> int | None:
    if key is not None:
        if isinstance(node, _yaml.LDict) and isinstance(key, str):
            return node.key_lines.get(key, node.line)
        if isinstance(node, _yaml.LList) and isinstance(key, int) and key < len(node.item_lines):
            return node.item_lines[key]
    return getattr(node, "line", None)


#: How many "did you mean" hints one load computes, and how many candidates each compares:
#: the hint is a courtesy, and comparing every unknown name against a huge pool is what made
#: refusing a pack slow (measured: 75 s for 200 unknown ids among 20,000 sources).
MAX_HINTS = 200
MAX_HINT_CANDIDATES = 200
_hints_left: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("backrx_hints", default=None)


def _hint(word: str, choices: Iterable[str]) -> str:
    budget = _hints_left.get()
    if budget is not None:
        if budget[0] <= 0:
            return ""
        budget[0] -= 1
    size = len(word)
    # A close match (difflib's ratio >= 0.6) is within a few characters of the word's length;
    # of those, the nearest in length are compared.
    near = [c for c in choices if isinstance(c, str) and abs(len(c) - size) <= 3]
    if len(near) > MAX_HINT_CANDIDATES:
        near = heapq.nsmallest(MAX_HINT_CANDIDATES, near, key=lambda c: (abs(len(c) - size), c))
    close = difflib.get_close_matches(word, near, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: Problems listed per file; the rest are counted in one last problem (code too-many-problems).
MAX_PROBLEMS_PER_FILE = 100


class _Problems(list[Problem]):
    """The problems of one load, at most MAX_PROBLEMS_PER_FILE kept per file."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[str, int] = {}
        self.dropped: dict[str, int] = {}

    def append(self, problem: Problem) -> None:
        kept = self.kept.get(problem.file, 0)
        if kept >= MAX_PROBLEMS_PER_FILE:
            self.dropped[problem.file] = self.dropped.get(problem.file, 0) + 1
            return
        self.kept[problem.file] = kept + 1
        super().append(problem)

    def __len__(self) -> int:  # every problem counts, listed or not: callers compare lengths
        return super().__len__() + sum(self.dropped.values())

    def summarised(self) -> list[Problem]:
        """The kept problems, and for each file with more, one problem that counts the rest."""
        out = list(iter(self))
        for file, count in sorted(self.dropped.items()):
            out.append(Problem(file, None, None, "too-many-problems",
                               f"{count} more problem{'s' if count != 1 else ''} in this file not "
                               f"listed (only the first {MAX_PROBLEMS_PER_FILE} are)"))
        return out


def _keys(ctx: _Ctx, node: Any, where: str, required: Iterable[str], allowed: Iterable[str]) -> bool:
    """Check a mapping's keys; report unknown and missing keys."""
    if not isinstance(node, dict):
        ctx.add(_line_of(node), "wrong-type", f"expected a mapping, got {_kind(node)}", where)
        return False
    allowed = tuple(allowed)
    ok = True
    for key in node:
        if key not in allowed:
            ctx.add(_line_of(node, key), "unknown-key", f"unknown key {key!r}{_hint(key, allowed)}",
                    _join(where, key))
            ok = False
    for key in required:
        if key not in node:
            ctx.add(_line_of(node), "missing-key", f"missing required key {key!r}", where)
            ok = False
    return ok


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _text(ctx: _Ctx, node: Any, key: str, where: str, *, required: bool = True) -> str | None:
    value = node.get(key) if isinstance(node, dict) else None
    if value is None:
        if required and isinstance(node, dict) and key in node:
            ctx.add(_line_of(node, key), "wrong-type", f"{key} must be text", _join(where, key))
        return None
    if not isinstance(value, str) or not value.strip():
        ctx.add(_line_of(node, key), "wrong-type", f"{key} must be non-empty text", _join(where, key))
        return None
    if len(value) > MAX_TEXT:
        ctx.add(_line_of(node, key), "too-long", f"{key} is longer than {MAX_TEXT} characters",
                _join(where, key))
        return None
    return value.strip()


def _int(ctx: _Ctx, node: Any, key: str, where: str, low: int, high: int) -> int | None:
    value = node.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        ctx.add(_line_of(node, key), "wrong-type", f"{key} must be a whole number", _join(where, key))
        return None
    if not low <= value <= high:
        ctx.add(_line_of(node, key), "out-of-range", f"{key} must be from {low} to {high}",
                _join(where, key))
        return None
    return value


def _str_list(ctx: _Ctx, node: Any, key: str, where: str, *, vocabulary: Iterable[str] | None = None,
              code: str = "unknown-value", allow_scalar: bool = False) -> tuple[str, ...]:
    value = node.get(key) if isinstance(node, dict) else None
    if value is None:
        return ()
    if allow_scalar and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        ctx.add(_line_of(node, key), "wrong-type", f"{key} must be a list of text", _join(where, key))
        return ()
    vocab = tuple(vocabulary) if vocabulary is not None else None
    out: list[str] = []
    for i, item in enumerate(value):
        if vocab is not None and item not in vocab:
            ctx.add(_line_of(value, i) if isinstance(value, _yaml.LList) else _line_of(node, key),
                    code, f"{item!r} is not one of {', '.join(vocab)}{_hint(item, vocab)}",
                    _join(_join(where, key), i))
            continue
        if item not in out:
            out.append(item)
    return tuple(out)


def _read_file(path: Path, rel: str, problems: list[Problem], root: Path | None = None,
               contents: dict[str, bytes] | None = None, items: list[int] | None = None) -> Any:
    """One pack file: a regular file inside the pack folder, at most MAX_FILE_BYTES read.

    A symlink is followed only when it ends inside the pack folder; FIFOs, devices, sockets and
    folders are refused without being read (opened without blocking, checked with fstat), and
    no more than MAX_FILE_BYTES + 1 bytes are ever read, whatever size the file claims.
    """
    if root is None:  # a file of a subfolder (locales/): it must stay in that folder
        root = path.parent.resolve()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        problems.append(Problem(rel, None, None, "unreadable-file",
                                f"cannot read: {getattr(exc, 'strerror', None) or 'broken link'}"))
        return None
    if real.parent != root:
        problems.append(Problem(rel, None, None, "outside-pack",
                                "the file is a link to somewhere outside the pack folder; copy the "
                                "file into the pack instead"))
        return None
    try:
        data = _input.read_bytes(real, MAX_FILE_BYTES, follow_symlinks=False)
    except _input.NotAFileError:
        problems.append(Problem(rel, None, None, "not-a-file",
                                "not a regular file (a FIFO, a device or a folder); a pack holds "
                                "only regular files"))
        return None
    except _input.TooLargeError:
        problems.append(Problem(rel, None, None, "file-too-large",
                                f"the file is longer than {MAX_FILE_BYTES} bytes, the limit"))
        return None
    except OSError as exc:
        problems.append(Problem(rel, None, None, "unreadable-file", f"cannot read: {exc.strerror}"))
        return None
    if contents is not None:
        contents[path.name] = data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel, None, None, "unreadable-file", f"cannot read as UTF-8: {exc}"))
        return None
    if items is not None:
        items[0] -= sum(map(text.count, (",", "\n", ":", "[", "{", "- ")))  # about one per YAML node
        if items[0] < 0:
            problems.append(Problem(rel, None, None, "pack-too-large",
                                    f"the pack's files hold more than about {MAX_YAML_ITEMS} YAML items, "
                                    "the limit; this file was not parsed"))
            return None
    try:
        doc = _yaml.load(text, rel)
    except _yaml.YamlError as exc:
        problems.append(Problem(rel, exc.line, None, exc.code, exc.message))
        return None
    _refuse_hidden(doc, rel, problems, getattr(doc, "line", None))
    return doc


def _pack_too_large(path: Path, left: int, problems: list[Problem]) -> bool:
    """Whether reading ``path`` would pass MAX_PACK_BYTES (then a problem says so)."""
    try:
        size = path.stat().st_size
    except OSError:
        return False  # _read_file reports it
    if size <= left:
        return False
    problems.append(Problem(path.name, None, None, "pack-too-large",
                            f"the pack's files hold more than {MAX_PACK_BYTES} bytes, the limit; "
                            "this file and the ones after it were not read"))
    return True


def _refuse_hidden(node: Any, rel: str, problems: list[Problem], line: int | None) -> None:
    """A problem for every text (key or value) in the document that holds a hidden character."""
    stack: list[tuple[Any, int | None]] = [(node, line)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            found = _HIDDEN.search(item)
            if found is not None:
                problems.append(Problem(rel, at, None, "control-character",
                                        f"text holds the invisible or control character "
                                        f"U+{ord(found.group()):04X} at position {found.start()}; "
                                        "remove it"))
        elif isinstance(item, dict):
            for key, value in item.items():
                key_line = _line_of(item, key) if isinstance(key, str) else at
                stack.append((key, key_line))
                stack.append((value, key_line))
        elif isinstance(item, list):
            stack.extend((value, _line_of(item, i)) for i, value in enumerate(item))


# --------------------------------------------------------------------------- pack parts


def _read_meta(ctx: _Ctx, doc: Any) -> tuple[str, str, str]:
    if not _keys(ctx, doc, "", ("name", "version"), ("name", "version", "description")) and not isinstance(
        doc, dict
    ):
        return ("", "", "")
    name = _text(ctx, doc, "name", "") or ""
    version = doc.get("version")
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not version:
        if "version" in doc:
            ctx.add(_line_of(doc, "version"), "wrong-type", "version must be text", "version")
        version = ""
    description = _text(ctx, doc, "description", "", required=False) or ""
    return name, version, description


def _read_list_doc(ctx: _Ctx, doc: Any, key: str) -> list[tuple[int, Any]]:
    if not _keys(ctx, doc, "", (key,), (key,)):
        return []
    items = doc[key]
    if not isinstance(items, list):
        ctx.add(_line_of(doc, key), "wrong-type", f"{key} must be a list", key)
        return []
    return list(enumerate(items))


def _read_sources(ctx: _Ctx, doc: Any) -> dict[str, Source]:
    out: dict[str, Source] = {}
    allowed = ("id", "citation", "year", "kind", "url", "verified", "note", "title", "grade")
    for i, node in _read_list_doc(ctx, doc, "sources"):
        where = f"sources[{i}]"
        if not _keys(ctx, node, where, ("id", "citation", "kind"), allowed):
            continue
        sid = _check_id(ctx, node, where, _ID)
        citation = _text(ctx, node, "citation", where)
        kind = node.get("kind")
        legacy = None
        if isinstance(kind, str) and kind in LEGACY_SOURCE_KINDS:
            legacy, kind = kind, LEGACY_SOURCE_KINDS[kind]
        if kind not in SOURCE_KINDS:
            ctx.add(_line_of(node, "kind"), "unknown-value",
                    f"kind {kind!r} is not one of {', '.join(SOURCE_KINDS)}"
                    f"{_hint(str(kind), SOURCE_KINDS)}", _join(where, "kind"))
        grade = _text(ctx, node, "grade", where, required=False)
        year = node.get("year")
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
            ctx.add(_line_of(node, "year"), "wrong-type", "year must be a whole number",
                    _join(where, "year"))
            year = None
        verified = node.get("verified", False)
        if not isinstance(verified, bool):
            ctx.add(_line_of(node, "verified"), "wrong-type", "verified must be true or false",
                    _join(where, "verified"))
        url = _text(ctx, node, "url", where, required=False)
        note = _text(ctx, node, "note", where, required=False) or ""
        if sid is None or citation is None:
            continue
        if sid in out:
            ctx.add(_line_of(node, "id"), "duplicate-id", f"source id {sid!r} is defined twice",
                    _join(where, "id"))
            continue
        out[sid] = Source(sid, citation, year, str(kind), url, bool(verified), note, grade, legacy)
    return out


def _check_id(ctx: _Ctx, node: Any, where: str, pattern: re.Pattern[str]) -> str | None:
    value = node.get("id")
    if not isinstance(value, str) or not pattern.match(value):
        shape = "dotted, lower-case words (layer.name)" if pattern is _RULE_ID else "lower-case kebab-case"
        ctx.add(_line_of(node, "id"), "bad-id", f"id {value!r} must be {shape}", _join(where, "id"))
        return None
    return value


def _read_exercises(ctx: _Ctx, doc: Any) -> dict[str, tuple[CatalogEntry, Any, str]]:
    out: dict[str, tuple[CatalogEntry, Any, str]] = {}
    required = ("id", "name", "pattern", "category", "direction", "load", "dose_kind", "settings",
                "instructions", "sources")
    allowed = (*required, "per_side", "equipment", "targets", "tags", "easier", "harder", "media")
    for i, node in _read_list_doc(ctx, doc, "exercises"):
        where = f"exercises[{i}]"
        if not _keys(ctx, node, where, required, allowed):
            continue
        eid = _check_id(ctx, node, where, _ID)
        name = _text(ctx, node, "name", where)
        instructions = _text(ctx, node, "instructions", where)
        enums = {}
        for key, vocab in (("category", CATEGORIES), ("direction", DIRECTIONS), ("dose_kind", DOSE_KINDS)):
            value = node.get(key)
            if value not in vocab:
                ctx.add(_line_of(node, key), "unknown-value",
                        f"{key} {value!r} is not one of {', '.join(vocab)}{_hint(str(value), vocab)}",
                        _join(where, key))
            enums[key] = str(value)
        load = _int(ctx, node, "load", where, 1, 5)
        equipment = _str_list(ctx, node, "equipment", where, vocabulary=EQUIPMENT)
        settings = _str_list(ctx, node, "settings", where, vocabulary=SETTINGS)
        if not settings and "settings" in node:
            ctx.add(_line_of(node, "settings"), "missing-value", "settings must name at least one place",
                    _join(where, "settings"))
        targets = _str_list(ctx, node, "targets", where)
        tags = _str_list(ctx, node, "tags", where)
        for t in tags:
            if not _ID.match(t):
                ctx.add(_line_of(node, "tags"), "bad-id", f"tag {t!r} must be kebab-case",
                        _join(where, "tags"))
        links = {}
        for key in ("easier", "harder"):
            value = node.get(key)
            if value is not None and not isinstance(value, str):
                ctx.add(_line_of(node, key), "wrong-type", f"{key} must be an exercise id or null",
                        _join(where, key))
                value = None
            links[key] = value
        sources = _str_list(ctx, node, "sources", where)
        pattern = node.get("pattern")
        if not isinstance(pattern, str) or not _ID.match(pattern):
            ctx.add(_line_of(node, "pattern"), "bad-id",
                    f"pattern {pattern!r} must be a kebab-case movement family (e.g. side-plank)",
                    _join(where, "pattern"))
            continue
        per_side = node.get("per_side", False)
        if not isinstance(per_side, bool):
            ctx.add(_line_of(node, "per_side"), "wrong-type", "per_side must be true or false",
                    _join(where, "per_side"))
            per_side = False
        media = _str_list(ctx, node, "media", where)
        for url in media:
            if not url.startswith(("https://", "http://")) and not url.startswith("media/"):
                ctx.add(_line_of(node, "media"), "bad-url",
                        f"media {url!r} must be an http(s) URL or a path under media/", _join(where, "media"))
        if eid is None or name is None or instructions is None or load is None:
            continue
        if eid in out:
            ctx.add(_line_of(node, "id"), "duplicate-id", f"exercise id {eid!r} is defined twice",
                    _join(where, "id"))
            continue
        entry = CatalogEntry(eid, name, enums["category"], enums["direction"], load, enums["dose_kind"],
                             equipment, settings, targets, tags, instructions, links["easier"],
                             links["harder"], sources, pattern, per_side, media)
        out[eid] = (entry, node, where)
    return out


_CRITERION_KEYS = ("id", "text", "when", "sources")


def _read_phases(ctx: _Ctx, doc: Any) -> tuple[list[PhaseDef], list[tuple[str, Any, str]]]:
    """The phases, and their criterion nodes (parsed later, once derived names are known)."""
    out: list[PhaseDef] = []
    pending: list[tuple[str, Any, str]] = []
    for i, node in _read_list_doc(ctx, doc, "phases"):
        where = f"phases[{i}]"
        if not _keys(ctx, node, where, ("id", "name", "goal", "weeks", "progress_when"),
                     ("id", "name", "goal", "weeks", "progress_when", "min_days")):
            continue
        pid = _check_id(ctx, node, where, _ID)
        name = _text(ctx, node, "name", where)
        goal = _text(ctx, node, "goal", where)
        weeks = _int(ctx, node, "weeks", where, 1, 52)
        min_days = _int(ctx, node, "min_days", where, 0, 366) if "min_days" in node else 0
        items = node["progress_when"]
        texts: list[str] = []
        criteria: list[CriterionDef] = []
        if not isinstance(items, list):
            ctx.add(_line_of(node, "progress_when"), "wrong-type",
                    "progress_when is a list of criteria", _join(where, "progress_when"))
            items = []
        for k, item in enumerate(items):
            here = _join(_join(where, "progress_when"), k)
            if isinstance(item, str):
                ctx.add(_line_of(node, "progress_when"), "criterion-text-only",
                        "a criterion needs id, text, when and sources: text alone is never checked "
                        "against the feedback", here)
                continue
            if not _keys(ctx, item, here, _CRITERION_KEYS, (*_CRITERION_KEYS, "quota")):
                continue
            cid = _check_id(ctx, item, here, _ID)
            text = _text(ctx, item, "text", here)
            quota = item.get("quota", False)
            if not isinstance(quota, bool):
                ctx.add(_line_of(item, "quota"), "wrong-type", "quota takes true or false",
                        _join(here, "quota"))
                continue
            if cid is None or text is None or pid is None:
                continue
            if any(c.id == cid for c in criteria):
                ctx.add(_line_of(item, "id"), "duplicate-id", f"criterion id {cid!r} is used twice",
                        _join(here, "id"))
                continue
            texts.append(text)
            criteria.append(CriterionDef(cid, text, quota, f"adjust.criterion.{pid}.{cid}"))
            pending.append((pid, item, here))
        if pid is None or name is None or goal is None or weeks is None or min_days is None:
            continue
        if any(p.id == pid for p in out):
            ctx.add(_line_of(node, "id"), "duplicate-id", f"phase id {pid!r} is defined twice",
                    _join(where, "id"))
            continue
        if min_days > weeks * 7:
            ctx.add(_line_of(node, "min_days"), "out-of-range",
                    f"min_days {min_days} is longer than the phase ({weeks} weeks)", _join(where, "min_days"))
        out.append(PhaseDef(pid, name, goal, weeks, tuple(texts), min_days, tuple(criteria)))
    if not out and not ctx.problems:
        ctx.add(_line_of(doc), "missing-value", "a pack needs at least one phase", "phases")
    return out, pending


def _criterion_rule(ctx: _Ctx, phase: str, node: Any, where: str, known: _Known,
                    derived: dict[str, tuple[str, FieldSpec]]) -> Rule | None:
    """The adjust rule that checks one progress criterion of phases.yaml."""
    cid, text = node["id"], str(node["text"]).strip()
    rid = f"adjust.criterion.{phase}.{cid}"
    ctx.rule_id = rid
    before = len(ctx.problems)
    scope = _Scope("adjust", derived)
    when = _parse_condition(ctx, scope, node["when"], _join(where, "when"))
    if when is not None and size_of(when) > MAX_CONDITION_NODES:
        ctx.add(_line_of(node, "when"), "condition-too-large",
                f"the condition has {size_of(when)} parts; the limit is {MAX_CONDITION_NODES}", where)
    _check_template(ctx, scope, text, _line_of(node, "text"), _join(where, "text"))
    sources = _str_list(ctx, node, "sources", where)
    if not sources:
        ctx.add(_line_of(node, "sources"), "missing-value", "a criterion cites at least one source",
                _join(where, "sources"))
    for s in sources:
        known.refs.append(("source", s, _line_of(node, "sources"), _join(where, "sources"), rid, ctx.file))
    ctx.rule_id = None
    if when is None or len(ctx.problems) != before:
        return None
    return Rule(rid, text, "adjust", CRITERION_PRIORITY, when, Then(criterion=f"{phase}.{cid}"), text,
                tuple(sources), ctx.file, _line_of(node) or 0, frozenset(scope.read),
                RuleEvidence(None, note="a phase's criterion for moving on: a design choice", design=True),
                text)


_MEASURE_KEYS = ("name", "better", "mcid", "sources")


def _read_measures(ctx: _Ctx, doc: Any, known: _Known) -> dict[str, Measure]:
    """outcomes.yaml: ``measures: {id: {name, better, mcid, percent?, sources}}``."""
    from backrx.model.measures import MEASURES

    out: dict[str, Measure] = {}
    if not _keys(ctx, doc, "", ("measures",), ("measures", "description")):
        return out
    node = doc["measures"]
    if not isinstance(node, dict):
        ctx.add(_line_of(doc, "measures"), "wrong-type", "measures is a mapping of measure: {...}",
                "measures")
        return out
    for mid, item in node.items():
        where = _join("measures", str(mid))
        if mid not in MEASURES:
            ctx.add(_line_of(node, mid), "unknown-value",
                    f"unknown measure {mid!r}{_hint(str(mid), MEASURES)}; measures are {', '.join(MEASURES)}",
                    where)
            continue
        if not _keys(ctx, item, where, _MEASURE_KEYS, (*_MEASURE_KEYS, "percent")):
            continue
        name = _text(ctx, item, "name", where)
        better = item["better"]
        if better not in ("lower", "higher"):
            ctx.add(_line_of(item, "better"), "unknown-value", "better is lower or higher",
                    _join(where, "better"))
            continue
        numbers: dict[str, float | None] = {}
        for key in ("mcid", "percent"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 < value <= 100):
                ctx.add(_line_of(item, key), "wrong-type", f"{key} is a number above 0 (or null)",
                        _join(where, key))
                value = None
            numbers[key] = float(value) if value is not None else None
        sources = _str_list(ctx, item, "sources", where)
        for s in sources:
            known.refs.append(("source", s, _line_of(item, "sources"), _join(where, "sources"), None,
                               ctx.file))
        if name is not None:
            out[str(mid)] = Measure(str(mid), name, str(better), numbers["mcid"], numbers["percent"],
                                    tuple(sources))
    return out


# --------------------------------------------------------------------------- conditions


class _Scope:
    """The fields a rule in one layer may read, and what it has read."""

    def __init__(self, layer: str, derived: dict[str, tuple[str, FieldSpec]]) -> None:
        self.layer = layer
        self.derived = derived
        self.read: set[str] = set()

    def lookup(self, ctx: _Ctx, name: str, line: int | None, where: str) -> FieldSpec | None:
        if self.layer == "adjust" and name not in ADJUST_FIELDS and (
                name in FIELDS or name in self.derived):
            # Adjust runs after every recommend layer: it may read the profile and their conclusions.
            self.read.add(name)
            return FIELDS[name] if name in FIELDS else self.derived[name][1]
        if self.layer == "adjust" or name in ADJUST_FIELDS:
            return self._lookup_adjust(ctx, name, line, where)
        here = LAYERS.index(self.layer)
        if name.startswith("derived."):
            found = self.derived.get(name)
            if found is None:
                names = list(self.derived)
                ctx.add(line, "unknown-field",
                        f"no rule sets {name!r}{_hint(name, names)}", where)
                return None
            set_in, spec = found
            if LAYERS.index(set_in) >= here:
                ctx.add(line, "layer-order",
                        f"{name!r} is set in the {set_in} layer; a {self.layer} rule can read only "
                        "what earlier layers concluded", where)
                return None
            self.read.add(name)
            return spec
        known = FIELDS.get(name)
        if known is None:
            ctx.add(line, "unknown-field", f"unknown field {name!r}{_hint(name, FIELDS)}", where)
            return None
        concluded_in = CONCLUDED_BY.get(name)
        if concluded_in is not None and LAYERS.index(concluded_in) >= here:
            ctx.add(line, "layer-order",
                    f"{name!r} is concluded by the {concluded_in} layer; a {self.layer} rule can read "
                    "only what earlier layers concluded", where)
            return None
        self.read.add(name)
        return known


    def _lookup_adjust(self, ctx: _Ctx, name: str, line: int | None, where: str) -> FieldSpec | None:
        spec = ADJUST_FIELDS.get(name)
        if self.layer != "adjust":
            ctx.add(line, "layer-order", f"{name!r} is feedback; only adjust rules can read it", where)
            return None
        if spec is None:
            ctx.add(line, "unknown-field",
                    f"unknown field {name!r} for an adjust rule{_hint(name, ADJUST_FIELDS)}; adjust rules "
                    "read response.*, exercise.*, feedback.*, program.*, phase.*, outcomes.* and the profile",
                    where)
            return None
        self.read.add(name)
        return spec


def _scalar_ok(spec: FieldSpec, value: Any) -> tuple[str, str] | None:
    """Why ``value`` cannot be compared with ``spec``, as (problem code, message); None when it can."""
    if spec.kind == "bool":
        return None if isinstance(value, bool) else (
            "type-mismatch", f"{spec.path} is true/false, not {_kind(value)}")
    if spec.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "type-mismatch", f"{spec.path} is a number, not {_kind(value)}"
        if value != value or abs(value) > MAX_NUMBER:
            return "type-mismatch", f"{value!r} is not a usable number"
        return None
    if spec.kind in ("enum", "list"):
        if not isinstance(value, str):
            return "type-mismatch", f"{spec.path} takes one of {', '.join(spec.values)}, not {_kind(value)}"
        if value not in spec.values:
            return ("unknown-value", f"{value!r} is not a value of {spec.path}{_hint(value, spec.values)}; "
                    f"expected one of {', '.join(spec.values)}")
        return None
    return "type-mismatch", f"{spec.path} cannot be compared"  # pragma: no cover


def _argument(spec: FieldSpec, op: Operator, value: Any) -> tuple[Any, tuple[str, str] | None]:
    """The operator's argument as the engines take it, or the problem with it (code, message)."""
    if op.argument == "flag":
        if not isinstance(value, bool):
            return None, ("type-mismatch", f"{op.name} takes true or false")
        return value, None
    if op.argument == "scalars":
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
            return None, ("type-mismatch", f"{op.name} takes a list of 1 to {MAX_IN_VALUES} values")
        bad = [why for why in (_scalar_ok(spec, v) for v in value) if why]
        return (None, bad[0]) if bad else (tuple(dict.fromkeys(value)), None)
    why = _scalar_ok(spec, value)  # scalar, number and member: one value of the field's type
    return (None, why) if why else (value, None)


def _parse_test(ctx: _Ctx, scope: _Scope, name: str, ops: Any, line: int | None,
                where: str) -> Condition | None:
    spec = scope.lookup(ctx, name, line, where)
    if not isinstance(ops, dict):
        ops = {"eq": ops}  # shorthand: field: value
    if not ops:
        ctx.add(line, "empty-condition", f"no operator given for {name!r}", where)
        return None
    tests: list[Condition] = []
    for op_name, value in ops.items():
        op_line = _line_of(ops, op_name) if isinstance(ops, _yaml.LDict) else line
        op_where = _join(where, op_name)
        op = OPERATORS.get(op_name) if isinstance(op_name, str) else None
        if op is None:
            choices = tuple(OPERATORS)
            ctx.add(op_line, "unknown-operator",
                    f"unknown operator {op_name!r}{_hint(str(op_name), choices)}; use one of "
                    f"{', '.join(choices)}", op_where)
            continue
        if spec is None:
            continue
        if op.name not in spec.operators:
            ctx.add(op_line, "operator-not-allowed",
                    f"{op.name!r} does not apply to {name} ({spec.kind}); use one of "
                    f"{', '.join(spec.operators)}", op_where)
            continue
        argument, problem = _argument(spec, op, value)
        if problem is not None:
            ctx.add(op_line, problem[0], problem[1], op_where)
            continue
        tests.append(FieldTest(name, op.name, argument))
    if len(tests) != len(ops):
        return None
    return tests[0] if len(tests) == 1 else AllOf(tuple(tests))


def _parse_condition(ctx: _Ctx, scope: _Scope, node: Any, where: str, depth: int = 0) -> Condition | None:
    line = _line_of(node)
    if depth > MAX_CONDITION_DEPTH:
        ctx.add(line, "condition-too-deep", f"conditions nest deeper than {MAX_CONDITION_DEPTH}", where)
        return None
    if not isinstance(node, dict):
        ctx.add(line, "wrong-type", f"a condition must be a mapping, got {_kind(node)}", where)
        return None
    if len(node) != 1:
        keys = ", ".join(map(str, node)) or "nothing"
        ctx.add(line, "ambiguous-condition",
                f"a condition has exactly one key (found {keys}); combine tests with all: [...]", where)
        return None
    ((key, value),) = node.items()
    key_line = _line_of(node, key)
    here = _join(where, key)
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            ctx.add(key_line, "wrong-type", f"{key} takes a non-empty list of conditions", here)
            return None
        items = [
            _parse_condition(ctx, scope, item, _join(here, i), depth + 1) for i, item in enumerate(value)
        ]
        if any(item is None for item in items):
            return None
        parsed = tuple(i for i in items if i is not None)
        return AllOf(parsed) if key == "all" else AnyOf(parsed)
    if key == "not":
        item = _parse_condition(ctx, scope, value, here, depth + 1)
        return NotOf(item) if item is not None else None
    if key == "at_least":
        if not _keys(ctx, value, here, ("count", "of"), ("count", "of")):
            return None
        of = value["of"]
        if not isinstance(of, list) or not 2 <= len(of) <= MAX_AT_LEAST_ITEMS:
            ctx.add(_line_of(value, "of"), "wrong-type",
                    f"at_least.of takes a list of 2 to {MAX_AT_LEAST_ITEMS} conditions", _join(here, "of"))
            return None
        count = _int(ctx, value, "count", here, 1, len(of))
        items = [_parse_condition(ctx, scope, item, _join(_join(here, "of"), i), depth + 1)
                 for i, item in enumerate(of)]
        if count is None or any(item is None for item in items):
            return None
        return AtLeast(count, tuple(i for i in items if i is not None))
    if not isinstance(key, str) or not _FIELD_REF.match(key):
        ctx.add(key_line, "unknown-field", f"{key!r} is not a field name", here)
        return None
    return _parse_test(ctx, scope, key, value, key_line, here)


# --------------------------------------------------------------------------- rules


_FORMATTER = string.Formatter()


def _check_template(ctx: _Ctx, scope: _Scope, text: str, line: int | None, where: str) -> bool:
    """Rationale templates may name fields as {field.path}; nothing else is interpreted."""
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        ctx.add(line, "bad-template", f"rationale template is malformed: {exc}", where)
        return False
    ok = True
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not _FIELD_REF.match(name) or spec or conversion:
            ctx.add(line, "bad-template",
                    f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                    "is not allowed: a template may only name a field, like {age}", where)
            ok = False
            continue
        if scope.lookup(ctx, name, line, where) is None:
            ok = False
    return ok


def _parse_then(ctx: _Ctx, node: Any, layer: str, where: str, known: _Known) -> Then | None:
    allowed = LAYER_ACTIONS[layer]
    if not isinstance(node, dict) or not node:
        ctx.add(_line_of(node), "wrong-type", "then must be a mapping of actions", where)
        return None
    before = len(ctx.problems)
    out: dict[str, Any] = {}
    for key, value in node.items():
        line = _line_of(node, key)
        here = _join(where, key)
        every = tuple(a for acts in LAYER_ACTIONS.values() for a in acts)
        if key not in every:
            ctx.add(line, "unknown-action", f"unknown action {key!r}{_hint(str(key), every)}", here)
            continue
        if key not in allowed:
            home = [name for name, acts in LAYER_ACTIONS.items() if key in acts]
            ctx.add(line, "action-not-allowed",
                    f"{key!r} belongs in the {' or '.join(home)} layer, not {layer}", here)
            continue
        if key == "refer":
            if _keys(ctx, value, here, ("urgency", "reason"), ("urgency", "reason")):
                urgency = value["urgency"]
                reason = _text(ctx, value, "reason", here)
                if urgency not in URGENCIES:
                    ctx.add(_line_of(value, "urgency"), "unknown-value",
                            f"urgency {urgency!r} is not one of {', '.join(URGENCIES)}", here)
                elif reason:
                    out["refer"] = Refer(urgency, reason)
        elif key == "explain":
            if value is not True:
                ctx.add(line, "wrong-type",
                        "explain takes true: the rule's only conclusion is its rationale", here)
        elif key == "adjust":
            if value not in ADJUST_ACTIONS:
                ctx.add(line, "unknown-value",
                        f"adjust {value!r} is not one of {', '.join(ADJUST_ACTIONS)}"
                        f"{_hint(str(value), ADJUST_ACTIONS)}", here)
            else:
                out["adjust"] = value
        elif key == "hold_rounds":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
                ctx.add(line, "wrong-type", "hold_rounds takes a number of rounds, 1 to 10", here)
            else:
                out["hold_rounds"] = value
        elif key in ("stop_direction", "eliminate", "advance"):
            if value is not True:
                ctx.add(line, "wrong-type", f"{key} takes true", here)
            else:
                out[key] = True
        elif key == "warn":
            warns = []
            for i, item in _as_items(ctx, value, here):
                spot = _join(here, i) if isinstance(value, list) else here
                if not _keys(ctx, item, spot, ("code", "message"), ("code", "message")):
                    continue
                code, message = item["code"], _text(ctx, item, "message", spot)
                if not isinstance(code, str) or not _ID.match(code):
                    ctx.add(_line_of(item, "code"), "bad-id",
                            f"warning code {code!r} must be lower-case kebab-case", _join(spot, "code"))
                elif message:
                    warns.append(Warn(code, message))
            out["warn"] = tuple(warns)
        elif key == "safety_net":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(t, str) and t.strip() for t in items):
                ctx.add(line, "wrong-type", "safety_net takes text or a list of text", here)
            else:
                out["safety_net"] = tuple(t.strip() for t in items)
        elif key == "set":
            pairs = []
            if not isinstance(value, dict) or not value:
                ctx.add(line, "wrong-type", "set takes a mapping of name: value", here)
            else:
                for name, v in value.items():
                    if not isinstance(name, str) or not _VAR.match(name):
                        ctx.add(_line_of(value, name), "bad-id",
                                f"derived name {name!r} must be lower_snake_case", _join(here, name))
                    elif not isinstance(v, (bool, int, float, str)) or (
                        isinstance(v, float) and (v != v or abs(v) > MAX_NUMBER)):
                        ctx.add(_line_of(value, name), "wrong-type",
                                f"derived {name!r} must be true/false, a number or text",
                                _join(here, name))
                    else:
                        pairs.append((name, v))
                out["set"] = tuple(pairs)
        elif key == "pathway":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not names:
                ctx.add(line, "wrong-type", "pathway takes a pathway name or a list of them", here)
            else:
                good = []
                for name in names:
                    if name not in PATHWAYS:
                        ctx.add(line, "unknown-value",
                                f"pathway {name!r} is not one of {', '.join(PATHWAYS)}"
                                f"{_hint(str(name), PATHWAYS)}", here)
                    else:
                        good.append(name)
                out["pathways"] = tuple(good)
        elif key == "risk":
            if value not in RISKS:
                ctx.add(line, "unknown-value", f"risk {value!r} is not one of {', '.join(RISKS)}", here)
            else:
                out["risk"] = value
        elif key == "prescribe":
            out["prescribe"] = tuple(_parse_prescribe(ctx, value, here, known))
        elif key == "exclude":
            out["exclude"] = tuple(_parse_exclude(ctx, value, here, known))
        elif key == "dose":
            out["dose"] = tuple(_parse_dose(ctx, value, here, known))
        elif key == "schedule":
            out["schedule"] = tuple(_parse_schedule(ctx, value, here, known))
    if len(ctx.problems) != before:
        return None
    return Then(**out)


@dataclass
class _Known:
    exercises: set[str]
    phases: set[str]
    tags: set[str]
    refs: list[tuple[str, str, int | None, str, str | None, str]]  # kind, id, line, where, rule, file
    roles: tuple[str, ...] = ()  # planner.yaml fill_order


def _as_items(ctx: _Ctx, value: Any, where: str) -> list[tuple[int, Any]]:
    items = value if isinstance(value, list) else [value]
    if not items:
        ctx.add(_line_of(value), "wrong-type", "expected at least one entry", where)
    return list(enumerate(items))


def _phase_list(ctx: _Ctx, node: Any, key: str, where: str, known: _Known) -> tuple[str, ...]:
    phases = _str_list(ctx, node, key, where, allow_scalar=True)
    for p in phases:
        if p not in known.phases:
            ctx.add(_line_of(node, key), "unknown-phase",
                    f"unknown phase {p!r}{_hint(p, known.phases)}", _join(where, key))
    return phases


def _parse_prescribe(ctx: _Ctx, value: Any, where: str, known: _Known) -> list[Prescribe]:
    out = []
    for i, node in _as_items(ctx, value, where):
        here = _join(where, i) if isinstance(value, list) else where
        if not _keys(ctx, node, here, ("phase", "exercises"), ("phase", "exercises", "pick", "role")):
            continue
        role = node.get("role", "")
        if "role" in node and role not in known.roles:
            ctx.add(_line_of(node, "role"), "unknown-value",
                    f"role {role!r} is not one of {', '.join(known.roles)} (planner.yaml fill_order)"
                    f"{_hint(str(role), known.roles)}", _join(here, "role"))
            continue
        phase = node.get("phase")
        if phase not in known.phases:
            ctx.add(_line_of(node, "phase"), "unknown-phase",
                    f"unknown phase {phase!r}{_hint(str(phase), known.phases)}", _join(here, "phase"))
            continue
        exercises = _str_list(ctx, node, "exercises", here, allow_scalar=True)
        for e in exercises:
            known.refs.append(("exercise", e, _line_of(node, "exercises"), _join(here, "exercises"),
                               ctx.rule_id, ctx.file))
        pick = _int(ctx, node, "pick", here, 1, 20) if "pick" in node else 1
        if exercises and pick is not None:
            out.append(Prescribe(str(phase), exercises, pick, str(role)))
        elif not exercises:
            ctx.add(_line_of(node, "exercises"), "missing-value", "exercises must name at least one",
                    _join(here, "exercises"))
    return out


def _parse_exclude(ctx: _Ctx, value: Any, where: str, known: _Known) -> list[Exclude]:
    out = []
    keys = ("exercises", "direction", "tags", "category", "max_load", "phases", "code")
    for i, node in _as_items(ctx, value, where):
        here = _join(where, i) if isinstance(value, list) else where
        if not _keys(ctx, node, here, (), keys):
            continue
        code = node.get("code")
        if code is not None and code not in EXCLUSION_CODES:
            ctx.add(_line_of(node, "code"), "unknown-value",
                    f"code {code!r} is not one of {', '.join(EXCLUSION_CODES)}"
                    f"{_hint(str(code), EXCLUSION_CODES)}", _join(here, "code"))
            continue
        if not any(k in node for k in keys[:-2]):
            ctx.add(_line_of(node), "missing-value",
                    "exclude needs exercises, direction, tags, category or max_load", here)
            continue
        exercises = _str_list(ctx, node, "exercises", here, allow_scalar=True)
        for e in exercises:
            known.refs.append(("exercise", e, _line_of(node, "exercises"), _join(here, "exercises"),
                               ctx.rule_id, ctx.file))
        directions = _str_list(ctx, node, "direction", here, vocabulary=DIRECTIONS, allow_scalar=True)
        tags = _str_list(ctx, node, "tags", here, allow_scalar=True)
        for t in tags:
            known.refs.append(("tag", t, _line_of(node, "tags"), _join(here, "tags"), ctx.rule_id, ctx.file))
        categories = _str_list(ctx, node, "category", here, vocabulary=CATEGORIES, allow_scalar=True)
        max_load = _int(ctx, node, "max_load", here, 1, 5) if "max_load" in node else None
        phases = _phase_list(ctx, node, "phases", here, known)
        out.append(Exclude(exercises, directions, tags, categories, max_load, phases,
                           str(code) if code is not None else None))
    return out


def _parse_dose(ctx: _Ctx, value: Any, where: str, known: _Known) -> list[DoseSpec]:
    out = []
    for i, node in _as_items(ctx, value, where):
        here = _join(where, i) if isinstance(value, list) else where
        if not _keys(ctx, node, here, ("kind",), ("kind", "phases", *DOSE_FIELDS)):
            continue
        kind = node.get("kind")
        if kind not in DOSE_KINDS:
            ctx.add(_line_of(node, "kind"), "unknown-value",
                    f"dose kind {kind!r} is not one of {', '.join(DOSE_KINDS)}", _join(here, "kind"))
            continue
        phases = _phase_list(ctx, node, "phases", here, known)
        values = []
        for f in DOSE_FIELDS:
            if f in node:
                v = _int(ctx, node, f, here, 1, DOSE_LIMITS[f])
                if v is not None:
                    values.append((f, v))
        if not values:
            ctx.add(_line_of(node), "missing-value", f"dose needs one of {', '.join(DOSE_FIELDS)}", here)
            continue
        out.append(DoseSpec(str(kind), phases, tuple(values)))
    return out


def _parse_schedule(ctx: _Ctx, value: Any, where: str, known: _Known) -> list[Schedule]:
    out = []
    for i, node in _as_items(ctx, value, where):
        here = _join(where, i) if isinstance(value, list) else where
        if not _keys(ctx, node, here, ("phase", "weeks"), ("phase", "weeks")):
            continue
        phase = node.get("phase")
        weeks = _int(ctx, node, "weeks", here, 1, 52)
        if phase not in known.phases:
            ctx.add(_line_of(node, "phase"), "unknown-phase", f"unknown phase {phase!r}",
                    _join(here, "phase"))
        elif weeks is not None:
            out.append(Schedule(str(phase), weeks))
    return out


_RULE_KEYS = ("id", "title", "priority", "when", "then", "rationale", "patient", "sources", "evidence",
              "design")
_EVIDENCE_KEYS = ("kind", "grade", "note")


def _parse_evidence(ctx: _Ctx, node: Any) -> RuleEvidence | None:
    """A rule's ``evidence:`` (a kind, or {kind, grade, note}) and ``design: true``; None if neither."""
    design = node.get("design", False)
    if not isinstance(design, bool):
        ctx.add(_line_of(node, "design"), "wrong-type", "design takes true or false", "design")
        design = False
    value = node.get("evidence")
    if value is None:
        if "evidence" in node:
            ctx.add(_line_of(node, "evidence"), "wrong-type", "evidence must name a kind", "evidence")
        return RuleEvidence(None, design=True) if design else None
    grade = note = None
    if isinstance(value, dict):
        if not _keys(ctx, value, "evidence", ("kind",), _EVIDENCE_KEYS):
            return None
        grade = _text(ctx, value, "grade", "evidence", required=False)
        note = _text(ctx, value, "note", "evidence", required=False)
        value = value.get("kind")
    if value not in SOURCE_KINDS:
        ctx.add(_line_of(node, "evidence"), "unknown-value",
                f"evidence {value!r} is not one of {', '.join(SOURCE_KINDS)}"
                f"{_hint(str(value), SOURCE_KINDS)}",
                "evidence")
        return None
    return RuleEvidence(str(value), grade, note, design)


def _read_rule_file(ctx: _Ctx, doc: Any, known: _Known,
                    derived: dict[str, tuple[str, FieldSpec]]) -> tuple[str, list[tuple[Any, str]]] | None:
    """First pass over a rule file: its layer, and the rule nodes. Records derived names."""
    if not _keys(ctx, doc, "", ("layer", "rules"), ("layer", "rules", "description")):
        return None
    layer = doc["layer"]
    if layer not in LAYERS:
        ctx.add(_line_of(doc, "layer"), "unknown-layer",
                f"unknown layer {layer!r}{_hint(str(layer), LAYERS)}; layers are {', '.join(LAYERS)}",
                "layer")
        return None
    rules = doc["rules"]
    if not isinstance(rules, list):
        ctx.add(_line_of(doc, "rules"), "wrong-type", "rules must be a list", "rules")
        return None
    nodes = []
    for i, node in enumerate(rules):
        nodes.append((node, f"rules[{i}]"))
        then = node.get("then") if isinstance(node, dict) else None
        sets = then.get("set") if isinstance(then, dict) else None
        if isinstance(sets, dict) and "set" in LAYER_ACTIONS[layer]:
            for name, value in sets.items():
                if isinstance(name, str) and isinstance(value, (bool, int, float, str)):
                    path = f"derived.{name}"
                    spec = _derived_spec(path, value)
                    previous = derived.get(path)
                    if previous is not None and (previous[0] != layer or previous[1].kind != spec.kind):
                        ctx.add(_line_of(sets, name), "type-mismatch",
                                f"{path} is set as {previous[1].kind} in the {previous[0]} layer and as "
                                f"{spec.kind} in the {layer} layer", "then.set")
                    elif previous is not None and spec.kind == "enum":
                        merged = tuple(dict.fromkeys((*previous[1].values, *spec.values)))
                        derived[path] = (layer, FieldSpec(path, "enum", merged, origin="derived"))
                    else:
                        derived[path] = (layer, spec)
    return str(layer), nodes


def _derived_spec(path: str, value: Scalar) -> FieldSpec:
    if isinstance(value, bool):
        return FieldSpec(path, "bool", origin="derived")
    if isinstance(value, int):
        return FieldSpec(path, "int", origin="derived")
    if isinstance(value, float):
        return FieldSpec(path, "float", origin="derived")
    return FieldSpec(path, "enum", (value,), origin="derived")


def _parse_rule(ctx: _Ctx, node: Any, where: str, layer: str, known: _Known,
                derived: dict[str, tuple[str, FieldSpec]], file: str) -> Rule | None:
    ctx.rule_id = None
    if isinstance(node, dict) and isinstance(node.get("id"), str):
        ctx.rule_id = node["id"]
    if not _keys(ctx, node, where, ("id", "title", "when", "then", "rationale", "sources"), _RULE_KEYS):
        return None
    before = len(ctx.problems)
    rid = _check_id(ctx, node, where, _RULE_ID)
    title = _text(ctx, node, "title", where)
    priority = _int(ctx, node, "priority", where, 0, 1_000_000) if "priority" in node else 100
    scope = _Scope(layer, derived)
    when = _parse_condition(ctx, scope, node["when"], "when")
    if when is not None:
        if size_of(when) > MAX_CONDITION_NODES:
            ctx.add(_line_of(node, "when"), "condition-too-large",
                    f"the condition has {size_of(when)} parts; the limit is {MAX_CONDITION_NODES}", "when")
        elif alternatives(when) > MAX_ALTERNATIVES:
            ctx.add(_line_of(node, "when"), "condition-too-complex",
                    f"the condition spreads into {alternatives(when)} alternatives (nested any, in or "
                    f"at_least); the limit is {MAX_ALTERNATIVES}: split it into several rules", "when")
        if depth_of(when) > MAX_CONDITION_DEPTH:  # pragma: no cover - caught while parsing
            ctx.add(_line_of(node, "when"), "condition-too-deep", "the condition nests too deeply", "when")
    then = _parse_then(ctx, node["then"], layer, "then", known)
    rationale = _text(ctx, node, "rationale", where)
    if rationale is not None:
        _check_template(ctx, scope, rationale, _line_of(node, "rationale"), "rationale")
    patient = _text(ctx, node, "patient", where) if "patient" in node else None
    if patient is not None:
        _check_template(ctx, scope, patient, _line_of(node, "patient"), "patient")
    sources = _str_list(ctx, node, "sources", where)
    evidence = _parse_evidence(ctx, node)
    if not sources and isinstance(node.get("sources"), list):
        ctx.add(_line_of(node, "sources"), "missing-value", "a rule cites at least one source", "sources")
    for s in sources:
        known.refs.append(("source", s, _line_of(node, "sources"), "sources", ctx.rule_id, ctx.file))
    if len(ctx.problems) != before or None in (rid, title, priority, when, then, rationale):
        return None
    assert rid and title and priority is not None and when and then and rationale
    reads = frozenset(scope.read)
    return Rule(rid, title, layer, priority, when, then, rationale, sources, file, _line_of(node) or 0,
                reads, evidence, patient)


# --------------------------------------------------------------------------- the pack


REQUIRED_FILES = ("pack.yaml", "sources.yaml", "exercises.yaml", "phases.yaml", "planner.yaml")
TEXT_FILES = ("text.yaml",)  # not rule files: read by backrx.pack.texts
#: Data files that are not rule files.
DATA_FILES = (*REQUIRED_FILES, "outcomes.yaml", *TEXT_FILES, TIERS_FILE)


def _tests(condition: Condition) -> list[FieldTest]:
    if isinstance(condition, FieldTest):
        return [condition]
    if isinstance(condition, NotOf):
        return []  # a negated test cannot be what makes a referral happen
    return [t for item in condition.items for t in _tests(item)]


def bundled_path() -> Path:
    """The folder of the rule pack shipped with backrx."""
    here = Path(__file__).resolve().parent.parent  # the backrx package
    installed = here / "_bundled_rules"
    if installed.is_dir():
        return installed
    return here.parent.parent / "rules"  # a source checkout


def digest_of(docs: dict[str, Any]) -> str:
    """A hash of the pack's parsed content: every top-level YAML file, by name and data.

    It is computed from the parsed documents in a canonical JSON form, so comments, key order,
    quoting and line breaks do not change it; any change of a value does.
    """
    canonical = json.dumps(docs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def digest_of_bytes(files: Iterable[tuple[str, bytes]]) -> str:
    """The pack digest of top-level files given as bytes (parsed as the loader parses them)."""
    docs: dict[str, Any] = {}
    for name, data in sorted(files):
        try:
            doc = _yaml.load(data.decode("utf-8"), name)
        except (UnicodeDecodeError, _yaml.YamlError):
            doc = {"unparsed": hashlib.sha256(data).hexdigest()}  # never the digest of a loaded pack
        if doc is not None:
            docs[name] = doc
    return digest_of(docs)


def read_pack(path: str | os.PathLike[str] | None = None) -> Pack:
    """Read and validate a rule pack; raise :class:`RuleError` listing every problem
    (at most MAX_PROBLEMS_PER_FILE per file, and how many more)."""
    token = _hints_left.set([MAX_HINTS])
    try:
        return _read_pack(path)
    finally:
        _hints_left.reset(token)


def _read_pack(path: str | os.PathLike[str] | None) -> Pack:
    root = Path(path) if path is not None else bundled_path()
    problems = _Problems()
    if not root.is_dir():
        raise RuleError([Problem(str(root), None, None, "not-a-pack", "no such folder")])
    files = sorted(root.glob("*.yaml"))
    for other in sorted(root.glob("*.yml")) + sorted(root.glob("*.json")):
        # A rule file the loader would silently skip could be a whole layer (triage!) gone.
        problems.append(Problem(other.name, None, None, "wrong-extension",
                                f"rule-pack files end in .yaml; rename {other.name} or move it out"))
    if len(files) > MAX_FILES:
        raise RuleError([Problem(str(root), None, None, "too-many-files",
                                 f"{len(files)} YAML files; the limit is {MAX_FILES}")])
    for required in REQUIRED_FILES:
        if not (root / required).is_file():
            problems.append(Problem(required, None, None, "missing-file",
                                    f"a pack needs {required}"))
    docs: dict[str, Any] = {}
    contents: dict[str, bytes] = {}
    real_root = root.resolve()
    items = [MAX_YAML_ITEMS]
    for f in files:
        if f.name in NON_RULE_FILES:
            continue
        left = MAX_PACK_BYTES - sum(len(data) for data in contents.values())
        if left < MAX_FILE_BYTES and _pack_too_large(f, left, problems):
            break
        doc = _read_file(f, f.name, problems, real_root, contents, items)
        if doc is not None:
            docs[f.name] = doc
        elif f.name not in [p.file for p in problems]:
            problems.append(Problem(f.name, None, None, "empty-file", "the file is empty"))

    meta_ctx = _Ctx(problems, "pack.yaml")
    name, version, description = (
        _read_meta(meta_ctx, docs["pack.yaml"]) if "pack.yaml" in docs else ("", "", "")
    )
    sources = _read_sources(_Ctx(problems, "sources.yaml"), docs["sources.yaml"]) \
        if "sources.yaml" in docs else {}
    ex_ctx = _Ctx(problems, "exercises.yaml")
    catalog = _read_exercises(ex_ctx, docs["exercises.yaml"]) if "exercises.yaml" in docs else {}
    phases_ctx = _Ctx(problems, "phases.yaml")
    phases, pending_criteria = _read_phases(phases_ctx, docs["phases.yaml"]) \
        if "phases.yaml" in docs else ([], [])

    planner = read_planner(docs["planner.yaml"], problems, phases={p.id for p in phases},
                           categories=CATEGORIES, dose_kinds=DOSE_KINDS, sources=set(sources)) \
        if "planner.yaml" in docs else None
    known = _Known(set(catalog), {p.id for p in phases},
                   {t for entry, _, _ in catalog.values() for t in entry.tags}, [],
                   planner.fill_order if planner is not None else ())
    for eid, (entry, node, where) in catalog.items():
        ex_ctx.rule_id = None
        for key in ("easier", "harder"):
            target = getattr(entry, key)
            if target is not None and target not in catalog:
                ex_ctx.add(_line_of(node, key), "unknown-exercise",
                           f"{eid}.{key} names {target!r}, which is not in the catalog"
                           f"{_hint(target, catalog)}", _join(where, key))
            if target == eid:
                ex_ctx.add(_line_of(node, key), "bad-link", f"{eid}.{key} names the exercise itself",
                           _join(where, key))
        for s in entry.sources:
            if s not in sources:
                ex_ctx.add(_line_of(node, "sources"), "unknown-source",
                           f"{eid} cites {s!r}, which is not in sources.yaml{_hint(s, sources)}",
                           _join(where, "sources"))

    # Rule files: first every file's layer and derived names, then the rules themselves.
    derived: dict[str, tuple[str, FieldSpec]] = {}
    rule_files: list[tuple[_Ctx, str, list[tuple[Any, str]]]] = []
    tiers = read_tiers(docs[TIERS_FILE], problems) if TIERS_FILE in docs else None
    for fname, doc in docs.items():
        if fname in DATA_FILES or fname in NON_RULE_FILES:
            continue
        ctx = _Ctx(problems, fname)
        found = _read_rule_file(ctx, doc, known, derived)
        if found is not None:
            rule_files.append((ctx, found[0], found[1]))
    if len(derived) > MAX_DERIVED:
        problems.append(Problem("", None, None, "too-many-derived",
                                f"{len(derived)} derived names; the limit is {MAX_DERIVED}"))
    by_layer: dict[str, list[Rule]] = {layer: [] for layer in LAYERS}
    seen: dict[str, tuple[str, int | None]] = {}
    total = patterns = 0
    for ctx, layer, nodes in rule_files:
        for node, where in nodes:
            total += 1
            if total > MAX_RULES:
                ctx.add(_line_of(node), "too-many-rules", f"a pack holds at most {MAX_RULES} rules", where)
                break
            if patterns > MAX_PATTERNS:
                ctx.rule_id = None
                ctx.add(_line_of(node), "pack-too-complex",
                        f"the rules up to here already spread into more than {MAX_PATTERNS} "
                        "alternatives (any, in and at_least multiply them); the limit keeps loading "
                        "and memory bounded: simplify or split the conditions", where)
                break
            rule = _parse_rule(ctx, node, where, layer, known, derived, ctx.file)
            if rule is None:
                continue
            patterns += alternatives(rule.when)
            if rule.id in seen:
                first_file, first_line = seen[rule.id]
                ctx.rule_id = rule.id
                ctx.add(rule.line, "duplicate-id",
                        f"rule id {rule.id!r} is already used at {first_file}:{first_line}", "id")
                continue
            seen[rule.id] = (ctx.file, rule.line)
            by_layer[layer].append(rule)
    for phase_id, node, where in pending_criteria:
        criterion = _criterion_rule(phases_ctx, phase_id, node, where, known, derived)
        if criterion is not None:
            by_layer["adjust"].append(criterion)
    measures = _read_measures(_Ctx(problems, "outcomes.yaml"), docs["outcomes.yaml"], known) \
        if "outcomes.yaml" in docs else {}

    # References into the catalog, the tags and the bibliography.
    for kind, ref, line, where, rule_id, file in known.refs:
        pool: set[str] | dict[str, Any]
        pool, code = {"exercise": (known.exercises, "unknown-exercise"),
                      "tag": (known.tags, "unknown-tag"),
                      "source": (set(sources), "unknown-source")}[kind]
        if ref not in pool:
            problems.append(Problem(file, line, rule_id, code,
                                    f"{kind} {ref!r} is not defined in the pack{_hint(ref, pool)}", where))

    # Evidence: no rule claims stronger evidence than the strongest source it cites. A rule that
    # takes its grade from no text of its own shows the grades its sources of that kind give.
    for layer_rules in by_layer.values():
        for i, rule in enumerate(layer_rules):
            ev = rule.evidence
            kinds = [sources[s].kind for s in rule.sources
                     if s in sources and sources[s].kind in SOURCE_KINDS]
            if ev is None or ev.kind is None or not kinds:
                continue
            best = min(kinds, key=SOURCE_KINDS.index)
            if SOURCE_KINDS.index(ev.kind) < SOURCE_KINDS.index(best):
                problems.append(Problem(rule.file, rule.line, rule.id, "evidence-above-sources",
                                        f"the rule states {ev.kind} evidence but its strongest source is "
                                        f"{best}: cite the {ev.kind} or state the weaker kind", "evidence"))
            elif ev.grade is None:
                grades = [f"{s}: {sources[s].grade}" for s in rule.sources
                          if s in sources and sources[s].grade and sources[s].kind == ev.kind]
                if grades:
                    layer_rules[i] = dataclasses.replace(
                        rule, evidence=dataclasses.replace(ev, grade="; ".join(grades)))

    # Derived names that no later layer reads are dead conclusions.
    read_by_later: set[str] = set()
    set_by_loaded: set[str] = set()
    for layer_rules in by_layer.values():
        for rule in layer_rules:
            read_by_later |= rule.reads
            set_by_loaded |= {f"derived.{n}" for n, _ in rule.then.set}
    for path, (layer, _) in derived.items():
        # A setter that failed to load has its own problem already.
        if path in set_by_loaded and path not in read_by_later:
            setter = next((r for r in by_layer[layer] if any(f"derived.{n}" == path for n, _ in r.then.set)),
                          None)
            problems.append(Problem(setter.file if setter else "?", setter.line if setter else None,
                                    setter.id if setter else None, "unused-conclusion",
                                    f"{path} is set but no later layer reads it", "then.set"))

    # Safety: every red-flag code must be able to lead to a referral.
    referring = [r for r in by_layer["triage"] if r.then.refer is not None]
    named = {t.value for r in referring for t in _tests(r.when)
             if t.field == "red_flags" and t.op == "contains"}
    missing = [code for code in RED_FLAGS if code not in named]
    if missing and "triage" not in {p.rule_id.split(".")[0] for p in problems if p.rule_id}:
        problems.append(Problem("", None, None, "red-flag-without-referral",
                                f"no triage rule refers for {', '.join(missing)}: every red flag must "
                                "lead to a referral"))
    # An unsure answer is not a "no": each code in red_flags_unsure must be able to refer too.
    unsure = {t.value for r in referring for t in _tests(r.when)
              if t.field == "red_flags_unsure" and t.op == "contains"}
    missing_unsure = [code for code in RED_FLAGS if code not in unsure]
    if missing_unsure and "triage" not in {p.rule_id.split(".")[0] for p in problems if p.rule_id}:
        problems.append(Problem("", None, None, "unsure-red-flag-without-referral",
                                f"no triage rule refers when the person is unsure of "
                                f"{', '.join(missing_unsure)}: an unsure answer must lead to a review"))
    if tiers is not None:
        worded: list[tuple[str, int, str, str | None, str, str]] = []
        for layer_rules in by_layer.values():
            for rule in layer_rules:
                if rule.then.refer is not None:
                    refer = rule.then.refer
                    worded.append((rule.file, rule.line, rule.id, refer.urgency, "then.refer.reason",
                                   refer.reason))
                worded += [(rule.file, rule.line, rule.id, None, "then.safety_net", line)
                           for line in rule.then.safety_net]
                if rule.patient and rule.layer == "triage":
                    worded.append((rule.file, rule.line, rule.id, None, "patient", rule.patient))

    from backrx.pack.texts import read_texts

    texts = read_texts(_Ctx(problems, "text.yaml"), docs.get("text.yaml"), root)
    if tiers is not None:
        for urgency in tiers.tiers:  # the report words of each tier say the tier's phrase too
            both = " ".join(texts.get(f"urgency.{urgency}.{part}", "") for part in ("heading", "advice"))
            if both.strip():
                worded.append(("text.yaml", 0, f"urgency.{urgency}", urgency, "text", both))
        check_wording(tiers, worded, problems)
    from backrx.pack.locale import read_locales

    locales = read_locales(root, problems)

    if problems:
        raise RuleError(problems.summarised())

    layers = tuple(
        Layer(layer, tuple(sorted(rules, key=lambda r: (r.priority, r.id))),
              tuple(sorted({f for r in rules for f in fields_of(r.when)})))
        for layer, rules in by_layer.items()
    )
    return Pack(name, version, description, digest_of(docs), str(root), layers,
                {eid: entry for eid, (entry, _, _) in catalog.items()}, sources, tuple(phases),
                {path: spec for path, (_, spec) in derived.items()}, planner=planner, measures=measures,
                texts=texts, locales=locales, tiers=tiers)
