"""Reading untrusted documents: regular files only, a cap on the bytes read, strict JSON.

Used by the profile, feedback and recommendation loaders, the command line and the rule-pack
reader. Nothing here follows a FIFO, a device or a socket: a file is opened without blocking,
checked with ``fstat`` to be a regular file, and read up to a limit (the bytes actually read
are counted, not the size the file claims).
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from backrx.errors import InputError

#: The largest profile, feedback or recommendation file backrx reads.
MAX_INPUT_BYTES = 5_000_000

#: Whether validation errors repeat the input values. Off by default, because profile and
#: feedback values are health data and applications log exceptions; set the environment
#: variable ``BACKRX_SHOW_INPUT_IN_ERRORS=1`` before importing backrx to see them while debugging.
SHOW_INPUT_IN_ERRORS = os.environ.get("BACKRX_SHOW_INPUT_IN_ERRORS", "").strip() not in ("", "0")


class NotAFileError(InputError):
    """A path that names something other than a regular file (a FIFO, a device, a folder)."""

    def __init__(self, file: str) -> None:
        super().__init__("not-a-file", "is not a regular file", (file,))

    def __reduce__(self) -> tuple[type[NotAFileError], tuple[str]]:  # type: ignore[override]
        return (type(self), (str(self.loc[0]),))


class TooLargeError(InputError):
    """A file longer than the limit for its kind."""

    def __init__(self, file: str, limit: int) -> None:
        self.limit = limit
        super().__init__("file-too-large", f"is longer than {limit} bytes", (file,))

    def __reduce__(self) -> tuple[type[TooLargeError], tuple[str, int]]:  # type: ignore[override]
        return (type(self), (str(self.loc[0]), self.limit))


class DuplicateKeyError(InputError):
    """A JSON object that gives the same key twice: the second would silently replace the first."""

    def __init__(self, key: str, file: str | None = None) -> None:
        self.key = key
        super().__init__("json-duplicate-key",
                         f"key {key!r} appears twice in one JSON object; give each key once",
                         (file,) if file else ())

    def __reduce__(self) -> tuple[type[DuplicateKeyError], tuple[str, str | None]]:  # type: ignore[override]
        return (type(self), (self.key, str(self.loc[0]) if self.loc else None))


def read_bytes(path: str | os.PathLike[str], limit: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file, at most ``limit`` of them.

    Raises ``OSError`` when it cannot be opened (``ELOOP`` for a symlink when
    ``follow_symlinks`` is false), `NotAFileError` for anything but a regular file and
    `TooLargeError` past ``limit``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFileError(os.fspath(path))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise TooLargeError(os.fspath(path), limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], limit: int = MAX_INPUT_BYTES) -> str:
    """A regular file as UTF-8 text, at most ``limit`` bytes (`InputError` otherwise)."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("not-utf8", f"is not UTF-8 text: {exc.reason} at byte {exc.start}",
                         (os.fspath(path),)) from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def loads(text: str | bytes | bytearray, file: str | None = None) -> Any:
    """Parse JSON, refusing an object that repeats a key and documents nested too deeply.

    Raises `InputError` (a ``ValueError``): ``json-syntax`` (with the line
    and column), ``json-duplicate-key`` (naming the key) or ``json-too-deep``.
    """
    where: tuple[str, ...] = (file,) if file else ()
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except DuplicateKeyError as exc:
        raise DuplicateKeyError(exc.key, file) from None
    except json.JSONDecodeError as exc:
        raise InputError("json-syntax", f"is not valid JSON: {exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}", where) from None
    except RecursionError:
        raise InputError("json-too-deep", "the JSON document is nested too deeply", where) from None


def refuse_duplicate_keys(text: str | bytes | bytearray, title: str) -> None:
    """Raise a ``pydantic.ValidationError`` naming a key that a JSON document repeats.

    Text that is not JSON at all is left for pydantic to report.
    """
    try:
        json.loads(text, object_pairs_hook=_unique_pairs)
    except DuplicateKeyError as exc:
        detail: InitErrorDetails = {
            "type": PydanticCustomError("json_duplicate_key",
                                        "key '{key}' appears twice in one JSON object; give each key once",
                                        {"key": exc.key}),
            "loc": (exc.key,),
            "input": exc.key,
        }
        raise ValidationError.from_exception_data(title, [detail], hide_input=True) from None
    except (ValueError, RecursionError):
        return
