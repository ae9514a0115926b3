"""The fast JSON writer of the output models: the stored format, written by pydantic-core alone.

Every output model leaves out the optional fields that hold their empty default (None, [] or
{}), which `backrx.model.measures.Compact` does in Python, once per model on every dump:
about four fifths of the time ``Recommendation.model_dump_json()`` took (measured). This module
builds, once, a second serializer from the model's own core schema in which each such Python
step is replaced by the same rule stated per field (``serialization_exclude_if``: the field's
value is None, an empty list or an empty dict, as its default says), so the whole dump runs in
pydantic-core. Everything else in the schema is the model's own, untouched.

The writer is held to the validated slow path (``BaseModel.model_dump_json``) byte for byte on
generated recommendations (tests/test_perf_fastpath.py); `Recommendation.model_dump_json`
uses it when called without options, and the slow path otherwise.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel
from pydantic_core import SchemaSerializer

_lock = threading.Lock()
_writers: dict[type[BaseModel], SchemaSerializer] = {}


def _is_none(value: Any) -> bool:
    return value is None


def _is_empty_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset)) and not value


def _is_empty_dict(value: Any) -> bool:
    return isinstance(value, dict) and not value


def _compact_step(serialization: Any) -> bool:
    """Whether a model's serialization is Compact's Python step (and nothing else)."""
    if not isinstance(serialization, dict) or serialization.get("type") != "function-wrap":
        return False
    function = serialization.get("function")
    return (getattr(function, "__module__", "") == "backrx.model.measures"
            and getattr(function, "__qualname__", "") == "Compact._without_empty_defaults")


def _empty_tests(cls: type[BaseModel]) -> dict[str, Any]:
    """The test of each optional field of ``cls`` whose default is None, [] or {} (as Compact reads them)."""
    out: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if info.is_required() or info.default_factory_takes_validated_data:
            continue  # a default computed from the other fields is never left out
        default = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
        if default is None:
            out[name] = _is_none
        elif isinstance(default, list) and not default:
            out[name] = _is_empty_list
        elif isinstance(default, dict) and not default:
            out[name] = _is_empty_dict
    return out


def _model_fields(node: dict[str, Any]) -> dict[str, Any]:
    inner = node["schema"]
    while inner.get("type") != "model-fields":  # a model validator wraps the fields' schema
        inner = inner["schema"]
    fields: dict[str, Any] = inner["fields"]
    return fields


def _rewritten(node: Any) -> Any:
    """A copy of a core schema with each of Compact's Python steps stated per field instead."""
    if isinstance(node, list):
        return [_rewritten(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _rewritten(value) for key, value in node.items()}
    if out.get("type") == "model" and _compact_step(out.get("serialization")):
        del out["serialization"]
        fields = _model_fields(out)
        for name, test in _empty_tests(out["cls"]).items():
            fields[name] = {**fields[name], "serialization_exclude_if": test}
    return out


def writer(cls: type[BaseModel]) -> SchemaSerializer:
    """The fast serializer of ``cls``, built on first use."""
    found = _writers.get(cls)
    if found is None:
        schema = cls.__pydantic_core_schema__
        built = SchemaSerializer(_rewritten(schema), schema.get("config"))
        with _lock:
            found = _writers.setdefault(cls, built)
    return found


def dump_json(model: BaseModel) -> str:
    """``model.model_dump_json()`` with its default options, written by `writer`."""
    return writer(type(model)).to_json(model).decode()
