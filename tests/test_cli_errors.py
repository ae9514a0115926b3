"""What the command line says when it cannot go on: one line per problem naming the file or field,
its code, and the documented exit status."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pytest

import backrx
from backrx import cli
from backrx.batch.commands import count_rows, progress_bar
from backrx.pack.examples import example_text

ROOT = Path(__file__).resolve().parent.parent
PROFILE = {"age": 34, "duration_weeks": 22, "pain_site": "lower", "leg_pain": "buttock_thigh",
           "pain_intensity": 5, "tolerance": "moderate", "directional_preference": "extension",
           "red_flags": []}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_an_invalid_profile_prints_one_line_per_problem(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Each pydantic error is one line `file: field.path: message [code=...]`, with no URL; exit 2."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**PROFILE, "age": 5, "pain_site": "knee",
                                "history": {"pregnant": False, "pregnancy_weeks": 10}}), encoding="utf-8")
    assert cli.main(["recommend", str(path)]) == cli.EXIT_INPUT
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines
    assert all(line.startswith(f"{path}: ") and re.search(r"\[code=[a-z_-]+\]$", line) for line in lines)
    assert {line.split(": ")[1] for line in lines} == {"age", "pain_site", "history"}
    assert not any("http" in line for line in lines)


def test_adjust_on_a_yaml_profile_names_the_file_and_what_it_wanted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A YAML profile where a stored recommendation belongs is refused naming the file and the fix."""
    path = tmp_path / "profile.yaml"
    path.write_text(example_text("stenosis"), encoding="utf-8")
    assert cli.main(["adjust", str(path), str(path)]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: ") and "expected a Recommendation as JSON" in err
    assert "[code=not-a-recommendation]" in err and len(err.splitlines()) == 1


def test_adjust_on_a_json_profile_says_it_is_a_profile(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A profile written as JSON is recognised as a profile, not read as a broken recommendation."""
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE), encoding="utf-8")
    assert cli.main(["adjust", str(path), str(path)]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "holds a profile" in err and "[code=not-a-recommendation]" in err


def test_batch_to_parquet_without_pyarrow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Without pyarrow, `batch in.jsonl out.parquet` exits 2 saying to install backrx[batch]."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(PROFILE) + "\n", encoding="utf-8")
    for name in [n for n in sys.modules if n == "pyarrow" or n.startswith("pyarrow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails as if not installed
    assert cli.main(["batch", str(source), str(tmp_path / "out.parquet"), "--no-progress"]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "pip install 'backrx[batch]'" in err and "internal error" not in err
    assert not (tmp_path / "out.parquet").exists()


def test_an_unknown_locale_is_a_usage_error_naming_the_locales(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--locale fr` exits 2 listing the pack's locales; it is not reported as a pack problem."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps(PROFILE), encoding="utf-8")
    assert cli.main(["recommend", str(path), "--locale", "fr"]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "--locale fr" in err and "[code=unknown-locale]" in err and "rule pack" not in err
    for lang in backrx.load_rules().locales:
        assert lang in err.split("available: ")[1]


@pytest.mark.parametrize("fmt", ["json", "fhir"])
def test_view_with_json_or_fhir_is_refused(tmp_path: Path, fmt: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """--view only shapes text, md and html: with json or fhir it is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as info:
        cli.main(["recommend", str(tmp_path / "p.json"), "--format", fmt, "--view", "clinician"])
    assert info.value.code == 2
    assert "--view applies to text, md and html" in capsys.readouterr().err


def test_every_format_option_has_help() -> None:
    """Each command's --format says what each choice gives."""
    for name, command in _subcommands().items():
        for action in command._actions:
            if "--format" in action.option_strings:
                assert action.help and action.help != argparse.SUPPRESS, name


def test_a_missing_module_that_is_not_an_extra_is_an_internal_error(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the optional extras get the install hint; any other missing module is a bug (exit 3)."""
    def broken(args: argparse.Namespace) -> int:
        raise ModuleNotFoundError("No module named 'backrx.gone'", name="backrx.gone")

    monkeypatch.setattr(cli, "_main", broken)
    assert cli.main(["check"]) == cli.EXIT_INTERNAL
    assert "internal error (ModuleNotFoundError)" in capsys.readouterr().err


def test_the_readme_command_list_matches_the_parser() -> None:
    """README's command list names every `backrx` command, and only options each command has."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    commands = _subcommands()
    listed: set[str] = set()
    for line in block.splitlines():
        for usage in re.findall(r"backrx ([a-z-]+)([^|#]*(?:\|[^#\[\]]*)?)", line):
            name, rest = usage
            listed.add(name)
            assert name in commands, name
            known = {s for a in commands[name]._actions for s in a.option_strings}
            for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", rest):
                assert option in known, (name, option)
    assert listed == set(commands)


def test_the_readme_format_choices_match_the_parser() -> None:
    """Every `--format a|b|c` in README's command list is exactly that command's choices."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    commands = _subcommands()
    for name, choices in re.findall(r"backrx ([a-z-]+) .*?--format ([a-z|]+)", block):
        action = next(a for a in commands[name]._actions if "--format" in a.option_strings)
        assert set(choices.split("|")) == set(action.choices or ()), name


def test_the_cli_reference_documents_the_exit_codes() -> None:
    """The generated command-line reference ends with the exit-code table the CLI uses."""
    import runpy

    page = runpy.run_path(str(ROOT / "tools" / "clidoc.py"))["cli_reference"]()
    for code in cli.EXIT_CODES:
        assert f"\n| {code} | " in page


def test_the_progress_bar_knows_its_total(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rows of .jsonl and .csv inputs are counted, so the bar shows done/total and a time left."""
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("{}\n\n{}\n{}\n", encoding="utf-8")
    table = tmp_path / "in.csv"
    table.write_text('age,note\n40,"two\nlines"\n50,x\n', encoding="utf-8")
    counts = (count_rows(str(jsonl)), count_rows(str(table)), count_rows(str(tmp_path / "x.json")))
    assert counts == (3, 2, None)
    pytest.importorskip("tqdm")
    with progress_bar(True, 3) as update:
        assert update is not None
        update(3)
    err = capsys.readouterr().err
    assert "3/3" in err and re.search(r"\d+:\d+<\d+:\d+", err), err
