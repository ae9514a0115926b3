"""Plans that survive upgrades: re-plan a stored recommendation on a newer rule pack.

:func:`migrate` makes the recommendation again from its stored profile on the given pack, then
replays the stored feedback round by round, and lists what came out differently. Responses that
no longer fit (an exercise the new plan does not hold at that point) are left out of the replay
and listed; rounds written before dates existed (format 1) replay without a date, so they cannot
count towards a phase's minimum time. Clinician overrides are made again where they were made
(before the first round, or after the round they followed), with their author, reason and time;
one the new plan refuses is left out and listed, never forced.
"""

from __future__ import annotations

from backrx.adjust.apply import _guarded
from backrx.adjust.override import reapply
from backrx.errors import FeedbackError
from backrx.model.recommendation import Migration, Program, Recommendation
from backrx.ruleset import RuleSet, default_rules


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
    responses could not be replayed. Raises :class:`backrx.FeedbackError` (code ``no-profile``)
    when the recommendation carries no profile to re-plan from.
    """
    chosen = rules if rules is not None else default_rules()
    if rec.profile is None:
        raise FeedbackError("this recommendation carries no profile, so it cannot be re-planned",
                            code="no-profile", loc=("recommendation", "profile"))
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
