"""What backrx sends to durable_rules, as text: facts and ruleset definitions in JSON.

Kept apart from the adapter (`backrx.engine._durable`, the only module that imports
durable_rules) because none of it needs the engine: facts are flat (a dotted path becomes
``a__b``, a list its length plus one boolean key per member), floats are written with a ``.``
before any exponent (durable refuses ``5e-05`` and takes ``5.0e-05``), and every text is
written exactly as the C encoder would, so the faster writers here are held equal to the plain
ones by property tests.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from backrx.lang.condition import Value
from backrx.pack.model import Pack

#: The positive test every backrx pattern starts with, and the key every fact carries.
GUARD_KEY = "__backrx"
#: The one session id of every backrx ruleset.
SID = "1"


def fact_key(path: str) -> str:
    """The flat key of a field in a durable fact."""
    return path.replace(".", "__")


def member_key(path: str, member: str) -> str:
    """The flat key that says a list field holds ``member``."""
    return f"{fact_key(path)}___{member}"


def number(value: float) -> str:
    text = repr(value)
    mantissa, sep, exponent = text.partition("e")
    if sep and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"  # durable rejects 5e-05 but accepts 5.0e-05
    return text


def dumps(obj: Any) -> str:
    """JSON as durable accepts it."""
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return number(obj)
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, dict):
        return "{" + ",".join(f"{dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    raise TypeError(f"cannot send {type(obj).__name__} to the engine")  # pragma: no cover


def _exponent_floats(obj: Any) -> bool:
    """Whether a float anywhere in ``obj`` would be written with an exponent (``5e-05``)."""
    if isinstance(obj, float):
        return "e" in repr(obj)
    if isinstance(obj, dict):
        return any(_exponent_floats(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_exponent_floats(v) for v in obj)
    return False


def definition_json(obj: Any) -> str:
    """A ruleset definition as durable accepts it: the C encoder, unless a float needs `dumps`
    (the same text either way: compact, non-ASCII kept, floats as ``repr`` writes them)."""
    if _exponent_floats(obj):
        return dumps(obj)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _plain_floats(fact: dict[str, Any]) -> bool:
    return not any(isinstance(v, float) and "e" in repr(v) for v in fact.values())


def fact_json(fact: dict[str, Any]) -> str:
    """A flat fact as JSON: the C encoder, unless a float would be written in a form durable refuses."""
    if _plain_floats(fact):
        return json.dumps(fact, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return dumps(fact)


def encode(values: Mapping[str, Value], fields: tuple[str, ...]) -> dict[str, Any]:
    """The durable fact for one layer: only the fields it reads, flat."""
    fact: dict[str, Any] = {"sid": SID, GUARD_KEY: 1}
    for path in fields:
        value = values.get(path)
        if value is None:
            continue
        if isinstance(value, frozenset):
            fact[fact_key(path)] = len(value)
            for member in value:
                fact[member_key(path, member)] = True
        else:
            fact[fact_key(path)] = value
    return fact


_encode_string = json.encoder.encode_basestring
_HEAD = '{"sid":' + _encode_string(SID) + ',"' + GUARD_KEY + '":1'


class FactWriter:
    """Writes a layer's fact as JSON straight from the values: the same text as
    ``fact_json(encode(values, fields))`` without building the dict first (a test holds them
    equal). The fields are unrolled into one compiled function per writer, each key escaped
    once; as in `backrx.engine._compiled`, no name from the pack is written into the
    source: every key is passed in as a constant."""

    __slots__ = ("_members", "_write")

    def __init__(self, fields: tuple[str, ...], kinds: Mapping[str, str] | None = None) -> None:
        self._members: dict[tuple[str, str], str] = {}
        names: dict[str, Any] = {"HEAD": _HEAD, "S": _encode_string, "F": _float_json,
                                 "M": self._members_of, "O": _other_json}
        lines = ["def write(values):", "    get = values.get", "    out = [HEAD]", "    add = out.append"]
        for i, path in enumerate(fields):
            key = "," + _encode_string(fact_key(path)) + ":"
            names.update({f"p{i}": path, f"k{i}": key, f"t{i}": key + "true", f"f{i}": key + "false"})
            # The field's declared kind picks the one test written out; any other value (a
            # subclass, an int in a float field) takes the general writer, so the text is the same.
            other = f"k{i} + O(v, p{i}, M)"
            fast = {
                "bool": f"t{i} if v is True else f{i} if v is False else {other}",
                "int": f"k{i} + str(v) if type(v) is int else {other}",
                "float": f"k{i} + F(v) if type(v) is float else {other}",
                "enum": f"k{i} + S(v) if type(v) is str else {other}",
                "list": f"k{i} + str(len(v)) + M(p{i}, v) if type(v) is frozenset else {other}",
            }.get((kinds or {}).get(path, ""), other)
            lines += [f"    v = get(p{i})", f"    if v is not None: add({fast})"]
        lines += ['    add("}")', '    return "".join(out)']
        exec(compile("\n".join(lines), "<backrx fact>", "exec"), names)
        self._write: Callable[[Mapping[str, Value]], str] = names["write"]

    def __call__(self, values: Mapping[str, Value]) -> str:
        return self._write(values)

    def _members_of(self, path: str, members: frozenset[str]) -> str:
        """The flat keys that say ``path`` holds each member, each with its leading comma."""
        return "".join([self._member(path, member) for member in members])

    def _member(self, path: str, member: str) -> str:
        found = self._members.get((path, member))
        if found is None:
            found = "," + _encode_string(member_key(path, member)) + ":true"
            if len(self._members) < 4096:  # members come from closed vocabularies; a bound anyway
                self._members[(path, member)] = found
        return found


def kinds_of(pack: Pack, fields: tuple[str, ...]) -> dict[str, str]:
    """The declared kind of each field the pack knows (bool, int, float, enum or list)."""
    out: dict[str, str] = {}
    for path in fields:
        with contextlib.suppress(KeyError):
            out[path] = pack.field(path).kind
    return out


def _other_json(value: Any, path: str, members: Callable[[str, frozenset[str]], str]) -> str:
    """A value of a subclass of the usual types, as the dict encoder writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset):
        return str(len(value)) + members(path, value)
    if isinstance(value, str):
        return str(_encode_string(value))
    if isinstance(value, float):
        return _float_json(value)
    return str(int(value))


def _float_json(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"cannot send {value!r} to the engine")  # as json.dumps(allow_nan=False)
    return number(value)
