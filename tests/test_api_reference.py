"""The documentation site: no raw Sphinx roles, and an API reference of public names only."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import yaml

import backrx

ROOT = Path(__file__).resolve().parent.parent
#: A reStructuredText role (``:class:`x```): mkdocs shows it raw, colons and all.
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|ref):`")
DIRECTIVE = re.compile(r"^::: (\S+)\n((?:    .*\n|\s*\n)*)", re.M)


def _raw_roles(files: list[Path], root: Path = ROOT) -> list[str]:
    return [f"{path.relative_to(root)}:{number}: {line.strip()}"
            for path in files for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if ROLE.search(line)]


def test_no_raw_sphinx_role_in_docstrings_or_docs() -> None:
    """No docstring in src/ and no page in docs/ uses a Sphinx role, which the site would show raw."""
    files = sorted((ROOT / "src" / "backrx").rglob("*.py")) + sorted((ROOT / "docs").glob("*.md"))
    wrong = _raw_roles(files)
    assert not wrong, "raw Sphinx roles (write `name` instead):\n" + "\n".join(wrong)


def test_role_check_sees_one(tmp_path: Path) -> None:
    """The role check reports a ``:func:`` role and leaves a Markdown code span alone."""
    planted = tmp_path / "x.md"
    planted.write_text("Use `backrx.recommend`.\nSee :func:`backrx.recommend`.\n", encoding="utf-8")
    assert _raw_roles([planted], tmp_path) == ["x.md:2: See :func:`backrx.recommend`."]


def _directives() -> list[tuple[str, dict[str, Any]]]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    out = []
    for target, block in DIRECTIVE.findall(text):
        options = (yaml.safe_load(block) or {}).get("options", {}) if block.strip() else {}
        out.append((target, options))
    return out


def _public_object(target: str) -> Any:
    """The object a directive documents, if it is public: every part of its path is public, and its
    module lists it in ``__all__`` (when the module has one)."""
    parts = target.split(".")
    assert not any(p.startswith("_") for p in parts), f"{target}: a private name"
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        name = parts[cut]
        exported = getattr(module, "__all__", None)
        assert exported is None or name in exported, f"{target}: {name} is not in {module.__name__}.__all__"
        found = getattr(module, name)
        for attribute in parts[cut + 1:]:
            found = getattr(found, attribute)
        return found
    raise AssertionError(f"{target}: no such module")


def test_the_api_reference_documents_public_names_only() -> None:
    """Every entry of docs/api.md is a public name (in its module's ``__all__``), every member list
    names public members that exist, and the handler hides every ``_name`` member."""
    directives = _directives()
    assert len(directives) > 40
    for target, options in directives:
        found = _public_object(target)
        for member in options.get("members", []) or []:
            assert not member.startswith("_") and hasattr(found, member), (target, member)
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    handler = next(p["mkdocstrings"] for p in config["plugins"]
                   if isinstance(p, dict) and "mkdocstrings" in p)
    assert handler["handlers"]["python"]["options"]["filters"] == ["!^_"]


def test_every_top_level_name_of_the_reference_is_in_backrx_all() -> None:
    """Each ``backrx.X`` of the reference is in ``backrx.__all__``; RuleSet shows no worker-only method."""
    directives = dict(_directives())
    top = [t.split(".")[1] for t in directives if t.count(".") == 1]
    assert top and set(top) <= set(backrx.__all__)
    shown = set(directives["backrx.RuleSet"]["members"])
    assert {"recommend", "recommend_many", "rule"} <= shown
    assert not shown & {"decide_facts", "share_equal_parts"}


def test_fhir_unavailable_error_is_filed_under_errors() -> None:
    """FhirUnavailableError sits in the reference's Errors section, not under Safety case."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text[:text.index("::: backrx.FhirUnavailableError")].rsplit("\n## ", 1)[1].splitlines()[0]
    assert section == "Errors"
