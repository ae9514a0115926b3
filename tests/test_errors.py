"""One error shape: every public error is a BackrxError with pydantic-like errors(), and every code
the source can raise has a line in docs/errors.md."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

import backrx
from backrx.errors import BackrxError, InputError, Problem, RuleError, errors_of, format_errors
from backrx.readers import documents, safe_yaml

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "backrx"
DOC = ROOT / "docs" / "errors.md"

KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")  # PydanticCustomError types may be snake_case
#: Calls that take an error code, and which positional argument holds it (None: any argument).
SINKS: dict[str, int | None] = {
    "Problem": None, "RuleError": None, "FeedbackError": None, "OverrideError": 0, "InputError": 0,
    "YamlError": 2, "ChainError": 0, "AuthError": 0, "RefusalError": 1, "PydanticCustomError": 0,
    "Unreadable": 0, "_problem": None, "_bad": None, "_error": 0, "_error_row": 1, "add": None,
    "add_own": None, "__init__": 0,
}
#: Kebab-case strings passed to a sink that are not error codes (a FHIR vocabulary value, an
#: iCalendar property name given to ``Calendar.add``).
NOT_CODES = {"user-friendly-name", "x-wr-calname"}


def _constants(node: ast.AST, pattern: re.Pattern[str]) -> set[str]:
    return {c.value for c in ast.walk(node)
            if isinstance(c, ast.Constant) and isinstance(c.value, str) and pattern.match(c.value)}


def _codes_in(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in SINKS:
                position = SINKS[name]
                args = node.args if position is None else node.args[position:position + 1]
                for arg in args:
                    found |= _constants(arg, KEBAB)
                if name in ("PydanticCustomError", "_error") and node.args:
                    found |= _constants(node.args[0], SNAKE)
            for keyword in node.keywords:
                if keyword.arg == "code":
                    found |= _constants(keyword.value, KEBAB)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code"
                                                  for t in node.targets):
            found |= _constants(node.value, KEBAB)  # code = "..." (a class default or a choice)
    return found


def source_codes() -> set[str]:
    """Every error or problem code written as a literal in src/backrx."""
    found: set[str] = set()
    for path in sorted(SRC.rglob("*.py")):
        found |= _codes_in(ast.parse(path.read_text(encoding="utf-8")))
    return found - NOT_CODES


def documented_codes() -> set[str]:
    """The codes docs/errors.md explains: the first cell of each table row."""
    text = DOC.read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^\|\s*`([a-z][a-z0-9_-]*)`", text, re.M)}


def test_the_collector_finds_codes_of_every_kind() -> None:
    """The source scan sees pack problems, profile checks, feedback, override, input and CDS codes."""
    codes = source_codes()
    for code in ("unknown-operator", "stage-mismatch", "round-out-of-order", "needs-acknowledgement",
                 "json-duplicate-key", "yaml-alias", "cds-auth-expired", "record-unchained",
                 "fhir-unavailable", "engine-failure", "too_long"):
        assert code in codes, code
    assert "user-friendly-name" not in codes and "not-found" not in codes


def test_every_code_the_source_can_raise_is_documented() -> None:
    """docs/errors.md has a line (with its fix) for every code a backrx error or problem can carry."""
    missing = sorted(source_codes() - documented_codes())
    assert not missing, f"add these codes to docs/errors.md: {', '.join(missing)}"


def test_every_documented_line_says_what_to_do() -> None:
    """Each code's row in docs/errors.md has a meaning and a fix, not empty cells."""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\|\s*`[a-z]", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) >= 3 and all(cells[:3]), line


@pytest.mark.parametrize("cls", [backrx.RuleError, backrx.EngineError, backrx.FeedbackError,
                                 backrx.OverrideError, backrx.FhirUnavailableError, backrx.InputError])
def test_every_public_error_is_a_backrx_error(cls: type[Exception]) -> None:
    """Each public error class derives from BackrxError and keeps its standard base class."""
    assert issubclass(cls, backrx.BackrxError)
    assert issubclass(cls, (ValueError, RuntimeError, ImportError))


def test_the_service_errors_are_backrx_errors() -> None:
    """The record chain's and the CDS service's errors share the shape too."""
    from backrx.interop._cds_request import RefusalError
    from backrx.interop.cds_auth import AuthConfigError
    from backrx.model.chain import ChainError

    for cls in (ChainError, AuthConfigError, RefusalError, safe_yaml.YamlError, documents.DuplicateKeyError):
        assert issubclass(cls, BackrxError), cls


def test_rule_error_lists_file_line_and_rule() -> None:
    """RuleError.errors() gives each problem's code with loc = (file, line, rule_id)."""
    exc = RuleError([Problem("rules/triage.yaml", 12, "triage.cauda", "unknown-field", "no field 'x'"),
                     Problem("pack.yaml", None, None, "missing-key", "missing 'name'", "name")])
    assert exc.errors() == [
        {"code": "missing-key", "loc": ("pack.yaml", 0, "", "name"), "msg": "missing 'name'"},
        {"code": "unknown-field", "loc": ("rules/triage.yaml", 12, "triage.cauda"), "msg": "no field 'x'"},
    ]


def test_feedback_error_has_one_coded_entry() -> None:
    """FeedbackError.errors() is its code, its loc and its message."""
    exc = backrx.FeedbackError("rounds must come in date order", code="round-out-of-order",
                               loc=("responses", 2, "date"))
    assert exc.errors() == [{"code": "round-out-of-order", "loc": ("responses", 2, "date"),
                             "msg": "rounds must come in date order"}]


def test_a_validation_error_maps_to_codes_without_input_values() -> None:
    """errors_of() turns pydantic's errors into {code, loc, msg} and drops the input values."""
    with pytest.raises(ValidationError) as info:
        backrx.Profile.model_validate({"age": 7, "pain_site": "secret-site", "leg_pain": "none",
                                       "pain_intensity": 3, "tolerance": "low", "red_flags": [],
                                       "duration_weeks": 2})
    errors = errors_of(info.value)
    assert {e["code"] for e in errors} == {"greater_than_equal", "literal_error"}
    assert all(set(e) == {"code", "loc", "msg"} for e in errors)
    assert "secret-site" not in repr(errors)
    lines = format_errors(errors, "p.yaml")
    assert len(lines) == 2 and all(line.startswith("p.yaml: ") and "[code=" in line for line in lines)


def test_an_unknown_exception_is_not_given_a_code() -> None:
    """errors_of() refuses an exception backrx does not document."""
    with pytest.raises(TypeError):
        errors_of(KeyError("x"))


def test_input_errors_name_the_file_and_survive_pickling(tmp_path: Path) -> None:
    """Unreadable input raises an InputError whose loc starts with the file, also after pickling."""
    path = tmp_path / "p.json"
    path.write_text('{"a": 1, "a": 2}', encoding="utf-8")
    with pytest.raises(InputError) as dup:
        documents.loads(path.read_text(encoding="utf-8"), str(path))
    path.write_text("age: 40\n", encoding="utf-8")
    with pytest.raises(InputError) as syntax:
        documents.loads(path.read_text(encoding="utf-8"), str(path))
    for exc in (dup.value, syntax.value):
        again = pickle.loads(pickle.dumps(exc))
        assert again.errors() == exc.errors() and exc.errors()[0]["loc"] == (str(path),)
    assert (dup.value.code, syntax.value.code) == ("json-duplicate-key", "json-syntax")
    assert isinstance(syntax.value, ValueError)
