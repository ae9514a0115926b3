"""Safe YAML for untrusted rule packs and profiles: plain data only, with line numbers.

Refused: anchors and aliases (so no alias bombs), every tag that is not a plain
scalar, mapping or sequence (so nothing builds objects), duplicate keys, and
documents nested deeper than `MAX_DEPTH`.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from backrx.errors import InputError

MAX_DEPTH = 40

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class YamlError(InputError):
    """A YAML document that backrx refuses, with its file, line and a kebab-case code
    (``errors()`` gives ``loc = (file, line)``)."""

    def __init__(self, file: str, line: int | None, code: str, message: str) -> None:
        self.file = file
        self.line = line
        self.code = code
        self.message = message
        self.loc = (file, line) if line is not None else (file,)
        where = f"{file}:{line}" if line is not None else file
        ValueError.__init__(self, f"{where}  {message}  [code={code}]")

    def __reduce__(self) -> tuple[type[YamlError], tuple[str, int | None, str, str]]:  # type: ignore[override]
        return (type(self), (self.file, self.line, self.code, self.message))


class LDict(dict[str, Any]):
    """A mapping read from YAML that remembers its own line and each key's line."""

    line: int
    key_lines: dict[str, int]


class LList(list[Any]):
    """A sequence read from YAML that remembers its own line and each item's line."""

    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise YamlError(
                str(self.name),
                event.start_mark.line + 1,
                "yaml-alias",
                "YAML aliases (*name) are not allowed in backrx files; write the value out",
            )
        return super().compose_node(parent, index)


_SCALARS = yaml.SafeLoader("")


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _AliasSeenError(Exception):
    """libyaml resolved an alias into a node already seen; the Python parser will say where."""


def _convert(node: Node, file: str, depth: int, seen: set[int] | None = None) -> Any:
    if seen is not None:
        if id(node) in seen:
            raise _AliasSeenError
        seen.add(id(node))
    if depth > MAX_DEPTH:
        raise YamlError(file, _line(node), "yaml-too-deep", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ScalarNode):
        if node.tag == "tag:yaml.org,2002:str":
            return node.value
        if node.tag == "tag:yaml.org,2002:timestamp":
            return str(node.value)  # a date is kept as the text that was written
        if node.tag not in _PLAIN_TAGS:
            raise YamlError(
                file,
                _line(node),
                "yaml-tag",
                f"tag {node.tag!r} is not allowed: only plain strings, numbers, booleans and null",
            )
        constructor = _SCALARS.yaml_constructors[node.tag]
        try:
            return constructor(_SCALARS, node)
        except (ValueError, KeyError, TypeError):  # e.g. "!!int abc", "!!bool maybe"
            raise YamlError(file, _line(node), "yaml-value",
                            f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}") from None
    if isinstance(node, SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise YamlError(file, _line(node), "yaml-tag", f"tag {node.tag!r} is not allowed")
        out = LList(_convert(item, file, depth + 1, seen) for item in node.value)
        out.line = _line(node)
        out.item_lines = [_line(item) for item in node.value]
        return out
    if isinstance(node, MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise YamlError(file, _line(node), "yaml-tag", f"tag {node.tag!r} is not allowed")
        mapping = LDict()
        mapping.line = _line(node)
        mapping.key_lines = {}
        for key_node, value_node in node.value:
            key = _convert(key_node, file, depth + 1, seen)
            if isinstance(key, (dict, list)) or key is None:
                raise YamlError(file, _line(key_node), "yaml-key", "mapping keys must be plain text")
            key = str(key) if not isinstance(key, str) else key
            if key in mapping:
                raise YamlError(file, _line(key_node), "yaml-duplicate-key", f"key {key!r} appears twice")
            mapping[key] = _convert(value_node, file, depth + 1, seen)
            mapping.key_lines[key] = _line(key_node)
        return mapping
    raise YamlError(file, _line(node), "yaml-syntax", "unsupported YAML node")  # pragma: no cover


def load(text: str, file: str) -> Any:
    """Parse one YAML document into plain data with line information (LDict / LList).

    libyaml parses when PyYAML has it (about ten times faster), also when the text holds a
    ``*`` (in a comment or a string): libyaml composes an alias as the very node it names, so
    the conversion meets that node a second time and refuses it before expanding anything. Only
    then, and for syntax errors, does the pure-Python parser run, to report the exact line.
    """
    if _CLoader is not None:
        try:
            node = _CLoader(text).get_single_node()
        except (yaml.YAMLError, RecursionError):
            node = _NO_NODE  # let the Python parser describe the problem
        if node is not _NO_NODE:
            if node is None:
                return None
            try:
                return _convert(node, file, 0, set())
            except _AliasSeenError:
                pass
    return _load_python(text, file)


_CLoader: Any = getattr(yaml, "CSafeLoader", None)
HAS_LIBYAML: bool = _CLoader is not None  # the fast parser; without it every file takes the Python one
_NO_NODE: Any = object()


def _load_python(text: str, file: str) -> Any:
    loader = _Loader(text)
    loader.name = file
    try:
        node = loader.get_single_node()
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise YamlError(file, line, "yaml-syntax", f"invalid YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise YamlError(file, None, "yaml-syntax", f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(file, None, "yaml-too-deep", "document is nested too deeply") from None
    finally:
        loader.dispose()
    if node is None:
        return None
    return _convert(node, file, 0)


def plain(value: Any) -> Any:
    """Data read with line information (LDict / LList) as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def load_plain(text: str, file: str) -> Any:
    """Parse one YAML document into plain dicts and lists (no line information)."""
    return plain(load(text, file))
