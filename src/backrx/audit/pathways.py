"""The pathway patterns, read straight off a profile: an oracle for the classification rules.

`pathway_triggers` writes each pattern out in Python, independent of any engine, and
takes its cut-offs from a pack's rules, so a test can compare what the pack concludes with what
the profile shows (``backrx.testing`` re-exports it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backrx.audit.reference import field_tests, reference_pack, threshold
from backrx.lang.condition import AtLeast, Condition, NotOf
from backrx.pack.model import Pack


@dataclass(frozen=True)
class _Patterns:
    """The parts of a pack's pathway rules that `pathway_triggers` reads."""

    directions: dict[str, list[tuple[str, set[str], set[str]]]]  # preference -> (pathway, worse, eases)
    stenosis_not: set[str]  # preferences that rule the stenosis pattern out
    stenosis_age: float | None  # the age the stenosis pattern needs to be over
    stenosis_count: int  # how many of its other items it needs
    hicks_age: float | None  # the age the stabilization rule needs to be under
    hicks_slr: float | None  # the straight-leg raise it needs to be over
    hicks_count: int
    sitting_hours: float | None  # hours of sitting a day that count for the sitting pattern


_patterns_cache: dict[str, _Patterns] = {}


def _at_least(condition: Condition) -> int | None:
    if isinstance(condition, AtLeast):
        return condition.count
    items = (condition.item,) if isinstance(condition, NotOf) else getattr(condition, "items", ())
    for item in items:
        found = _at_least(item)
        if found is not None:
            return found
    return None


def _patterns(pack: Pack) -> _Patterns:
    found = _patterns_cache.get(pack.digest)
    if found is not None:
        return found
    directions: dict[str, list[tuple[str, set[str], set[str]]]] = {}
    stenosis_not: set[str] = set()
    counts: dict[str, int] = {}
    for rule in pack.rules:
        if not rule.then.pathways:
            continue
        tests = list(field_tests(rule.when, False))
        pathway = rule.then.pathways[0]
        count = _at_least(rule.when)
        if count is not None:
            counts.setdefault(pathway, count)
        for test, negated in tests:
            if test.field != "directional_preference" or test.op != "eq":
                continue
            if negated:
                if pathway == "stenosis":
                    stenosis_not.add(str(test.value))
                continue
            worse = {str(t.value) for t, n in tests if n and t.field == "findings.worse_with"}
            eases = {str(t.value) for t, n in tests if n and t.field == "findings.eases_with"}
            directions.setdefault(str(test.value), []).append((pathway, worse, eases))
    made = _Patterns(
        directions, stenosis_not, threshold(pack, "age", "gt", pathway="stenosis"), counts.get("stenosis", 0),
        threshold(pack, "age", "lt", pathway="stabilization"),
        threshold(pack, "findings.straight_leg_raise_deg", "gt", pathway="stabilization"),
        counts.get("stabilization", 0),
        threshold(pack, "findings.sitting_hours_per_day", "gte", pathway="lower_crossed"))
    _patterns_cache[pack.digest] = made
    return made


def _over(value: Any, limit: float | None) -> bool:
    return value is not None and limit is not None and value > limit


def _under(value: Any, limit: float | None) -> bool:
    return value is not None and limit is not None and value < limit


def in_pregnancy(profile: Mapping[str, Any], pack: Pack | None = None) -> bool:
    """True when the pregnancy population of ``pack`` (populations.yaml; the bundled pack when it has
    none, or by default) holds the person."""
    from backrx.model.profile import Profile
    from backrx.run.facts import profile_values
    from backrx.run.populations import members

    if pack is None or not any(p.id == "pregnancy" for p in pack.populations.populations):
        pack = reference_pack()  # a pack without the population: the bundled pack's reading
    return "pregnancy" in members(pack, profile_values(Profile.model_validate(profile)))


def pathway_triggers(profile: Mapping[str, Any], pack: Pack | None = None) -> list[str]:
    """The pathways whose trigger pattern this profile shows, read straight off the profile.

    The patterns are written out here, independent of any engine; their cut-offs (ages, the
    straight-leg raise, hours of sitting, how many items a cluster needs) and the findings that
    put a directional preference in doubt are read from ``pack`` (the bundled pack by default),
    so the reading follows a clinic's own pack. The patterns: a directional preference, the
    stenosis cluster (over the age cut-off and enough of the other four; not with the excluded
    preference, not in pregnancy or with pelvic girdle pain), the Hicks rule or the movement-control
    pair, and the sitting pattern. ``general_conditioning`` when none holds.
    """
    shape = _patterns(pack if pack is not None else reference_pack())
    found: list[str] = []
    direction = profile.get("directional_preference", "unknown")
    f = profile.get("findings") or {}
    worse = set(f.get("worse_with") or ())
    eases = set(f.get("eases_with") or ())
    for pathway, doubt_worse, doubt_eases in shape.directions.get(direction, []):
        if not worse & doubt_worse and not eases & doubt_eases:  # else the preference is in doubt
            found.append(pathway)
    history = profile.get("history") or {}
    # pregnancy as rules/populations.yaml defines it (the population's `when`), or pelvic girdle pain
    pregnancy = in_pregnancy(profile, pack) \
        or history.get("pelvic_girdle_pain") is True
    stenosis = [
        bool(profile.get("bilateral_leg_symptoms")),
        profile["leg_pain"] in ("buttock_thigh", "below_knee"),
        bool(worse & {"walking", "standing"}),
        bool(eases & {"sitting", "bending_forward"}),
    ]
    if (direction not in shape.stenosis_not and _over(profile["age"], shape.stenosis_age) and not pregnancy
            and shape.stenosis_count and sum(stenosis) >= shape.stenosis_count):
        found.append("stenosis")
    slr = f.get("straight_leg_raise_deg")
    hicks = [_under(profile["age"], shape.hicks_age), _over(slr, shape.hicks_slr),
             f.get("aberrant_movement") is True, f.get("prone_instability_test") is True]
    if (shape.hicks_count and sum(hicks) >= shape.hicks_count) or (hicks[2] and hicks[3]):
        found.append("stabilization")
    sitting = f.get("sitting_hours_per_day")
    seated = profile.get("mobility", "independent") == "wheelchair"
    long_sitting = sitting is not None and shape.sitting_hours is not None and sitting >= shape.sitting_hours
    if (not seated and f.get("hamstring_tightness") is True and f.get("glute_weakness") is True
            and (long_sitting or "sitting" in worse)):
        found.append("lower_crossed")
    return found or ["general_conditioning"]


__all__ = ["in_pregnancy", "pathway_triggers"]
