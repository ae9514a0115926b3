"""backrx: from a back-pain profile to a safe, staged exercise program that explains itself.

backrx supports clinicians and informed users; it does not diagnose.
"""

from backrx._version import __version__
from backrx.adjust import adjust, replay
from backrx.errors import EngineError, FeedbackError, Problem, RuleError
from backrx.feedback import ExerciseResponse, Feedback, load_feedback
from backrx.measures import Outcomes, PsfsItem
from backrx.migrate import migrate
from backrx.profile import Profile, load_profile
from backrx.recommendation import (
    AdjustmentRound,
    Change,
    Classification,
    CriterionStatus,
    Dose,
    Elimination,
    Exclusion,
    Exercise,
    Firing,
    Hold,
    MeasureChange,
    Migration,
    Notice,
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
from backrx.ruleset import RuleSet, load_rules, recommend

__all__ = [
    "AdjustmentRound",
    "Change",
    "Classification",
    "CriterionStatus",
    "Dose",
    "Elimination",
    "EngineError",
    "Exclusion",
    "Exercise",
    "ExerciseResponse",
    "Feedback",
    "FeedbackError",
    "Firing",
    "Hold",
    "MeasureChange",
    "Migration",
    "Notice",
    "Outcomes",
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
    "load_feedback",
    "load_profile",
    "load_rules",
    "migrate",
    "recommend",
    "replay",
]
