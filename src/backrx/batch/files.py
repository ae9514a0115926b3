"""Batch files in and out: every malformed record becomes an error record, output appears whole.

Reading: `read_profiles` turns each record of a ``.jsonl``, ``.json``, ``.csv`` or
``.parquet`` file into a plain profile record, or into an `Unreadable` that carries an
error code and where the record is (a line, an item, a record number), never its content. One
bad record (bytes that are not UTF-8, nesting deeper than `MAX_DEPTH`, a CSV row with the
wrong number of cells, text that is not JSON) never stops the others. Only a file whose overall
shape cannot be read (a ``.json`` file that is not one list, a CSV header that repeats a column)
is refused as a whole, before any record is produced.

Writing: `atomic_output` hands out a temporary file beside the target and renames it over
the target only after a complete, flushed and synced write, so an interrupt or an error leaves
the old file (or no file) and never a part of one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from backrx.model.vocabulary import FIELDS

#: The deepest nesting of lists and objects a record may have. A profile needs three levels
#: (``findings.worse_with``); anything far deeper is refused before a parser recurses into it.
MAX_DEPTH = 32

_JSON_SPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # undecodable bytes, as surrogateescape keeps them


class Unreadable:
    """A record that could not be read; it becomes an error row (``code``, and ``detail``
    saying where, never what)."""

    __slots__ = ("code", "detail")

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail

    def __getstate__(self) -> tuple[str, str]:
        return self.code, self.detail

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.code, self.detail = state


class TooDeepError(ValueError):
    """A record nested deeper than `MAX_DEPTH`."""


def too_deep(where: str) -> Unreadable:
    """The error record for a record nested too deeply."""
    return Unreadable("too-deep", f"{where}: nested more than {MAX_DEPTH} levels deep")


def safe_text(text: str, limit: int = 80) -> str:
    """Text taken from the input (a key, an id) made safe to print and to store: characters that
    are not printable (control characters, undecodable bytes) escaped, and at most ``limit``
    characters kept."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------- JSON


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {safe_text(key)!r} is repeated")
        out[key] = value
    return out


def _depth(text: str) -> int:
    """The deepest nesting of lists and objects in JSON text (strings do not count)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # too few brackets to be too deep: not worth a scan
    depth = deepest = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def json_record(text: str, where: str) -> Any:
    """One JSON record, or an `Unreadable` (``invalid-json``, ``too-deep``)."""
    if _depth(text) > MAX_DEPTH:
        return too_deep(where)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:  # not reached within MAX_DEPTH; kept as a second fence
        return too_deep(where)
    except ValueError as exc:  # JSONDecodeError is a ValueError
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return Unreadable("invalid-json", f"{where}: {message}")


def _jsonl(file: Path) -> Iterator[Any]:
    with file.open("rb") as f:
        for number, line in enumerate(f, 1):
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM):]
            if not line.strip(_JSON_SPACE):
                continue  # a blank line holds no record
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Unreadable("invalid-utf8", f"line {number}: not UTF-8 text (byte {exc.start + 1})")
                continue
            yield json_record(text, f"line {number}")


def _json_items(text: str, name: str) -> list[tuple[int, int]]:
    """Where each item of a top-level JSON list is, as (start, end) offsets, found by its
    commas and brackets alone, so one malformed item cannot hide the others."""
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):
        raise ValueError(f"{name}: expected a JSON list of profiles")
    spans: list[tuple[int, int]] = []
    depth, begin, end = 0, start + 1, -1
    for match in _STRUCTURE.finditer(text, start):
        token = match.group()
        if token in "[{":
            depth += 1
        elif token in "]}":
            depth -= 1
            if depth == 0:
                spans.append((begin, match.start()))
                end = match.end()
                break
        elif token == "," and depth == 1:
            spans.append((begin, match.start()))
            begin = match.end()
    if end < 0 or text[end:].strip():
        raise ValueError(f"{name}: expected one JSON list of profiles, and nothing after it")
    if len(spans) == 1 and not text[spans[0][0]:spans[0][1]].strip():
        return []  # []
    return spans


def _json(file: Path) -> Iterator[Any]:
    text = file.read_bytes().removeprefix(_BOM).decode("utf-8", "surrogateescape")
    for index, (start, end) in enumerate(_json_items(text, file.name)):
        item, where = text[start:end], f"item {index}"
        if _ESCAPED_BYTE.search(item):
            yield Unreadable("invalid-utf8", f"{where}: not UTF-8 text")
        elif not item.strip():
            yield Unreadable("invalid-json", f"{where}: empty")
        else:
            yield json_record(item, where)


# --------------------------------------------------------------------------- tables


def _clean(value: Any, depth: int = 0) -> Any:
    """Plain Python data from a table cell: numpy scalars and arrays unwrapped, nulls and NaN
    dropped from mappings (an unanswered question is absent, never "no")."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if depth >= MAX_DEPTH:
        raise TooDeepError
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            clean = _clean(item, depth + 1)
            if clean is not None:
                out[str(key)] = clean
        return out
    if isinstance(value, (list, tuple)):
        return [_clean(item, depth + 1) for item in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays (pandas, Arrow)
    if callable(tolist):
        return _clean(tolist(), depth)
    return value


_INT_FIELDS = frozenset(path for path, spec in FIELDS.items()
                        if spec.kind == "int" and spec.origin == "profile")


def _whole_numbers(node: dict[str, Any], prefix: str = "") -> None:
    """Integer fields that a table stored as floats (a pandas column with a gap is float64)
    back to ints, when they are whole: 3.0 -> 3; 2.5 stays and is refused by validation."""
    for key, value in node.items():
        path = prefix + key
        if isinstance(value, dict):
            _whole_numbers(value, path + ".")
        elif isinstance(value, float) and path in _INT_FIELDS and value.is_integer():
            node[key] = int(value)


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """A table record as a profile: dotted keys (``findings.glute_weakness``) become nested
    mappings, nulls are dropped, whole floats in integer fields become ints.

    Raises `TooDeepError` for a cell nested deeper than `MAX_DEPTH`."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        value = _clean(value)
        if value is None:
            continue
        parts = str(key).split(".")
        if len(parts) > MAX_DEPTH:
            raise TooDeepError
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # both `findings` and `findings.x` given
                child = node[part] = {}
            node = child
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]].update(value)
        else:
            node[parts[-1]] = value
    _whole_numbers(out)
    return out


def _table_records(found: Iterator[Mapping[str, Any]]) -> Iterator[Any]:
    for index, record in enumerate(found):
        try:
            yield nest(record)
        except TooDeepError:
            yield too_deep(f"record {index}")


def records(data: Any) -> Iterator[Any]:
    """Profiles as plain records from an iterable, a pandas DataFrame or a pyarrow Table."""
    kind = type(data).__module__.split(".")[0]
    if kind == "pandas" and hasattr(data, "to_dict"):
        yield from _table_records(record for start in range(0, len(data), 10_000)
                                  for record in data.iloc[start:start + 10_000].to_dict("records"))
        return
    if kind == "pyarrow" and hasattr(data, "to_batches"):
        yield from _table_records(record for batch in data.to_batches(max_chunksize=10_000)
                                  for record in batch.to_pylist())
        return
    if isinstance(data, (Mapping, str, bytes)):
        raise TypeError("profiles must be an iterable of profiles, a DataFrame or an Arrow table")
    yield from data


def _csv_cell(text: str) -> Any:
    if text == "":
        return None
    if _depth(text) > MAX_DEPTH:
        raise TooDeepError
    try:
        return json.loads(text)
    except ValueError:
        return text


def _csv_header(reader: Any, name: str) -> list[str] | None:
    try:
        header: list[str] = next(reader)
    except StopIteration:
        return None
    except csv.Error:
        raise ValueError(f"{name}: the header row is not CSV") from None
    if _ESCAPED_BYTE.search("".join(header)):
        raise ValueError(f"{name}: the header row is not UTF-8 text")
    seen: set[str] = set()
    for column in header:
        if column in seen:  # the second cell would silently replace the first (a red flag, say)
            raise ValueError(f"{name}: the header repeats the column {safe_text(column)!r}")
        seen.add(column)
    return header


def _csv_row(header: list[str], cells: list[str], where: str) -> Any:
    if len(cells) != len(header):
        return Unreadable("invalid-csv-row", f"{where}: {len(cells)} cells where the header has "
                                             f"{len(header)}")
    if _ESCAPED_BYTE.search("".join(cells)):
        return Unreadable("invalid-utf8", f"{where}: not UTF-8 text")
    try:
        return nest({key: _csv_cell(value) for key, value in zip(header, cells, strict=True)})
    except TooDeepError:
        return too_deep(where)


def _csv(file: Path) -> Iterator[Any]:
    with file.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f)
        header = _csv_header(reader, file.name)
        if header is None:
            return
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Unreadable("invalid-csv-row", f"line {reader.line_num}: {exc}")
                continue
            if cells:  # a blank line holds no record
                yield _csv_row(header, cells, f"line {reader.line_num}")


def _parquet(file: Path) -> Iterator[Any]:
    import pyarrow.parquet as pq

    batches = pq.ParquetFile(file).iter_batches(batch_size=10_000)
    yield from _table_records(record for batch in batches for record in batch.to_pylist())


def read_profiles(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Records from a file of profiles, lazily: ``.jsonl`` / ``.ndjson`` (one JSON object a
    line), ``.json`` (a list), ``.csv`` (a header row; cells are JSON values where they parse,
    so ``45``, ``true`` and ``["cancer_history"]`` work, and text otherwise; an empty cell is
    not answered) or ``.parquet``. A record that cannot be read (not UTF-8, not JSON, nested
    too deeply, a CSV row with too few or too many cells) becomes an error row, not an error;
    blank lines hold no record. A byte-order mark at the start of the file is skipped.

    Raises ``OSError`` when the file cannot be read, and ``ValueError`` for an unknown suffix
    or a file whose overall shape is wrong (a ``.json`` file that is not one list, a CSV header
    that is not UTF-8 or repeats a column).
    """
    file = Path(path)
    suffix = file.suffix.lower()
    readers = {".jsonl": _jsonl, ".ndjson": _jsonl, ".json": _json, ".csv": _csv, ".parquet": _parquet}
    if suffix not in readers:
        raise ValueError(f"{file.name}: profiles are read from .jsonl, .json, .csv or .parquet files")
    if suffix == ".json":  # its shape is checked before the first record, not after the last
        return iter(list(_json(file)))
    return readers[suffix](file)


# --------------------------------------------------------------------------- writing


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening a folder)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_output(target: Path) -> Iterator[IO[bytes]]:
    """A binary file to write ``target``'s new content to. It is a temporary file in the same
    folder; when the block ends normally it is flushed, synced to disk and renamed over
    ``target`` in one step. When the block raises (``KeyboardInterrupt`` included), the
    temporary file is removed and ``target`` is left as it was, or absent.

    A new file is readable by its owner alone (results are health data); a replaced file keeps
    its permissions.
    """
    folder = target.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        with suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(folder)
