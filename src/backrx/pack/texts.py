"""The words reports put around a pack's own texts: headings, labels, risk and urgency wording.

They live in the pack's ``text.yaml`` (a flat ``text:`` mapping of dotted keys to text), so a
clinic can reword them and a translation can replace them; nothing a patient reads is a Python
literal. A text may hold ``{name}`` placeholders, filled by the renderer: only the names the
renderer gives that text (`TEXT_FIELDS`), and only bare names. A format spec
(``{version:>50000000}``), a conversion (``{name!r}``), an attribute or an index
(``{name.__class__}``) or an unknown name is refused when the pack loads, and the renderer fills
texts without ever evaluating one (`fill`).
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Protocol

_KEY = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*\Z")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*\Z")
_FORMATTER = string.Formatter()
MAX_TEXT = 4000

#: The placeholders the renderer fills in each text, by key (render/ and its templates; a test
#: reads their ``t(...)`` calls and keeps this table equal to them). A key not listed here is
#: filled with nothing, so its text may hold no placeholder.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "calendar.item": ("dose", "name"), "calendar.summary": ("minutes",),
    "education.graded.step": ("activity", "days", "end", "minutes", "start", "step"),
    "dose.hold": ("seconds",), "dose.minutes": ("minutes",), "dose.per_day": ("n",), "dose.per_week": ("n",),
    "dose.reps": ("reps",), "dose.set_reps": ("reps", "sets"), "dose.sets": ("sets",),
    "dose.sets_reps": ("reps", "sets"), "elimination.next": ("name",), "elimination.text": ("testing",),
    "footer.made_by": ("name", "version"), "label.media_image": ("name",), "label.media_link": ("name",),
    "label.media_video": ("name",), "label.minutes": ("minutes",), "label.minutes_per_week": ("minutes",),
    "label.round": ("n",), "label.week_one": ("start",), "label.weeks": ("end", "start"),
    "progress.days_left": ("n",), "progress.undated": ("phase",),
    "progress.where": ("days", "min_days", "phase"), "report.classification": ("pathways", "risk", "stage"),
    "report.dose.each_side": ("dose",), "report.dose.hold": ("seconds",), "report.dose.minutes.many": ("n",),
    "report.dose.minutes.one": ("n",), "report.dose.per_day.many": ("n",), "report.dose.per_day.one": ("n",),
    "report.dose.per_week.many": ("n",), "report.dose.per_week.one": ("n",), "report.dose.reps": ("reps",),
    "report.dose.set_reps": ("reps",), "report.dose.sets": ("sets",),
    "report.dose.sets_reps": ("reps", "sets"), "report.elimination": ("next", "testing"),
    "report.md.elimination": ("testing",), "report.md.elimination.next": ("name",),
    "report.md.move_on.after": ("days",), "report.md.phase": ("end", "name", "start"),
    "report.md.phase.current": ("end", "name", "start"), "report.md.referral": ("header",),
    "report.md.week.minutes": ("minutes",), "report.move_on": ("criteria",),
    "report.move_on.after": ("criteria", "days"), "report.override.undone": ("undone",),
    "report.phase": ("end", "goal", "name", "start"), "report.prescription.evidence": ("evidence",),
    "report.prescription.minutes_a_day": ("minutes",), "report.prescription.minutes_each_time": ("minutes",),
    "report.prescription.override": ("n",), "report.prescription.rules": ("rules", "sources"),
    "report.prescription.why": ("rationale",), "report.progress.day": ("n",),
    "report.progress.days_left.many": ("n",), "report.progress.days_left.one": ("n",),
    "report.progress.gate": ("phase",), "report.progress.heading": ("date",),
    "report.progress.heading.week": ("date", "week"), "report.progress.improved": ("mcid",),
    "report.progress.not_yet_needs": ("mcid",), "report.progress.phase": ("days", "min_days", "phase"),
    "report.progress.worsened": ("mcid",), "report.referral": ("header",), "report.referral.tier": ("tier",),
    "report.risk.scores": ("psychosocial", "risk", "total"), "report.round": ("after", "before", "n"),
    "report.round.dated": ("after", "before", "date", "n"), "report.ruleset": ("digest", "name", "version"),
    "report.trace.item": ("evidence", "rule_id", "title"), "report.week.heading": ("minutes",),
    "report.week.through_the_day": ("n", "name"), "week.day": ("n",),
    # The CDS Hooks cards (interop/cds_hooks.py, _cds_cards.py) and the override notices
    # (adjust/override_views.py) fill these.
    "cds.codes.summary": ("n",), "cds.flags.summary": ("flags",),
    "cds.flags.summary.graded": ("flags", "urgency"),
    "cds.flags.too_many": ("n",), "cds.more": ("n",), "cds.program.goal": ("phase",),
    "cds.program.observation": ("name",), "cds.program.phase": ("end", "goal", "start"),
    "cds.program.phase_careplan": ("phase",), "cds.program.summary": ("phases", "weeks"),
    "cds.program.summary.risk": ("phases", "risk", "weeks"), "cds.red_flags.recorded": ("flags",),
    "cds.referral.action": ("urgency",), "cds.referral.go_on": ("urgency",),
    "cds.referral.label": ("urgency",),
    "cds.referral.wait": ("urgency",), "cds.review": ("message",), "cds.rules": ("rules",),
    "override.describe.accept": ("exercise", "phase"), "override.describe.acknowledged": ("codes",),
    "override.describe.add": ("exercise", "phase"),
    "override.describe.at": ("at", "by", "n", "reason", "what"),
    "override.describe.dose": ("exercise", "phase"),
    "override.describe.intervention": ("acknowledgement", "intervention"),
    "override.describe.line": ("by", "n", "reason", "what"), "override.describe.overrode": ("rules",),
    "override.describe.phase": ("before", "phase"), "override.describe.remove": ("exercise", "phase"),
    "override.status.removed": ("n",), "override.status.round": ("action", "round"),
    "override.undone": ("action", "by", "exercise", "n", "phase", "reason", "round", "verb"),
    "override.undone.rule": ("action", "by", "exercise", "n", "phase", "reason", "round", "rule", "verb"),
    # The FHIR Bundle (interop/fhir.py) fills these.
    "fhir.goal": ("criteria", "phase"), "fhir.override.acknowledged": ("codes",),
    "fhir.override.activity": ("kind",), "fhir.phase.description": ("end", "goal", "start"),
    "fhir.provenance.made_by": ("digest", "pack", "pack_version", "version"),
    "fhir.provenance.rules": ("rules",), "fhir.referral": ("urgency",), "fhir.rule": ("rule",),
    "fhir.startback.risk": ("risk",),
}


class _Collector(Protocol):
    def add(self, line: int | None, code: str, message: str, where: str = "") -> None: ...


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders in a text."""
    return {name for _, name, _, _ in _FORMATTER.parse(text) if name}


def placeholder_problem(text: str, allowed: Collection[str]) -> str | None:
    """Why ``text`` may not be filled with the names ``allowed`` (None: it may).

    Only bare ``{name}`` placeholders of ``allowed`` pass: no format spec, no conversion, no
    attribute or index, no positional ``{}``; ``{{`` and ``}}`` stand for a brace.
    """
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        return f"malformed placeholder: {exc}"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if spec or conversion or not _NAME.match(name):
            shown = name if _NAME.match(name) else "a placeholder"
            return (f"{{{shown}}} carries a format spec, a conversion, an attribute or an index; "
                    "a placeholder is a bare {name}")
        if name not in allowed:
            names = ", ".join("{" + a + "}" for a in sorted(allowed)) or "none"
            return f"{{{name}}} is not filled in this text; its placeholders are: {names}"
    return None


def fill(text: str, values: Mapping[str, object]) -> str:
    """``text`` with its bare ``{name}`` placeholders replaced by ``values``.

    Nothing is evaluated: a format spec, a conversion or a name without a value is left as it
    is written (the loader refuses them, so only a text that skipped the loader can hold one).
    """
    if "{" not in text and "}" not in text:
        return text
    out: list[str] = []
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError:
        return text
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name in values and not spec and not conversion:
            out.append(str(values[name]))
        else:
            out.append("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
                       + "}")
    return "".join(out)


def read_texts(ctx: _Collector, doc: Any, root: Path | None = None) -> dict[str, str]:
    """The ``text:`` mapping of a parsed text.yaml; problems go to ``ctx`` (None: no file, no texts)."""
    from backrx.pack.read import line_of as _line_of

    if doc is None:
        return {}
    if not isinstance(doc, dict) or set(doc) - {"text", "description"} or "text" not in doc:
        ctx.add(_line_of(doc), "unknown-field", "text.yaml holds a `text:` mapping (and an optional "
                "description)")
        return {}
    items = doc["text"]
    if not isinstance(items, dict):
        ctx.add(_line_of(doc, "text"), "wrong-type", "text must be a mapping of key: text", "text")
        return {}
    out: dict[str, str] = {}
    for key, value in items.items():
        where = f"text.{key}"
        if not isinstance(key, str) or not _KEY.match(key):
            ctx.add(_line_of(items, key), "bad-id", f"text key {key!r} must be dotted lower-case words",
                    where)
            continue
        if not isinstance(value, str) or not value.strip():
            ctx.add(_line_of(items, key), "wrong-type", f"{key} must be non-empty text", where)
            continue
        if len(value) > MAX_TEXT:
            ctx.add(_line_of(items, key), "too-long", f"{key} is longer than {MAX_TEXT} characters", where)
            continue
        why = placeholder_problem(value, TEXT_FIELDS.get(key, ()))
        if why is not None:
            ctx.add(_line_of(items, key), "bad-template", f"{key}: {why}", where)
            continue
        out[key] = re.sub(r"\s+", " ", value)
    return out


@functools.lru_cache(maxsize=1)
def bundled_texts() -> Mapping[str, str]:
    """The bundled pack's texts (the fallback for a pack without its own text.yaml)."""
    from backrx.errors import Problem, RuleError
    from backrx.pack.read import Ctx as _Ctx
    from backrx.pack.read import bundled_path
    from backrx.readers import safe_yaml

    path = bundled_path() / "text.yaml"
    problems: list[Problem] = []
    document = safe_yaml.load(path.read_text(encoding="utf-8"), path.name)
    texts = read_texts(_Ctx(problems, "text.yaml"), document)
    if problems:  # pragma: no cover - the bundled pack is checked by its tests
        raise RuleError(problems)
    return texts


class Texts:
    """Looks texts up by key: the pack's own first, then the bundled pack's."""

    def __init__(self, own: Mapping[str, str] | None = None) -> None:
        self._own = dict(own or {})
        self._base = bundled_texts()

    def __call__(self, key: str, **values: object) -> str:
        """The text for ``key`` with its placeholders filled; a missing key raises ``KeyError``."""
        text = self._own.get(key) or self._base[key]
        return fill(text, values)

    def get(self, key: str) -> str | None:
        """The text for ``key``, or None when no pack has it."""
        return self._own.get(key) or self._base.get(key)
