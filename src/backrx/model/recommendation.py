"""The output: a Recommendation, its program, and the trace that explains it."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from backrx.model.chain import Chain, ChainError, verify
from backrx.model.education import EducationModule, FlarePlan, GradedActivity
from backrx.model.feedback import Feedback
from backrx.model.formats import renderer
from backrx.model.measures import Compact, IsoDate
from backrx.model.profile import Profile
from backrx.model.providers import bundled_disclaimer as provided_disclaimer
from backrx.model.providers import bundled_words
from backrx.model.untrusted import PlainText
from backrx.model.words import Words, dose_words
from backrx.readers.documents import SHOW_INPUT_IN_ERRORS

_Date = date  # a field below is called `date`


def bundled_disclaimer() -> str:
    """The bundled pack's disclaimer (``disclaimer`` in its text.yaml): the one source of the text,
    and the default of a Recommendation that carries none (the JSON of backrx 0.1 always does).

    The pack's room sits above the model's, so the pack's reader is handed down from above
    (`backrx.model.providers`), the way the renderers are (`backrx.model.formats`).
    """
    return provided_disclaimer()


#: The bundled pack's disclaimer, read from the pack when first asked for (see ``__getattr__``).
DISCLAIMER: str

if not TYPE_CHECKING:
    def __getattr__(name: str) -> str:
        if name == "DISCLAIMER":
            return bundled_disclaimer()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MatchedValue = bool | int | float | str | list[str] | None


class _Out(Compact):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=not SHOW_INPUT_IN_ERRORS)


class Exercise(_Out):
    """A catalog exercise, as prescribed."""

    id: str
    name: str
    category: Literal[
        "mobility", "flexibility", "balance", "strength", "aerobic", "soft_tissue", "education"
    ]
    direction: Literal["extension", "flexion", "neutral"]
    load: int = Field(ge=1, le=5)
    equipment: list[str]
    settings: list[str]
    targets: list[str]
    instructions: str
    easier: str | None = None
    harder: str | None = None
    pattern: str = Field(default="", description="movement family; a phase holds one exercise per family")
    per_side: bool = Field(default=False, description="done on each side in turn")
    media: list[str] = Field(default_factory=list, description="image or video URLs (optional)")


class Dose(_Out):
    """How much: each part is None where it does not apply."""

    sets: int | None = None
    reps: int | None = None
    hold_seconds: int | None = None
    minutes: int | None = None
    sessions_per_week: int | None = None
    times_per_day: int | None = Field(
        default=None, description="bouts spread through the day (repeated movements), on each day done")

    def describe(self, t: Words | None = None) -> str:
        """The dose in the clinician's words, e.g. "2 sets x 10 reps, 3 times a week".

        ``t`` holds the words of one language (default: the bundled pack's English); the wording
        is `backrx.model.words.dose_words`, the same as every report's.
        """
        return dose_words(self, t if t is not None else bundled_words(), clinical=True)


class Prescription(_Out):
    """One exercise in a phase: what, how much, why, and on whose authority."""

    exercise: Exercise
    dose: Dose
    rationale: str
    sources: list[str]
    rule_ids: list[str]
    minutes: float = Field(
        default=0.0, description="estimated minutes on each day it is done (every bout of the day)")


class Day(_Out):
    """One day of a phase's typical week: what to do, and about how long it takes."""

    day: int = Field(ge=1, le=7)
    prescriptions: list[str] = Field(description="exercise ids done that day")
    minutes: float = Field(description="estimated minutes for the day")


class Phase(_Out):
    """A stage of the program, with the criteria for moving on."""

    id: str
    name: str
    goal: str
    start_week: int
    end_week: int
    progress_when: list[str]
    prescriptions: list[Prescription]
    minutes_per_session: float = Field(default=0.0, description="estimated minutes of the longest day")
    minutes_per_week: float = Field(default=0.0, description="estimated minutes over a typical week")
    week: list[Day] = Field(default_factory=list, description="a typical week, days 1 to 7")
    min_days: int = Field(default=0, description="the fewest days to spend in this phase before moving on")


class Exclusion(_Out):
    """An exercise left out, and why."""

    exercise_id: str
    exercise_name: str
    phases: list[str]
    reasons: list[str]
    rule_ids: list[str]
    codes: list[str] = Field(
        default_factory=list,
        description="why, as codes: time, equipment, setting, direction, contraindication, population")


class Elimination(_Out):
    """Elimination mode: exercises that may have made things worse come back one per day."""

    phase: str
    testing: str | None = Field(description="the exercise brought back on its own for this day")
    queue: list[Prescription] = Field(description="the exercises still to bring back, in order")


class Hold(_Out):
    """The plan holds and waits for reassessment after a warning sign."""

    rounds_left: int = Field(ge=0, description="rounds that must still pass without progression")
    reason: str
    rule_ids: list[str]


class PhaseStart(_Out):
    """Where a clinician's reassessment restarted the phase clock (``reset_phase``)."""

    date: IsoDate = Field(description="the day of the reassessment: the phase's day 0")
    after_round: int = Field(ge=0, description="how many adjustment rounds came before it")


class Program(_Out):
    """The staged program."""

    phases: list[Phase]
    excluded: list[Exclusion] = Field(default_factory=list)
    current_phase: str = Field(default="", description="the phase the person is in now")
    dropped: list[str] = Field(
        default_factory=list,
        description="exercises dropped for making things worse; they return only one at a time",
    )
    elimination: Elimination | None = None
    stopped_directions: list[Literal["extension", "flexion"]] = Field(
        default_factory=list,
        description="directions stopped because they spread symptoms down the leg; they stay out",
    )
    tolerated: list[str] = Field(
        default_factory=list,
        description="exercises of a stopped direction kept because the person reported them as fine",
    )
    hold: Hold | None = Field(
        default=None, description="the plan holds (no progression, no new phase) while this is set")
    phase_started: PhaseStart | None = Field(
        default=None, description="set when a clinician's reassessment reset the phase: its clock "
        "and streaks start there (cleared when the next phase starts)")
    education: list[EducationModule] = Field(
        default_factory=list, description="the education modules the profile's conditions select, in "
        "phase order (rules/education.yaml)")
    flare_plan: FlarePlan | None = Field(default=None, description="the flare plan (rules/education.yaml)")
    graded_activity: GradedActivity | None = Field(
        default=None, description="the graded-activity pathway, for high STarT Back risk or high fear of "
        "activity")

    @property
    def phase_now(self) -> Phase:
        """The current phase."""
        for phase in self.phases:
            if phase.id == self.current_phase:
                return phase
        return self.phases[0]


class Referral(_Out):
    """A referral: how soon, and why."""

    urgency: Literal["emergency", "urgent", "routine"]
    reasons: list[str]
    rule_ids: list[str]
    header: str | None = Field(
        default=None, description="the tier's one wording (the pack's urgency.yaml), e.g. for a heading")
    title: str | None = Field(
        default=None, description="the handout title when this referral replaces the program")


class Notice(_Out):
    """A clinician-facing warning: a contradiction, a review prompt, a plan that cannot fit."""

    code: str = Field(description="stable kebab-case code")
    message: str
    rule_ids: list[str]


class Classification(_Out):
    """What the classification rules concluded."""

    stage: Literal["acute", "subacute", "chronic"]
    pathways: list[str]
    startback_risk: Literal["low", "medium", "high"] | None


EvidenceKind = Literal["guideline", "systematic-review", "rct", "cohort", "expert-opinion", "seed-article"]


class Evidence(_Out):
    """How strong the support for what a rule recommends is, as the rule pack states it."""

    kind: EvidenceKind | None = Field(
        description="the strongest kind of evidence behind the rule; None for a design choice only")
    grade: str | None = Field(default=None, description="the grade a source gives the recommendation")
    note: str | None = None
    design: bool = Field(default=False, description="the pack's authors chose without evidence")

    def describe(self) -> str:
        """The evidence in words, e.g. "rct" or "guideline (NICE NG59: consider); design choice"."""
        parts: list[str] = []
        if self.kind is not None:
            parts.append(self.kind.replace("-", " ") + (f" ({self.grade})" if self.grade else ""))
        if self.note:
            parts.append(self.note)
        if self.design:
            parts.append("a design choice without evidence" if self.kind is None
                         else "partly a design choice")
        return "; ".join(parts)


class Firing(_Out):
    """One rule that fired: why, on what evidence, and the values that made it fire."""

    rule_id: str
    layer: str
    title: str
    rationale: str
    sources: list[str]
    matched: dict[str, MatchedValue]
    evidence: Evidence | None = Field(default=None, description="None: the rule states no evidence")
    patient: str | None = Field(
        default=None, description="the rationale in plain words for the patient (None: the rule "
        "has no patient text, so the patient view leaves it out)")


class Reference(_Out):
    """A cited source."""

    id: str
    citation: str
    url: str | None = None
    year: int | None = None


class RulesetInfo(_Out):
    """Which rule pack made the decision."""

    name: str
    version: str
    digest: str


Action = Literal["drop", "regress", "hold", "progress", "suspend", "reintroduce", "advance", "stop",
                 "replace", "keep", "pause", "carry"]


class Change(_Out):
    """One change that `backrx.adjust` made, stored as a diff by exercise id.

    ``dose`` holds the parts of the dose that changed (the others stay); ``prescription`` is
    the exercise that takes the place of ``exercise_id`` (a regression or progression to a
    variant) or comes back (``reintroduce``); a ``drop`` lists in ``phases`` every phase it was
    taken out of. A ``hold`` names in ``exercises`` every exercise one rule kept as it is (they
    do not change, so one record serves them all); ``pause`` means the whole plan holds for
    reassessment; ``carry`` gives the new phase's exercise the dose reached in the phase before.
    ``reason`` is None when it is the rationale of the first rule in
    ``rule_ids`` (see the round's trace).
    """

    action: Action
    phase: str
    exercise_id: str | None
    reason: str | None = None
    rule_ids: list[str]
    dose: Dose | None = None
    prescription: Prescription | None = None
    phases: list[str] = Field(default_factory=list)
    exercises: list[str] = Field(default_factory=list, description="for a hold: the exercises kept")
    exercise_name: str | None = Field(
        default=None, description="for a drop of an exercise the program did not hold: its name")
    direction: Literal["extension", "flexion"] | None = Field(
        default=None, description="for a stop: the direction that is stopped")

    @property
    def exercise_ids(self) -> list[str]:
        """Every exercise this change is about."""
        return [self.exercise_id] if self.exercise_id is not None else list(self.exercises)


class AdjustmentRound(_Out):
    """One call of `backrx.adjust`: the feedback, the rules that fired, what changed.

    ``trace`` holds each rule once per round (with the values of its first match); the
    feedback itself is kept, so every match can be recomputed.
    """

    round: int
    feedback: Feedback
    phase_before: str
    phase_after: str
    changes: list[Change]
    trace: list[Firing]
    elimination_after: Elimination | None = None
    hold_after: Hold | None = None
    criteria_met: list[str] = Field(
        default_factory=list, description="the progress criteria of phase_before met this round")
    chain: Chain | None = Field(default=None, description="its place in the chain of records (None: "
                                "written before records were chained)")

    def reason_of(self, change: Change) -> str:
        """The reason for a change: its own text, else the rationale of its first rule this round."""
        if change.reason is not None:
            return change.reason
        first = change.rule_ids[0] if change.rule_ids else None
        return next((f.rationale for f in self.trace if f.rule_id == first), "")


class CriterionStatus(_Out):
    """One criterion for moving on, and whether the recorded feedback meets it."""

    id: str
    text: str
    met: bool
    quota: bool = Field(description="it also applies to a plan built up by quota (time, not pain)")


class PhaseStatus(_Out):
    """Where the person stands in the current phase."""

    phase: str
    days: int | None = Field(description="days since the phase started (None before dated feedback)")
    min_days: int
    days_left: int | None
    criteria: list[CriterionStatus]
    quota: bool = Field(description="the plan is built up by quota (high STarT Back risk)")
    holding: bool = Field(description="the plan holds for reassessment")


class MeasureChange(_Out):
    """One outcome measure: baseline, latest, change, and whether the change is meaningful."""

    measure: str
    name: str
    better: Literal["lower", "higher"]
    baseline: float | None
    latest: float | None
    change: float | None = Field(description="latest minus baseline")
    percent: float | None = Field(description="change as a percentage of the baseline")
    mcid: float | None = Field(description="the minimal clinically important difference used")
    improved: bool | None = Field(description="improved by at least the MCID (None: not measurable)")
    worsened: bool | None = Field(description="worse by at least the MCID (None: not measurable)")
    baseline_from: Literal["profile", "feedback"] | None
    sources: list[str]


class Progress(_Out):
    """The progress summary of an adjusted plan: the phase gate and the outcome measures."""

    date: _Date | None = Field(description="the date of the latest round")
    weeks: int | None = Field(description="whole weeks since the first dated round")
    phase: PhaseStatus | None
    measures: list[MeasureChange]


class Migration(_Out):
    """What `backrx.migrate` changed when it re-planned a stored recommendation."""

    from_ruleset: RulesetInfo
    from_format: int
    from_backrx: str
    changes: list[str]
    skipped: list[str] = Field(default_factory=list, description="feedback that could not be replayed")


#: The JSON format this release writes. 1: backrx 0.1 (full before/after copies, undated
#: rounds); 2: dated rounds, diffs by exercise id, progress summary.
FORMAT_VERSION = 2


def _upgrade_change_v1(change: Any) -> Any:
    """A format-1 change (full before/after copies) as a format-2 diff."""
    if not isinstance(change, dict) or ("before" not in change and "after" not in change):
        return change
    out = {k: v for k, v in change.items() if k not in ("before", "after")}
    before, after = change.get("before"), change.get("after")
    if after is not None:
        same = isinstance(before, dict) and isinstance(after, dict) and \
            before.get("exercise", {}).get("id") == after.get("exercise", {}).get("id")
        if same and isinstance(before, dict):
            old_dose, new_dose = before.get("dose") or {}, after.get("dose") or {}
            if change.get("action") != "hold" and old_dose != new_dose:
                out["dose"] = {k: v for k, v in new_dose.items() if old_dose.get(k) != v}
        else:
            out["prescription"] = after
    if change.get("action") == "drop":
        out["phases"] = [change.get("phase")]
    return out


def upgrade(data: Any) -> Any:
    """Recommendation data of an older format, in the shape of the current one."""
    if not isinstance(data, dict) or "format_version" in data:
        return data
    rounds = data.get("adjustments")
    if not isinstance(rounds, list):
        return data
    upgraded = []
    for round_ in rounds:
        if isinstance(round_, dict) and isinstance(round_.get("changes"), list):
            round_ = {**round_, "changes": [_upgrade_change_v1(c) for c in round_["changes"]]}
        upgraded.append(round_)
    return {**data, "adjustments": upgraded}


class Override(_Out):
    """One clinician override: what changed, who made it, when, why, and which rules it overrode."""

    number: int = Field(description="1 for the first override of this recommendation, then 2, ...")
    kind: Literal["add", "remove", "dose", "phase", "accept", "intervention"]
    phase: str = Field(description="the phase acted on; for kind phase, the phase moved to; for kind "
                       "intervention, the phase the person was in")
    exercise_id: str | None = None
    before: Prescription | None = None
    after: Prescription | None = None
    phase_before: str | None = Field(default=None, description="for kind phase: the phase moved from")
    overrode: list[str] = Field(description="the rule ids whose conclusion this override set aside")
    acknowledged: list[str] = Field(
        default_factory=list, description="exclusion codes the clinician acknowledged (kind accept)")
    reason: PlainText = Field(description="why (refused when it holds a control character)")
    by: PlainText = Field(description="who (refused when it holds a control character)")
    at: PlainText | None = Field(default=None, description="ISO 8601 date-time with offset, as given; None "
                                                     "when the caller gave none (backrx reads no clock)")
    after_round: int = Field(description="how many adjustment rounds came before this override")
    chain: Chain | None = Field(default=None, description="its place in the chain of records (None: "
                                "written before records were chained)")
    intervention: str | None = Field(
        default=None, description="for kind intervention: the id of a do-not-do item of the pack "
        "(donotdo.yaml) that the clinician added to the person's care")
    acknowledgement: PlainText | None = Field(
        default=None, description="for kind intervention: the clinician's reason for going against the "
        "advice (required)")

    @model_validator(mode="after")
    def _intervention_acknowledged(self) -> Override:
        if self.kind == "intervention" and not (
                self.intervention and self.acknowledgement and self.acknowledgement.strip()):
            raise PydanticCustomError("donotdo-unacknowledged", "an intervention record needs the "
                                      "intervention and the acknowledgement that gives its reason")
        return self


class Recommendation(_Out):
    """The result of `backrx.recommend` (and of `backrx.adjust`)."""

    format_version: int = Field(
        default=1, description=f"the JSON format (absent in backrx 0.1 output: 1); now {FORMAT_VERSION}")
    backrx_version: str = Field(default="unknown", description="the backrx release that wrote it")
    outcome: Literal["program", "refer"]
    referral: Referral | None
    program: Program | None
    classification: Classification
    rationale: list[str]
    safety_net: list[str]
    warnings: list[Notice] = Field(
        default_factory=list, description="clinician-facing warnings, one per code, with their rules")
    trace: list[Firing]
    references: list[Reference]
    ruleset: RulesetInfo
    profile: Profile | None = Field(default=None, description="the profile this was made for")
    adjustments: list[AdjustmentRound] = Field(
        default_factory=list, description="every adjustment since the recommendation, in order"
    )
    overrides: list[Override] = Field(
        default_factory=list, description="every clinician override, in order (backrx.override)")
    progress: Progress | None = Field(
        default=None, description="phase gate and outcome measures, in every adjusted plan")
    migration: Migration | None = Field(
        default=None, description="set by backrx.migrate: what changed on the newer rule pack")
    disclaimer: str = Field(default_factory=bundled_disclaimer,
                            description="what backrx does and does not do, in the locale's words")
    locale: str = Field(default="en", description="the language of the patient-facing texts")
    records_head: str | None = Field(
        default=None, description="the digest of the last override or round (backrx.model.chain)")

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        return upgrade(data)

    @model_validator(mode="after")
    def _records_intact(self) -> Recommendation:
        """A record edited, erased or moved since it was written is refused as it is read."""
        if self.overrides or self.adjustments or self.records_head is not None:
            try:
                verify(self)
            except ChainError as exc:
                raise PydanticCustomError(exc.code, exc.message) from None
        return self

    def model_dump_json(self, **options: Any) -> str:
        """The stored JSON format. Without options it is written by the fast writer
        (`backrx.model.writer`, held byte for byte to pydantic's own dump by tests); with
        any option (``indent``, ``exclude``...) by pydantic, as on every model."""
        if not options:
            from backrx.model.writer import dump_json

            return dump_json(self)
        return super().model_dump_json(**options)

    def explain(self) -> str:
        """A readable account of why this plan."""
        text: str = renderer("text")(self)
        return text

    def to_fhir(self, *, patient: str | None = None, start: date | None = None,
                recorded: datetime | None = None, locale: str | None = None,
                rules: Any = None) -> dict[str, Any]:
        """The recommendation as a FHIR R4 Bundle (JSON data); needs ``backrx[fhir]``.

        ``patient`` (a Patient id), ``start`` (the program's first day), ``recorded`` (a
        timezone-aware time for the Provenance), ``locale`` (the language of backrx's labels,
        default this recommendation's) and ``rules`` (the `backrx.RuleSet` whose texts word them,
        default the bundled pack) are optional; see `backrx.interop.fhir.to_fhir`.
        """
        bundle: dict[str, Any] = renderer("fhir")(self, patient=patient, start=start, recorded=recorded,
                                                  locale=locale, rules=rules)
        return bundle

    def to_markdown(self) -> str:
        """A handout the person can follow: phases, what to do, how much, why, when to stop."""
        text: str = renderer("md")(self)
        return text
