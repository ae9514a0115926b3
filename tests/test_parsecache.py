"""Parsed pack files kept as JSON: the same pack as parsing the YAML, never a stale or foreign one.

The doors tests (tests/test_doors_cache.py) hold what a poisoned or misplaced cache cannot do."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backrx
from backrx.pack import parsecache, snapshot
from backrx.pack.read import bundled_path
from backrx.readers import safe_yaml
from conftest import base_profile


@pytest.fixture(autouse=True, scope="module")
def _snapshot_off() -> Iterator[None]:
    """These tests are about the parsed-file cache, so the pack snapshot, which would answer
    first, is off here (tests/test_doors_snapshot.py holds the snapshot's doors)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(snapshot, "ENABLED", False)
        yield

def _shape(doc: Any) -> Any:
    """A parsed document with its line numbers written out, to compare two of them."""
    if isinstance(doc, safe_yaml.LDict):
        return ("m", doc.line, [(k, doc.key_lines[k], _shape(v)) for k, v in doc.items()])
    if isinstance(doc, safe_yaml.LList):
        return ("s", doc.line, doc.item_lines, [_shape(v) for v in doc])
    return (type(doc).__name__, doc)


def _files() -> list[Path]:
    root = bundled_path()
    return sorted(root.glob("*.yaml")) + sorted((root / "locales").glob("*.yaml"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_every_bundled_file_reads_back_with_its_values_and_lines(path: Path) -> None:
    """Each bundled file, kept and read back, has the same keys, values, types and line numbers as parsed."""
    text = path.read_text(encoding="utf-8")
    parsed = safe_yaml.load(text, path.name)
    assert _shape(parsecache.decode(parsecache.encode(parsed))) == _shape(parsed)


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.text(max_size=8),
                    st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=200)
@given(data=st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=4)),
    max_leaves=20))
def test_any_yaml_document_reads_back_as_parsed(data: Any) -> None:
    """Any document of plain YAML data (dumped, parsed with lines) reads back from its entry unchanged."""
    import yaml

    text = yaml.safe_dump({"doc": data}, allow_unicode=True)
    parsed = safe_yaml.load(text, "x.yaml")
    assert _shape(parsecache.decode(parsecache.encode(parsed))) == _shape(parsed)


@pytest.fixture
def private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The private cache folder of this test (empty), with the disk cache on and an empty memo."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    monkeypatch.delenv("BACKRX_PACK_CACHE", raising=False)
    parsecache.clear()
    folder = parsecache.cache_folder()
    assert folder == tmp_path / "cache-home" / parsecache.FOLDER_NAME
    return folder


@pytest.fixture
def fresh(pack_copy: Path, private: Path) -> Path:
    """A writable copy of the bundled pack without any old cache folder beside it."""
    shutil.rmtree(pack_copy / parsecache.LEGACY_FOLDER, ignore_errors=True)
    return pack_copy


def _recs(rules: backrx.RuleSet) -> list[str]:
    profiles = [base_profile(), base_profile(directional_preference="flexion", age=70),
                base_profile(red_flags=["saddle_anaesthesia"])]
    return [rules.recommend(p).model_dump_json() for p in profiles]


def _entries(private: Path) -> list[str]:
    return sorted(p.name for p in private.iterdir() if p.name != parsecache.SECRET_NAME)


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    load = safe_yaml.load

    def counted(text: str, file: str) -> Any:
        calls.append(file)
        return load(text, file)

    monkeypatch.setattr(safe_yaml, "load", counted)
    return calls


def test_a_pack_read_from_its_cache_is_the_pack_parsed_from_yaml(fresh: Path, private: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded with the disk cache off, then written to it, then read from it (no YAML parsed), a
    pack has one digest, the same rules at the same lines, and gives the same recommendations."""
    monkeypatch.setenv("BACKRX_PACK_CACHE", "0")
    calls = _count_parses(monkeypatch)
    plain = backrx.load_rules(fresh, engine="reference")
    assert not private.exists() and "triage.yaml" in calls
    monkeypatch.delenv("BACKRX_PACK_CACHE")
    parsecache.clear()
    calls.clear()
    backrx.load_rules(fresh, engine="reference")  # writes the entries
    assert len(_entries(private)) == len(set(calls)) > 10
    assert not (fresh / parsecache.LEGACY_FOLDER).exists()  # nothing is written beside the pack
    parsecache.clear()
    calls.clear()
    cached = backrx.load_rules(fresh, engine="reference")  # reads them
    assert calls == []
    assert cached.pack.digest == plain.pack.digest
    where = [(r.id, r.file, r.line) for r in plain.pack.rules]
    assert [(r.id, r.file, r.line) for r in cached.pack.rules] == where
    assert _recs(cached) == _recs(plain)


def test_an_edited_file_is_parsed_again_not_taken_from_the_cache(fresh: Path) -> None:
    """After a file changes, its new content is what loads: the entry of the old bytes is not used."""
    backrx.load_rules(fresh, engine="reference")
    parsecache.clear()
    triage = fresh / "triage.yaml"
    triage.write_text(triage.read_text(encoding="utf-8").replace(
        "id: triage.cauda-equina.saddle", "id: triage.cauda-equina.saddle-renamed", 1), encoding="utf-8")
    rules = backrx.load_rules(fresh, engine="reference")
    assert "triage.cauda-equina.saddle-renamed" in {r.id for r in rules.pack.rules}


@pytest.mark.parametrize("body", [b"not json", b'{"m": 1}', b'{"m": 0, "k": []}', b"[1, 2",
                                  b'{"m": 1, "k": [["a", 1, {"x": 1, "y": 2}]]}', b"\xff\xfe"])
def test_a_broken_entry_is_ignored_the_yaml_parsed_and_the_entry_replaced(fresh: Path, private: Path,
                                                                          body: bytes) -> None:
    """An entry for the right bytes that is not an authentic parsed document is ignored and rewritten."""
    expected = _recs(backrx.load_rules(fresh, engine="reference"))
    entry = private / parsecache.entry_name(parsecache.key_of((fresh / "triage.yaml").read_bytes()))
    genuine = entry.read_bytes()
    magic, mac, _ = genuine.split(b"\n", 2)
    entry.write_bytes(magic + b"\n" + mac + b"\n" + body)
    parsecache.clear()
    assert _recs(backrx.load_rules(fresh, engine="reference")) == expected
    assert entry.read_bytes() == genuine


def test_an_entry_that_is_a_fifo_or_a_link_is_not_read(fresh: Path, private: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A FIFO or a symlink in place of an entry is not opened for reading; the YAML is parsed."""
    expected = _recs(backrx.load_rules(fresh, engine="reference"))
    triage = private / parsecache.entry_name(parsecache.key_of((fresh / "triage.yaml").read_bytes()))
    exercises = private / parsecache.entry_name(parsecache.key_of((fresh / "exercises.yaml").read_bytes()))
    pack = private / parsecache.entry_name(parsecache.key_of((fresh / "pack.yaml").read_bytes()))
    triage.unlink()
    os.mkfifo(triage)
    exercises.unlink()
    exercises.symlink_to(pack)
    parsecache.clear()
    calls = _count_parses(monkeypatch)
    assert _recs(backrx.load_rules(fresh, engine="reference")) == expected
    assert sorted(calls) == ["exercises.yaml", "triage.yaml"]


def test_where_no_private_folder_can_be_made_the_pack_loads_and_nothing_is_kept(fresh: Path,
                                                                                private: Path) -> None:
    """Where the cache folder cannot be made (a file is in its way), the pack loads as usual."""
    private.parent.mkdir()
    private.write_text("in the way")
    assert _recs(backrx.load_rules(fresh, engine="reference")) == _recs(
        backrx.load_rules(bundled_path(), engine="reference"))
    assert private.read_text() == "in the way"
    assert sorted(p.name for p in private.parent.iterdir()) == [parsecache.FOLDER_NAME]


def test_an_entry_is_a_format_line_an_hmac_and_plain_json(fresh: Path, private: Path) -> None:
    """What the cache writes is a format line, a 64-digit HMAC, then plain JSON; the secret is 32 bytes."""
    backrx.load_rules(fresh, engine="reference")
    key = parsecache.key_of((fresh / "pack.yaml").read_bytes())
    raw = (private / parsecache.entry_name(key)).read_bytes()
    magic, mac, body = raw.split(b"\n", 2)
    assert magic == f"backrx-parsed-{parsecache.CACHE_FORMAT}".encode()
    assert len(mac) == 64 and int(mac, 16) >= 0
    assert isinstance(json.loads(body), dict)
    assert len((private / parsecache.SECRET_NAME).read_bytes()) == 32


def test_the_cache_keeps_at_most_its_limit_of_entries(private: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_ENTRIES the oldest entries are removed when a new one is written; the secret stays."""
    monkeypatch.setattr(parsecache, "MAX_ENTRIES", 3)
    for n in range(6):
        data = f"n: {n}\n".encode()
        parsecache.parse(data, data.decode(), "f.yaml")
    assert len(_entries(private)) == 3
    assert (private / parsecache.SECRET_NAME).is_file()


def test_the_same_bytes_are_parsed_once_in_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes parsed once (a worker checks a pickled pack's digest, then loads it) are not parsed again."""
    monkeypatch.setenv("BACKRX_PACK_CACHE", "0")
    calls = _count_parses(monkeypatch)
    parsecache.clear()
    data = b"a: 1\nb: [x, y]\n"
    first = parsecache.parse(data, data.decode(), "f.yaml")
    second = parsecache.parse(data, data.decode(), "f.yaml")
    assert calls == ["f.yaml"]
    assert _shape(first) == _shape(second) and first is not second  # each caller gets its own copy
