"""Door 1 of issue 22: the CDS Hooks service never hides an emergency and never answers 500.

Each test below is a repro from the issue (or a limit it asked for); all fail on 3ef2345.
"""

from __future__ import annotations

import copy
import json
import uuid
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import backrx
from backrx.interop.fhir import RED_FLAG_SYSTEM, to_questionnaire_response
from backrx.model.profile import RED_FLAGS

pytest.importorskip("fastapi")
pytest.importorskip("fhir.resources")
from fastapi.testclient import TestClient
from tests.conftest import base_profile

from backrx.interop import cds_hooks

URL = f"/cds-services/{cds_hooks.SERVICE_ID}"
SECRET = "SECRET-4711"


@pytest.fixture(scope="module")
def client(rules: backrx.RuleSet) -> TestClient:
    return TestClient(cds_hooks.create_app(rules))


def _response(flags: list[str] | None = None, *, authored: Any = None, subject: str = "Patient/p1",
              **changes: Any) -> dict[str, Any]:
    profile = backrx.Profile.model_validate(base_profile(red_flags=flags or [], **changes))
    response = to_questionnaire_response(profile)
    response["subject"] = {"reference": subject}
    if authored is not None:
        response["authored"] = authored
    return response


def _call(*responses: Any, conditions: Any = None) -> dict[str, Any]:
    prefetch: dict[str, Any] = {cds_hooks.QR_KEY: {"resourceType": "Bundle", "type": "searchset",
                                                   "entry": [{"resource": r} for r in responses]}}
    if conditions is not None:
        prefetch[cds_hooks.CONDITIONS_KEY] = conditions
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/dr1", "patientId": "p1"}, "prefetch": prefetch}


def _cards(client: TestClient, body: Any) -> list[dict[str, Any]]:
    answer = client.post(URL, json=body)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["cards"])


def _names(card: dict[str, Any], flag: str) -> bool:
    return flag in card["summary"] or flag in card.get("detail", "")


def _refusal_code(answer: Any) -> str:
    """The backrx code of a refusal, after checking that its body is an OperationOutcome."""
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    [coding] = body["issue"][0]["details"]["coding"]
    assert coding["system"] == "urn:backrx:cds-error"
    return str(coding["code"])


def test_the_latest_response_is_chosen_by_instant_across_time_zones(client: TestClient) -> None:
    """A newer response at 06:00Z recording saddle anaesthesia beats an older one written 10:00+05:00."""
    older = _response(authored="2026-03-02T10:00:00+05:00")  # 05:00Z, no flags
    newer = _response(["saddle_anaesthesia"], authored="2026-03-02T06:00:00Z")
    cards = _cards(client, _call(older, newer))
    assert cards[0]["indicator"] == "critical" and _names(cards[0], "saddle_anaesthesia")
    assert "info" not in [c["indicator"] for c in cards]


def test_an_unreadable_authored_never_wins_over_a_readable_one(client: TestClient) -> None:
    """Of a response with an unparsable `authored` and one with a real instant, the readable one is read."""
    broken = _response(authored="not-a-date")
    broken["item"].append({"linkId": "age_of_onset", "answer": [{"valueInteger": 3}]})
    readable = _response(authored="2026-03-01")
    assert [c["indicator"] for c in _cards(client, _call(broken, readable))] == ["info"]


def test_a_red_flag_beside_an_unreadable_answer_gives_the_named_critical_card(client: TestClient) -> None:
    """A response recording saddle anaesthesia and one out-of-range answer gives a critical card naming it."""
    response = _response(["saddle_anaesthesia"])
    response["item"] = [i for i in response["item"] if i["linkId"] != "pain_intensity"]
    response["item"].append({"linkId": "pain_intensity", "answer": [{"valueInteger": 99}]})
    cards = _cards(client, _call(response))
    assert [c["indicator"] for c in cards] == ["critical", "warning"]
    assert _names(cards[0], "saddle_anaesthesia") and "pain_intensity" in cards[1]["detail"]


def test_a_bad_condition_never_hides_a_good_one(client: TestClient) -> None:
    """An unreadable Condition beside a red-flag Condition still gives the flag's critical card."""
    bad = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"}, "code": "not a concept"}
    flag = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": RED_FLAG_SYSTEM, "code": "cancer_history"}]}}
    cards = _cards(client, _call(_response(), conditions=[bad, flag]))
    assert cards[0]["indicator"] == "critical" and _names(cards[0], "cancer_history")


def test_a_flag_in_an_older_response_is_still_shown(client: TestClient) -> None:
    """A flag recorded in an older response than the one read gets its own critical card beside the advice."""
    older = _response(["bladder_bowel_dysfunction"], authored="2026-01-01T08:00:00Z")
    newer = _response(authored="2026-03-01T08:00:00Z")
    cards = _cards(client, _call(older, newer))
    assert cards[0]["indicator"] == "critical" and _names(cards[0], "bladder_bowel_dysfunction")


def test_a_versioned_patient_reference_resolves(client: TestClient) -> None:
    """A subject written `Patient/p1/_history/2` (or absolute) is this patient: its flag gives the card."""
    for subject in ("Patient/p1/_history/2", "https://ehr.example/fhir/Patient/p1/_history/7"):
        cards = _cards(client, _call(_response(["major_trauma"], subject=subject)))
        assert [c["indicator"] for c in cards] == ["critical"]


BAD_PREFETCH = {
    "a string": "QuestionnaireResponse?subject=p1",
    "a number": 42,
    "a list of numbers": [1, 2],
    "an object without resourceType": {"entry": []},
    "entry that is a string": {"resourceType": "Bundle", "entry": "x"},
    "entries that are not objects": {"resourceType": "Bundle", "entry": [1, "a", None]},
    "a resource that is a string": {"resourceType": "Bundle", "entry": [{"resource": "x"}]},
    "a resourceType that is a number": {"resourceType": 7},
}


@pytest.mark.parametrize("value", BAD_PREFETCH.values(), ids=list(BAD_PREFETCH))
def test_a_malformed_prefetch_is_a_coded_400(client: TestClient, value: Any) -> None:
    """A prefetch value that is neither null, a resource, a Bundle nor a list of them is a coded 400."""
    for key in (cds_hooks.QR_KEY, cds_hooks.CONDITIONS_KEY):
        body = _call(_response())
        body["prefetch"][key] = value
        answer = client.post(URL, json=body)
        assert answer.status_code == 400 and _refusal_code(answer) == "cds-bad-prefetch"


def _nested(depth: int) -> dict[str, Any]:
    response = _response()
    node = response["item"][0]
    for _ in range(depth):
        child = {"linkId": "history"}
        node["item"] = [child]
        node = child
    return response


BAD_RESPONSES = {
    "item is null": lambda r: r.update(item=None),
    "groups nested 200 deep": lambda r: r.update(item=_nested(200)["item"]),
}


@pytest.mark.parametrize("change", BAD_RESPONSES.values(), ids=list(BAD_RESPONSES))
def test_a_malformed_response_is_a_warning_card_never_a_500(client: TestClient, change: Any) -> None:
    """A response the FHIR reader refuses (null items, groups nested 200 deep) is a warning card."""
    response = _response()
    change(response)
    cards = _cards(client, _call(response))
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "could not be read" in cards[0]["summary"]


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"{not json", 400, "cds-bad-json"),
    (b"\xff\xfe{}", 400, "cds-bad-json"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "cds-bad-json"),
    (b"[]", 422, "cds-bad-request"),
    (json.dumps({"hook": "patient-view"}).encode(), 422, "cds-bad-request"),
])
def test_a_malformed_body_is_a_coded_4xx(client: TestClient, body: bytes, status: int, code: str) -> None:
    """Bad JSON, bad UTF-8, 100,000-deep nesting or a body that is no CDS call get a coded 4xx."""
    answer = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status and _refusal_code(answer) == code


def test_the_body_is_capped(rules: backrx.RuleSet) -> None:
    """A body over 1 MB (or over a cap set in create_app) is refused with 413 before it is read."""
    body = _call(_response())
    body["padding"] = "x" * 1_100_000
    default = TestClient(cds_hooks.create_app(rules))
    answer = default.post(URL, json=body)
    assert answer.status_code == 413 and _refusal_code(answer) == "cds-body-too-large"
    small = TestClient(cds_hooks.create_app(rules, max_body_bytes=500))
    assert small.post(URL, json=_call(_response())).status_code == 413


def test_items_and_resources_are_capped(client: TestClient, rules: backrx.RuleSet) -> None:
    """40,000 unknown items, or more prefetched responses than the cap, are refused with a coded 413."""
    response = _response()
    response["item"].extend({"linkId": f"x{n}"} for n in range(40_000))
    answer = client.post(URL, json=_call(response))
    assert answer.status_code == 413 and _refusal_code(answer) == "cds-too-many-items"
    capped = TestClient(cds_hooks.create_app(rules, max_resources=3))
    assert capped.post(URL, json=_call(*[_response() for _ in range(3)])).status_code == 200
    answer = capped.post(URL, json=_call(*[_response() for _ in range(4)]))
    assert answer.status_code == 413 and _refusal_code(answer) == "cds-too-many-resources"


def test_the_default_resource_cap_holds_a_long_record(client: TestClient) -> None:
    """A record with hundreds of Conditions (an older person's chart) is read, not refused."""
    conditions = [{"resourceType": "Condition", "id": f"c{n}", "subject": {"reference": "Patient/p1"},
                   "code": {"text": "other"}} for n in range(300)]
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": c} for c in conditions]}
    answer = client.post(URL, json=_call(_response(), conditions=bundle))
    assert answer.status_code == 200


def test_too_many_items_still_gives_the_critical_card_for_a_recorded_flag(client: TestClient) -> None:
    """Past the item cap, a recorded red flag still gives its critical card (the rest is not read)."""
    response = _response(["saddle_anaesthesia"])
    response["item"].extend({"linkId": f"x{n}"} for n in range(40_000))
    [card] = _cards(client, _call(response))
    assert card["indicator"] == "critical" and _names(card, "saddle_anaesthesia")


def test_refusals_and_cards_never_repeat_the_callers_values(client: TestClient) -> None:
    """Neither a 422 for a bad call nor the card for a bad answer repeats a value the caller sent."""
    body = _call(_response())
    body["hookInstance"] = SECRET
    answer = client.post(URL, json=body)
    assert answer.status_code == 422 and SECRET not in answer.text
    response = _response()
    response["item"].append({"linkId": "leg_pain", "answer": [{"valueString": SECRET}]})
    answer = client.post(URL, json=_call(response))
    assert answer.status_code == 200 and SECRET not in answer.text


# -- the property: 0 HTTP 500, and every recorded blocking red flag gets a critical card -----------


@cache
def _blocking(flag: str) -> bool:
    """Whether the pack makes exercise wait for this flag (read from a full recommendation)."""
    return backrx.recommend(base_profile(red_flags=[flag])).outcome == "refer"


JUNK = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
AUTHORED = st.one_of(st.none(), JUNK, st.sampled_from([
    "2026-03-02T06:00:00Z", "2026-03-02T10:00:00+05:00", "2026-03-02", "2026-03", "2026",
    "2026-03-02T23:30:00-11:00", "2026-02-31T10:00:00Z", "2026-03-02T10:00:00"]))


@st.composite
def _answer_mutation(draw: st.DrawFn) -> tuple[str, Any]:
    """A bad answer: an unknown item, an out-of-range value, a wrong type, junk, or a null part."""
    return draw(st.sampled_from([
        ("pain_intensity", [{"valueInteger": draw(st.integers(11, 10**6))}]),
        ("age", [{"valueString": draw(st.text(max_size=4))}]),
        ("leg_pain", [{"valueCoding": {"code": draw(st.text(max_size=4))}}]),
        (draw(st.text(min_size=1, max_size=6)), [{"valueBoolean": True}]),
        ("tolerance", draw(JUNK)),
        ("duration_weeks", [{}]),
    ]))


@st.composite
def _calls(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A patient-view call with 1-3 responses, some recording red flags (possibly nested), some
    broken; returns the call and the flags recorded in responses about this patient."""
    recorded: list[str] = []
    responses = []
    for _ in range(draw(st.integers(1, 3))):
        flags: list[str] = draw(st.lists(st.sampled_from(RED_FLAGS), max_size=2, unique=True))
        subject = draw(st.sampled_from(["Patient/p1", "Patient/p1/_history/3", "Patient/p2"]))
        response = _response(flags, authored=draw(AUTHORED), subject=subject)
        nest: bool = draw(st.booleans())
        if flags and nest:  # move the red-flag answers under another item's answer
            [item] = [i for i in response["item"] if i["linkId"] == "red_flags"]
            response["item"].remove(item)
            host = draw(st.sampled_from(response["item"]))
            host.setdefault("answer", [{}])[0]["item"] = [item]
        for link, answer in draw(st.lists(_answer_mutation(), max_size=2)):
            response["item"].append({"linkId": link, "answer": answer})
        if draw(st.integers(0, 9)) == 0:
            response[draw(st.sampled_from(["item", "status", "questionnaire"]))] = draw(JUNK)
        elif "Patient/p2" not in response["subject"]["reference"]:
            recorded.extend(flags)
        responses.append(response)
    prefetch: Any = {cds_hooks.QR_KEY: draw(st.sampled_from(["bundle", "list", "one"]))}
    body = _call(*responses)
    if prefetch[cds_hooks.QR_KEY] == "list":
        body["prefetch"][cds_hooks.QR_KEY] = responses
    elif prefetch[cds_hooks.QR_KEY] == "one" and len(responses) == 1:
        body["prefetch"][cds_hooks.QR_KEY] = responses[0]
    if draw(st.integers(0, 14)) == 0:  # a malformed prefetch or body part
        body["prefetch"][draw(st.sampled_from([cds_hooks.QR_KEY, cds_hooks.CONDITIONS_KEY]))] = draw(JUNK)
        recorded = []
    if draw(st.integers(0, 14)) == 0:
        body[draw(st.sampled_from(["hook", "hookInstance", "context", "prefetch"]))] = draw(JUNK)
        recorded = []
    return body, recorded


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(call=_calls())
def test_no_request_is_a_500_and_every_recorded_blocking_flag_is_a_critical_card(
        client: TestClient, call: tuple[dict[str, Any], list[str]]) -> None:
    """Over malformed and red-flag calls: never a 500; a blocking red flag recorded in a response
    about this patient always yields a critical card that names it."""
    body, recorded = call
    answer = client.post(URL, json=copy.deepcopy(body))
    assert answer.status_code < 500, answer.text
    event(f"HTTP {answer.status_code}, {'a' if recorded else 'no'} red flag recorded")
    if answer.status_code != 200:
        assert _refusal_code(answer).startswith("cds-")
        assert not recorded  # only a malformed call, whose flags no one could read, is refused
    else:
        cards = answer.json()["cards"]
        for flag in recorded:
            if _blocking(flag):
                assert any(c["indicator"] == "critical" and _names(c, flag) for c in cards), (flag, cards)
