"""FHIR out for the questionnaire: a Profile as a completed QuestionnaireResponse to backrx's
Questionnaire (the inverse of `backrx.interop.questionnaire_response.from_fhir`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backrx.interop.questionnaire import (
    NO_RED_FLAGS,
    QUESTIONNAIRE_URL,
    SYSTEM_PREFIX,
    ItemNode,
    ItemSpec,
    item_specs,
    item_tree,
)
from backrx.model.profile import Profile

__all__ = ["to_questionnaire_response"]


def to_questionnaire_response(profile: Profile, *, subject: str | None = None) -> dict[str, Any]:
    """A completed QuestionnaireResponse to backrx's Questionnaire holding ``profile``'s answers.

    The inverse of `from_fhir` (for tests and integrations); needs no FHIR library.
    """
    data = profile.model_dump(mode="json", exclude_unset=True)
    specs = item_specs()

    def answer(spec: ItemSpec, value: Any) -> dict[str, Any]:
        if spec.kind == "boolean":
            return {"valueBoolean": value}
        if spec.kind == "integer":
            return {"valueInteger": value}
        if spec.kind == "decimal":
            return {"valueDecimal": value}
        if spec.kind == "string":
            return {"valueString": value}
        if spec.kind == "date":
            return {"valueDate": value}
        if spec.kind == "agreement":
            code = "agree" if value else "disagree"
        elif spec.kind == "bothersomeness":
            code = spec.codes[value]
        else:
            code = value
        system = SYSTEM_PREFIX + ("startback.agreement" if spec.kind == "agreement" else spec.link_id)
        display = spec.displays[spec.codes.index(code)]
        return {"valueCoding": {"system": system, "code": code, "display": display}}

    def lookup(root: Any, path: Sequence[str]) -> tuple[bool, Any]:
        node: Any = root
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False, None
            node = node[part]
        return True, node

    def build(items: tuple[ItemNode, ...], root: Any, offset: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if item.type == "group" and item.repeats:
                path = item.link_id.split(".")
                _, objects = lookup(root, path[offset:])
                for element in objects or []:
                    children = build(item.children, element, len(path))
                    if children:
                        out.append({"linkId": item.link_id, "item": children})
                continue
            if item.type == "group":
                children = build(item.children, root, offset)
                if children:
                    out.append({"linkId": item.link_id, "item": children})
                continue
            spec = specs[item.link_id]
            present, value = lookup(root, spec.path[offset:])
            if not present or value is None:
                continue
            if spec.repeats and value == [] and NO_RED_FLAGS in spec.codes:
                value = [NO_RED_FLAGS]
            values = value if spec.repeats else [value]
            if values:
                out.append({"linkId": item.link_id, "answer": [answer(spec, v) for v in values]})
        return out

    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": QUESTIONNAIRE_URL,
        "status": "completed",
        "item": build(item_tree(), data, 0),
    }
    if subject is not None:
        response["subject"] = {"reference": f"Patient/{subject}"}
    return response
