"""The FastAPI recipe in docs/test-and-measure.md runs: pack loaded once, codes mapped to 409/422."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

DOC = Path(__file__).parent.parent / "docs" / "test-and-measure.md"
PROFILE = {"age": 34, "duration_weeks": 22, "pain_site": "lower", "leg_pain": "buttock_thigh",
           "pain_intensity": 5, "tolerance": "moderate", "directional_preference": "extension",
           "red_flags": []}


def _recipe() -> Any:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- fastapi-recipe.*?-->\s*```python\n(.*?)```", text, re.S)
    assert block is not None, "the recipe block is missing from the docs"
    namespace: dict[str, Any] = {"__name__": "recipe"}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)
    return namespace["app"]


def test_the_recipe_serves_recommend_and_adjust() -> None:
    """POST /recommend then /adjust answers 200 with a dated round and a progress summary."""
    with TestClient(_recipe()) as client:
        rec = client.post("/recommend", json=PROFILE)
        assert rec.status_code == 200
        body = {"recommendation": rec.json(), "feedback": {"date": "2026-01-05", "responses": [
            {"exercise_id": "prone-press-up", "pain_during": 2, "next_day": "same",
             "peripheralized": False}]}}
        adjusted = client.post("/adjust", json=body)
        assert adjusted.status_code == 200, adjusted.text
        data = adjusted.json()
        assert data["format_version"] == 2 and data["progress"]["phase"]["phase"] == "calm"
        again = client.post("/adjust", json={**body, "recommendation": data})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "round-out-of-order"


def test_the_recipe_maps_refusals_to_409_and_422() -> None:
    """Undated feedback is 422 date-required; bad input is 422; another pack's plan is 409."""
    with TestClient(_recipe()) as client:
        rec = client.post("/recommend", json=PROFILE).json()
        undated = client.post("/adjust", json={"recommendation": rec, "feedback": {"responses": []}})
        assert undated.status_code == 422 and undated.json()["error"]["code"] == "date-required"
        assert undated.json()["error"]["loc"] == ["date"]
        bad = client.post("/adjust", json={"recommendation": rec, "feedback": {
            "date": "2026-01-05", "responses": [{"exercise_id": "cat-camel", "pain_during": 12,
                                                 "next_day": "same"}]}})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid-input"
        other = dict(rec, ruleset={**rec["ruleset"], "digest": "sha256:" + "0" * 64})
        stale = client.post("/adjust", json={"recommendation": other, "feedback": {
            "date": "2026-01-05", "responses": []}})
        assert stale.status_code == 409 and stale.json()["error"]["code"] == "pack-changed"
        missing = client.post("/recommend", json={"age": 40})
        assert missing.status_code == 422
