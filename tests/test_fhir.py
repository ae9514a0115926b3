"""FHIR R4 out (to_fhir, --format fhir) and in (from_fhir): validity, determinism, mapping, errors."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
import subprocess
import sys
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import backrx
from backrx import testing
from backrx.cli import main
from backrx.interop.fhir import RED_FLAG_SYSTEM, to_questionnaire_response
from backrx.interop.questionnaire import QUESTIONNAIRE_URL, questionnaire
from backrx.model.recommendation import Notice

pytest.importorskip("fhir.resources")
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from tests.conftest import base_profile, dated

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SCHEMA = ROOT / "tests" / "data" / "fhir-r4.schema.json.gz"
SCHEMA_SHA256 = "2230406893b4cf002a4ee1e5e2bbeca22ac5d2d4931b3e9ef7b9594bbc376a01"


@cache
def _schema_bytes() -> bytes:
    return gzip.decompress(SCHEMA.read_bytes())


@cache
def _validator() -> jsonschema.Draft6Validator:
    return jsonschema.Draft6Validator(json.loads(_schema_bytes()))


def _schema_errors(resource: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in _validator().iter_errors(resource)]


def _assert_valid(bundle: dict[str, Any]) -> None:
    """The Bundle passes HL7's R4 schema and is exactly what fhir.resources reads and writes back."""
    assert _schema_errors(bundle) == []
    assert Bundle.model_validate_json(json.dumps(bundle)).model_dump(mode="json") == bundle


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for value in node.values() for r in _references(value)]
    if isinstance(node, list):
        return [r for value in node for r in _references(value)]
    return []


def _keele_scores(answers: dict[str, Any]) -> tuple[int, int]:
    """Total and distress subscore by the Keele scoring sheet (items 5-9; item 9 counts at 3 or 4)."""
    physical = ["leg_pain", "shoulder_neck_pain", "walked_short_distances", "dressed_slowly"]
    psych = [answers[k] for k in ("not_safe_to_be_active", "worrying_thoughts", "pain_terrible",
                                  "not_enjoying")]
    distress = sum(psych) + (1 if answers["bothersomeness"] >= 3 else 0)
    return sum(answers[k] for k in physical) + distress, distress


@pytest.fixture(scope="module")
def example_recs(rules: backrx.RuleSet) -> dict[str, backrx.Recommendation]:
    return {path.stem: rules.recommend(backrx.load_profile(path)) for path in EXAMPLES}


def test_vendored_schema_is_hl7_r4() -> None:
    """The shipped schema is byte for byte HL7's R4 4.0.1 fhir.schema.json."""
    data = _schema_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    assert json.loads(data)["id"] == "http://hl7.org/fhir/json-schema/4.0"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_gives_a_valid_bundle(
        path: Path, example_recs: dict[str, backrx.Recommendation]) -> None:
    """Each example's Bundle passes fhir.resources (R4B) round-trip and HL7's R4 JSON Schema."""
    bundle = example_recs[path.stem].to_fhir()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    _assert_valid(bundle)
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert all(e["fullUrl"] == f"urn:uuid:{e['resource']['id']}" for e in bundle["entry"])
    internal = [r for r in _references(bundle) if r.startswith("urn:uuid:")]
    assert internal and set(internal) <= full_urls


def test_schema_check_can_fail(example_recs: dict[str, backrx.Recommendation]) -> None:
    """The JSON Schema check rejects a Bundle with an unknown element and one with a bad status."""
    bundle = example_recs["chronic-extension"].to_fhir()
    broken = copy.deepcopy(bundle)
    broken["entry"][0]["resource"]["exerciseDose"] = "3 x 10"
    assert _schema_errors(broken)
    broken = copy.deepcopy(bundle)
    broken["entry"][0]["resource"]["status"] = "bogus"
    assert _schema_errors(broken)


def _undated(text: str) -> str:
    """CLI output with each Provenance.recorded (the time of the export) blanked."""
    return re.sub(r'"recorded": "[^"]*"', '"recorded": ""', text)


def test_cli_fhir_is_byte_identical_across_processes(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx recommend P --format fhir` writes the same bytes in this process and in a fresh one,
    but for Provenance.recorded, the time of the export (the CLI takes no time from the caller)."""
    path = str(ROOT / "examples" / "chronic-extension.yaml")
    assert main(["recommend", path, "--format", "fhir"]) == 0
    first = capsys.readouterr().out
    assert '"recorded": "' in first
    assert main(["recommend", path, "--format", "fhir"]) == 0
    assert _undated(capsys.readouterr().out) == _undated(first)
    env = {"PYTHONPATH": str(ROOT / "src"), "PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    other = subprocess.run([sys.executable, "-m", "backrx.cli", "recommend", path, "--format", "fhir"],
                           capture_output=True, text=True, check=True, env=env)
    assert _undated(other.stdout) == _undated(first)


def test_recorded_from_the_caller_gives_identical_bundles(
        example_recs: dict[str, backrx.Recommendation]) -> None:
    """Given the decision's time, to_fhir gives the same Bundle every call; without it, only
    Provenance.recorded (always present) differs, never an id."""
    rec = example_recs["chronic-extension"]
    when = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    assert json.dumps(rec.to_fhir(recorded=when)) == json.dumps(rec.to_fhir(recorded=when))
    first, second = rec.to_fhir(), rec.to_fhir()
    ids = [[e["fullUrl"] for e in bundle["entry"]] for bundle in (first, second)]
    assert ids[0] == ids[1]
    for bundle in (first, second):
        assert all(p.get("recorded") for p in _resources(bundle, "Provenance"))


def test_cli_several_profiles_write_one_bundle_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """With every example at once, --format fhir writes one valid Bundle per line, the referral included."""
    assert main(["recommend", *map(str, EXAMPLES), "--format", "fhir"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(EXAMPLES)
    bundles = [json.loads(line) for line in lines]
    for bundle in bundles:
        _assert_valid(bundle)
    priorities = [r["priority"] for b in bundles for r in _resources(b, "ServiceRequest")]
    assert "stat" in priorities


def test_program_maps_phases_prescriptions_goals(example_recs: dict[str, backrx.Recommendation]) -> None:
    """A child CarePlan per phase, an activity per prescription with its weekly timing, a Goal per phase."""
    rec = example_recs["chronic-extension"]
    assert rec.program is not None
    bundle = rec.to_fhir()
    plans = _resources(bundle, "CarePlan")
    top, children = plans[0], plans[1:]
    assert top["status"] == "active" and top["intent"] == "plan"
    assert top["category"][0]["coding"][0]["code"] == "PhysicalActivity"
    assert len(children) == len(rec.program.phases)
    goals = {g["id"]: g for g in _resources(bundle, "Goal")}
    assert len(goals) == len(rec.program.phases)
    for phase, child in zip(rec.program.phases, children, strict=True):
        assert child["title"] == phase.name
        assert child["partOf"] == [{"reference": f"urn:uuid:{top['id']}"}]
        assert len(child["activity"]) == len(phase.prescriptions)
        goal = goals[child["goal"][0]["reference"].removeprefix("urn:uuid:")]
        assert [n["text"] for n in goal["note"]] == phase.progress_when
        for prescription, activity in zip(phase.prescriptions, child["activity"], strict=True):
            detail = activity["detail"]
            assert detail["code"]["coding"][0]["code"] == prescription.exercise.id
            assert detail["reasonCode"] == [{"text": prescription.rationale}]
            repeat = detail["scheduledTiming"]["repeat"]
            per_day, weekly = prescription.dose.times_per_day, prescription.dose.sessions_per_week
            if per_day and weekly and weekly < 7:
                assert repeat.get("frequency") == per_day * weekly
            else:  # a dose through the day (issue 10) is counted per day
                assert repeat.get("frequency") == (per_day or weekly)
            assert repeat.get("duration") == prescription.dose.minutes
            if prescription.dose.sets and prescription.dose.reps:
                assert f"{prescription.dose.sets} sets x {prescription.dose.reps}" in detail["description"] \
                    or f"{prescription.dose.sets} set x {prescription.dose.reps}" in detail["description"]


def test_start_date_gives_phase_periods(example_recs: dict[str, backrx.Recommendation]) -> None:
    """With a start date, phase n of weeks a..b runs from start + 7(a-1) days to start + 7b - 1 days."""
    rec = example_recs["chronic-extension"]
    assert rec.program is not None
    bundle = rec.to_fhir(start=date(2026, 1, 5))
    children = _resources(bundle, "CarePlan")[1:]
    second = rec.program.phases[1]
    assert second.start_week == 3 and second.end_week == 6
    assert children[1]["period"] == {"start": "2026-01-19", "end": "2026-02-15"}
    _assert_valid(bundle)


def test_startback_observations_carry_scores_and_risk(example_recs: dict[str, backrx.Recommendation]) -> None:
    """The STarT total (91351-7) and distress subscore (91350-9) match Keele scoring; the risk is coded."""
    rec = example_recs["chronic-extension"]
    assert rec.profile is not None and rec.profile.startback is not None
    total, distress = _keele_scores(rec.profile.startback.model_dump())
    bundle = rec.to_fhir()
    by_code = {o["code"]["coding"][0]["code"]: o for o in _resources(bundle, "Observation")}
    assert by_code["91351-7"]["valueQuantity"]["value"] == total
    assert by_code["91351-7"]["valueQuantity"]["code"] == "{score}"
    assert by_code["91350-9"]["valueQuantity"]["value"] == distress
    assert by_code["91351-7"]["interpretation"] == [{"text": "low risk"}]
    assert by_code["91352-5"]["valueCodeableConcept"]["coding"][0]["code"] == "LA9194-7"
    assert len(by_code["91349-1"]["hasMember"]) == 3


def test_referrals_map_urgency_to_priority(rules: backrx.RuleSet) -> None:
    """Emergency -> stat, urgent -> urgent, routine -> routine; a routine referral sits in the plan."""
    cases = {"saddle_anaesthesia": "stat", "cancer_history": "urgent", "inflammatory_back_pain": "routine"}
    for flag, priority in cases.items():
        rec = rules.recommend(base_profile(red_flags=[flag]))
        assert rec.referral is not None
        bundle = rec.to_fhir()
        [request] = _resources(bundle, "ServiceRequest")
        assert request["priority"] == priority
        assert [r["text"] for r in request["reasonCode"]] == rec.referral.reasons
        plans = _resources(bundle, "CarePlan")
        if rec.program is None:
            assert plans == []
        else:
            assert request["basedOn"] == [{"reference": f"urn:uuid:{plans[0]['id']}"}]
            assert plans[0]["activity"] == [{"reference": {"reference": f"urn:uuid:{request['id']}"}}]
        _assert_valid(bundle)


def test_provenance_names_pack_version_and_rules(example_recs: dict[str, backrx.Recommendation]) -> None:
    """Provenance points at the pack Library (name, version, digest) and backrx's Device; lists each rule."""
    rec = example_recs["red-flag-emergency"]
    bundle = rec.to_fhir()
    [provenance] = _resources(bundle, "Provenance")
    [library] = _resources(bundle, "Library")
    [device] = _resources(bundle, "Device")
    assert library["identifier"][0]["value"] == rec.ruleset.digest
    assert library["title"] == rec.ruleset.name and library["version"] == rec.ruleset.version
    assert device["version"] == [{"value": backrx.__version__}]
    assert provenance["policy"] == [f"urn:backrx:rule:{f.rule_id}" for f in rec.trace]
    assert provenance["entity"][0]["what"] == {"reference": f"urn:uuid:{library['id']}"}
    targets = {t["reference"] for t in provenance["target"]}
    assert f"urn:uuid:{_resources(bundle, 'ServiceRequest')[0]['id']}" in targets
    assert "_recorded" not in provenance and provenance["recorded"].endswith("Z")
    when = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    dated = rec.to_fhir(recorded=when, patient="p1")
    [provenance] = _resources(dated, "Provenance")
    assert provenance["recorded"].startswith("2026-03-01T09:30:00")
    assert _resources(dated, "ServiceRequest")[0]["subject"] == {"reference": "Patient/p1"}
    _assert_valid(dated)
    with pytest.raises(ValueError, match="timezone"):
        rec.to_fhir(recorded=datetime(2026, 3, 1, 9, 30))


def test_warnings_become_detected_issues(example_recs: dict[str, backrx.Recommendation]) -> None:
    """Each clinician-facing warning becomes a DetectedIssue implicating the plan."""
    rec = example_recs["stenosis"].model_copy(update={"warnings": [
        Notice(code="time-budget", message="The program does not fit the time given.", rule_ids=["x.y"])]})
    bundle = rec.to_fhir()
    [issue] = _resources(bundle, "DetectedIssue")
    assert issue["code"]["coding"][0]["code"] == "time-budget"
    assert issue["detail"] == "The program does not fit the time given."
    assert issue["implicated"] == [{"reference": f"urn:uuid:{_resources(bundle, 'CarePlan')[0]['id']}"}]
    _assert_valid(bundle)


def test_ids_change_with_content(rules: backrx.RuleSet) -> None:
    """Two different profiles never share resource ids; the same one always gets the same ids."""
    one = rules.recommend(base_profile()).to_fhir()
    two = rules.recommend(base_profile(age=46)).to_fhir()
    again = rules.recommend(base_profile()).to_fhir()
    ids = lambda b: {e["resource"]["id"] for e in b["entry"]}  # noqa: E731
    assert ids(one) == ids(again) and not ids(one) & ids(two)


# ------------------------------------------------------------------------------------------ in


def test_questionnaire_is_valid_and_printed_by_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx schema questionnaire` prints a Questionnaire valid for fhir.resources and the R4 schema."""
    assert main(["schema", "questionnaire"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == questionnaire()
    Questionnaire.model_validate(printed)
    assert _schema_errors(printed) == []
    top = {item["linkId"] for item in printed["item"]}
    assert top == set(backrx.Profile.model_fields)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_round_trips_through_questionnaire_response(path: Path, rules: backrx.RuleSet) -> None:
    """from_fhir(QuestionnaireResponse of an example) -> recommend gives the YAML profile's recommendation."""
    profile = backrx.load_profile(path)
    response = to_questionnaire_response(profile, subject="p1")
    QuestionnaireResponse.model_validate(response)
    assert _schema_errors(response) == []
    again = backrx.from_fhir(json.dumps(response))
    assert again == profile
    assert rules.recommend(again).model_dump_json() == rules.recommend(profile).model_dump_json()


def _answers(profile: backrx.Profile) -> dict[str, Any]:
    """What a profile says, with defaults left out (an empty group says nothing)."""

    def prune(node: Any) -> Any:
        if isinstance(node, dict):
            kept = {k: prune(v) for k, v in node.items()}
            return {k: v for k, v in kept.items() if v != {}}
        return node

    return dict(prune(profile.model_dump(mode="json", exclude_defaults=True)))


@settings(max_examples=60)
@given(testing.profiles())
def test_any_profile_survives_the_questionnaire(data: dict[str, Any]) -> None:
    """Every answer a profile holds arrives unchanged through FHIR; nothing unanswered becomes a 'no'."""
    profile = backrx.Profile.model_validate(data)
    again = backrx.from_fhir(to_questionnaire_response(profile))
    assert _answers(again) == _answers(profile)


def _response(*items: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    base = [{"linkId": "age", "answer": [{"valueInteger": 40}]},
            {"linkId": "duration_weeks", "answer": [{"valueDecimal": 2}]},
            {"linkId": "pain_site", "answer": [{"valueCoding": {"code": "lower"}}]},
            {"linkId": "leg_pain", "answer": [{"valueString": "none"}]},
            {"linkId": "pain_intensity", "answer": [{"valueInteger": 4}]},
            {"linkId": "tolerance", "answer": [{"valueCoding": {"system": "urn:backrx:tolerance",
                                                                "code": "moderate"}}]},
            {"linkId": "red_flags", "answer": [{"valueCoding": {"code": "none"}}]}]
    return {"resourceType": "QuestionnaireResponse", "questionnaire": QUESTIONNAIRE_URL, "status": status,
            "item": [*base, *items]}


def _startback(*answers: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    codes = ["91340-0", "91341-8", "91342-6", "91343-4", "91344-2", "91345-9", "91346-7", "91347-5",
             "91348-3"]
    return {"linkId": "/91349-1", "item": [{"linkId": prefix + code, "answer": [answer]}
                                           for code, answer in zip(codes, answers, strict=False)]}


def test_startback_accepts_official_labels_numbers_and_peer_labels() -> None:
    """Agree/Disagree codings (any system), true/false, 1/0 and not_at_all..extremely labels read alike."""
    official = _startback(*[{"valueCoding": {"system": "http://loinc.org", "display": d}}
                            for d in ("Agree", "Disagree", "Agree", "Disagree", "Agree", "Agree",
                                      "Disagree", "Disagree", "Very much")])
    numbers = _startback(*[{"valueInteger": v} for v in (1, 0, 1, 0, 1, 1, 0, 0, 3)], prefix="/")
    peers = _startback(*[{"valueBoolean": v} for v in (True, False, True, False, True, True, False, False)],
                       {"valueString": "very_much"})
    screens = [backrx.from_fhir(_response(s)).startback for s in (official, numbers, peers)]
    assert screens[0] == screens[1] == screens[2]
    screen = screens[0]
    assert screen is not None and screen.bothersomeness == 3
    assert (screen.leg_pain, screen.shoulder_neck_pain, screen.not_safe_to_be_active) == (True, False, True)
    assert screen.total == 5 and screen.psychosocial == 3


def test_missing_startback_answer_stays_unanswered() -> None:
    """A STarT item with no answer is None (never disagree), so no score or risk is made up."""
    answers = [{"valueBoolean": False}] * 8  # item 9 left out
    profile = backrx.from_fhir(_response(_startback(*answers)))
    assert profile.startback is not None and profile.startback.bothersomeness is None
    assert profile.startback.total is None
    rec = backrx.recommend(profile)
    assert rec.classification.startback_risk is None
    assert _resources(rec.to_fhir(), "Observation") == []


def _error_of(resource: Any, **options: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        backrx.from_fhir(resource, **options)
    return caught.value


@pytest.mark.parametrize(("change", "named"), [
    ({"linkId": "shoe_size", "answer": [{"valueInteger": 44}]}, "shoe_size"),
    ({"linkId": "history.pregnant", "answer": [{"valueString": "yes"}]}, "history.pregnant"),
    (_startback(*[{"valueBoolean": True}] * 8, {"valueInteger": 7}), "91348-3"),
    (_startback({"valueCoding": {"code": "maybe"}}), "91340-0"),
    ({"linkId": "findings", "item": [{"linkId": "findings.straight_leg_raise_deg",
                                      "answer": [{"valueFoo": 1}]}]}, "findings.straight_leg_raise_deg"),
    ({"linkId": "preferences", "item": [{"linkId": "preferences.minutes_per_session",
                                         "answer": [{"valueInteger": 1}]}]},
     "preferences.minutes_per_session"),
])
def test_bad_items_are_named_by_link_id(change: dict[str, Any], named: str) -> None:
    """An unknown item, a wrong answer type or an out-of-range answer raises an error naming the linkId."""
    error = _error_of(_response(change))
    assert named in str(error)
    assert any(named in map(str, e["loc"]) for e in error.errors())


def test_bad_resources_raise_validation_errors() -> None:
    """Wrong resourceType, bad JSON, a draft response and unscreened red flags are clear ValidationErrors."""
    assert "resourceType" in str(_error_of({"resourceType": "Patient"}))
    assert "Patient" in str(_error_of({"resourceType": "Patient"}))
    assert "JSON" in str(_error_of("{not json"))
    repeated = json.dumps(_response())[:-1] + ', "status": "completed"}'  # a key given twice
    assert "status" in str(_error_of(repeated))
    assert "in-progress" in str(_error_of(_response(status="in-progress")))
    unscreened = _response()
    unscreened["item"] = [i for i in unscreened["item"] if i["linkId"] != "red_flags"]
    assert "red_flags" in str(_error_of(unscreened))
    both = _response()
    both["item"][-1]["answer"].append({"valueCoding": {"code": "major_trauma"}})
    assert "none" in str(_error_of(both))
    assert "Questionnaire" in str(_error_of({**_response(), "questionnaire": "http://example.org/other"}))


def _condition(code: str, system: str = RED_FLAG_SYSTEM, verification: str | None = None) -> dict[str, Any]:
    condition: dict[str, Any] = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
                                 "code": {"coding": [{"system": system, "code": code}]}}
    if verification:
        condition["verificationStatus"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]}
    return condition


def test_conditions_add_red_flags_that_refer() -> None:
    """An active red-flag Condition (backrx-coded or mapped) is a red flag; a refuted one is not."""
    profile = backrx.from_fhir(_response(), conditions=[_condition("saddle_anaesthesia")])
    assert profile.red_flags == ["saddle_anaesthesia"]
    assert backrx.recommend(profile).referral is not None
    refuted = backrx.from_fhir(
        _response(), conditions=[_condition("saddle_anaesthesia", verification="refuted")])
    assert refuted.red_flags == []
    mapped = backrx.from_fhir(_response(), conditions=[_condition("X1", system="http://example.org/local")],
                              condition_codes={("http://example.org/local", "X1"): "major_trauma"})
    assert mapped.red_flags == ["major_trauma"]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _response()}, {"resource": _condition("fever_or_infection")}]}
    assert backrx.from_fhir(bundle).red_flags == ["fever_or_infection"]
    assert "conditions" in str(_error_of(_response(), conditions=[{"resourceType": "Observation"}]))


@pytest.mark.skipif("red_flags_unsure" not in backrx.Profile.model_fields, reason="no red_flags_unsure here")
def test_suspected_red_flag_conditions_are_unsure_flags_that_still_refer() -> None:
    """A provisional red-flag Condition is an unsure flag, still referred; if unscreened it is present."""
    suspected = [_condition("saddle_anaesthesia", verification="provisional")]
    profile = backrx.from_fhir(_response(), conditions=suspected)
    assert profile.red_flags == [] and profile.red_flags_unsure == ["saddle_anaesthesia"]
    assert backrx.recommend(profile).referral is not None
    unscreened = _response()
    unscreened["item"] = [i for i in unscreened["item"] if i["linkId"] != "red_flags"]
    assert backrx.from_fhir(unscreened, conditions=suspected).red_flags == ["saddle_anaesthesia"]


def test_import_backrx_does_not_import_fhir_resources() -> None:
    """`import backrx` (and recommend) works without touching fhir.resources."""
    code = ("import sys, backrx; backrx.recommend(" + repr(base_profile()) + "); "
            "print(any(m == 'fhir' or m.startswith('fhir.') for m in sys.modules))")
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"


def test_missing_fhir_resources_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fhir.resources, to_fhir and from_fhir raise FhirUnavailableError naming backrx[fhir]."""
    monkeypatch.setitem(sys.modules, "fhir.resources.R4B", None)
    rec = backrx.recommend(base_profile())
    with pytest.raises(backrx.FhirUnavailableError, match=r"backrx\[fhir\]"):
        rec.to_fhir()
    with pytest.raises(ImportError, match=r"backrx\[fhir\]"):
        backrx.from_fhir(_response())


needs_weekly_plan = pytest.mark.skipif(
    "times_per_day" not in backrx.Dose.model_fields or "week" not in backrx.Phase.model_fields,
    reason="Dose.times_per_day and Phase.week are not in this version")


@needs_weekly_plan
def test_bouts_per_day_and_week_days_reach_the_timing(example_recs: dict[str, backrx.Recommendation]) -> None:
    """Bouts through the day give a per-day frequency; with a start date the week's days are dayOfWeek."""
    checked = 0
    for rec in example_recs.values():
        if rec.program is None:
            continue
        children = _resources(rec.to_fhir(start=date(2026, 1, 5)), "CarePlan")[1:]
        for phase, child in zip(rec.program.phases, children, strict=True):
            for prescription, activity in zip(phase.prescriptions, child["activity"], strict=True):
                repeat = activity["detail"]["scheduledTiming"]["repeat"]
                dose: Any = prescription.dose
                if dose.times_per_day and (dose.sessions_per_week or 7) >= 7:
                    assert (repeat["frequency"], repeat["periodUnit"]) == (dose.times_per_day, "d")
                    checked += 1
                week: list[Any] = phase.week  # type: ignore[attr-defined,unused-ignore]
                days = [d for d in week if prescription.exercise.id in d.prescriptions]
                assert len(repeat.get("dayOfWeek", [])) == len(days)
    assert checked


def test_adjusted_recommendation_exports_its_rounds(rules: backrx.RuleSet) -> None:
    """After adjust, the Bundle is still valid and its Provenance lists the adjustment's rules too."""
    rec = rules.recommend(backrx.load_profile(ROOT / "examples" / "chronic-extension.yaml"))
    assert rec.program is not None
    phase = rec.program.phase_now
    responses = [{"exercise_id": p.exercise.id, "pain_during": 1, "next_day": "better",
                  "peripheralized": False} for p in phase.prescriptions]
    adjusted = backrx.adjust(rec, dated({"responses": responses}, rec), rules=rules)
    bundle = adjusted.to_fhir()
    _assert_valid(bundle)
    [provenance] = _resources(bundle, "Provenance")
    later = [f.rule_id for f in adjusted.adjustments[-1].trace]
    assert later and {f"urn:backrx:rule:{rule}" for rule in later} <= set(provenance["policy"])
    assert bundle["entry"][0]["resource"]["id"] != rec.to_fhir()["entry"][0]["resource"]["id"]


def test_every_bad_item_is_reported_at_once() -> None:
    """Two bad answers give one ValidationError that names both linkIds."""
    error = _error_of(_response({"linkId": "history.pregnant", "answer": [{"valueString": "yes"}]},
                                {"linkId": "centralizes", "answer": [{"valueInteger": 1}]}))
    assert {"history.pregnant", "centralizes"} <= {str(e["loc"][1]) for e in error.errors()}


@pytest.mark.skipif("outcomes" not in backrx.Profile.model_fields, reason="no Profile.outcomes here")
def test_outcome_measures_round_trip() -> None:
    """Baseline outcome measures, each PSFS activity as one repeat of its group, arrive unchanged."""
    profile = backrx.Profile.model_validate(base_profile(outcomes={
        "odi": 30, "psfs": [{"activity": "gardening", "score": 4}, {"activity": "lifting", "score": 6}]}))
    response = to_questionnaire_response(profile)
    assert _schema_errors(response) == []
    assert [i["linkId"] for i in response["item"]].count("outcomes") == 1
    assert backrx.from_fhir(response) == profile


# -- every reference resolves (issue 27) -------------------------------------------------------


def _references(node: Any) -> list[str]:
    """Every Reference.reference in a JSON tree."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "reference" and isinstance(value, str):
                    found.append(value)
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _dangling(bundle: dict[str, Any], server_side: frozenset[str] = frozenset()) -> list[str]:
    """References in the Bundle that name neither an entry (fullUrl or Type/id) nor a server-side
    resource the caller named."""
    names = {e["fullUrl"] for e in bundle["entry"]} | {
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    return [ref for ref in _references(bundle) if ref not in names and ref not in server_side]


def _check_bundle(bundle: dict[str, Any], server_side: frozenset[str] = frozenset()) -> None:
    assert _schema_errors(bundle) == []
    assert _dangling(bundle, server_side) == []
    provenances = _resources(bundle, "Provenance")
    assert provenances and all(p["recorded"] for p in provenances)


def test_every_example_bundle_is_valid_dated_and_self_contained(
        example_recs: dict[str, backrx.Recommendation]) -> None:
    """Every example's Bundle (with and without a Patient id) passes the R4 schema, carries
    Provenance.recorded, and each reference names an entry (or the Patient the caller named)."""
    names = _example_names()
    assert names and sorted(example_recs) == sorted(names)
    for rec in example_recs.values():
        _check_bundle(rec.to_fhir())
        _check_bundle(rec.to_fhir(patient="p1", start=date(2026, 3, 2)), frozenset({"Patient/p1"}))


def _example_names() -> list[str]:
    """The names `backrx example --list` prints."""
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "backrx.cli", "example", "--list"], capture_output=True,
                         text=True, check=True, env=env)
    return out.stdout.split()


def test_reference_check_can_fail(example_recs: dict[str, backrx.Recommendation]) -> None:
    """A Bundle with one entry removed has dangling references, which the check finds."""
    bundle = example_recs["chronic-extension"].to_fhir()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Device"]
    assert _dangling(bundle)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)  # each example validates a whole R4 Bundle (the slow part)
@given(testing.profiles())
def test_any_profile_gives_a_valid_self_contained_bundle(data: dict[str, Any]) -> None:
    """For any valid profile, the Bundle passes the R4 schema, carries Provenance.recorded and
    has no reference to a resource it does not hold."""
    _check_bundle(backrx.recommend(backrx.Profile.model_validate(data)).to_fhir())


def _dangling_in_suggestions(rec: backrx.Recommendation, user_id: str | None) -> list[str]:
    """References in any card suggestion that name neither a resource the same suggestion creates,
    nor the hook's patient, nor its user."""
    import uuid

    from backrx.interop.cds_hooks import cards

    server_side = {"Patient/p1", *([user_id] if user_id else [])}
    dangling: list[str] = []
    for card in cards(rec, patient_id="p1", hook_instance=uuid.UUID(int=1), user_id=user_id):
        for suggestion in card.get("suggestions", []):
            actions = suggestion.get("actions", [])
            made = {f"{a['resource']['resourceType']}/{a['resource']['id']}"
                    for a in actions if "resource" in a}
            dangling += [ref for a in actions for ref in _references(a.get("resource"))
                         if ref not in made and ref not in server_side]
    return dangling


@pytest.mark.parametrize("user_id", ["Practitioner/dr1", None, "Patient/p1"])
def test_card_suggestions_reference_only_what_the_suggestion_creates(
        example_recs: dict[str, backrx.Recommendation], user_id: str | None) -> None:
    """Every reference in a CDS card's suggestion names a resource that suggestion creates, the
    patient of the hook, or its user, for every example (a suggestion is accepted on its own)."""
    pytest.importorskip("fastapi")
    for rec in example_recs.values():
        assert _dangling_in_suggestions(rec, user_id) == []


@settings(max_examples=200, deadline=None)
@given(testing.profiles(), st.sampled_from(["Practitioner/dr1", "PractitionerRole/r-2", None]))
def test_any_profile_gives_card_suggestions_that_resolve(data: dict[str, Any], user_id: str | None) -> None:
    """For any valid profile, every reference in every card suggestion resolves within the
    suggestion or to the hook's patient or user: an EHR accepting one never gets a dangling link."""
    pytest.importorskip("fastapi")
    assert _dangling_in_suggestions(backrx.recommend(backrx.Profile.model_validate(data)), user_id) == []


def test_suggestion_reference_check_can_fail(example_recs: dict[str, backrx.Recommendation]) -> None:
    """The Bundle's own program CarePlan names backrx's Device and the STarT Back panel, which a
    suggestion of the CarePlan alone would leave dangling: the walk finds them."""
    bundle = example_recs["chronic-extension"].to_fhir(patient="p1")
    plans = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CarePlan"]
    made = {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CarePlan"}
    assert [ref for plan in plans for ref in _references(plan) if ref not in made and ref != "Patient/p1"]
