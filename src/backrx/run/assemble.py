"""Assembly: the Recommendation built from what the rules decided and what the planner planned.

This is where the referral's tiers are settled (a routine reason under a referral that replaces
the program stays in the trace only), the program is planned, the sources are gathered and
every part becomes an immutable output model, built once and kept in the RuleSet's
`CacheSeam`. `backrx.RuleSet` loads the pack, holds the engine
and answers the public calls; it hands each decision here.
"""

from __future__ import annotations

from typing import Any

from backrx._version import __version__
from backrx.model.profile import Profile
from backrx.model.recommendation import DISCLAIMER, FORMAT_VERSION, Firing, Program, Recommendation, Reference
from backrx.model.vocabulary import URGENCIES
from backrx.run.caches import FIRINGS_KEPT, CacheSeam
from backrx.run.decision import Decision, Fired, notices, referral_data, tiers_of_reasons
from backrx.run.education import education_parts, education_sources
from backrx.run.evidence import evidence_model
from backrx.run.inputs import field_value, planner_inputs
from backrx.run.plancache import active
from backrx.run.planner import planned

#: Profile fields assembly itself reads (the education parts: the exposure ladder is built from
#: the person's goals, the flare plan keeps the exercises of their direction). The result cache
#: keys on them too, beside the firings, the stage and the planner's fields.
ASSEMBLY_FIELDS: tuple[str, ...] = ("preferences.goals", "directional_preference")


def assembly_inputs(profile: Profile) -> tuple[Any, ...]:
    """The values of `ASSEMBLY_FIELDS` for ``profile`` (hashable)."""
    return tuple(field_value(profile, path) for path in ASSEMBLY_FIELDS)


def _jsonable(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    return value


class Assembler:
    """Builds the results of one RuleSet (one pack, one locale) through its cache seam."""

    def __init__(self, seam: CacheSeam, locale: str) -> None:
        self.seam = seam
        self.pack = seam.pack
        self.locale = locale
        from backrx.model.recommendation import RulesetInfo

        self.info = RulesetInfo(name=self.pack.name, version=self.pack.version, digest=self.pack.digest)

    def recommendation(self, profile: Profile, decision: Decision) -> Recommendation:
        """The result for a validated profile and its decision."""
        seam = self.seam
        if seam.share is not None:  # in a worker process: equal parts become one object
            return Recommendation.model_validate(self.fields(profile, decision))
        # Everything but the profile follows from the firings (each known by its serial), the
        # stage and the profile fields the planner (run/inputs.py) and assembly itself read.
        key = (tuple([f.serial for f in decision.fired]), profile.stage, planner_inputs(profile),
               assembly_inputs(profile))
        found = seam.result(key)
        if found is not None:
            return Recommendation.model_validate({**found, "profile": profile})
        fields = self.fields(profile, decision)
        rec = Recommendation.model_validate(fields)
        fields.pop("profile")
        seam.keep_result(key, fields)
        return rec

    def referral(self, decision: Decision) -> tuple[dict[str, object] | None, list[tuple[str, str, str]]]:
        """The referral as output data, and the routine reasons it defers to the trace."""
        if decision.urgency is None:
            return None, []
        pack = self.pack
        tier_of = tiers_of_reasons(f.rule for f in decision.fired)
        reasons, rule_ids = list(decision.referral_reasons), list(decision.referral_rules)
        deferred: list[tuple[str, str, str]] = []
        if decision.refers:
            # A reason of a tier that lets exercise go on (routine, in the bundled pack's
            # urgency.yaml) says the program continues; under a referral that replaces the
            # program it would contradict the header, so it stays in the trace only.
            open_tiers = {u for u in URGENCIES if u not in pack.blocking_urgencies}  # e.g. routine
            reasons = [r for r in reasons if tier_of.get(r) not in open_tiers]
            routine = {f.rule.id for f in decision.fired
                       if f.rule.then.refer is not None and f.rule.then.refer.urgency in open_tiers}
            rule_ids = [r for r in rule_ids if r not in routine]
            deferred = [("routine-referral-deferred", f.rule.then.refer.reason, f.rule.id)
                        for f in decision.fired if f.rule.id in routine and f.rule.then.refer]
        return referral_data(pack, decision.urgency, reasons, rule_ids, tier_of), deferred

    def fields(self, profile: Profile, decision: Decision) -> dict[str, Any]:
        """The fields of the result, every part an immutable model built once."""
        pack = self.pack
        referral, deferred = self.referral(decision)
        program: Program | None = None
        planned_warnings: tuple[tuple[str, str, str], ...] = ()
        cited: set[str] = set()  # the references are listed sorted: order does not matter here
        for f in decision.fired:
            cited.update(f.rule.sources)
        if not decision.refers:
            with active(self.seam.plans):
                program, planned_warnings, program_sources = planned(pack, profile, decision)
            cited.update(program_sources)
            parts = education_parts(pack, profile, decision, program, self.locale, list(decision.safety_net),
                                    self.seam.plans.tables)
            if parts:  # the education modules, flare plan and pathway (issue 28)
                program = program.model_copy(update=parts)
                cited.update(education_sources(program))
        trace = [self.firing(f) for f in decision.fired]
        if self.seam.share is not None and self.seam.share_built is not None:
            self.seam.share_built(self.seam.share, None, trace)  # a worker: equal parts become one
        return {
            "format_version": FORMAT_VERSION,
            "backrx_version": __version__,
            "outcome": "refer" if decision.refers else "program",
            "referral": referral,
            "program": program,
            "classification": {"stage": profile.stage, "pathways": list(decision.pathways),
                               "startback_risk": decision.risk},
            "rationale": [f.rationale for f in decision.fired
                          if f.rule.layer in ("triage", "classification")],
            "safety_net": list(decision.safety_net),
            "warnings": notices([*decision.warnings, *deferred, *planned_warnings]),
            "trace": trace,
            "references": [self.reference(sid) for sid in sorted(cited)],
            "ruleset": self.info,
            "profile": profile,
            "locale": self.locale,
            "disclaimer": pack.texts.get("disclaimer", DISCLAIMER),
        }

    def firing(self, f: Fired) -> Firing:
        """One immutable Firing per distinct (rule, rendered texts, matched values), validated once."""
        seam = self.seam
        if not seam.firings_on:
            return self._built(f)
        found = seam.firing_of.get(f.serial)
        if found is None:
            values = tuple(f.matched.values())
            key = (f.rule.id, f.rationale, f.patient, values, tuple(map(type, values)))
            found = seam.firings.get(key)
            if found is None:
                found = self._built(f)
                if len(seam.firings) >= FIRINGS_KEPT:
                    seam.firings.clear()  # a crude bound: refilled from the next results
                seam.firings[key] = found
            if len(seam.firing_of) >= FIRINGS_KEPT:
                seam.firing_of.clear()
            seam.firing_of[f.serial] = found
        return found

    @staticmethod
    def _built(f: Fired) -> Firing:
        return Firing.model_validate({
            "rule_id": f.rule.id, "layer": f.rule.layer, "title": f.rule.title,
            "rationale": f.rationale, "sources": list(f.rule.sources), "patient": f.patient,
            "matched": {k: _jsonable(v) for k, v in f.matched.items()},
            "evidence": evidence_model(f.rule)})

    def reference(self, sid: str) -> Reference:
        """One immutable Reference per source, shared by every result (validated once)."""
        found = self.seam.references.get(sid) if self.seam.parts_on else None
        if found is None:
            source = self.pack.sources[sid]
            found = Reference(id=sid, citation=source.citation, url=source.url, year=source.year)
            if self.seam.parts_on:
                self.seam.references[sid] = found
        return found
