"""The docs cannot go stale: every Python snippet runs, the CLI reference covers the parser, and the
facts the docs state about the bundled pack are checked against it."""

from __future__ import annotations

import argparse
import re
import runpy
from pathlib import Path
from typing import Any

import pytest

import backrx
from backrx.cli import build_parser
from backrx.engine import durable_available

ROOT = Path(__file__).resolve().parent.parent
#: The CLI reference generator lives with the docs tooling (tools/clidoc.py), outside the package.
cli_reference = runpy.run_path(str(ROOT / "tools" / "clidoc.py"))["cli_reference"]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def snippets(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, in order."""
    return _FENCE.findall(path.read_text(encoding="utf-8"))


def test_snippets_are_found() -> None:
    """The extractor finds the snippets (so an empty run cannot pass by accident)."""
    counts = {p.name: len(snippets(p)) for p in DOC_FILES}
    assert counts["README.md"] >= 1 and counts["handouts.md"] >= 1
    assert sum(counts.values()) >= 15


@pytest.mark.parametrize("path", [p for p in DOC_FILES if snippets(p)], ids=lambda p: p.name)
def test_every_python_snippet_runs(path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Each file's snippets run in order, in one namespace, from the repository root, without error.

    A snippet that needs durable_rules (it says engine="durable") is skipped where durable_rules
    does not import (Python 3.13+)."""
    from backrx.audit.invariants import registered_invariants, unregister_invariant

    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {"__name__": f"docs_{path.stem}"}
    ran = 0
    before = {item.id for item in registered_invariants()}
    try:
        for index, code in enumerate(snippets(path)):
            if 'engine="durable"' in code and not durable_available():
                continue
            exec(compile(code, f"{path.name}[python block {index}]", "exec"), namespace)
            ran += 1
    finally:  # an invariant a snippet registers must not join the audits of later tests
        for item in registered_invariants():
            if item.id not in before:
                unregister_invariant(item.id)
    capsys.readouterr()
    assert ran > 0 or not durable_available()


def test_cli_reference_covers_every_command_and_option() -> None:
    """The generated CLI reference names every subcommand and every visible option of the parser."""
    text = cli_reference()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        assert f"## backrx {name}" in text
        for action in command._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings or [action.dest]:
                assert f"`{option}`" in text, (name, option)
    assert "`--engine`" not in text  # hidden on purpose


def test_docs_show_no_stale_pack_digest(rules: backrx.RuleSet) -> None:
    """A pack digest quoted in the docs is the bundled pack's current one."""
    for path in DOC_FILES:
        for digest in re.findall(r"sha256:([0-9a-f]{12,64})", path.read_text(encoding="utf-8")):
            assert rules.digest.removeprefix("sha256:").startswith(digest), (path.name, digest)


def test_profile_doc_names_the_history_fields_the_pack_reads(rules: backrx.RuleSet) -> None:
    """profile.md's list of history fields the bundled pack reads is the list its rules read."""
    text = (ROOT / "docs" / "profile.md").read_text(encoding="utf-8")
    sentence = " ".join(text[text.index("the bundled pack\nreads"):].split("today")[0].split())
    claimed = set(re.findall(r"`(history\.[a-z_]+)`", sentence))
    read = {f for r in rules.pack.rules for f in r.reads if f.startswith("history.")}
    assert claimed == read


def test_every_docs_page_is_in_the_site_nav() -> None:
    """mkdocs.yml lists every docs page (generated pages included) in its nav."""
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        return [p for value in node.values() for p in pages(value)]

    listed = set(pages(config["nav"]))
    assert {p.name for p in (ROOT / "docs").glob("*.md")} | {"cli.md", "changelog.md"} == listed
