"""The public surface is pinned: names, types and documented behaviour."""

from __future__ import annotations

import inspect

import backrx


def test_all_is_pinned() -> None:
    """backrx.__all__ lists exactly the documented public names, sorted."""
    assert backrx.__all__ == [
        "AdjustmentRound",
        "BackrxError",
        "Change",
        "Classification",
        "CriterionStatus",
        "Day",
        "Dose",
        "Elimination",
        "EngineError",
        "Episode",
        "Evidence",
        "Exclusion",
        "Exercise",
        "ExerciseResponse",
        "Feedback",
        "FeedbackError",
        "FhirUnavailableError",
        "Firing",
        "Hold",
        "InputError",
        "MeasureChange",
        "Migration",
        "Notice",
        "Outcomes",
        "Override",
        "OverrideChanges",
        "OverrideError",
        "Phase",
        "PhaseStatus",
        "Prescription",
        "Problem",
        "Profile",
        "Program",
        "Progress",
        "PsfsItem",
        "Recommendation",
        "Reference",
        "Referral",
        "RuleError",
        "RuleSet",
        "RulesetInfo",
        "__version__",
        "adjust",
        "batch",
        "from_fhir",
        "load_feedback",
        "load_profile",
        "load_rules",
        "migrate",
        "override",
        "recommend",
        "render",
        "replay",
    ]
    assert backrx.__all__ == sorted(backrx.__all__)
    for name in backrx.__all__:
        assert hasattr(backrx, name), name


def test_signatures_match_the_contract() -> None:
    """recommend and load_rules have the signatures API.md fixes."""
    rec = inspect.signature(backrx.recommend)
    assert list(rec.parameters) == ["profile", "rules", "locale"]
    assert rec.parameters["rules"].kind is inspect.Parameter.KEYWORD_ONLY
    assert rec.parameters["locale"].kind is inspect.Parameter.KEYWORD_ONLY
    assert rec.parameters["locale"].default == "en"
    load = inspect.signature(backrx.load_rules)
    assert next(iter(load.parameters)) == "path"
    assert load.parameters["path"].default is None


def test_rule_error_is_a_value_error() -> None:
    """RuleError subclasses ValueError and carries a list of problems."""
    assert issubclass(backrx.RuleError, ValueError)
    err = backrx.RuleError([backrx.Problem("a.yaml", 3, "x.y", "bad-id", "msg")])
    assert err.problems[0].line == 3
    assert "a.yaml:3" in str(err)


def test_version_is_a_string() -> None:
    """__version__ is a dotted version string."""
    assert backrx.__version__.count(".") == 2


def test_package_is_typed() -> None:
    """The package ships a py.typed marker."""
    from importlib.resources import files

    assert files("backrx").joinpath("py.typed").is_file()
