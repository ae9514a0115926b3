"""JSON Schemas for embedding apps and editors: Profile, Recommendation, and rule files."""

from __future__ import annotations

from typing import Any

from backrx.lang.condition import ALWAYS_SCHEMA, OPERATORS
from backrx.model.profile import Profile
from backrx.model.recommendation import Recommendation
from backrx.model.vocabulary import ADJUST_FIELDS, FIELDS, as_data
from backrx.pack.actions import ACTIONS
from backrx.pack.model import INPUTS, LAYERS, SOURCE_KINDS
from backrx.pack.read import RULE_ID

_TEXT = {"type": "string", "minLength": 1}


def _condition_schema() -> dict[str, Any]:
    scalar = {"type": ["string", "number", "boolean"]}
    ops = {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {op.name: op.schema for op in OPERATORS.values()},
    }
    field_names = [*FIELDS, *ADJUST_FIELDS, "derived.<name>"]
    return {
        "description": "Exactly one key: all, any, not, at_least, always, or a field name "
        f"({', '.join(field_names)}) mapped to operators or to a value (eq).",
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {
            "all": {"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1},
            "any": {"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1},
            "not": {"$ref": "#/$defs/condition"},
            "always": ALWAYS_SCHEMA,
            "at_least": {
                "type": "object", "additionalProperties": False, "required": ["count", "of"],
                "properties": {"count": {"type": "integer", "minimum": 1},
                               "of": {"type": "array", "items": {"$ref": "#/$defs/condition"},
                                      "minItems": 2, "maxItems": 8}},
            },
        },
        "additionalProperties": {"oneOf": [ops, scalar]},
    }


def rule_file_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file (``layer`` plus ``rules``); ``then`` follows the action table."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "backrx rule file",
        "type": "object",
        "additionalProperties": False,
        "required": ["layer", "rules"],
        "properties": {
            "layer": {"enum": list(LAYERS)},
            "inputs": {"enum": list(INPUTS), "default": "profile",
                       "description": "what the layer's rules read: the profile, or a round of feedback"},
            "description": {"type": "string"},
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
        },
        "$defs": {
            "condition": _condition_schema(),
            "rule": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "title", "when", "then", "rationale", "sources"],
                "properties": {
                    "id": {"type": "string", "pattern": RULE_ID.pattern},
                    "title": _TEXT,
                    "priority": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                    "when": {"$ref": "#/$defs/condition"},
                    "then": {
                        "type": "object", "additionalProperties": False, "minProperties": 1,
                        "properties": {name: {**action.schema, "description": action.description}
                                       for name, action in ACTIONS.items()},
                    },
                    "rationale": _TEXT,
                    "patient": {**_TEXT, "description": "the rationale in plain words, for the patient "
                                "view (no rule ids, sources or jargon)"},
                    "sources": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "evidence": {"oneOf": [
                        {"enum": list(SOURCE_KINDS)},
                        {"type": "object", "additionalProperties": False, "required": ["kind"],
                         "properties": {"kind": {"enum": list(SOURCE_KINDS)}, "grade": _TEXT,
                                        "note": _TEXT}}]},
                    "design": {"type": "boolean"},
                },
            },
        },
    }


_PRESENT = {"not": {"type": "null"}}  # given, and not null


def _given(*names: str) -> dict[str, Any]:
    """Matches an object where each of ``names`` is given and not null."""
    return {"required": list(names), "properties": dict.fromkeys(names, _PRESENT)}


def _is(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": [name], "properties": {name: schema}}


def _absent(*names: str) -> dict[str, Any]:
    return {"properties": {name: {"type": "null"} for name in names}}


#: What the model checks but JSON Schema cannot say (it cannot compare two values or see the text).
_PROFILE_LIMITS = (
    "Checked by backrx but not by this schema: history.back_pain_onset_age is not greater than age "
    "(onset-age-mismatch); history.pregnancy_weeks is not greater than history.postpartum_weeks "
    "(pregnant-and-postpartum); no list holds more than 200 items before duplicates are dropped "
    "(too_long); no JSON object repeats a key (json-duplicate-key); no text holds a control "
    "character (control-character). Codes: docs/errors.md."
)


def _profile_rules(schema: dict[str, Any]) -> dict[str, Any]:
    """The Profile model's cross-field checks, written as JSON Schema where it can say them."""
    from backrx.model.profile import ACUTE_BEFORE_WEEKS, CHRONIC_FROM_WEEKS, RED_FLAGS, History

    rules: list[dict[str, Any]] = [
        # stage-required: duration_weeks or stage
        {"anyOf": [_given("duration_weeks"), _given("stage")]},
        # trauma-mismatch: no major_trauma flag when trauma is none or minor
        {"if": _is("trauma", {"enum": ["none", "minor"]}),
         "then": {"properties": {"red_flags": {"not": {"contains": {"const": "major_trauma"}}}}}},
        # sex-pregnancy-mismatch
        {"if": _is("sex", {"const": "male"}),
         "then": {"properties": {"history": {"properties": {
             "pregnant": {"not": {"const": True}}, "pregnancy_weeks": {"type": "null"},
             "postpartum_weeks": {"type": "null"}}}}}},
    ]
    stage_weeks: dict[str, dict[str, float]] = {  # stage-mismatch: the weeks each stage covers
        "acute": {"exclusiveMaximum": ACUTE_BEFORE_WEEKS},
        "subacute": {"minimum": ACUTE_BEFORE_WEEKS, "exclusiveMaximum": CHRONIC_FROM_WEEKS},
        "chronic": {"minimum": CHRONIC_FROM_WEEKS},
    }
    for stage, weeks in stage_weeks.items():
        rules.append({"if": _is("stage", {"const": stage}),
                      "then": {"properties": {"duration_weeks": weeks}}})
    for flag in RED_FLAGS:  # red-flag-sure-and-unsure
        rules.append({"if": _is("red_flags", {"contains": {"const": flag}}),
                      "then": {"properties": {"red_flags_unsure": {"not": {"contains": {"const": flag}}}}}})
    defs = schema["$defs"]
    surgeon = [name for name in ("surgeon_clearance", "surgeon_restrictions") if name in History.model_fields]
    defs["History"]["allOf"] = [
        # pregnancy-mismatch
        {"if": _is("pregnant", {"const": False}), "then": _absent("pregnancy_weeks")},
        # surgery-fields-without-surgery
        *({"if": _given(name), "then": {"anyOf": [_given("recent_spinal_surgery_weeks"),
                                                  _given("spinal_surgery")]}} for name in surgeon),
    ]
    defs["Findings"]["allOf"] = [  # neuro-trend-without-sign
        {"not": {"required": ["neuro_trend", "weakness", "sensory_loss", "difficulty_walking",
                              "severe_weakness", "umn_signs"],
                 "properties": {"neuro_trend": _PRESENT, "weakness": {"const": False},
                                "sensory_loss": {"const": False}, "difficulty_walking": {"const": False},
                                "severe_weakness": {"const": False}, "umn_signs": {"const": []}}}},
    ]
    schema["allOf"] = rules
    schema["description"] = f"{schema.get('description', '')}\n\n{_PROFILE_LIMITS}".strip()
    return schema


def feedback_schema() -> dict[str, Any]:
    """The JSON Schema of a round of feedback, with its cross-field rule on dates."""
    from backrx.model.feedback import Feedback

    schema = Feedback.model_json_schema()
    # date-required: a round whose responses carry dates gives its own date
    schema["allOf"] = [{"if": {"properties": {"responses": {"contains": _given("date")}}},
                        "then": _given("date")}]
    schema["description"] = (f"{schema.get('description', '')}\n\nChecked by backrx but not by this "
                             "schema: no response is dated after the round (date-after-round); a "
                             "stored recommendation of format 2 or later needs the round's date "
                             "(date-required, checked by adjust); each PSFS activity is scored once "
                             "(duplicate-activity, compared without case). Codes: docs/errors.md.").strip()
    return schema


def profile_schema() -> dict[str, Any]:
    """The JSON Schema of a Profile, with the model's cross-field rules (``if``/``then``, ``anyOf``)."""
    return _profile_rules(Profile.model_json_schema())


def schemas() -> dict[str, Any]:
    """Every schema backrx publishes, by name."""
    return {
        "profile": profile_schema(),
        "feedback": feedback_schema(),
        "recommendation": Recommendation.model_json_schema(mode="serialization"),
        "rules": rule_file_schema(),
        "vocabulary": as_data(),
    }
