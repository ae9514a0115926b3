"""Reading one pack file: the problem collector, lines and hints, the typed field readers, and the
refusal of files that are not regular, too large, or that hide characters."""

from __future__ import annotations

import contextvars
import difflib
import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backrx.errors import Problem
from backrx.pack import parsecache
from backrx.pack.limits import MAX_TEXT
from backrx.pack.limits import active as active_limits
from backrx.readers import documents, safe_yaml

# \Z, not $: "$" also matches before a trailing newline, so "triage.x\n" would pass as an id.
ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*\Z")
RULE_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*(?:\.[a-z0-9]+(?:[-_][a-z0-9]+)*)+\Z")
VAR = re.compile(r"^[a-z][a-z0-9_]{0,40}\Z")
FIELD_REF = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*\Z")
#: Characters no pack text may hold: control characters but tab and newline (NUL included),
#: bidirectional overrides and isolates, zero-width and other invisible format characters, and
#: the Unicode line and paragraph separators. They can hide or reorder what a clinician reads.
HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0001\U000e0020-\U000e007f]"
)

# --------------------------------------------------------------------------- reading


class Ctx:
    """Collects problems while reading one file."""

    def __init__(self, problems: list[Problem], file: str) -> None:
        self.problems = problems
        self.file = file
        self.rule_id: str | None = None

    def add(self, line: int | None, code: str, message: str, where: str = "") -> None:
        self.problems.append(Problem(self.file, line, self.rule_id, code, message, where))


def line_of(node: Any, key: str | int | None = None) -> int | None:
    if key is not None:
        if isinstance(node, safe_yaml.LDict) and isinstance(key, str):
            return node.key_lines.get(key, node.line)
        if isinstance(node, safe_yaml.LList) and isinstance(key, int) and key < len(node.item_lines):
            return node.item_lines[key]
    return getattr(node, "line", None)


#: How many "did you mean" hints one load computes, and how many candidates each compares:
#: the hint is a courtesy, and comparing every unknown name against a huge pool is what made
#: refusing a pack slow (measured: 75 s for 200 unknown ids among 20,000 sources).
MAX_HINTS = 200
MAX_HINT_CANDIDATES = 200
hints_left: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("backrx_hints", default=None)


def hint(word: str, choices: Iterable[str]) -> str:
    budget = hints_left.get()
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


class Problems(list[Problem]):
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


def check_keys(ctx: Ctx, node: Any, where: str, required: Iterable[str], allowed: Iterable[str],
               *, listed: str | None = None) -> bool:
    """Check a mapping's keys; report a node that is not a mapping (wrong-type), unknown keys
    (unknown-key) and missing keys (missing-key). The one key checker of every YAML reader.

    ``listed`` says how an unknown key's message names the allowed keys: None (the pack files)
    gives a "did you mean" hint and says what the node was instead of a mapping; a word such as
    "expected" (planner.yaml) or "allowed:" (the hazard log) lists every allowed key after it.
    """
    if not isinstance(node, dict):
        got = f", got {kind_of(node)}" if listed is None else ""
        ctx.add(line_of(node), "wrong-type", f"expected a mapping{got}", where)
        return False
    allowed = tuple(allowed)
    ok = True
    for key in node:
        if key not in allowed:
            if listed is None:
                ctx.add(line_of(node, key), "unknown-key", f"unknown key {key!r}{hint(key, allowed)}",
                        join(where, key))
            else:
                ctx.add(line_of(node, key), "unknown-key",
                        f"unknown key {key!r}; {listed} {', '.join(allowed)}", join(where, str(key)))
            ok = False
    for key in required:
        if key not in node:
            ctx.add(line_of(node), "missing-key", f"missing required key {key!r}", where)
            ok = False
    return ok


def kind_of(value: Any) -> str:
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


def join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def text_value(ctx: Ctx, node: Any, key: str, where: str, *, required: bool = True) -> str | None:
    value = node.get(key) if isinstance(node, dict) else None
    if value is None:
        if required and isinstance(node, dict) and key in node:
            ctx.add(line_of(node, key), "wrong-type", f"{key} must be text", join(where, key))
        return None
    if not isinstance(value, str) or not value.strip():
        ctx.add(line_of(node, key), "wrong-type", f"{key} must be non-empty text", join(where, key))
        return None
    if len(value) > MAX_TEXT:
        ctx.add(line_of(node, key), "too-long", f"{key} is longer than {MAX_TEXT} characters",
                join(where, key))
        return None
    return value.strip()


def int_value(ctx: Ctx, node: Any, key: str, where: str, low: int, high: int) -> int | None:
    value = node.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        ctx.add(line_of(node, key), "wrong-type", f"{key} must be a whole number", join(where, key))
        return None
    if not low <= value <= high:
        ctx.add(line_of(node, key), "out-of-range", f"{key} must be from {low} to {high}",
                join(where, key))
        return None
    return value


def str_list(ctx: Ctx, node: Any, key: str, where: str, *, vocabulary: Iterable[str] | None = None,
              code: str = "unknown-value", allow_scalar: bool = False) -> tuple[str, ...]:
    value = node.get(key) if isinstance(node, dict) else None
    if value is None:
        return ()
    if allow_scalar and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        ctx.add(line_of(node, key), "wrong-type", f"{key} must be a list of text", join(where, key))
        return ()
    vocab = tuple(vocabulary) if vocabulary is not None else None
    out: list[str] = []
    for i, item in enumerate(value):
        if vocab is not None and item not in vocab:
            ctx.add(line_of(value, i) if isinstance(value, safe_yaml.LList) else line_of(node, key),
                    code, f"{item!r} is not one of {', '.join(vocab)}{hint(item, vocab)}",
                    join(join(where, key), i))
            continue
        if item not in out:
            out.append(item)
    return tuple(out)


def check_id(ctx: Ctx, node: Any, where: str, pattern: re.Pattern[str]) -> str | None:
    value = node.get("id")
    if not isinstance(value, str) or not pattern.match(value):
        shape = "dotted, lower-case words (layer.name)" if pattern is RULE_ID else "lower-case kebab-case"
        ctx.add(line_of(node, "id"), "bad-id", f"id {value!r} must be {shape}", join(where, "id"))
        return None
    return value


def read_file(path: Path, rel: str, problems: list[Problem], root: Path | None = None,
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
        data = documents.read_bytes(real, active_limits().file_bytes, follow_symlinks=False)
    except documents.NotAFileError:
        problems.append(Problem(rel, None, None, "not-a-file",
                                "not a regular file (a FIFO, a device or a folder); a pack holds "
                                "only regular files"))
        return None
    except documents.TooLargeError:
        problems.append(Problem(rel, None, None, "file-too-large",
                                f"the file is longer than {active_limits().file_bytes} bytes, the limit"))
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
            limit = active_limits().yaml_items
            problems.append(Problem(rel, None, None, "pack-too-large",
                                    f"the pack's files hold more than about {limit} YAML items, "
                                    "the limit; this file was not parsed"))
            return None
    try:
        doc = parsecache.parse(data, text, rel)
    except safe_yaml.YamlError as exc:
        problems.append(Problem(rel, exc.line, None, exc.code, exc.message))
        return None
    # A parsed text can hold a hidden character only if the file does, or writes one as an escape
    # ("\u200b"; YAML folds line breaks only to "\n"): only then is every text walked.
    if HIDDEN.search(text) is not None or "\\" in text:
        refuse_hidden(doc, rel, problems, getattr(doc, "line", None))
    return doc


def pack_too_large(path: Path, left: int, problems: list[Problem]) -> bool:
    """Whether reading ``path`` would pass MAX_PACK_BYTES (then a problem says so)."""
    try:
        size = path.stat().st_size
    except OSError:
        return False  # read_file reports it
    if size <= left:
        return False
    problems.append(Problem(path.name, None, None, "pack-too-large",
                            f"the pack's files hold more than {active_limits().pack_bytes} bytes, the limit; "
                            "this file and the ones after it were not read"))
    return True


def refuse_hidden(node: Any, rel: str, problems: list[Problem], line: int | None) -> None:
    """A problem for every text (key or value) in the document that holds a hidden character."""
    stack: list[tuple[Any, int | None]] = [(node, line)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            found = HIDDEN.search(item)
            if found is not None:
                problems.append(Problem(rel, at, None, "control-character",
                                        f"text holds the invisible or control character "
                                        f"U+{ord(found.group()):04X} at position {found.start()}; "
                                        "remove it"))
        elif isinstance(item, dict):
            for key, value in item.items():
                key_line = line_of(item, key) if isinstance(key, str) else at
                stack.append((key, key_line))
                stack.append((value, key_line))
        elif isinstance(item, list):
            stack.extend((value, line_of(item, i)) for i, value in enumerate(item))



@dataclass
class Known:
    exercises: set[str]
    phases: set[str]
    tags: set[str]
    refs: list[tuple[str, str, int | None, str, str | None, str]]  # kind, id, line, where, rule, file
    roles: tuple[str, ...] = ()  # planner.yaml fill_order



def shipped_folder(installed: str, checkout: str) -> Path:
    """A folder shipped with backrx: ``installed`` inside the package (a wheel), else ``checkout``
    at the top of a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the backrx package
    inside = here / installed
    return inside if inside.is_dir() else here.parent.parent / checkout


def bundled_path() -> Path:
    """The folder of the rule pack shipped with backrx."""
    return shipped_folder("_bundled_rules", "rules")
