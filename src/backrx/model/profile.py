"""The input: a person's back-pain profile, validated by pydantic.

The Profile model is the single source of the field vocabulary: the rule loader
type-checks every rule condition against the fields, types, ranges and closed
vocabularies declared here.
"""

from __future__ import annotations

import os
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from backrx.model.measures import Outcomes
from backrx.readers.documents import SHOW_INPUT_IN_ERRORS, loads, read_text, refuse_duplicate_keys

if TYPE_CHECKING:
    from typing_extensions import Self

Stage = Literal["acute", "subacute", "chronic"]
PainSite = Literal["lower", "middle", "upper"]
LegPain = Literal["none", "buttock_thigh", "below_knee"]
Tolerance = Literal["low", "moderate", "high"]
Direction = Literal["extension", "flexion", "none", "unknown"]
RedFlag = Literal[
    "saddle_anaesthesia",
    "bladder_bowel_dysfunction",
    "progressive_neurological_deficit",
    "bilateral_neurological_symptoms",
    "major_trauma",
    "suspected_fracture",
    "cancer_history",
    "unexplained_weight_loss",
    "fever_or_infection",
    "iv_drug_use",
    "immunosuppression",
    "unrelenting_night_pain",
    "inflammatory_back_pain",
]
Activity = Literal[
    "sitting", "standing", "walking", "bending_forward", "bending_backward", "lying"
]
Posture = Literal[
    "anterior_pelvic_tilt", "high_hip", "high_shoulder", "forward_head", "rounded_shoulders"
]
Setting = Literal["home", "gym", "pool", "outdoors"]
Equipment = Literal[
    "mat",
    "foam_roller",
    "resistance_band",
    "swiss_ball",
    "dumbbells",
    "kettlebell",
    "bench",
    "pull_up_bar",
    "cable",
    "trap_bar",
    "barbell",
    "step",
    "stationary_bike",
    "treadmill",
    "back_extension_bench",
]
Enjoys = Literal[
    "walking", "cycling", "swimming", "yoga", "pilates", "tai_chi", "resistance_training"
]
Onset = Literal["sudden", "gradual"]
Trend = Literal["improving", "stable", "worsening"]
Mobility = Literal["independent", "walking_aid", "wheelchair"]
Goal = Literal[
    "running",
    "tennis",
    "golf",
    "skiing",
    "gymnastics",
    "weightlifting",
    "bowling",
    "gardening",
    "lifting_at_work",
]

# ---- format 3: answers where "not sure" is common, and the vocabularies of the new fields
#: A patient-reported answer: ``unsure`` is read like ``yes`` wherever safety depends on it.
Tri = Literal["yes", "no", "unsure"]
Sex = Literal["female", "male"]
Episode = Literal["first", "recurrence"]
Trauma = Literal["none", "minor", "major"]
UmnSign = Literal["hyperreflexia", "clonus", "babinski", "hoffmann", "inverted_brachioradialis",
                  "spastic_gait"]
InflammatoryFeature = Literal[
    "waking_second_half_of_night", "buttock_pain", "better_with_movement", "better_with_nsaid_48h",
    "family_history_spa", "arthritis", "enthesitis", "psoriasis", "insidious_onset",
    "not_better_with_rest", "night_pain_better_on_rising", "uveitis", "inflammatory_bowel_disease",
]
LateralShift = Literal["none", "left", "right"]
Smoking = Literal["current", "former", "never"]
VascularRisk = Literal["hypertension", "high_cholesterol", "cardiovascular_disease", "family_history_aaa"]
SpinalSurgery = Literal["discectomy", "decompression", "fusion", "disc_replacement", "other"]
InfectionRisk = Literal["diabetes", "chronic_kidney_disease", "chronic_liver_disease", "alcohol_misuse",
                        "spinal_hardware", "vascular_catheter"]
FragilityFracture = Literal["vertebral", "hip", "wrist", "other"]
#: Long-term conditions that limit weight-bearing or aerobic work (populations.yaml reads them).
Comorbidity = Literal["heart_failure", "copd", "obesity", "knee_oa", "hip_oa"]
#: What the surgeon has asked the person not to do yet (populations.yaml, post-operative).
SurgeonRestriction = Literal["walking_only", "no_lifting", "no_bending", "no_twisting", "no_impact",
                             "brace", "no_exercise"]
#: The profile formats this release reads; a profile without ``profile_format`` is format 2.
ProfileFormat = Literal[2, 3]
PROFILE_FORMAT = 3

RED_FLAGS: tuple[str, ...] = get_args(RedFlag)
EQUIPMENT: tuple[str, ...] = get_args(Equipment)
SETTINGS: tuple[str, ...] = get_args(Setting)

ACUTE_BEFORE_WEEKS = 4.0
CHRONIC_FROM_WEEKS = 12.0

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True,
                     hide_input_in_errors=not SHOW_INPUT_IN_ERRORS)

#: The longest list any input model accepts (before duplicates are dropped). Every closed
#: vocabulary is far shorter; the cap keeps a hostile list from costing memory and a huge error.
MAX_LIST_ITEMS = 200


def _unique(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _may_hold_list(annotation: Any) -> bool:
    """Whether a field of this type can hold a list (list[...], inside Annotated or a union too)."""
    origin = typing.get_origin(annotation)
    if annotation is list or origin is list:
        return True
    if origin is typing.Annotated:
        return _may_hold_list(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_may_hold_list(arg) for arg in typing.get_args(annotation))
    return annotation is Any


#: Per model class: the fields that can hold a list, worked out once.
_LIST_FIELDS: dict[type, tuple[str, ...]] = {}


def _list_fields(cls: type[BaseModel]) -> tuple[str, ...]:
    found = _LIST_FIELDS.get(cls)
    if found is None:
        found = _LIST_FIELDS[cls] = tuple(
            name for name, info in cls.model_fields.items() if _may_hold_list(info.annotation))
    return found


class StrictModel(BaseModel):
    model_config = _STRICT

    @model_validator(mode="before")
    @classmethod
    def _cap_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, (list, tuple)) and len(value) > MAX_LIST_ITEMS:
                    raise PydanticCustomError(
                        "too_long", "{field} has {count} items; at most {limit} are accepted",
                        {"field": str(key)[:80], "count": len(value), "limit": MAX_LIST_ITEMS})
        return data

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate a JSON document; a key given twice in one object is refused, naming the key
        (pydantic alone would keep the last one, and a repeated ``red_flags`` could erase a flag)."""
        refuse_duplicate_keys(json_data, cls.__name__)
        return super().model_validate_json(json_data, **kwargs)

    @model_validator(mode="after")
    def _dedupe_lists(self) -> StrictModel:
        for name in _list_fields(type(self)):
            value = getattr(self, name)
            if isinstance(value, list) and len(value) > 1:
                unique = _unique(value)
                if len(unique) != len(value):
                    object.__setattr__(self, name, unique)
        return self


class Findings(StrictModel):
    """Optional examination findings. Absent means "not examined", never "negative"."""

    straight_leg_raise_deg: Annotated[float, Field(ge=0, le=180)] | None = None
    aberrant_movement: bool | None = None
    prone_instability_test: bool | None = Field(
        default=None, description="True when the prone instability test is positive."
    )
    hamstring_tightness: bool | None = None
    glute_weakness: bool | None = None
    sitting_hours_per_day: Annotated[float, Field(ge=0, le=24)] | None = None
    eases_with: list[Activity] | None = None
    worse_with: list[Activity] | None = None
    posture: list[Posture] | None = None
    night_pain: bool | None = Field(
        default=None, description="Pain that is worse at night or when lying down.")
    nothing_eases: bool | None = Field(
        default=None, description="No position, movement or rest eases the pain (non-mechanical).")
    weakness: bool | None = Field(
        default=None, description="Muscle weakness in a leg or arm on examination or report.")
    sensory_loss: bool | None = Field(
        default=None, description="Numbness or altered feeling in a leg, arm or the trunk.")
    difficulty_walking: bool | None = Field(
        default=None, description="New difficulty walking (unsteady, legs giving way), not pain alone.")
    sexual_dysfunction: bool | None = Field(
        default=None, description="A new change in sexual function or genital feeling.")
    # ---- format 3
    severe_weakness: bool | None = Field(
        default=None, description="Major motor loss (e.g. foot drop, MRC 3/5 or less) or weakness at more "
                                  "than one level.")
    neuro_trend: Trend | None = Field(
        default=None, description="How the nerve signs (weakness, numbness, walking) are changing, apart "
                                  "from the pain.")
    neuro_since_weeks: Annotated[float, Field(ge=0, le=5200)] | None = Field(
        default=None, description="Weeks since the nerve signs began.")
    umn_signs: list[UmnSign] | None = Field(
        default=None, description="Upper motor neurone signs found on examination; [] means none found.")
    band_like_pain: bool | None = Field(default=None, description="Pain around the trunk like a band.")
    pain_on_cough_strain: bool | None = Field(
        default=None, description="Back pain brought on by coughing, sneezing or straining.")
    constant_pain: bool | None = Field(
        default=None, description="Pain all the time, day and night, not only with movement.")
    inflammatory_features: list[InflammatoryFeature] | None = Field(
        default=None, description="Inflammatory back pain features (NICE NG65, ASAS); [] means none.")
    lateral_shift: LateralShift | None = Field(
        default=None, description="A visible lateral shift: the side the shoulders are shifted to.")
    abdominal_pain: bool | None = Field(default=None, description="Pain in the tummy as well as the back.")
    collapse_or_faintness: bool | None = Field(
        default=None, description="Collapse, fainting, near-fainting, or pallor with sweating.")
    contusion_or_abrasion: bool | None = Field(
        default=None, description="A bruise or graze over the spine.")
    wound_problem: bool | None = Field(
        default=None, description="A surgical wound that is red, hot, swollen or discharging.")
    beighton_score: Annotated[int, Field(ge=0, le=9)] | None = Field(
        default=None, description="Beighton score of joint hypermobility, 0 to 9.")
    widespread_pain: bool | None = Field(
        default=None, description="Pain in many body regions, not only the back.")
    fabq_pa: Annotated[int, Field(ge=0, le=24)] | None = Field(
        default=None, description="Fear-Avoidance Beliefs Questionnaire, physical activity subscale "
                                  "(Waddell 1993, items 2-5), 0 to 24; higher means more fear of activity. "
                                  "Absent: not measured.")

    @model_validator(mode="after")
    def _trend_has_a_sign(self) -> Findings:
        signs = (self.weakness, self.sensory_loss, self.difficulty_walking, self.severe_weakness)
        if self.neuro_trend is not None and all(sign is False for sign in signs) and self.umn_signs == []:
            raise PydanticCustomError(
                "neuro-trend-without-sign",
                "findings.neuro_trend is given but every nerve sign is recorded absent")
        return self


class History(StrictModel):
    """Relevant medical history. Absent means unknown."""

    osteoporosis: bool | None = None
    recent_spinal_surgery_weeks: Annotated[float, Field(ge=0, le=520)] | None = None
    pregnant: bool | None = None
    long_term_corticosteroids: bool | None = None
    pregnancy_weeks: Annotated[float, Field(ge=0, le=45)] | None = Field(
        default=None, description="Weeks of pregnancy now; implies pregnant.")
    postpartum_weeks: Annotated[float, Field(ge=0, le=520)] | None = Field(
        default=None, description="Weeks since giving birth.")
    pelvic_girdle_pain: bool | None = Field(
        default=None, description="Pain at the back of the pelvis or the pubic joint (pregnancy-related).")
    falls_last_year: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None, description="Number of falls in the last 12 months.")
    # ---- format 3
    back_pain_onset_age: Annotated[int, Field(ge=5, le=110)] | None = Field(
        default=None, description="Age when back pain first began (not only this episode).")
    anticoagulant: Tri | None = Field(
        default=None, description="A blood thinner (warfarin, a DOAC, heparin) or a bleeding disorder.")
    infection_risk_factors: list[InfectionRisk] | None = Field(
        default=None, description="Conditions that raise the risk of spinal infection; [] means none.")
    smoking: Smoking | None = None
    known_aaa: Tri | None = Field(default=None, description="A known abdominal aortic aneurysm.")
    vascular_risk_factors: list[VascularRisk] | None = Field(
        default=None, description="Risk factors for an aortic aneurysm; [] means asked, none.")
    spinal_surgery: SpinalSurgery | None = Field(
        default=None, description="The kind of the most recent spinal operation.")
    surgeon_clearance: Tri | None = Field(
        default=None, description="The surgeon has cleared the person for an exercise program.")
    fragility_fractures: list[FragilityFracture] | None = Field(
        default=None, description="Fractures from a fall from standing height or less; [] means none.")
    comorbidities: list[Comorbidity] | None = Field(
        default=None, description="Conditions that limit weight-bearing or aerobic work; [] means asked, "
                                  "none.")
    bmi: Annotated[float, Field(ge=10, le=80)] | None = Field(
        default=None, description="Body mass index, kg/m2.")
    hypermobility_diagnosed: Tri | None = Field(
        default=None, description="Hypermobile Ehlers-Danlos syndrome or a hypermobility spectrum "
                                  "disorder diagnosed.")
    surgeon_restrictions: list[SurgeonRestriction] | None = Field(
        default=None, description="What the surgeon has asked the person not to do yet; [] means none.")

    @model_validator(mode="after")
    def _pregnancy_agrees(self) -> History:
        if self.pregnant is False and self.pregnancy_weeks is not None:
            raise PydanticCustomError(
                "pregnancy-mismatch", "pregnancy_weeks is given but pregnant is false")
        if (self.pregnancy_weeks is not None and self.postpartum_weeks is not None
                and self.pregnancy_weeks > self.postpartum_weeks):
            raise PydanticCustomError(
                "pregnant-and-postpartum",
                "pregnancy_weeks and postpartum_weeks cannot both hold: the pregnancy would have begun "
                "before the birth")
        if (self.surgeon_clearance is not None or self.surgeon_restrictions is not None) \
                and self.recent_spinal_surgery_weeks is None and self.spinal_surgery is None:
            raise PydanticCustomError(
                "surgery-fields-without-surgery",
                "surgeon_clearance or surgeon_restrictions is given but no spinal surgery is recorded "
                "(recent_spinal_surgery_weeks or spinal_surgery)")
        return self


class StartBack(StrictModel):
    """The nine STarT Back answers (agree = True). An unanswered item is None.

    The scores exist only when every item is answered: an incomplete screen has
    no risk group, because an unanswered item is not a "disagree".
    """

    leg_pain: bool | None = None
    shoulder_neck_pain: bool | None = None
    walked_short_distances: bool | None = None
    dressed_slowly: bool | None = None
    not_safe_to_be_active: bool | None = None
    worrying_thoughts: bool | None = None
    pain_terrible: bool | None = None
    not_enjoying: bool | None = None
    bothersomeness: Annotated[int, Field(ge=0, le=4)] | None = Field(
        default=None,
        description="0 not at all, 1 slightly, 2 moderately, 3 very much, 4 extremely.",
    )

    @property
    def complete(self) -> bool:
        """True when all nine items are answered."""
        return all(getattr(self, name) is not None for name in type(self).model_fields)

    def _psychosocial_items(self) -> list[bool]:
        bother = self.bothersomeness
        return [
            bool(self.not_safe_to_be_active),
            bool(self.worrying_thoughts),
            bool(self.pain_terrible),
            bool(self.not_enjoying),
            bother is not None and bother >= 3,
        ]

    @property
    def psychosocial(self) -> int | None:
        """Subscale score 0..5 (items 5 to 9), or None when the screen is incomplete."""
        if not self.complete:
            return None
        return sum(self._psychosocial_items())

    @property
    def total(self) -> int | None:
        """Total score 0..9, or None when the screen is incomplete."""
        if not self.complete:
            return None
        physical = [
            bool(self.leg_pain),
            bool(self.shoulder_neck_pain),
            bool(self.walked_short_distances),
            bool(self.dressed_slowly),
        ]
        return sum(physical) + sum(self._psychosocial_items())


def _home() -> list[Setting]:
    return ["home"]


class Preferences(StrictModel):
    """Where and how the person wants to exercise. Missing means home, no equipment."""

    settings: Annotated[list[Setting], Field(min_length=1)] = Field(default_factory=_home)
    equipment: list[Equipment] = Field(default_factory=list)
    enjoys: list[Enjoys] = Field(default_factory=list)
    dislikes: list[Enjoys] = Field(
        default_factory=list, description="Activities the person dislikes: skipped while another fits.")
    minutes_per_session: Annotated[int, Field(ge=5, le=180)] | None = None
    sessions_per_week: Annotated[int, Field(ge=1, le=14)] | None = None
    goals: list[Goal] = Field(default_factory=list)


class Profile(StrictModel):
    """A person's back-pain profile: the input of `backrx.recommend`."""

    age: Annotated[int, Field(ge=10, le=110)]
    duration_weeks: Annotated[float, Field(ge=0, le=5200)] | None = None
    stage: Stage | None = Field(default=None, validate_default=True)
    pain_site: PainSite
    leg_pain: LegPain
    bilateral_leg_symptoms: bool | None = Field(
        default=None, description="Symptoms in both legs; absent means not asked, never no.")
    pain_intensity: Annotated[int, Field(ge=0, le=10)]
    tolerance: Tolerance
    directional_preference: Direction = "unknown"
    centralizes: bool | None = None
    red_flags: list[RedFlag] = Field(
        description="Red flags present. [] means screened and none present; required."
    )
    red_flags_unsure: list[RedFlag] = Field(
        default_factory=list,
        description="Red flags the person was unsure about; each is followed up, never read as no.",
    )
    onset: Onset | None = Field(default=None, description="How this episode began.")
    symptom_trend: Trend | None = Field(
        default=None, description="How the symptoms are changing now; absent means not asked.")
    mobility: Mobility = Field(default="independent", description="How the person gets about.")
    findings: Findings | None = None
    history: History | None = None
    startback: StartBack | None = None
    preferences: Preferences | None = None
    outcomes: Outcomes | None = Field(
        default=None, description="baseline outcome measures (ODI, RMDQ, NPRS, PSFS, walking minutes)")
    # ---- format 3
    profile_format: ProfileFormat | None = Field(
        default=None, description="The profile format (absent: 2). Format 2 profiles are read as format 3.")
    sex: Sex | None = Field(default=None, description="Sex recorded at birth; used only for risk thresholds.")
    episode: Episode | None = Field(default=None, description="A first episode of back pain or a recurrence.")
    trauma: Trauma | None = Field(
        default=None, description="Injury at onset: none; minor (a fall from standing height or less, "
                                  "a lift, "
                                  "a bump); major (a fall from a height, a road or sports collision).")

    @model_validator(mode="after")
    def _answers_agree(self) -> Profile:
        both = set(self.red_flags) & set(self.red_flags_unsure)
        if both:
            raise PydanticCustomError(
                "red-flag-sure-and-unsure",
                "a red flag is both in red_flags and red_flags_unsure: {flags}",
                {"flags": ", ".join(sorted(both))})
        history = self.history
        if self.sex == "male" and history is not None and (
                history.pregnant or history.pregnancy_weeks is not None
                or history.postpartum_weeks is not None):
            raise PydanticCustomError("sex-pregnancy-mismatch", "sex is male but a pregnancy is recorded")
        if self.trauma in ("none", "minor") and "major_trauma" in self.red_flags:
            raise PydanticCustomError("trauma-mismatch", "trauma disagrees with the major_trauma red flag")
        onset_age = history.back_pain_onset_age if history is not None else None
        if onset_age is not None and onset_age > self.age:
            raise PydanticCustomError("onset-age-mismatch", "history.back_pain_onset_age is greater than age")
        return self

    @field_validator("stage", mode="after")
    @classmethod
    def _derive_stage(cls, stage: Stage | None, info: ValidationInfo) -> Stage:
        weeks = info.data.get("duration_weeks")
        derived = stage_for_weeks(weeks) if weeks is not None else None
        if stage is None and derived is None:
            if "duration_weeks" not in info.data:
                # duration_weeks itself failed validation and pydantic reports it; the profile is
                # refused, so this placeholder is never seen.
                return "acute"
            raise PydanticCustomError(
                "stage-required", "give duration_weeks or stage (acute, subacute or chronic)"
            )
        if stage is not None and derived is not None and stage != derived:
            raise PydanticCustomError(
                "stage-mismatch",
                "stage '{stage}' disagrees with duration_weeks={weeks}, which is '{derived}' "
                "(acute < 4 weeks, subacute 4 to < 12, chronic >= 12)",
                {"stage": stage, "weeks": weeks, "derived": derived},
            )
        result = stage if stage is not None else derived
        assert result is not None
        return result

    @property
    def resolved_preferences(self) -> Preferences:
        """The preferences, with the documented defaults when none were given."""
        return self.preferences if self.preferences is not None else Preferences()


def migrate_profile(data: dict[str, Any]) -> dict[str, Any]:
    """A format-2 (or format-3) profile mapping as format 3: ``profile_format`` set to 3 and every
    new field left absent (unknown, never "no"). The result is validated, so a format-2 profile
    that holds a contradiction is refused with the same code as a format-3 one. Raises
    ``pydantic.ValidationError``."""
    out = {**data, "profile_format": PROFILE_FORMAT}
    Profile.model_validate(out)
    return out


def stage_for_weeks(weeks: float) -> Stage:
    """The stage of an episode that has lasted ``weeks`` (acute < 4, subacute < 12, chronic)."""
    if weeks < ACUTE_BEFORE_WEEKS:
        return "acute"
    if weeks < CHRONIC_FROM_WEEKS:
        return "subacute"
    return "chronic"


def read_document(path: str | os.PathLike[str]) -> Any:
    """Read a YAML or JSON document from ``path`` (safe YAML; JSON is YAML too)."""
    from backrx.readers.safe_yaml import load_plain

    file = Path(path)
    text = read_text(file)  # a regular file only, at most MAX_INPUT_BYTES
    if file.suffix.lower() == ".json":
        return loads(text, str(file))  # a repeated key is refused, not silently overwritten
    return load_plain(text, str(file))  # YamlError, an InputError (a ValueError), names file and line


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Load and validate a profile from a YAML or JSON file.

    Raises ``OSError`` when the file cannot be read, `backrx.errors.InputError` (a
    ``ValueError``) when it is not valid YAML/JSON, repeats a key, is not a regular file or is
    longer than 5 MB, and
    ``pydantic.ValidationError`` when the profile is invalid.
    """
    return Profile.model_validate(read_document(path))


__all__ = [
    "Findings",
    "History",
    "Preferences",
    "Profile",
    "StartBack",
    "load_profile",
    "migrate_profile",
    "stage_for_weeks",
]


def validated_profile(profile: Any) -> Profile:
    """A valid Profile from a mapping or a Profile. Instances are checked again: one built with
    ``model_construct`` or changed with ``object.__setattr__`` has skipped validation, and a red
    flag could hide there. Raises ``pydantic.ValidationError``."""
    if isinstance(profile, Profile):
        return Profile.model_validate(dict(profile.__dict__))
    return Profile.model_validate(profile)
