"""The extension tables (formats, invariants) change only through functions that validate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.conftest import base_profile

import backrx
from backrx.audit.invariant import Invariant
from backrx.audit.invariants import register_invariant, registered_invariants, unregister_invariant
from backrx.cli import build_parser
from backrx.model.formats import (
    BUILT_IN_FORMATS,
    FORMATS,
    Format,
    register_format,
    renderer,
    unregister_format,
)


def _lines(rec: backrx.Recommendation, **_: Any) -> str:
    return "\n".join(rule.rule_id for rule in rec.trace)


def _load_lines() -> Callable[..., Any]:
    return _lines


@pytest.fixture
def lines_format() -> Iterator[Format]:
    """A `phases` format (one line per fired rule) registered for one test."""
    fmt = register_format(Format("phases", _load_lines, "one line per rule that fired"))
    try:
        yield fmt
    finally:
        unregister_format("phases")


def test_the_built_in_formats_are_filled_from_above() -> None:
    """Importing backrx registers every built-in format, each loading a real renderer."""
    assert tuple(FORMATS) == BUILT_IN_FORMATS
    assert all(callable(FORMATS[name].renderer()) for name in ("text", "md", "html", "cert"))


def test_the_format_table_cannot_be_changed_by_accident() -> None:
    """Writing to or deleting from the public format table raises; the table stays as it was."""
    with pytest.raises(TypeError):
        FORMATS["phases"] = Format("phases", _load_lines, "x")  # type: ignore[index]
    with pytest.raises(TypeError):
        del FORMATS["text"]  # type: ignore[attr-defined]
    assert tuple(FORMATS) == BUILT_IN_FORMATS


@pytest.mark.parametrize(("fmt", "error", "message"), [
    (Format("md", _load_lines, "a second Markdown"), ValueError, "already registered"),
    (Format("json", _load_lines, "the Recommendation"), ValueError, "json"),
    (Format("Phases!", _load_lines, "bad name"), ValueError, "lower-case"),
    (Format("phases", _load_lines, "  "), ValueError, "description"),
    (Format("phases", "backrx.render.report:explain", "a string"), TypeError, "function"),  # type: ignore[arg-type]
])
def test_format_registration_validates(fmt: Format, error: type[Exception], message: str) -> None:
    """A taken, reserved or malformed name, no description or a loader that is not a function is refused."""
    with pytest.raises(error, match=message):
        register_format(fmt)
    assert tuple(FORMATS) == BUILT_IN_FORMATS


def test_a_registered_format_is_used(lines_format: Format) -> None:
    """A registered format renders through its own function and becomes a --format choice of the CLI."""
    assert renderer("phases") is _lines
    text = renderer("phases")(backrx.recommend(base_profile(red_flags=["saddle_anaesthesia"])))
    assert any(line.startswith("triage.") for line in text.splitlines())
    args = build_parser().parse_args(["recommend", "p.yaml", "--format", "phases"])
    assert args.format == "phases"


def test_a_built_in_format_cannot_be_unregistered() -> None:
    """unregister_format removes extensions only: a built-in name is a KeyError and stays."""
    with pytest.raises(KeyError):
        unregister_format("text")
    assert "text" in FORMATS


def test_invariant_registration_refuses_what_is_not_an_invariant() -> None:
    """register_invariant refuses a bare function, and the registry seen from outside is a tuple."""
    with pytest.raises(TypeError):
        register_invariant(lambda rules, profile, rec: None)  # type: ignore[arg-type]
    assert isinstance(registered_invariants(), tuple)
    item = register_invariant(Invariant("clinic.always-holds", "Every plan has a disclaimer.",
                                        lambda rules, profile, rec: None if rec.disclaimer else "none"))
    try:
        assert item in registered_invariants()
    finally:
        unregister_invariant(item.id)
    assert item not in registered_invariants()


def test_an_unregistered_format_is_unknown_again(lines_format: Format) -> None:
    """After unregister_format, the name is an unknown format that names the known ones."""
    unregister_format("phases")
    with pytest.raises(ValueError, match="unknown format 'phases'; formats are cert"):
        renderer("phases")
    register_format(lines_format)  # for the fixture to take out again
