"""The invariants an audit checks: the built-in ones and those a clinic registers.

Clinics add their own with `invariant` (a decorator), `register_invariant`, or by
passing ``invariants=`` to `backrx.audit.run.audit`. The checks themselves live in
`backrx.audit.checks` (and `backrx.audit.engines`, `backrx.audit.worse_day`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from backrx.audit import checks
from backrx.audit.engines import other_engine
from backrx.audit.invariant import Check, Invariant, SkipCheck, Status
from backrx.audit.safety_net import safety_net_consistent
from backrx.audit.worse_day import no_dose_increase_after_worse_day

NO_ERROR = Invariant("output.no-error",
                     "Every valid profile gets a recommendation, without an exception.", checks.no_error)

#: The invariants backrx ships, in the order the report lists them.
BUILTIN_INVARIANTS: tuple[Invariant, ...] = (
    NO_ERROR,
    Invariant("safety.red-flag-refers", "A profile with any red flag gets a referral.",
              checks.red_flag_refers),
    Invariant("safety.emergency-signs-emergency",
              "A red flag that on its own calls for emergency care in the reference pack's triage "
              "(the cauda equina signs, major trauma) gets the tier the reference pack gives it in the "
              "profile's recorded context: emergency, unless that context is a settled one (nerve signs "
              "in both legs, older than two weeks and not getting worse: urgent).",
              checks.emergency_signs_emergency, checks.emergency_signs_skip),
    Invariant("safety.net-consistent",
              "A profile that already meets the condition of a safety-net line (the clinical states the "
              "line names) is referred at that line's tier or higher.", safety_net_consistent),
    Invariant("safety.unsure-red-flag-reviewed",
              "A red flag the person is unsure of gets a referral, never silence.",
              checks.unsure_flag_reviewed),
    Invariant("population.wheelchair-seated",
              "A wheelchair user gets nothing the reference pack's wheelchair population (populations.yaml) "
              "leaves out: no walking, standing or floor work.",
              checks.seated_for_wheelchair),
    Invariant("population.limits",
              "No phase holds an exercise that a population of the person forbids there "
              "(rules/populations.yaml, read by backrx.run.populations.limits_for).",
              checks.population_limits),
    Invariant("population.pregnancy",
              "A pregnant person is never classified as stenosis and gets nothing the reference pack's "
              "pregnancy population (populations.yaml) leaves out in that week: no prone work, and no supine "
              "work from the week it names, or when the weeks are not recorded.",
              checks.pregnancy_safe),
    Invariant("safety.refer-means-no-program",
              "A referral outcome has no program, and a program never comes with an emergency or "
              "urgent referral.", checks.refer_means_no_program),
    Invariant("program.phase-one-direction",
              "Phase 1 holds no exercise in the direction opposite to the directional preference.",
              checks.phase_one_direction, checks.phase_one_direction_skip),
    Invariant("program.load-cap",
              "With severe pain or low tolerance, as the reference pack's load-cap rule defines them, no "
              "phase-1 exercise is heavier than that rule's cap.", checks.load_cap, checks.load_cap_skip),
    Invariant("program.equipment-and-settings",
              "No exercise needs equipment the person lacks or a setting they do not use (default: home, "
              "no equipment; a gym has all gym equipment).", checks.equipment_and_settings),
    Invariant("program.not-prescribed-and-excluded",
              "No exercise is both prescribed and excluded in the same phase.",
              checks.not_prescribed_and_excluded),
    Invariant("program.exclusion-codes",
              "Every exercise a rule leaves out is labelled with the code that rule declares in the pack, "
              "the code an override's accept must acknowledge.", checks.exclusion_codes_from_pack),
    Invariant("program.explained",
              "Every prescription has a rationale, sources that resolve in the pack and rule ids found in "
              "the trace.", checks.explained),
    Invariant("program.no-empty-phase",
              "Every phase of a program holds at least one exercise, or a warning names the phase and "
              "the element nothing fits.",
              checks.no_empty_phase),
    Invariant("program.fits-the-time",
              "No day of a phase runs over the session's minutes (by more than the pack's margin) "
              "without a warning, nor holds more exercises than the pack's cap; with no time stated, "
              "the aerobic dose the guidance asks for is not counted.", checks.fits_the_time),
    Invariant("program.one-per-family",
              "No phase holds two exercises of one movement family, or an exercise and its own easier "
              "or harder version.", checks.one_per_family),
    Invariant("output.deterministic", "The same profile gives byte-identical JSON on a second call.",
              checks.deterministic),
    Invariant("output.json-round-trip",
              "A recommendation survives model_dump_json() and model_validate_json() unchanged.",
              checks.json_round_trip),
    Invariant("engine.agreement",
              "The durable_rules and reference engines give the same JSON for every profile.",
              other_engine.check, other_engine.skip),
    no_dose_increase_after_worse_day(),
)


_registry: dict[str, Invariant] = {}
_registry_lock = threading.Lock()


def register_invariant(item: Invariant) -> Invariant:
    """Add ``item`` to the invariants every `audit` checks by default; return it.

    Raises ``TypeError`` for anything but an `Invariant`, and ``ValueError`` when its id is already
    taken (by a built-in or a registered one). The registry itself is private: read it with
    `registered_invariants` (a tuple) and change it only through this function and
    `unregister_invariant`.
    """
    if not isinstance(item, Invariant):
        raise TypeError("register_invariant takes an Invariant")
    with _registry_lock:
        if item.id in _registry or any(b.id == item.id for b in BUILTIN_INVARIANTS):
            raise ValueError(f"an invariant with id {item.id!r} is already registered")
        _registry[item.id] = item
    return item


def unregister_invariant(invariant_id: str) -> None:
    """Remove a registered invariant (``KeyError`` if none has this id)."""
    with _registry_lock:
        del _registry[invariant_id]


def registered_invariants() -> tuple[Invariant, ...]:
    """The invariants added with `register_invariant`, in the order they were added."""
    with _registry_lock:
        return tuple(_registry.values())


def invariant(invariant_id: str, statement: str, *, register: bool = True,
              skip: SkipCheck | None = None) -> Callable[[Check], Invariant]:
    """Decorator: turn a check function into an `Invariant` (registered by default)::

        @invariant("clinic.no-jogging-after-70", "Nobody over 70 is given jog-walk intervals.")
        def no_jogging(rules: RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
            ...
    """

    def wrap(check: Check) -> Invariant:
        made = Invariant(invariant_id, statement, check, skip)
        return register_invariant(made) if register else made

    return wrap


def default_invariants() -> tuple[Invariant, ...]:
    """The built-in invariants, then the registered ones: what `audit` checks by default."""
    return (*BUILTIN_INVARIANTS, *registered_invariants())


def invariant_by_id(invariant_id: str) -> Invariant:
    """The built-in or registered invariant with this id (``KeyError`` if there is none)."""
    for item in default_invariants():
        if item.id == invariant_id:
            return item
    raise KeyError(invariant_id)


__all__ = [
    "BUILTIN_INVARIANTS",
    "NO_ERROR",
    "Check",
    "Invariant",
    "SkipCheck",
    "Status",
    "default_invariants",
    "invariant",
    "invariant_by_id",
    "no_dose_increase_after_worse_day",
    "register_invariant",
    "registered_invariants",
    "unregister_invariant",
]
