"""Running a pack's layers over one profile: what the rules concluded, and the trace."""

from __future__ import annotations

import functools
import itertools
import string
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from backrx.engine import Engine
from backrx.lang.condition import Value, fields_of
from backrx.model.vocabulary import URGENCIES
from backrx.pack.actions import Action, Policy, actions_of, independent_runs
from backrx.pack.model import ADJUST_ACTIONS, DoseSpec, Exclude, Pack, Prescribe, Rule
from backrx.pack.texts import Texts, bundled_texts


@dataclass(frozen=True)
class Fired:
    """A rule that fired, with its rendered rationale and the values it matched.

    Equal firings (the same rule on the same values) are one shared object: treat it, and its
    ``matched``, as read-only. ``serial`` numbers every firing made in this process, never
    reused: caches key on it (`backrx.run.caches`).
    """

    rule: Rule
    rationale: str
    matched: dict[str, Value | None]
    patient: str | None = None
    serial: int = field(default_factory=itertools.count().__next__, compare=False, repr=False)


@dataclass(frozen=True)
class Conflict:
    """Two rules concluding different values where the first decides (policy ``first``)."""

    conclusion: str  # "risk" or "derived.<name>"
    kept: Value
    kept_rule: str
    dropped: Value
    dropped_rule: str


@dataclass
class Decision:
    """Everything the rule layers concluded for one profile.

    ``blocking`` are the pack's urgency tiers that replace the exercise program with a referral
    (`backrx.pack.model.Pack.blocking_urgencies`).
    """

    values: dict[str, Value]
    blocking: tuple[str, ...]
    fired: list[Fired] = field(default_factory=list)
    urgency: str | None = None
    referral_reasons: list[str] = field(default_factory=list)
    referral_rules: list[str] = field(default_factory=list)
    safety_net: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # code, message, rule id
    pathways: list[str] = field(default_factory=list)
    educate: list[str] = field(default_factory=list)  # education modules selected, in trace order
    risk: str | None = None
    prescribes: list[tuple[Prescribe, Rule]] = field(default_factory=list)
    excludes: list[tuple[Exclude, Rule]] = field(default_factory=list)
    doses: list[tuple[DoseSpec, Rule]] = field(default_factory=list)
    schedule: dict[str, tuple[int, Rule]] = field(default_factory=dict)
    # What the feedback layers conclude (backrx.adjust): the action, and the rule that chose it.
    adjust: tuple[str, Rule] | None = None
    stop_direction: Rule | None = None
    eliminate: Rule | None = None
    advance: Rule | None = None
    hold: tuple[int, Rule] | None = None
    conflicts: list[Conflict] = field(default_factory=list)
    firsts: dict[str, tuple[Value, str]] = field(default_factory=dict, repr=False)  # policy "first"
    _rationales: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def refers(self) -> bool:
        """True when a referral replaces the exercise program."""
        return self.urgency in self.blocking

    def rationale_of(self, rule_id: str) -> str:
        """The rendered rationale of a rule that fired."""
        if len(self._rationales) != len(self.fired):
            self._rationales = {item.rule.id: item.rationale for item in reversed(self.fired)}
        return self._rationales.get(rule_id, "")


_FORMATTER = string.Formatter()


class ValueWords(NamedTuple):
    """The words a rationale or a patient text shows for a value: the pack's ``value.*`` texts,
    in the pack's (or its locale's) language. ``named`` holds the words of a field's vocabulary
    values (``value.<field>.<value>``), by ``<field>.<value>``."""

    not_recorded: str
    yes: str
    no: str
    none: str
    named: Mapping[str, str] = {}


def value_words(texts: Mapping[str, str] | None = None) -> ValueWords:
    """The ``value.*`` words of a pack's ``texts`` (the bundled pack's where it lacks one)."""
    t = Texts(texts)
    every = {**bundled_texts(), **(texts or {})}
    named = {k.removeprefix("value."): v for k, v in every.items()
             if k.startswith("value.") and k.count(".") >= 2}
    return ValueWords(t("value.not_recorded"), t("value.yes"), t("value.no"), t("value.none"), named)


@functools.lru_cache(maxsize=1)
def _bundled_words() -> ValueWords:
    return value_words()


def show(value: Value | None, words: ValueWords | None = None, field: str = "") -> str:
    """A value of ``field`` as a rationale shows it, in ``words`` (the bundled pack's English by
    default): a vocabulary value in its ``value.<field>.<value>`` word where the pack has one."""
    if value is None:
        return (words or _bundled_words()).not_recorded
    if isinstance(value, bool):
        said = words or _bundled_words()
        return said.yes if value else said.no
    if isinstance(value, frozenset):
        said = words or _bundled_words()
        return ", ".join(sorted(_word(v, field, said) for v in value)) or said.none
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return _word(value, field, words or _bundled_words())
    return str(value)


def _word(value: str, field: str, said: ValueWords) -> str:
    """A vocabulary value's word (the value itself, underscores as spaces, where it has none)."""
    return said.named.get(f"{field}.{value}") or value.replace("_", " ")


#: A template read once: plain text as it is, or its (literal, field name or None) pieces.
Template = str | tuple[tuple[str, str | None], ...]


def parse_template(template: str) -> Template:
    """A rationale template split once into its pieces; a template without names stays a string."""
    pieces = tuple((literal, name) for literal, name, _, _ in _FORMATTER.parse(template))
    if all(name is None for _, name in pieces):
        return "".join(literal for literal, _ in pieces)
    return pieces


def fill(template: Template, values: dict[str, Value], words: ValueWords | None = None) -> str:
    """A parsed template with the values filled in (see `show` for ``words``)."""
    if isinstance(template, str):
        return template
    out: list[str] = []
    for literal, name in template:
        out.append(literal)
        if name is not None:
            out.append(show(values.get(name), words, name))
    return "".join(out)


def render(template: str, values: dict[str, Value]) -> str:
    """Fill a rationale template: only ``{field.path}`` names, checked at load time."""
    return fill(parse_template(template), values)


def add_unique(target: list[str], items: Iterable[str]) -> None:
    """Append the items target does not hold yet, in order."""
    for item in items:
        if item not in target:
            target.append(item)


def note_referral(rule: Rule, urgency: str | None, reasons: list[str], rule_ids: list[str]) -> str | None:
    """Record a rule's referral (if any); return the most urgent tier so far."""
    refer = rule.then.refer
    if refer is None:
        return urgency
    add_unique(reasons, [refer.reason])
    rule_ids.append(rule.id)
    if urgency is None or URGENCIES.index(refer.urgency) < URGENCIES.index(urgency):
        return refer.urgency
    return urgency


def referral_data(pack: Pack, urgency: str, reasons: list[str], rule_ids: list[str],
                  tier_of: dict[str, str] | None = None) -> dict[str, object]:
    """A referral as output data: reasons most urgent first, with the tier's wording from the pack."""
    order = {name: i for i, name in enumerate(URGENCIES)}
    if tier_of:
        reasons = sorted(reasons, key=lambda r: order.get(tier_of.get(r, ""), len(order)))
    data: dict[str, object] = {"urgency": urgency, "reasons": list(reasons), "rule_ids": list(rule_ids)}
    tier = pack.tiers.tiers.get(urgency) if pack.tiers is not None else None
    if tier is not None:
        data["header"] = tier.header
        data["title"] = tier.title
    return data


def tiers_of_reasons(rules: Iterable[Rule]) -> dict[str, str]:
    """The tier each referral reason was given at (the most urgent, when several rules share one)."""
    out: dict[str, str] = {}
    for rule in rules:
        refer = rule.then.refer
        if refer is None:
            continue
        known = out.get(refer.reason)
        if known is None or URGENCIES.index(refer.urgency) < URGENCIES.index(known):
            out[refer.reason] = refer.urgency
    return out


def notices(items: Iterable[tuple[str, str, str]]) -> list[dict[str, object]]:
    """Warnings as output data: one per code, in first-seen order, with every rule that raised it."""
    out: dict[str, dict[str, object]] = {}
    for code, message, rule_id in items:
        entry = out.setdefault(code, {"code": code, "message": message, "rule_ids": []})
        ids = entry["rule_ids"]
        assert isinstance(ids, list)
        if rule_id and rule_id not in ids:  # a planner warning may name no rule
            ids.append(rule_id)
    return list(out.values())


def _first(decision: Decision, key: str, value: Value, rule: Rule) -> bool:
    """Policy ``first``: whether ``rule`` decides ``key``; a different later value is a conflict."""
    held = decision.firsts.get(key)
    if held is None:
        decision.firsts[key] = (value, rule.id)
        return True
    if held[0] != value:
        decision.conflicts.append(Conflict(key, held[0], held[1], value, rule.id))
    return False


#: Conclusions kept as (item, rule) pairs on the Decision, by the Then field that holds them.
_PAIRED = {"prescribe": "prescribes", "exclude": "excludes", "dose": "doses"}


Merge = Callable[["Decision", Any, Rule], None]


def _most_urgent(decision: Decision, value: Any, rule: Rule) -> None:
    decision.urgency = note_referral(rule, decision.urgency, decision.referral_reasons,
                                     decision.referral_rules)


def _warnings(decision: Decision, value: Any, rule: Rule) -> None:
    decision.warnings.extend((w.code, w.message, rule.id) for w in value)


def _pairs(name: str) -> Merge:
    def merge(decision: Decision, value: Any, rule: Rule) -> None:
        getattr(decision, name).extend((item, rule) for item in value)
    return merge


def _union(name: str) -> Merge:
    def merge(decision: Decision, value: Any, rule: Rule) -> None:
        add_unique(getattr(decision, name), value)
    return merge


def _schedule(decision: Decision, value: Any, rule: Rule) -> None:
    for item in value:
        decision.schedule[item.phase] = (item.weeks, rule)


def _set(decision: Decision, value: Any, rule: Rule) -> None:
    for name, item in value:
        if _first(decision, f"derived.{name}", item, rule):
            decision.values[f"derived.{name}"] = item


def _first_of(name: str) -> Merge:
    def merge(decision: Decision, value: Any, rule: Rule) -> None:
        if _first(decision, name, value, rule):
            setattr(decision, name, value)
    return merge


def _most_conservative(decision: Decision, value: Any, rule: Rule) -> None:
    held = decision.adjust
    if held is None or ADJUST_ACTIONS.index(value) < ADJUST_ACTIONS.index(held[0]):
        decision.adjust = (value, rule)


def _any_of(name: str) -> Merge:
    def merge(decision: Decision, value: Any, rule: Rule) -> None:
        if getattr(decision, name) is None:
            setattr(decision, name, rule)
    return merge


def _largest(decision: Decision, value: Any, rule: Rule) -> None:
    if decision.hold is None or value > decision.hold[0]:
        decision.hold = (value, rule)


def merge_of(action: Action) -> Merge:
    """How one conclusion of a rule joins the decision, as its action's conflict policy says."""
    policy: Policy = action.policy
    writes = action.writes
    if policy == "most-urgent":
        return _most_urgent
    if policy == "union" and writes == "warn":
        return _warnings
    if policy == "union" and writes in _PAIRED:
        return _pairs(_PAIRED[writes])
    if policy == "union":
        return _union(writes)
    if policy == "refine" and writes == "schedule":
        return _schedule
    if policy == "refine":  # doses: the planner applies them in this order, later replacing earlier
        return _pairs(_PAIRED[writes])
    if policy == "first" and writes == "set":
        return _set
    if policy == "first":
        return _first_of(writes)
    if policy == "most-conservative":
        return _most_conservative
    if policy == "any":
        return _any_of(writes)
    if policy == "largest":
        return _largest
    raise AssertionError(f"no merge for policy {policy!r}")  # pragma: no cover - every policy is handled


#: Firings kept per rule, by the values they show (then the table starts afresh).
FIRINGS_KEPT = 256


class RuleRun(NamedTuple):
    """What running a rule needs, worked out once per pack: the fields it reports as matched
    (sorted), its templates read once, the conclusions it merges (action, value), the fields
    its firing shows (matched or quoted), and its firings met so far, by those values (kept
    only when ``share`` is on: then equal firings are one object)."""

    rule: Rule
    fields: tuple[str, ...]
    rationale: Template
    patient: Template | None
    merges: tuple[tuple[Merge, Any], ...]
    shows: tuple[str, ...]
    firings: dict[tuple[Any, ...], Fired]
    share: bool = True
    words: ValueWords | None = None  # the pack's words for a value (None: the bundled English)

    def fired(self, values: dict[str, Value]) -> Fired:
        """The firing of this rule on ``values``: the one met before on equal values, or a new one."""
        shown = tuple([values.get(name) for name in self.shows])
        key = (shown, tuple(map(type, shown)))  # 1, 1.0 and True are equal keys but show apart
        found = self.firings.get(key)
        if found is None:
            matched = {name: values.get(name) for name in self.fields}
            patient = None if self.patient is None else fill(self.patient, values, self.words)
            found = Fired(self.rule, fill(self.rationale, values, self.words), matched, patient)
            if self.share:
                if len(self.firings) >= FIRINGS_KEPT:
                    self.firings.clear()  # a crude bound: refilled from the next profiles
                self.firings[key] = found
        return found


def _names(template: Template | None) -> set[str]:
    if template is None or isinstance(template, str):
        return set()
    return {name for _, name in template if name is not None}


def rule_run(rule: Rule, *, share: bool = True, words: ValueWords | None = None) -> RuleRun:
    """The run of one rule (see `RuleRun`)."""
    fields = tuple(sorted(fields_of(rule.when)))
    rationale = parse_template(rule.rationale)
    patient = parse_template(rule.patient) if rule.patient else None
    shows = tuple(sorted(set(fields) | _names(rationale) | _names(patient)))
    return RuleRun(rule, fields, rationale, patient,
                   tuple((merge_of(action), getattr(rule.then, action.writes))
                         for action in actions_of(rule.then)),
                   shows, {}, share, words)


class RuleTables:
    """Each layer's rule runs, built on first use, and the pack's runs of layers matched
    together. Owned by a `backrx.run.caches.CacheSeam`; with ``keep`` off every
    `layer` builds afresh, with ``share`` off no firing is kept for reuse."""

    def __init__(self, pack: Pack, *, keep: bool = True, share: bool = True) -> None:
        self.pack = pack
        self.keep = keep
        self.share = share
        self._layers: list[tuple[RuleRun, ...] | None] = [None] * len(pack.layers)
        self._together: tuple[tuple[int, ...], ...] | None = None
        self._lock = threading.Lock()
        self.words = value_words(pack.texts)  # in the pack's language (a localised pack: its locale's)

    def layer(self, index: int) -> tuple[RuleRun, ...]:
        """The runs of the rules of ``pack.layers[index]``, in order."""
        found = self._layers[index]
        if found is None:
            found = tuple(rule_run(rule, share=self.share, words=self.words)
                          for rule in self.pack.layers[index].rules)
            if self.keep:
                with self._lock:
                    if self._layers[index] is None:
                        self._layers[index] = found
                    found = self._layers[index]
                    assert found is not None
        return found

    def together(self) -> tuple[tuple[int, ...], ...]:
        """The pack's `independent_runs`."""
        found = self._together
        if found is None:
            found = tuple(tuple(run) for run in independent_runs(self.pack.layers))
            if self.keep:
                self._together = found
        return found

    def built_count(self) -> int:
        return sum(layer is not None for layer in self._layers)

    def fired_count(self) -> int:
        return sum(len(run.firings) for layer in self._layers if layer is not None for run in layer)


def layer_runs(pack: Pack) -> tuple[tuple[RuleRun, ...], ...]:
    """Every rule's run, by layer and position (built afresh: a RuleSet keeps its own)."""
    tables = RuleTables(pack)
    return tuple(tables.layer(index) for index in range(len(pack.layers)))


def _apply(decision: Decision, run: RuleRun) -> None:
    rule = run.rule
    for merge, value in run.merges:
        merge(decision, value, rule)


def decide(pack: Pack, engine: Engine, values: dict[str, Value], *, inputs: str = "profile",
           layers: Collection[str] | None = None, accept: Callable[[Rule], bool] | None = None,
           tables: RuleTables | None = None) -> Decision:
    """Run, in order, every layer that reads ``inputs`` (the profile: the recommend layers); on the
    profile, stop after the first layer that refers when a referral replaces exercise.

    ``layers`` (names) runs only those layers, whatever the others concluded (adjust runs its
    layer this way, over the feedback's facts); ``accept`` leaves out the matching rules it
    returns False for, as if they had not matched. ``tables`` are the RuleSet's (its cache
    seam's); without them each layer's runs are worked out for this call.
    """
    decision = Decision(dict(values), pack.blocking_urgencies)
    current = decision.values
    if tables is None:
        tables = RuleTables(pack, keep=True, share=False)  # lives for this call only
    for together in tables.together():
        # The layers of one run read nothing an earlier one of them concludes: matched together.
        chosen = [index for index in together
                  if (pack.layers[index].name in layers if layers is not None
                      else pack.layers[index].inputs == inputs)]
        if not chosen:
            continue
        if inputs == "profile" and layers is None and chosen[0] > 0 and decision.refers:
            break
        for index, positions in zip(chosen, engine.match_layers(chosen, current), strict=True):
            if inputs == "profile" and layers is None and index > 0 and decision.refers:
                return decision
            _run_layer(decision, tables.layer(index), positions, accept)
    return decision


def _run_layer(decision: Decision, layer_run: tuple[RuleRun, ...], positions: list[int],
               accept: Callable[[Rule], bool] | None) -> None:
    """Take in the rules of one layer that matched, in order, and show their conclusions to
    the layers after it."""
    current = decision.values
    for position in positions:
        run = layer_run[position]
        if accept is not None and not accept(run.rule):
            continue
        decision.fired.append(run.fired(current))
        _apply(decision, run)
    if decision.urgency is not None:
        current["referral_urgency"] = decision.urgency
    if decision.pathways:
        current["pathways"] = frozenset(decision.pathways)
    if decision.risk is not None:
        current["startback_risk"] = decision.risk
