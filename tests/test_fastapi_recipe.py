"""The FastAPI recipe in docs/web-service.md runs: pack loaded once, every refusal a coded 409 or 422,
never a 500, and a typed OpenAPI document."""

from __future__ import annotations

import copy
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

DOC = Path(__file__).parent.parent / "docs" / "web-service.md"
PROFILE = {"age": 34, "duration_weeks": 22, "pain_site": "lower", "leg_pain": "buttock_thigh",
           "pain_intensity": 5, "tolerance": "moderate", "directional_preference": "extension",
           "red_flags": []}
FEEDBACK = {"date": "2026-01-05", "responses": [{"exercise_id": "prone-press-up", "pain_during": 2,
                                                  "next_day": "same", "peripheralized": False}]}
#: A text no valid request holds: a refusal that repeated the client's values would show it.
MARKER = "zq-private-note-7351"


def _recipe() -> Any:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- fastapi-recipe.*?-->\s*```python\n(.*?)```", text, re.S)
    assert block is not None, "the recipe block is missing from the docs"
    module = types.ModuleType("backrx_recipe")  # a real module, as an app's own file would be
    sys.modules[module.__name__] = module
    exec(compile(block.group(1), str(DOC), "exec"), module.__dict__)
    return module.app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(_recipe(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def stored(client: TestClient) -> dict[str, Any]:
    answer = client.post("/recommend", json=PROFILE)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _coded(answer: Any) -> list[dict[str, Any]]:
    errors = answer.json()["errors"]
    assert isinstance(errors, list) and errors, answer.text
    for err in errors:
        assert set(err) == {"code", "loc", "msg"}, err
        assert isinstance(err["code"], str) and err["code"] and isinstance(err["msg"], str)
        assert isinstance(err["loc"], list)
    return list(errors)


def test_the_recipe_serves_recommend_and_adjust(client: TestClient, stored: dict[str, Any]) -> None:
    """POST /recommend then /adjust answers 200 with a dated round; the same round again is 409."""
    adjusted = client.post("/adjust", json={"recommendation": stored, "feedback": FEEDBACK})
    assert adjusted.status_code == 200, adjusted.text
    data = adjusted.json()
    assert data["format_version"] == 2 and data["progress"]["phase"]["phase"] == "calm"
    again = client.post("/adjust", json={"recommendation": data, "feedback": FEEDBACK})
    assert again.status_code == 409
    assert [e["code"] for e in _coded(again)] == ["round-out-of-order"]


def test_the_recipe_maps_refusals_to_409_and_422(client: TestClient, stored: dict[str, Any]) -> None:
    """Undated feedback is 422 date-required; a pain of 12 is 422; another pack's plan is 409."""
    undated = client.post("/adjust", json={"recommendation": stored, "feedback": {"responses": []}})
    assert undated.status_code == 422 and _coded(undated) == [
        {"code": "date-required", "loc": ["date"], "msg": undated.json()["errors"][0]["msg"]}]
    bad = client.post("/adjust", json={"recommendation": stored, "feedback": {
        "date": "2026-01-05", "responses": [{"exercise_id": "cat-camel", "pain_during": 12,
                                             "next_day": "same"}]}})
    assert bad.status_code == 422
    assert [e["code"] for e in _coded(bad)] == ["less_than_equal"]
    assert _coded(bad)[0]["loc"][-1] == "pain_during"
    other = dict(stored, ruleset={**stored["ruleset"], "digest": "sha256:" + "0" * 64})
    stale = client.post("/adjust", json={"recommendation": other, "feedback": {
        "date": "2026-01-05", "responses": []}})
    assert stale.status_code == 409 and _coded(stale)[0]["code"] == "pack-changed"


def test_an_empty_adjust_is_422_naming_both_fields(client: TestClient) -> None:
    """POST /adjust {} answers 422 with one `missing` error for recommendation and one for feedback."""
    answer = client.post("/adjust", json={})
    assert answer.status_code == 422
    assert sorted((e["code"], e["loc"][-1]) for e in _coded(answer)) == [
        ("missing", "feedback"), ("missing", "recommendation")]


def test_a_profile_missing_its_fields_is_422(client: TestClient) -> None:
    """POST /recommend with only an age is 422 listing each missing required field."""
    answer = client.post("/recommend", json={"age": 40})
    assert answer.status_code == 422
    missing = {e["loc"][-1] for e in _coded(answer) if e["code"] == "missing"}
    assert {"pain_site", "leg_pain", "pain_intensity", "tolerance", "red_flags"} <= missing


def test_the_openapi_document_is_typed(client: TestClient) -> None:
    """OpenAPI names Profile and AdjustRequest as bodies, Recommendation as the answer, Refusal for 4xx."""
    spec = client.get("/openapi.json").json()

    def ref(node: dict[str, Any]) -> str:
        return str(node["content"]["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]

    for path, body in (("/recommend", "Profile"), ("/adjust", "AdjustRequest")):
        post = spec["paths"][path]["post"]
        assert ref(post["requestBody"]) == body
        assert ref(post["responses"]["200"]).startswith("Recommendation")
        assert ref(post["responses"]["422"]) == ref(post["responses"]["409"]) == "Refusal"
    schemas = spec["components"]["schemas"]
    assert set(schemas["AdjustRequest"]["required"]) == {"recommendation", "feedback"}
    assert "HTTPValidationError" not in schemas


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.just(MARKER),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place in ``doc`` (each key of each object, each item of each list)."""
    keys: Any = doc.keys() if isinstance(doc, dict) else range(len(doc)) if isinstance(doc, list) else ()
    out: list[tuple[str | int, ...]] = []
    for key in keys:
        out.append((*prefix, key))
        out += _paths(doc[key], (*prefix, key))
    return out


def _broken(base: Any, paths: list[tuple[str | int, ...]]) -> st.SearchStrategy[Any]:
    """``base`` with the value at one of its places replaced by random JSON, or removed."""

    def apply(path: tuple[str | int, ...], remove: bool, value: Any) -> Any:
        out = copy.deepcopy(base)
        parent = out
        for part in path[:-1]:
            parent = parent[part]
        if remove:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
        return out

    return st.builds(apply, st.sampled_from(paths), st.booleans(), _json)


PROFILE_PATHS = _paths(PROFILE)
FEEDBACK_PATHS = _paths(FEEDBACK)


def _requests(stored: dict[str, Any], stored_paths: list[tuple[str | int, ...]]
              ) -> st.SearchStrategy[tuple[str, Any]]:
    random = st.tuples(st.sampled_from(["/recommend", "/adjust"]), _json)
    profile = st.tuples(st.just("/recommend"), _broken(PROFILE, PROFILE_PATHS))
    rec = _broken(stored, stored_paths).map(lambda r: {"recommendation": r, "feedback": FEEDBACK})
    feedback = _broken(FEEDBACK, FEEDBACK_PATHS).map(lambda f: {"recommendation": stored, "feedback": f})
    return random | profile | st.tuples(st.just("/adjust"), rec | feedback)


@pytest.mark.slow
@settings(max_examples=1200, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_request_makes_the_service_fail(client: TestClient, stored: dict[str, Any], data: Any) -> None:
    """Whatever a client sends to either route, it gets a plan or a coded refusal, never a crash,
    and a refusal never repeats a text the client sent."""
    base = copy.deepcopy(stored)  # each example starts from the same stored plan, whatever came before
    route, body = data.draw(_requests(base, _paths(base)))
    answer = client.post(route, json=body)
    event(f"{route} {answer.status_code}")
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.status_code in (409, 422)
        _coded(answer)
        assert MARKER not in answer.text
