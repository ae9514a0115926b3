"""What a loaded rule pack holds: the layers' names, the vocabularies of the pack files and the
frozen records (sources, catalog entries, phases, measures, rules and their conclusions, the pack)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from backrx.lang.condition import Condition, Scalar
from backrx.model.vocabulary import FIELDS, URGENCIES, FieldSpec
from backrx.pack.donotdo import DoNotDoBook
from backrx.pack.education import EducationBook
from backrx.pack.figures import FigureBook
from backrx.pack.planspec import PlannerSpec
from backrx.pack.popbook import PopulationBook
from backrx.pack.tiers import Tiers

#: The layers, in the order they run. Each reads only what earlier layers concluded. ``states``
#: names the clinical states (derived facts) that triage and every later layer read.
LAYERS: tuple[str, ...] = ("states", "triage", "classification", "components", "exclusions", "dosing",
                           "adjust")
#: The layers `backrx.recommend` runs; ``adjust`` runs in `backrx.adjust`.
RECOMMEND_LAYERS: tuple[str, ...] = LAYERS[:6]
#: Per-exercise adjust actions, most conservative first. drop_family also drops the exercise's
#: movement family (its catalog pattern), in every phase.
ADJUST_ACTIONS: tuple[str, ...] = ("drop_family", "drop", "regress", "hold", "progress")
#: What a layer's rules read: the profile (and what earlier layers concluded), or a round of
#: feedback (with the profile and every profile layer's conclusions). A rule file says which with
#: ``inputs:``; profile is the default.
INPUTS: tuple[str, ...] = ("profile", "feedback")
#: The pack format this release writes (``format_version`` in pack.yaml), and the ones it reads.
#: A pack.yaml without format_version is format 2 (the packs of backrx 0.2 to 0.4).
PACK_FORMAT = 3
PACK_FORMATS: tuple[int, ...] = (2, 3)
#: Format 2 had no ``inputs:``: its adjust layer read the feedback. Only format-2 packs use this.
FORMAT_2_INPUTS: dict[str, str] = {"adjust": "feedback"}
#: Priority of the rules compiled from phases.yaml progress criteria (after every adjust rule).
CRITERION_PRIORITY = 900
DOSE_KINDS = ("hold", "reps", "stretch", "timed", "education", "repeated", "position", "mobility",
              "soft_tissue", "balance")
#: Kinds of source, strongest first (see docs/rule-pack.md, "Evidence").
SOURCE_KINDS = ("guideline", "systematic-review", "rct", "cohort", "expert-opinion", "seed-article")
#: Kind names of packs written before 0.2, and the kind each now loads as. ``practitioner`` maps
#: to expert opinion: only the pack's author can say which practitioner pages are seed articles.
LEGACY_SOURCE_KINDS = {"trial": "rct", "review": "systematic-review", "prediction-rule": "cohort",
                       "consensus": "expert-opinion", "practitioner": "expert-opinion"}
#: Files of a pack that are not rule files (read by their own commands, not part of the digest).
NON_RULE_FILES = ("safety.yaml",)
DOSE_FIELDS = ("sets", "reps", "hold_seconds", "minutes", "sessions_per_week", "times_per_day")
DOSE_LIMITS = {"sets": 10, "reps": 100, "hold_seconds": 600, "minutes": 240, "sessions_per_week": 14,
               "times_per_day": 12}
#: Why an exercise was left out, as stable codes beside the human reasons (``Exclusion.codes``).
EXCLUSION_CODES = ("time", "equipment", "setting", "direction", "load-cap", "contraindication", "population",
                   "program", "peripheralization", "response")
#: The codes an exclusion rule of a pack declares (``code`` of an ``exclude`` entry): the one
#: source of the code that the planner stores on the exclusion and an override's accept names.
RULE_EXCLUSION_CODES = ("direction", "load-cap", "contraindication", "population", "program")
#: Exclusion codes that only an explicit acknowledgement can set aside (``program`` is a design
#: choice; ``peripheralization`` and ``response`` come from adjust; the rest from the rules).
SAFETY_CODES = ("direction", "peripheralization", "contraindication", "population", "load-cap", "response")

# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Source:
    id: str
    citation: str
    year: int | None
    kind: str
    url: str | None
    verified: bool
    note: str
    grade: str | None = None  # the grade the source itself gives what backrx draws from it
    legacy_kind: str | None = None  # the pre-0.2 kind name the pack used, if any


@dataclass(frozen=True)
class RuleEvidence:
    """How strong the support for what a rule recommends is, as the rule states it."""

    kind: str | None  # one of SOURCE_KINDS; None when the rule is a design choice only
    grade: str | None = None  # the grade of the recommendation, where a source grades it
    note: str | None = None
    design: bool = False  # backrx (or the pack's author) chose without evidence


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    category: str
    direction: str
    load: int
    dose_kind: str
    equipment: tuple[str, ...]
    settings: tuple[str, ...]
    targets: tuple[str, ...]
    tags: tuple[str, ...]
    instructions: str
    easier: str | None
    harder: str | None
    sources: tuple[str, ...]
    pattern: str = ""  # movement family: a phase holds one exercise per family
    per_side: bool = False  # done once on each side (the work time doubles)
    media: tuple[str, ...] = ()


@dataclass(frozen=True)
class CriterionDef:
    """A criterion for leaving a phase: its text, and the adjust rule that checks it."""

    id: str
    text: str
    quota: bool  # it also applies when the plan is built up by quota (not by pain)
    rule_id: str


@dataclass(frozen=True)
class PhaseDef:
    id: str
    name: str
    goal: str
    weeks: int
    progress_when: tuple[str, ...]
    min_days: int = 0
    criteria: tuple[CriterionDef, ...] = ()


@dataclass(frozen=True)
class Measure:
    """An outcome measure and the change that counts as meaningful (outcomes.yaml)."""

    id: str
    name: str
    better: str  # lower | higher
    mcid: float | None
    percent: float | None
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Refer:
    urgency: str
    reason: str


@dataclass(frozen=True)
class Warn:
    """A clinician-facing warning: a stable kebab-case code and its message."""

    code: str
    message: str


@dataclass(frozen=True)
class Prescribe:
    phase: str
    exercises: tuple[str, ...]
    pick: int
    role: str = ""  # the planner's fill-order role (planner.yaml); empty: the default role


@dataclass(frozen=True)
class Exclude:
    exercises: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    max_load: int | None = None
    phases: tuple[str, ...] = ()  # empty: every phase
    #: A RULE_EXCLUSION_CODES code, declared by the rule (the loader fills it from the entry's
    #: shape only when a pack leaves it out: see ``default_exclusion_code``).
    code: str = "contraindication"


@dataclass(frozen=True)
class DoseSpec:
    kind: str
    phases: tuple[str, ...]  # empty: every phase
    values: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Schedule:
    phase: str
    weeks: int


@dataclass(frozen=True)
class Then:
    refer: Refer | None = None
    safety_net: tuple[str, ...] = ()
    warn: tuple[Warn, ...] = ()
    set: tuple[tuple[str, Scalar], ...] = ()
    pathways: tuple[str, ...] = ()
    risk: str | None = None
    prescribe: tuple[Prescribe, ...] = ()
    exclude: tuple[Exclude, ...] = ()
    dose: tuple[DoseSpec, ...] = ()
    schedule: tuple[Schedule, ...] = ()
    adjust: str | None = None
    stop_direction: bool = False
    eliminate: bool = False
    advance: bool = False
    hold_rounds: int = 0
    educate: tuple[str, ...] = ()  # education modules (education.yaml) the rule selects
    criterion: str | None = None  # set on the rules compiled from phases.yaml: "<phase>.<criterion>"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    layer: str
    priority: int
    when: Condition
    then: Then
    rationale: str
    sources: tuple[str, ...]
    file: str
    line: int
    reads: frozenset[str] = frozenset()
    evidence: RuleEvidence | None = None  # None: the rule states no evidence (a check warning)
    patient: str | None = None  # the rationale in plain words, for the patient view


@dataclass(frozen=True)
class Layer:
    name: str
    rules: tuple[Rule, ...]  # in pack order: priority, then rule id
    fields: tuple[str, ...]  # every field this layer's conditions read
    inputs: str = "profile"  # what its rules read (INPUTS), as its rule files declare

    @property
    def index(self) -> int:
        return LAYERS.index(self.name)


@dataclass(frozen=True)
class Pack:
    """A validated rule pack. Build one with `read_pack`."""

    name: str
    version: str
    description: str
    digest: str
    path: str
    layers: tuple[Layer, ...]
    exercises: dict[str, CatalogEntry]
    sources: dict[str, Source]
    phases: tuple[PhaseDef, ...]
    derived: dict[str, FieldSpec] = field(default_factory=dict)
    planner: PlannerSpec | None = None  # planner.yaml; always set on a loaded pack
    measures: dict[str, Measure] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # text.yaml: report words, by key
    locales: dict[str, dict[str, str]] = field(default_factory=dict)  # locales/<lang>.yaml, flattened
    tiers: Tiers | None = None  # urgency.yaml: one wording per urgency tier (optional)
    format_version: int = PACK_FORMAT  # pack.yaml format_version (absent: 2)
    figures: FigureBook | None = None  # figures.yaml: plain names and figures (optional file)
    populations: PopulationBook = field(default_factory=PopulationBook)  # populations.yaml
    donotdo: DoNotDoBook = field(default_factory=DoNotDoBook)  # donotdo.yaml (optional file)
    education: EducationBook = field(default_factory=EducationBook)  # education.yaml (optional file)

    @functools.cached_property
    def blocking_urgencies(self) -> tuple[str, ...]:
        """The urgency tiers whose referral replaces the exercise program, most urgent first.

        urgency.yaml says it per tier (``blocks_exercise``). A pack without urgency.yaml states no
        tier that lets exercise go on, so every tier blocks; a format-2 pack, which had no
        ``blocks_exercise``, keeps that format's meaning: every tier but the least urgent blocks.
        """
        if self.tiers is not None and self.tiers.blocking is not None:
            return self.tiers.blocking
        return URGENCIES[:-1] if self.format_version < 3 else URGENCIES

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule, in trace order (layer, priority, rule id)."""
        return tuple(rule for layer in self.layers for rule in layer.rules)

    def field(self, path: str) -> FieldSpec:
        """The spec of a field a condition may read in this pack."""
        return self.derived[path] if path in self.derived else FIELDS[path]

