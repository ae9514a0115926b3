"""education.yaml: education modules, the flare plan and the graded-activity pathway (issue 28).

Each module is a short text the person reads, with its sources and the condition (``when``) under
which it applies. The loader turns each module into a components-layer rule ``education.<id>``
whose only action is ``educate: <id>``, so both engines select modules like any rule and the trace
names them. What a rule does not hold stays here, in an `EducationBook` on the pack: the
texts, the phase order, the flare plan and the graded-activity pathway. The person's words join the
pack's texts (``education.<id>.title``, ``education.<id>.text``, ``education.flare.*``,
``education.graded.*``), so a locale translates them like any other text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from backrx.model.vocabulary import CATEGORIES
from backrx.pack.read import Ctx, Known, check_keys, int_value, join, line_of, str_list, text_value
from backrx.readers import safe_yaml

#: source id -> its kind, and the kinds strongest first (sources.yaml, pack.model.SOURCE_KINDS)
Kinds = tuple[dict[str, str], tuple[str, ...]]

__all__ = ["FILE", "RULE_PREFIX", "EducationBook", "FlarePlanDef", "GradedActivityDef", "Module",
           "read_education"]

FILE = "education.yaml"
RULE_PREFIX = "education."
PRIORITY = 9  # before the advice rules (10) in the trace
_ID = re.compile(r"^[a-z][a-z0-9-]{0,60}\Z")
_TOP = ("description", "heading", "modules", "flare", "graded_activity")
_MOD = ("id", "phase", "order", "title", "text", "why", "when", "sources", "design")
_FLARE = ("window_days", "hold_rounds", "keep_categories", "ease_categories", "first_48h", "keep", "ease",
          "seek_help", "resume", "sources", "design")
_GRADED = ("module", "title", "intro", "step", "steps", "activities", "default_activities", "referral",
           "supports", "cannot", "sources")
MAX_MODULES = 100


@dataclass(frozen=True)
class Module:
    """One education module."""

    id: str
    phase: str
    order: int
    title: str
    text: str
    why: str
    sources: tuple[str, ...]
    design: bool = False


@dataclass(frozen=True)
class FlarePlanDef:
    """The flare plan: the first days, what to keep and ease off, when to seek help, how to resume."""

    window_days: int
    hold_rounds: int
    keep_categories: tuple[str, ...]
    ease_categories: tuple[str, ...]
    first_48h: tuple[str, ...]
    keep: str
    ease: str
    seek_help: str
    resume: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ExposureQuota:
    """One step of an exposure ladder: how long it lasts and its quota."""

    weeks: int
    minutes: int
    days: int


@dataclass(frozen=True)
class GradedActivityDef:
    """The graded-activity pathway: applies whenever ``module`` is selected."""

    module: str
    title: str
    intro: str
    step: str  # the template of one step: {step} {start} {end} {activity} {minutes} {days}
    steps: tuple[ExposureQuota, ...]
    activities: dict[str, str]
    default_activities: tuple[str, ...]
    referral: str
    supports: str
    cannot: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class EducationBook:
    """The education part of a pack (empty when the pack has no education.yaml)."""

    heading: str = ""
    modules: tuple[Module, ...] = ()
    flare: FlarePlanDef | None = None
    graded: GradedActivityDef | None = None
    index: dict[str, int] = field(default_factory=dict)  # module id -> phase-order position

    def get(self, module: str) -> Module | None:
        return next((m for m in self.modules if m.id == module), None)

    def ordered(self, ids: list[str]) -> list[Module]:
        """The modules named, each once, in phase order (phase, then order)."""
        return sorted({m.id: m for m in self.modules if m.id in ids}.values(), key=lambda m: self.index[m.id])


def _words(ctx: Ctx, node: Any, key: str, where: str) -> str | None:
    value = text_value(ctx, node, key, where)
    return None if value is None else " ".join(str(value).split())


def _cite(ctx: Ctx, node: Any, where: str, known: Known) -> tuple[str, ...]:
    sources = str_list(ctx, node, "sources", where)
    if not sources:
        ctx.add(line_of(node, "sources"), "missing-value", "each part cites a source", join(where, "sources"))
    for s in sources:
        known.refs.append(("source", s, line_of(node, "sources"), join(where, "sources"), None, ctx.file))
    return tuple(sources)


def _evidence(sources: tuple[str, ...], bib: Kinds, design: bool) -> dict[str, Any]:
    of, order = bib
    kinds = [of[s] for s in sources if of.get(s) in order]
    kind = min(kinds, key=order.index) if kinds else "expert-opinion"
    note = "the strongest kind among its sources" + ("; the wording is the pack's own" if design else "")
    return {"kind": kind, "note": note}


def _module(ctx: Ctx, node: Any, where: str, known: Known, bib: Kinds,
            rules: list[tuple[Any, str]]) -> Module | None:
    if not check_keys(ctx, node, where, ("id", "phase", "order", "title", "text", "why", "when", "sources"),
                      _MOD):
        return None
    ident = node["id"]
    if not isinstance(ident, str) or not _ID.match(ident):
        ctx.add(line_of(node, "id"), "bad-id", "a module id is lower-case words joined by hyphens",
                join(where, "id"))
        return None
    phase = node["phase"]
    if phase not in known.phases:
        ctx.add(line_of(node, "phase"), "unknown-phase", f"phase {phase!r} is not in phases.yaml",
                join(where, "phase"))
        return None
    order = int_value(ctx, node, "order", where, 1, 100)
    words = [_words(ctx, node, key, where) for key in ("title", "text", "why")]
    sources = _cite(ctx, node, where, known)
    design = node.get("design", False) is True
    if order is None or any(w is None for w in words) or not sources:
        return None
    title, text, why = (str(w) for w in words)
    rule = safe_yaml.LDict({"id": RULE_PREFIX + ident, "title": f"Education: {title}", "priority": PRIORITY,
                        "when": node["when"], "then": {"educate": ident}, "rationale": why,
                        "sources": list(sources), "evidence": _evidence(sources, bib, design)})
    rule.line = getattr(node, "line", 0)
    rule.key_lines = dict(getattr(node, "key_lines", {}))
    rules.append((rule, where))
    return Module(ident, str(phase), order, title, text, why, sources, design)


def _flare(ctx: Ctx, doc: Any, known: Known, texts: dict[str, str]) -> FlarePlanDef | None:
    node, where = doc.get("flare"), "flare"
    if not check_keys(ctx, node, where, _FLARE[:-1], _FLARE):
        return None
    window = int_value(ctx, node, "window_days", where, 1, 14)
    hold = int_value(ctx, node, "hold_rounds", where, 1, 10)
    cats = {key: str_list(ctx, node, key, where) for key in ("keep_categories", "ease_categories")}
    for key, values in cats.items():
        for value in values:
            if value not in CATEGORIES:
                ctx.add(line_of(node, key), "unknown-value", f"{key} names {value!r}, not a category",
                        join(where, key))
                return None
    first = [" ".join(t.split()) for t in str_list(ctx, node, "first_48h", where)]
    words = {key: _words(ctx, node, key, where) for key in ("keep", "ease", "seek_help", "resume")}
    sources = _cite(ctx, node, where, known)
    if window is None or hold is None or not first or any(w is None for w in words.values()) or not sources:
        return None
    texts.update({f"education.flare.first_48h.{i}": t for i, t in enumerate(first)})
    texts.update({f"education.flare.{k}": str(v) for k, v in words.items()})
    return FlarePlanDef(window, hold, tuple(cats["keep_categories"]), tuple(cats["ease_categories"]),
                        tuple(first), str(words["keep"]), str(words["ease"]), str(words["seek_help"]),
                        str(words["resume"]), sources)


def _graded(ctx: Ctx, doc: Any, known: Known, modules: list[Module],
            texts: dict[str, str]) -> GradedActivityDef | None:
    node, where = doc.get("graded_activity"), "graded_activity"
    if not check_keys(ctx, node, where, _GRADED, _GRADED):
        return None
    if node["module"] not in {m.id for m in modules}:
        ctx.add(line_of(node, "module"), "unknown-value", "graded_activity.module names no module",
                join(where, "module"))
        return None
    steps: list[ExposureQuota] = []
    for i, step in enumerate(node["steps"] if isinstance(node["steps"], list) else []):
        here = join(where, f"steps[{i}]")
        if not check_keys(ctx, step, here, ("weeks", "minutes", "days"), ("weeks", "minutes", "days")):
            return None
        limits = (("weeks", 12), ("minutes", 240), ("days", 7))
        nums = [int_value(ctx, step, k, here, 1, hi) for k, hi in limits]
        if any(n is None for n in nums):
            return None
        steps.append(ExposureQuota(*(int(n or 0) for n in nums)))
    acts = node["activities"]
    if not steps or not isinstance(acts, dict) or not all(isinstance(v, str) for v in acts.values()):
        ctx.add(line_of(node), "wrong-type", "graded_activity needs steps and activity names", where)
        return None
    defaults = str_list(ctx, node, "default_activities", where)
    if not defaults or any(a not in acts for a in defaults):
        ctx.add(line_of(node, "default_activities"), "unknown-value",
                "default_activities name activities of the activities list",
                join(where, "default_activities"))
        return None
    words = {key: _words(ctx, node, key, where) for key in ("title", "intro", "step", "referral", "supports",
                                                            "cannot")}
    sources = _cite(ctx, node, where, known)
    if any(w is None for w in words.values()) or not sources:
        return None
    texts.update({f"education.graded.{k}": str(v) for k, v in words.items()})
    texts.update({f"education.activity.{k}": str(v) for k, v in acts.items()})
    w = {k: str(v) for k, v in words.items()}
    return GradedActivityDef(str(node["module"]), w["title"], w["intro"], w["step"], tuple(steps),
                             {str(k): str(v) for k, v in acts.items()}, tuple(defaults), w["referral"],
                             w["supports"], w["cannot"], sources)


def read_education(ctx: Ctx, doc: Any, known: Known, bib: Kinds, phases: list[str]
                   ) -> tuple[EducationBook, list[tuple[Any, str]], dict[str, str]]:
    """The book, the components-layer rule nodes that select its modules, and the texts it adds."""
    rules: list[tuple[Any, str]] = []
    if not check_keys(ctx, doc, "", ("heading", "modules"), _TOP):
        return EducationBook(), rules, {}
    heading = _words(ctx, doc, "heading", "") or ""
    node = doc["modules"]
    if not isinstance(node, list) or not node or len(node) > MAX_MODULES:
        ctx.add(line_of(doc, "modules"), "wrong-type", f"modules is a list of 1 to {MAX_MODULES} modules",
                "modules")
        return EducationBook(), rules, {}
    modules: list[Module] = []
    for i, item in enumerate(node):
        module = _module(ctx, item, f"modules[{i}]", known, bib, rules)
        if module is not None and any(m.id == module.id for m in modules):
            ctx.add(line_of(item, "id"), "duplicate-id", f"module {module.id} is listed twice",
                    f"modules[{i}].id")
        elif module is not None:
            modules.append(module)
    texts = {"education.heading": heading}
    for m in modules:
        texts[f"education.{m.id}.title"] = m.title
        texts[f"education.{m.id}.text"] = m.text
    flare = _flare(ctx, doc, known, texts) if "flare" in doc else None
    graded = _graded(ctx, doc, known, modules, texts) if "graded_activity" in doc else None
    order = sorted(modules, key=lambda m: (phases.index(m.phase) if m.phase in phases else 0, m.order, m.id))
    index = {m.id: i for i, m in enumerate(order)}
    return EducationBook(heading, tuple(order), flare, graded, index), rules, texts
