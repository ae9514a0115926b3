"""From a validated Profile to the flat facts that rule conditions read."""

from __future__ import annotations

from typing import Any

from backrx.lang.condition import Value
from backrx.model.profile import Profile
from backrx.model.vocabulary import FIELDS

_PROFILE_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (path, tuple(path.split("."))) for path, spec in FIELDS.items() if spec.origin == "profile"
)


def profile_values(profile: Profile) -> dict[str, Value]:
    """Every profile field that has a value, keyed by its dotted path.

    Lists become frozensets; a field with no value is left out (a test on it is
    false). Missing preferences take their documented defaults. STarT Back scores
    are added only when all nine items are answered.
    """
    roots: dict[str, Any] = {
        "findings": profile.findings,
        "history": profile.history,
        "startback": profile.startback,
        "preferences": profile.resolved_preferences,
    }
    out: dict[str, Value] = {}
    for path, parts in _PROFILE_PATHS:
        if len(parts) == 1:
            value = getattr(profile, parts[0])
        else:
            parent = roots[parts[0]]
            if parent is None:
                continue
            value = getattr(parent, parts[1])
        if value is None:
            continue
        out[path] = frozenset(value) if isinstance(value, list) else value
    if profile.startback is not None and profile.startback.complete:
        total = profile.startback.total
        psychosocial = profile.startback.psychosocial
        assert total is not None and psychosocial is not None
        out["startback.total"] = total
        out["startback.psychosocial"] = psychosocial
    return out
