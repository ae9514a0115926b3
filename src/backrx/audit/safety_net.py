"""The safety-net invariant: a profile that already meets a safety-net line's condition is
referred at that line's tier or higher.

Each safety-net line of a pack may say, machine-readably, which clinical states make it apply
and the tier it stands for (`backrx.pack.actions.SafetyLine`). The states are worked out by
the audited pack's own states layer, so removing the triage rule that acts on a state shows up
here as an inconsistency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backrx.model.profile import validated_profile
from backrx.model.vocabulary import URGENCIES
from backrx.pack.actions import SafetyLine
from backrx.run.facts import profile_values

if TYPE_CHECKING:
    from backrx.model.recommendation import Recommendation
    from backrx.ruleset import RuleSet


def urgency_rank(urgency: str | None) -> int:
    """Higher is more urgent: no referral 0, then the pack's tiers from routine up."""
    return len(URGENCIES) - URGENCIES.index(urgency) if urgency in URGENCIES else 0


def safety_lines(rules: RuleSet) -> list[tuple[str, SafetyLine]]:
    """Every safety-net line of the pack that names its states and a referral tier, with its rule id."""
    return [(rule.id, line) for rule in rules.pack.rules for line in rule.then.safety_net
            if isinstance(line, SafetyLine) and line.tier in URGENCIES]


def safety_net_consistent(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    """None when every safety-net line whose state the profile already meets is matched by a
    referral at the line's tier or higher; otherwise which line, state and tiers disagree."""
    lines = safety_lines(rules)
    if not lines:
        return None
    states = rules.decide_facts(profile_values(validated_profile(profile)), layers=["states"]).values
    got = rec.referral.urgency if rec.referral is not None else None
    for rule_id, line in lines:
        met = [name for name in line.states if states.get(name) is True]
        if met and urgency_rank(got) < urgency_rank(line.tier):
            return (f"the safety net of {rule_id} says {line.tier} for {', '.join(met)}, which this "
                    f"profile already meets, but the referral is {got or 'none'}")
    return None
