"""backrx: from a back-pain profile to a safe, staged exercise program that explains itself.

backrx supports clinicians and informed users; it does not diagnose.
"""

from backrx._version import __version__
from backrx.errors import EngineError, Problem, RuleError
from backrx.profile import Profile, load_profile
from backrx.recommendation import (
    Classification,
    Dose,
    Exclusion,
    Exercise,
    Firing,
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
    "Classification",
    "Dose",
    "EngineError",
    "Exclusion",
    "Exercise",
    "Firing",
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
    "load_profile",
    "load_rules",
    "recommend",
]
