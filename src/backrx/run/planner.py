"""The planner: fills each phase from the catalog with what the rules asked for, in the time given.

It decides nothing clinical. For each phase it walks the rules' prescriptions in trace order and
takes, from each candidate list, the first exercises that the person can do: not excluded by a
rule, no equipment they lack, a setting they use, and no second exercise of a movement family
already in the phase. A candidate that is ruled out is replaced by its easier variant when that one
fits; the candidate is then listed among the exclusions with its reasons.

Then it fits the phase into the person's time (planner.yaml): the minimum program first (advice,
the matched treatment, one exercise of each element the phase must hold, one aerobic choice), then
the rest in the pack's fill order, laid out on the days of a week so that no day runs over the
session's minutes. What does not fit is listed as excluded for time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from backrx.model.profile import Profile
from backrx.model.recommendation import Dose, Exercise, Prescription, Program
from backrx.pack.model import DOSE_FIELDS, CatalogEntry, Exclude, Pack, Prescribe, Rule
from backrx.pack.planspec import Choosing, PlannerSpec
from backrx.run.decision import Decision
from backrx.run.dislikes import disliked_ids, kept_warnings, liked_first, spare
from backrx.run.plancache import PackCache, Planned, pack_cache, plan_key
from backrx.run.populations import PlanChecks, aerobic_order, capped_walk
from backrx.run.week import DAYS, Week, WeekFitter, session_days


@dataclass
class _Blocked:
    name: str
    phases: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def add(self, phase: str, reasons: list[str], rule_ids: list[str],
            codes: Collection[str] = ()) -> None:
        if phase not in self.phases:
            self.phases.append(phase)
        for target, items in ((self.reasons, reasons), (self.rule_ids, rule_ids), (self.codes, codes)):
            for item in items:
                if item not in target:
                    target.append(item)


def blocks(rule_exclude: Exclude, entry: CatalogEntry) -> bool:
    return (
        entry.id in rule_exclude.exercises
        or entry.direction in rule_exclude.directions
        or entry.category in rule_exclude.categories
        or any(tag in entry.tags for tag in rule_exclude.tags)
        or (rule_exclude.max_load is not None and entry.load > rule_exclude.max_load)
    )


def _words(values: list[str] | tuple[str, ...]) -> str:
    return ", ".join(v.replace("_", " ") for v in values)


@functools.lru_cache(maxsize=8192)
def exercise_data(entry: CatalogEntry) -> Exercise:
    """The output Exercise of a catalog entry, built once: models are immutable, and pydantic
    takes an existing instance without validating it again."""
    return Exercise.model_validate({
        "id": entry.id, "name": entry.name, "category": entry.category, "direction": entry.direction,
        "load": entry.load, "equipment": entry.equipment, "settings": entry.settings,
        "targets": entry.targets, "instructions": entry.instructions, "easier": entry.easier,
        "harder": entry.harder, "pattern": entry.pattern, "per_side": entry.per_side,
        "media": list(entry.media),
    })


@dataclass
class _Item:
    """A chosen exercise on its way into a phase."""

    entry: CatalogEntry
    rule: Rule
    role: str
    order: int
    moved_by: list[str]
    notes: list[str]
    dose: dict[str, int]
    dose_rules: list[str]
    essential: bool = False
    extra: bool = False  # a further aerobic option: only if time allows
    days: tuple[int, ...] = ()
    minutes: float = 0.0
    timed: bool = False  # timed work, the part that can be shortened to fit

    def __post_init__(self) -> None:
        self.timed = self.entry.dose_kind == "timed" and bool(self.dose.get("minutes"))


class Planner(WeekFitter):
    """Fills a person's phases from the catalog with what the rules asked for (see the module)."""

    cache: PackCache

    def __init__(self, pack: Pack, profile: Profile, decision: Decision) -> None:
        assert pack.planner is not None and pack.planner.choosing is not None
        self.pack = pack
        self.spec: PlannerSpec = pack.planner
        self.choosing: Choosing = pack.planner.choosing
        self.cache = pack_cache(pack)
        self.decision = decision
        prefs = profile.resolved_preferences
        self.settings: set[str] = set(prefs.settings)
        self.equipment: set[str] = self.choosing.equipment(self.settings, prefs.equipment)
        self.minutes = prefs.minutes_per_session or self.spec.minutes_per_session
        self.protect_timed = prefs.minutes_per_session is None  # the default budget cuts no dose
        self.walk = profile.outcomes.walk_minutes if profile.outcomes is not None else None
        self.preferred = self.cache.tables.aerobic(  # populations.yaml `aerobic`
            decision.values, lambda: aerobic_order(pack, decision.values))
        self.disliked = disliked_ids(self.choosing, pack.exercises, prefs.dislikes)
        self.disliked_kept: list[tuple[str, str]] = []  # a disliked exercise kept: (what, rule id)
        self.checks = PlanChecks(pack, decision, stated=not self.protect_timed
                                 or prefs.sessions_per_week is not None, lookup=self.cache.tables.requirement)
        self.sessions = prefs.sessions_per_week or self.spec.sessions_per_week
        self.blocked: dict[str, _Blocked] = {}
        self.warnings: list[tuple[str, str, str]] = []  # code, message, rule id
        self._verdicts: dict[tuple[str, str], tuple[list[str], list[str], list[str]]] = {}
        self._fits: dict[tuple[str, str], tuple[CatalogEntry | None, list[str], list[str]]] = {}
        self._scoped: dict[str, tuple[list[tuple[Exclude, Rule, frozenset[str]]], frozenset[str]]] = {}
        self._yours = tuple(sorted(self.settings))
        self._person: dict[str, tuple[list[str], list[str]]] = {}
        # Doses follow from the rules that set them: people whose rules set the same share them.
        dosing = tuple([rule.id for _, rule in decision.doses])
        self._doses: dict[tuple[str, str], tuple[dict[str, int], list[str]]] = self.cache.tables.get(
            "doses", dosing, dict)

    # ---- does it fit the person

    def why_not(self, entry: CatalogEntry, phase: str) -> tuple[list[str], list[str]]:
        """Reasons and rule ids that rule ``entry`` out in ``phase`` (empty when it fits)."""
        reasons, rule_ids, _ = self.verdict(entry, phase)
        return reasons, rule_ids

    def verdict(self, entry: CatalogEntry, phase: str) -> tuple[list[str], list[str], list[str]]:
        """Reasons, rule ids and exclusion codes that rule ``entry`` out in ``phase``."""
        key = (entry.id, phase)
        found = self._verdicts.get(key)
        if found is None:
            found = self._verdicts[key] = self._verdict(entry, phase)
        return found

    def _verdict(self, entry: CatalogEntry, phase: str) -> tuple[list[str], list[str], list[str]]:
        reasons: list[str] = []
        rule_ids: list[str] = []
        codes: list[str] = []
        scoped = self._scoped.get(phase)
        if scoped is None:  # the exclusions that apply in this phase, worked out once
            rows = [(excl, rule, self.cache.blocked_by(excl, blocks)) for excl, rule in self.decision.excludes
                    if not excl.phases or phase in excl.phases]
            scoped = self._scoped[phase] = (rows, frozenset().union(*(b for _, _, b in rows)))
        rows, anywhere = scoped
        known = self.pack.exercises.get(entry.id) is entry  # the sets hold the catalog's own entries
        if not known or entry.id in anywhere:  # else no exclusion of the phase blocks it
            for excl, rule, blocked in rows:
                if (entry.id in blocked) if known else blocks(excl, entry):
                    reasons.append(self.decision.rationale_of(rule.id))
                    rule_ids.append(rule.id)
                    codes.append(excl.code)  # the rule's own code (rules/exclusions.yaml)
        person = self._person.get(entry.id)
        if person is None:
            person = self._person[entry.id] = self._person_verdict(entry)
        if person[0]:
            reasons += person[0]
            codes += person[1]
        return reasons, rule_ids, list(dict.fromkeys(codes)) if len(codes) > 1 else codes

    def _person_verdict(self, entry: CatalogEntry) -> tuple[list[str], list[str]]:
        """What the person's equipment and settings say of ``entry`` (the same in every phase)."""
        reasons: list[str] = []
        codes: list[str] = []
        if entry.equipment:
            missing = [e for e in entry.equipment if e not in self.equipment]
            if missing:
                reasons.append(self.cache.tables.get("needs", tuple(missing), lambda: (
                    self.choosing.needs_equipment.format(equipment=_words(missing)))))
                codes.append("equipment")
        if self.settings.isdisjoint(entry.settings):
            reasons.append(self.cache.tables.get("setting", (entry.settings, self._yours), lambda: (
                self.choosing.wrong_setting.format(settings=_words(entry.settings),
                                                   yours=_words(self._yours)))))
            codes.append("setting")
        return reasons, codes

    def _blocked(self, entry: CatalogEntry) -> _Blocked:
        found = self.blocked.get(entry.id)
        if found is None:
            found = self.blocked[entry.id] = _Blocked(entry.name)
        return found

    def fit(self, candidate: str, phase: str) -> tuple[CatalogEntry | None, list[str], list[str]]:
        """The candidate, or its nearest easier variant that fits; with the rules that moved it."""
        key = (candidate, phase)
        found = self._fits.get(key)
        if found is None:  # a second call would only repeat what the first one recorded
            found = self._fits[key] = self._fit(candidate, phase)
        entry, moved_by, notes = found
        return entry, list(moved_by), list(notes)

    def _fit(self, candidate: str, phase: str) -> tuple[CatalogEntry | None, list[str], list[str]]:
        entry: CatalogEntry | None = self.pack.exercises[candidate]
        moved_by: list[str] = []
        notes: list[str] = []
        verdicts = self._verdicts
        for _ in range(self.choosing.max_regressions):
            assert entry is not None
            found = verdicts.get((entry.id, phase))
            if found is None:
                found = verdicts[(entry.id, phase)] = self._verdict(entry, phase)
            reasons, rule_ids, codes = found
            if not reasons:
                return entry, moved_by, notes
            self._blocked(entry).add(phase, reasons, rule_ids, codes)
            moved_by.extend(r for r in rule_ids if r not in moved_by)
            notes.append(self.choosing.left_out.format(exercise=entry.name, reasons=" ".join(reasons)))
            if entry.easier is None:
                return None, moved_by, notes
            entry = self.pack.exercises[entry.easier]
        return None, moved_by, notes

    # ---- dose and minutes

    def dose(self, entry: CatalogEntry, phase: str) -> tuple[Dose, list[str]]:
        values, rule_ids = self.dose_values(entry, phase)
        return Dose(**values), rule_ids

    def dose_values(self, entry: CatalogEntry, phase: str) -> tuple[dict[str, int], list[str]]:
        values, rule_ids = self._dose_of(entry, phase)
        return dict(values), list(rule_ids)

    def _dose_of(self, entry: CatalogEntry, phase: str) -> tuple[dict[str, int], list[str]]:
        """The dose and its rules, shared: never changed in place (a new dict replaces it)."""
        key = (entry.dose_kind, phase)
        found = self._doses.get(key)
        if found is None:  # the same for every person whose rules set the same doses
            found = self._doses[key] = self._dose_values(entry, phase)
        return found

    def _dose_values(self, entry: CatalogEntry, phase: str) -> tuple[dict[str, int], list[str]]:
        values: dict[str, int] = {}
        rule_ids: list[str] = []
        for spec, rule in self.decision.doses:
            if spec.kind == entry.dose_kind and (not spec.phases or phase in spec.phases):
                values.update(spec.values)
                if rule.id not in rule_ids:
                    rule_ids.append(rule.id)
        return {k: v for k, v in values.items() if k in DOSE_FIELDS}, rule_ids

    def prescription(self, entry: CatalogEntry, rule: Rule, phase: str, moved_by: list[str],
                     notes: list[str]) -> Prescription:
        return Prescription.model_validate(self.prescription_data(entry, rule, phase, moved_by, notes))

    def prescription_data(self, entry: CatalogEntry, rule: Rule, phase: str, moved_by: list[str],
                          notes: list[str], dose: dict[str, int] | None = None,
                          dose_rules: list[str] | None = None,
                          minutes: float | None = None) -> dict[str, Any]:
        """A prescription as plain data; the Recommendation validates it once, in one pass."""
        if dose is None or dose_rules is None:
            dose, dose_rules = self.dose_values(entry, phase)
        rationale = self.decision.rationale_of(rule.id)
        if notes:
            rationale += " " + self.choosing.instead.format(exercise=entry.name) + " " + " ".join(notes)
        sources = list(dict.fromkeys((*rule.sources, *entry.sources)))
        rule_ids = list(dict.fromkeys((rule.id, *moved_by, *dose_rules)))
        return {"exercise": exercise_data(entry), "dose": dict(dose), "rationale": rationale,
                "sources": sources, "rule_ids": rule_ids,
                "minutes": self.minutes_of(entry, dose) if minutes is None else round(minutes, 1)}

    # ---- choosing

    def candidates(self, phase: str) -> list[_Item]:
        """The exercises the rules ask for in ``phase`` that fit the person, one per family."""
        items: list[_Item] = []
        taken: set[str] = set()
        families: set[str] = set()
        specs = [(i, spec, rule) for i, (spec, rule) in enumerate(self.decision.prescribes)
                 if spec.phase == phase]
        # Who gets a movement family first: the pack's fill order (for aerobic options, its aerobic
        # choice order), then trace order. The output keeps trace order.
        specs.sort(key=lambda item: (self._spec_rank(item[1]), item[0]))
        fits = self._fits
        for order, spec, rule in specs:
            count = 0
            for candidate in liked_first(spec.exercises, self.disliked) if self.disliked else spec.exercises:
                if count >= spec.pick:
                    break
                found = fits.get((candidate, phase))
                if found is None:
                    found = fits[(candidate, phase)] = self._fit(candidate, phase)
                entry, moved_by, notes = found  # shared, never changed in place
                if entry is None or entry.id in taken or entry.pattern in families or \
                        self._linked(entry, taken):
                    continue
                taken.add(entry.id)
                families.add(entry.pattern)
                dose, dose_rules = self._dose_of(entry, phase)
                dose = capped_walk(self.pack, entry, phase, dose, self.walk)
                role = spec.role or ("advice" if entry.category == "education" and "advice"
                                     in self.spec.fill_order else self.spec.default_role)
                items.append(_Item(entry, rule, role, order * 100 + count, moved_by, notes, dose,
                                   dose_rules))
                count += 1
        items, kept = spare(items, self.disliked, phase)
        self.disliked_kept += kept
        return items

    def _spec_rank(self, spec: Prescribe) -> int:
        return int(self.cache.tables.get("rank", (spec.role, spec.exercises[0]), lambda: self._rank_of(spec)))

    def _rank_of(self, spec: Prescribe) -> int:
        role = spec.role or self.spec.default_role
        if self.pack.exercises[spec.exercises[0]].category == "aerobic":
            choice = self.spec.aerobic_choice
            return choice.index(role) if role in choice else len(choice)
        return self.spec.role_rank(role)

    def _linked(self, entry: CatalogEntry, taken: set[str]) -> bool:
        """True when the exercise is the easier or harder version of one already chosen: the
        regression and progression are not a second prescription."""
        return not self.cache.links[entry.id].isdisjoint(taken)

    def _rank(self, item: _Item) -> tuple[int, int]:
        return self.spec.role_rank(item.role), item.order

    def _aerobic_rank(self, item: _Item) -> tuple[int, int, int, int]:
        choice = self.spec.aerobic_choice
        rank = choice.index(item.role) if item.role in choice else len(choice)
        pref = self.preferred  # a population's preferred mode comes after the matched treatment
        first = self.preferred.index(item.entry.id) if item.entry.id in pref else len(pref)
        return min(rank, 1), first, rank, item.order

    def _wanted_days(self, item: Any) -> int:
        return max(item.dose.get("sessions_per_week") or 1, self.checks.floor(item.rule.id))

    def _fewest_days(self, item: Any, want: int) -> int:
        floor = 0 if self.checks.stated else self.checks.floor(item.rule.id)
        return min(want, max(floor, self.spec.fewest_days.get(item.entry.dose_kind, 1)))

    def _mark(self, items: list[_Item], phase: str) -> list[_Item]:
        """Flag the minimum program and the extra aerobic options; return the placing order."""
        spec = self.spec
        for item in items:
            item.essential = item.role in spec.essential_roles or item.entry.category == "education"
        aerobic = sorted((i for i in items if i.entry.category == "aerobic"), key=self._aerobic_rank)
        for item in aerobic[spec.aerobic_per_phase:]:
            item.extra = True
        for element in spec.elements:
            if phase not in element.keep_in:
                continue
            pool = [i for i in items if i.entry.category in element.categories and not i.extra]
            if pool and not any(i.essential for i in pool):
                first = min(pool, key=self._aerobic_rank if element.categories == ("aerobic",)
                            else self._rank)
                first.essential = True
        # The minimum program never holds more exercises than a session may: the first exercise of
        # each element keeps its place, and the lowest-ranked other essential work waits its turn.
        reps = {id(i) for i in items if i.essential and i.entry.category != "education"} - {
            id(i) for i in items if i.role in spec.essential_roles}
        essential = sorted((i for i in items if i.essential and i.entry.category != "education"
                            and id(i) not in reps), key=self._rank)
        room = max(0, spec.max_items_per_session - len(reps))
        for item in essential[room:]:
            item.essential = False
        ordered = sorted(items, key=self._rank)
        # Essential work first (timed work last among it, so it takes what is left), then the rest
        # in fill order, then any further aerobic option.
        return ([i for i in ordered if i.essential and not i.timed]
                + [i for i in ordered if i.essential and i.timed]
                + [i for i in ordered if not i.essential and not i.extra]
                + [i for i in ordered if i.extra and not i.essential])

    def plan_phase(self, phase: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The prescriptions of one phase and its week, fitted into the time given."""
        items = self.candidates(phase)
        ordered = self._mark(items, phase)
        week = Week(float(self.minutes), self.spec.max_items_per_session, session_days(self.sessions))
        full = {i.entry.id: i.dose.get("minutes", 0) for i in items}
        kept: list[_Item] = []
        reason = self.spec.left_out_for_time.format(minutes=self.minutes, sessions=self.sessions)
        for item in ordered:
            if self._place(item, week):
                kept.append(item)
            else:
                self._blocked(item.entry).add(phase, [reason], [], ["time"])
        self._grow(kept, week, full)
        self._check(phase, items, kept, week)
        kept.sort(key=lambda i: i.order)
        chosen = [self.prescription_data(i.entry, i.rule, phase, i.moved_by, i.notes, i.dose, i.dose_rules,
                                         i.minutes)
                  for i in kept]
        for data, item in zip(chosen, kept, strict=True):
            cut = full[item.entry.id]
            if item.timed and item.dose.get("minutes", 0) < cut:
                data["rationale"] += " " + self.spec.shortened_for_time.format(minutes=cut)
        days = []
        by_id = {i.entry.id: i for i in kept}
        for day in range(1, DAYS + 1):
            ids = [i.entry.id for i in kept if day in i.days]
            days.append({"day": day, "prescriptions": ids,
                         "minutes": round(sum(by_id[e].minutes for e in ids), 1)})
        return chosen, days

    def _check(self, phase: str, items: list[_Item], kept: list[_Item], week: Week) -> None:
        """Warn when even the minimum program overruns, or no aerobic option fits at all."""
        spec = self.spec
        self.checks.phase(phase, [(i.rule.id, i.entry, i.days) for i in kept], self.blocked_rules(phase))
        # With no budget stated, the aerobic dose the guidance asks for may run past the default.
        longest = max(week.used.values())
        timed = [i for i in kept if i.timed and i.entry.category == "aerobic"] if self.protect_timed else []
        over = max(used - sum(i.minutes for i in timed if d in i.days) if timed else used - 0.0
                   for d, used in week.used.items())
        if over > self.minutes * (1 + spec.margin) + 1e-6:
            day = max(week.used, key=lambda d: week.used[d])
            rules = [i.rule.id for i in kept if day in i.days]
            message = spec.over_budget.message.format(needed=math.ceil(longest), minutes=self.minutes,
                                                      sessions=self.sessions)
            self.warnings.extend((spec.over_budget.code, message, r) for r in dict.fromkeys(rules))
        needs_aerobic = any(phase in e.keep_in for e in spec.elements if "aerobic" in e.categories)
        if needs_aerobic and not any(i.entry.category == "aerobic" for i in kept):
            blockers = [r for eid, b in self.blocked.items() if self.pack.exercises[eid].category == "aerobic"
                        and phase in b.phases for r in b.rule_ids]
            self.warnings.extend((spec.no_aerobic.code, spec.no_aerobic.message, r)
                                 for r in dict.fromkeys(blockers or [""]))

    def blocked_rules(self, phase: str) -> list[str]:
        return [r for b in self.blocked.values() if phase in b.phases for r in b.rule_ids]

    def plan(self) -> dict[str, Any]:
        """The program as plain data (see `plan`)."""
        phases: list[dict[str, Any]] = []
        week_no = 1
        for phase_def in self.pack.phases:
            chosen, days = self.plan_phase(phase_def.id)
            weeks = self.decision.schedule.get(phase_def.id, (phase_def.weeks, None))[0]
            phases.append({
                "id": phase_def.id, "name": phase_def.name, "goal": phase_def.goal, "start_week": week_no,
                "end_week": week_no + weeks - 1, "progress_when": list(phase_def.progress_when),
                "prescriptions": chosen, "week": days, "min_days": phase_def.min_days,
                "minutes_per_session": max(d["minutes"] for d in days),
                "minutes_per_week": round(sum(d["minutes"] for d in days), 1),
            })
            week_no += weeks
        self.warnings.extend(self.checks.warnings())
        self.warnings.extend(kept_warnings(self.choosing, list(dict.fromkeys(self.disliked_kept))))
        # Exercises a rule names outright are reported even when no rule asked for them.
        for excl, rule in self.decision.excludes:
            for eid in excl.exercises:
                entry = self.pack.exercises[eid]
                scope = list(excl.phases) or [p.id for p in self.pack.phases]
                for phase in scope:
                    self.blocked.setdefault(eid, _Blocked(entry.name)).add(
                        phase, [self.decision.rationale_of(rule.id)], [rule.id], [excl.code])
        excluded = [
            {"exercise_id": eid, "exercise_name": b.name, "phases": b.phases, "reasons": b.reasons,
             "rule_ids": b.rule_ids, "codes": b.codes}
            for eid, b in sorted(self.blocked.items())
        ]
        return {"phases": phases, "excluded": excluded,
                "current_phase": phases[0]["id"] if phases else ""}

    # ---- keeping an aerobic option (for adjust)

    def aerobic_replacement(self, phase: str, present: Collection[Prescription],
                            avoid: Collection[str]) -> Prescription | None:
        """The best aerobic option the rules offer for ``phase`` that fits the person and is not
        in ``avoid`` (dropped) or of a family already ``present``; None when none fits."""
        families = {p.exercise.pattern for p in present}
        ids = {p.exercise.id for p in present}
        options = [i for i in self.candidates_all(phase) if i.entry.category == "aerobic"]
        for item in sorted(options, key=self._aerobic_rank):
            if item.entry.id in avoid or item.entry.id in ids or item.entry.pattern in families:
                continue
            return self.prescription(item.entry, item.rule, phase, item.moved_by, item.notes)
        return None

    def candidates_all(self, phase: str) -> list[_Item]:
        """Every candidate the rules offer for ``phase`` that fits the person (families repeat)."""
        items: list[_Item] = []
        seen: set[str] = set()
        for spec, rule in self.decision.prescribes:
            if spec.phase != phase:
                continue
            for candidate in spec.exercises:
                entry, moved_by, notes = self.fit(candidate, phase)
                if entry is None or entry.id in seen:
                    continue
                seen.add(entry.id)
                dose, dose_rules = self.dose_values(entry, phase)
                items.append(_Item(entry, rule, spec.role or self.spec.default_role, len(items), moved_by,
                                   notes, dose, dose_rules))
        return items


def aerobic_replacement(pack: Pack, profile: Profile, decision: Decision, phase: str,
                        present: Collection[Prescription], avoid: Collection[str]) -> Prescription | None:
    """The next best aerobic option for ``phase`` when the one there was dropped (for adjust).

    Walks the aerobic candidates the rules prescribe for the phase, in the pack's aerobic choice
    order, and returns the first that fits the person, is not in ``avoid`` and is of a movement
    family not already ``present``; None when none fits (say so: planner.yaml ``no_aerobic``).
    """
    return Planner(pack, profile, decision).aerobic_replacement(phase, present, avoid)


def no_aerobic_notice(pack: Pack) -> tuple[str, str]:
    """The code and message that say plainly that no aerobic option fits."""
    assert pack.planner is not None
    return pack.planner.no_aerobic.code, pack.planner.no_aerobic.message


def keep_aerobic(pack: Pack, profile: Profile, decision: Decision, phase: str,
                 prescriptions: list[Prescription], had_aerobic: bool, avoid: Collection[str],
                 stopped: Collection[str]) -> tuple[Prescription | None, str | None]:
    """For adjust: when a phase that held an aerobic option has none left, the next best one.

    Returns (the replacement or None, the reason to show it with); (None, None) when nothing is
    missing. A replacement never moves in a ``stopped`` direction or is in ``avoid`` (dropped).
    When the phase needs one and none fits, returns (None, "") and the caller warns
    (`no_aerobic_notice`).
    """
    assert pack.planner is not None
    if not had_aerobic or any(p.exercise.category == "aerobic" for p in prescriptions):
        return None, None
    barred = set(avoid) | {eid for eid, e in pack.exercises.items() if e.direction in stopped}
    new = aerobic_replacement(pack, profile, decision, phase, prescriptions, barred)
    if new is None:
        return None, ""
    return new, pack.planner.aerobic_replaced


def plan_with_warnings(pack: Pack, profile: Profile,
                       decision: Decision) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The staged program as plain data, and the planner's warnings (code, message, rule id)."""
    planner = Planner(pack, profile, decision)
    return planner.plan(), planner.warnings


def planned(pack: Pack, profile: Profile, decision: Decision) -> Planned:
    """The staged program as a validated model, the planner's warnings and the sources its
    prescriptions cite; planned once per distinct input and then taken from the pack's cache
    (`backrx.run.plancache`), so equal inputs give the very same immutable program."""
    planner = Planner(pack, profile, decision)
    key, pins = plan_key(decision, (frozenset(planner.settings), frozenset(planner.equipment),
                                    planner.minutes, planner.sessions, planner.protect_timed,
                                    planner.walk, planner.preferred,
                                    tuple(sorted(planner.disliked.items()))))
    found = planner.cache.plan(key)
    if found is not None:
        return found
    data = planner.plan()
    for phase in data["phases"]:
        phase["prescriptions"] = [planner.cache.prescription(p) for p in phase["prescriptions"]]
    data["excluded"] = [planner.cache.exclusion(e) for e in data["excluded"]]
    program = Program.model_validate(data)
    cited = dict.fromkeys(s for phase in program.phases for p in phase.prescriptions for s in p.sources)
    result: Planned = (program, tuple(planner.warnings), tuple(cited))
    planner.cache.keep(key, pins, result)
    return result


def plan_data(pack: Pack, profile: Profile, decision: Decision) -> dict[str, Any]:
    """The staged program, as plain data validated later in one pass with the Recommendation."""
    return Planner(pack, profile, decision).plan()


def plan(pack: Pack, profile: Profile, decision: Decision) -> Program:
    """The staged program for a profile the rules did not refer."""
    return Program.model_validate(plan_data(pack, profile, decision))
