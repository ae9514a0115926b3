"""backrx: from a back-pain profile to a safe, staged exercise program that explains itself.

backrx supports clinicians and informed users; it does not diagnose.

The public names below are imported when first used (``import backrx`` alone loads almost
nothing), so a program pays only for the parts it calls.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backrx._version import __version__

if TYPE_CHECKING:
    from backrx import batch, render
    from backrx.errors import (
        BackrxError,
        EngineError,
        FeedbackError,
        InputError,
        OverrideError,
        Problem,
        RuleError,
    )
    from backrx.followup.apply import adjust, migrate, replay
    from backrx.followup.episode import Episode
    from backrx.interop.fhir import FhirUnavailableError, from_fhir
    from backrx.model.feedback import ExerciseResponse, Feedback, load_feedback
    from backrx.model.measures import Outcomes, PsfsItem
    from backrx.model.profile import Profile, load_profile
    from backrx.model.recommendation import (
        AdjustmentRound,
        Change,
        Classification,
        CriterionStatus,
        Day,
        Dose,
        Elimination,
        Evidence,
        Exclusion,
        Exercise,
        Firing,
        Hold,
        MeasureChange,
        Migration,
        Notice,
        Override,
        Phase,
        PhaseStatus,
        Prescription,
        Program,
        Progress,
        Recommendation,
        Reference,
        Referral,
        RulesetInfo,
    )
    from backrx.overrides.override import OverrideChanges, override
    from backrx.ruleset import RuleSet, load_rules, recommend

#: Where each public name lives; it is imported on first access.
_HOMES: dict[str, str] = {
    "adjust": "backrx.followup.apply",
    "replay": "backrx.followup.apply",
    "Episode": "backrx.followup.episode",
    "BackrxError": "backrx.errors",
    "EngineError": "backrx.errors",
    "InputError": "backrx.errors",
    "FeedbackError": "backrx.errors",
    "OverrideError": "backrx.errors",
    "Problem": "backrx.errors",
    "RuleError": "backrx.errors",
    "ExerciseResponse": "backrx.model.feedback",
    "Feedback": "backrx.model.feedback",
    "load_feedback": "backrx.model.feedback",
    "FhirUnavailableError": "backrx.interop.fhir",  # imports fhir.resources only when called
    "from_fhir": "backrx.interop.fhir",
    "Outcomes": "backrx.model.measures",
    "PsfsItem": "backrx.model.measures",
    "migrate": "backrx.followup.apply",
    "OverrideChanges": "backrx.overrides.override",
    "override": "backrx.overrides.override",
    "Profile": "backrx.model.profile",
    "load_profile": "backrx.model.profile",
    **dict.fromkeys(
        ("AdjustmentRound", "Change", "Classification", "CriterionStatus", "Day", "Dose", "Elimination",
         "Evidence", "Exclusion", "Exercise", "Firing", "Hold", "MeasureChange", "Migration", "Notice",
         "Override", "Phase", "PhaseStatus", "Prescription", "Program", "Progress", "Recommendation",
         "Reference", "Referral", "RulesetInfo"),
        "backrx.model.recommendation",
    ),
    "RuleSet": "backrx.ruleset",
    "load_rules": "backrx.ruleset",
    "recommend": "backrx.ruleset",
}
_MODULES = ("batch", "render")  # public submodules

if not TYPE_CHECKING:
    # Hidden from type checkers: a module-level __getattr__ would type every attribute of backrx,
    # even a misspelt one, as Any. They read the imports above instead, so ``backrx.render`` is
    # the typed module and ``backrx.nothing`` an error.

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is not None:
            value = getattr(importlib.import_module(home), name)
        elif name in _MODULES:
            value = importlib.import_module(f"backrx.{name}")
        else:
            raise AttributeError(f"module 'backrx' has no attribute {name!r}")
        globals()[name] = value
        return value


# The model offers rec.explain(), rec.to_fhir() and the bundled disclaimer, but the renderers and
# the pack sit in rooms above it. They are handed down here, at import time, by loaders that import
# them when first used: Python runs this file before any backrx.* module.
def _explain() -> Callable[..., Any]:
    from backrx.render import explain
    return explain


def _handout() -> Callable[..., Any]:
    from backrx.render import handout
    return handout


def _html() -> Callable[..., Any]:
    from backrx.render import html
    return html


def _fhir() -> Callable[..., Any]:
    from backrx.interop.fhir import to_fhir
    return to_fhir


def _cert() -> Callable[..., Any]:
    from backrx.render.cert import cert_markdown
    return cert_markdown


def _ics() -> Callable[..., Any]:
    from backrx.render.ics import to_ics
    return to_ics


def _disclaimer() -> str:
    from backrx.pack.texts import bundled_texts
    return str(bundled_texts()["disclaimer"])


@functools.lru_cache(maxsize=1)
def _words() -> Any:
    from backrx.pack.texts import Texts
    return Texts()


_VIEWS = ("patient", "clinician")


def _fill_registries() -> None:
    from backrx.model.formats import Format, register_format
    from backrx.model.providers import provide_disclaimer, provide_words

    for fmt in (
        Format("text", _explain, "a plain-text account of why this plan", views=_VIEWS),
        Format("md", _handout, "a Markdown handout", views=_VIEWS),
        Format("html", _html, "an HTML handout (patient or clinician view)", views=_VIEWS),
        Format("fhir", _fhir, "a FHIR R4 Bundle as JSON data"),
        Format("cert", _cert, "a CERT report (Slade 2016) in Markdown"),
        Format("ics", _ics, "an iCalendar (RFC 5545) of the current phase's sessions"),
    ):
        register_format(fmt)
    provide_disclaimer(_disclaimer)
    provide_words(_words)


_fill_registries()


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
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
