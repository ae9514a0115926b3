"""A loaded pack kept as plain data, so that a new process need not read and check it again.

`read_pack` spends most of a cold start parsing and checking YAML. After a pack loads without a
problem, this module keeps the resulting `Pack` as JSON in the parsed-file cache's private folder
(`backrx.pack.parsecache`: mode 0700, owner checked, every entry under an HMAC with that folder's
secret). The next process that reads the same pack rebuilds the `Pack` from that data.

What keeps it honest:

* **Data only.** The JSON holds text, numbers, booleans, null, lists and tagged records. A record
  is rebuilt only as one of the pack's own frozen dataclasses (`allowed`: the dataclasses defined
  in the modules of `MODULES`), through its constructor; no name in the data is ever imported or
  called. Anything else makes the entry unusable and the pack is read from its files.
* **Bound to everything the loader reads.** The key is the SHA-256 of backrx's own source (every
  ``.py`` file of the package), of the YAML parser (`parsecache.parser_digest`), of the folder as
  given and as resolved, of the size limits the load runs under, and of every entry of the pack
  folder and of its ``locales/`` folder: name, kind (file, folder, link and where it points)
  and, for files, the bytes. Changing any of them makes another key, so a stale entry is never
  found.
* **Only good packs.** An entry is written only after `read_pack` succeeded; a pack with problems
  is read (and its problems reported) every time.

``BACKRX_PACK_CACHE=0`` turns it off with the parsed-file cache.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import stat
from functools import cache
from pathlib import Path
from typing import Any

from backrx.lang import condition
from backrx.model import vocabulary
from backrx.pack import donotdo, education, figures, limits, model, parsecache, planspec, popbook, tiers
from backrx.pack.actions import SafetyLine

#: Changes whenever the shape of an entry changes.
SNAPSHOT_FORMAT = 1
_MAGIC = f"backrx-pack-snapshot-{SNAPSHOT_FORMAT}".encode()
#: The modules whose dataclasses a snapshot may hold (a `Pack` and everything in it).
MODULES = (model, condition, vocabulary, figures, popbook, planspec, education, donotdo, tiers)
#: Folders of a pack whose entries the loader reads (besides the pack folder itself).
SUBFOLDERS = ("locales",)
#: A pack folder with more entries than this (or larger files) is not kept.
MAX_ENTRIES = 512
MAX_BYTES = 64_000_000
#: Off: every load reads the pack's files (through the parsed-file cache). Tests of that cache set it.
ENABLED = True


class UnusableError(Exception):
    """A snapshot that is not the data of a pack of the expected shape."""


@cache
def allowed() -> dict[str, type]:
    """The dataclasses a snapshot may rebuild, by module and qualified name."""
    out: dict[str, type] = {}
    for module in MODULES:
        name = module.__name__
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == name:
                out[f"{name}:{value.__qualname__}"] = value
    return out


@cache
def _source_digest() -> str:
    """SHA-256 of backrx's own source: every ``.py`` file of the package, by path and bytes."""
    top = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(_MAGIC)
    for path in sorted(top.rglob("*.py")):
        digest = hashlib.sha256(path.read_bytes()).digest()
        h.update(b"\0" + str(path.relative_to(top)).encode() + b"\0" + digest)
    return h.hexdigest()


def key_of(root: Path) -> str | None:
    """The key of the pack in ``root``, or None when it cannot be read in full (nothing is kept)."""
    try:
        h = hashlib.sha256(_MAGIC + b"\0" + _source_digest().encode() + b"\0"
                           + parsecache.parser_digest().encode())
        h.update(b"\0" + str(root).encode() + b"\0" + os.path.realpath(root).encode())
        active = getattr(limits, "active", None)  # the size limits this load runs under, if any
        h.update(b"\0" + repr(active() if active is not None else None).encode())
        budget = [MAX_ENTRIES, MAX_BYTES]
        _hash_folder(h, root, "", budget)
        for sub in SUBFOLDERS:
            if (root / sub).is_dir():
                _hash_folder(h, root / sub, sub + "/", budget)
        return h.hexdigest()
    except (OSError, ValueError):
        return None


def _hash_folder(h: Any, folder: Path, prefix: str, budget: list[int]) -> None:
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError("too many entries")
        st = entry.stat(follow_symlinks=False)
        h.update(b"\0" + (prefix + entry.name).encode("utf-8", "surrogateescape") + b"\0"
                 + str(stat.S_IFMT(st.st_mode)).encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(b"\0" + os.path.realpath(entry.path).encode("utf-8", "surrogateescape"))
        if entry.is_file():  # a file, or a link to one: its bytes
            data = Path(entry.path).read_bytes()
            budget[1] -= len(data)
            if budget[1] < 0:
                raise ValueError("too large")
            h.update(b"\0" + hashlib.sha256(data).digest())


# --------------------------------------------------------------------------- the data
# A tuple is a JSON list; a list {"l": [...]}; a dict {"d": [[key, value], ...]}; a frozenset
# {"f": [...]}; a safety-net line {"n": [text, tier, [states]]}; a record
# {"c": "module:Class", "v": [field values in order]}; text, numbers, booleans and null are themselves.


def encode(value: Any) -> str:
    """A pack as JSON text (``ValueError`` for anything a snapshot cannot hold exactly)."""
    return json.dumps(_node(value, allowed()), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _node(value: Any, classes: dict[str, type]) -> Any:
    kind = type(value)
    if value is None or kind in (str, bool, int, float):
        return value
    if kind is tuple:
        return [_node(v, classes) for v in value]
    if kind is list:
        return {"l": [_node(v, classes) for v in value]}
    if kind is dict:
        return {"d": [[_node(k, classes), _node(v, classes)] for k, v in value.items()]}
    if kind is frozenset:
        return {"f": [_node(v, classes) for v in value]}
    if kind is SafetyLine:
        return {"n": [str(value), value.tier, list(value.states)]}
    name = f"{kind.__module__}:{kind.__qualname__}"
    if classes.get(name) is kind:
        return {"c": name, "v": [_node(getattr(value, f.name), classes) for f in dataclasses.fields(value)]}
    raise ValueError(f"a snapshot cannot hold a {kind.__name__}")


def decode(text: str) -> Any:
    """The value a snapshot holds (``UnusableError`` when it is not a pack's data)."""
    was_on = gc.isenabled()
    gc.disable()  # thousands of new records and no cycles: nothing for the collector to find
    try:
        return _value(json.loads(text), allowed())
    except (ValueError, TypeError, RecursionError):
        raise UnusableError from None
    finally:
        if was_on:
            gc.enable()


def _value(node: Any, classes: dict[str, type]) -> Any:
    kind = type(node)
    if node is None or kind in (str, bool, int, float):
        return node
    if kind is list:
        return tuple([_value(v, classes) for v in node])
    if kind is not dict or len(node) not in (1, 2):
        raise UnusableError
    if "c" in node:
        cls = classes.get(node["c"]) if type(node["c"]) is str else None
        values = node.get("v")
        if cls is None or type(values) is not list or len(values) != len(dataclasses.fields(cls)):
            raise UnusableError
        return cls(*[_value(v, classes) for v in values])
    (tag, items), = node.items()
    if type(items) is not list:
        raise UnusableError
    if tag == "l":
        return [_value(v, classes) for v in items]
    if tag == "f":
        return frozenset([_value(v, classes) for v in items])
    if tag == "n" and len(items) == 3 and type(items[2]) is list:
        text, tier, states = items
        if type(text) is not str or type(tier) is not str or any(type(v) is not str for v in states):
            raise UnusableError
        return SafetyLine(text, tier, tuple(states))
    if tag == "d":
        out = {}
        for pair in items:
            if type(pair) is not list or len(pair) != 2:
                raise UnusableError
            out[_value(pair[0], classes)] = _value(pair[1], classes)
        return out
    raise UnusableError


# --------------------------------------------------------------------------- the folder


def load(root: Path, pack_type: type) -> tuple[str | None, Any]:
    """(key, the kept pack of ``root`` or None). The key is None when nothing may be kept."""
    if not ENABLED or not parsecache.disk_cache_on():
        return None, None
    key = key_of(root)
    if key is None:
        return None, None
    found = parsecache.read_kept(key)
    if found is None:
        return key, None
    try:
        pack = decode(found)
    except UnusableError:
        return key, None
    return key, pack if type(pack) is pack_type else None


def store(key: str, pack: Any) -> None:
    """Keep ``pack`` under ``key`` (quietly nothing when it cannot be kept)."""
    try:
        encoded = encode(pack)
    except (ValueError, RecursionError):
        return
    parsecache.keep(key, encoded)


__all__ = ["ENABLED", "MODULES", "SNAPSHOT_FORMAT", "UnusableError", "allowed", "decode", "encode", "key_of",
           "load", "store"]
