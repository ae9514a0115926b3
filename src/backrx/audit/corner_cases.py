"""Corner profiles that `backrx.testing.corners` checks on every audit run, beside the states'
corners (`backrx.audit.corners`): the triage clusters, the populations and the contradictions, and
the corners at the cut-offs of the pack, read from its rules (`backrx.audit.boundaries`) so that a
moved cut-off moves its corners. Each entry is laid over `backrx.testing.PLAIN_PROFILE`.
"""

from __future__ import annotations

from typing import Any

from backrx.audit.boundaries import FINE_BELOW, Boundaries
from backrx.audit.corners import STATE_CORNERS
from backrx.audit.reference import reference_pack, threshold
from backrx.model import profile as _p

#: The STarT Back items: the first four physical, the last four psychosocial.
STARTBACK_ITEMS = ("leg_pain", "shoulder_neck_pain", "walked_short_distances", "dressed_slowly",
                   "not_safe_to_be_active", "worrying_thoughts", "pain_terrible", "not_enjoying")


def boundary_corners(b: Boundaries) -> list[dict[str, Any]]:
    """Corners at the pack's cut-offs: the load-cap pain, each cut-off of the duration and the age
    (at it and just under it), the Hicks and sitting patterns at their cut-offs, and the STarT Back
    scores the pack tests (bothersomeness of 3 or more counts as a psychosocial item)."""
    out: list[dict[str, Any]] = [{"pain_intensity": v} for v in b.target_values("pain_intensity")]
    weeks = b.cut_offs("duration_weeks")
    out += [{"duration_weeks": w} for w in sorted({b.range("duration_weeks").low, *weeks,
                                                   *(round(t - FINE_BELOW, 6) for t in weeks)})]
    out += [{"age": a} for a in sorted({int(t) + step for t in b.cut_offs("age") for step in (-1, 0)})]
    young = threshold(reference_pack(), "age", "lt", pathway="stabilization")
    out += [{**({"age": int(young) - 1} if young is not None else {}),
             "findings": {"straight_leg_raise_deg": v, "aberrant_movement": True}}
            for v in b.target_values("findings.straight_leg_raise_deg")]
    out += [{"findings": {"hamstring_tightness": True, "glute_weakness": True, "sitting_hours_per_day": v}}
            for v in b.target_values("findings.sitting_hours_per_day")]
    shapes = [(int(t), 0, 0) for t in b.target_values("startback.total")]
    shapes += [shape for p in b.target_values("startback.psychosocial")
               for shape in ((1, int(p), 0), (1, int(p) - 1, 3))]
    agree = dict.fromkeys(STARTBACK_ITEMS, False)
    for physical, psychosocial, bother in shapes:
        answers = {**agree, **dict.fromkeys(STARTBACK_ITEMS[:min(physical, 4)], True),
                   **dict.fromkeys(STARTBACK_ITEMS[4:4 + psychosocial], True)}
        out.append({"startback": {**answers, "bothersomeness": bother}})
    return out


def cluster_corners() -> list[dict[str, Any]]:
    """Corners of the triage clusters, the special populations and the contradictions."""
    out: list[dict[str, Any]] = []
    out += [{"red_flags_unsure": [flag]} for flag in _p.RED_FLAGS]
    out.append({"red_flags": ["cancer_history"], "findings": {"weakness": True}})
    out.append({"red_flags": ["cancer_history"], "leg_pain": "below_knee"})
    bilateral = {"leg_pain": "below_knee", "bilateral_leg_symptoms": True}
    out.append({**bilateral, "duration_weeks": 1.0, "findings": {"sexual_dysfunction": True}})
    out.append({**bilateral, "duration_weeks": 3.0, "symptom_trend": "stable",
                "findings": {"weakness": True}})
    out.append({**bilateral, "duration_weeks": 3.0})
    out.append({**bilateral, "symptom_trend": "worsening"})
    out.append({"age": 74, "onset": "sudden", "history": {"osteoporosis": True,
                                                          "long_term_corticosteroids": True}})
    out.append({"age": 72, "duration_weeks": 1.0, "history": {"osteoporosis": True}})
    out.append({"age": 58, "pain_site": "middle",
                "findings": {"nothing_eases": True, "worse_with": ["lying"]}})
    out.append({"age": 40, "findings": {"nothing_eases": True, "night_pain": True}})
    out.append({"age": 57, "findings": {"night_pain": True}})
    out.append({"age": 15, "findings": {"worse_with": ["bending_backward"]},
                "preferences": {"goals": ["gymnastics"]}})
    out.append({"age": 31, "leg_pain": "buttock_thigh", "bilateral_leg_symptoms": True,
                "history": {"pregnant": True, "pregnancy_weeks": 26, "pelvic_girdle_pain": True},
                "findings": {"worse_with": ["walking"], "eases_with": ["sitting"]}})
    out.append({"history": {"pregnant": True}})
    out.append({"history": {"postpartum_weeks": 6.0, "pelvic_girdle_pain": True}})
    out.append({"mobility": "wheelchair"})
    out.append({"mobility": "wheelchair", "findings": {"hamstring_tightness": True, "glute_weakness": True,
                                                        "sitting_hours_per_day": 9.0}})
    out.append({"mobility": "walking_aid"})
    out.append({"age": 80, "history": {"falls_last_year": 2}, "onset": "gradual"})
    out.append({"age": 80, "duration_weeks": 1.0, "history": {"falls_last_year": 1}, "onset": "gradual"})
    out.append({"directional_preference": "extension",
                "findings": {"worse_with": ["bending_backward"], "eases_with": ["bending_forward"]}})
    out.append({"directional_preference": "flexion", "findings": {"worse_with": ["bending_forward"]}})
    out.append({"history": {"recent_spinal_surgery_weeks": 6.0}})
    out.append({"history": {"long_term_corticosteroids": True}, "onset": "gradual"})
    out.append({"preferences": {"settings": ["pool"]}, "tolerance": "low"})
    out += [dict(c) for c in STATE_CORNERS]  # the states, patterns and populations of issue 23
    return out


__all__ = ["STARTBACK_ITEMS", "boundary_corners", "cluster_corners"]
