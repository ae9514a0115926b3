"""Hypothesis strategies for auditing rule packs (install with ``pip install backrx[audit]``).

``profiles()`` generates only valid :class:`backrx.Profile` inputs, as plain
mappings, and reaches every corner of the vocabulary: every red flag, every
pathway trigger and the boundary values the bundled pack tests (4 and 12
weeks, Hicks' age 40 and straight-leg raise 91 degrees, STarT totals 3/4).
"""

from __future__ import annotations

from typing import Any, get_args

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "backrx.testing needs Hypothesis: pip install 'backrx[audit]'"
    ) from exc

from backrx import profile as _p

#: Values at and beside the boundaries the bundled rules test.
BOUNDARY_WEEKS = (0.0, 1.9, 2.0, 3.9, 3.99, 4.0, 4.01, 11.9, 11.99, 12.0, 12.01, 52.0)
BOUNDARY_AGES = (18, 39, 40, 41, 48, 49, 50, 70)
BOUNDARY_SLR = (80.0, 90.0, 91.0, 91.5, 92.0)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _sublist(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), unique=True, max_size=len(values))


def _number(low: float, high: float, boundaries: tuple[float, ...] = ()) -> st.SearchStrategy[float]:
    plain = st.floats(low, high, allow_nan=False, allow_infinity=False)
    return st.one_of(plain, st.sampled_from(boundaries)) if boundaries else plain


def findings() -> st.SearchStrategy[dict[str, Any]]:
    """Examination findings, with any item possibly unexamined."""
    activities = get_args(_p.Activity)
    return st.fixed_dictionaries(
        {},
        optional={
            "straight_leg_raise_deg": _maybe(_number(0, 180, BOUNDARY_SLR)),
            "aberrant_movement": _maybe(st.booleans()),
            "prone_instability_test": _maybe(st.booleans()),
            "hamstring_tightness": _maybe(st.booleans()),
            "glute_weakness": _maybe(st.booleans()),
            "sitting_hours_per_day": _maybe(_number(0, 24, (5.9, 6.0, 8.0))),
            "eases_with": _maybe(_sublist(activities)),
            "worse_with": _maybe(_sublist(activities)),
            "posture": _maybe(_sublist(get_args(_p.Posture))),
        },
    )


def startback() -> st.SearchStrategy[dict[str, Any]]:
    """STarT Back answers: usually complete, sometimes with unanswered items."""
    items = ("leg_pain", "shoulder_neck_pain", "walked_short_distances", "dressed_slowly",
             "not_safe_to_be_active", "worrying_thoughts", "pain_terrible", "not_enjoying")
    complete = st.fixed_dictionaries(
        {**{name: st.booleans() for name in items}, "bothersomeness": st.integers(0, 4)}
    )
    partial = st.fixed_dictionaries(
        {}, optional={**{name: _maybe(st.booleans()) for name in items},
                      "bothersomeness": _maybe(st.integers(0, 4))}
    )
    return st.one_of(complete, complete, complete, partial)


def preferences() -> st.SearchStrategy[dict[str, Any]]:
    """Exercise preferences: settings, equipment, likes, time and goals."""
    return st.fixed_dictionaries(
        {},
        optional={
            "settings": st.lists(st.sampled_from(_p.SETTINGS), unique=True, min_size=1),
            "equipment": _sublist(_p.EQUIPMENT),
            "enjoys": _sublist(get_args(_p.Enjoys)),
            "minutes_per_session": st.integers(5, 180),
            "sessions_per_week": st.integers(1, 14),
            "goals": _sublist(get_args(_p.Goal)),
        },
    )


def history() -> st.SearchStrategy[dict[str, Any]]:
    """Medical history, any item possibly unknown."""
    return st.fixed_dictionaries(
        {},
        optional={
            "osteoporosis": _maybe(st.booleans()),
            "recent_spinal_surgery_weeks": _maybe(_number(0, 520)),
            "pregnant": _maybe(st.booleans()),
            "long_term_corticosteroids": _maybe(st.booleans()),
        },
    )


@st.composite
def _profile(draw: st.DrawFn, fixed: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "age": draw(st.one_of(st.integers(10, 110), st.sampled_from(BOUNDARY_AGES))),
        "pain_site": draw(st.sampled_from(get_args(_p.PainSite))),
        "leg_pain": draw(st.sampled_from(get_args(_p.LegPain))),
        "bilateral_leg_symptoms": draw(st.booleans()),
        "pain_intensity": draw(st.integers(0, 10)),
        "tolerance": draw(st.sampled_from(get_args(_p.Tolerance))),
        "directional_preference": draw(st.sampled_from(get_args(_p.Direction))),
        "centralizes": draw(_maybe(st.booleans())),
        "red_flags": draw(st.one_of(
            st.just([]), st.just([]), _sublist(_p.RED_FLAGS).map(lambda v: v[:3])
        )),
    }
    how = draw(st.sampled_from(("weeks", "stage", "both")))
    weeks = draw(_number(0, 520, BOUNDARY_WEEKS))
    if how in ("weeks", "both"):
        data["duration_weeks"] = weeks
    if how in ("stage", "both"):
        data["stage"] = _p.stage_for_weeks(weeks) if how == "both" else draw(
            st.sampled_from(get_args(_p.Stage)))
    for key, strategy in (("findings", findings()), ("history", history()),
                          ("startback", startback()), ("preferences", preferences())):
        if draw(st.booleans()):
            data[key] = draw(strategy)
    if "duration_weeks" in fixed and "stage" not in fixed:
        data.pop("stage", None)
    if "stage" in fixed and "duration_weeks" not in fixed:
        data.pop("duration_weeks", None)
    data.update(fixed)
    return data


def profiles(**fixed_fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Valid profiles as plain mappings; ``fixed_fields`` override generated top-level fields."""
    return _profile(fixed_fields)
