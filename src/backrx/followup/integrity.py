"""Stored recommendations are checked, not trusted: before `backrx.override`,
`backrx.adjust` or `backrx.migrate` acts on one, its records must be intact
(`backrx.model.chain`) and its outcome must agree with the pack's own triage of its profile.

*Agree* means: the pack's triage of the stored profile, run again through the same runner as
``recommend`` (``RuleSet.decide_facts``), gives a referral tier, and the stored referral is at
least as urgent; the stored outcome is ``refer`` exactly when that tier replaces the program (the
pack's blocking tiers). Before any adjustment round the two must be equal, tier for tier: only a
round's feedback can add to what the profile gave. A stored program beside a profile that the
pack refers, or a referral that went missing or became less urgent, is refused
(``outcome-contradicts-profile``). `backrx.migrate` runs this check only on the pack that
made the record; on another pack, the new pack's triage makes the recommendation again.
"""

from __future__ import annotations

from backrx.model import chain
from backrx.model.recommendation import Recommendation
from backrx.model.vocabulary import URGENCIES
from backrx.ruleset import RuleSet
from backrx.run.facts import profile_values

#: The code of a stored outcome that the pack's triage of the stored profile contradicts.
CONTRADICTS = "outcome-contradicts-profile"

Refusal = tuple[str, str, tuple[str | int, ...]]


def _rank(urgency: str | None) -> int:
    """Lower is more urgent; no referral ranks last."""
    return URGENCIES.index(urgency) if urgency in URGENCIES else len(URGENCIES)


def triage_refusal(rec: Recommendation, rules: RuleSet) -> Refusal | None:
    """Why the stored outcome contradicts the pack's triage of the stored profile (None: it agrees)."""
    if rec.profile is None:
        return None
    decision = rules.decide_facts(profile_values(rec.profile))
    blocking = rules.pack.blocking_urgencies
    stored = rec.referral.urgency if rec.referral is not None else None
    wanted = decision.urgency
    refers = stored in blocking
    if rec.outcome != ("refer" if refers else "program") or (rec.program is None) != refers:
        return (CONTRADICTS, f"the stored outcome ({rec.outcome}) does not match its own referral "
                f"({stored or 'none'}) and program; it was edited", ("recommendation", "outcome"))
    if _rank(stored) > _rank(wanted):
        return (CONTRADICTS, f"the rule pack's triage of the stored profile gives {wanted or 'no'} referral, "
                f"but the record holds {stored or 'none'}; it was edited", ("recommendation", "referral"))
    if not rec.adjustments and stored != wanted:
        return (CONTRADICTS, f"the rule pack's triage of the stored profile gives {wanted or 'no'} referral, "
                f"but the record holds {stored or 'none'} and no adjustment round added one; it was "
                "edited", ("recommendation", "referral"))
    return None


def chain_refusal(rec: Recommendation, *, allow_unchained: bool = False) -> Refusal | None:
    """Why the stored records cannot be trusted (None: they are intact)."""
    try:
        chain.verify(rec, allow_unchained=allow_unchained)
    except chain.ChainError as exc:
        return exc.code, exc.message, ("recommendation", *exc.loc)
    return None


def refusal(rec: Recommendation, rules: RuleSet, *, triage: bool = True,
            allow_unchained: bool = False) -> Refusal | None:
    """The first reason to refuse acting on ``rec``: broken records, then a contradicted outcome."""
    return chain_refusal(rec, allow_unchained=allow_unchained) or (
        triage_refusal(rec, rules) if triage else None)


__all__ = ["CONTRADICTS", "Refusal", "chain_refusal", "refusal", "triage_refusal"]
