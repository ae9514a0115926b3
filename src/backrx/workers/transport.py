"""Moving a RuleSet to another process: the pack travels as its files' bytes, checked by digest.

A pickled `backrx.RuleSet` carries the content of its pack files (the top-level
``*.yaml`` files the pack digest covers, and the translations in ``locales/*.yaml``), the pack
digest, a hash of all those bytes, the engine that was asked for, the locale, and the folder it
came from (for display only). The receiving process never reads that folder: it writes the
bytes to a private temporary folder, loads and validates them as any pack, and refuses them
with a `backrx.RuleError` unless their digests are the ones that travelled with them.

The content is captured when the RuleSet is built, right after the loader has read and hashed
the files, and it is only sent if its own digest matches the pack's (checked once, at the first
pickle); a pack edited on disk in between cannot be sent anywhere (``pack-changed``) until it is
loaded again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from backrx.errors import Problem, RuleError
from backrx.pack.limits import DEFAULT_LIMITS, PackLimits, limits_for
from backrx.pack.limits import active as active_limits

if TYPE_CHECKING:
    from backrx.pack.model import Pack

T = TypeVar("T")

_NAME = re.compile(r"\A(?:locales/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.yaml\Z")
_CACHE_SIZE = 4


@dataclass(frozen=True)
class PackContent:
    """What a pickled RuleSet carries."""

    files: tuple[tuple[str, bytes], ...]  # (path in the pack, bytes), sorted
    digest: str  # the pack digest (top-level files)
    path: str
    engine: str
    content_digest: str = ""  # every file carried, translations included
    limits: PackLimits | None = None  # the raised limits it was loaded with (None: the defaults)


def content_digest_of(files: tuple[tuple[str, bytes], ...]) -> str:
    """A hash of every carried file, by path and bytes."""
    h = hashlib.sha256()
    for name, data in sorted(files):
        h.update(name.encode())
        h.update(b"\0")
        h.update(data)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def digest_of_files(files: tuple[tuple[str, bytes], ...], folder: str | None = None) -> str:
    """The pack digest of in-memory files: the loader's digest of the same top-level files, parsed
    (comments and formatting do not count). ``folder``, the pack's own folder, lends its
    parsed-file cache to bytes it holds."""
    from backrx.pack.load import digest_of_bytes

    return digest_of_bytes((item for item in files if "/" not in item[0]),
                           Path(folder) if folder else None)


def _read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file, or None (a FIFO, device or file over ``limit`` is not read)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) <= limit else None


def capture(pack: Pack, engine: str) -> PackContent | None:
    """The pack's files' bytes as read now, or None when they cannot be read.

    Reading is cheap; checking that the bytes still have the pack's digest means parsing them
    again (about as long as loading the pack), so that check waits for the first pickle
    (`sendable`): a RuleSet that is never sent never pays for it.
    """
    from backrx.pack.model import NON_RULE_FILES

    root = Path(pack.path)
    files: list[tuple[str, bytes]] = []
    try:
        paths = [(p.name, p) for p in sorted(root.glob("*.yaml"))
                 if p.name not in NON_RULE_FILES]  # the hazard log decides nothing: it stays home
        if (root / "locales").is_dir():
            paths += [(f"locales/{p.name}", p) for p in sorted((root / "locales").glob("*.yaml"))]
    except OSError:
        return None
    limits = active_limits()  # those of the load that made ``pack`` (see backrx.load_rules)
    for name, path in paths:
        data = _read_regular(path, limits.file_bytes)
        if data is None:
            return None
        files.append((name, data))
    carried = tuple(sorted(files))
    return PackContent(carried, pack.digest, pack.path, engine, content_digest_of(carried),
                       None if limits == DEFAULT_LIMITS else limits)


def sendable(content: PackContent | None, pack: Pack) -> bool:
    """Whether captured content really is the pack that was loaded (its digest matches)."""
    return content is not None and digest_of_files(content.files) == pack.digest


def refuse_changed(pack: Pack) -> RuleError:
    """The error for a RuleSet whose files changed on disk before their content was captured."""
    return RuleError([Problem(pack.path, None, None, "pack-changed",
                              "the pack's files on disk no longer match the digest it was loaded with "
                              f"({pack.digest}), so its content cannot be sent to another process; "
                              "load the pack again")])


def _bad(content: PackContent, code: str, message: str) -> RuleError:
    return RuleError([Problem(content.path, None, None, code, message)])


_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
_cache_lock = threading.Lock()
#: (hash of every carried file, pack digest) pairs checked in this process: the same bytes
#: arriving again (Dask and Spark send the RuleSet with every task) are hashed, not parsed again.
_verified: set[tuple[str, str]] = set()


def verify(content: PackContent) -> None:
    """Check what a pickle carried before anything is written: only pack file names, a known
    engine, and bytes whose digests are the ones that travelled with them.

    Raises `backrx.RuleError` (``bad-pickle`` or ``digest-mismatch``) otherwise.
    """
    if not isinstance(content, PackContent) or not isinstance(content.files, tuple):
        raise RuleError([Problem("", None, None, "bad-pickle", "not a pickled RuleSet")])
    for item in content.files:
        if (not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str)
                or not isinstance(item[1], bytes) or not _NAME.match(item[0])):
            raise _bad(content, "bad-pickle", "a pickled RuleSet names a file that is not a pack file")
    if not isinstance(getattr(content, "limits", None), (PackLimits, type(None))):
        raise _bad(content, "bad-pickle", "a pickled RuleSet carries limits that are not PackLimits")
    if content.engine not in ("auto", "durable", "reference", "compiled"):
        raise _bad(content, "bad-pickle", f"unknown engine {content.engine!r} in a pickled RuleSet")
    carried = content_digest_of(content.files)
    if carried == content.content_digest and (carried, content.digest) in _verified:
        return  # these very bytes (by their hash) were parsed here before and gave this digest
    actual = digest_of_files(content.files, content.path if isinstance(content.path, str) else None)
    if actual != content.digest or carried != content.content_digest:
        raise _bad(content, "digest-mismatch",
                   f"the pickled pack's content has digest {actual} (all files: {carried}), not the "
                   f"{content.digest} ({content.content_digest}) it was sent with; it was changed "
                   "on the way and is refused")
    with _cache_lock:
        if len(_verified) >= _CACHE_SIZE * 4:
            _verified.clear()
        _verified.add((carried, actual))


def reload(content: PackContent) -> Pack:
    """The pack a verified content holds, read and validated from a private temporary folder.

    Raises `backrx.RuleError` when it does not load or reads back with another digest.
    """
    from backrx.pack.load import read_pack

    with tempfile.TemporaryDirectory(prefix="backrx-pack-") as tmp:
        for name, data in content.files:
            target = Path(tmp, name)
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(data)
        with limits_for(getattr(content, "limits", None)):  # those it was loaded with
            pack = read_pack(tmp)
    if pack.digest != content.digest:  # the loader hashes what it read: it must be the same
        raise _bad(content, "digest-mismatch",
                   f"the reloaded pack has digest {pack.digest}, not {content.digest}")
    return dataclasses.replace(pack, path=content.path)


def restore(content: PackContent, build: Callable[[Pack, PackContent], T]) -> T:
    """What ``build(pack, content)`` made of this content, verified and reloaded; made once per
    content and engine in this process, then reused (a worker receives the same pack often).

    Raises `backrx.RuleError` as `verify` and `reload` do.
    """
    verify(content)
    key = (content.content_digest, content.engine)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return cast(T, found)
    made = build(reload(content), content)
    with _cache_lock:
        _cache[key] = made
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return made


def clear_cache() -> None:
    """Forget the packs rebuilt from pickles in this process (the next one is reloaded)."""
    with _cache_lock:
        _cache.clear()
        _verified.clear()
