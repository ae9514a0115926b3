"""Running a pack's layers over one profile: what the rules concluded, and the trace."""

from __future__ import annotations

import string
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from backrx.engine import Engine
from backrx.lang.condition import Value, fields_of
from backrx.model.vocabulary import URGENCIES
from backrx.pack.actions import Action, Policy, actions_of
from backrx.pack.rulepack import ADJUST_ACTIONS, DoseSpec, Exclude, Pack, Prescribe, Rule


@dataclass
class Fired:
    """A rule that fired, with its rendered rationale and the values it matched."""

    rule: Rule
    rationale: str
    matched: dict[str, Value | None]
    patient: str | None = None


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
    (:attr:`backrx.pack.model.Pack.blocking_urgencies`).
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


def _show(value: Value | None) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, frozenset):
        return ", ".join(sorted(v.replace("_", " ") for v in value)) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value.replace("_", " ")
    return str(value)


def render(template: str, values: dict[str, Value]) -> str:
    """Fill a rationale template: only ``{field.path}`` names, checked at load time."""
    out: list[str] = []
    for literal, name, _, _ in _FORMATTER.parse(template):
        out.append(literal)
        if name is not None:
            out.append(_show(values.get(name)))
    return "".join(out)


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


def _merge(decision: Decision, action: Action, value: Any, rule: Rule) -> None:
    """Add one conclusion of ``rule`` to ``decision`` as its action's conflict policy says."""
    policy: Policy = action.policy
    writes = action.writes
    if policy == "most-urgent":
        decision.urgency = note_referral(rule, decision.urgency, decision.referral_reasons,
                                         decision.referral_rules)
    elif policy == "union" and writes == "warn":
        decision.warnings.extend((w.code, w.message, rule.id) for w in value)
    elif policy == "union" and writes in _PAIRED:
        getattr(decision, _PAIRED[writes]).extend((item, rule) for item in value)
    elif policy == "union":
        add_unique(getattr(decision, writes), value)
    elif policy == "refine" and writes == "schedule":
        for item in value:
            decision.schedule[item.phase] = (item.weeks, rule)
    elif policy == "refine":  # doses: the planner applies them in this order, later replacing earlier
        getattr(decision, _PAIRED[writes]).extend((item, rule) for item in value)
    elif policy == "first" and writes == "set":
        for name, item in value:
            if _first(decision, f"derived.{name}", item, rule):
                decision.values[f"derived.{name}"] = item
    elif policy == "first":
        if _first(decision, writes, value, rule):
            setattr(decision, writes, value)
    elif policy == "most-conservative":
        held = decision.adjust
        if held is None or ADJUST_ACTIONS.index(value) < ADJUST_ACTIONS.index(held[0]):
            decision.adjust = (value, rule)
    elif policy == "any":
        if getattr(decision, writes) is None:
            setattr(decision, writes, rule)
    elif policy == "largest":
        if decision.hold is None or value > decision.hold[0]:
            decision.hold = (value, rule)
    else:  # pragma: no cover - every policy of the action table is handled above
        raise AssertionError(f"no merge for policy {policy!r}")


def _apply(decision: Decision, rule: Rule) -> None:
    for action in actions_of(rule.then):
        _merge(decision, action, getattr(rule.then, action.writes), rule)


def decide(pack: Pack, engine: Engine, values: dict[str, Value], *, inputs: str = "profile",
           layers: Collection[str] | None = None, accept: Callable[[Rule], bool] | None = None) -> Decision:
    """Run, in order, every layer that reads ``inputs`` (the profile: the recommend layers); on the
    profile, stop after the first layer that refers when a referral replaces exercise.

    ``layers`` (names) runs only those layers, whatever the others concluded (adjust runs its
    layer this way, over the feedback's facts); ``accept`` leaves out the matching rules it
    returns False for, as if they had not matched.
    """
    decision = Decision(dict(values), pack.blocking_urgencies)
    current = decision.values
    for index, layer in enumerate(pack.layers):
        if layers is not None:
            if layer.name not in layers:
                continue
        elif layer.inputs != inputs:
            continue
        elif inputs == "profile" and index > 0 and decision.refers:
            break
        for position in engine.match(index, current):
            rule = layer.rules[position]
            if accept is not None and not accept(rule):
                continue
            matched = {name: current.get(name) for name in sorted(fields_of(rule.when))}
            decision.fired.append(Fired(rule, render(rule.rationale, current), matched,
                                        render(rule.patient, current) if rule.patient else None))
            _apply(decision, rule)
        if decision.urgency is not None:
            current["referral_urgency"] = decision.urgency
        if decision.pathways:
            current["pathways"] = frozenset(decision.pathways)
        if decision.risk is not None:
            current["startback_risk"] = decision.risk
    return decision
