"""backrx: from a back-pain profile to a safe, staged exercise program that explains itself.

backrx supports clinicians and informed users; it does not diagnose.
"""

from backrx._version import __version__
from backrx.adjust import adjust, replay
from backrx.errors import EngineError, FeedbackError, Problem, RuleError
from backrx.feedback import ExerciseResponse, Feedback, load_feedback
from backrx.profile import Profile, load_profile
from backrx.recommendation import (
    AdjustmentRound,
    Change,
    Classification,
    Day,
    Dose,
    Elimination,
    Exclusion,
    Exercise,
    Firing,
    Notice,
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
    "Day",
    "Dose",
    "Elimination",
    "EngineError",
    "Exclusion",
    "Exercise",
    "ExerciseResponse",
    "Feedback",
    "FeedbackError",
    "Firing",
    "Notice",
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
    "load_feedback",
    "load_profile",
    "load_rules",
    "recommend",
    "replay",
]
