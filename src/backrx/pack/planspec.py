"""The planner's part of a rule pack (``planner.yaml``): budget, fill order, elements, timing.

Read and checked with the rest of the pack; every problem is reported with its file and line.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, get_args

from backrx.errors import Problem
from backrx.model.profile import EQUIPMENT, SETTINGS, Enjoys
from backrx.model.vocabulary import CATEGORIES, DIRECTIONS
from backrx.pack.read import Ctx, check_keys
from backrx.pack.texts import placeholder_problem

FILE = "planner.yaml"
#: The activities a person may say they enjoy or dislike (preferences.enjoys and .dislikes).
ACTIVITIES: tuple[str, ...] = get_args(Enjoys)
_SECTIONS = ("budget", "fill_order", "default_role", "essential_roles", "aerobic", "elements", "timing",
             "fitting", "messages", "adjusting", "choosing")
#: Sections a pack may leave out (older packs): opposite_directions.
_OPTIONAL = ("opposite_directions",)
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Element:
    """One of the elements every program holds (flexibility, balance, strength, aerobic)."""

    name: str
    categories: tuple[str, ...]
    keep_in: tuple[str, ...]


@dataclass(frozen=True)
class Message:
    code: str
    message: str


@dataclass(frozen=True)
class Choosing:
    """How the planner picks among candidates (planner.yaml ``choosing``), and its reasons' wording."""

    max_regressions: int  # easier variants walked down from a candidate that is ruled out
    setting_equipment: dict[str, frozenset[str]]  # equipment a setting provides (a gym: all of it)
    needs_equipment: str  # fields: {equipment}
    wrong_setting: str  # fields: {settings}, {yours}
    left_out: str  # fields: {exercise}, {reasons}
    instead: str  # fields: {exercise}
    #: preferences.enjoys/dislikes value -> the catalog tags of its exercises (``activities``).
    activities: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Warning when a disliked activity is kept: nothing else gives its element (field: {items}).
    disliked_kept: Message = field(default_factory=lambda: Message("", ""))

    def disliked(self, tags_of: dict[str, tuple[str, ...]], dislikes: Iterable[str]) -> dict[str, str]:
        """Catalog id -> the disliked activity it stands for (``tags_of``: id -> its tags)."""
        wanted = {tag: activity for activity in dislikes for tag in self.activities.get(activity, ())}
        return {eid: wanted[t] for eid, tags in tags_of.items() for t in tags if t in wanted}

    def equipment(self, settings: Iterable[str], listed: Iterable[str]) -> set[str]:
        """The equipment a person can use: what they listed and what their settings provide."""
        out = set(listed)
        for setting in settings:
            out |= self.setting_equipment.get(setting, frozenset())
        return out


@dataclass(frozen=True)
class DoseStep:
    """One part of a dose in a progression or regression step: how far it moves, and its limit
    (the top for a step up, the floor for a step down)."""

    part: str
    step: int
    limit: int


#: The parts of a dose adjust may step, and the templates of its sentences with their fields.
STEP_PARTS = ("sets", "reps", "minutes", "hold_seconds")
ADJUST_TEXTS: dict[str, tuple[str, ...]] = {
    "stopped_direction": (), "same_family": ("exercise",), "replaces": ("exercise",),
    "moves_on": ("exercise",), "at_top": (), "kept_fine": ("exercise",), "reintroduced": ("exercise",),
    "next_up": ("exercise",), "last_one": (), "added": ("by", "reason"),
    "accepted": ("by", "codes", "reason"), "dose_set": ("by", "reason"), "carried": ("exercise",),
}


@dataclass(frozen=True)
class Adjusting:
    """How adjust steps a dose and what counts as a comfortable response (``adjusting:``)."""

    comfortable_pain: int
    sources: tuple[str, ...]
    step_up: tuple[DoseStep, ...]
    step_down: tuple[DoseStep, ...]
    texts: dict[str, str]
    #: days without a report after which adjust restarts (streaks reset, no phase move that day);
    #: None when the pack sets none (``restart_after_gap_days``)
    gap_days: int | None = None
    #: categories whose reached dose carries into the next phase (``carry_on_advance``)
    carry: tuple[str, ...] = ()

    def text(self, name: str, **fields: str) -> str:
        """One of adjust's sentences, filled in."""
        return self.texts[name].format(**fields)


@dataclass(frozen=True)
class PlannerSpec:
    """Budget defaults, fill order and timing constants the planner works from."""

    minutes_per_session: int
    sessions_per_week: int
    max_items_per_session: int
    margin: float
    budget_sources: tuple[str, ...]
    fill_order: tuple[str, ...]
    default_role: str
    essential_roles: tuple[str, ...]
    aerobic_per_phase: int
    aerobic_choice: tuple[str, ...]
    aerobic_share: float
    elements: tuple[Element, ...]
    setup_seconds: float
    seconds_per_rep: dict[str, float]
    rest_between_reps: dict[str, float]
    rest_between_sets: dict[str, float]
    shortest_minutes: dict[str, int]
    fewest_days: dict[str, int]
    non_consecutive: tuple[str, ...]
    left_out_for_time: str
    shortened_for_time: str
    aerobic_replaced: str
    over_budget: Message
    no_aerobic: Message
    adjusting: Adjusting
    #: Exercise direction -> the direction that works against it (planner.yaml opposite_directions).
    opposite_directions: dict[str, str] = field(default_factory=dict)
    choosing: Choosing | None = None  # planner.yaml ``choosing``; always set on a loaded pack

    def role_rank(self, role: str) -> int:
        """Where a role stands in the fill order (unknown roles last)."""
        return self.fill_order.index(role) if role in self.fill_order else len(self.fill_order)


class _Reader:
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems

    def add(self, node: Any, key: str | None, code: str, message: str, where: str) -> None:
        line = getattr(node, "line", None)
        if key is not None:
            line = getattr(node, "key_lines", {}).get(key, line)
        self.problems.append(Problem(FILE, line, None, code, message, where))

    def mapping(self, node: Any, where: str, required: Iterable[str], allowed: Iterable[str]) -> bool:
        return check_keys(Ctx(self.problems, FILE), node, where, required, allowed, listed="expected")

    def number(self, node: dict[str, Any], key: str, where: str, low: float, high: float,
               *, whole: bool = True) -> float:
        value = node.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                whole and not isinstance(value, int)):
            self.add(node, key, "wrong-type", f"{key} must be a {'whole ' if whole else ''}number",
                     f"{where}.{key}")
            return low
        if not low <= value <= high:
            self.add(node, key, "out-of-range", f"{key} must be from {low:g} to {high:g}", f"{where}.{key}")
            return low
        return float(value)

    def words(self, node: dict[str, Any], key: str, where: str, vocabulary: Iterable[str] | None,
              *, required: bool = True) -> tuple[str, ...]:
        value = node.get(key)
        if value is None and not required:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (
                required and not value):
            self.add(node, key, "wrong-type", f"{key} must be a non-empty list of text", f"{where}.{key}")
            return ()
        vocab = tuple(vocabulary) if vocabulary is not None else None
        for item in value:
            if vocab is not None and item not in vocab:
                self.add(node, key, "unknown-value", f"{item!r} is not one of {', '.join(vocab)}",
                         f"{where}.{key}")
        return tuple(dict.fromkeys(value))

    def table(self, node: dict[str, Any], key: str, where: str, keys: Iterable[str], low: float,
              high: float, *, whole: bool) -> dict[str, float]:
        value = node.get(key)
        if not isinstance(value, dict):
            self.add(node, key, "wrong-type", f"{key} must be a mapping", f"{where}.{key}")
            return {}
        out: dict[str, float] = {}
        allowed = tuple(keys)
        for name in value:
            if name not in allowed:
                self.add(value, name, "unknown-value", f"{name!r} is not one of {', '.join(allowed)}",
                         f"{where}.{key}.{name}")
                continue
            out[str(name)] = self.number(value, name, f"{where}.{key}", low, high, whole=whole)
        return out

    def text(self, node: dict[str, Any], key: str, where: str, fields: tuple[str, ...]) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not value.strip():
            self.add(node, key, "wrong-type", f"{key} must be non-empty text", f"{where}.{key}")
            return ""
        try:
            names = [name for _, name, _, _ in _FORMATTER.parse(value) if name is not None]
        except ValueError as exc:
            self.add(node, key, "bad-template", f"malformed template: {exc}", f"{where}.{key}")
            return ""
        bad = [n for n in names if n not in fields]
        if bad:
            self.add(node, key, "bad-template",
                     f"{{{bad[0]}}} is not allowed here; use {', '.join('{' + f + '}' for f in fields)}",
                     f"{where}.{key}")
            return ""
        why = placeholder_problem(value, fields)  # no format spec: "{reason:>9999999}" is refused
        if why is not None:
            self.add(node, key, "bad-template", why, f"{where}.{key}")
            return ""
        return " ".join(value.split())

    def message(self, node: dict[str, Any], key: str, where: str, fields: tuple[str, ...]) -> Message:
        value = node.get(key)
        here = f"{where}.{key}"
        if not isinstance(value, dict) or not self.mapping(value, here, ("code", "message"),
                                                           ("code", "message")):
            if not isinstance(value, dict):
                self.add(node, key, "wrong-type", f"{key} must be a mapping", here)
            return Message("", "")
        code = value.get("code")
        if not isinstance(code, str) or not code.replace("-", "").isalnum() or code.lower() != code:
            self.add(value, "code", "bad-id", f"code {code!r} must be lower-case kebab-case", here)
            code = ""
        return Message(str(code), self.text(value, "message", here, fields))


def read_planner(doc: Any, problems: list[Problem], *, phases: set[str], categories: tuple[str, ...],
                 dose_kinds: tuple[str, ...], sources: set[str]) -> PlannerSpec | None:
    """Check planner.yaml and build its spec (None when it has problems, all of them reported)."""
    r = _Reader(problems)
    before = len(problems)
    if not r.mapping(doc, "", _SECTIONS, (*_SECTIONS, *_OPTIONAL)):
        return None
    minutes, sessions, cap, margin, budget_sources = _budget(r, doc["budget"], sources)
    fill_order = r.words(doc, "fill_order", "", None)
    default_role = doc.get("default_role")
    if default_role not in fill_order:
        r.add(doc, "default_role", "unknown-value", f"default_role {default_role!r} is not in fill_order",
              "default_role")
    essential = r.words(doc, "essential_roles", "", fill_order, required=False)
    aerobic = doc["aerobic"]
    per_phase, choice, share = 1.0, fill_order, 0.5
    if r.mapping(aerobic, "aerobic", ("per_phase", "choice", "share_when_short"),
                 ("per_phase", "choice", "share_when_short")):
        per_phase = r.number(aerobic, "per_phase", "aerobic", 1, 5)
        choice = r.words(aerobic, "choice", "aerobic", fill_order)
        share = r.number(aerobic, "share_when_short", "aerobic", 0.1, 1.0, whole=False)
    elements = _elements(r, doc, categories, phases)
    timing = doc["timing"]
    setup, per_rep, between_reps, between_sets = 0.0, {}, {}, {}
    keys: tuple[str, ...] = ("setup_seconds", "seconds_per_rep", "rest_between_reps_seconds",
                             "rest_between_sets_seconds")
    if r.mapping(timing, "timing", keys, keys):
        setup = r.number(timing, "setup_seconds", "timing", 0, 600, whole=False)
        per_rep = r.table(timing, "seconds_per_rep", "timing", dose_kinds, 0.5, 60, whole=False)
        between_reps = r.table(timing, "rest_between_reps_seconds", "timing", dose_kinds, 0, 600, whole=False)
        between_sets = r.table(timing, "rest_between_sets_seconds", "timing", dose_kinds, 0, 600, whole=False)
    fitting = doc["fitting"]
    shortest: dict[str, float] = {}
    fewest: dict[str, float] = {}
    non_consecutive: tuple[str, ...] = ()
    keys = ("shortest_minutes", "fewest_days", "non_consecutive")
    if r.mapping(fitting, "fitting", keys, keys):
        shortest = r.table(fitting, "shortest_minutes", "fitting", categories, 1, 240, whole=True)
        fewest = r.table(fitting, "fewest_days", "fitting", dose_kinds, 1, 7, whole=True)
        non_consecutive = r.words(fitting, "non_consecutive", "fitting", dose_kinds, required=False)
    messages = doc["messages"]
    left_out = ""
    over = no_aerobic = Message("", "")
    keys = ("left_out_for_time", "shortened_for_time", "aerobic_replaced", "over_budget", "no_aerobic")
    replaced = shortened = ""
    if r.mapping(messages, "messages", keys, keys):
        left_out = r.text(messages, "left_out_for_time", "messages", ("minutes", "sessions"))
        replaced = r.text(messages, "aerobic_replaced", "messages", ())
        shortened = r.text(messages, "shortened_for_time", "messages", ("minutes",))
        over = r.message(messages, "over_budget", "messages", ("needed", "minutes", "sessions"))
        no_aerobic = r.message(messages, "no_aerobic", "messages", ())
    opposite = _opposites(r, doc)
    adjusting = _read_adjusting(r, doc["adjusting"], sources)
    choosing = _choosing(r, doc["choosing"], sources)
    if len(problems) != before or adjusting is None:
        return None
    return PlannerSpec(
        int(minutes), int(sessions), int(cap), margin, budget_sources, fill_order, str(default_role),
        essential,
        int(per_phase), choice, share, tuple(elements), setup, per_rep, between_reps, between_sets,
        {k: int(v) for k, v in shortest.items()}, {k: int(v) for k, v in fewest.items()}, non_consecutive,
        left_out, shortened, replaced, over, no_aerobic, adjusting,
        opposite_directions=opposite, choosing=choosing)


def _budget(r: _Reader, budget: Any, sources: set[str]
            ) -> tuple[float, float, float, float, tuple[str, ...]]:
    """``budget``: minutes per session, sessions per week, items per session, margin, sources."""
    minutes = sessions = cap = 1.0
    margin = 0.0
    budget_sources: tuple[str, ...] = ()
    keys: tuple[str, ...] = ("minutes_per_session", "sessions_per_week", "max_items_per_session", "margin",
                             "sources")
    if r.mapping(budget, "budget", keys, keys):
        margin = r.number(budget, "margin", "budget", 0, 0.5, whole=False)
        minutes = r.number(budget, "minutes_per_session", "budget", 5, 180)
        sessions = r.number(budget, "sessions_per_week", "budget", 1, 14)
        cap = r.number(budget, "max_items_per_session", "budget", 1, 30)
        budget_sources = r.words(budget, "sources", "budget", None)
        for s in budget_sources:
            if s not in sources:
                r.add(budget, "sources", "unknown-source", f"source {s!r} is not defined in the pack",
                      "budget.sources")
    return minutes, sessions, cap, margin, budget_sources


def _elements(r: _Reader, doc: dict[str, Any], categories: tuple[str, ...], phases: set[str]
              ) -> list[Element]:
    """``elements``: each named element, its categories and the phases it is kept in."""
    elements: list[Element] = []
    items = doc["elements"]
    if not isinstance(items, list) or not items:
        r.add(doc, "elements", "wrong-type", "elements must be a non-empty list", "elements")
        items = []
    for i, item in enumerate(items):
        here = f"elements[{i}]"
        if not r.mapping(item, here, ("name", "categories", "keep_in"), ("name", "categories", "keep_in")):
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name:
            r.add(item, "name", "wrong-type", "name must be text", f"{here}.name")
            continue
        elements.append(Element(name, r.words(item, "categories", here, categories),
                                r.words(item, "keep_in", here, sorted(phases) or None, required=False)))
    return elements


def _opposites(r: _Reader, doc: dict[str, Any]) -> dict[str, str]:
    """``opposite_directions``: each exercise direction and the one against it, both ways round."""
    value = doc.get("opposite_directions")
    if value is None:
        return {}
    if not isinstance(value, dict):
        r.add(doc, "opposite_directions", "wrong-type", "opposite_directions must be a mapping",
              "opposite_directions")
        return {}
    out: dict[str, str] = {}
    for key, other in value.items():
        here = f"opposite_directions.{key}"
        if key not in DIRECTIONS or other not in DIRECTIONS or key == other:
            r.add(value, str(key), "unknown-value", f"{key}: {other} must pair two different directions "
                  f"of {', '.join(DIRECTIONS)}", here)
            continue
        out[str(key)] = str(other)
    for key, other in out.items():
        if out.get(other) != key:
            r.add(value, key, "wrong-value", f"{key}: {other} needs its mirror {other}: {key}",
                  f"opposite_directions.{key}")
    return out


def _steps(r: _Reader, node: dict[str, Any], key: str, limit: str) -> tuple[DoseStep, ...]:
    items = node.get(key)
    where = f"adjusting.{key}"
    if not isinstance(items, list) or not items:
        r.add(node, key, "wrong-type", f"{key} must be a non-empty list", where)
        return ()
    out: list[DoseStep] = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        keys = ("part", "step", limit)
        if not r.mapping(item, here, keys, keys):
            continue
        part = item.get("part")
        if part not in STEP_PARTS or part in {s.part for s in out}:
            r.add(item, "part", "unknown-value", f"part {part!r} must be one of {', '.join(STEP_PARTS)}, "
                  "each once", f"{here}.part")
            continue
        out.append(DoseStep(str(part), int(r.number(item, "step", here, 1, 60)),
                            int(r.number(item, limit, here, 1, 600))))
    return tuple(out)


def _read_adjusting(r: _Reader, node: Any, sources: set[str]) -> Adjusting | None:
    """The ``adjusting`` section: the comfortable-pain threshold, dose steps and adjust's sentences."""
    keys = ("comfortable_pain", "sources", "step_up", "step_down", "messages")
    if not r.mapping(node, "adjusting", keys, (*keys, "restart_after_gap_days", "carry_on_advance")):
        return None
    carry = r.words(node, "carry_on_advance", "adjusting", CATEGORIES, required=False)
    gap = (int(r.number(node, "restart_after_gap_days", "adjusting", 1, 365))
           if isinstance(node, dict) and "restart_after_gap_days" in node else None)
    pain = int(r.number(node, "comfortable_pain", "adjusting", 0, 10))
    cited = r.words(node, "sources", "adjusting", None)
    for s in cited:
        if s not in sources:
            r.add(node, "sources", "unknown-source", f"source {s!r} is not defined in the pack",
                  "adjusting.sources")
    up = _steps(r, node, "step_up", "top")
    down = _steps(r, node, "step_down", "floor")
    messages = node.get("messages")
    texts: dict[str, str] = {}
    if r.mapping(messages, "adjusting.messages", ADJUST_TEXTS, ADJUST_TEXTS):
        texts = {name: r.text(messages, name, "adjusting.messages", fields)
                 for name, fields in ADJUST_TEXTS.items()}
    return Adjusting(pain, cited, up, down, texts, gap, tuple(c for c in carry if c in CATEGORIES))


_CHOOSING = ("max_regressions", "setting_equipment", "reasons", "design", "sources", "activities",
             "disliked_kept")
_REASONS = {"needs_equipment": ("equipment",), "wrong_setting": ("settings", "yours"),
            "left_out": ("exercise", "reasons"), "instead": ("exercise",)}


def _choosing(r: _Reader, node: Any, sources: set[str]) -> Choosing | None:
    """The ``choosing`` section: a backrx choice (``design: true``) or cited (``sources``)."""
    if not r.mapping(node, "choosing", ("max_regressions", "setting_equipment", "reasons"), _CHOOSING):
        return None
    if node.get("design") is not True and not node.get("sources"):
        r.add(node, None, "no-source", "say where these choices come from: `design: true` or `sources:`",
              "choosing")
    if "sources" in node:
        for s in r.words(node, "sources", "choosing", None):
            if s not in sources:
                r.add(node, "sources", "unknown-source", f"source {s!r} is not defined in the pack",
                      "choosing.sources")
    regressions = r.number(node, "max_regressions", "choosing", 1, 20)
    kit: dict[str, frozenset[str]] = {}
    table = node.get("setting_equipment")
    if not isinstance(table, dict):
        r.add(node, "setting_equipment", "wrong-type", "setting_equipment must be a mapping",
              "choosing.setting_equipment")
        table = {}
    for setting, items in table.items():
        here = f"choosing.setting_equipment.{setting}"
        if setting not in SETTINGS:
            r.add(table, setting, "unknown-value", f"{setting!r} is not one of {', '.join(SETTINGS)}", here)
        elif items == "all":
            kit[setting] = frozenset(EQUIPMENT)
        else:
            kit[setting] = frozenset(r.words(table, setting, "choosing.setting_equipment", EQUIPMENT,
                                             required=False))
    texts = node.get("reasons")
    words = dict.fromkeys(_REASONS, "")
    if r.mapping(texts, "choosing.reasons", tuple(_REASONS), tuple(_REASONS)):
        words = {key: r.text(texts, key, "choosing.reasons", fields) for key, fields in _REASONS.items()}
    activities: dict[str, frozenset[str]] = {}
    table = node.get("activities", {})
    if not isinstance(table, dict):
        r.add(node, "activities", "wrong-type", "activities must be a mapping", "choosing.activities")
        table = {}
    for activity in table:
        if activity not in ACTIVITIES:
            r.add(table, activity, "unknown-value", f"{activity!r} is not one of {', '.join(ACTIVITIES)}",
                  f"choosing.activities.{activity}")
        activities[str(activity)] = frozenset(r.words(table, activity, "choosing.activities", None))
    kept = r.message(node, "disliked_kept", "choosing", ("items",)) if "disliked_kept" in node \
        else Message("", "")
    return Choosing(int(regressions), kit, **words, activities=activities, disliked_kept=kept)
