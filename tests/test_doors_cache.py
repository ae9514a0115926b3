"""Door 2: no file but the pack's own YAML changes a decision, however it got there.

Each test here is a repro from issue 22 that failed on 3ef2345: a cache entry next to an unchanged
``triage.yaml`` turned saddle anaesthesia into an exercise program. The parsed-file cache now lives
only in a private per-user folder, and every entry is authenticated (backrx.pack.parsecache).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backrx
from backrx._version import __version__
from backrx.pack import parsecache, snapshot
from backrx.pack.read import bundled_path
from backrx.readers import safe_yaml
from conftest import base_profile

ROOT = Path(__file__).resolve().parent.parent
SADDLE = base_profile(red_flags=["saddle_anaesthesia"])
#: Profiles whose recommendation a clinician would check first after any change to the pack.
PROFILES = [
    base_profile(),
    SADDLE,
    base_profile(red_flags_unsure=["saddle_anaesthesia"]),
    base_profile(red_flags=["bladder_bowel_dysfunction"]),
    base_profile(red_flags=["cancer_history"], leg_pain="below_knee"),
    base_profile(directional_preference="flexion", age=70),
]



@pytest.fixture(autouse=True, scope="module")
def _snapshot_off() -> Iterator[None]:
    """These tests are about the parsed-file cache, so the pack snapshot, which would answer
    first, is off here (tests/test_doors_snapshot.py holds the snapshot's doors)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(snapshot, "ENABLED", False)
        yield

def _copy_pack(target: Path) -> Path:
    shutil.copytree(bundled_path(), target, ignore=shutil.ignore_patterns("cases", parsecache.LEGACY_FOLDER))
    return target


def _poisoned_triage(data: bytes) -> Any:
    """triage.yaml as parsed, but the saddle rule also asks for an age over 150: it never fires.

    The pack stays valid (a rule still refers for the flag), so only the decision changes.
    """
    doc = safe_yaml.load(data.decode("utf-8"), "triage.yaml")
    rule = next(r for r in doc["rules"] if r["id"] == "triage.cauda-equina.saddle")
    never = safe_yaml.LDict(age=safe_yaml.LDict(gt=150))
    both = safe_yaml.LList([rule["when"], never])
    both.line, both.item_lines = rule.line, [rule.line, rule.line]
    for part in (never, never["age"]):
        part.line, part.key_lines = rule.line, dict.fromkeys(part, rule.line)
    rule["when"] = safe_yaml.LDict(all=both)
    rule["when"].line, rule["when"].key_lines = rule.line, {"all": rule.line}
    return doc


def _plant_beside(pack: Path, folder: Path | None = None) -> None:
    """An entry of the kind 3ef2345 read: beside the pack, keyed to the unchanged triage.yaml."""
    data = (pack / "triage.yaml").read_bytes()
    target = folder if folder is not None else pack / parsecache.LEGACY_FOLDER
    target.mkdir(exist_ok=True)
    body = parsecache.encode(_poisoned_triage(data)).encode()
    (target / "triage.yaml.json").write_bytes(parsecache.key_of(data).encode() + b"\n" + body)


def _forge(folder: Path, data: bytes, doc: Any, secret: bytes) -> Path:
    """An entry for ``data`` holding ``doc``, authenticated with ``secret`` as backrx would write it."""
    key = parsecache.key_of(data)
    body = parsecache.encode(doc).encode()
    magic = f"backrx-parsed-{parsecache.CACHE_FORMAT}".encode()
    mac = hmac.new(secret, magic + b"\n" + key.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    entry = folder / parsecache.entry_name(key)
    entry.write_bytes(magic + b"\n" + mac.encode() + b"\n" + body)
    entry.chmod(0o600)
    return entry


def _outcome(pack: Path) -> tuple[str, str | None]:
    rec = backrx.load_rules(pack, engine="reference").recommend(SADDLE)
    return rec.outcome, rec.referral.urgency if rec.referral is not None else None


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache home for this test, the disk cache on, and an empty memo."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.delenv("BACKRX_PACK_CACHE", raising=False)
    parsecache.clear()
    yield tmp_path / "cache-home"
    parsecache.clear()


def test_an_entry_beside_an_unchanged_triage_file_cannot_turn_saddle_anaesthesia_into_a_program(
        tmp_path: Path, home: Path) -> None:
    """A poisoned parse keyed to the unchanged triage.yaml, in the folder beside it, is never read."""
    pack = _copy_pack(tmp_path / "pack")
    _plant_beside(pack)
    assert _outcome(pack) == ("refer", "emergency")


def test_a_forged_entry_in_the_private_cache_is_refused(tmp_path: Path, home: Path) -> None:
    """An entry in the private folder that was not authenticated with its secret is ignored."""
    pack = _copy_pack(tmp_path / "pack")
    _outcome(pack)  # makes the private folder and its genuine entries
    private = parsecache.cache_folder()
    assert private is not None and private.is_dir()
    data = (pack / "triage.yaml").read_bytes()
    _forge(private, data, _poisoned_triage(data), secret=b"a guess".ljust(32, b"\0"))
    parsecache.clear()
    assert _outcome(pack) == ("refer", "emergency")


@pytest.mark.parametrize("how", ["world-writable", "group-writable", "owned by another user"])
def test_an_authentic_entry_in_a_folder_others_can_write_is_not_used(tmp_path: Path, home: Path,
                                                                     how: str) -> None:
    """Even an entry that passes the HMAC is not read from a folder that is not private to this user."""
    if how == "owned by another user" and os.geteuid() != 0:
        pytest.skip("changing a folder's owner needs root")
    pack = _copy_pack(tmp_path / "pack")
    _outcome(pack)
    private = parsecache.cache_folder()
    assert private is not None
    data = (pack / "triage.yaml").read_bytes()
    _forge(private, data, _poisoned_triage(data), (private / parsecache.SECRET_NAME).read_bytes())
    parsecache.clear()
    assert _outcome(pack) == ("program", None)  # the forged entry is authentic: this folder would use it
    if how == "owned by another user":
        os.chown(private, os.geteuid() + 4242, -1)
    else:
        private.chmod(0o777 if how == "world-writable" else 0o770)
    parsecache.clear()
    assert _outcome(pack) == ("refer", "emergency")


@pytest.mark.slow
def test_neither_a_wheel_nor_an_sdist_carries_a_cache(tmp_path: Path) -> None:
    """Built from a checkout whose folders hold .backrx-cache entries, neither archive carries one."""
    src = tmp_path / "checkout"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", parsecache.LEGACY_FOLDER)
    for name in ("pyproject.toml", "README.md", "LICENSE", ".gitignore"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("src", "rules", "examples"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    for where in ("rules", "rules/locales", "src/backrx", "examples"):
        _plant_beside(src / "rules", src / where / parsecache.LEGACY_FOLDER)
    # The project's build backend, from the test extra (no download, no venv of its own).
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-d", str(tmp_path / "dist")], check=True,
                   cwd=src, capture_output=True)
    wheel = next((tmp_path / "dist").glob("backrx-*.whl"))
    sdist = next((tmp_path / "dist").glob("backrx-*.tar.gz"))
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = zf.namelist()
    with tarfile.open(sdist) as tf:
        in_sdist = tf.getnames()
    assert "backrx/_bundled_rules/triage.yaml" in in_wheel and "backrx/pack/parsecache.py" in in_wheel
    assert any(n.endswith("/rules/triage.yaml") for n in in_sdist)
    assert [n for n in in_wheel + in_sdist if parsecache.LEGACY_FOLDER in n] == []


def test_one_poisoned_parse_does_not_spread_to_a_clean_copy_or_the_bundled_pack(tmp_path: Path,
                                                                                home: Path) -> None:
    """After a poisoned copy is loaded, and a parsed document is changed in place, a clean copy and
    the bundled pack still send saddle anaesthesia to the emergency department."""
    poisoned = _copy_pack(tmp_path / "poisoned")
    _plant_beside(poisoned)
    clean = _copy_pack(tmp_path / "clean")
    backrx.load_rules(poisoned, engine="reference")
    data = (clean / "triage.yaml").read_bytes()
    doc = parsecache.parse(data, data.decode("utf-8"), "triage.yaml")
    doc["rules"][:] = _poisoned_triage(data)["rules"]  # a caller that changes what it was given
    assert _outcome(clean) == ("refer", "emergency")
    assert _outcome(bundled_path()) == ("refer", "emergency")
    assert _outcome(poisoned) == ("refer", "emergency")


def test_under_umask_000_nothing_the_cache_makes_can_be_written_by_others(tmp_path: Path,
                                                                         home: Path) -> None:
    """With umask 000 the cache folder is still 0700 and its files 0600; nothing appears beside the pack."""
    pack = _copy_pack(tmp_path / "pack")
    before = sorted(p.relative_to(pack) for p in pack.rglob("*"))
    old = os.umask(0)
    try:
        backrx.load_rules(pack, engine="reference")
    finally:
        os.umask(old)
    assert sorted(p.relative_to(pack) for p in pack.rglob("*")) == before
    private = parsecache.cache_folder()
    assert private is not None
    assert private.stat().st_mode & 0o777 == 0o700
    made = list(private.iterdir())
    assert len(made) > 1 and {p.stat().st_mode & 0o777 for p in made} == {0o600}


def test_a_symlinked_cache_folder_is_not_followed(tmp_path: Path, home: Path) -> None:
    """A cache folder that is a link (beside the pack, or as the private folder) is neither read nor
    written, even when what it points to holds entries authenticated with the secret found there."""
    pack = _copy_pack(tmp_path / "pack")
    elsewhere = tmp_path / "elsewhere"
    _plant_beside(pack, elsewhere)
    (pack / parsecache.LEGACY_FOLDER).symlink_to(elsewhere, target_is_directory=True)
    assert _outcome(pack) == ("refer", "emergency")
    private = parsecache.cache_folder()
    assert private is not None
    moved = tmp_path / "moved-private"
    private.rename(moved)
    private.symlink_to(moved, target_is_directory=True)
    data = (pack / "triage.yaml").read_bytes()
    _forge(moved, data, _poisoned_triage(data), (moved / parsecache.SECRET_NAME).read_bytes())
    parsecache.clear()
    listed = sorted(p.name for p in moved.iterdir()), sorted(p.name for p in elsewhere.iterdir())
    assert _outcome(pack) == ("refer", "emergency")
    assert (sorted(p.name for p in moved.iterdir()), sorted(p.name for p in elsewhere.iterdir())) == listed
    assert private.is_symlink()


def test_the_key_follows_the_parser_source_not_the_version_string(tmp_path: Path, home: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser whose source differs by one byte, under the same version string, has other keys,
    and does not read the entries the first one wrote."""
    data = b"a: 1\nb: [x, y]\n"
    parsecache.parse(data, data.decode(), "f.yaml")
    first = parsecache.key_of(data)
    changed = tmp_path / "safe_yaml.py"
    changed.write_bytes(Path(safe_yaml.__file__).read_bytes() + b"\n# one more line\n")
    monkeypatch.setattr(parsecache, "PARSER_MODULES", (changed, *parsecache.PARSER_MODULES[1:]))
    parsecache.clear()
    assert backrx.__version__ == __version__
    assert parsecache.key_of(data) != first
    calls: list[str] = []
    load = safe_yaml.load
    monkeypatch.setattr(safe_yaml, "load", lambda text, file: calls.append(file) or load(text, file))
    parsecache.parse(data, data.decode(), "f.yaml")
    assert calls == ["f.yaml"]


# --------------------------------------------------------------------------- the property


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A clean pack, its private cache as backrx writes it, and its recommendations with no cache."""
    base = tmp_path_factory.mktemp("genuine")
    pack = _copy_pack(base / "pack")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BACKRX_PACK_CACHE", "0")
        parsecache.clear()
        expected = _recs(pack)
        mp.delenv("BACKRX_PACK_CACHE")
        mp.setenv("XDG_CACHE_HOME", str(base / "home"))
        parsecache.clear()
        backrx.load_rules(pack, engine="reference")
        folder = parsecache.cache_folder()
    parsecache.clear()
    assert folder is not None
    files = sorted(pack.glob("*.yaml")) + sorted(pack.glob("locales/*.yaml"))
    names = {parsecache.entry_name(parsecache.key_of(f.read_bytes())): f for f in files}
    entries = {names[p.name].relative_to(pack).as_posix(): p.read_bytes()
               for p in folder.iterdir() if p.name in names}
    assert "triage.yaml" in entries and len(entries) > 10
    return {"pack": pack, "folder": folder, "entries": entries, "names": names, "expected": expected}


def _recs(pack: Path) -> list[str]:
    rules = backrx.load_rules(pack, engine="reference")
    return [rules.recommend(p).model_dump_json() for p in PROFILES]


_POISON = st.tuples(
    st.sampled_from(["random", "truncate", "flip", "swap", "saddle", "random-name", "delete"]),
    st.integers(0, 10**9), st.binary(max_size=300))


def _poison(kind: str, n: int, noise: bytes, entry: bytes, others: list[bytes], triage: bytes) -> bytes:
    """What a poisoned entry holds, built from the genuine ``entry``."""
    magic, mac, _ = entry.split(b"\n", 2)
    if kind == "random":
        return noise
    if kind == "truncate":
        return entry[: n % len(entry)]
    if kind == "flip":
        i = n % len(entry)
        return entry[:i] + bytes([entry[i] ^ (1 + n % 255)]) + entry[i + 1:]
    if kind == "swap":
        return others[n % len(others)]
    body = parsecache.encode(_poisoned_triage(triage)).encode()  # "saddle": the genuine MAC, a new body
    return magic + b"\n" + mac + b"\n" + body


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.dictionaries(st.integers(0, 10**6), _POISON, min_size=1, max_size=8),
       beside=st.booleans())
def test_a_poisoned_cache_never_changes_a_recommendation(genuine: dict[str, Any],
                                                         plan: dict[int, tuple[str, int, bytes]],
                                                         beside: bool) -> None:
    """However the cache's entries are poisoned (random bytes, truncated, flipped, swapped between
    files, a saddle rule that never fires under a genuine MAC, stray names, entries beside the
    pack), the pack gives the same recommendation to every profile as with no cache at all."""
    names = sorted(genuine["entries"])
    work = Path(tempfile.mkdtemp(prefix="poisoned-", dir=genuine["pack"].parent))
    try:
        pack = _copy_pack(work / "pack") if beside else genuine["pack"]
        if beside:
            _plant_beside(pack)
        folder = work / "home" / parsecache.FOLDER_NAME
        shutil.copytree(genuine["folder"], folder)
        by_rel = {f.relative_to(genuine["pack"]).as_posix(): name for name, f in genuine["names"].items()}
        triage = (genuine["pack"] / "triage.yaml").read_bytes()
        for pick, (kind, n, noise) in plan.items():
            rel = names[pick % len(names)]
            entry = genuine["entries"][rel]
            target = folder / by_rel[rel]
            others = [genuine["entries"][r] for r in names if r != rel]
            if kind == "delete":
                target.unlink(missing_ok=True)
            elif kind == "random-name":
                (folder / parsecache.entry_name(hashlib.sha256(noise).hexdigest())).write_bytes(noise)
            else:
                target.write_bytes(_poison(kind, n, noise, entry, others, triage))
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("XDG_CACHE_HOME", str(work / "home"))
            mp.delenv("BACKRX_PACK_CACHE", raising=False)
            parsecache.clear()
            assert _recs(pack) == genuine["expected"]
    finally:
        parsecache.clear()
        shutil.rmtree(work)
