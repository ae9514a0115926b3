"""Corner profiles of the clinical states, the patterns from published criteria and the populations
(issue 23), each at the boundary its golden case names (rules/cases/states.yaml, populations.yaml).

Random generation reaches some of these only in a long run (an anticoagulant with sudden severe
pain, a known aneurysm, upper motor neurone signs), so `backrx.testing.corners` adds them to
every audit: each rule of the bundled pack then fires for some audited profile, however short the
run. Each entry is laid over `backrx.testing.PLAIN_PROFILE`.
"""

from __future__ import annotations

from typing import Any

_IBP = {"leg_pain": "buttock_thigh", "tolerance": "high", "age": 42}
_THREE = ["waking_second_half_of_night", "buttock_pain", "better_with_movement"]
_AAA = {"age": 66, "duration_weeks": 1.0, "sex": "male"}

#: The corners, one per pattern or boundary (see the module).
STATE_CORNERS: tuple[dict[str, Any], ...] = (
    # inflammatory back pain (NICE NG65, ASAS)
    {**_IBP, "history": {"back_pain_onset_age": 38}, "findings": {
        "inflammatory_features": ["insidious_onset", "better_with_movement", "not_better_with_rest"]}},
    {**_IBP, "history": {"back_pain_onset_age": 40},
     "findings": {"inflammatory_features": [*_THREE, "psoriasis"]}},
    {**_IBP, "history": {"back_pain_onset_age": 25}, "findings": {"inflammatory_features": _THREE}},
    {**_IBP, "history": {"back_pain_onset_age": 35}, "findings": {"inflammatory_features": _THREE}},
    {"age": 52, "duration_weeks": 0.5, "trauma": "minor", "red_flags": ["inflammatory_back_pain"]},
    # vascular pattern and bleeding risk
    {**_AAA, "history": {"smoking": "current"}, "findings": {"abdominal_pain": True}},
    {**_AAA, "history": {"known_aaa": "yes"}, "findings": {"abdominal_pain": False}},
    {"age": 60, "duration_weeks": 0.5, "pain_intensity": 7, "onset": "sudden",
     "history": {"anticoagulant": "yes"}},
    {"age": 55, "duration_weeks": 0.5, "pain_intensity": 8, "history": {"anticoagulant": "yes"}},
    # neurological status: major motor loss, upper motor neurone signs new and settled
    {"leg_pain": "below_knee", "findings": {"severe_weakness": True, "neuro_trend": "worsening"}},
    {"leg_pain": "below_knee", "duration_weeks": 1.0, "bilateral_leg_symptoms": False,
     "findings": {"sexual_dysfunction": True}},
    {"leg_pain": "below_knee", "symptom_trend": "stable",
     "findings": {"severe_weakness": True, "neuro_trend": "stable"}},
    {"duration_weeks": 1.0, "pain_site": "middle", "findings": {"umn_signs": ["clonus"]}},
    {"duration_weeks": 30.0, "leg_pain": "below_knee", "findings": {
        "umn_signs": ["hyperreflexia"], "neuro_trend": "stable", "neuro_since_weeks": 30.0}},
    # infection risk
    {"age": 55, "duration_weeks": 1.0, "pain_intensity": 7, "red_flags": ["fever_or_infection"],
     "findings": {"nothing_eases": True}},
    {"age": 55, "duration_weeks": 1.0, "red_flags": ["fever_or_infection"], "findings": {"weakness": True}},
    {"age": 55, "duration_weeks": 1.0, "history": {"infection_risk_factors": ["diabetes"]},
     "findings": {"constant_pain": True}},
    # malignancy cluster, paediatric concern and emergency
    {"age": 51, "duration_weeks": 4.0, "episode": "first", "symptom_trend": "stable"},
    {"age": 13, "duration_weeks": 3.0, "findings": {"night_pain": True, "nothing_eases": True}},
    {"age": 14, "duration_weeks": 3.0, "findings": {"difficulty_walking": True}},
    {"age": 16, "findings": {"inflammatory_features": _THREE}},
    # after spinal surgery: a wound problem, a worsening deficit, the surgeon's restrictions
    {"leg_pain": "buttock_thigh", "history": {"recent_spinal_surgery_weeks": 2.0},
     "findings": {"wound_problem": True}},
    {"history": {"recent_spinal_surgery_weeks": 1.0}, "preferences": {"settings": ["pool"]}},
    {"leg_pain": "buttock_thigh", "history": {"recent_spinal_surgery_weeks": 4.0},
     "findings": {"weakness": True, "neuro_trend": "worsening"}},
    {"history": {"spinal_surgery": "fusion", "recent_spinal_surgery_weeks": 20.0, "surgeon_clearance": "yes",
                 "surgeon_restrictions": ["no_bending", "no_twisting", "no_impact"]}},
    # a lateral shift
    {"duration_weeks": 2.0, "leg_pain": "buttock_thigh", "findings": {"lateral_shift": "left"}},
    # populations: hypermobility, heart failure, fragility fractures, obesity
    {"age": 30, "findings": {"beighton_score": 5}},
    {"age": 60, "history": {"comorbidities": ["heart_failure"]}},
    {"age": 58, "onset": "gradual", "history": {"fragility_fractures": ["wrist"]}},
    {"age": 58, "onset": "gradual", "history": {"fragility_fractures": ["vertebral"]}},
    {"age": 50, "history": {"bmi": 30.0},
     "preferences": {"goals": ["running"], "settings": ["home", "outdoors"]}},
    # a disliked walk outdoors (the planner passes it over while another aerobic choice fits)
    {"preferences": {"settings": ["outdoors"], "dislikes": ["walking"]}},
)

__all__ = ["STATE_CORNERS"]
