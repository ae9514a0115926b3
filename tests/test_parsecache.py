"""Parsed pack files kept as JSON: the same pack as parsing the YAML, never a stale or foreign one."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backrx
from backrx import _yaml
from backrx.pack import parsecache
from backrx.pack.rulepack import bundled_path
from conftest import base_profile


def _shape(doc: Any) -> Any:
    """A parsed document with its line numbers written out, to compare two of them."""
    if isinstance(doc, _yaml.LDict):
        return ("m", doc.line, [(k, doc.key_lines[k], _shape(v)) for k, v in doc.items()])
    if isinstance(doc, _yaml.LList):
        return ("s", doc.line, doc.item_lines, [_shape(v) for v in doc])
    return (type(doc).__name__, doc)


def _files() -> list[Path]:
    root = bundled_path()
    return sorted(root.glob("*.yaml")) + sorted((root / "locales").glob("*.yaml"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_every_bundled_file_reads_back_with_its_values_and_lines(path: Path) -> None:
    """Each bundled file, kept and read back, has the same keys, values, types and line numbers as parsed."""
    text = path.read_text(encoding="utf-8")
    parsed = _yaml.load(text, path.name)
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
    parsed = _yaml.load(text, "x.yaml")
    assert _shape(parsecache.decode(parsecache.encode(parsed))) == _shape(parsed)


@pytest.fixture
def fresh(pack_copy: Path) -> Path:
    """A writable copy of the bundled pack without any cache entry, and an empty memo."""
    folder = pack_copy / parsecache.CACHE_FOLDER
    if folder.exists():
        shutil.rmtree(folder)
    parsecache.clear()
    return pack_copy


def _recs(rules: backrx.RuleSet) -> list[str]:
    profiles = [base_profile(), base_profile(directional_preference="flexion", age=70),
                base_profile(red_flags=["saddle_anaesthesia"])]
    return [rules.recommend(p).model_dump_json() for p in profiles]


def test_a_pack_read_from_its_cache_is_the_pack_parsed_from_yaml(fresh: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded with the disk cache off, then written to it, then read from it (in a fresh memo), a
    pack has one digest, the same rules at the same lines, and gives the same recommendations."""
    monkeypatch.setenv("BACKRX_PACK_CACHE", "0")
    parsecache.clear()
    plain = backrx.load_rules(fresh, engine="reference")
    assert not (fresh / parsecache.CACHE_FOLDER).exists()
    monkeypatch.delenv("BACKRX_PACK_CACHE")
    parsecache.clear()
    backrx.load_rules(fresh, engine="reference")  # writes the entries
    entries = sorted(p.name for p in (fresh / parsecache.CACHE_FOLDER).iterdir())
    assert "triage.yaml.json" in entries
    parsecache.clear()
    cached = backrx.load_rules(fresh, engine="reference")  # reads them
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
def test_a_broken_entry_is_ignored_and_the_yaml_parsed(fresh: Path, body: bytes) -> None:
    """An entry for the right bytes that is not a parsed document of the right shape is ignored."""
    expected = _recs(backrx.load_rules(fresh, engine="reference"))
    triage = fresh / "triage.yaml"
    entry = fresh / parsecache.CACHE_FOLDER / "triage.yaml.json"
    entry.write_bytes(parsecache.key_of(triage.read_bytes()).encode() + b"\n" + body)
    parsecache.clear()
    assert _recs(backrx.load_rules(fresh, engine="reference")) == expected


def test_an_entry_that_is_a_fifo_or_a_link_is_not_read(fresh: Path) -> None:
    """A FIFO or a symlink in place of an entry is not opened for reading; the YAML is parsed."""
    expected = _recs(backrx.load_rules(fresh, engine="reference"))
    folder = fresh / parsecache.CACHE_FOLDER
    (folder / "triage.yaml.json").unlink()
    os.mkfifo(folder / "triage.yaml.json")
    (folder / "exercises.yaml.json").unlink()
    (folder / "exercises.yaml.json").symlink_to(folder / "pack.yaml.json")
    parsecache.clear()
    assert _recs(backrx.load_rules(fresh, engine="reference")) == expected


def test_a_pack_whose_cache_cannot_be_written_loads_and_keeps_nothing(fresh: Path) -> None:
    """Where no cache folder can be made (a file is in its way), the pack loads as usual."""
    expected = _recs(backrx.load_rules(fresh, engine="reference"))
    shutil.rmtree(fresh / parsecache.CACHE_FOLDER)
    (fresh / parsecache.CACHE_FOLDER).write_text("in the way")
    parsecache.clear()
    assert _recs(backrx.load_rules(fresh, engine="reference")) == expected
    assert (fresh / parsecache.CACHE_FOLDER).read_text() == "in the way"


def test_an_entry_is_json_data_headed_by_the_hash_of_the_bytes(fresh: Path) -> None:
    """What the cache writes is the SHA-256 of the file's bytes on one line, then plain JSON."""
    parsecache.clear()
    backrx.load_rules(fresh, engine="reference")
    raw = (fresh / parsecache.CACHE_FOLDER / "pack.yaml.json").read_bytes()
    head, _, body = raw.partition(b"\n")
    assert head.decode() == parsecache.key_of((fresh / "pack.yaml").read_bytes())
    assert isinstance(json.loads(body), dict)


def test_the_same_bytes_are_parsed_once_in_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes parsed once (a worker checks a pickled pack's digest, then loads it) are not parsed again."""
    calls: list[str] = []
    load = _yaml.load

    def counted(text: str, file: str) -> Any:
        calls.append(file)
        return load(text, file)

    monkeypatch.setattr(_yaml, "load", counted)
    parsecache.clear()
    data = b"a: 1\nb: [x, y]\n"
    first = parsecache.parse(data, data.decode(), "f.yaml")
    second = parsecache.parse(data, data.decode(), "f.yaml")
    assert calls == ["f.yaml"]
    assert _shape(first) == _shape(second) and first is not second  # each caller gets its own copy
