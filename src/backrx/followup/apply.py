"""Test and measure: adjust a program from dated next-day responses.

The decisions are the pack's ``adjust`` rules; this module only carries them
out. For each round it reads the history (`backrx.followup.history`: days in the
phase, streaks, signs, outcome change), runs the rules for the feedback as a
whole (the phase's progress criteria first, then the rest) and once per
exercise response, and applies, per exercise, the most conservative action any
rule chose (drop with its family, drop, regress, hold, progress), plus the
global ones (referral, hold, elimination mode, moving to the next phase).

Each round stores what changed as diffs by exercise id (`backrx.followup.revision`);
`replay` rebuilds the full program from the original and those diffs alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from backrx._version import __version__
from backrx.errors import FeedbackError
from backrx.followup.history import earliest, whole_weeks
from backrx.followup.integrity import chain_refusal, refusal, triage_refusal
from backrx.followup.outcome import Adjuster, Outcome, adjust_layer, base_values, outcome_values, run_rules
from backrx.followup.revision import Revision
from backrx.followup.revision import replay as _replay_rounds
from backrx.model import chain
from backrx.model.feedback import Feedback
from backrx.model.recommendation import (
    FORMAT_VERSION,
    AdjustmentRound,
    Change,
    CriterionStatus,
    Migration,
    Notice,
    Override,
    PhaseStatus,
    Program,
    Progress,
    Recommendation,
    Referral,
)
from backrx.model.vocabulary import URGENCIES
from backrx.overrides.override import override_notices, reapply, replay_with_overrides
from backrx.pack.model import Pack
from backrx.ruleset import RuleSet, default_rules
from backrx.run.decision import notices, referral_data
from backrx.run.facts import profile_values

# ---- checks


def _check(rec: Recommendation, feedback: Feedback) -> None:
    """Every response names an exercise of the current phase, once per day."""
    if rec.program is None:
        return
    phase = rec.program.phase_now
    present = {p.exercise.id for p in phase.prescriptions}
    seen: set[tuple[str, datetime.date | None]] = set()
    for i, response in enumerate(feedback.responses):
        loc: tuple[str | int, ...] = ("responses", i, "exercise_id")
        key = (response.exercise_id, feedback.day_of(response))
        if key in seen:
            raise FeedbackError(f"{response.exercise_id!r} already has a response for that day",
                                code="duplicate-response", loc=loc)
        seen.add(key)
        if response.exercise_id not in present:
            raise FeedbackError(
                f"{response.exercise_id!r} is not in the current phase ({phase.id}) of this program",
                code="not-in-phase", loc=loc)


def _check_dates(rec: Recommendation, feedback: Feedback, require: bool) -> None:
    """A dated round, later than every earlier one."""
    if feedback.date is None:
        if require:
            where = (f"format {rec.format_version}" if rec.format_version >= 2 else
                     "an older format; from now on every round is dated, and the phase clock starts "
                     "with the first dated round")
            raise FeedbackError(
                f"feedback needs its date (ISO 8601, YYYY-MM-DD): this recommendation is {where}",
                code="date-required", loc=("date",))
        return
    previous = [r.feedback.date for r in rec.adjustments if r.feedback.date is not None]
    if not previous:
        return
    last = previous[-1]
    for i, response in enumerate(feedback.responses):
        day = feedback.day_of(response)
        if day is not None and day <= last:
            raise FeedbackError(
                f"a response dated {day.isoformat()} is not after the last round ({last.isoformat()}); "
                "rounds must come in date order", code="round-out-of-order", loc=("responses", i, "date"))
    if feedback.date <= last:
        raise FeedbackError(
            f"this round ({feedback.date.isoformat()}) is not after the last one ({last.isoformat()}); "
            "rounds must come in date order", code="round-out-of-order", loc=("date",))


def _check_referred(rec: Recommendation, feedback: Feedback, rules: RuleSet) -> None:
    """After a referral that replaced the program, exercise feedback waits for a clearance."""
    referral = rec.referral
    if feedback.responses and referral is not None and referral.urgency in rules.pack.blocking_urgencies:
        raise FeedbackError(
            f"this person was referred ({referral.urgency}); exercise feedback is not taken until a "
            "clinician clears them to resume (an Episode clearance event)",
            code="feedback-after-referral", loc=("responses",))


def _rules_for(rec: Recommendation, rules: RuleSet | None) -> RuleSet:
    chosen = rules if rules is not None else default_rules()
    if chosen.digest != rec.ruleset.digest:
        raise FeedbackError(
            f"this recommendation was made by rule pack {rec.ruleset.name} {rec.ruleset.version} "
            f"({rec.ruleset.digest[:19]}); pass rules=load_rules(<that pack>) to adjust it, or re-plan "
            "it on this pack with backrx.migrate(rec, rules)",
            code="pack-changed", loc=("recommendation", "ruleset", "digest"))
    if rec.profile is None:
        raise FeedbackError("this recommendation carries no profile, so it cannot be adjusted",
                            code="no-profile", loc=("recommendation", "profile"))
    program = rec.program
    if program is not None:
        pack = chosen.pack
        if [p.id for p in program.phases] != [p.id for p in pack.phases] or program.current_phase not in {
                p.id for p in pack.phases}:
            raise FeedbackError("the program's phases do not match the rule pack's; it was edited",
                                code="edited-program", loc=("recommendation", "program", "phases"))
        held = [p.exercise.id for ph in program.phases for p in ph.prescriptions]
        if program.elimination is not None:
            held += [p.exercise.id for p in program.elimination.queue]
        unknown = sorted({e for e in held if e not in pack.exercises})
        if unknown:
            raise FeedbackError(f"the program holds exercises the rule pack does not know: "
                                f"{', '.join(unknown)}; it was edited",
                                code="unknown-exercise", loc=("recommendation", "program"))
    _refuse_stored(rec, chosen)
    return chosen


def _refuse_stored(rec: Recommendation, rules: RuleSet, *, triage: bool = True) -> None:
    """Refuse a stored record that is not as written, or whose outcome its profile contradicts."""
    found = refusal(rec, rules, triage=triage)
    if found is not None:
        code, message, loc = found
        raise FeedbackError(f"the stored recommendation cannot be used: {message}", code=code, loc=loc)


def merge_referral(referral: Referral | None, urgency: str | None, reasons: list[str],
           rule_ids: list[str], pack: Pack | None = None) -> Referral | None:
    """A referral with new reasons added; the most urgent tier wins."""
    if urgency is None:
        return referral
    if referral is not None:
        if URGENCIES.index(referral.urgency) < URGENCIES.index(urgency):
            urgency = referral.urgency
        reasons = list(dict.fromkeys((*referral.reasons, *reasons)))
        rule_ids = list(dict.fromkeys((*referral.rule_ids, *rule_ids)))
    if pack is not None:  # the tier's wording from the pack (urgency.yaml)
        return Referral.model_validate(referral_data(pack, urgency, reasons, rule_ids))
    return Referral(urgency=urgency, reasons=reasons, rule_ids=rule_ids)  # type: ignore[arg-type]


def _lasts(rules: RuleSet, code: str, rule_id: str, program: Program | None,
           referral: Referral | None) -> bool:
    """Whether an earlier warning still stands after this round. An adjust rule's own warning lasts
    as long as what raised it: a hold's while the plan holds on it, a stopped direction's while
    the direction stays stopped, a referral's while the referral carries the rule; any other (a
    gap, a flare on a quota plan) belongs to its round and is raised again if it still applies.
    Warnings of the recommend layers and of overrides stand."""
    rule = next((r for r in adjust_layer(rules).rules if r.id == rule_id), None)
    if rule is None or code not in {w.code for w in rule.then.warn}:
        return True
    if rule.then.hold_rounds:
        return program is not None and program.hold is not None and rule_id in program.hold.rule_ids
    if rule.then.stop_direction:
        return program is not None and bool(program.stopped_directions)
    if rule.then.refer is not None:
        return referral is not None and rule_id in referral.rule_ids
    return False


def _warnings(rec: Recommendation, outcome: Outcome, changes: list[Change] | None = None, *,
              rules: RuleSet, program: Program | None, referral: Referral | None) -> list[Notice]:
    """The warnings that still stand (`_lasts`) with this round's added (one per code),
    including one for each clinician override this round undid."""
    earlier = [(n.code, n.message, rid) for n in rec.warnings for rid in n.rule_ids
               if _lasts(rules, n.code, rid, program, referral)]
    texts = rules.for_locale(rec.locale).pack.texts if rec.locale in rules.locales else rules.pack.texts
    undone = override_notices(rec, changes, texts) if changes else []
    return [Notice.model_validate(n) for n in notices([*earlier, *outcome.warnings, *undone])]


def replay(original: Program, rounds: list[AdjustmentRound],
           overrides: Sequence[Override] = ()) -> Program:
    """Rebuild a program from the original and the recorded diffs alone; with ``overrides``
    (``rec.overrides``), each clinician override is applied again after the rounds it followed."""
    if overrides:
        return replay_with_overrides(original, rounds, overrides, _replay_rounds)
    return _replay_rounds(original, rounds)


def _status(adjuster: Adjuster, program: Program, outcome: Outcome) -> PhaseStatus:
    """The gate of the phase the person is in after this round."""
    phase_def = next(p for p in adjuster.pack.phases if p.id == program.current_phase)
    moved = phase_def.id != adjuster.phase.id
    days = 0 if moved and adjuster.feedback.date is not None else adjuster.timeline.phase_days
    met = set() if moved else set(outcome.criteria)
    # The criterion rules carry the person's text, in the recommendation's language.
    texts = {r.id: r.patient for r in adjuster.layer.rules if r.then.criterion is not None}
    return PhaseStatus(
        phase=phase_def.id, days=days, min_days=phase_def.min_days,
        days_left=max(0, phase_def.min_days - days) if days is not None else None,
        criteria=[CriterionStatus(id=c.id, text=texts.get(c.rule_id) or c.text,
                                  met=f"{phase_def.id}.{c.id}" in met, quota=c.quota)
                  for c in phase_def.criteria],
        quota=adjuster.decision.risk == "high", holding=program.hold is not None,
    )


# ---- entry points


def adjust(rec: Recommendation, feedback: Feedback | Mapping[str, Any], *,
           rules: RuleSet | None = None) -> Recommendation:
    """Adjust a recommendation from one dated round of next-day responses ("test and measure").

    Returns a new Recommendation whose ``adjustments`` gains one round. A recommendation of an
    older format (``format_version`` 1, backrx 0.1) is first re-planned on ``rules`` with
    `backrx.migrate`; that first round may be undated, every later one needs a date. Raises
    ``pydantic.ValidationError`` for invalid feedback (naming the field) and
    `backrx.FeedbackError` (with ``.code`` and ``.loc``) for everything refused after
    that: a round out of date order or without a date, a response about an exercise not in the
    current phase, a recommendation made by another pack or edited.
    """
    fb = feedback if isinstance(feedback, Feedback) else Feedback.model_validate(feedback)
    legacy = rec.format_version < FORMAT_VERSION
    if legacy:
        # Written before dated rounds (backrx 0.1): re-plan it on this pack once, replaying its
        # history (Recommendation.migration says what changed); this one round may be undated.
        chosen = rules if rules is not None else default_rules()
        if chosen.digest != rec.ruleset.digest:
            rec = migrate(rec, chosen)
        rules = chosen
    return _guarded(rec, fb, rules, require_date=not legacy)


def _guarded(rec: Recommendation, fb: Feedback, rules: RuleSet | None, *,
             require_date: bool) -> Recommendation:
    try:
        adjusted = _adjust(rec, fb, rules, require_date=require_date)
    except ValidationError as exc:
        # The request was valid; a stored recommendation that cannot be rebuilt is refused as such.
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        raise FeedbackError(f"the stored recommendation cannot be adjusted: {first['msg']}",
                            code="invalid-recommendation",
                            loc=("recommendation", *first["loc"])) from None
    return chain.seal(adjusted, 1)  # the new round joins the chain of records


def _adjust(rec: Recommendation, fb: Feedback, rules: RuleSet | None, *,
            require_date: bool) -> Recommendation:
    chosen = _rules_for(rec, rules).for_locale(rec.locale)
    _check_referred(rec, fb, chosen)
    _check_dates(rec, fb, require_date)
    _check(rec, fb)
    number = len(rec.adjustments) + 1
    assert rec.profile is not None
    decision = chosen.decide_facts(profile_values(rec.profile))
    stamp = {"format_version": FORMAT_VERSION, "backrx_version": __version__}
    if rec.program is None or decision.refers:
        # No program to adjust (a referral): still act on new red flags and outcome measures. (A
        # stored program whose own profile the triage refers was refused in _rules_for.)
        outcome = Outcome()
        dated = [earliest(r.feedback) for r in rec.adjustments if r.feedback.date is not None]
        values = {**decision.values, **base_values(fb)}
        measured, measures = outcome_values(rec, fb, chosen.pack, dated[0] if dated else earliest(fb))
        values.update(measured)
        run_rules(chosen, values, outcome, None)
        referral = merge_referral(rec.referral, decision.urgency, list(decision.referral_reasons),
                          list(decision.referral_rules))
        referral = merge_referral(referral, outcome.urgency, outcome.reasons, outcome.referral_rules,
                          chosen.pack)
        refers = referral is not None and referral.urgency in chosen.pack.blocking_urgencies
        phase = rec.program.current_phase if rec.program is not None else ""
        round_ = AdjustmentRound(round=number, feedback=fb, phase_before=phase, phase_after=phase,
                                 changes=[], trace=outcome.firings, elimination_after=None)
        return rec.model_copy(update={
            **stamp,
            "outcome": "refer" if refers else rec.outcome,
            "program": None if refers else rec.program,
            "referral": referral,
            "safety_net": list(dict.fromkeys((*rec.safety_net, *outcome.safety_net))),
            "warnings": _warnings(rec, outcome, rules=chosen, program=None if refers else rec.program,
                                  referral=referral),
            "adjustments": [*rec.adjustments, round_],
            "progress": Progress(date=fb.date, phase=None, measures=measures,
                                 weeks=whole_weeks(dated[0] if dated else earliest(fb), fb.date)),
        })
    adjuster = Adjuster(chosen, rec, fb, decision)
    outcome = adjuster.decide()
    apply = Revision(adjuster, outcome)
    if outcome.urgency not in chosen.pack.blocking_urgencies:
        apply.limits()  # the person on this round's date: every exclusion applies again
        apply.run()  # a round that replaces the program with a referral changes nothing in it
        apply.keep_aerobic()
    program = apply.program()
    referral = merge_referral(rec.referral, outcome.urgency, outcome.reasons, outcome.referral_rules,
                      chosen.pack)
    refers = referral is not None and referral.urgency in chosen.pack.blocking_urgencies
    round_ = AdjustmentRound(
        round=number, feedback=fb, phase_before=adjuster.phase.id, phase_after=program.current_phase,
        changes=apply.changes, trace=outcome.firings, elimination_after=program.elimination,
        hold_after=program.hold, criteria_met=[c.split(".", 1)[1] for c in outcome.criteria],
    )
    progress = Progress(date=fb.date, weeks=whole_weeks(adjuster.timeline.first_date, fb.date),
                        phase=_status(adjuster, program, outcome), measures=adjuster.measures)
    return rec.model_copy(update={
        **stamp,
        "outcome": "refer" if refers else "program",
        "program": None if refers else program,
        "referral": referral,
        "safety_net": list(dict.fromkeys((*rec.safety_net, *outcome.safety_net))),
        "warnings": _warnings(rec, outcome, apply.changes, rules=chosen,
                              program=None if refers else program, referral=referral),
        "adjustments": [*rec.adjustments, round_],
        "progress": progress,
    })


# ---- re-planning on another pack (backrx.migrate)


def _doses(program: Program) -> dict[tuple[str, str], str]:
    return {(ph.id, p.exercise.id): p.dose.describe() for ph in program.phases for p in ph.prescriptions}


def _differences(old: Recommendation, new: Recommendation) -> list[str]:
    """What the re-planned recommendation does differently, in plain lines."""
    out: list[str] = []
    if old.outcome != new.outcome:
        out.append(f"outcome: {old.outcome} -> {new.outcome}")
    old_ref = old.referral.urgency if old.referral else "none"
    new_ref = new.referral.urgency if new.referral else "none"
    if old_ref != new_ref:
        out.append(f"referral: {old_ref} -> {new_ref}")
    if old.program is None or new.program is None:
        return out
    if old.program.current_phase != new.program.current_phase:
        out.append(f"current phase: {old.program.current_phase} -> {new.program.current_phase}")
    old_ids = {ph.id: [p.exercise.id for p in ph.prescriptions] for ph in old.program.phases}
    for ph in new.program.phases:
        before = old_ids.get(ph.id)
        now = [p.exercise.id for p in ph.prescriptions]
        if before is None:
            out.append(f"phase {ph.id}: new phase")
            continue
        added = [e for e in now if e not in before]
        removed = [e for e in before if e not in now]
        if added:
            out.append(f"phase {ph.id}: added {', '.join(added)}")
        if removed:
            out.append(f"phase {ph.id}: removed {', '.join(removed)}")
    for ph_id in old_ids:
        if ph_id not in {ph.id for ph in new.program.phases}:
            out.append(f"phase {ph_id}: no longer in the pack")
    old_doses, new_doses = _doses(old.program), _doses(new.program)
    for key, dose in new_doses.items():
        if key in old_doses and old_doses[key] != dose:
            out.append(f"phase {key[0]}: {key[1]} dose {old_doses[key]} -> {dose}")
    for name in ("dropped", "stopped_directions"):
        before_set, after_set = set(getattr(old.program, name)), set(getattr(new.program, name))
        if before_set != after_set:
            out.append(f"{name.replace('_', ' ')}: {', '.join(sorted(before_set)) or 'none'} -> "
                       f"{', '.join(sorted(after_set)) or 'none'}")
    return out


def migrate(rec: Recommendation, rules: RuleSet | None = None) -> Recommendation:
    """Re-plan a stored recommendation on ``rules`` (default: the bundled pack), replaying its history.

    Returns the new recommendation, with ``migration`` listing what changed and which recorded
    responses could not be replayed. Raises `backrx.FeedbackError` (code ``no-profile``)
    when the recommendation carries no profile to re-plan from.
    """
    chosen = rules if rules is not None else default_rules()
    if rec.profile is None:
        raise FeedbackError("this recommendation carries no profile, so it cannot be re-planned",
                            code="no-profile", loc=("recommendation", "profile"))
    # Records written before the chain are taken as written here, once, and chained again below;
    # on the pack that made it, a stored outcome its own profile contradicts is refused.
    found = chain_refusal(rec, allow_unchained=True) or (
        triage_refusal(rec, chosen) if chosen.digest == rec.ruleset.digest else None)
    if found is not None:
        code, message, loc = found
        raise FeedbackError(f"the stored recommendation cannot be re-planned: {message}", code=code, loc=loc)
    new = chosen.recommend(rec.profile)
    skipped: list[str] = []

    def overrides_after(number: int) -> None:
        nonlocal new
        items = [o for o in rec.overrides if o.after_round == number]
        if items:
            new, refused = reapply(new, items, rules=chosen)
            skipped.extend(refused)

    overrides_after(0)
    for round_ in rec.adjustments:
        fb = round_.feedback
        if new.program is not None:
            present = {p.exercise.id for p in new.program.phase_now.prescriptions}
            kept = [r for r in fb.responses if r.exercise_id in present]
            for r in fb.responses:
                if r.exercise_id not in present:
                    skipped.append(f"round {round_.round}: {r.exercise_id} is not in phase "
                                   f"{new.program.current_phase} of the new plan")
            if len(kept) != len(fb.responses):
                fb = fb.model_copy(update={"responses": kept})
        try:
            new = _guarded(new, fb, chosen, require_date=False)
        except FeedbackError as exc:
            skipped.append(f"round {round_.round}: not replayed ({exc.code}: {exc.message})")
        overrides_after(round_.round)
    info = Migration(from_ruleset=rec.ruleset, from_format=rec.format_version,
                     from_backrx=rec.backrx_version, changes=_differences(rec, new), skipped=skipped)
    return new.model_copy(update={"migration": info})


__all__ = ["adjust", "migrate", "replay"]
