"""CDS Hooks feedback (issue 27): accepted and overridden cards become events in a feedback log."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

import backrx
from backrx.interop.fhir import to_questionnaire_response

pytest.importorskip("fastapi")
pytest.importorskip("jwt")
from fastapi.testclient import TestClient
from tests.cds_tokens import AUDIENCE, ISSUER, Signer
from tests.conftest import base_profile

from backrx.interop import cds_hooks
from backrx.interop.cds_auth import AuthConfig
from backrx.interop.cds_feedback import JsonlFeedbackLog, MemoryFeedbackLog, events

ROOT = Path(__file__).resolve().parents[1]
URL = f"/cds-services/{cds_hooks.SERVICE_ID}"
FEEDBACK = URL + "/feedback"
COMMENT = "Patient Jane Roe declined, see note 4711"
NOW = "2026-03-02T10:00:00Z"


def _call(flags: list[str] | None = None, hook_instance: str | None = None) -> dict[str, Any]:
    response = to_questionnaire_response(backrx.Profile.model_validate(base_profile(red_flags=flags or [])))
    response["subject"] = {"reference": "Patient/p1"}
    return {"hook": "patient-view", "hookInstance": hook_instance or str(uuid.uuid4()),
            "context": {"userId": "Practitioner/dr1", "patientId": "p1"},
            "prefetch": {cds_hooks.QR_KEY: response}}


@pytest.fixture(scope="module")
def log() -> MemoryFeedbackLog:
    return MemoryFeedbackLog()


@pytest.fixture(scope="module")
def client(rules: backrx.RuleSet, log: MemoryFeedbackLog) -> TestClient:
    return TestClient(cds_hooks.create_app(rules, feedback_log=log))


def _cards(client: TestClient, flags: list[str] | None = None) -> list[dict[str, Any]]:
    answer = client.post(URL, json=_call(flags))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["cards"])


def _override(card: str, code: str = "patient-declined", comment: str | None = COMMENT) -> dict[str, Any]:
    reason: dict[str, Any] = {"reason": {"system": "https://clinic.example.org/override", "code": code}}
    if comment is not None:
        reason["userComment"] = comment
    return {"card": card, "outcome": "overridden", "overrideReason": reason, "outcomeTimestamp": NOW}


def _code(answer: Any) -> str:
    [coding] = answer.json()["issue"][0]["details"]["coding"]
    return str(coding["code"])


def test_card_uuids_are_stable_for_a_call_and_differ_between_calls(client: TestClient) -> None:
    """The same call (same hookInstance) gets the same card uuids; another call gets new ones."""
    body = _call()
    first = [c["uuid"] for c in client.post(URL, json=body).json()["cards"]]
    again = [c["uuid"] for c in client.post(URL, json=body).json()["cards"]]
    other = [c["uuid"] for c in _cards(client)]
    assert first and first == again and not set(first) & set(other)


def test_an_overridden_referral_is_logged_as_an_override_event(client: TestClient, log: MemoryFeedbackLog,
                                                               rules: backrx.RuleSet) -> None:
    """Overriding the referral card logs its kind, the coded reason and the pack, never the comment."""
    [referral] = [c for c in _cards(client, ["saddle_anaesthesia"]) if c["indicator"] == "critical"]
    answer = client.post(FEEDBACK, json={"feedback": [_override(referral["uuid"])]})
    assert answer.status_code == 200, answer.text
    [found] = [e for e in log if e["card"] == referral["uuid"]]
    assert found["event"] == "cds-override" and found["card_kind"] == "referral"
    assert (found["reason_code"], found["comment_given"]) == ("patient-declined", True)
    assert (found["pack"], found["pack_version"]) == (rules.name, rules.version)
    assert found["outcome_at"].startswith("2026-03-02T10:00:00")
    assert COMMENT not in json.dumps(list(log))


def test_an_accepted_program_names_its_suggestion(client: TestClient, log: MemoryFeedbackLog) -> None:
    """Accepting the program card's suggestion logs an accepted event whose suggestion is known."""
    [program] = [c for c in _cards(client) if c["indicator"] == "info"]
    [suggestion] = program["suggestions"]
    item = {"card": program["uuid"], "outcome": "accepted", "outcomeTimestamp": NOW,
            "acceptedSuggestions": [{"id": suggestion["uuid"]}]}
    assert client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200
    [found] = [e for e in log if e["card"] == program["uuid"]]
    assert (found["event"], found["card_kind"]) == ("cds-accepted", "program")
    assert found["suggestions_known"] is True
    assert found["accepted_suggestions"] == [suggestion["uuid"]]


def test_feedback_on_a_card_this_process_did_not_issue_is_kept(client: TestClient,
                                                               log: MemoryFeedbackLog) -> None:
    """Feedback on an unknown card (another worker's, before a restart) is logged with no kind."""
    card = str(uuid.uuid4())
    assert client.post(FEEDBACK, json={"feedback": [_override(card, comment=None)]}).status_code == 200
    [found] = [e for e in log if e["card"] == card]
    assert found["card_kind"] is None and found["comment_given"] is False


BAD_ITEMS: dict[str, Any] = {
    "no feedback list": {"items": []},
    "empty feedback list": {"feedback": []},
    "card not a uuid": {"feedback": [{**_override("x"), "card": COMMENT}]},
    "unknown outcome": {"feedback": [{**_override(str(uuid.uuid4())), "outcome": COMMENT}]},
    "accepted without suggestions": {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted",
                                                   "outcomeTimestamp": NOW}]},
    "accepted with a reason": {"feedback": [{**_override(str(uuid.uuid4())), "outcome": "accepted",
                                             "acceptedSuggestions": [{"id": str(uuid.uuid4())}]}]},
    "timestamp without zone": {"feedback": [{**_override(str(uuid.uuid4())),
                                             "outcomeTimestamp": "2026-03-02T10:00:00"}]},
    "no timestamp": {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden"}]},
    "reason code with spaces around": {"feedback": [_override(str(uuid.uuid4()), code=f" {COMMENT} ")]},
    "too many items": {"feedback": [_override(str(uuid.uuid4())) for _ in range(101)]},
}


@pytest.mark.parametrize("case", sorted(BAD_ITEMS))
def test_bad_feedback_is_refused_naming_fields_not_values(client: TestClient, log: MemoryFeedbackLog,
                                                          case: str) -> None:
    """Malformed feedback gets 422 cds-bad-feedback, logs nothing and never repeats a value sent."""
    before = len(log)
    answer = client.post(FEEDBACK, json=BAD_ITEMS[case])
    assert answer.status_code == 422, (case, answer.text)
    assert _code(answer) == "cds-bad-feedback"
    assert "Jane" not in answer.text and "note 4711" not in answer.text
    assert len(log) == before


def test_feedback_that_is_not_json_or_too_large_is_refused(rules: backrx.RuleSet) -> None:
    """Feedback that is not JSON gets 400 cds-bad-json; a body over the cap gets 413."""
    client = TestClient(cds_hooks.create_app(rules, max_body_bytes=2_000))
    assert _code(client.post(FEEDBACK, content=b"{oops")) == "cds-bad-json"
    huge = {"feedback": [_override(str(uuid.uuid4())) for _ in range(40)]}
    answer = client.post(FEEDBACK, json=huge)
    assert (answer.status_code, _code(answer)) == (413, "cds-body-too-large")


def test_feedback_needs_the_same_token_as_the_service(rules: backrx.RuleSet) -> None:
    """With authentication on, feedback without a valid token is refused (401) and nothing is logged."""
    key, log = Signer("EC"), MemoryFeedbackLog()
    client = TestClient(cds_hooks.create_app(rules, auth=AuthConfig(AUDIENCE, {ISSUER: key.jwks()}),
                                             feedback_log=log))
    body = {"feedback": [_override(str(uuid.uuid4()))]}
    refused = client.post(FEEDBACK, json=body)
    assert (refused.status_code, _code(refused)) == (401, "cds-auth-missing")
    assert len(log) == 0
    token = key.token(aud=AUDIENCE + FEEDBACK)
    assert client.post(FEEDBACK, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert len(log) == 1


def test_a_jsonl_log_keeps_one_line_per_item(rules: backrx.RuleSet, tmp_path: Path) -> None:
    """The JSON Lines log appends one event per feedback item, across calls, in order."""
    path = tmp_path / "feedback.jsonl"
    client = TestClient(cds_hooks.create_app(rules, feedback_log=JsonlFeedbackLog(path)))
    cards = [str(uuid.uuid4()) for _ in range(3)]
    assert client.post(FEEDBACK, json={"feedback": [_override(c) for c in cards[:2]]}).status_code == 200
    assert client.post(FEEDBACK, json={"feedback": [_override(cards[2])]}).status_code == 200
    assert [e["card"] for e in events(path)] == cards
    assert COMMENT not in path.read_text(encoding="utf-8")


def test_the_documented_override_analysis_runs(rules: backrx.RuleSet, tmp_path: Path) -> None:
    """The analysis in docs/cds-hooks.md counts override reasons by card kind for a pack version."""
    log = tmp_path / "feedback.jsonl"
    client = TestClient(cds_hooks.create_app(rules, feedback_log=JsonlFeedbackLog(log)))
    referrals = [c for _ in range(3) for c in _cards(client, ["saddle_anaesthesia"])
                 if c["indicator"] == "critical"]
    codes = ["patient-declined", "patient-declined", "already-referred"]
    items = [_override(card["uuid"], code) for card, code in zip(referrals, codes, strict=True)]
    assert client.post(FEEDBACK, json={"feedback": items}).status_code == 200
    page = (ROOT / "docs" / "cds-hooks.md").read_text(encoding="utf-8")
    [script] = re.findall(r"<!-- analysis -->\n```python\n(.*?)```", page, flags=re.S)
    namespace: dict[str, Any] = {}
    exec(compile(script, "docs/cds-hooks.md[analysis]", "exec"), namespace)
    table = "\n".join(namespace["override_table"](str(log), rules.version))
    assert re.search(r"^referral\s+patient-declined\s+2\b", table, flags=re.M), table
    assert re.search(r"^referral\s+already-referred\s+1\b", table, flags=re.M), table


def test_an_accepted_referral_card_becomes_a_referral_event_on_the_episode(
        client: TestClient, log: MemoryFeedbackLog, rules: backrx.RuleSet) -> None:
    """Where the caller keeps the person's Episode, the feedback accepting the referral card turns
    into a referral event at the recommendation's urgency; an override of the program card adds none,
    and feedback on another person's cards is not taken."""
    from backrx.followup.episode import Episode
    from backrx.interop.cds_feedback import referral_events

    profile = base_profile(red_flags=["inflammatory_back_pain"])
    rec = rules.recommend(backrx.Profile.model_validate(profile))
    assert rec.referral is not None
    mine = _cards(client, ["inflammatory_back_pain"])
    other = _cards(client, ["inflammatory_back_pain"])
    referral, program = mine
    accept = {"card": referral["uuid"], "outcome": "accepted", "outcomeTimestamp": NOW,
              "acceptedSuggestions": [{"id": referral["suggestions"][0]["uuid"]}]}
    body = {"feedback": [accept, _override(program["uuid"]), {**accept, "card": other[0]["uuid"]}]}
    assert client.post(FEEDBACK, json=body).status_code == 200
    made = referral_events(list(log), rec, cards=[c["uuid"] for c in mine], by="Dr A")
    assert made == [{"kind": "referral", "date": "2026-03-02", "urgency": rec.referral.urgency,
                     "reason": rec.referral.reasons[0], "by": "Dr A"}]
    episode = Episode.from_recommendation(rec, "2026-03-01")
    for one in made:
        episode = episode.add(one, rules=rules)
    assert episode.events[-1].kind == "referral"
    assert episode.plan("2026-03-03", rules=rules).referral is not None
