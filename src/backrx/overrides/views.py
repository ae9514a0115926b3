"""Overrides after the fact: which ones adjust undid, and how they read to people and to FHIR.

Used by `backrx.adjust` (a warning for each override a round undid), by the clinician
views and the explanation (`describe`, `override_status`) and by the FHIR export
(`provenance_data`, one Provenance per override).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from backrx.model import chain
from backrx.model.recommendation import Change, Override, Recommendation
from backrx.pack.texts import Texts

#: The adjustment actions that can undo an override; each reads as the text ``override.action.<action>``.
_VERBS = ("drop", "suspend", "regress", "progress")


def _undoes(change: Change, item: Override) -> bool:
    """True when an adjustment change takes away what ``item`` made: it drops, pauses or steps
    back the exercise the override added or accepted, or changes the dose it set. Only the
    change's action, phase and exercise id are read."""
    if item.kind not in ("add", "accept", "dose") or change.action not in _VERBS:
        return False
    if change.phase != item.phase or change.exercise_id != item.exercise_id:
        return False
    return change.action != "progress" or item.kind == "dose"


def in_effect(rec: Recommendation) -> list[Override]:
    return [item for item, undone in override_status(rec) if undone is None]


def override_notices(rec: Recommendation, changes: Iterable[Change],
                     texts: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """Warnings for the overrides this adjustment round undid: (code, message, rule id) each.

    ``rec`` is the recommendation before the round; ``changes`` the round's changes; ``texts``
    the pack's words (`backrx.pack.texts`; the bundled English by default).
    """
    t = Texts(texts)
    out: list[tuple[str, str, str]] = []
    number = len(rec.adjustments) + 1
    active = in_effect(rec)
    for change in changes:
        for item in reversed(active):
            if _undoes(change, item):
                assert item.after is not None or item.before is not None
                shown = item.after if item.after is not None else item.before
                assert shown is not None
                verb = t.get(f"override.verb.{item.kind}") or item.kind
                rule = change.rule_ids[0] if change.rule_ids else ""
                action, name = _action(t, change.action), shown.exercise.name
                message = (t("override.undone.rule", round=number, action=action, exercise=name,
                             phase=change.phase, by=item.by, verb=verb, n=item.number, reason=item.reason,
                             rule=rule) if rule
                           else t("override.undone", round=number, action=action, exercise=name,
                                  phase=change.phase, by=item.by, verb=verb, n=item.number,
                                  reason=item.reason))
                out.append((f"override-{item.number}-undone", message, rule))
                active.remove(item)
                break
    return out


def _action(t: Texts, action: str) -> str:
    return t.get(f"override.action.{action}") or action


def override_status(rec: Recommendation,
                    texts: Mapping[str, str] | None = None) -> list[tuple[Override, str | None]]:
    """Each override with what later undid it (None while it is in effect), in the pack's words
    (``texts``; the bundled English by default)."""
    t = Texts(texts)
    out: list[tuple[Override, str | None]] = []
    for item in rec.overrides:
        undone: str | None = None
        later = [o for o in rec.overrides if o.number > item.number and o.phase == item.phase
                 and o.exercise_id == item.exercise_id and o.kind in ("remove", "add", "accept", "dose")]
        for round_ in rec.adjustments[item.after_round:]:
            if any(o.after_round < round_.round for o in later):
                break  # a later override took over this exercise first
            change = next((c for c in round_.changes if _undoes(c, item)), None)
            if change is not None:
                undone = t("override.status.round", action=_action(t, change.action), round=round_.round)
                break
        if undone is None and any(o.kind == "remove" for o in later):
            undone = t("override.status.removed", n=next(o.number for o in later if o.kind == "remove"))
        out.append((item, undone))
    return out


def describe(item: Override, texts: Mapping[str, str] | None = None) -> str:
    """One override in words: the pack's (``texts``; the bundled English by default)."""
    t = Texts(texts)
    exercise, phase, kind = item.exercise_id or "", item.phase or "", item.kind
    if kind in ("add", "remove", "dose", "accept"):
        what = t("override.describe.add" if kind == "add" else "override.describe.remove" if kind == "remove"
                 else "override.describe.dose" if kind == "dose" else "override.describe.accept",
                 exercise=exercise, phase=phase)
    elif kind == "phase":
        what = t("override.describe.phase", before=item.phase_before or "", phase=phase)
    else:
        what = t("override.describe.intervention", intervention=item.intervention or "",
                 acknowledgement=item.acknowledgement or "")
    if item.kind == "dose" and item.before is not None and item.after is not None:
        what += f" ({item.before.dose.describe()} -> {item.after.dose.describe()})"
    extra = []
    if item.overrode:
        extra.append(t("override.describe.overrode", rules=", ".join(item.overrode)))
    if item.acknowledged:
        extra.append(t("override.describe.acknowledged", codes=", ".join(item.acknowledged)))
    line = (t("override.describe.at", n=item.number, by=item.by, at=item.at, what=what, reason=item.reason)
            if item.at
            else t("override.describe.line", n=item.number, by=item.by, what=what, reason=item.reason))
    return line + (f" ({'; '.join(extra)})" if extra else "")


def provenance_data(rec: Recommendation) -> list[dict[str, Any]]:
    """One FHIR R4 Provenance-shaped mapping per override (who, when, why, what, which rules).

    ``recorded`` is the override's ``at`` (None when none was given: a FHIR exporter must then
    supply the time it received it); ``target`` names the phase and exercise; each overridden
    rule is an ``entity`` with role ``revision``. Raises `backrx.model.chain.ChainError`
    (a ValueError with ``code``) when an override was edited, erased or moved since it was
    written, or predates the chain (``record-unchained``: re-plan it with ``backrx.migrate``).
    """
    chain.verify(rec, allow_unchained=not rec.overrides)
    out: list[dict[str, Any]] = []
    for item in rec.overrides:
        target = item.phase if item.exercise_id is None else f"{item.phase}/{item.exercise_id}"
        out.append({
            "resourceType": "Provenance",
            "recorded": item.at,
            "activity": {"text": f"backrx override: {item.kind}"},
            "reason": [{"text": item.reason}] + (
                [{"text": f"acknowledged exclusion codes: {', '.join(item.acknowledged)}"}]
                if item.acknowledged else []),
            "agent": [{"type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "code": "author"}]}, "who": {"display": item.by}}],
            "target": [{"display": target}],
            "entity": [{"role": "revision", "what": {"display": f"backrx rule {rule_id}"}}
                       for rule_id in item.overrode],
        })
    return out


__all__ = ["describe", "in_effect", "override_notices", "override_status", "provenance_data"]
