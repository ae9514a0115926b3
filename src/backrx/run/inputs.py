"""The profile fields the planner reads itself, not through a rule: declared once, here.

The rule layers read the profile through their conditions (``when:``), which the pack states.
The planner also reads a few fields directly (where and how the person exercises, the time
they give it, and how long they can walk). This table names them, so that:

* the recommendation cache keys on exactly these values (`backrx.RuleSet.recommend`:
  everything but the firings, the stage and these fields is the same for equal firings);
* ``backrx audit`` counts them as read (a field no rule and no planner reads is a dead input).

Code that makes the planner read another profile field adds it here.
"""

from __future__ import annotations

from typing import Any

from backrx.model.profile import Profile

#: Dotted profile paths the planner reads (preferences with their documented defaults).
PLANNER_FIELDS: tuple[str, ...] = (
    "preferences.settings",
    "preferences.equipment",
    "preferences.minutes_per_session",
    "preferences.sessions_per_week",
    "outcomes.walk_minutes",  # the baseline walking tolerance caps the starting walk
    "preferences.dislikes",  # disliked activities are passed over while another choice fits
)


def field_value(profile: Profile, path: str) -> Any:
    """The value at a dotted ``path`` of ``profile`` (preferences with their defaults; None when
    absent); a list comes back as a tuple in its order (the order can matter: the exposure ladder
    follows the order of the person's goals, and a cache key must not merge two orders)."""
    head, _, rest = path.partition(".")
    node: Any = profile.resolved_preferences if head == "preferences" else getattr(profile, head)
    for part in rest.split(".") if rest else ():
        if node is None:
            return None
        node = getattr(node, part)
    return tuple(node) if isinstance(node, list) else node


def planner_inputs(profile: Profile) -> tuple[Any, ...]:
    """The values of `PLANNER_FIELDS` for ``profile``, in that order (hashable)."""
    return tuple(field_value(profile, path) for path in PLANNER_FIELDS)


__all__ = ["PLANNER_FIELDS", "field_value", "planner_inputs"]
