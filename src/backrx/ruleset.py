"""A loaded rule pack with its engine: the object that makes recommendations."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from backrx._gc import collector_paused
from backrx._transport import PackContent, capture, refuse_changed, restore, sendable
from backrx._version import __version__
from backrx.engine import EngineName, make_engine
from backrx.lang.condition import Value
from backrx.model.profile import Profile, validated_profile
from backrx.model.recommendation import (
    DISCLAIMER,
    FORMAT_VERSION,
    Firing,
    Program,
    Recommendation,
    Reference,
    RulesetInfo,
)
from backrx.model.vocabulary import URGENCIES
from backrx.pack.rulepack import Pack, Rule, read_pack
from backrx.run.decision import Decision, Fired, decide, notices, referral_data, tiers_of_reasons
from backrx.run.evidence import evidence_model
from backrx.run.facts import profile_values
from backrx.run.inputs import planner_inputs
from backrx.run.planner import planned

ProfileInput = Profile | Mapping[str, Any]

#: Distinct firings a RuleSet keeps as built models (a rule with the values it matched).
_FIRINGS_KEPT = 8192
#: Assembled results kept per RuleSet, by the firings they come from (then the table starts afresh).
RESULTS_KEPT = 1024


def _jsonable(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    return value




def _restore(content: PackContent, locale: str = "en") -> RuleSet:
    """The RuleSet a pickle carried, rebuilt from its content (checked by digest, see
    :mod:`backrx._transport`) or reused for the same content, in the locale it had."""
    return restore(content, _rebuilt).for_locale(locale)


def _rebuilt(pack: Pack, content: PackContent) -> RuleSet:
    engine: EngineName = content.engine  # type: ignore[assignment]  # checked by _transport.verify
    rules = RuleSet(pack, engine)
    rules._content = content  # what travels on is what came, not whatever is on disk there now
    rules._sendable = True  # verified on arrival
    return rules


class RuleSet:
    """A validated rule pack bound to an engine. Safe to share between threads.

    Build one with :func:`backrx.load_rules`.
    """

    def __init__(self, pack: Pack, engine: EngineName = "auto") -> None:
        self._pack = pack
        self._engine = make_engine(pack, engine)
        self._info = RulesetInfo(name=pack.name, version=pack.version, digest=pack.digest)
        self._locale = "en"
        self._base: RuleSet | None = None  # for a localised view: the pack in its own language
        self._locales: dict[str, RuleSet] = {}
        self._locales_lock = threading.Lock()
        # The pack's bytes, so that the RuleSet can be pickled (see backrx._transport).
        self._content: PackContent | None = capture(pack, engine)
        self._sendable = False  # checked against the digest at the first pickle
        self._references: dict[str, Reference] = {}
        self._firings: dict[tuple[Any, ...], Firing] = {}
        self._firing_of: dict[int, tuple[Fired, Firing]] = {}
        self._results: dict[tuple[Any, ...], tuple[tuple[Fired, ...], dict[str, Any]]] = {}
        self._share: dict[Any, Any] | None = None  # set by a worker process for one chunk

    def __reduce__(self) -> tuple[Any, tuple[PackContent, str]]:
        """Pickle as the pack's content, its digest, the engine asked for and the locale; the
        receiving process reloads the pack from that content and refuses it if it does not match."""
        content = self._content
        if content is None or not (self._sendable or sendable(content, self._pack)):
            raise refuse_changed(self._pack)
        self._sendable = True
        return (_restore, (content, self._locale))

    def __copy__(self) -> RuleSet:
        # A plain shallow copy (the localised views are made this way), not a reload through
        # __reduce__; the copy gets its own Reference cache, as its texts may differ.
        clone = object.__new__(RuleSet)
        clone.__dict__.update(self.__dict__)
        clone._references = {}
        clone._firings = {}
        clone._firing_of = {}
        clone._results = {}
        return clone

    @property
    def locales(self) -> tuple[str, ...]:
        """The languages the pack speaks: ``"en"`` (its own texts) and each ``locales/<lang>.yaml``."""
        return ("en", *sorted(self._pack.locales))

    def for_locale(self, locale: str) -> RuleSet:
        """This pack with its patient-facing texts in ``locale``, sharing the engine.

        Raises :class:`backrx.RuleError` when the pack has no such locale.
        """
        if locale == self._locale:
            return self
        base = self._base or self
        if locale == "en":
            return base
        if locale not in base._pack.locales:
            from backrx.errors import Problem, RuleError

            raise RuleError([Problem(f"locales/{locale}.yaml", None, None, "unknown-locale",
                                     f"the pack has no locale {locale!r}; it has: "
                                     f"{', '.join(base.locales)}")])
        with base._locales_lock:
            if locale not in base._locales:
                import copy

                from backrx.pack.locale import localize

                clone = copy.copy(base)
                clone._pack = localize(base._pack, locale)
                clone._locale = locale
                clone._base = base
                base._locales[locale] = clone
            return base._locales[locale]

    @property
    def name(self) -> str:
        """The pack's name (pack.yaml)."""
        return self._pack.name

    @property
    def version(self) -> str:
        """The pack's version (pack.yaml)."""
        return self._pack.version

    @property
    def digest(self) -> str:
        """A hash of the pack's content."""
        return self._pack.digest

    @property
    def path(self) -> str:
        """The folder the pack was read from."""
        return self._pack.path

    @property
    def engine(self) -> str:
        """Which engine runs the rules: ``"durable"`` or ``"reference"``."""
        return self._engine.name

    @property
    def pack(self) -> Pack:
        """The validated pack: its rules, catalog, sources and phases."""
        return self._pack

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Every rule id, in trace order."""
        return tuple(rule.id for rule in self._pack.rules)

    def __repr__(self) -> str:
        return (f"RuleSet(name={self.name!r}, version={self.version!r}, rules={len(self.rule_ids)}, "
                f"engine={self.engine!r})")

    def decide(self, profile: ProfileInput) -> Decision:
        """The rules' raw conclusions for a profile (before planning)."""
        valid = validated_profile(profile)
        return decide(self._pack, self._engine, profile_values(valid))

    def decide_facts(self, values: dict[str, Value], *, layers: Collection[str] | None = None,
                     accept: Callable[[Rule], bool] | None = None) -> Decision:
        """The rules' conclusions for facts already derived (:func:`backrx.run.decision.decide`):
        every profile layer, or only the named ``layers`` (adjust runs its layer this way)."""
        return decide(self._pack, self._engine, values, layers=layers, accept=accept)

    def recommend(self, profile: ProfileInput, *, locale: str | None = None) -> Recommendation:
        """The recommendation for one profile.

        ``locale`` (e.g. ``"es"``) gives the patient-facing texts in that language (see
        :meth:`for_locale`); clinician texts stay in the pack's own language.
        Raises ``pydantic.ValidationError`` when the profile is invalid.
        """
        if locale is not None and locale != self._locale:
            return self.for_locale(locale).recommend(profile)
        valid = validated_profile(profile)
        decision = decide(self._pack, self._engine, profile_values(valid))
        if self._share is not None:  # in a worker process: equal parts become one object
            return self._build(valid, decision)
        # Everything but the profile follows from the firings (the runner shares equal ones, so
        # they are known by identity), the stage and the profile fields the planner reads.
        fired = tuple(decision.fired)
        key = (tuple(map(id, fired)), valid.stage, planner_inputs(valid))  # run/inputs.py names them
        found = self._results.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], fired, strict=True)):
            return Recommendation.model_validate({**found[1], "profile": valid})
        fields = self._fields(valid, decision)
        rec = Recommendation.model_validate(fields)
        if len(self._results) >= RESULTS_KEPT:
            self._results.clear()  # a crude bound: refilled from the next profiles
        fields.pop("profile")
        self._results[key] = (fired, fields)  # holds the firings: their identities are not reused
        return rec

    def share_equal_parts(self, on: bool) -> None:
        """While on, equal prescriptions and firings built by this RuleSet become one object, so a
        worker process pickles each once (see backrx._parallel); off again after its chunk."""
        self._share = {} if on else None

    def recommend_many(self, profiles: Iterable[ProfileInput], *, pause_gc: bool = True,
                       workers: int | None = None, chunk_size: int | None = None) -> list[Recommendation]:
        """Recommendations for many profiles; the same results as calling recommend on each.

        ``workers=N`` (N > 1) runs the batch in N worker processes (started with ``spawn``;
        each reloads this pack from its pickled content, checked by digest) in chunks of
        ``chunk_size`` profiles; the results are equal and in the same order. ``None`` or 1
        runs in this process. A script that uses workers needs the usual
        ``if __name__ == "__main__":`` guard. Raises ``ValueError`` for ``workers < 1``.

        With ``pause_gc`` (the default) Python's cyclic garbage collector is paused while the
        batch runs and restored afterwards: backrx creates no reference cycles, and without the
        pause the collector re-scans the growing list of results again and again (measured:
        about a third of the batch time). Reference counting still frees memory as usual.
        Raises ``pydantic.ValidationError`` for the first invalid profile.
        """
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        if workers is not None and workers > 1:
            from backrx._parallel import recommend_parallel

            return recommend_parallel(self, profiles, workers=workers, chunk_size=chunk_size)
        with collector_paused(pause_gc):
            return [self.recommend(profile) for profile in profiles]

    def _build(self, profile: Profile, decision: Decision) -> Recommendation:
        """Assemble the result from immutable parts built once (programs, firings, references)."""
        return Recommendation.model_validate(self._fields(profile, decision))

    def _fields(self, profile: Profile, decision: Decision) -> dict[str, Any]:
        """The fields of the result, every part an immutable model built once."""
        pack = self._pack
        referral = None
        deferred: list[tuple[str, str, str]] = []
        if decision.urgency is not None:
            tier_of = tiers_of_reasons(f.rule for f in decision.fired)
            reasons, rule_ids = list(decision.referral_reasons), list(decision.referral_rules)
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
            referral = referral_data(pack, decision.urgency, reasons, rule_ids, tier_of)
        program: Program | None = None
        planned_warnings: tuple[tuple[str, str, str], ...] = ()
        cited: dict[str, None] = {}
        for f in decision.fired:
            cited.update(dict.fromkeys(f.rule.sources))
        if not decision.refers:
            program, planned_warnings, program_sources = planned(pack, profile, decision)
            cited.update(dict.fromkeys(program_sources))
        trace = [self._firing(f) for f in decision.fired]
        if self._share is not None:  # in a worker process: equal parts become one object
            from backrx._parallel import share_built

            share_built(self._share, None, trace)
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
            "references": [self._reference(sid) for sid in sorted(cited)],
            "ruleset": self._info,
            "profile": profile,
            "locale": self._locale,
            "disclaimer": pack.texts.get("disclaimer", DISCLAIMER),
        }

    def _firing(self, f: Fired) -> Firing:
        """One immutable Firing per distinct (rule, rendered texts, matched values), validated once."""
        same = self._firing_of.get(id(f))
        if same is not None and same[0] is f:  # the runner shares equal firings: known by identity
            return same[1]
        firing = self._firing_by_content(f)
        if len(self._firing_of) >= _FIRINGS_KEPT:
            self._firing_of.clear()
        self._firing_of[id(f)] = (f, firing)  # holds f: its identity is not reused while kept
        return firing

    def _firing_by_content(self, f: Fired) -> Firing:
        values = tuple(f.matched.values())
        key = (f.rule.id, f.rationale, f.patient, values, tuple(map(type, values)))
        found = self._firings.get(key)
        if found is None:
            found = Firing.model_validate({
                "rule_id": f.rule.id, "layer": f.rule.layer, "title": f.rule.title,
                "rationale": f.rationale, "sources": list(f.rule.sources), "patient": f.patient,
                "matched": {k: _jsonable(v) for k, v in f.matched.items()},
                "evidence": evidence_model(f.rule)})
            if len(self._firings) >= _FIRINGS_KEPT:
                self._firings.clear()  # a crude bound: refilled from the next results
            self._firings[key] = found
        return found

    def _reference(self, sid: str) -> Reference:
        """One immutable Reference per source, shared by every result (validated once)."""
        found = self._references.get(sid)
        if found is None:
            source = self._pack.sources[sid]
            found = self._references[sid] = Reference(id=sid, citation=source.citation, url=source.url,
                                                      year=source.year)
        return found

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (``KeyError`` if there is none)."""
        for rule in self._pack.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def load_rules(path: str | os.PathLike[str] | None = None, *, engine: EngineName = "auto") -> RuleSet:
    """Load and validate a rule pack folder; ``None`` loads the pack bundled with backrx.

    Raises :class:`backrx.RuleError` listing every problem when the pack is broken.
    ``engine`` picks the engine: ``"auto"`` (durable_rules where it imports, else the
    pure-Python reference evaluator), ``"durable"`` or ``"reference"``.
    """
    return RuleSet(read_pack(path), engine)


_default: RuleSet | None = None
_default_lock = threading.Lock()


def default_rules() -> RuleSet:
    """The bundled pack, loaded once on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = load_rules()
    return _default


def recommend(profile: ProfileInput, *, rules: RuleSet | None = None, locale: str = "en") -> Recommendation:
    """The recommendation for ``profile`` (a Profile or a plain mapping).

    Uses the bundled rule pack unless ``rules`` is given. ``locale`` picks the language of the
    patient-facing texts (``"en"``, or a locale the pack ships, such as ``"es"``; an unknown one
    raises :class:`backrx.RuleError`). Raises ``pydantic.ValidationError`` when the profile is invalid.
    """
    return (rules if rules is not None else default_rules()).recommend(profile, locale=locale)
