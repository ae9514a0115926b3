"""The pack snapshot (backrx.pack.snapshot): a loaded pack kept as data for the next process.

It must give the very pack its files give, be used only when written by this backrx from these
very files with this user's secret, and never build anything but the pack's own records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import backrx
from backrx.errors import RuleError
from backrx.pack import parsecache, snapshot
from backrx.pack.actions import SafetyLine
from backrx.pack.load import read_pack
from backrx.pack.model import Pack
from backrx.pack.read import bundled_path
from conftest import base_profile

ROOT = Path(__file__).resolve().parent.parent
SADDLE = base_profile(red_flags=["saddle_anaesthesia"])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache home for this test, the disk cache on, and an empty memo."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.delenv("BACKRX_PACK_CACHE", raising=False)
    parsecache.clear()
    yield tmp_path / "cache-home"
    parsecache.clear()


def _copy_pack(target: Path) -> Path:
    shutil.copytree(bundled_path(), target, ignore=shutil.ignore_patterns("cases"))
    return target


def _same(a: Any, b: Any, where: str = "pack") -> None:
    """``a`` and ``b`` are equal and of the same types all the way down (a tuple is no list)."""
    assert type(a) is type(b), where
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where
        if isinstance(a, SafetyLine):
            assert (a.tier, a.states) == (b.tier, b.states), where


def _entry(pack: Path) -> Path:
    key = snapshot.key_of(pack)
    folder = parsecache.cache_folder()
    assert key is not None and folder is not None
    return folder / parsecache.entry_name(key)


def _without_saddle_referral(pack: Pack) -> Pack:
    """The pack, but its saddle-anaesthesia triage rule refers no one."""
    layers = []
    for layer in pack.layers:
        rules = tuple(dataclasses.replace(r, then=dataclasses.replace(r.then, refer=None))
                      if r.id == "triage.cauda-equina.saddle" else r for r in layer.rules)
        layers.append(dataclasses.replace(layer, rules=rules))
    return dataclasses.replace(pack, layers=tuple(layers))


def _write(entry: Path, key: str, body: bytes, secret: bytes) -> None:
    magic = f"backrx-parsed-{parsecache.CACHE_FORMAT}".encode()
    mac = hmac.new(secret, magic + b"\n" + key.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    entry.write_bytes(magic + b"\n" + mac.encode() + b"\n" + body)
    entry.chmod(0o600)


def _outcome(pack: Path) -> tuple[str, str | None]:
    rec = backrx.load_rules(pack, engine="reference").recommend(SADDLE)
    return rec.outcome, rec.referral.urgency if rec.referral is not None else None


def test_the_kept_pack_is_the_pack_its_files_give(tmp_path: Path, home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The pack rebuilt from its snapshot equals, type for type, the pack read from its YAML."""
    pack = _copy_pack(tmp_path / "pack")
    monkeypatch.setenv("BACKRX_PACK_CACHE", "0")
    from_files = read_pack(pack)
    monkeypatch.delenv("BACKRX_PACK_CACHE")
    read_pack(pack)  # writes the snapshot
    assert _entry(pack).is_file()
    calls: list[str] = []
    monkeypatch.setattr(parsecache, "parse", lambda *a: calls.append(a[2]))  # the files are not parsed
    kept = read_pack(pack)
    assert calls == []
    _same(kept, from_files)


def test_an_authentic_snapshot_is_used_and_a_changed_file_makes_another_key(tmp_path: Path,
                                                                            home: Path) -> None:
    """A snapshot holding a pack without the saddle referral, under the folder's real secret, is
    used (so the snapshot is live); once one byte of triage.yaml changes it is never read again."""
    pack = _copy_pack(tmp_path / "pack")
    assert _outcome(pack) == ("refer", "emergency")
    entry, key = _entry(pack), snapshot.key_of(pack)
    assert key is not None
    secret = (entry.parent / parsecache.SECRET_NAME).read_bytes()
    _write(entry, key, snapshot.encode(_without_saddle_referral(read_pack(pack))).encode(), secret)
    assert _outcome(pack)[0] == "program"  # the entry is authentic, so it is used
    with (pack / "triage.yaml").open("ab") as f:
        f.write(b"\n# one more line\n")
    assert _outcome(pack) == ("refer", "emergency")


@pytest.mark.parametrize("change", ["a stray .yml file", "a new locale", "a renamed locales folder"])
def test_a_change_of_the_folder_makes_another_key(tmp_path: Path, home: Path, change: str) -> None:
    """Files the loader reads or complains about are part of the key, not only the rule files."""
    pack = _copy_pack(tmp_path / "pack")
    read_pack(pack)
    before = snapshot.key_of(pack)
    if change == "a stray .yml file":
        (pack / "extra.yml").write_text("layer: triage\nrules: []\n")
        with pytest.raises(RuleError, match="wrong-extension"):
            read_pack(pack)
    elif change == "a new locale":
        shutil.copy(pack / "locales" / "es.yaml", pack / "locales" / "xx.yaml")
    else:
        (pack / "locales").rename(pack / "old-locales")
    assert snapshot.key_of(pack) != before


def test_a_forged_snapshot_is_refused(tmp_path: Path, home: Path) -> None:
    """A snapshot without the saddle referral, authenticated with a guessed secret, is ignored."""
    pack = _copy_pack(tmp_path / "pack")
    _outcome(pack)
    entry, key = _entry(pack), snapshot.key_of(pack)
    assert key is not None
    body = snapshot.encode(_without_saddle_referral(read_pack(pack))).encode()
    _write(entry, key, body, b"a guess".ljust(32, b"\0"))
    assert _outcome(pack) == ("refer", "emergency")


@pytest.mark.parametrize("record", ["os:system", "subprocess:Popen", "backrx.ruleset:RuleSet",
                                    "backrx.pack.model:Nothing", "builtins:eval"])
def test_a_snapshot_naming_any_other_class_builds_nothing(record: str) -> None:
    """A record naming a class outside the pack's own dataclasses is refused, not imported or called."""
    with pytest.raises(snapshot.UnusableError):
        snapshot.decode(json.dumps({"c": record, "v": ["echo owned"]}))
    assert snapshot.allowed().get(record) is None


def test_with_the_cache_off_no_snapshot_is_written_or_read(tmp_path: Path, home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """BACKRX_PACK_CACHE=0 turns the snapshot off with the parsed-file cache."""
    pack = _copy_pack(tmp_path / "pack")
    monkeypatch.setenv("BACKRX_PACK_CACHE", "0")
    read_pack(pack)
    assert not home.exists() or not any(home.rglob("*.json"))
    assert snapshot.load(pack, Pack) == (None, None)


def test_import_backrx_loads_no_heavy_library() -> None:
    """``import backrx`` alone imports neither pydantic, PyYAML, Jinja2 nor durable_rules."""
    code = ("import sys, backrx; print(sorted({n.split('.')[0] for n in sys.modules} "
            "& {'pydantic', 'pydantic_core', 'yaml', 'jinja2', 'durable'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(ROOT / "src")})
    assert done.stdout.strip() == "[]"
