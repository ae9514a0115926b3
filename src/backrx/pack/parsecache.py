"""Parsed pack files, kept as JSON so that a pack is not parsed from YAML in every process.

The rule: no file but the pack's own YAML decides anything. A kept parse is used only when it is,
byte for byte, what this backrx made from these very bytes, and that is checked, not assumed:

* **In this process** parsed files are kept as JSON text (immutable) by `key_of`: the
  SHA-256 of the file's bytes and of the parser's own source. Every caller decodes its own copy,
  so changing one copy changes no other, and one pack's file is found for another only when their
  bytes, and so their parse, are the same.
* **On disk** only in one private folder per user, ``$XDG_CACHE_HOME/backrx`` (by default
  ``~/.cache/backrx``): never beside the pack, never in an installed package. The folder is made
  with mode 0700 (so no umask opens it), opened without following a link, and used only while it
  is owned by this user and writable by no one else; otherwise nothing is read or kept.
* Each entry carries an HMAC-SHA256 of its key and content under a random secret kept in that
  folder (mode 0600, owner checked). An entry that a copy, another user, a broken disk or a
  program without the secret wrote fails the check and is ignored; the YAML is parsed and the
  entry replaced. What the cache cannot stop is a program that already runs as this user and
  reads the secret: that program could as well change backrx itself.

``BACKRX_PACK_CACHE=0`` turns the disk cache off. The older ``.backrx-cache`` folders beside a pack
are never read.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import sysconfig
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import yaml

from backrx.readers import safe_yaml

#: Changes whenever the shape of an entry changes (the parser's source is in every key anyway).
CACHE_FORMAT = 2
#: The folder, under the user's cache home, that holds the entries and the secret.
FOLDER_NAME = "backrx"
#: Where backrx before 0.2 kept entries, beside the pack: never read, never shipped.
LEGACY_FOLDER = ".backrx-cache"
#: Parsed files kept in this process.
KEPT = 64
#: The largest cache entry read back (a parsed document is a few times its YAML).
MAX_ENTRY_BYTES = 16_000_000
#: Entries kept on disk; past this the oldest are removed when one is written.
MAX_ENTRIES = 256
SECRET_NAME = "secret"
_SECRET_BYTES = 32
_MAGIC = f"backrx-parsed-{CACHE_FORMAT}".encode()
#: The modules whose source decides what a parsed document is.
PARSER_MODULES: tuple[Path, ...] = (Path(safe_yaml.__file__), Path(__file__))
#: The disk cache needs calls that refuse links and work relative to an open folder.
SUPPORTED = (hasattr(os, "geteuid") and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
             and {os.open, os.mkdir, os.rename, os.unlink, os.link} <= os.supports_dir_fd
             and os.scandir in os.supports_fd)

_memo: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()
_parser: list[str] = []


class _UnusableEntryError(Exception):
    """A cache entry that is not a parsed document of the expected shape."""


def disk_cache_on() -> bool:
    """Whether parsed files are kept on disk (``BACKRX_PACK_CACHE=0`` turns it off)."""
    off = os.environ.get("BACKRX_PACK_CACHE", "").strip().lower() in ("0", "off", "false", "no")
    return SUPPORTED and not off


def parser_digest() -> str:
    """SHA-256 of what turns YAML into a parsed document: backrx's parser source, PyYAML's version
    and whether libyaml is used. Not the version string, which every commit shares."""
    if not _parser:
        h = hashlib.sha256(_MAGIC + b"\0" + yaml.__version__.encode() + b"\0"
                           + str(safe_yaml.HAS_LIBYAML).encode())
        for module in PARSER_MODULES:
            try:
                source = module.read_bytes()
            except OSError:  # no source to hash (a frozen install): a key no other process shares
                source = secrets.token_bytes(16)
            h.update(b"\0" + hashlib.sha256(source).digest())
        _parser.append(h.hexdigest())
    return _parser[0]


def key_of(data: bytes) -> str:
    """What an entry is made from: the file's bytes and the parser's source."""
    return hashlib.sha256(parser_digest().encode() + b"\0" + data).hexdigest()


def parse(data: bytes, text: str, rel: str) -> Any:
    """The parsed document of one pack file (LDict / LList with lines), as ``safe_yaml.load`` gives it.

    Raises ``safe_yaml.YamlError`` as ``safe_yaml.load`` does; a file that does not parse is never kept.
    """
    key = key_of(data)
    with _lock:
        kept = _memo.get(key)
        if kept is not None:
            _memo.move_to_end(key)
    if kept is not None:
        with contextlib.suppress(_UnusableEntryError):
            return decode(kept)
    folder = _open_folder() if disk_cache_on() else None
    try:
        found = _read_entry(folder, key) if folder is not None else None
        if found is not None:
            with contextlib.suppress(_UnusableEntryError):
                doc = decode(found)
                _remember(key, found)
                return doc
        doc = safe_yaml.load(text, rel)
        try:
            encoded = encode(doc)
        except ValueError:  # a value JSON cannot hold exactly (an infinite float): never kept
            return doc
        _remember(key, encoded)
        if folder is not None:
            _write_entry(folder, key, encoded)
        return doc
    finally:
        if folder is not None:
            os.close(folder[0])


def clear() -> None:
    """Forget the files parsed in this process, and the parser digest (the disk cache stays)."""
    with _lock:
        _memo.clear()
        _parser.clear()


def cache_folder() -> Path | None:
    """The private folder the disk cache would use, or None where there is no safe place for it."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        base = Path(xdg)
    else:
        home = os.path.expanduser("~")
        if home == "~" or not os.path.isabs(home):
            return None
        base = Path(home) / ".cache"
    folder = base / FOLDER_NAME
    return None if _inside_an_install(folder) else folder


def _inside_an_install(folder: Path) -> bool:
    """Whether ``folder`` lies in site-packages, in backrx's own tree or in the bundled pack."""
    here = Path(__file__).resolve().parents
    roots = {sysconfig.get_paths().get(k, "") for k in ("purelib", "platlib")}
    places = [Path(r).resolve() for r in roots if r] + [here[2], here[3] / "rules"]
    real = folder.resolve()
    return any(real == p or p in real.parents for p in places)


def _private(st: os.stat_result, kind: Any) -> bool:
    return bool(kind(st.st_mode)) and st.st_uid == os.geteuid() and not st.st_mode & 0o077


def _open_folder() -> tuple[int, bytes] | None:
    """The open private folder and its secret, or None (nothing is then read or kept)."""
    folder = cache_folder()
    if folder is None:
        return None
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder.parent, 0o700)  # the cache home alone, never the folders above it
        parent = os.open(folder.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(FOLDER_NAME, 0o700, dir_fd=parent)
        fd = os.open(FOLDER_NAME, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except OSError:  # a link (ELOOP / ENOTDIR), a file in the way, a read-only home
        return None
    finally:
        os.close(parent)
    try:
        if _private(os.fstat(fd), stat.S_ISDIR):
            secret = _secret(fd)
            if secret is not None:
                return fd, secret
    except OSError:
        pass
    os.close(fd)
    return None


def _read_private(fd: int, name: str, limit: int) -> bytes | None:
    """The bytes of a regular file in the folder that only this user can write, or None."""
    try:
        f = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    except OSError:
        return None
    try:
        st = os.fstat(f)
        if not _private(st, stat.S_ISREG) or st.st_size > limit:
            return None
        with os.fdopen(f, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(f)


def _write_private(fd: int, name: str, data: bytes) -> str | None:
    """Write ``data`` to a new temporary file (mode 0600) in the folder; its name, or None."""
    tmp = f".{name}.{secrets.token_hex(8)}.tmp"
    try:
        f = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
    except OSError:
        return None
    try:
        with os.fdopen(f, "wb") as stream:
            stream.write(data)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=fd)
        return None
    return tmp


def _secret(fd: int) -> bytes | None:
    """The folder's secret, made once (published by a hard link, so no reader sees half of it)."""
    found = _read_private(fd, SECRET_NAME, _SECRET_BYTES)
    if found is None:
        tmp = _write_private(fd, SECRET_NAME, secrets.token_bytes(_SECRET_BYTES))
        if tmp is None:
            return None
        try:
            os.link(tmp, SECRET_NAME, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError:  # another process made it first (FileExistsError), or no hard links here
            pass
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
        found = _read_private(fd, SECRET_NAME, _SECRET_BYTES)
    return found if found is not None and len(found) == _SECRET_BYTES else None


def _mac(secret: bytes, key: str, body: bytes) -> bytes:
    return hmac.new(secret, _MAGIC + b"\n" + key.encode() + b"\n" + body, hashlib.sha256).hexdigest().encode()


def entry_name(key: str) -> str:
    """The file name of the entry for ``key`` in the private folder."""
    return f"{key}.json"


def _read_entry(folder: tuple[int, bytes], key: str) -> str | None:
    fd, secret = folder
    raw = _read_private(fd, entry_name(key), MAX_ENTRY_BYTES)
    if raw is None:
        return None
    magic, _, rest = raw.partition(b"\n")
    mac, _, body = rest.partition(b"\n")
    if magic != _MAGIC or not hmac.compare_digest(mac, _mac(secret, key, body)):
        return None  # not made by this backrx from these bytes with this folder's secret
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:  # pragma: no cover - an authentic entry is UTF-8
        return None


def _write_entry(folder: tuple[int, bytes], key: str, encoded: str) -> None:
    """Write an entry atomically (a reader sees the old one or the new one); never fails loudly."""
    fd, secret = folder
    body = encoded.encode("utf-8")
    tmp = _write_private(fd, entry_name(key), _MAGIC + b"\n" + _mac(secret, key, body) + b"\n" + body)
    if tmp is None:
        return
    try:
        os.replace(tmp, entry_name(key), src_dir_fd=fd, dst_dir_fd=fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=fd)
        return
    _prune(fd)


def _prune(fd: int) -> None:
    """Keep the newest MAX_ENTRIES entries."""
    with contextlib.suppress(OSError):
        found = []
        with os.scandir(fd) as it:
            for item in it:
                if item.name != SECRET_NAME and item.is_file(follow_symlinks=False):
                    found.append((item.stat(follow_symlinks=False).st_mtime_ns, item.name))
        for _, name in sorted(found)[:-MAX_ENTRIES]:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=fd)


def read_kept(key: str) -> str | None:
    """The authentic entry kept on disk under ``key`` (another module's key, such as a pack
    snapshot's), or None: the disk cache off, no private folder, no entry or a failed check."""
    folder = _open_folder() if disk_cache_on() else None
    if folder is None:
        return None
    try:
        return _read_entry(folder, key)
    finally:
        os.close(folder[0])


def keep(key: str, encoded: str) -> None:
    """Keep ``encoded`` on disk under ``key``, authenticated as every entry (quietly nothing when
    the disk cache is off or has no private folder)."""
    folder = _open_folder() if disk_cache_on() else None
    if folder is None:
        return
    try:
        _write_entry(folder, key, encoded)
    finally:
        os.close(folder[0])


def _remember(key: str, encoded: str) -> None:
    with _lock:
        _memo[key] = encoded
        while len(_memo) > KEPT:
            _memo.popitem(last=False)


# --------------------------------------------------------------------------- the entry's JSON
# A mapping is {"m": line, "k": [[key, key line, value], ...]}, a sequence
# {"s": line, "i": [[item line, value], ...]}; text, numbers, booleans and null are themselves.


def encode(doc: Any) -> str:
    """A parsed document as JSON text (``ValueError`` for a value JSON cannot hold)."""
    return json.dumps(_node(doc), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _node(value: Any) -> Any:
    if isinstance(value, safe_yaml.LDict):
        return {"m": value.line, "k": [[k, value.key_lines[k], _node(v)] for k, v in value.items()]}
    if isinstance(value, safe_yaml.LList):
        return {"s": value.line, "i": [[line, _node(v)] for line, v in zip(value.item_lines, value,
                                                                          strict=True)]}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise ValueError(f"cannot keep a {type(value).__name__}")  # pragma: no cover - safe_yaml gives no other


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
    if depth > safe_yaml.MAX_DEPTH or type(node) is not dict or len(node) != 2:
        raise _UnusableEntryError
    if "m" in node and type(node.get("k")) is list:
        mapping = safe_yaml.LDict()
        mapping.line = _line(node["m"])
        mapping.key_lines = {}
        for item in node["k"]:
            if type(item) is not list or len(item) != 3 or type(item[0]) is not str or item[0] in mapping:
                raise _UnusableEntryError
            mapping[item[0]] = _value(item[2], depth + 1)
            mapping.key_lines[item[0]] = _line(item[1])
        return mapping
    if "s" in node and type(node.get("i")) is list:
        items = safe_yaml.LList()
        items.line = _line(node["s"])
        items.item_lines = []
        for item in node["i"]:
            if type(item) is not list or len(item) != 2:
                raise _UnusableEntryError
            items.append(_value(item[1], depth + 1))
            items.item_lines.append(_line(item[0]))
        return items
    raise _UnusableEntryError
