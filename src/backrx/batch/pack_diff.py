"""Two pack versions over one cohort: who is treated differently, and which rules are why.

Every profile runs on both packs (in worker processes with ``workers=N``). A profile
*changes* when its outcome, referral urgency, pathways or set of prescribed exercises
(phase and exercise id) differ. The rules *responsible* for a change are, in this order of
preference: the rules edited, added or removed between the packs whose firing differs for
that profile; else edited rules that fired under either pack (their conclusions changed);
else every rule whose firing differs. A change that no rule explains comes from the pack's
data (catalog, phases, doses' targets): its group has no rules.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from backrx.batch.files import Unreadable
from backrx.model.recommendation import Recommendation
from backrx.ruleset import RuleSet, load_rules

ASPECTS = ("outcome", "urgency", "pathways", "exercises")


@dataclass(frozen=True)
class ProfileChange:
    """How one profile's result differs between the two packs."""

    row: int
    id: str | None
    aspects: tuple[str, ...]
    outcome: tuple[str, str]
    urgency: tuple[str | None, str | None]
    pathways: tuple[tuple[str, ...], tuple[str, ...]]
    exercises_added: tuple[str, ...]
    exercises_removed: tuple[str, ...]
    responsible: tuple[str, ...]
    fired_differently: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The change as plain data."""
        return dataclasses.asdict(self)


@dataclass
class Group:
    """The profiles whose change the same rules are responsible for."""

    rules: tuple[str, ...]
    count: int = 0
    aspects: Counter[str] = field(default_factory=Counter)
    also_fired_differently: Counter[str] = field(default_factory=Counter)
    rows: list[int] = field(default_factory=list)
    examples: list[ProfileChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The group as plain data."""
        return {"rules": list(self.rules), "count": self.count, "aspects": dict(self.aspects),
                "also_fired_differently": dict(self.also_fired_differently.most_common()),
                "rows": self.rows, "examples": [e.as_dict() for e in self.examples]}


@dataclass
class PackDiff:
    """What changed between two pack versions over a cohort."""

    old: dict[str, str]
    new: dict[str, str]
    profiles: int = 0
    invalid: int = 0
    changed: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # invalid rows by error code
    aspects: Counter[str] = field(default_factory=Counter)
    rules_added: tuple[str, ...] = ()
    rules_removed: tuple[str, ...] = ()
    rules_edited: tuple[str, ...] = ()
    groups: list[Group] = field(default_factory=list)

    @property
    def changed_rows(self) -> list[int]:
        """Input positions of every profile that changed, in order."""
        return sorted(row for group in self.groups for row in group.rows)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (JSON-ready)."""
        return {"old": self.old, "new": self.new, "profiles": self.profiles, "invalid": self.invalid,
                "errors": dict(sorted(self.errors.items())), "changed": self.changed,
                "aspects": dict(self.aspects),
                "rules_added": list(self.rules_added), "rules_removed": list(self.rules_removed),
                "rules_edited": list(self.rules_edited), "groups": [g.as_dict() for g in self.groups]}

    def format(self) -> str:
        """A readable report."""
        lines = [f"old: {self.old['name']} {self.old['version']} ({self.old['digest'][:19]})",
                 f"new: {self.new['name']} {self.new['version']} ({self.new['digest'][:19]})"]
        for label, ids in (("added", self.rules_added), ("removed", self.rules_removed),
                           ("edited", self.rules_edited)):
            if ids:
                lines.append(f"rules {label}: {', '.join(ids)}")
        share = f" ({self.changed / self.profiles:.1%})" if self.profiles else ""
        lines.append(f"{self.profiles} profiles ({self.invalid} invalid, skipped): "
                     f"{self.changed} changed{share}")
        if self.errors:
            lines.append("  invalid: " + ", ".join(f"{code} {n}" for code, n in sorted(self.errors.items())))
        if self.aspects:
            lines.append("  " + ", ".join(f"{a}: {self.aspects[a]}" for a in ASPECTS if self.aspects[a]))
        for group in self.groups:
            who = ", ".join(group.rules) if group.rules else "no rule (catalog, phases or other pack data)"
            lines.append(f"\n{group.count} profiles, responsible: {who}")
            lines.append("  changed: " + ", ".join(f"{a} {group.aspects[a]}" for a in ASPECTS
                                                  if group.aspects[a]))
            downstream = [f"{rule} ({n})" for rule, n in group.also_fired_differently.most_common(6)]
            if downstream:
                lines.append("  also firing differently: " + ", ".join(downstream))
            for ex in group.examples:
                name = f"row {ex.row}" + (f" (id {ex.id})" if ex.id is not None else "")
                parts = []
                if "outcome" in ex.aspects:
                    parts.append(f"outcome {ex.outcome[0]} -> {ex.outcome[1]}")
                if "urgency" in ex.aspects:
                    parts.append(f"urgency {ex.urgency[0]} -> {ex.urgency[1]}")
                if "pathways" in ex.aspects:
                    parts.append(f"pathways [{', '.join(ex.pathways[0])}] -> [{', '.join(ex.pathways[1])}]")
                if ex.exercises_added:
                    parts.append(f"+{len(ex.exercises_added)} exercises ({', '.join(ex.exercises_added[:3])}"
                                 f"{', ...' if len(ex.exercises_added) > 3 else ''})")
                if ex.exercises_removed:
                    parts.append(f"-{len(ex.exercises_removed)} exercises "
                                 f"({', '.join(ex.exercises_removed[:3])}"
                                 f"{', ...' if len(ex.exercises_removed) > 3 else ''})")
                lines.append(f"  e.g. {name}: " + "; ".join(parts))
        return "\n".join(lines) + "\n"


def _summary(rec: Recommendation) -> tuple[Any, ...]:
    phases = rec.program.phases if rec.program else []
    exercises = frozenset(f"{phase.id}/{p.exercise.id}" for phase in phases for p in phase.prescriptions)
    return (rec.outcome, rec.referral.urgency if rec.referral else None,
            tuple(rec.classification.pathways), exercises, tuple(f.rule_id for f in rec.trace))


def _pair_task(pair: tuple[RuleSet, RuleSet], chunk: list[Any]) -> list[Any]:
    """None (no change), (before, after), or the error code of a record that could not run."""
    old, new = pair
    out: list[Any] = []
    for item in chunk:
        if isinstance(item, Unreadable):
            out.append(item.code)
            continue
        try:
            before, after = _summary(old.recommend(item)), _summary(new.recommend(item))
        except ValidationError:
            out.append("invalid-profile")
            continue
        out.append(None if before[:4] == after[:4] else (before, after))
    return out


def _rule_changes(old: RuleSet, new: RuleSet) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    def plain(rules: RuleSet) -> dict[str, Any]:
        return {r.id: dataclasses.replace(r, file="", line=0) for r in rules.pack.rules}

    a, b = plain(old), plain(new)
    added = tuple(sorted(set(b) - set(a)))
    removed = tuple(sorted(set(a) - set(b)))
    edited = tuple(sorted(rid for rid in set(a) & set(b) if a[rid] != b[rid]))
    return added, removed, edited


def _change(row: int, ident: str | None, before: tuple[Any, ...], after: tuple[Any, ...],
            touched: set[str]) -> ProfileChange:
    aspects = tuple(name for name, x, y in zip(ASPECTS, before[:4], after[:4], strict=True) if x != y)
    fired_a, fired_b = set(before[4]), set(after[4])
    differ = fired_a ^ fired_b
    responsible = (differ & touched) or ((fired_a | fired_b) & touched) or differ
    return ProfileChange(row, ident, aspects, (before[0], after[0]), (before[1], after[1]),
                         (before[2], after[2]), tuple(sorted(after[3] - before[3])),
                         tuple(sorted(before[3] - after[3])), tuple(sorted(responsible)),
                         tuple(sorted(differ)))


def _as_rules(value: RuleSet | str | os.PathLike[str]) -> RuleSet:
    return value if isinstance(value, RuleSet) else load_rules(value)


def diff(old: RuleSet | str | os.PathLike[str], new: RuleSet | str | os.PathLike[str],
         pairs: Iterable[tuple[str | None, Any]], *, workers: int | None = None,
         chunk_size: int | None = None, examples: int = 3) -> PackDiff:
    """Compare two packs (RuleSets or pack folders) over ``pairs`` of (id, profile record), as
    `backrx.batch.diff` reads them; an `Unreadable` record (a line that was not
    JSON, say) counts as invalid, under its code. Raises `backrx.RuleError` for a broken
    pack."""
    a, b = _as_rules(old), _as_rules(new)
    added, removed, edited = _rule_changes(a, b)
    touched = set(added) | set(removed) | set(edited)
    report = PackDiff({"name": a.name, "version": a.version, "digest": a.digest},
                      {"name": b.name, "version": b.version, "digest": b.digest},
                      rules_added=added, rules_removed=removed, rules_edited=edited)
    groups: dict[tuple[str, ...], Group] = {}
    ids: list[str | None] = []

    def items() -> Any:
        for ident, item in pairs:
            ids.append(ident)
            yield item

    size = chunk_size or 200
    if workers is not None and workers > 1:
        from backrx.workers.pool import ordered_map

        stream = ordered_map((a, b), items(), _pair_task, workers=workers, chunk_size=size,
                             local=_pair_task)
        results: Any = (r for _, chunk in stream for r in chunk)
    else:
        stream = None
        results = (_pair_task((a, b), [item])[0] for item in items())
    try:
        _tally(report, groups, results, ids, touched, examples)
    finally:
        if stream is not None:
            stream.close()  # stops the workers at once if the tally failed
    report.groups = sorted(groups.values(), key=lambda g: (-g.count, g.rules))
    return report


def _tally(report: PackDiff, groups: dict[tuple[str, ...], Group], results: Any, ids: list[str | None],
           touched: set[str], examples: int) -> None:
    for row, result in enumerate(results):
        report.profiles += 1
        if result is None:
            continue
        if isinstance(result, str):
            report.invalid += 1
            report.errors[result] += 1
            continue
        change = _change(row, ids[row], result[0], result[1], touched)
        report.changed += 1
        report.aspects.update(change.aspects)
        group = groups.setdefault(change.responsible, Group(change.responsible))
        group.count += 1
        group.aspects.update(change.aspects)
        group.also_fired_differently.update(r for r in change.fired_differently if r not in group.rules)
        group.rows.append(row)
        if len(group.examples) < examples:
            group.examples.append(change)
