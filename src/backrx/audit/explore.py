"""Exploring a pack: run every audited profile, record what it reached, shrink what failed.

`Exploration` records, profile by profile, rule coverage, the vocabulary reached, the
invariants violated (and the smallest profile that violated each) and the conflicts.
`shrink` replays the same generation and lets Hypothesis shrink a violation to a minimal
profile.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import TYPE_CHECKING, Any

from backrx.audit.conflicts import ConflictFinder, profile_key, profile_size
from backrx.audit.invariant import Invariant
from backrx.audit.invariants import NO_ERROR
from backrx.model.recommendation import Recommendation
from backrx.pack.model import Rule
from backrx.ruleset import RuleSet

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


def recommend_rules(rules: RuleSet) -> list[Rule]:
    """The rules recommend() runs: those of the layers that read the profile (a layer that reads
    feedback runs in backrx.adjust instead)."""
    profile_layers = {layer.name for layer in rules.pack.layers if layer.inputs == "profile"}
    return [rule for rule in rules.pack.rules if rule.layer in profile_layers]


def recommend_safely(rules: RuleSet, profile: dict[str, Any]) -> tuple[Recommendation | None, str | None]:
    """The recommendation, or None and why recommend() raised (a valid profile must never)."""
    try:
        return rules.recommend(profile), None
    except Exception as exc:  # a valid profile must always get a recommendation
        return None, f"recommend() raised {type(exc).__name__}: {exc}"


def evaluate(item: Invariant, rules: RuleSet, profile: dict[str, Any],
              rec: Recommendation) -> str | None:
    """Why ``item`` does not hold for ``rec`` (a check that raises does not hold), or None."""
    try:
        reason = item.check(rules, profile, rec)
    except Exception as exc:  # a check that crashes does not hold
        return f"the check raised {type(exc).__name__}: {exc}"
    if reason is None:
        return None
    return str(reason) or "violated"


class Exploration:
    """Everything the exploration pass records."""

    def __init__(self, rules: RuleSet, active: list[Invariant],
                 corner_profiles: list[dict[str, Any]]) -> None:
        from backrx.testing import VOCABULARY_TARGETS

        self.rules = rules
        self.active = active
        self.by_id = {rule.id: rule for rule in recommend_rules(rules)}
        self.corner_keys = {profile_key(p): i for i, p in enumerate(corner_profiles)}
        self.examples = 0
        self.coverage: dict[str, int] = dict.fromkeys(self.by_id, 0)
        self.vocabulary: Counter[str] = Counter(dict.fromkeys(VOCABULARY_TARGETS, 0))
        self.counts: Counter[str] = Counter()
        self.smallest: dict[str, tuple[dict[str, Any], str]] = {}
        self.generated_hits: set[str] = set()  # invariants a generated profile violated
        self.corner_hits: dict[str, int] = {}  # invariant -> the first corner case that violated it
        self.conflicts = ConflictFinder(rules, self.by_id)
        self._corner: int | None = None

    def violated(self, invariant_id: str, profile: dict[str, Any], reason: str) -> None:
        self.counts[invariant_id] += 1
        if self._corner is None:
            self.generated_hits.add(invariant_id)
        else:
            self.corner_hits.setdefault(invariant_id, self._corner)
        kept = self.smallest.get(invariant_id)
        if kept is None or profile_size(profile) < profile_size(kept[0]):
            self.smallest[invariant_id] = (copy.deepcopy(profile), reason)

    def observe(self, profile: dict[str, Any]) -> None:
        from backrx.testing import record_events

        self.examples += 1
        self._corner = self.corner_keys.get(profile_key(profile))
        for label in record_events(profile):
            self.vocabulary[label] += 1
        rec, error = recommend_safely(self.rules, profile)
        if rec is None:
            assert error is not None
            self.violated(NO_ERROR.id, profile, error)
            return
        for rule_id in dict.fromkeys(f.rule_id for f in rec.trace):
            if rule_id in self.coverage:
                self.coverage[rule_id] += 1
        for item in self.active:
            if item is NO_ERROR:
                continue
            reason = evaluate(item, self.rules, profile, rec)
            if reason is not None:
                self.violated(item.id, profile, reason)
        self.conflicts.observe(profile, rec)


def hypothesis_settings(max_examples: int, shrink: bool) -> Any:
    """Exploring: the corner cases, then generation. Shrinking: generation (replayed), then shrinking."""
    from hypothesis import HealthCheck, Phase, Verbosity, settings

    quiet = {"too_slow", "data_too_large", "filter_too_much", "large_base_example", "nested_given",
             "function_scoped_fixture", "differing_executors"}
    return settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink) if shrink else (Phase.explicit, Phase.generate),
        suppress_health_check=[h for h in HealthCheck if h.name in quiet],
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
    )


class _FoundError(Exception):
    """Raised inside Hypothesis to mark a violating profile (and so to shrink it)."""

    def __init__(self, profile: dict[str, Any], reason: str) -> None:
        super().__init__(reason)
        self.profile = profile
        self.reason = reason


def violation(rules: RuleSet, item: Invariant, profile: dict[str, Any]) -> str | None:
    """Why ``profile`` violates ``item`` (output.no-error: why recommend() raised), or None."""
    rec, error = recommend_safely(rules, profile)
    if rec is None:
        return error if item is NO_ERROR else None
    return None if item is NO_ERROR else evaluate(item, rules, profile, rec)


def shrink(rules: RuleSet, item: Invariant, strategy: SearchStrategy[dict[str, Any]], max_examples: int,
           seed: int) -> tuple[dict[str, Any], str] | None:
    """Replay the same generation (same seed), stop at the first violation and let Hypothesis shrink it."""
    import hypothesis

    def probe(profile: dict[str, Any]) -> None:
        reason = violation(rules, item, profile)
        if reason is not None:
            raise _FoundError(copy.deepcopy(profile), reason)

    given = hypothesis.seed(seed)(hypothesis.given(strategy)(probe))
    test = hypothesis_settings(max_examples, shrink=True)(given)
    try:
        test()
    except _FoundError as found:
        return found.profile, found.reason
    except Exception:  # flaky or unreproducible: the caller keeps the first profile it saw
        return None
    return None


def explanation(rules: RuleSet, profile: dict[str, Any]) -> str:
    """``explain()`` of the profile's recommendation, or why there is none."""
    rec, error = recommend_safely(rules, profile)
    return rec.explain() if rec is not None else str(error)


__all__ = ["Exploration", "evaluate", "explanation", "hypothesis_settings", "recommend_rules",
           "recommend_safely", "shrink", "violation"]
