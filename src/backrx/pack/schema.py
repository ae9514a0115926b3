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


def schemas() -> dict[str, Any]:
    """Every schema backrx publishes, by name."""
    return {
        "profile": Profile.model_json_schema(),
        "recommendation": Recommendation.model_json_schema(mode="serialization"),
        "rules": rule_file_schema(),
        "vocabulary": as_data(),
    }
