"""Hypothesis strategies for auditing rule packs (install with ``pip install backrx[audit]``).

``profiles()`` generates only valid `backrx.Profile` inputs, as plain
mappings, and reaches every corner of the vocabulary: every red flag, every
pathway trigger and the boundary values the pack tests. The boundaries are read
from the pack's rules (`boundaries`), never restated here: a pack that moves a
cut-off moves the generated values with it. ``profiles(pack=my_pack)`` generates
around the cut-offs of another pack.

``vocabulary_events(profile)`` names the corners one profile reaches, and
``record_events(profile)`` reports them as Hypothesis ``event()`` statistics, so a
test can show that a run reached all of `VOCABULARY_TARGETS`::

    @given(profiles())
    def test_my_pack(profile):
        record_events(profile)   # see them with pytest --hypothesis-show-statistics
        ...

``feedback(rec)`` generates next-day feedback for the exercises of a recommendation,
for tests of `backrx.adjust`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, get_args

try:
    from hypothesis import event
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "backrx.testing needs Hypothesis: pip install 'backrx[audit]'"
    ) from exc

from backrx.audit.boundaries import Boundaries, boundaries
from backrx.audit.corner_cases import STARTBACK_ITEMS, boundary_corners, cluster_corners
from backrx.audit.pathways import in_pregnancy, pathway_triggers
from backrx.model import profile as _p
from backrx.model.recommendation import Recommendation
from backrx.pack.model import Pack
from backrx.ruleset import RuleSet

_BUNDLED = boundaries()
#: Values at and beside the boundaries the bundled rules test (read from the pack; see `boundaries`).
BOUNDARY_WEEKS = _BUNDLED.of("duration_weeks")
BOUNDARY_AGES = _BUNDLED.of("age")
BOUNDARY_SLR = _BUNDLED.of("findings.straight_leg_raise_deg")
BOUNDARY_SITTING = _BUNDLED.of("findings.sitting_hours_per_day")



def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _sublist(values: tuple[str, ...], max_size: int | None = None) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), unique=True,
                    max_size=len(values) if max_size is None else max_size)


def _measure(bounds: Boundaries, field: str) -> st.SearchStrategy[Any]:
    """Any value the model accepts for ``field``, or as often one at or beside a cut-off of the pack."""
    span = bounds.range(field)
    plain: st.SearchStrategy[Any] = st.integers(int(span.low), int(span.high)) if span.whole else \
        st.floats(span.low, span.high, allow_nan=False, allow_infinity=False)
    near = bounds.of(field)
    return st.one_of(plain, st.sampled_from(near)) if near else plain


def _leaning(values: tuple[str, ...], favoured: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    """Sub-lists of ``values`` that often hold one of ``favoured`` (the items rules test)."""
    return st.one_of(
        _sublist(values),
        st.tuples(st.sampled_from(favoured), _sublist(values, 2)).map(
            lambda pair: list(dict.fromkeys((pair[0], *pair[1])))),
    )


# Strategies are built once: rebuilding them for every example costs more than drawing from them.
_ACTIVITIES: tuple[str, ...] = get_args(_p.Activity)
_WORSE = _leaning(_ACTIVITIES, ("walking", "standing", "sitting"))
_EASES = _leaning(_ACTIVITIES, ("sitting", "bending_forward"))
_POSTURE = _sublist(get_args(_p.Posture))

#: Findings the triage clusters read (issue 15): night pain, nothing eases, neurological signs.
_TRIAGE_FINDINGS = ("night_pain", "nothing_eases", "weakness", "sensory_loss", "difficulty_walking",
                    "sexual_dysfunction")



def _findings(b: Boundaries) -> st.SearchStrategy[dict[str, Any]]:
    """Findings, sparse (items unexamined) or full, with the format-3 items; numbers near ``b``."""
    slr = _measure(b, "findings.straight_leg_raise_deg")
    sitting = _measure(b, "findings.sitting_hours_per_day")
    sparse, full = _sparse_findings(slr, sitting), _full_findings(slr, sitting)
    # Most people have none of the format-3 signs: half the examples record none of them, so the
    # pathways (which any serious sign turns into a referral) are reached as often as the signs.
    signs = st.one_of(st.just({}), st.fixed_dictionaries({}, optional=_format3_findings(b)))
    return st.tuples(st.one_of(sparse, full), signs).map(lambda pair: {**pair[0], **pair[1]})


def _sparse_findings(slr: st.SearchStrategy[Any], sitting: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Findings with any item possibly unexamined."""
    return st.fixed_dictionaries({}, optional={
        "straight_leg_raise_deg": _maybe(slr),
        "aberrant_movement": _maybe(st.booleans()),
        "prone_instability_test": _maybe(st.booleans()),
        "hamstring_tightness": _maybe(st.booleans()),
        "glute_weakness": _maybe(st.booleans()),
        "sitting_hours_per_day": _maybe(sitting),
        "eases_with": _maybe(_sublist(_ACTIVITIES)),
        "worse_with": _maybe(_sublist(_ACTIVITIES)),
        "posture": _maybe(_POSTURE),
        **{name: _maybe(st.booleans()) for name in _TRIAGE_FINDINGS},
    })


def _full_findings(slr: st.SearchStrategy[Any], sitting: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A full examination: every item recorded, leaning towards the values the pathway rules test,
    so that the clusters (Hicks 3 of 4, stenosis 4 of 5, the sitting pattern) are reached often."""
    exam = st.fixed_dictionaries({
        "straight_leg_raise_deg": slr,
        "aberrant_movement": st.booleans(),
        "prone_instability_test": st.booleans(),
        "hamstring_tightness": st.booleans(),
        "glute_weakness": st.booleans(),
        "sitting_hours_per_day": sitting,
        "eases_with": _EASES,
        "worse_with": _WORSE,
    }, optional={"posture": _POSTURE})
    # The nerve and serious-pathology findings: often all recorded absent (the usual result of a
    # full examination), otherwise each one possibly recorded either way.
    signs = st.one_of(st.just(dict.fromkeys(_TRIAGE_FINDINGS, False)),
                      st.fixed_dictionaries({}, optional={name: st.booleans() for name in _TRIAGE_FINDINGS}))
    return st.tuples(exam, signs).map(lambda pair: {**pair[0], **pair[1]})


def _format3_findings(b: Boundaries) -> dict[str, st.SearchStrategy[Any]]:
    """Format-3 findings (issue 23): each item absent, unknown or recorded, so states see unknowns."""
    return {
    "severe_weakness": _maybe(st.booleans()),
    "neuro_trend": _maybe(st.sampled_from(get_args(_p.Trend))),
    "neuro_since_weeks": _maybe(_measure(b, "findings.neuro_since_weeks")),
    "umn_signs": _maybe(_sublist(get_args(_p.UmnSign), 2)),
    "band_like_pain": _maybe(st.booleans()),
    "pain_on_cough_strain": _maybe(st.booleans()),
    "constant_pain": _maybe(st.booleans()),
    "inflammatory_features": _maybe(_sublist(get_args(_p.InflammatoryFeature), 5)),
    "lateral_shift": _maybe(st.sampled_from(get_args(_p.LateralShift))),
    "abdominal_pain": _maybe(st.booleans()),
    "collapse_or_faintness": _maybe(st.booleans()),
    "contusion_or_abrasion": _maybe(st.booleans()),
    "wound_problem": _maybe(st.booleans()),
    "beighton_score": _maybe(_measure(b, "findings.beighton_score")),
    "widespread_pain": _maybe(st.booleans()),
    }

_STARTBACK_COMPLETE = st.fixed_dictionaries(
    {**{name: st.booleans() for name in STARTBACK_ITEMS}, "bothersomeness": st.integers(0, 4)}
)
_STARTBACK_PARTIAL = st.fixed_dictionaries(
    {}, optional={**{name: _maybe(st.booleans()) for name in STARTBACK_ITEMS},
                  "bothersomeness": _maybe(st.integers(0, 4))}
)
_STARTBACK = st.one_of(_STARTBACK_COMPLETE, _STARTBACK_COMPLETE, _STARTBACK_COMPLETE,
                       _STARTBACK_PARTIAL)

_PREFERENCES = st.fixed_dictionaries(
    {},
    optional={
        "settings": st.lists(st.sampled_from(_p.SETTINGS), unique=True, min_size=1),
        "equipment": _sublist(_p.EQUIPMENT),
        "enjoys": _sublist(get_args(_p.Enjoys)),
        "dislikes": _sublist(get_args(_p.Enjoys), 2),
        "minutes_per_session": st.integers(5, 180),
        "sessions_per_week": st.integers(1, 14),
        "goals": _sublist(get_args(_p.Goal)),
    },
)


def _history(b: Boundaries) -> st.SearchStrategy[dict[str, Any]]:
    """Medical history, any item possibly unknown, numbers near the cut-offs of ``b``."""
    return st.fixed_dictionaries({}, optional={
        "osteoporosis": _maybe(st.booleans()),
        "recent_spinal_surgery_weeks": _maybe(_measure(b, "history.recent_spinal_surgery_weeks")),
        "pregnant": _maybe(st.booleans()),
        "long_term_corticosteroids": _maybe(st.booleans()),
        "pregnancy_weeks": _maybe(_measure(b, "history.pregnancy_weeks")),
        "postpartum_weeks": _maybe(_measure(b, "history.postpartum_weeks")),
        "pelvic_girdle_pain": _maybe(st.booleans()),
        "falls_last_year": _maybe(_measure(b, "history.falls_last_year")),
        "back_pain_onset_age": _maybe(_measure(b, "history.back_pain_onset_age")),
        "anticoagulant": _maybe(st.sampled_from(get_args(_p.Tri))),
        "infection_risk_factors": _maybe(_sublist(get_args(_p.InfectionRisk), 2)),
        "smoking": _maybe(st.sampled_from(get_args(_p.Smoking))),
        "known_aaa": _maybe(st.sampled_from(get_args(_p.Tri))),
        "vascular_risk_factors": _maybe(_sublist(get_args(_p.VascularRisk), 2)),
        "spinal_surgery": _maybe(st.sampled_from(get_args(_p.SpinalSurgery))),
        "surgeon_clearance": _maybe(st.sampled_from(get_args(_p.Tri))),
        "fragility_fractures": _maybe(_sublist(get_args(_p.FragilityFracture), 2)),
        "comorbidities": _maybe(_sublist(get_args(_p.Comorbidity), 2)),
        "bmi": _maybe(_measure(b, "history.bmi")),
        "hypermobility_diagnosed": _maybe(st.sampled_from(get_args(_p.Tri))),
        "surgeon_restrictions": _maybe(_sublist(get_args(_p.SurgeonRestriction), 2)),
    }).filter(lambda h: not (h.get("pregnant") is False and h.get("pregnancy_weeks") is not None)).map(
    lambda h: _agreeing_history(h))


def _agreeing_history(history: dict[str, Any]) -> dict[str, Any]:
    """The history without the pairs format 3 refuses as contradictions (pregnancy weeks beyond
    the weeks since a birth; a surgeon's clearance with no surgery recorded)."""
    out = dict(history)
    weeks, since = out.get("pregnancy_weeks"), out.get("postpartum_weeks")
    if weeks is not None and since is not None and weeks > since:
        out.pop("postpartum_weeks")
    if out.get("recent_spinal_surgery_weeks") is None and out.get("spinal_surgery") is None:
        out.pop("surgeon_clearance", None)
        out.pop("surgeon_restrictions", None)
    return out


def _agreeing(data: dict[str, Any]) -> dict[str, Any]:
    """The profile without the answers format 3 refuses as contradictions (see docs/profile.md)."""
    ticked = data.get("red_flags", [])
    data["red_flags_unsure"] = [f for f in data.get("red_flags_unsure", []) if f not in ticked]
    history = data.get("history") or {}
    if data.get("sex") == "male" and (history.get("pregnant") is True
                                      or history.get("pregnancy_weeks") is not None
                                      or history.get("postpartum_weeks") is not None):
        data.pop("sex")
    if data.get("trauma") in ("none", "minor") and "major_trauma" in data.get("red_flags", []):
        data.pop("trauma")
    onset_age = history.get("back_pain_onset_age")
    if onset_age is not None and onset_age > data.get("age", onset_age):
        data["history"] = {k: v for k, v in history.items() if k != "back_pain_onset_age"}
    findings = data.get("findings") or {}
    signs = [findings.get(k) for k in ("weakness", "sensory_loss", "difficulty_walking", "severe_weakness")]
    if findings.get("neuro_trend") is not None and all(v is False for v in signs) \
            and findings.get("umn_signs") == []:
        data["findings"] = {k: v for k, v in findings.items() if k != "neuro_trend"}
    return data

#: Screened and clear (twice as likely), exactly one flag, or up to three at once.
_RED_FLAGS: st.SearchStrategy[list[str]] = st.one_of(
    st.just([]), st.just([]),
    st.sampled_from(_p.RED_FLAGS).map(lambda flag: [flag]),
    _sublist(_p.RED_FLAGS, 3),
)
#: Unsure answers: usually none, sometimes one or two.
_UNSURE: st.SearchStrategy[list[str]] = st.one_of(
    st.just([]), st.just([]), st.just([]), st.just([]),
    st.sampled_from(_p.RED_FLAGS).map(lambda flag: [flag]),
    _sublist(_p.RED_FLAGS, 2),
)
_ONSET = _maybe(st.sampled_from(get_args(_p.Onset)))
_TREND = _maybe(st.sampled_from(get_args(_p.Trend)))
_SEX = _maybe(st.sampled_from(get_args(_p.Sex)))
_EPISODE = _maybe(st.sampled_from(get_args(_p.Episode)))
_TRAUMA = _maybe(st.sampled_from(get_args(_p.Trauma)))


class _Kit(NamedTuple):
    """The strategies that depend on a pack's boundaries, built once per pack."""

    age: st.SearchStrategy[Any]
    weeks: st.SearchStrategy[Any]
    pain: st.SearchStrategy[Any]
    sections: tuple[tuple[str, st.SearchStrategy[Any]], ...]


_kits: dict[str, _Kit] = {}


def _kit(b: Boundaries) -> _Kit:
    """The strategies for the boundaries ``b`` (built once: drawing is cheaper than building)."""
    made = _kits.get(b.digest)
    if made is None:
        sections = (("findings", _findings(b)), ("history", _history(b)), ("startback", _STARTBACK),
                    ("preferences", _PREFERENCES))
        made = _Kit(_measure(b, "age"), _measure(b, "duration_weeks"), _measure(b, "pain_intensity"),
                    sections)
        _kits[b.digest] = made
    return made


def findings() -> st.SearchStrategy[dict[str, Any]]:
    """Examination findings: sometimes sparse (items unexamined), sometimes a full examination."""
    return _kit(_BUNDLED).sections[0][1]


def startback() -> st.SearchStrategy[dict[str, Any]]:
    """STarT Back answers: usually complete, sometimes with unanswered items."""
    return _STARTBACK


def preferences() -> st.SearchStrategy[dict[str, Any]]:
    """Exercise preferences: settings, equipment, likes, time and goals."""
    return _PREFERENCES


def history() -> st.SearchStrategy[dict[str, Any]]:
    """Medical history, any item possibly unknown."""
    return _kit(_BUNDLED).sections[1][1]


@st.composite
def _profile(draw: st.DrawFn, kit: _Kit, fixed: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "age": draw(kit.age),
        "pain_site": draw(st.sampled_from(get_args(_p.PainSite))),
        "leg_pain": draw(st.sampled_from(get_args(_p.LegPain))),
        "bilateral_leg_symptoms": draw(_maybe(st.booleans())),
        "pain_intensity": draw(kit.pain),
        "tolerance": draw(st.sampled_from(get_args(_p.Tolerance))),
        "directional_preference": draw(st.sampled_from(get_args(_p.Direction))),
        "centralizes": draw(_maybe(st.booleans())),
        # Half the people are screened clear of red flags, as most people with back pain are; the
        # other half reach every flag and every "not sure".
        **({"red_flags": [], "red_flags_unsure": []} if draw(st.booleans())
           else {"red_flags": draw(_RED_FLAGS), "red_flags_unsure": draw(_UNSURE)}),
        "mobility": draw(st.sampled_from(get_args(_p.Mobility))),
    }
    for key, strategy in (("onset", _ONSET), ("symptom_trend", _TREND), ("sex", _SEX), ("episode", _EPISODE),
                          ("trauma", _TRAUMA)):
        value = draw(strategy)
        if value is not None:
            data[key] = value
    how = draw(st.sampled_from(("weeks", "stage", "both")))
    weeks = draw(kit.weeks)
    if how in ("weeks", "both"):
        data["duration_weeks"] = weeks
    if how in ("stage", "both"):
        data["stage"] = _p.stage_for_weeks(weeks) if how == "both" else draw(
            st.sampled_from(get_args(_p.Stage)))
    for key, strategy in kit.sections:
        if draw(st.booleans()):
            data[key] = draw(strategy)
    if "duration_weeks" in fixed and "stage" not in fixed:
        data.pop("stage", None)
    if "stage" in fixed and "duration_weeks" not in fixed:
        data.pop("duration_weeks", None)
    data.update(fixed)
    return _agreeing(data)


def profiles(*, pack: Pack | RuleSet | None = None, **fixed_fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Valid profiles as plain mappings; ``fixed_fields`` override generated top-level fields.

    Numbers lean towards the cut-offs of ``pack`` (a `Pack` or a `RuleSet`; the bundled pack by
    default), at and just beside each one.
    """
    chosen = pack.pack if isinstance(pack, RuleSet) else pack
    return _profile(_kit(boundaries(chosen)), fixed_fields)


@st.composite
def _feedback(draw: st.DrawFn, ids: tuple[str, ...]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids))) if ids else []
    responses = [
        {
            "exercise_id": exercise_id,
            "pain_during": draw(st.integers(0, 10)),
            "next_day": draw(st.sampled_from(("better", "same", "worse"))),
            "peripheralized": draw(st.booleans()),
        }
        for exercise_id in chosen
    ]
    new_flags = draw(st.one_of(st.just([]), st.just([]), st.just([]),
                               st.sampled_from(_p.RED_FLAGS).map(lambda flag: [flag])))
    return {"responses": responses, "new_red_flags": new_flags}


def feedback(rec: Recommendation | None = None, *,
             exercise_ids: Iterable[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid next-day feedback, as plain mappings, for the input of `backrx.adjust`.

    Responses name exercises of ``rec``'s program (or ``exercise_ids``), each at most once;
    new red flags are rare. With neither, the feedback has no responses.
    """
    ids: list[str] = list(exercise_ids or ())
    if rec is not None and rec.program is not None:
        ids += [p.exercise.id for phase in rec.program.phases for p in phase.prescriptions]
    return _feedback(tuple(dict.fromkeys(ids)))


# --------------------------------------------------------------------------- corner cases

#: The plainest valid profile: chronic low back pain, no flags, nothing special. Read-only: lay
#: changes over a copy (``{**PLAIN_PROFILE, "age": 70}``).
PLAIN_PROFILE: Mapping[str, Any] = MappingProxyType({
    "age": 45, "duration_weeks": 20.0, "pain_site": "lower", "leg_pain": "none", "pain_intensity": 4,
    "tolerance": "moderate", "red_flags": [],
})


def corners() -> list[dict[str, Any]]:
    """Fixed fields for the corner cases an audit always checks, each laid over `PLAIN_PROFILE`.

    Random generation reaches every corner in a long run (see `VOCABULARY_TARGETS`),
    but a short one may miss, say, one red flag on its own. These corners are checked on every
    run: each red flag alone, each directional preference (also with low tolerance), the
    load-cap and stage boundaries, each setting, and the pathway patterns. ``profiles(**c)``
    generates the profiles around corner ``c``.
    """
    out: list[dict[str, Any]] = [{}]
    out += [{"red_flags": [flag]} for flag in _p.RED_FLAGS]
    out.append({"red_flags": ["progressive_neurological_deficit"], "bilateral_leg_symptoms": True})
    for direction in get_args(_p.Direction):
        out.append({"directional_preference": direction})
        out.append({"directional_preference": direction, "tolerance": "low",
                    "pain_intensity": int(_BUNDLED.range("pain_intensity").high)})
    out += [{"tolerance": "low"}]
    out += boundary_corners(_BUNDLED)
    out += [{"pain_site": site} for site in ("middle", "upper")]
    out += [{"preferences": {"settings": [place]}} for place in _p.SETTINGS]
    out.append({"preferences": {"settings": list(_p.SETTINGS), "equipment": list(_p.EQUIPMENT),
                                "enjoys": list(get_args(_p.Enjoys)), "goals": list(get_args(_p.Goal))}})
    out.append({"findings": {"posture": list(get_args(_p.Posture))}})
    out.append({"findings": {"aberrant_movement": True, "prone_instability_test": True}})
    out.append({"age": 67, "leg_pain": "below_knee", "bilateral_leg_symptoms": True,
                "findings": {"worse_with": ["walking"], "eases_with": ["sitting"]}})
    out.append({"history": {"osteoporosis": True},
                "findings": {"hamstring_tightness": True, "glute_weakness": True, "worse_with": ["sitting"]},
                "preferences": {"settings": ["gym"], "enjoys": ["resistance_training"],
                                "goals": ["lifting_at_work"]}})
    out += cluster_corners()
    return out


def corner_profile(fixed: Mapping[str, Any]) -> dict[str, Any]:
    """`PLAIN_PROFILE` with the corner's fields laid over it."""
    return {**PLAIN_PROFILE, **fixed}


# --------------------------------------------------------------------------- vocabulary coverage

#: The pathways the bundled pack concludes, and the profile patterns that trigger them.
PATHWAY_TRIGGERS = ("mckenzie_extension", "mckenzie_flexion", "stenosis", "stabilization",
                    "lower_crossed", "general_conditioning")
#: Boundary values every audit run should reach: the stage cut-offs, the pathway rules' cut-offs and
#: the load cap's pain of the bundled pack, each at the cut-off and just on its other side, and the
#: STarT Back scores its rules test (read from the pack; see `backrx.audit.boundaries`).
BOUNDARY_TARGETS: tuple[tuple[str, float], ...] = _BUNDLED.targets


def _label(field: str, value: object) -> str:
    return f"{field}={value:g}" if isinstance(value, float) else f"{field}={value}"


#: Every event label `vocabulary_events` can give; a good run of ``profiles()`` reaches all.
VOCABULARY_TARGETS: tuple[str, ...] = (
    *(f"red flag: {flag}" for flag in _p.RED_FLAGS),
    "red flags: none", "red flags: several",
    *(f"pathway trigger: {name}" for name in PATHWAY_TRIGGERS),
    *(f"boundary: {_label(field, value)}" for field, value in BOUNDARY_TARGETS),
    *(f"stage: {stage}" for stage in get_args(_p.Stage)),
    *(f"directional_preference: {d}" for d in get_args(_p.Direction)),
    *(f"tolerance: {t}" for t in get_args(_p.Tolerance)),
    *(f"leg_pain: {v}" for v in get_args(_p.LegPain)),
    *(f"pain_site: {v}" for v in get_args(_p.PainSite)),
    *(f"startback: {v}" for v in ("complete", "incomplete", "absent")),
    *(f"setting: {v}" for v in _p.SETTINGS),
    "preferences: absent",
    *(f"equipment: {v}" for v in _p.EQUIPMENT),
    *(f"enjoys: {v}" for v in get_args(_p.Enjoys)),
    *(f"goal: {v}" for v in get_args(_p.Goal)),
    *(f"posture: {v}" for v in get_args(_p.Posture)),
    "history: osteoporosis",
    *(f"mobility: {v}" for v in get_args(_p.Mobility)),
    *(f"onset: {v}" for v in get_args(_p.Onset)),
    *(f"symptom_trend: {v}" for v in get_args(_p.Trend)),
    "red flags unsure: some", "history: pregnant", "history: pelvic girdle pain",
)


def _startback_scores(answers: Mapping[str, Any] | None) -> tuple[int, int] | None:
    if answers is None:
        return None
    screen = _p.StartBack.model_validate(dict(answers))
    if screen.total is None or screen.psychosocial is None:
        return None
    return screen.total, screen.psychosocial


def vocabulary_events(profile: Mapping[str, Any]) -> list[str]:
    """The corners of the vocabulary one profile reaches, as labels from `VOCABULARY_TARGETS`."""
    out: list[str] = []
    flags = list(profile.get("red_flags") or ())
    out += [f"red flag: {flag}" for flag in flags]
    if not flags:
        out.append("red flags: none")
    elif len(flags) > 1:
        out.append("red flags: several")
    out += [f"pathway trigger: {name}" for name in pathway_triggers(profile)]
    f = profile.get("findings") or {}
    values: dict[str, Any] = {
        "duration_weeks": profile.get("duration_weeks"),
        "age": profile.get("age"),
        "pain_intensity": profile.get("pain_intensity"),
        "findings.straight_leg_raise_deg": f.get("straight_leg_raise_deg"),
        "findings.sitting_hours_per_day": f.get("sitting_hours_per_day"),
    }
    scores = _startback_scores(profile.get("startback"))
    if scores is not None:
        values["startback.total"], values["startback.psychosocial"] = scores
    out += [f"boundary: {_label(field, value)}" for field, value in BOUNDARY_TARGETS
            if values.get(field) is not None and values[field] == value]
    weeks = profile.get("duration_weeks")
    stage = profile.get("stage") or (_p.stage_for_weeks(weeks) if weeks is not None else None)
    if stage is not None:
        out.append(f"stage: {stage}")
    for key in ("directional_preference", "tolerance", "leg_pain", "pain_site"):
        if key in profile:
            out.append(f"{key}: {profile[key]}")
    if "directional_preference" not in profile:
        out.append("directional_preference: unknown")
    out.append("startback: " + ("absent" if profile.get("startback") is None
                                else "complete" if scores is not None else "incomplete"))
    prefs = profile.get("preferences")
    if prefs is None:
        out.append("preferences: absent")
    else:
        for key, label in (("settings", "setting"), ("equipment", "equipment"), ("enjoys", "enjoys"),
                           ("goals", "goal")):
            out += [f"{label}: {v}" for v in prefs.get(key) or ()]
    out += [f"posture: {v}" for v in f.get("posture") or ()]
    history = profile.get("history") or {}
    if history.get("osteoporosis") is True:
        out.append("history: osteoporosis")
    if in_pregnancy(profile):  # the pregnancy population of rules/populations.yaml
        out.append("history: pregnant")
    if history.get("pelvic_girdle_pain") is True:
        out.append("history: pelvic girdle pain")
    out.append(f"mobility: {profile.get('mobility', 'independent')}")
    for key in ("onset", "symptom_trend"):
        if profile.get(key) is not None:
            out.append(f"{key}: {profile[key]}")
    if profile.get("red_flags_unsure"):
        out.append("red flags unsure: some")
    return out


def record_events(profile: Mapping[str, Any]) -> list[str]:
    """Report `vocabulary_events` as Hypothesis ``event()`` statistics; return the labels.

    Call it inside a ``@given`` test; ``pytest --hypothesis-show-statistics`` then shows how
    often each corner of the vocabulary was generated.
    """
    labels = vocabulary_events(profile)
    for label in labels:
        event(label)
    return labels


__all__ = [
    "BOUNDARY_AGES",
    "BOUNDARY_SLR",
    "BOUNDARY_TARGETS",
    "BOUNDARY_WEEKS",
    "PATHWAY_TRIGGERS",
    "PLAIN_PROFILE",
    "VOCABULARY_TARGETS",
    "corner_profile",
    "corners",
    "feedback",
    "findings",
    "history",
    "pathway_triggers",
    "preferences",
    "profiles",
    "record_events",
    "startback",
    "vocabulary_events",
]
