"""EHR conditions by code: the pack's codes.yaml maps SNOMED CT, ICD-10-CM and RxNorm codes of
Conditions, MedicationStatements, MedicationRequests and Procedures to profile fields."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from tests.conftest import base_profile

import backrx
from backrx import testing
from backrx.errors import RuleError
from backrx.interop._fhir import recorded_red_flags
from backrx.interop.fhir import to_questionnaire_response
from backrx.interop.fhir_codes import mapping_of
from backrx.interop.fhir_import import read_fhir
from backrx.interop.questionnaire_response import FhirCodeWarning

pytest.importorskip("fhir.resources")

ROOT = Path(__file__).resolve().parents[1]
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _value_set(name: str) -> dict[str, Any]:
    """One value set as the bundled codes.yaml writes it (the test's input, not backrx's output)."""
    doc = yaml.safe_load((ROOT / "rules" / "codes.yaml").read_text(encoding="utf-8"))
    found: dict[str, Any] = doc["value_sets"][name]
    return found


def _code(name: str, system: str = SCT) -> str:
    return str(_value_set(name)["codes"][system][0])


def _condition(code: str, system: str = SCT, clinical: tuple[str, ...] = ("active",),
               verification: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
                           "code": {"coding": [{"system": system, "code": code}]}}
    if clinical:
        out["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": c} for c in clinical]}
    if verification:
        out["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": v} for v in verification]}
    return out


def _medication(kind: str, code: str, status: str) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": kind, "status": status, "subject": {"reference": "Patient/p1"},
                           "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]}}
    if kind == "MedicationRequest":
        out["intent"] = "order"
    return out


def _response(**overrides: Any) -> dict[str, Any]:
    return to_questionnaire_response(backrx.Profile.model_validate(base_profile(**overrides)))


def test_active_cancer_condition_is_a_red_flag_that_refers() -> None:
    """A SNOMED-coded active cancer Condition sets cancer_history, and the advice refers."""
    result = read_fhir(_response(), conditions=[_condition(_code("cancer"))])
    assert result.profile.red_flags == ["cancer_history"]
    assert "red_flags" in result.derived_fields
    assert backrx.recommend(result.profile).referral is not None


def test_resolved_cancer_keeps_its_history_but_a_resolved_pregnancy_does_not_count() -> None:
    """A resolved cancer is still cancer_history; a resolved pregnancy is no pregnancy now."""
    cancer = read_fhir(_response(), conditions=[_condition(_code("cancer"), clinical=("resolved",))])
    assert cancer.profile.red_flags == ["cancer_history"]
    resolved = _condition(_code("pregnancy"), clinical=("resolved",))
    over = read_fhir(_response(sex="female"), conditions=[resolved])
    assert over.profile.history is None or over.profile.history.pregnant is not True
    now = read_fhir(_response(sex="female"), conditions=[_condition(_code("pregnancy"))])
    assert now.profile.history is not None and now.profile.history.pregnant is True


def test_icd10cm_code_from_the_pregnancy_value_set_sets_pregnant() -> None:
    """An ICD-10-CM code of the AHRQ pregnancy value set reads as pregnant."""
    code = _code("pregnancy-value-set", ICD)
    result = read_fhir(_response(sex="female"), conditions=[_condition(code, system=ICD)])
    assert result.profile.history is not None and result.profile.history.pregnant is True
    assert [(d.system, d.code) for d in result.derived] == [(ICD, code)]


def test_entered_in_error_and_refuted_are_ignored_conflicts_take_the_safer_reading() -> None:
    """entered-in-error and refuted records set nothing; active beside resolved, or confirmed
    beside refuted, still counts."""
    code = _code("cancer")
    for verification in (("entered-in-error",), ("refuted",)):
        result = read_fhir(_response(), conditions=[_condition(code, verification=verification)])
        assert result.profile.red_flags == [] and result.derived == ()
    for clinical, verification in ((("active", "resolved"), ()), (("active",), ("confirmed", "refuted"))):
        result = read_fhir(_response(), conditions=[_condition(code, clinical=clinical,
                                                               verification=verification)])
        assert result.profile.red_flags == ["cancer_history"]


def test_suspected_cancer_is_an_unsure_flag_that_still_refers() -> None:
    """A provisional cancer Condition is an unsure red flag, which is followed up, never a no."""
    result = read_fhir(_response(), conditions=[_condition(_code("cancer"), verification=("provisional",))])
    assert result.profile.red_flags_unsure == ["cancer_history"]
    assert backrx.recommend(result.profile).referral is not None


def test_anticoagulant_medication_counts_while_taken() -> None:
    """An active MedicationStatement or MedicationRequest for an anticoagulant sets
    history.anticoagulant; a stopped or entered-in-error one does not."""
    code = _code("anticoagulant", RXNORM)
    for kind in ("MedicationStatement", "MedicationRequest"):
        taken = read_fhir(_response(), conditions=[_medication(kind, code, "active")])
        assert taken.profile.history is not None and taken.profile.history.anticoagulant == "yes"
        for status in ("stopped", "entered-in-error"):
            gone = read_fhir(_response(), conditions=[_medication(kind, code, status)])
            assert gone.profile.history is None or gone.profile.history.anticoagulant is None


def test_a_record_beats_a_no_answer() -> None:
    """When the answers say no osteoporosis and a Condition says osteoporosis, it is osteoporosis."""
    said_no = _response(history={"osteoporosis": False})
    result = read_fhir(said_no, conditions=[_condition(_code("osteoporosis"))])
    assert result.profile.history is not None and result.profile.history.osteoporosis is True


def test_unknown_codes_are_listed_and_warned_never_dropped_in_silence() -> None:
    """A code in no value set is listed by read_fhir, and from_fhir warns with their count."""
    unknown = _condition("999999999", system="http://example.org/local-codes")
    result = read_fhir(_response(), conditions=[unknown, _condition(_code("cancer"))])
    assert result.unknown_codes == (("Condition", "http://example.org/local-codes", "999999999"),)
    with pytest.warns(FhirCodeWarning, match="1 code"):
        backrx.from_fhir(_response(), conditions=[unknown])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backrx.from_fhir(_response(), conditions=[_condition(_code("cancer"))])


def test_bundle_records_are_read_too() -> None:
    """Conditions and MedicationRequests inside a Bundle beside the response are mapped."""
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", "resource": resource}
        for i, resource in enumerate([_response(), _condition(_code("cancer")),
                                      _medication("MedicationRequest", _code("anticoagulant", RXNORM),
                                                  "active")])]}
    result = read_fhir(bundle)
    assert result.profile.red_flags == ["cancer_history"]
    assert result.profile.history is not None and result.profile.history.anticoagulant == "yes"


def test_cds_safety_net_reads_mapped_conditions() -> None:
    """The CDS service's own reading of recorded flags sees a SNOMED-coded past cancer."""
    flags = recorded_red_flags([], [_condition(_code("cancer"), clinical=("remission",))])
    assert flags == ["cancer_history"]


def _copied_pack(tmp_path: Path) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "rules", pack)
    return pack


def test_a_clinic_extends_the_mapping_in_its_pack(tmp_path: Path) -> None:
    """A value set added to a pack's codes.yaml maps its codes for that pack only."""
    pack = _copied_pack(tmp_path)
    doc = yaml.safe_load((pack / "codes.yaml").read_text(encoding="utf-8"))
    doc["value_sets"]["clinic-ra"] = {
        "resources": ["Condition"], "field": "findings.inflammatory_features", "value": "arthritis",
        "inactive": "keep", "sources": ["synthea-r4-sample"],
        "codes": {"http://example.org/clinic": ["RA-1"]}}
    (pack / "codes.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    ra = _condition("RA-1", system="http://example.org/clinic")
    result = read_fhir(_response(), conditions=[ra], rules=backrx.load_rules(pack))
    assert result.profile.findings is not None
    assert result.profile.findings.inflammatory_features == ["arthritis"]
    assert read_fhir(_response(), conditions=[ra]).unknown_codes != ()


@pytest.mark.parametrize(("change", "location"), [
    ({"field": "age"}, "value_sets.cancer.field"),
    ({"value": "no_such_flag"}, "value_sets.cancer.value"),
    ({"sources": ["nowhere"]}, "value_sets.cancer.sources"),
    ({"resources": ["Encounter"]}, "value_sets.cancer.resources"),
])
def test_a_bad_value_set_is_refused_naming_it(tmp_path: Path, change: dict[str, Any], location: str) -> None:
    """A value set with an unknown field, value, source or resource type is a RuleError naming it."""
    pack = _copied_pack(tmp_path)
    doc = yaml.safe_load((pack / "codes.yaml").read_text(encoding="utf-8"))
    doc["value_sets"]["cancer"].update(change)
    (pack / "codes.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        mapping_of(backrx.load_rules(pack))
    assert location in str(caught.value) and "codes.yaml" in str(caught.value)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(testing.profiles())
def test_a_mapped_cancer_record_never_loses_a_flag(data: dict[str, Any]) -> None:
    """For any profile, adding a coded cancer Condition keeps every answered red flag, adds
    cancer_history, and the advice refers."""
    profile = backrx.Profile.model_validate(data)
    result = read_fhir(to_questionnaire_response(profile), conditions=[_condition(_code("cancer"))])
    assert set(profile.red_flags) <= set(result.profile.red_flags)
    assert "cancer_history" in result.profile.red_flags
    assert backrx.recommend(result.profile).referral is not None
