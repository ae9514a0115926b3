"""Packaging: the licence, project URLs, bundled examples, stdin profiles, and the built wheel."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

from backrx.cli import main
from backrx.pack.examples import example_names, example_text

ROOT = Path(__file__).resolve().parent.parent


def test_licence_file_is_mit_and_declared() -> None:
    """The repository carries the MIT licence text that pyproject and the README claim."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == {"text": "MIT"}
    assert {"Homepage", "Repository", "Issues", "Changelog", "Documentation"} <= set(meta["urls"])


def test_example_list_names_every_example_file(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx example --list` prints one line per YAML file in examples/."""
    assert main(["example", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))
    assert listed == example_names()


def test_example_prints_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx example NAME` prints the example's YAML unchanged."""
    assert main(["example", "stenosis"]) == 0
    assert capsys.readouterr().out == (ROOT / "examples" / "stenosis.yaml").read_text(encoding="utf-8")


def test_example_writes_a_file(tmp_path: Path) -> None:
    """`backrx example NAME -o FILE` writes the example to FILE."""
    target = tmp_path / "mine.yaml"
    assert main(["example", "stabilization", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == example_text("stabilization")


def test_unknown_example_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown example name exits 2 and lists the examples that exist."""
    assert main(["example", "no-such"]) == 2
    err = capsys.readouterr().err
    assert "no-such" in err and "stenosis" in err


@pytest.mark.parametrize("as_json", [False, True])
def test_recommend_reads_a_profile_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    """`backrx recommend -` reads the profile (YAML or JSON) from standard input."""
    import yaml

    text = example_text("stenosis")
    if as_json:
        text = json.dumps(yaml.safe_load(text))
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["recommend", "-", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "stenosis" in out["classification"]["pathways"]


def test_recommend_stdin_reports_bad_yaml(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Broken YAML on standard input exits 2 with a message naming <stdin>."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("age: [1,\n"))
    assert main(["recommend", "-"]) == 2
    assert "<stdin>" in capsys.readouterr().err


@pytest.mark.slow
def test_built_wheel_works_outside_the_checkout(tmp_path: Path) -> None:
    """The wheel, installed in a fresh venv, ships the examples: `backrx example | backrx recommend -`."""
    dist = tmp_path / "dist"
    # Built with the test extra's hatchling (no isolated build environment to download).
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist)], check=True, cwd=tmp_path)
    wheel = next(dist.glob("backrx-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "backrx/_examples/stenosis.yaml" in names
    assert [n for n in names if ".backrx-cache" in n] == []  # a checkout's old cache folders stay out
    assert any(n.endswith(("licenses/LICENSE", "/LICENSE")) for n in names)
    assert "Project-URL: Repository," in metadata
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, cwd=tmp_path)
    where = subprocess.run([str(py), "-c", "import backrx; print(backrx.__file__)"], check=True,
                           cwd=tmp_path, capture_output=True, text=True).stdout
    assert str(ROOT) not in where and str(venv) in where
    exe = venv / "bin" / "backrx"
    example = subprocess.run([str(exe), "example", "stenosis"], check=True, cwd=tmp_path,
                             capture_output=True, text=True).stdout
    result = subprocess.run([str(exe), "recommend", "-", "--format", "json"], input=example, check=True,
                            cwd=tmp_path, capture_output=True, text=True)
    assert "stenosis" in json.loads(result.stdout)["classification"]["pathways"]
    html = subprocess.run([str(exe), "recommend", "-", "--format", "html"], input=example, check=True,
                          cwd=tmp_path, capture_output=True, text=True).stdout
    assert html.lstrip().lower().startswith("<!doctype html>")
