"""docs/architecture.md stays true: its rooms table is the house plan the house test enforces, and
every file, folder and dotted name its "where a change goes" section sends a reader to exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from tests.test_architecture import ROOMS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
#: Where a path in the doc may be rooted: the repository, the package, the rule pack.
BASES = (ROOT, ROOT / "src", ROOT / "src" / "backrx", ROOT / "rules")
_TICKED = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"^[\w./-]+(/|\.py|\.yaml|\.md|\.j2)$")
_DOTTED = re.compile(r"^[a-z_]+(\.[a-z_]+)*\.[A-Za-z_]\w*$")


def _section(text: str, title: str) -> str:
    """The text of the ``## title`` section, up to the next ``## `` heading."""
    body = text.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def doc_rooms(text: str) -> list[set[str]]:
    """The rooms of the doc's table, level by level: ``readers/`` and ``cli.py`` as ``readers``, ``cli``."""
    levels: list[set[str]] = []
    for line in _section(text, "Rooms, bottom up").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].isdigit():
            continue
        assert int(cells[0]) == len(levels), f"the table's levels run 0, 1, 2...: {line}"
        levels.append({name.rstrip("/").removesuffix(".py") for name in _TICKED.findall(cells[1])})
    return levels


def missing_paths(section: str) -> list[str]:
    """The paths in backticks (``run/assemble.py``, ``rules/cases/``) that exist under no base."""
    paths = [t for t in _TICKED.findall(section) if _PATH.match(t)]
    return [p for p in paths if not any((base / p).exists() for base in BASES)]


def dotted_names(section: str) -> list[str]:
    """The ``module.name`` tokens in backticks that are not file names (``cli.py``, ``text.yaml``)."""
    return [t for t in _TICKED.findall(section) if _DOTTED.match(t) and not _PATH.match(t)]


def missing_names(section: str) -> list[str]:
    """The dotted names in backticks (``render.FORMATS``) that no backrx module defines."""
    wrong = []
    for name in dotted_names(section):
        module, attribute = name.rsplit(".", 1)
        try:
            found = hasattr(importlib.import_module(f"backrx.{module}"), attribute)
        except ImportError:
            found = False
        if not found:
            wrong.append(name)
    return wrong


def test_the_rooms_table_is_the_house_plan() -> None:
    """The doc's rooms table lists the same rooms, level by level, as the house test's ROOMS."""
    assert doc_rooms(DOC.read_text(encoding="utf-8")) == [set(level) for level in ROOMS]


def test_every_path_of_where_a_change_goes_exists() -> None:
    """Every file or folder named in backticks under "Where a change goes" exists."""
    section = _section(DOC.read_text(encoding="utf-8"), "Where a change goes")
    assert len([t for t in _TICKED.findall(section) if _PATH.match(t)]) >= 10
    assert missing_paths(section) == []


def test_every_dotted_name_of_where_a_change_goes_exists() -> None:
    """Every ``module.name`` in backticks under "Where a change goes" is defined in that backrx module."""
    section = _section(DOC.read_text(encoding="utf-8"), "Where a change goes")
    assert len(dotted_names(section)) >= 3
    assert missing_names(section) == []


def test_the_doc_checks_see_a_stale_doc() -> None:
    """The checks report a room the plan lacks, a moved file and a name that is gone."""
    table = ("\n## Rooms, bottom up\n\n| level | room | what it holds |\n|---|---|---|\n"
             "| 0 | `errors.py`, `_yaml.py` | x |\n| 1 | `adjust/` | y |\n\n## Next\n")
    assert doc_rooms(table) == [{"errors", "_yaml"}, {"adjust"}]
    section = ("`run/assemble.py` and `adjust/override.py`, `rules/cases/`, `rulepack` and "
               "`model.formats.FORMATS`")
    assert missing_paths(section) == ["adjust/override.py"]
    assert missing_names("`model.formats.FORMATS`, `text.yaml`, `pack.rulepack.Pack`, `render.NOTHING`") == [
        "pack.rulepack.Pack", "render.NOTHING"]
