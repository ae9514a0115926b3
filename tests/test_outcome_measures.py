"""MSK-HQ and EQ-5D-5L: score-only outcome fields that validate their ranges, carry a licence note
and a threshold from the pack, count in adjust's review rules and go out as FHIR Observations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.interop.fhir_outcomes import OUTCOME_SYSTEM, outcomes_by_record
from backrx.model.measures import Outcomes

NICE = ("mskhq", "eq5d5l_index", "eq5d5l_vas")
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


@pytest.mark.parametrize(("field", "bad"), [("mskhq", 57), ("mskhq", -1), ("eq5d5l_vas", 101),
                                            ("eq5d5l_vas", -1), ("eq5d5l_index", 1.01),
                                            ("eq5d5l_index", -1.5)])
def test_a_score_out_of_range_is_refused_naming_the_field(field: str, bad: float) -> None:
    """A score outside its questionnaire's range is refused, and the error names the field."""
    with pytest.raises(ValidationError) as caught:
        Outcomes.model_validate({field: bad})
    assert caught.value.errors()[0]["loc"] == (field,)


@given(mskhq=st.integers(0, 56), vas=st.integers(0, 100),
       index=st.floats(-1, 1, allow_nan=False, allow_infinity=False))
def test_every_score_in_range_is_kept_as_given(mskhq: int, vas: int, index: float) -> None:
    """Any MSK-HQ 0-56, EQ VAS 0-100 and index -1..1 is stored exactly, and read back as a number."""
    taken = Outcomes.model_validate({"mskhq": mskhq, "eq5d5l_vas": vas, "eq5d5l_index": index})
    assert (taken.value("mskhq"), taken.value("eq5d5l_vas"), taken.value("eq5d5l_index")) == (
        float(mskhq), float(vas), index)
    assert not taken.empty


def test_the_pack_gives_each_a_name_direction_and_sources(rules: backrx.RuleSet) -> None:
    """Each NICE measure is in outcomes.yaml, higher is better, and cites NICE HTE16; only MSK-HQ has
    a meaningful-change threshold (EQ-5D-5L has none verified in back pain)."""
    for measure in NICE:
        spec = rules.pack.measures[measure]
        assert spec.better == "higher"
        assert "nice-hte16-2023" in spec.sources
    assert rules.pack.measures["mskhq"].mcid is not None
    assert rules.pack.measures["eq5d5l_index"].mcid is None
    assert rules.pack.measures["eq5d5l_vas"].mcid is None


def test_the_licence_is_stated_in_the_field_description() -> None:
    """The JSON Schema of each score names the licensed instrument's owner, so no one is led to copy
    the questionnaire into backrx."""
    schema = Outcomes.model_json_schema()["properties"]
    assert "Oxford University Innovation" in schema["mskhq"]["description"]
    assert "EuroQol" in schema["eq5d5l_index"]["description"]
    assert "EuroQol" in schema["eq5d5l_vas"]["description"]


def _obs(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["code"]: e["resource"] for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"
            for c in e["resource"]["code"]["coding"] if c["system"] == OUTCOME_SYSTEM}


def test_scores_export_as_observations_without_an_unverified_loinc_code(rules: backrx.RuleSet) -> None:
    """Each score is one final Observation with backrx's code; none carries a LOINC code (none was
    verified), and the index carries SNOMED CT 736534008."""
    scores = {"mskhq": 33, "eq5d5l_index": 0.71, "eq5d5l_vas": 60}
    profile = backrx.Profile.model_validate(base_profile(outcomes=scores))
    found = _obs(rules.recommend(profile).to_fhir())
    assert {k: found[k]["valueQuantity"]["value"] for k in NICE} == scores
    assert all(c["system"] != LOINC for k in NICE for c in found[k]["code"]["coding"])
    snomed = [c["code"] for c in found["eq5d5l_index"]["code"]["coding"] if c["system"] == SNOMED]
    assert snomed == ["736534008"]


@settings(max_examples=25, deadline=None)
@given(mskhq=st.integers(0, 56), vas=st.integers(0, 100))
def test_scores_read_back_from_their_observations(rules: backrx.RuleSet, mskhq: int, vas: int) -> None:
    """What to_fhir writes for MSK-HQ and EQ VAS, outcomes_by_record reads back unchanged."""
    profile = backrx.Profile.model_validate(base_profile(outcomes={"mskhq": mskhq, "eq5d5l_vas": vas}))
    bundle = rules.recommend(profile).to_fhir()
    read = outcomes_by_record(e["resource"] for e in bundle["entry"])
    assert Outcomes.model_validate(read["baseline"]) == profile.outcomes
