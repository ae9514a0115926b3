"""Parsed pack files, kept as JSON so that a pack is not parsed from YAML again and again.

Parsing YAML with line numbers is most of what loading a pack costs (about 60 ms of the bundled
pack's load, against about 2 ms to read the same data back from JSON). A parsed file is kept:

* in this process, by the SHA-256 of its bytes (a worker that checks a pickled pack's digest and
  then loads it parses it once, not twice);
* on disk, next to the file, in a ``.backrx-cache`` folder (as Python keeps compiled modules in
  ``__pycache__``), so that the next process reads JSON instead of YAML. Nothing is written
  where the folder is not writable; ``BACKRX_PACK_CACHE=0`` turns the disk cache off.

Only data is kept: JSON of the parsed document with its line numbers, never code or pickles, and
it is used only when the SHA-256 of the file's bytes (and the backrx version) it was made from
matches the file read now. So whoever can change the cache could change the YAML beside it in
the same folder: the cache adds no way in. An entry that does not read back exactly as a parsed
document of the expected shape is ignored and the YAML is parsed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from backrx import _input, _yaml
from backrx._version import __version__

#: Changes whenever the shape of an entry or the meaning of a parsed document changes.
CACHE_FORMAT = 1
CACHE_FOLDER = ".backrx-cache"
#: Parsed files kept in this process.
KEPT = 64
#: The largest cache entry read back (a parsed document is a few times its YAML).
MAX_ENTRY_BYTES = 16_000_000
_TAG = f"backrx-parsed-{CACHE_FORMAT}-{__version__}".encode()

_memo: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


class _UnusableEntryError(Exception):
    """A cache entry that is not a parsed document of the expected shape."""


def disk_cache_on() -> bool:
    """Whether parsed files are kept on disk (``BACKRX_PACK_CACHE=0`` turns it off)."""
    return os.environ.get("BACKRX_PACK_CACHE", "").strip() not in ("0", "off", "false", "no")


def key_of(data: bytes) -> str:
    """What an entry is made from: the file's bytes and the parser's version."""
    return hashlib.sha256(_TAG + b"\0" + data).hexdigest()


def parse(data: bytes, text: str, rel: str, path: Path | None = None) -> Any:
    """The parsed document of one pack file (LDict / LList with lines), as ``_yaml.load`` gives it.

    ``path`` (the file it was read from) lets the disk cache be used. Raises
    ``_yaml.YamlError`` as ``_yaml.load`` does; a file that does not parse is never kept.
    """
    key = key_of(data)
    with _lock:
        kept = _memo.get(key)
        if kept is not None:
            _memo.move_to_end(key)
    if kept is not None:
        with contextlib.suppress(_UnusableEntryError):
            return decode(kept)
    entry = _entry_path(path)
    if entry is not None and kept is None:
        found = _read_entry(entry, key)
        if found is not None:
            with contextlib.suppress(_UnusableEntryError):
                doc = decode(found)
                _remember(key, found)
                return doc
    doc = _yaml.load(text, rel)
    try:
        encoded = encode(doc)
    except ValueError:  # a value JSON cannot hold exactly (an infinite float): never kept
        return doc
    _remember(key, encoded)
    if entry is not None:
        _write_entry(entry, key, encoded)
    return doc


def clear() -> None:
    """Forget the files parsed in this process (the disk cache stays)."""
    with _lock:
        _memo.clear()


def _remember(key: str, encoded: str) -> None:
    with _lock:
        _memo[key] = encoded
        while len(_memo) > KEPT:
            _memo.popitem(last=False)


def _entry_path(path: Path | None) -> Path | None:
    if path is None or not disk_cache_on():
        return None
    return path.parent / CACHE_FOLDER / f"{path.name}.json"


def _read_entry(entry: Path, key: str) -> str | None:
    try:
        raw = _input.read_bytes(entry, MAX_ENTRY_BYTES, follow_symlinks=False)
        head, sep, body = raw.partition(b"\n")
    except (OSError, ValueError):
        return None
    if not sep or head != key.encode():
        return None  # made from other bytes (the file changed), or not an entry at all
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _write_entry(entry: Path, key: str, encoded: str) -> None:
    """Write an entry atomically (a reader sees the old one or the new one); never fails loudly."""
    try:
        entry.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{entry.name}.", dir=entry.parent)
    except OSError:
        return  # a read-only pack folder: nothing is kept
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key.encode() + b"\n" + encoded.encode("utf-8"))
        os.replace(tmp, entry)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# --------------------------------------------------------------------------- the entry's JSON
# A mapping is {"m": line, "k": [[key, key line, value], ...]}, a sequence
# {"s": line, "i": [[item line, value], ...]}; text, numbers, booleans and null are themselves.


def encode(doc: Any) -> str:
    """A parsed document as JSON text (``ValueError`` for a value JSON cannot hold)."""
    return json.dumps(_node(doc), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _node(value: Any) -> Any:
    if isinstance(value, _yaml.LDict):
        return {"m": value.line, "k": [[k, value.key_lines[k], _node(v)] for k, v in value.items()]}
    if isinstance(value, _yaml.LList):
        return {"s": value.line, "i": [[line, _node(v)] for line, v in zip(value.item_lines, value,
                                                                          strict=True)]}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise ValueError(f"cannot keep a {type(value).__name__}")  # pragma: no cover - _yaml gives no other


def decode(text: str) -> Any:
    """The parsed document an entry holds (``_UnusableEntryError`` when it is not one)."""
    try:
        return _value(json.loads(text), 0)
    except (ValueError, RecursionError):
        raise _UnusableEntryError from None


def _line(value: Any) -> int:
    if type(value) is not int or value < 1:
        raise _UnusableEntryError
    return value


def _value(node: Any, depth: int) -> Any:
    if node is None or type(node) in (str, bool, int, float):
        return node
    if depth > _yaml.MAX_DEPTH or type(node) is not dict or len(node) != 2:
        raise _UnusableEntryError
    if "m" in node and type(node.get("k")) is list:
        mapping = _yaml.LDict()
        mapping.line = _line(node["m"])
        mapping.key_lines = {}
        for item in node["k"]:
            if type(item) is not list or len(item) != 3 or type(item[0]) is not str or item[0] in mapping:
                raise _UnusableEntryError
            mapping[item[0]] = _value(item[2], depth + 1)
            mapping.key_lines[item[0]] = _line(item[1])
        return mapping
    if "s" in node and type(node.get("i")) is list:
        items = _yaml.LList()
        items.line = _line(node["s"])
        items.item_lines = []
        for item in node["i"]:
            if type(item) is not list or len(item) != 2:
                raise _UnusableEntryError
            items.append(_value(item[1], depth + 1))
            items.item_lines.append(_line(item[0]))
        return items
    raise _UnusableEntryError
