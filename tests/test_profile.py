"""The Profile refuses bad input clearly, derives the stage, and loads from files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.conftest import base_profile

from backrx import Profile, load_profile
from backrx.model.profile import StartBack, stage_for_weeks


def _locs(exc: ValidationError) -> list[tuple[str | int, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


@pytest.mark.parametrize(
    ("weeks", "stage"),
    [(0, "acute"), (3.99, "acute"), (4, "subacute"), (11.99, "subacute"), (12, "chronic"), (300, "chronic")],
)
def test_stage_is_derived_from_weeks(weeks: float, stage: str) -> None:
    """Stage comes from duration: acute < 4 weeks, subacute 4 to < 12, chronic >= 12."""
    assert Profile.model_validate(base_profile(duration_weeks=weeks)).stage == stage
    assert stage_for_weeks(weeks) == stage


def test_stage_and_weeks_must_agree() -> None:
    """A stage that contradicts duration_weeks is refused, naming the stage field."""
    with pytest.raises(ValidationError) as info:
        Profile.model_validate(base_profile(duration_weeks=5, stage="acute"))
    assert ("stage",) in _locs(info.value)
    assert "subacute" in str(info.value)


def test_stage_alone_is_enough() -> None:
    """A stage without duration_weeks is accepted as given."""
    data = base_profile(stage="acute")
    del data["duration_weeks"]
    assert Profile.model_validate(data).stage == "acute"


def test_stage_or_weeks_is_required() -> None:
    """Without duration_weeks or stage the profile is refused."""
    data = base_profile()
    del data["duration_weeks"]
    with pytest.raises(ValidationError) as info:
        Profile.model_validate(data)
    assert ("stage",) in _locs(info.value)


def test_red_flags_are_required() -> None:
    """Omitting red_flags is an error: an unanswered screen is not a "no"."""
    data = base_profile()
    del data["red_flags"]
    with pytest.raises(ValidationError) as info:
        Profile.model_validate(data)
    assert ("red_flags",) in _locs(info.value)


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("age", 9, ("age",)),
        ("age", 111, ("age",)),
        ("age", "45", ("age",)),
        ("pain_intensity", 11, ("pain_intensity",)),
        ("duration_weeks", -1, ("duration_weeks",)),
        ("duration_weeks", math.nan, ("duration_weeks",)),
        ("duration_weeks", math.inf, ("duration_weeks",)),
        ("pain_site", "neck", ("pain_site",)),
        ("red_flags", ["headache"], ("red_flags", 0)),
        ("tolerance", None, ("tolerance",)),
        ("bilateral_leg_symptoms", "yes", ("bilateral_leg_symptoms",)),
        ("findings", {"straight_leg_raise_deg": 200}, ("findings", "straight_leg_raise_deg")),
        ("preferences", {"equipment": ["rowing_machine"]}, ("preferences", "equipment", 0)),
        ("preferences", {"settings": []}, ("preferences", "settings")),
        ("startback", {"bothersomeness": 5}, ("startback", "bothersomeness")),
        ("favourite_colour", "blue", ("favourite_colour",)),
    ],
)
def test_bad_values_name_the_field(field: str, value: object, loc: tuple[str | int, ...]) -> None:
    """Each bad value raises ValidationError naming the field path."""
    with pytest.raises(ValidationError) as info:
        Profile.model_validate(base_profile(**{field: value}))
    assert loc in _locs(info.value)


def test_duplicate_list_items_are_merged() -> None:
    """Repeated red flags count once."""
    p = Profile.model_validate(base_profile(red_flags=["cancer_history", "cancer_history"]))
    assert p.red_flags == ["cancer_history"]


def test_startback_scores_need_every_answer() -> None:
    """STarT Back scores exist only when all nine items are answered."""
    answers = {"leg_pain": True, "shoulder_neck_pain": False, "walked_short_distances": True,
                   "dressed_slowly": False, "not_safe_to_be_active": True, "worrying_thoughts": True,
                   "pain_terrible": False, "not_enjoying": True, "bothersomeness": 3}
    full = StartBack.model_validate(answers)
    assert (full.total, full.psychosocial) == (6, 4)
    partial = StartBack.model_validate({**answers, "bothersomeness": None})
    assert partial.total is None and partial.psychosocial is None


def test_bothersomeness_scores_only_very_much_or_extremely() -> None:
    """Bothersomeness adds a point only at 'very much' (3) or 'extremely' (4)."""
    base = {"leg_pain": False, "shoulder_neck_pain": False, "walked_short_distances": False,
                "dressed_slowly": False, "not_safe_to_be_active": False, "worrying_thoughts": False,
                "pain_terrible": False, "not_enjoying": False}
    assert [StartBack.model_validate({**base, "bothersomeness": b}).total for b in range(5)] == [
        0, 0, 0, 1, 1]


def test_profiles_load_from_yaml_and_json(tmp_path: Path) -> None:
    """load_profile reads the same profile from YAML and from JSON."""
    data = base_profile(findings={"eases_with": ["sitting"]})
    (tmp_path / "p.json").write_text(json.dumps(data))
    (tmp_path / "p.yaml").write_text(
        "age: 45\nduration_weeks: 20\npain_site: lower\nleg_pain: none\npain_intensity: 4\n"
        "tolerance: moderate\nred_flags: []\nfindings:\n  eases_with: [sitting]\n"
    )
    assert load_profile(tmp_path / "p.json") == load_profile(tmp_path / "p.yaml")


def test_profile_yaml_refuses_object_tags(tmp_path: Path) -> None:
    """A profile YAML with an object-building tag is refused as ValueError."""
    path = tmp_path / "p.yaml"
    path.write_text("age: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ValueError, match="yaml-tag"):
        load_profile(path)
