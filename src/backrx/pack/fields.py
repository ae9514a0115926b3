"""``fields.yaml``: the profile fields a pack declares informational, each with its reason.

``backrx audit`` reports every profile field that no rule reads and every field whose change never
alters a decision. A field may stay that way only if the pack says so here, with a reason a
clinician can check::

    informational:
      profile_format: The format of the record itself, not an answer about the person.

The file is optional. The loader checks it with the rest of the pack: every path must be a leaf
of the profile (`profile_leaves`) and every reason a non-empty text; a problem names the
file and line. The declarations decide nothing for a person; only the audit reads them.
"""

from __future__ import annotations

import functools
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel

from backrx.errors import Problem, RuleError
from backrx.model.profile import Profile
from backrx.pack.limits import MAX_TEXT
from backrx.pack.read import Ctx, check_keys, hint, join, kind_of, line_of
from backrx.readers import safe_yaml

FILE = "fields.yaml"

LeafKind = Literal["bool", "enum", "list", "int", "float", "other"]


@dataclass(frozen=True)
class Leaf:
    """One leaf of the profile: its dotted path, its kind and the values its type allows."""

    path: str
    kind: LeafKind
    values: tuple[Any, ...] = ()  # enum and list: the vocabulary
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False  # the profile must give it (it cannot be left out)


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The core type without Optional and Annotated, and the constraints found on the way."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            metadata.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return Any, metadata
            annotation = members[0]
        else:
            return annotation, metadata


def _bound(metadata: list[Any], kind: type) -> float | None:
    for item in metadata:
        for constraint in getattr(item, "metadata", [item]):
            if isinstance(constraint, kind):
                return float(getattr(constraint, "ge" if kind is annotated_types.Ge else "le"))
    return None


def _leaves(model: type[BaseModel], prefix: str) -> list[Leaf]:
    out: list[Leaf] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        core, metadata = _unwrap(info.annotation)
        metadata.extend(info.metadata)
        required = info.is_required()
        if isinstance(core, type) and issubclass(core, BaseModel):
            out.extend(_leaves(core, path + "."))
            continue
        if get_origin(core) is list:
            item, _ = _unwrap(get_args(core)[0])
            values = get_args(item) if get_origin(item) is Literal else ()
            out.append(Leaf(path, "list" if values else "other", values, required=required))
        elif get_origin(core) is Literal:
            out.append(Leaf(path, "enum", get_args(core), required=required))
        elif core is bool:
            out.append(Leaf(path, "bool", required=required))
        elif core in (int, float):
            out.append(Leaf(path, "int" if core is int else "float", (),
                            _bound(metadata, annotated_types.Ge), _bound(metadata, annotated_types.Le),
                            required=required))
        else:
            out.append(Leaf(path, "other", required=required))
    return out


@functools.cache
def profile_leaves() -> dict[str, Leaf]:
    """Every leaf of `backrx.Profile` by dotted path (``findings.weakness``,
    ``outcomes.walk_minutes``, ``preferences.settings``...), read off the model itself."""
    return {leaf.path: leaf for leaf in _leaves(Profile, "")}


@dataclass(frozen=True)
class FieldNotes:
    """What a pack's ``fields.yaml`` declares: informational fields with their reasons."""

    informational: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int | None] = field(default_factory=dict)  # path -> line in fields.yaml


def read_field_notes(doc: Any, problems: list[Problem]) -> FieldNotes:
    """The declarations of a parsed ``fields.yaml`` (None: no file); problems are appended."""
    if doc is None:
        return FieldNotes()
    ctx = Ctx(problems, FILE)
    if not check_keys(ctx, doc, "", (), ("informational",)):
        return FieldNotes()
    node = doc.get("informational") or {}
    if not isinstance(node, dict):
        ctx.add(line_of(doc, "informational"), "wrong-type",
                f"informational is a mapping of field path to reason, not {kind_of(node)}", "informational")
        return FieldNotes()
    leaves = profile_leaves()
    reasons: dict[str, str] = {}
    lines: dict[str, int | None] = {}
    for path, reason in node.items():
        line = line_of(node, path) if isinstance(path, str) else line_of(node)
        where = join("informational", str(path))
        if not isinstance(path, str) or path not in leaves:
            ctx.add(line, "unknown-field", f"{str(path)[:80]!r} is not a profile field"
                    f"{hint(str(path), leaves)}", where)
            continue
        if not isinstance(reason, str) or not reason.strip():
            ctx.add(line, "missing-reason", f"{path} needs a reason: why no decision depends on it", where)
            continue
        if len(reason) > MAX_TEXT:
            ctx.add(line, "text-too-long", f"the reason for {path} is longer than {MAX_TEXT} characters",
                    where)
            continue
        reasons[path] = " ".join(reason.split())
        lines[path] = line
    return FieldNotes(reasons, lines)


def field_notes(pack_path: str | os.PathLike[str]) -> FieldNotes:
    """The declarations of ``<pack>/fields.yaml`` (empty when the pack has none).

    Raises `RuleError` listing the file's problems (the loader reports the same ones).
    """
    file = Path(pack_path) / FILE
    if not file.is_file():
        return FieldNotes()
    try:
        doc = safe_yaml.load(file.read_text(encoding="utf-8"), FILE)
    except safe_yaml.YamlError as exc:
        raise RuleError([Problem(FILE, exc.line, None, exc.code, exc.message)]) from None
    problems: list[Problem] = []
    notes = read_field_notes(doc, problems)
    if problems:
        raise RuleError(problems)
    return notes


__all__ = ["FILE", "FieldNotes", "Leaf", "field_notes", "profile_leaves", "read_field_notes"]
