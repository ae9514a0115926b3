"""Evidence grades: how strong the support for each rule is, as data and as check warnings.

Each source in ``sources.yaml`` has a ``kind`` (`backrx.pack.model.SOURCE_KINDS`, strongest
first) and, where the source grades its own recommendation, a ``grade``. Each rule states the
strength of what it recommends with ``evidence:`` (a kind, or ``{kind, grade, note}``) and
``design: true`` where the pack's authors chose without evidence. The loader keeps both optional
(packs from before 0.2 still load) and refuses a rule that claims stronger evidence than the
strongest source it cites; `evidence_warnings` lists what ``backrx check`` warns about.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from backrx.errors import Problem
from backrx.model.recommendation import Evidence, Recommendation
from backrx.pack.model import LEGACY_SOURCE_KINDS, Pack, Rule, RuleEvidence


def evidence_data(rule: Rule) -> dict[str, Any] | None:
    """The rule's evidence as output data (a `backrx.Evidence`), or None if it states none."""
    ev = rule.evidence
    if ev is None:
        return None
    return {"kind": ev.kind, "grade": ev.grade, "note": ev.note, "design": ev.design}


def evidence_model(rule: Rule) -> Evidence | None:
    """The rule's evidence as a `backrx.Evidence` (None if it states none), built once per
    distinct evidence: models are immutable, and pydantic takes an instance without validating
    it again, which keeps the trace cheap."""
    return _model(rule.evidence) if rule.evidence is not None else None


@functools.lru_cache(maxsize=4096)
def _model(ev: RuleEvidence) -> Evidence:
    return Evidence(kind=ev.kind, grade=ev.grade, note=ev.note, design=ev.design)  # type: ignore[arg-type]


def evidence_of(rec: Recommendation, rule_ids: Iterable[str]) -> dict[str, Evidence | None]:
    """The evidence of each of ``rule_ids`` that fired for ``rec`` (for a view of a prescription:
    ``evidence_of(rec, prescription.rule_ids)``); a rule that did not fire is left out."""
    fired = {f.rule_id: f.evidence for f in rec.trace}
    for round_ in rec.adjustments:
        fired.update({f.rule_id: f.evidence for f in round_.trace})
    return {rule_id: fired[rule_id] for rule_id in rule_ids if rule_id in fired}


def evidence_warnings(pack: Pack) -> list[Problem]:
    """Rules a reviewer should look at: no evidence stated, design choices only, seed articles only;
    and sources that still use a kind name from before 0.2. Warnings, never errors."""
    out: list[Problem] = []
    for rule in pack.rules:
        ev = rule.evidence
        kinds = {pack.sources[s].kind for s in rule.sources if s in pack.sources}
        if ev is None:
            out.append(Problem(rule.file, rule.line, rule.id, "no-evidence",
                               "the rule states no evidence: add `evidence: <kind>` or `design: true` "
                               "after its sources"))
        elif ev.kind is None:
            out.append(Problem(rule.file, rule.line, rule.id, "design-only",
                               "the rule rests on a design choice only (design: true, no evidence)"))
        elif ev.kind == "seed-article" or kinds == {"seed-article"}:
            out.append(Problem(rule.file, rule.line, rule.id, "seed-only",
                               "the rule rests only on seed articles (practitioner web pages)"))
    for source in pack.sources.values():
        if source.legacy_kind is not None:
            out.append(Problem("sources.yaml", None, None, "old-source-kind",
                               f"source {source.id} uses the old kind {source.legacy_kind!r}, read as "
                               f"{LEGACY_SOURCE_KINDS[source.legacy_kind]!r}; write the new name"))
    return out
