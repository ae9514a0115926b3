"""Door 3 of issue 22: `from_fhir` never loses a red flag, never echoes input, and refuses what it
cannot read with a coded error. Each test below is a repro from the issue; all fail on 3ef2345."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import backrx
from backrx.interop.fhir import RED_FLAG_SYSTEM, to_questionnaire_response
from backrx.model.profile import RED_FLAGS

pytest.importorskip("fhir.resources")
from tests.conftest import base_profile

SECRET = "SECRET-4711"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _response(**changes: Any) -> dict[str, Any]:
    return to_questionnaire_response(backrx.Profile.model_validate(base_profile(**changes)))


def _flag_item(flag: str) -> dict[str, Any]:
    return {"linkId": "red_flags", "answer": [{"valueCoding": {"system": RED_FLAG_SYSTEM, "code": flag}}]}


def _error(resource: Any, **options: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        backrx.from_fhir(resource, **options)
    return caught.value


def _types(error: ValidationError) -> set[str]:
    return {str(e["type"]) for e in error.errors()}


@pytest.mark.parametrize("under", ["answer.item", "item.item"])
def test_a_nested_flag_beside_a_top_level_none_is_never_read_as_no(under: str) -> None:
    """A flag under `answer.item` or `item.item` beside a top-level "none" is a conflict, never no flags."""
    response = _response()
    host = response["item"][0]
    if under == "answer.item":
        host["answer"][0]["item"] = [_flag_item("saddle_anaesthesia")]
    else:
        host["item"] = [_flag_item("saddle_anaesthesia")]
    error = _error(response)
    assert any(e["type"] == "fhir-answer-conflict" and e["loc"] == ("item", "red_flags", "answer")
               for e in error.errors())


@pytest.mark.parametrize("under", ["answer.item", "item.item"])
def test_a_nested_flag_counts(under: str) -> None:
    """A red flag answered only under another item's answer or item is read, and refers."""
    response = _response()
    response["item"] = [i for i in response["item"] if i["linkId"] != "red_flags"]
    host = response["item"][0]
    if under == "answer.item":
        host["answer"][0]["item"] = [_flag_item("cancer_history")]
    else:
        host["item"] = [_flag_item("cancer_history")]
    profile = backrx.from_fhir(response)
    assert profile.red_flags == ["cancer_history"]
    assert backrx.recommend(profile).outcome == "refer"


def test_a_condition_both_confirmed_and_refuted_keeps_its_flag() -> None:
    """A Condition whose verification says confirmed and refuted keeps cancer_history (the safer reading)."""
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
                 "code": {"coding": [{"system": RED_FLAG_SYSTEM, "code": "cancer_history"}]},
                 "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"},
                                                   {"system": VERIFICATION, "code": "refuted"}]}}
    profile = backrx.from_fhir(_response(), conditions=[condition])
    assert profile.red_flags == ["cancer_history"]


def _bad(kind: str) -> Any:
    response = _response()
    if kind == "answer":
        response["item"].append({"linkId": "leg_pain", "answer": [{"valueString": SECRET}]})
    elif kind == "linkId":
        response["item"].append({"linkId": f"{SECRET} of Jane Doe", "answer": [{"valueInteger": 1}]})
    elif kind == "status":
        response["status"] = SECRET
    elif kind == "questionnaire":
        response["questionnaire"] = f"http://example.org/{SECRET}"
    elif kind == "resourceType":
        response["resourceType"] = SECRET
    elif kind == "json":
        return '{"resourceType": "QuestionnaireResponse", "id": "' + SECRET
    elif kind == "authored":
        response["authored"] = SECRET
    return response


@pytest.mark.parametrize("kind", ["answer", "linkId", "status", "questionnaire", "resourceType", "json",
                                  "authored"])
def test_errors_never_echo_input_values(kind: str) -> None:
    """No error repeats a value from the document: no `input_value=`, no excerpt, no free-text linkId."""
    error = _error(_bad(kind))
    assert SECRET not in str(error) and "input_value" not in str(error)
    parts = [[e["loc"], e["msg"], e.get("input")] for e in error.errors()]
    assert SECRET not in json.dumps(parts, default=str)


def _deep(depth: int) -> dict[str, Any]:
    response = _response()
    node = response["item"][0]
    for _ in range(depth):
        child: dict[str, Any] = {"linkId": "history"}
        node["item"] = [child]
        node = child
    return response


def test_null_items_and_deep_nesting_are_coded_errors() -> None:
    """`"item": null` and groups nested 200 deep are coded errors, not TypeError or RecursionError."""
    null = _response()
    null["item"] = None
    assert _types(_error(null)) == {"fhir-red-flags-unanswered"}
    assert _types(_error(_deep(200))) == {"fhir-too-deep"}
    assert _types(_error(json.dumps(_deep(200)))) == {"fhir-too-deep"}


def test_oversized_documents_are_a_coded_error() -> None:
    """A document over the size limit, as text or as data, is refused with `fhir-too-large`."""
    big = _response()
    big["text"] = {"status": "generated", "div": "<div>" + "x" * 5_000_001 + "</div>"}
    assert _types(_error(big)) == {"fhir-too-large"}
    assert _types(_error(json.dumps(big))) == {"fhir-too-large"}


# -- the property: a flag answered anywhere is never read as "no flags" ---------------------------


@st.composite
def _placed_flags(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid response with one red flag moved to a random depth (under answers or items), plus
    optional noise: a "none" red-flag answer left in place, or an unreadable answer."""
    flag = draw(st.sampled_from(RED_FLAGS))
    response = _response()
    keep_none = draw(st.booleans())
    if not keep_none:
        response["item"] = [i for i in response["item"] if i["linkId"] != "red_flags"]
    host = draw(st.sampled_from([i for i in response["item"] if i["linkId"] != "red_flags"]))
    holder = host["answer"][0] if draw(st.booleans()) else host  # under the answer, or the question
    for _ in range(draw(st.integers(0, 6))):  # inside groups nested to a random depth
        group: dict[str, Any] = {"linkId": "history"}
        holder.setdefault("item", []).append(group)
        holder = group
    holder.setdefault("item", []).append(_flag_item(flag))
    if draw(st.booleans()):
        response["item"].append({"linkId": "pain_intensity", "answer": [{"valueInteger": 99}]})
    return response, flag


@given(case=_placed_flags())
def test_a_flag_answered_anywhere_is_never_read_as_no_flags(case: tuple[dict[str, Any], str]) -> None:
    """Wherever a red flag is answered, and whatever else is wrong, from_fhir either refuses the
    response or returns a profile that holds the flag (a clinician never gets "no flags")."""
    response, flag = case
    try:
        profile: backrx.Profile | None = backrx.from_fhir(copy.deepcopy(response))
    except ValidationError:
        profile = None  # refused: the caller gets no profile, so no "no"
    assert profile is None or flag in profile.red_flags
