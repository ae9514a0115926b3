"""backrx: from a back-pain profile to a safe, staged exercise program that explains itself.

backrx supports clinicians and informed users; it does not diagnose.

The public names below are imported when first used (``import backrx`` alone loads almost
nothing), so a program pays only for the parts it calls.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from backrx._version import __version__

if TYPE_CHECKING:
    from backrx import batch
    from backrx.adjust import adjust, replay
    from backrx.errors import EngineError, FeedbackError, OverrideError, Problem, RuleError
    from backrx.feedback import ExerciseResponse, Feedback, load_feedback
    from backrx.fhir import FhirUnavailableError, from_fhir
    from backrx.override import OverrideChanges, override
    from backrx.profile import Profile, load_profile
    from backrx.recommendation import (
        AdjustmentRound,
        Change,
        Classification,
        Day,
        Dose,
        Elimination,
        Evidence,
        Exclusion,
        Exercise,
        Firing,
        Notice,
        Override,
        Phase,
        Prescription,
        Program,
        Recommendation,
        Reference,
        Referral,
        RulesetInfo,
    )
    from backrx.ruleset import RuleSet, load_rules, recommend

#: Where each public name lives; it is imported on first access.
_HOMES: dict[str, str] = {
    "adjust": "backrx.adjust",
    "replay": "backrx.adjust",
    "EngineError": "backrx.errors",
    "FeedbackError": "backrx.errors",
    "OverrideError": "backrx.errors",
    "Problem": "backrx.errors",
    "RuleError": "backrx.errors",
    "ExerciseResponse": "backrx.feedback",
    "Feedback": "backrx.feedback",
    "load_feedback": "backrx.feedback",
    "FhirUnavailableError": "backrx.fhir",  # backrx.fhir imports fhir.resources only when called
    "from_fhir": "backrx.fhir",
    "OverrideChanges": "backrx.override",
    "override": "backrx.override",  # the function; the module stays backrx.override in sys.modules
    "Profile": "backrx.profile",
    "load_profile": "backrx.profile",
    **dict.fromkeys(
        ("AdjustmentRound", "Change", "Classification", "Day", "Dose", "Elimination", "Evidence",
         "Exclusion", "Exercise", "Firing", "Notice", "Override", "Phase", "Prescription", "Program",
         "Recommendation", "Reference", "Referral", "RulesetInfo"),
        "backrx.recommendation",
    ),
    "RuleSet": "backrx.ruleset",
    "load_rules": "backrx.ruleset",
    "recommend": "backrx.ruleset",
}
_MODULES = ("batch",)  # public submodules


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


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps ``backrx.adjust`` the function: importing the submodule ``backrx.adjust`` would
    otherwise bind the module to that name in the package."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOMES.get(name) == f"backrx.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "AdjustmentRound",
    "Change",
    "Classification",
    "Day",
    "Dose",
    "Elimination",
    "EngineError",
    "Evidence",
    "Exclusion",
    "Exercise",
    "ExerciseResponse",
    "Feedback",
    "FeedbackError",
    "FhirUnavailableError",
    "Firing",
    "Notice",
    "Override",
    "OverrideChanges",
    "OverrideError",
    "Phase",
    "Prescription",
    "Problem",
    "Profile",
    "Program",
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
    "override",
    "recommend",
    "replay",
]
