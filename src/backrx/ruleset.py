"""A loaded rule pack with its engine: the object that makes recommendations."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from backrx.engine import EngineName, make_engine
from backrx.lang.condition import Value
from backrx.model.profile import Profile, validated_profile
from backrx.model.recommendation import Recommendation
from backrx.pack.limits import PackLimits, limits_for
from backrx.pack.load import read_pack
from backrx.pack.model import Pack, Rule
from backrx.run.assemble import Assembler
from backrx.run.caches import RESULTS_KEPT, CacheSeam
from backrx.run.decision import Decision, decide
from backrx.run.facts import profile_values
from backrx.workers.collector import collector_paused
from backrx.workers.transport import PackContent, capture, refuse_changed, restore, sendable

ProfileInput = Profile | Mapping[str, Any]

__all__ = ["RESULTS_KEPT", "ProfileInput", "RuleSet", "default_rules", "load_rules", "recommend"]


def _restore(content: PackContent, locale: str = "en") -> RuleSet:
    """The RuleSet a pickle carried, rebuilt from its content (checked by digest, see
    `backrx.workers.transport`) or reused for the same content, in the locale it had."""
    return restore(content, _rebuilt).for_locale(locale)


def _rebuilt(pack: Pack, content: PackContent) -> RuleSet:
    engine: EngineName = content.engine  # type: ignore[assignment]  # checked by transport.verify
    rules = RuleSet(pack, engine)
    rules._content = content  # what travels on is what came, not whatever is on disk there now
    rules._sendable = True  # verified on arrival
    return rules


class RuleSet:
    """A validated rule pack bound to an engine. Safe to share between threads.

    Build one with `backrx.load_rules`.
    """

    def __init__(self, pack: Pack, engine: EngineName = "auto", *, caches_off: Collection[str] = ()) -> None:
        """``caches_off`` names caches of the `CacheSeam` to turn off
        (the results stay the same, only slower); ``ValueError`` for a name it does not know."""
        self._engine = make_engine(pack, engine)
        self._bind(CacheSeam(pack, off=caches_off), "en")
        self._base: RuleSet | None = None  # for a localised view: the pack in its own language
        self._locales: dict[str, RuleSet] = {}
        self._locales_lock = threading.Lock()
        # The pack's bytes, so that the RuleSet can be pickled (see backrx.workers.transport).
        self._content: PackContent | None = capture(pack, engine)
        self._sendable = False  # checked against the digest at the first pickle

    def _bind(self, seam: CacheSeam, locale: str) -> None:
        """Take ``seam``'s pack in ``locale``, with the seam's caches and an assembler on them."""
        self._pack = seam.pack
        self._locale = locale
        self._seam = seam
        self._assembler = Assembler(seam, locale)

    @property
    def caches(self) -> CacheSeam:
        """Every cache this RuleSet keeps (`backrx.run.caches.CacheSeam`)."""
        return self._seam

    @property
    def _share(self) -> dict[Any, Any] | None:
        return self._seam.share

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
        # __reduce__; the copy gets caches of its own, as its texts may differ.
        clone = object.__new__(RuleSet)
        clone.__dict__.update(self.__dict__)
        clone._bind(self._seam.fresh(), self._locale)
        return clone

    @property
    def locales(self) -> tuple[str, ...]:
        """The languages the pack speaks: ``"en"`` (its own texts) and each ``locales/<lang>.yaml``."""
        return ("en", *sorted(self._pack.locales))

    def for_locale(self, locale: str) -> RuleSet:
        """This pack with its patient-facing texts in ``locale``, sharing the engine.

        Raises `backrx.RuleError` when the pack has no such locale.
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
                clone._bind(base._seam.for_pack(localize(base._pack, locale)), locale)
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
        """Which engine runs the rules: ``"durable"``, ``"compiled"`` or ``"reference"`` (the interpreter)."""
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
        return decide(self._pack, self._engine, profile_values(valid), tables=self._seam.tables)

    def decide_facts(self, values: dict[str, Value], *, layers: Collection[str] | None = None,
                     accept: Callable[[Rule], bool] | None = None) -> Decision:
        """The rules' conclusions for facts already derived (`backrx.run.decision.decide`):
        every profile layer, or only the named ``layers`` (adjust runs its layer this way)."""
        return decide(self._pack, self._engine, values, layers=layers, accept=accept,
                      tables=self._seam.tables)

    def recommend(self, profile: ProfileInput, *, locale: str | None = None) -> Recommendation:
        """The recommendation for one profile.

        ``locale`` (e.g. ``"es"``) gives the patient-facing texts in that language (see
        `for_locale`); clinician texts stay in the pack's own language.
        Raises ``pydantic.ValidationError`` when the profile is invalid.
        """
        if locale is not None and locale != self._locale:
            return self.for_locale(locale).recommend(profile)
        valid = validated_profile(profile)
        decision = decide(self._pack, self._engine, profile_values(valid), tables=self._seam.tables)
        return self._assembler.recommendation(valid, decision)

    def share_equal_parts(self, on: bool) -> None:
        """While on, equal prescriptions and firings built by this RuleSet become one object, so a
        worker process pickles each once (see backrx.workers.pool); off again after its chunk."""
        from backrx.workers.pool import share_built

        self._seam.share = {} if on else None
        self._seam.share_built = share_built

    def recommend_many(self, profiles: Iterable[ProfileInput], *, pause_gc: bool = True,
                       workers: int | None = None, chunk_size: int | None = None) -> list[Recommendation]:
        """Recommendations for many profiles; the same results as calling recommend on each.

        ``workers=N`` (N > 1) runs the batch in N processes: this one and N - 1 workers
        (started with ``spawn``; each reloads this pack from its pickled content, checked by
        digest), in chunks of ``chunk_size`` profiles; this process runs a chunk itself whenever
        the workers are busy. The results are equal and in the same order. ``None`` or 1
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
            from backrx.workers.pool import recommend_parallel

            return recommend_parallel(self, profiles, workers=workers, chunk_size=chunk_size)
        with collector_paused(pause_gc):
            return [self.recommend(profile) for profile in profiles]

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (``KeyError`` if there is none)."""
        for rule in self._pack.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def load_rules(path: str | os.PathLike[str] | None = None, *, engine: EngineName = "auto",
               limits: PackLimits | None = None) -> RuleSet:
    """Load and validate a rule pack folder; ``None`` loads the pack bundled with backrx.

    Raises `backrx.RuleError` listing every problem when the pack is broken.
    ``engine`` picks the engine: ``"auto"`` (durable_rules where it imports, else the
    pure-Python reference evaluator), ``"durable"`` or ``"reference"``.
    ``limits`` (a `backrx.pack.limits.PackLimits`) raises the loader's size limits for a pack
    you trust; the defaults, safe for any pack, stay in force otherwise (docs/performance.md).
    """
    with limits_for(limits):
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
    raises `backrx.RuleError`). Raises ``pydantic.ValidationError`` when the profile is invalid.
    """
    return (rules if rules is not None else default_rules()).recommend(profile, locale=locale)
