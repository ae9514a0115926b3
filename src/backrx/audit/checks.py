"""The built-in checks on one recommendation: safety, populations, the program, the output.

Each check is ``check(rules, profile, rec) -> str | None`` (None: it holds) and becomes an
`Invariant` in `backrx.audit.invariants`. The clinical facts
they rest on come from the reference pack (`backrx.audit.reference`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backrx.audit.reference import EMERGENCY, reference_facts, reference_pack, reference_urgency
from backrx.audit.safety_net import urgency_rank
from backrx.model.recommendation import Recommendation
from backrx.ruleset import RuleSet


def _words(values: Iterable[str]) -> str:
    return ", ".join(values)


def no_error(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    return None  # the audit reports an exception from recommend() under this invariant


def red_flag_refers(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    flags = list(profile.get("red_flags") or ())
    if flags and rec.referral is None:
        return f"red flag(s) {_words(flags)} but no referral"
    return None


def emergency_signs_emergency(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    emergency = reference_facts().emergency_signs
    signs = [flag for flag in profile.get("red_flags") or () if flag in emergency]
    if not signs:
        return None
    if rec.referral is None:
        return f"{_words(signs)} got no referral at all"
    wanted = reference_urgency(profile)  # the reference pack's tier for the flag in this profile's context
    if wanted == EMERGENCY and rec.referral.urgency != EMERGENCY:
        return f"{_words(signs)} got an {rec.referral.urgency} referral, not an emergency one"
    if urgency_rank(rec.referral.urgency) < urgency_rank(wanted):
        return f"{_words(signs)} got an {rec.referral.urgency} referral; the reference pack says {wanted}"
    return None


def refer_means_no_program(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    urgency = rec.referral.urgency if rec.referral is not None else None
    blocking = reference_facts().blocking_urgencies
    if rec.outcome == "refer":
        if rec.program is not None:
            return "the outcome is refer, yet a program is attached"
        if urgency not in blocking:
            return f"the outcome is refer with {'no referral' if urgency is None else 'a routine referral'}"
        return None
    if rec.program is None:
        return "the outcome is program, yet there is no program"
    if urgency in blocking:
        return f"a program comes with an {urgency} referral"
    return None


def phase_one_direction(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    preference = profile.get("directional_preference", "unknown")
    opposite = reference_facts().opposite_directions.get(preference)
    if rec.program is None or opposite is None or not rec.program.phases:
        return None
    phase = rec.program.phases[0]
    wrong = [p.exercise.id for p in phase.prescriptions if p.exercise.direction == opposite]
    if wrong:
        return (f"phase 1 ({phase.id}) holds {opposite} exercise against the directional preference for "
                f"{preference}: {_words(wrong)}")
    return None


def load_cap(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    cap = reference_facts().load_cap
    if cap is None or rec.program is None or not rec.program.phases:
        return None
    pain = profile.get("pain_intensity", 0)
    severe = cap.pain_from is not None and pain >= cap.pain_from
    low = profile.get("tolerance") in cap.tolerances
    if not (severe or low):
        return None
    phase = rec.program.phases[0]
    heavy = [f"{p.exercise.id} (load {p.exercise.load})" for p in phase.prescriptions
             if p.exercise.load > cap.max_load]
    if heavy:
        why = f"pain {pain}/10" if severe else f"{profile.get('tolerance')} tolerance"
        return f"with {why}, phase 1 ({phase.id}) holds load above {cap.max_load}: {_words(heavy)}"
    return None


def emergency_signs_skip(rules: RuleSet) -> str | None:
    """Why the emergency check cannot run: no triage rule of the reference pack sends a flag alone
    to emergency care."""
    return None if reference_facts().emergency_signs else "the reference pack names no emergency sign"


def phase_one_direction_skip(rules: RuleSet) -> str | None:
    """Why the direction check cannot run: the reference pack declares no opposite directions."""
    return None if reference_facts().opposite_directions else \
        "the reference pack declares no opposite_directions (planner.yaml)"


def load_cap_skip(rules: RuleSet) -> str | None:
    """Why the load cap cannot be checked: the reference pack has no load-cap rule to read it from."""
    return None if reference_facts().load_cap is not None else "the reference pack caps no phase-1 load"


def equipment_and_settings(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    if rec.program is None:
        return None
    prefs = profile.get("preferences") or {}
    places = set(prefs.get("settings") or ("home",))
    # what a setting provides is read from the reference pack, not the pack under audit
    spec = reference_pack().planner
    choosing = spec.choosing if spec is not None else None
    listed = prefs.get("equipment") or ()
    kit = choosing.equipment(places, listed) if choosing is not None else set(listed)
    problems: list[str] = []
    for phase in rec.program.phases:
        for p in phase.prescriptions:
            entry = rules.pack.exercises.get(p.exercise.id)
            needs = set(p.exercise.equipment) | set(entry.equipment if entry else ())
            where = set(entry.settings) if entry else set(p.exercise.settings)
            missing = sorted(needs - kit)
            if missing:
                problems.append(f"{p.exercise.id} ({phase.id}) needs {_words(missing)}, which the person "
                                f"did not list")
            if not places & where:
                problems.append(f"{p.exercise.id} ({phase.id}) is done at {_words(sorted(where))}; the "
                                f"person exercises at {_words(sorted(places))}")
    return "; ".join(problems) or None


def not_prescribed_and_excluded(rules: RuleSet, profile: dict[str, Any],
                                 rec: Recommendation) -> str | None:
    if rec.program is None:
        return None
    excluded = {(e.exercise_id, phase) for e in rec.program.excluded for phase in e.phases}
    both = [f"{p.exercise.id} ({phase.id})" for phase in rec.program.phases for p in phase.prescriptions
            if (p.exercise.id, phase.id) in excluded]
    return f"prescribed and excluded in the same phase: {_words(both)}" if both else None


def explained(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    known = rules.pack.sources
    fired = {f.rule_id for f in rec.trace}
    problems: list[str] = []
    if rec.program is not None:
        for phase in rec.program.phases:
            for p in phase.prescriptions:
                name = f"{p.exercise.id} ({phase.id})"
                if not p.rationale.strip():
                    problems.append(f"{name} has no rationale")
                if not p.sources:
                    problems.append(f"{name} cites no source")
                unknown = [s for s in p.sources if s not in known]
                if unknown:
                    problems.append(f"{name} cites sources not in the pack: {_words(unknown)}")
                if not p.rule_ids:
                    problems.append(f"{name} names no rule")
                absent = [r for r in p.rule_ids if r not in fired]
                if absent:
                    problems.append(f"{name} names rules that are not in the trace: {_words(absent)}")
    for f in rec.trace:
        if not f.rationale.strip() or not f.sources:
            problems.append(f"the firing of {f.rule_id} has no rationale or no source")
    unresolved = [r.id for r in rec.references if r.id not in known]
    if unresolved:
        problems.append(f"references not in the pack: {_words(unresolved)}")
    return "; ".join(problems) or None


def fits_the_time(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    spec = rules.pack.planner
    if rec.program is None or spec is None:
        return None
    prefs = profile.get("preferences") or {}
    minutes = prefs.get("minutes_per_session") or spec.minutes_per_session
    if spec.over_budget.code in {w.code for w in rec.warnings}:
        return None
    stated = prefs.get("minutes_per_session") is not None

    def kept(ph: Any, d: Any) -> float:  # no budget stated: the guidance's aerobic dose is kept whole
        return 0.0 if stated else sum(p.minutes for p in ph.prescriptions if p.exercise.category
                                      == "aerobic" and p.exercise.id in d.prescriptions)

    over = [f"{ph.id} day {d.day} ({d.minutes} min)" for ph in rec.program.phases for d in ph.week
            if d.minutes - kept(ph, d) > minutes * (1 + spec.margin) + 1e-6]
    crowded = [f"{ph.id} day {d.day}" for ph in rec.program.phases for d in ph.week
               if len(d.prescriptions) > spec.max_items_per_session]
    if over:
        return f"over {minutes} minutes with no warning: {_words(over)}"
    return f"more than {spec.max_items_per_session} exercises: {_words(crowded)}" if crowded else None


def one_per_family(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    if rec.program is None:
        return None
    for phase in rec.program.phases:
        ids = {p.exercise.id for p in phase.prescriptions}
        seen: dict[str, str] = {}
        for p in phase.prescriptions:
            if p.exercise.pattern in seen:
                return f"{phase.id}: {seen[p.exercise.pattern]} and {p.exercise.id} are one family"
            seen[p.exercise.pattern] = p.exercise.id
            twin = sorted(t for t in {p.exercise.easier, p.exercise.harder} & ids if t)
            if twin:
                return f"{phase.id}: {p.exercise.id} with its own variant {_words(twin)}"
    return None


def exclusion_codes_from_pack(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    """Each exclusion a rule made carries the code that rule declares in the pack (one source)."""
    if rec.program is None:
        return None
    declared = {r.id: {x.code for x in r.then.exclude} for r in rules.pack.rules if r.then.exclude}
    for item in rec.program.excluded:
        for rule_id in item.rule_ids:
            codes = declared.get(rule_id)
            if codes and not codes & set(item.codes):
                return (f"{item.exercise_id} is left out by {rule_id} (code {_words(sorted(codes))}) "
                        f"but labelled {_words(item.codes) or 'with no code'}")
    return None


def no_empty_phase(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    if rec.program is None:
        return None
    if not rec.program.phases:
        return "the program has no phases"
    empty = [phase.id for phase in rec.program.phases if not phase.prescriptions]
    # An empty phase stands only where the planner said why: a missing-element warning naming the
    # phase (a state that leaves nothing the person's places and equipment allow, e.g. walking only
    # after surgery for someone who exercises only in a pool).
    missing = rules.pack.populations.messages.get("element_missing")
    said = [w.message for w in rec.warnings if missing is not None and w.code == missing[0]]
    unexplained = [p for p in empty if not any(f"{p} phase" in m for m in said)]
    return f"empty phase(s) with no warning that says why: {_words(unexplained)}" if unexplained else None


def first_difference(a: str, b: str) -> str:
    i = next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at character {i}: {a[max(0, i - 30):i + 30]!r} vs {b[max(0, i - 30):i + 30]!r}"


def deterministic(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    first = rec.model_dump_json()
    second = rules.recommend(profile).model_dump_json()
    if first != second:
        return f"a second call gave different JSON, {first_difference(first, second)}"
    return None


def json_round_trip(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    text = rec.model_dump_json()
    again = type(rec).model_validate_json(text)
    if again != rec:
        return ("model_validate_json(model_dump_json()) differs, "
                f"{first_difference(text, again.model_dump_json())}")
    return None


def unsure_flag_reviewed(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    unsure = list(profile.get("red_flags_unsure") or ())
    if unsure and rec.referral is None:
        return f"unsure red flag(s) {_words(unsure)} but no referral"
    return None


def _reference_breaches(profile: dict[str, Any], rec: Recommendation, population: str) -> list[str] | None:
    """What the program holds that the reference pack's population ``population`` forbids, read
    from its populations.yaml through `limits_for` (the planner's own
    reading): each as "exercise (phase): the rule's title". None when the person is not a member.

    The reference (bundled) pack, not the audited one, is the oracle: a copy of the pack with a
    population's exclusion taken out is caught by the exercises it then lets through.
    """
    from backrx.model.profile import Profile
    from backrx.run.populations import limits_for

    pack = reference_pack()
    limits = limits_for(pack, Profile.model_validate(profile))
    if population not in limits.populations:
        return None
    own = {r for p in pack.populations.populations if p.id == population for r in p.avoid}
    titles = {r.id: r.title for r in pack.rules}
    found: list[str] = []
    for phase in rec.program.phases if rec.program is not None else ():
        for p in phase.prescriptions:
            why = [titles[r] for r in limits.because.get(p.exercise.id, ()) if r in own]
            if why and not limits.allows(p.exercise.id, phase.id):
                found.append(f"{p.exercise.id} ({phase.id}): {'; '.join(why)}")
    return found


def seated_for_wheelchair(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    """A wheelchair user gets nothing the reference pack's wheelchair population leaves out."""
    found = _reference_breaches(profile, rec, "wheelchair")
    return f"a wheelchair user is given walking or standing work: {_words(found)}" if found else None


def population_limits(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    """The pack's own populations (populations.yaml): no phase holds what they forbid."""
    if rec.program is None or not rules.pack.populations.populations:
        return None
    from backrx.model.profile import Profile
    from backrx.run.populations import limits_for

    found = limits_for(rules.pack, Profile.model_validate(profile)).violations(rules.pack, rec.program)
    return "a population limit is broken: " + "; ".join(found) if found else None


def pregnancy_safe(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    """A pregnant person (the reference pack's pregnancy population, with its week gates) is not
    classified as stenosis and gets nothing that population leaves out in that week."""
    found = _reference_breaches(profile, rec, "pregnancy")
    if found is None:
        return None
    problems = ["classified as stenosis"] if "stenosis" in rec.classification.pathways else []
    problems += found
    return "pregnant, yet " + "; ".join(problems) if problems else None


__all__ = [
    "deterministic",
    "emergency_signs_emergency",
    "emergency_signs_skip",
    "equipment_and_settings",
    "exclusion_codes_from_pack",
    "explained",
    "first_difference",
    "fits_the_time",
    "json_round_trip",
    "load_cap",
    "load_cap_skip",
    "no_empty_phase",
    "no_error",
    "not_prescribed_and_excluded",
    "one_per_family",
    "phase_one_direction",
    "phase_one_direction_skip",
    "population_limits",
    "pregnancy_safe",
    "red_flag_refers",
    "refer_means_no_program",
    "seated_for_wheelchair",
    "unsure_flag_reviewed",
]
