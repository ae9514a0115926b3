"""The CDS Hooks 2.0 service: discovery, patient-view cards by case, response shapes, startup."""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import backrx
from backrx.interop.fhir import RED_FLAG_SYSTEM, to_questionnaire_response
from backrx.model.recommendation import Notice

pytest.importorskip("fastapi")
pytest.importorskip("fhir.resources")
from fastapi.testclient import TestClient
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.goal import Goal
from fhir.resources.R4B.servicerequest import ServiceRequest
from tests.conftest import base_profile

from backrx.interop import cds_hooks

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests" / "data" / "cds-hooks-2.0-response.schema.json").read_text())
URL = f"/cds-services/{cds_hooks.SERVICE_ID}"


def _check(document: Any, kind: str) -> None:
    schema = {**SCHEMA, "$ref": f"#/definitions/{kind}"}
    checker = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in checker.iter_errors(document)]
    assert errors == []


@pytest.fixture(scope="module")
def client(rules: backrx.RuleSet) -> TestClient:
    return TestClient(cds_hooks.create_app(rules))


def _request(profile: dict[str, Any] | None, *, conditions: Any = None, **prefetch: Any) -> dict[str, Any]:
    filled: dict[str, Any] = dict(prefetch)
    if profile is not None:
        response = to_questionnaire_response(backrx.Profile.model_validate(profile), subject="p1")
        filled[cds_hooks.QR_KEY] = {"resourceType": "Bundle", "type": "searchset",
                                    "entry": [{"resource": response}]}
    if conditions is not None:
        filled[cds_hooks.CONDITIONS_KEY] = conditions
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/dr1", "patientId": "p1"}, "prefetch": filled}


def _cards(client: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    answer = client.post(URL, json=body)
    assert answer.status_code == 200, answer.text
    _check(answer.json(), "response")
    return list(answer.json()["cards"])


def test_discovery_lists_patient_view(client: TestClient) -> None:
    """GET /cds-services lists the patient-view service with its prefetch templates, in 2.0 shape."""
    answer = client.get("/cds-services")
    assert answer.status_code == 200
    _check(answer.json(), "discovery")
    [service] = answer.json()["services"]
    assert service["hook"] == "patient-view" and service["id"] == cds_hooks.SERVICE_ID
    assert "{{context.patientId}}" in service["prefetch"][cds_hooks.QR_KEY]


def test_program_gives_info_card_creating_the_care_plan(client: TestClient) -> None:
    """A program gives one info card, after one warning card per warning, creating its CarePlans and Goals."""
    profile = backrx.load_profile(ROOT / "examples" / "stenosis.yaml")
    cards = _cards(client, _request(profile.model_dump(mode="json", exclude_unset=True)))
    warnings = backrx.recommend(profile).warnings
    assert [c["indicator"] for c in cards] == ["warning"] * len(warnings) + ["info"]
    card = cards[-1]
    [suggestion] = card["suggestions"]
    resources = [action["resource"] for action in suggestion["actions"]]
    assert {r["resourceType"] for r in resources} == {"CarePlan", "Goal"}
    ids = {f"{r['resourceType']}/{r['id']}" for r in resources}
    for resource in resources:
        model = CarePlan if resource["resourceType"] == "CarePlan" else Goal
        model.model_validate(resource)
        assert resource["subject"] == {"reference": "Patient/p1"}
        for ref in [g["reference"] for g in resource.get("goal", [])] + [p["reference"] for p in
                                                                          resource.get("partOf", [])]:
            assert ref in ids


@pytest.mark.parametrize(("flag", "priority"), [("saddle_anaesthesia", "stat"), ("cancer_history", "urgent")])
def test_emergency_and_urgent_referrals_are_critical(client: TestClient, flag: str, priority: str) -> None:
    """An emergency or urgent referral gives one critical card creating the ServiceRequest; no program."""
    cards = _cards(client, _request(base_profile(red_flags=[flag])))
    assert [c["indicator"] for c in cards] == ["critical"]
    [action] = cards[0]["suggestions"][0]["actions"]
    request = ServiceRequest.model_validate(action["resource"])
    assert request.priority == priority and action["type"] == "create"


def test_routine_referral_is_a_warning_beside_the_program(client: TestClient) -> None:
    """A routine referral gives a warning card, and the program's info card still comes."""
    cards = _cards(client, _request(base_profile(red_flags=["inflammatory_back_pain"])))
    assert [c["indicator"] for c in cards] == ["warning", "info"]


def test_prefetched_condition_red_flag_turns_critical(client: TestClient) -> None:
    """A red flag known only from a prefetched active Condition still gives the critical card."""
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
                 "code": {"coding": [{"system": RED_FLAG_SYSTEM, "code": "saddle_anaesthesia"}]}}
    conditions = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": condition}]}
    cards = _cards(client, _request(base_profile(), conditions=conditions))
    assert [c["indicator"] for c in cards] == ["critical"]


def test_other_patients_data_is_never_used(client: TestClient) -> None:
    """A prefetched response or Condition about another patient is ignored, never scored for this one."""
    body = _request(base_profile(red_flags=["saddle_anaesthesia"]))
    body["prefetch"][cds_hooks.QR_KEY]["entry"][0]["resource"]["subject"] = {"reference": "Patient/p2"}
    assert _cards(client, body) == []
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/p2"},
                 "code": {"coding": [{"system": RED_FLAG_SYSTEM, "code": "saddle_anaesthesia"}]}}
    cards = _cards(client, _request(base_profile(), conditions=[condition]))
    assert [c["indicator"] for c in cards] == ["info"]


def test_recommendation_warnings_are_warning_cards(rules: backrx.RuleSet) -> None:
    """Each clinician-facing warning of a recommendation becomes its own warning card."""
    rec = rules.recommend(base_profile()).model_copy(update={"warnings": [
        Notice(code="contradiction", message="Answers disagree: check the leg symptoms.", rule_ids=["a.b"])]})
    cards = cds_hooks.cards(rec, patient_id="p1", hook_instance=uuid.uuid4())
    _check({"cards": cards}, "response")
    assert [c["indicator"] for c in cards] == ["warning", "info"]
    assert "leg symptoms" in cards[0]["summary"]


def test_unreadable_questionnaire_gives_a_warning_naming_the_item(client: TestClient) -> None:
    """A QuestionnaireResponse with a bad answer gives a warning card naming the linkId, not an error."""
    body = _request(base_profile())
    body["prefetch"][cds_hooks.QR_KEY]["entry"][0]["resource"]["item"].append(
        {"linkId": "age_of_onset", "answer": [{"valueInteger": 3}]})
    [card] = _cards(client, body)
    assert card["indicator"] == "warning" and "age_of_onset" in card["detail"]


def test_missing_or_empty_prefetch(client: TestClient) -> None:
    """No prefetch key is 412 (the service cannot fetch); a key with no data gives no cards."""
    assert client.post(URL, json=_request(None)).status_code == 412
    assert _cards(client, _request(None, **{cds_hooks.QR_KEY: None})) == []
    bad = _request(base_profile())
    del bad["hookInstance"]
    assert client.post(URL, json=bad).status_code == 422


def test_pack_is_loaded_once_at_startup(monkeypatch: pytest.MonkeyPatch, rules: backrx.RuleSet) -> None:
    """create_app loads the rule pack once; requests reuse it."""
    calls: list[object] = []

    def counting(*args: object, **kwargs: object) -> backrx.RuleSet:
        calls.append(args)
        return rules

    monkeypatch.setattr(cds_hooks, "load_rules", counting)
    client = TestClient(cds_hooks.create_app())
    assert len(calls) == 1
    for _ in range(3):
        _cards(client, _request(base_profile()))
    assert len(calls) == 1


def test_example_app_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/cds-hooks/app.py builds the app and answers discovery (in its local-trial mode; the
    token checks are in tests/test_cds_auth.py)."""
    monkeypatch.delenv("BACKRX_CDS_JWKS", raising=False)
    monkeypatch.setenv("BACKRX_CDS_INSECURE", "1")
    spec = importlib.util.spec_from_file_location("cds_example", ROOT / "examples" / "cds-hooks" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answer = TestClient(module.app).get("/cds-services")
    assert answer.status_code == 200 and answer.json() == cds_hooks.discovery()


@pytest.mark.parametrize("flags", [["saddle_anaesthesia"], ["cancer_history"], ["inflammatory_back_pain"],
                                   []])
def test_the_referral_card_says_exercise_waits_exactly_when_the_pack_withholds_it(flags: list[str]) -> None:
    """The referral card's summary says exercise must wait (and is critical) exactly when the
    pack's blocking tiers replaced the program, and says it can go on otherwise."""
    rec = backrx.recommend(base_profile(red_flags=flags))
    found = cds_hooks.cards(rec, patient_id="p1", hook_instance=uuid.uuid4())
    referral = [c for c in found if "referral advised" in c["summary"]]
    if rec.referral is None:
        assert referral == []
        return
    [card] = referral
    withheld = rec.outcome == "refer"
    assert ("exercise must wait" in card["summary"]) == withheld
    assert ("can go on" in card["summary"]) == (not withheld)
    assert card["indicator"] == ("critical" if withheld else "warning")


# -- suggestions that resolve, the pack's code mapping, unknown codes (issue 27) -------------------


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["resource"] for s in card.get("suggestions", []) for a in s["actions"]]


def test_the_program_suggestion_records_the_scores_it_rests_on(client: TestClient) -> None:
    """The program suggestion also creates the STarT Back Observations its CarePlan rests on, and
    the user of the hook authors the CarePlans: nothing names backrx's Device, which no card creates."""
    from fhir.resources.R4B.observation import Observation

    profile = backrx.load_profile(ROOT / "examples" / "chronic-extension.yaml")
    assert profile.startback is not None  # the example is screened: the plan rests on its scores
    [card] = [c for c in _cards(client, _request(profile.model_dump(mode="json", exclude_unset=True)))
              if c["indicator"] == "info" and c.get("suggestions")]
    resources = _actions(card)
    observations = [Observation.model_validate(r) for r in resources if r["resourceType"] == "Observation"]
    assert {o.code.coding[0].code for o in observations} >= {"91349-1", "91351-7"}  # panel and total
    made = {f"{r['resourceType']}/{r['id']}" for r in resources}
    [program] = [r for r in resources if r["resourceType"] == "CarePlan" and "partOf" not in r]
    assert {ref["reference"] for ref in program["supportingInfo"]} <= made
    plans = [r for r in resources if r["resourceType"] == "CarePlan"]
    assert plans and all(p["author"] == {"reference": "Practitioner/dr1"} for p in plans)
    assert "Device/" not in json.dumps(resources)


def test_the_referral_is_requested_by_the_user_and_stands_alone(client: TestClient) -> None:
    """A routine referral beside the program: its ServiceRequest is requested by the hook's user
    and names no CarePlan of the other card; a user who is not a clinician sets no requester."""
    body = _request(base_profile(red_flags=["inflammatory_back_pain"]))
    referral, program = _cards(client, body)
    [request] = _actions(referral)
    ServiceRequest.model_validate(request)
    assert request["requester"] == {"reference": "Practitioner/dr1"} and "basedOn" not in request
    assert all("reference" not in a for p in _actions(program) for a in p.get("activity", []))
    body["context"]["userId"] = "Patient/p1"
    [request] = _actions(_cards(client, body)[0])
    assert "requester" not in request


def _unknown_condition(code: str, system: str = "http://snomed.info/sct") -> dict[str, Any]:
    return {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": system, "code": code, "display": "Private words 4711"}],
                     "text": "Private words 4711"},
            "note": [{"text": "Private words 4711"}]}


def test_unknown_codes_come_on_an_info_card_as_codes_only(client: TestClient) -> None:
    """EHR codes no value set holds (a Condition, a MedicationStatement) are listed on an info card by
    system and code; their display, text and notes never appear, and a code that is not a plain
    identifier is counted, not shown."""
    medication = {"resourceType": "MedicationStatement", "status": "active",
                  "subject": {"reference": "Patient/p1"},
                  "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                            "code": "999999901"}]}}
    body = _request(base_profile(), conditions=[_unknown_condition("999999902"),
                                                _unknown_condition("a *b* c", "urn:x")])
    body["prefetch"][cds_hooks.MEDICATIONS_KEY] = [medication]
    cards = _cards(client, body)
    [card] = [c for c in cards if "value set" in c["summary"]]
    assert card["indicator"] == "info" and card["summary"].startswith("3 ")
    assert "`999999902`" in card["detail"] and "`999999901`" in card["detail"]
    assert "and 1 more" in card["detail"]
    text = json.dumps(cards)
    assert "Private words" not in text and "*b*" not in text  # (a bare number could sit inside a UUID)
    # a known code gives no codes card
    assert not [c for c in _cards(client, _request(base_profile())) if "value set" in c["summary"]]


def test_a_clinic_code_mapping_counts_in_the_service(tmp_path: Path) -> None:
    """A value set a clinic adds to its pack's codes.yaml is read by the service built on that pack:
    its code becomes a red flag that refers (critical), and is no longer listed as unknown."""
    import shutil

    import yaml

    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "rules", pack)
    doc = yaml.safe_load((pack / "codes.yaml").read_text(encoding="utf-8"))
    doc["value_sets"]["clinic-cancer"] = {
        "resources": ["Condition"], "field": "red_flags", "value": "cancer_history", "inactive": "keep",
        "sources": ["synthea-r4-sample"], "codes": {"http://example.org/clinic": ["CA-1"]}}
    (pack / "codes.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    body = _request(base_profile(), conditions=[_unknown_condition("CA-1", "http://example.org/clinic")])
    bundled = _cards(TestClient(cds_hooks.create_app()), body)
    assert "critical" not in [c["indicator"] for c in bundled]
    assert any("value set" in c["summary"] for c in bundled)
    clinic = _cards(TestClient(cds_hooks.create_app(backrx.load_rules(pack))), body)
    assert clinic[0]["indicator"] == "critical"
    assert not any("value set" in c["summary"] for c in clinic)
