"""Outcome measures in FHIR: ODI, RMDQ, NPRS, PSFS and walking minutes as Observations in
to_fhir's Bundle, for the profile and each feedback round, read back by read_fhir and from_fhir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile, dated

import backrx
from backrx.interop.fhir import to_questionnaire_response
from backrx.interop.fhir_import import read_fhir
from backrx.interop.fhir_outcomes import OUTCOME_SYSTEM, outcomes_by_record
from backrx.model.measures import Outcomes

pytest.importorskip("fhir.resources")

ROOT = Path(__file__).resolve().parents[1]
LOINC = "http://loinc.org"
FULL = {"odi": 32, "rmdq": 9, "nprs": 6, "walk_minutes": 15,
        "psfs": [{"activity": "gardening", "score": 4}, {"activity": "lifting a child", "score": 2}]}


def _observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
            and any(c["system"] == OUTCOME_SYSTEM for c in e["resource"]["code"]["coding"])]


def _with_response(bundle: dict[str, Any], profile: backrx.Profile) -> dict[str, Any]:
    """The Bundle with a QuestionnaireResponse holding the profile's answers but no outcomes."""
    answers = profile.model_copy(update={"outcomes": None})
    entry = {"fullUrl": "urn:uuid:6f1d5f0e-3a52-4c55-9d0b-1c2e3f405162",
             "resource": to_questionnaire_response(answers)}
    return {**bundle, "entry": [*bundle["entry"], entry]}


def test_each_measure_is_one_observation_nprs_with_its_loinc_code(rules: backrx.RuleSet) -> None:
    """Every baseline measure taken is one final survey Observation; NPRS also carries LOINC 72514-3."""
    profile = backrx.Profile.model_validate(base_profile(outcomes=FULL))
    bundle = rules.recommend(profile).to_fhir()
    found = {c["code"]: o for o in _observations(bundle) for c in o["code"]["coding"]
             if c["system"] == OUTCOME_SYSTEM}
    assert sorted(found) == sorted(FULL)
    assert {o["status"] for o in found.values()} == {"final"}
    assert [c["code"] for c in found["nprs"]["code"]["coding"] if c["system"] == LOINC] == ["72514-3"]
    assert all(c["system"] != LOINC for key in ("odi", "rmdq", "psfs", "walk_minutes")
               for c in found[key]["code"]["coding"])
    assert [c["valueQuantity"]["value"] for c in found["psfs"]["component"]] == [4, 2]
    assert found["walk_minutes"]["valueQuantity"]["code"] == "min"


def test_no_measure_no_observation(rules: backrx.RuleSet) -> None:
    """A profile without outcome measures gives no outcome Observation."""
    bundle = rules.recommend(backrx.Profile.model_validate(base_profile())).to_fhir()
    assert _observations(bundle) == []


def test_a_course_of_care_round_trips(rules: backrx.RuleSet) -> None:
    """Baseline and each feedback round's measures come back from the Bundle as they went in,
    and from_fhir fills a response's missing outcomes from the baseline Observations."""
    profile = backrx.Profile.model_validate(base_profile(outcomes=FULL))
    rec = rules.recommend(profile)
    assert rec.program is not None
    responses = [{"exercise_id": p.exercise.id, "pain_during": 1, "next_day": "better",
                  "peripheralized": False} for p in rec.program.phase_now.prescriptions]
    later = {"odi": 20, "nprs": 3, "psfs": [{"activity": "gardening", "score": 7}]}
    adjusted = backrx.adjust(rec, dated({"responses": responses, "outcomes": later}, rec), rules=rules)
    bundle = adjusted.to_fhir()
    by_record = outcomes_by_record(e["resource"] for e in bundle["entry"])
    assert Outcomes.model_validate(by_record["baseline"]) == profile.outcomes
    assert Outcomes.model_validate(by_record["round-1"]) == Outcomes.model_validate(later)
    imported = read_fhir(_with_response(bundle, profile))
    assert imported.profile == profile
    assert imported.outcomes == {"baseline": profile.outcomes, "round-1": Outcomes.model_validate(later)}
    assert backrx.from_fhir(_with_response(bundle, profile)).outcomes == profile.outcomes


def test_an_unreadable_outcome_value_is_a_validation_error(rules: backrx.RuleSet) -> None:
    """An outcome Observation whose value is out of range is refused, naming the measure."""
    profile = backrx.Profile.model_validate(base_profile(outcomes={"odi": 30}))
    bundle = _with_response(rules.recommend(profile).to_fhir(), profile)
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Observation" and "valueQuantity" in entry["resource"]:
            entry["resource"]["valueQuantity"]["value"] = 400
    with pytest.raises(ValidationError) as caught:
        read_fhir(bundle)
    assert "odi" in str(caught.value)


_activity = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=20).map(str.strip)


@st.composite
def _outcomes(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(_activity.filter(bool), max_size=3, unique_by=str.lower))
    return {
        "odi": draw(st.none() | st.integers(0, 100)), "rmdq": draw(st.none() | st.integers(0, 24)),
        "nprs": draw(st.none() | st.integers(0, 10)), "walk_minutes": draw(st.none() | st.integers(0, 600)),
        "psfs": [{"activity": name, "score": draw(st.integers(0, 10))} for name in names],
    }


@settings(max_examples=25, deadline=None)
@given(_outcomes())
def test_any_outcome_measures_survive_the_bundle(data: dict[str, Any]) -> None:
    """Whatever measures a clinician records, the Bundle gives back the same numbers."""
    outcomes = Outcomes.model_validate(data)
    taken = not outcomes.empty
    profile = backrx.Profile.model_validate(base_profile(outcomes=data))
    bundle = backrx.recommend(profile).to_fhir()
    by_record = outcomes_by_record(e["resource"] for e in bundle["entry"])
    if taken:
        assert Outcomes.model_validate(by_record["baseline"]) == outcomes
    else:
        assert by_record == {}
