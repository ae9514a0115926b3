"""FHIR data nobody here wrote: Synthea R4 patients, an AHRQ Pain Management Summary test patient
and HL7's R4 examples (tests/data/real, attributed in tests/data/README.md) go through from_fhir,
read_fhir (the Bundle path) and the CDS Hooks service. Each gives a recommendation or a coded
pydantic ValidationError, never another exception, and no red flag its codes carry is lost."""

from __future__ import annotations

import json
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.interop.fhir import from_fhir, to_questionnaire_response
from backrx.interop.fhir_codes import CODED_RESOURCES, mapping_of
from backrx.interop.fhir_import import read_fhir

pytest.importorskip("fhir.resources")

DATA = Path(__file__).resolve().parent / "data" / "real"
FILES = sorted(p.relative_to(DATA).as_posix() for p in DATA.glob("*/*.json"))

#: What each file's records say, read by hand from the records themselves (codes, statuses):
#: the profile fields their codes set. Files not listed set none (their codes are listed as unknown).
DERIVED = {
    "synthea/Alexia_a5f5a550.json": {"history.osteoporosis"},  # active osteoporosis
    "synthea/Almeda_67e13ece.json": {"history.pregnant", "history.anticoagulant"},  # active tubal
    # pregnancy; an active warfarin MedicationRequest
    "synthea/Austin_f23eef30.json": {"red_flags", "red_flags_unsure"},  # active lung cancer; a
    # suspected lung cancer, which the confirmed one makes present
    "synthea/Clorinda_3a77c3ad.json": {"history.osteoporosis", "history.fragility_fractures"},  # active
    # osteoporosis; resolved osteoporotic fractures (history)
    "synthea/Donnell_9c154119.json": {"red_flags"},  # prostate carcinoma; a resolved colon cancer
    "hl7/Condition-f002.json": {"red_flags"},  # active non-small cell lung cancer
    "hl7/Condition-f202.json": {"red_flags"},  # resolved malignant neoplastic disease (history)
}
RED_FLAGS = {path: ["cancer_history"] for path in (
    "synthea/Austin_f23eef30.json", "synthea/Donnell_9c154119.json",
    "hl7/Condition-f002.json", "hl7/Condition-f202.json")}
#: The codes of a ValidationError that says "not enough information here to advise": not a
#: QuestionnaireResponse to backrx's Questionnaire, or none at all.
NOT_ENOUGH = {"fhir-questionnaire-response-count", "fhir-wrong-resource-type", "fhir-unknown-item",
              "fhir-questionnaire", "fhir-red-flags-unanswered"}


def _load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / path).read_text(encoding="utf-8"))
    return data


def _records(data: dict[str, Any]) -> list[dict[str, Any]]:
    resources = [e["resource"] for e in data["entry"]] if data["resourceType"] == "Bundle" else [data]
    return [r for r in resources if r["resourceType"] in CODED_RESOURCES]


def _screened() -> dict[str, Any]:
    """A completed backrx questionnaire: screened, no red flag answered."""
    return to_questionnaire_response(backrx.Profile.model_validate(base_profile()))


@pytest.mark.filterwarnings("ignore::backrx.interop.questionnaire_response.FhirCodeWarning")
@pytest.mark.parametrize("path", FILES)
def test_the_file_alone_is_a_coded_error_never_a_crash(path: str) -> None:
    """Read as it is, each file is a coded ValidationError: none holds a response to backrx's
    Questionnaire (the AHRQ Bundle's id is also not a valid FHIR id, and the error names it)."""
    with pytest.raises(ValidationError) as caught:
        from_fhir(_load(path))
    codes = {e["type"] for e in caught.value.errors()}
    assert codes <= NOT_ENOUGH or [e["loc"] for e in caught.value.errors()] == [("id",)]


@pytest.mark.parametrize("path", FILES)
def test_records_beside_a_questionnaire_give_advice_keeping_every_flag(path: str) -> None:
    """The file's Conditions, medications and Procedures beside a screened questionnaire give a
    recommendation; the fields their codes set are the ones a reader of the records expects,
    every red flag they carry is on the profile and refers, and every other code is listed."""
    records = _records(_load(path))
    result = read_fhir(_screened(), conditions=records)
    assert set(result.derived_fields) == DERIVED.get(path, set())
    assert result.profile.red_flags == RED_FLAGS.get(path, [])
    rec = backrx.recommend(result.profile)
    assert (rec.referral is not None) == bool(RED_FLAGS.get(path))
    # each code is set a field, is known to the mapping (a past pregnancy), or is listed as unknown
    read = {*mapping_of().index, *((s, c) for _, s, c in result.unknown_codes)}
    coded = {(c["system"], c["code"]) for r in records if r.get("status") != "entered-in-error"
             for c in (r.get("code") or r.get("medicationCodeableConcept") or {}).get("coding", [])}
    assert coded <= read  # no code dropped in silence


@pytest.mark.parametrize("path", [p for p in FILES if p.startswith(("synthea/", "ahrq/"))])
def test_the_bundle_path_reads_the_patients_records(path: str) -> None:
    """The patient's own Bundle with backrx's questionnaire added is read whole, by from_fhir
    too (which warns that some codes are unknown), and loses no flag."""
    bundle = _load(path)
    bundle.pop("id", None)  # the AHRQ Bundle's id is not a FHIR id; the entries are what matter
    bundle["entry"] = [*bundle["entry"], {"resource": _screened()}]
    result = read_fhir(bundle)
    assert set(result.derived_fields) == DERIVED.get(path, set())
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        profile = from_fhir(bundle)
    assert profile == result.profile
    assert bool(seen) == bool(result.unknown_codes)


@pytest.mark.filterwarnings("ignore::backrx.interop.questionnaire_response.FhirCodeWarning")
@pytest.mark.parametrize("path", [p for p in FILES if p.startswith(("synthea/", "hl7/Condition"))])
def test_the_cds_service_answers_every_patient(path: str, rules: backrx.RuleSet) -> None:
    """The CDS service, given the file's Conditions as the prefetch, answers 200 with cards, and a
    red flag their codes carry gives a critical card."""
    from fastapi.testclient import TestClient

    from backrx.interop import cds_hooks

    conditions = [{**r, "subject": {"reference": "Patient/p1"}} for r in _records(_load(path))
                  if r["resourceType"] == "Condition"]
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/dr1", "patientId": "p1"},
            "prefetch": {cds_hooks.QR_KEY: {"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {**_screened(), "subject": {"reference": "Patient/p1"}}}]},
                cds_hooks.CONDITIONS_KEY: {"resourceType": "Bundle", "type": "searchset",
                                           "entry": [{"resource": c} for c in conditions]}}}
    answer = TestClient(cds_hooks.create_app(rules)).post(f"/cds-services/{cds_hooks.SERVICE_ID}", json=body)
    assert answer.status_code == 200
    indicators = [card["indicator"] for card in answer.json()["cards"]]
    assert indicators
    assert ("critical" in indicators) == bool(RED_FLAGS.get(path))
