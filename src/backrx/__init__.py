"""backrx: from a back-pain profile to a safe, staged exercise program that explains itself.

backrx supports clinicians and informed users; it does not diagnose.
"""

from backrx._version import __version__
from backrx.adjust import adjust, replay
from backrx.errors import EngineError, FeedbackError, OverrideError, Problem, RuleError
from backrx.feedback import ExerciseResponse, Feedback, load_feedback
from backrx.fhir import FhirUnavailableError, from_fhir  # imports fhir.resources only when called
from backrx.override import OverrideChanges, override
from backrx.profile import Profile, load_profile
from backrx.recommendation import (
    AdjustmentRound,
    Change,
    Classification,
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

__all__ = [
    "AdjustmentRound",
    "Change",
    "Classification",
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
    "from_fhir",
    "load_feedback",
    "load_profile",
    "load_rules",
    "override",
    "recommend",
    "replay",
]
