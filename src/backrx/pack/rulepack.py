"""Reading and validating a rule pack: YAML files in, a checked `Pack` out.

A pack is a folder::

    pack.yaml        name, version, description
    sources.yaml     the bibliography
    exercises.yaml   the exercise catalog
    phases.yaml      the program's phases, in order, with min_days and progress criteria
    outcomes.yaml    optional: outcome measures and their minimal important differences
    text.yaml        the words reports put around the pack's texts (optional; see backrx.pack.texts)
    locales/         <lang>.yaml translations of the patient-facing texts (see backrx.pack.locale)
    *.yaml           rule files, each ``layer: <name>`` and ``rules: [...]``
    cases/           golden cases (read by tests and audits, not by the loader)

Packs are untrusted input. The whole pack is checked before anything runs and
every problem is reported at once in one `RuleError`; nothing of a broken
pack is loaded.

The loader lives in modules by job: `model` (what a pack holds),
`read` (reading one file), `parts` (the data files),
`conditions`, `actions` (the action table),
`rules` and `load` (the whole pack and the checks across
files). This module keeps the names other code imports from one place.
"""

from __future__ import annotations

import difflib  # noqa: F401  (tests count the hint comparisons through it)

from backrx.pack.actions import ACTIONS, LAYER_ACTIONS, POLICIES, Action
from backrx.pack.limits import (
    MAX_ALTERNATIVES,
    MAX_AT_LEAST_ITEMS,
    MAX_CONDITION_DEPTH,
    MAX_CONDITION_NODES,
    MAX_DERIVED,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_IN_VALUES,
    MAX_NUMBER,
    MAX_PACK_BYTES,
    MAX_PATTERNS,
    MAX_RULES,
    MAX_TEXT,
    MAX_YAML_ITEMS,
)
from backrx.pack.load import DATA_FILES, REQUIRED_FILES, TEXT_FILES, digest_of, digest_of_bytes, read_pack
from backrx.pack.model import (
    ADJUST_ACTIONS,
    CRITERION_PRIORITY,
    DOSE_FIELDS,
    DOSE_KINDS,
    DOSE_LIMITS,
    EXCLUSION_CODES,
    LAYERS,
    LEGACY_SOURCE_KINDS,
    NON_RULE_FILES,
    RECOMMEND_LAYERS,
    RULE_EXCLUSION_CODES,
    SAFETY_CODES,
    SOURCE_KINDS,
    CatalogEntry,
    CriterionDef,
    DoseSpec,
    Exclude,
    Layer,
    Measure,
    Pack,
    PhaseDef,
    Prescribe,
    Refer,
    Rule,
    RuleEvidence,
    Schedule,
    Source,
    Then,
    Warn,
)
from backrx.pack.read import MAX_HINT_CANDIDATES, MAX_HINTS, MAX_PROBLEMS_PER_FILE, bundled_path

__all__ = [
    "ACTIONS",
    "ADJUST_ACTIONS",
    "CRITERION_PRIORITY",
    "DATA_FILES",
    "DOSE_FIELDS",
    "DOSE_KINDS",
    "DOSE_LIMITS",
    "EXCLUSION_CODES",
    "LAYERS",
    "LAYER_ACTIONS",
    "LEGACY_SOURCE_KINDS",
    "MAX_ALTERNATIVES",
    "MAX_AT_LEAST_ITEMS",
    "MAX_CONDITION_DEPTH",
    "MAX_CONDITION_NODES",
    "MAX_DERIVED",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_HINTS",
    "MAX_HINT_CANDIDATES",
    "MAX_IN_VALUES",
    "MAX_NUMBER",
    "MAX_PACK_BYTES",
    "MAX_PATTERNS",
    "MAX_PROBLEMS_PER_FILE",
    "MAX_RULES",
    "MAX_TEXT",
    "MAX_YAML_ITEMS",
    "NON_RULE_FILES",
    "POLICIES",
    "RECOMMEND_LAYERS",
    "REQUIRED_FILES",
    "RULE_EXCLUSION_CODES",
    "SAFETY_CODES",
    "SOURCE_KINDS",
    "TEXT_FILES",
    "Action",
    "CatalogEntry",
    "CriterionDef",
    "DoseSpec",
    "Exclude",
    "Layer",
    "Measure",
    "Pack",
    "PhaseDef",
    "Prescribe",
    "Refer",
    "Rule",
    "RuleEvidence",
    "Schedule",
    "Source",
    "Then",
    "Warn",
    "bundled_path",
    "digest_of",
    "digest_of_bytes",
    "read_pack",
]
