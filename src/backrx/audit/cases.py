"""Golden cases: a pack's own examples, with the outcome each must get (``backrx test``).

A pack keeps its cases under ``cases/`` (``*.yaml``, any depth). A file holds ``cases:``, a list
of named cases; an adjustment file may also hold ``profiles:``, named profiles its cases refer to.

* A **recommend case** has ``name``, ``profile`` and ``expect``.
* An **episode case** (a golden timeline) has ``events`` instead: the events of a
  `backrx.followup.episode.Episode` after its intake (the case's ``profile``, on ``start``,
  by default `FIRST_DAY`); its ``expect`` describes the plan on ``at`` (by default the last
  event's date). ``refused`` expects the last event to be refused with that error code.
* An **adjust case** also has ``rounds``: feedback given in turn to `backrx.adjust`;
  its ``expect`` describes the result of the last round. A round without a ``date`` is dated the
  day after the previous one (the first on `FIRST_DAY`); ``repeat: N`` gives the same round
  on N days in a row (see `dated_rounds`).

The ``expect`` vocabulary is the table `EXPECTATIONS`: one entry per key, with the kind of
case it applies to, what it checks, and the check itself. A case with no expectation fails (it
could never catch anything), as does a pack with no cases at all.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from backrx.errors import EngineError, FeedbackError
from backrx.model.recommendation import Recommendation
from backrx.readers.safe_yaml import LDict, LList, YamlError, load, plain
from backrx.ruleset import RuleSet

Kind = Literal["recommend", "adjust", "episode"]
Status = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class Case:
    """One golden case, read from a pack's ``cases/`` folder."""

    file: str
    line: int
    name: str
    kind: Kind
    profile: Any
    rounds: tuple[Any, ...]
    expect: Mapping[str, Any]
    expect_lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseResult:
    """What running one case gave: ``pass``, ``fail`` (an expectation not met) or ``error``."""

    case: Case
    status: Status
    messages: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``file:line`` of the case."""
        return f"{self.case.file}:{self.case.line}"


@dataclass(frozen=True)
class CaseReport:
    """Every case's result, and problems with the cases folder itself."""

    results: tuple[CaseResult, ...]
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when at least one case ran, every case passed and the folder had no problem."""
        return bool(self.results) and not self.problems and all(r.status == "pass" for r in self.results)

    def count(self, status: Status) -> int:
        """How many cases ended with ``status`` (for ``error``, problems of the cases folder too:
        each is a case, or a file of cases, that could not run)."""
        extra = len(self.problems) if status == "error" else 0
        return sum(r.status == status for r in self.results) + extra

    @property
    def summary(self) -> str:
        """``N passed, N failed, N errors``."""
        return f"{self.count('pass')} passed, {self.count('fail')} failed, {self.count('error')} errors"

    def to_text(self, every: bool = False) -> str:
        """One line per case, ``file:line  name  PASS|FAIL|ERROR`` (with ``every``; else only the
        cases that did not pass), what went wrong under each, then the summary line."""
        lines = [f"{problem}  ERROR" for problem in self.problems]
        for r in self.results:
            if every or r.status != "pass":
                lines.append(f"{r.where}  {r.case.name}  {r.status.upper()}")
                lines.extend(f"    {m}" for m in r.messages)
        if not self.results and not self.problems:
            lines.append("no golden cases found: a pack must ship cases/ with at least one case")
        lines.append(self.summary)
        return "\n".join(lines)

    def to_json(self) -> str:
        """The report as JSON: ``ok``, the counts, each case with its ``status``, and the problems."""
        return json.dumps({
            "ok": self.ok,
            "passed": self.count("pass"), "failed": self.count("fail"), "errors": self.count("error"),
            "problems": list(self.problems),
            "results": [{"file": r.case.file, "line": r.case.line, "name": r.case.name,
                         "kind": r.case.kind, "status": r.status, "messages": list(r.messages)}
                        for r in self.results],
        }, indent=2)


# --------------------------------------------------------------------------- the vocabulary

Check = Callable[[Recommendation, Any], list[str]]


def _program_ids(rec: Recommendation, phase: str | None = None) -> set[str]:
    if rec.program is None:
        return set()
    return {p.exercise.id for ph in rec.program.phases if phase in (None, ph.id)
            for p in ph.prescriptions}


def _now_ids(rec: Recommendation) -> set[str]:
    return set() if rec.program is None else {p.exercise.id for p in rec.program.phase_now.prescriptions}


def _fired(rec: Recommendation) -> set[str]:
    if rec.adjustments:
        last = rec.adjustments[-1]
        return {f.rule_id for f in last.trace} | {
            f"adjust.criterion.{last.phase_before}.{c}" for c in last.criteria_met}
    return {f.rule_id for f in rec.trace}


def _subset(label: str, want: Any, got: set[str]) -> list[str]:
    missing = sorted(set(want) - got)
    if not missing:
        return []
    return [f"{label}: missing {', '.join(missing)} (got {', '.join(sorted(got)) or 'none'})"]


def _disjoint(label: str, unwanted: Any, got: set[str]) -> list[str]:
    present = sorted(set(unwanted) & got)
    return [f"{label}: {', '.join(present)} should not be there"] if present else []


def _equal(label: str, want: Any, got: Any) -> list[str]:
    return [] if want == got else [f"{label}: expected {want!r}, got {got!r}"]


def _urgency(rec: Recommendation) -> str | None:
    return rec.referral.urgency if rec.referral else None


def _max_load_in(rec: Recommendation, caps: Any) -> list[str]:
    out = []
    for phase, cap in dict(caps).items():
        loads = [p.exercise.load for ph in (rec.program.phases if rec.program else [])
                 if ph.id == phase for p in ph.prescriptions]
        if not loads or max(loads) > cap:
            out.append(f"max_load_in: phase {phase} has loads {loads}, cap {cap}")
    return out


def _minutes(rec: Recommendation, want: Any) -> list[str]:
    out = []
    for exercise, by_phase in dict(want).items():
        got = {ph.id: p.dose.minutes for ph in (rec.program.phases if rec.program else [])
               for p in ph.prescriptions if p.exercise.id == exercise}
        out += _equal(f"minutes of {exercise}", dict(by_phase), got)
    return out


def _not_prescribed_in(rec: Recommendation, want: Any) -> list[str]:
    return [m for phase, ids in dict(want).items()
            for m in _disjoint(f"not_prescribed_in {phase}", ids, _program_ids(rec, phase))]


def _prescribed_in(rec: Recommendation, want: Any) -> list[str]:
    return [m for phase, ids in dict(want).items()
            for m in _subset(f"prescribed_in {phase}", ids, _program_ids(rec, phase))]


def _excluded(rec: Recommendation) -> set[str]:
    return {e.exercise_id for e in rec.program.excluded} if rec.program else set()


def _max_day_minutes(rec: Recommendation, want: Any) -> list[str]:
    days = [(ph.id, d.day, d.minutes) for ph in (rec.program.phases if rec.program else []) for d in ph.week]
    return [f"max_day_minutes: {phase} day {day} takes {minutes} minutes, more than {want}"
            for phase, day, minutes in days if minutes > want]


def _aerobic_in_every_phase(rec: Recommendation, want: Any) -> list[str]:
    if not want:
        return []
    return [f"aerobic_in_every_phase: phase {ph.id} holds no aerobic exercise"
            for ph in (rec.program.phases if rec.program else [])
            if not any(p.exercise.category == "aerobic" for p in ph.prescriptions)]


def _excluded_for_time(rec: Recommendation) -> set[str]:
    return {e.exercise_id for e in rec.program.excluded if "time" in e.codes} if rec.program else set()


def _actions(rec: Recommendation, want: Any) -> list[str]:
    done: dict[str | None, set[str]] = {}
    for change in rec.adjustments[-1].changes if rec.adjustments else []:
        ids: list[str | None] = [*change.exercise_ids] or [None]
        for exercise_id in ids:
            done.setdefault(exercise_id, set()).add(change.action)
    return [f"actions: {ex} was not {action} (got {sorted(done.get(ex, set()))})"
            for ex, action in dict(want).items() if action not in done.get(ex, set())]


def _dose(rec: Recommendation, want: Any) -> list[str]:
    out = []
    now = {p.exercise.id: p for p in rec.program.phase_now.prescriptions} if rec.program else {}
    for exercise, dose in dict(want).items():
        if exercise not in now:
            out.append(f"dose: {exercise} is not in the current phase")
            continue
        got = now[exercise].dose.model_dump(exclude_none=True, exclude={"sessions_per_week"})
        out += _equal(f"dose of {exercise}", dict(dose), got)
    return out


def _elimination(rec: Recommendation, want: Any) -> list[str]:
    elim = rec.program.elimination if rec.program else None
    return _equal("elimination_testing", want, elim.testing if elim else None)


def _safety_net_contains(rec: Recommendation, want: Any) -> list[str]:
    return [] if any(str(want) in s for s in rec.safety_net) else [
        f"safety_net_contains: no safety-net text contains {want!r}"]


def _criteria(rec: Recommendation) -> set[str]:
    return set(rec.adjustments[-1].criteria_met) if rec.adjustments else set()


def _days_left(rec: Recommendation) -> int | None:
    phase = rec.progress.phase if rec.progress is not None else None
    return phase.days_left if phase is not None else None


def _measures(rec: Recommendation, want: Any) -> list[str]:
    out: list[str] = []
    found = {m.measure: m for m in rec.progress.measures} if rec.progress is not None else {}
    for measure, fields in dict(want).items():
        if measure not in found:
            out.append(f"measures: {measure} is not in the progress summary")
            continue
        for key, value in dict(fields).items():
            out += _equal(f"measures {measure}.{key}", value, getattr(found[measure], key, None))
    return out


@dataclass(frozen=True)
class Expectation:
    """One key of the ``expect`` vocabulary."""

    kinds: tuple[Kind, ...]
    meaning: str
    check: Check


_BOTH: tuple[Kind, ...] = ("recommend", "adjust", "episode")
_REC: tuple[Kind, ...] = ("recommend",)
_ADJ: tuple[Kind, ...] = ("adjust", "episode")
_EPI: tuple[Kind, ...] = ("episode",)

#: The ``expect`` vocabulary. Adding a key is one entry here and a line in docs/rule-pack.md.
EXPECTATIONS: dict[str, Expectation] = {
    "outcome": Expectation(_BOTH, "program or refer",
                           lambda r, v: _equal("outcome", v, r.outcome)),
    "urgency": Expectation(_BOTH, "the referral tier, or null for none",
                           lambda r, v: _equal("urgency", v, _urgency(r))),
    "stage": Expectation(_REC, "acute, subacute or chronic",
                         lambda r, v: _equal("stage", v, r.classification.stage)),
    "risk": Expectation(_REC, "the STarT Back risk group (null: none)",
                        lambda r, v: _equal("risk", v, r.classification.startback_risk)),
    "pathways": Expectation(_REC, "pathways that must be among those concluded",
                            lambda r, v: _subset("pathways", v, set(r.classification.pathways))),
    "not_pathways": Expectation(_REC, "pathways that must not be concluded",
                                lambda r, v: _disjoint("not_pathways", v, set(r.classification.pathways))),
    "fired": Expectation(_BOTH, "rule ids that must fire (adjust: in the last round)",
                         lambda r, v: _subset("fired", v, _fired(r))),
    "not_fired": Expectation(_BOTH, "rule ids that must not fire (adjust: in the last round)",
                             lambda r, v: _disjoint("not_fired", v, _fired(r))),
    "warnings": Expectation(_BOTH, "warning codes that must be raised",
                            lambda r, v: _subset("warnings", v, {n.code for n in r.warnings})),
    "not_warnings": Expectation(_BOTH, "warning codes that must not be raised",
                                lambda r, v: _disjoint("not_warnings", v, {n.code for n in r.warnings})),
    "prescribed": Expectation(_REC, "exercise ids prescribed in some phase",
                              lambda r, v: _subset("prescribed", v, _program_ids(r))),
    "not_prescribed": Expectation(_REC, "exercise ids prescribed in no phase",
                                  lambda r, v: _disjoint("not_prescribed", v, _program_ids(r))),
    "not_prescribed_in": Expectation(_REC, "phase -> exercise ids not prescribed in that phase",
                                     _not_prescribed_in),
    "prescribed_in": Expectation(_REC, "phase -> exercise ids prescribed in that phase", _prescribed_in),
    "excluded": Expectation(_REC, "exercise ids listed as excluded",
                            lambda r, v: _subset("excluded", v, _excluded(r))),
    "max_load_in": Expectation(_REC, "phase -> the highest load allowed in it", _max_load_in),
    "minutes": Expectation(_REC, "exercise id -> {phase: dose minutes}", _minutes),
    "max_day_minutes": Expectation(_REC, "no day of any phase's week takes more minutes than this",
                                   _max_day_minutes),
    "aerobic_in_every_phase": Expectation(_REC, "true: every phase holds an aerobic exercise",
                                          _aerobic_in_every_phase),
    "excluded_for_time": Expectation(_REC, "exercise ids left out for time (exclusion code time)",
                                     lambda r, v: _subset("excluded_for_time", v, _excluded_for_time(r))),
    "phase": Expectation(_ADJ, "the current phase after the last round",
                         lambda r, v: _equal("phase", v, r.program.current_phase if r.program else None)),
    "actions": Expectation(_ADJ, "exercise id -> a change action of the last round", _actions),
    "present": Expectation(_ADJ, "exercise ids in the current phase",
                           lambda r, v: _subset("present", v, _now_ids(r))),
    "absent": Expectation(_ADJ, "exercise ids not in the current phase",
                          lambda r, v: _disjoint("absent", v, _now_ids(r))),
    "dropped": Expectation(_ADJ, "exercise ids dropped for making things worse",
                           lambda r, v: _subset("dropped", v,
                                                set(r.program.dropped) if r.program else set())),
    "elimination_testing": Expectation(_ADJ, "the exercise elimination brings back now",
                                       _elimination),
    "safety_net_contains": Expectation(_ADJ, "a text some safety-net line contains",
                                       _safety_net_contains),
    "dose": Expectation(_ADJ, "exercise id -> its dose now (without sessions_per_week)", _dose),
    "absent_everywhere": Expectation(_ADJ, "exercise ids in no phase of the program",
                                     lambda r, v: _disjoint("absent_everywhere", v, _program_ids(r))),
    "stopped": Expectation(_ADJ, "the directions stopped, exactly",
                           lambda r, v: _equal("stopped", list(v),
                                               r.program.stopped_directions if r.program else [])),
    "tolerated": Expectation(_ADJ, "exercise ids kept in a stopped direction (reported fine)",
                             lambda r, v: _subset("tolerated", v,
                                                  set(r.program.tolerated) if r.program else set())),
    "holding": Expectation(_ADJ, "true when the plan holds for reassessment",
                           lambda r, v: _equal("holding", v,
                                               r.program is not None and r.program.hold is not None)),
    "criteria_met": Expectation(_ADJ, "criterion ids of the phase met in the last round",
                                lambda r, v: _subset("criteria_met", v, _criteria(r))),
    "criteria_not_met": Expectation(_ADJ, "criterion ids of the phase not met in the last round",
                                    lambda r, v: _disjoint("criteria_not_met", v, _criteria(r))),
    "days_left": Expectation(_ADJ, "days still needed in the current phase (its min_days)",
                             lambda r, v: _equal("days_left", v, _days_left(r))),
    "measures": Expectation(_ADJ, "measure -> {field: value} of the progress summary", _measures),
    "no_referral": Expectation(_ADJ, "true: no referral at all",
                               lambda r, v: _equal("no_referral", v, r.referral is None)),
    "refused": Expectation(_EPI, "the error code the last event is refused with (checked on adding it)",
                           lambda r, v: []),
    "pregnancy_weeks": Expectation(_EPI, "the weeks of pregnancy on the plan's date (to 0.1)",
                                   lambda r, v: _equal("pregnancy_weeks", round(float(v), 1), _weeks(r))),
    "last_changes": Expectation(_EPI, "the change actions of the last round, exactly (a set)",
                                lambda r, v: _equal("last_changes", sorted(set(v)), _last_actions(r))),
}


def _weeks(rec: Recommendation) -> float | None:
    history = rec.profile.history if rec.profile is not None else None
    weeks = history.pregnancy_weeks if history is not None else None
    return round(weeks, 1) if weeks is not None else None


def _last_actions(rec: Recommendation) -> list[str]:
    return sorted({c.action for c in rec.adjustments[-1].changes}) if rec.adjustments else []

#: The date of a case's first round when it gives none.
FIRST_DAY = datetime.date(2026, 1, 5)


def dated_rounds(rounds: Iterable[Any]) -> list[dict[str, Any]]:
    """A case's rounds as feedback: ``repeat`` expanded, every round dated.

    A round without a ``date`` comes the day after the previous one (the first on
    `FIRST_DAY`); ``repeat: N`` sends the same round on N days in a row, starting on its
    ``date`` when it has one.
    """
    out: list[dict[str, Any]] = []
    day = FIRST_DAY - datetime.timedelta(days=1)
    for spec in rounds:
        spec = dict(spec)
        times = spec.pop("repeat", 1)
        given = spec.pop("date", None)
        for n in range(times if isinstance(times, int) and times > 0 else 1):
            if isinstance(given, str) and n == 0:
                day = datetime.date.fromisoformat(given)
            else:
                day = day + datetime.timedelta(days=1)
            out.append({**spec, "date": day.isoformat()})
    return out


# --------------------------------------------------------------------------- reading


def _line(node: Any, key: str | None = None) -> int:
    if key is not None and isinstance(node, LDict):
        return node.key_lines.get(key, getattr(node, "line", 0))
    return int(getattr(node, "line", 0))


def _files(root: Path) -> Iterator[Path]:
    folder = root / "cases"
    if folder.is_dir() and not folder.is_symlink():
        yield from sorted(p for p in folder.rglob("*.yaml") if p.is_file() and not p.is_symlink())


def read_cases(pack_dir: str | Path) -> tuple[list[Case], list[str]]:
    """The golden cases of the pack at ``pack_dir``, and the problems found reading them."""
    root = Path(pack_dir)
    cases: list[Case] = []
    problems: list[str] = []
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        try:
            doc = load(path.read_text(encoding="utf-8"), rel)
        except (YamlError, OSError, UnicodeDecodeError) as exc:
            problems.append(f"{rel}  {exc}")
            continue
        if not isinstance(doc, LDict) or not isinstance(doc.get("cases"), LList):
            problems.append(f"{rel}:{_line(doc)}  a cases file holds `cases:`, a list of cases")
            continue
        profiles = doc.get("profiles") or {}
        for index, item in enumerate(doc["cases"]):
            line = doc["cases"].item_lines[index]
            where = f"{rel}:{line}"
            if not isinstance(item, LDict) or not isinstance(item.get("name"), str):
                problems.append(f"{where}  a case is a mapping with a `name`")
                continue
            unknown = sorted(set(item) - {"name", "profile", "rounds", "events", "start", "at", "expect",
                                          "note"})
            if unknown:
                problems.append(f"{rel}:{_line(item, unknown[0])}  case {item['name']}: unknown key "
                                f"{unknown[0]!r} (a case has name, profile, rounds, expect, note)")
                continue
            profile = item.get("profile")
            if isinstance(profile, str):
                if profile not in profiles:
                    problems.append(f"{rel}:{_line(item, 'profile')}  case {item['name']}: no profile "
                                    f"named {profile!r} under `profiles:`")
                    continue
                profile = profiles[profile]
            expect = item.get("expect") or {}
            rounds = item.get("rounds")
            events = item.get("events")
            kind: Kind = "episode" if events is not None else "adjust" if rounds is not None else "recommend"
            if events is not None:  # an episode's intake, then its events; the dates in ``rounds``
                rounds = [{"kind": "intake", "date": str(item.get("start") or FIRST_DAY.isoformat()),
                           "profile": profile}, *events, {"at": item.get("at")}]
            cases.append(Case(
                file=rel, line=line, name=item["name"], kind=kind,
                profile=profile, rounds=tuple(rounds or ()), expect=dict(expect),
                expect_lines=dict(expect.key_lines) if isinstance(expect, LDict) else {},
            ))
    return cases, problems


# --------------------------------------------------------------------------- running


def _reason(exc: Exception) -> str:
    """Why a case could not run, on one line: a pydantic error becomes ``loc: msg`` per problem."""
    if isinstance(exc, ValidationError):
        found = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
                          for e in exc.errors(include_url=False, include_input=False))
        return f"invalid {exc.title}: {found}"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def run_case(rules: RuleSet, case: Case) -> CaseResult:
    """Run one case against ``rules`` and check every expectation it states; each failure starts
    with the ``file:line`` of the expectation that failed.

    ``pass``: every expectation held; ``fail``: the case ran and an expectation did not hold (or it
    states none); ``error``: the case could not run (an unknown expectation, an invalid profile or
    feedback, or a crash), so it says nothing either way.
    """
    try:
        return _run_case(rules, case)
    except Exception as exc:  # a crash in one case is that case's ERROR; the others still run
        return CaseResult(case, "error", (f"{case.file}:{case.line}  could not run: {_reason(exc)}",))


def _run_case(rules: RuleSet, case: Case) -> CaseResult:
    if not case.expect:
        return CaseResult(case, "fail", ("the case states no expectation, so it could never fail",))
    bad = []
    for key in case.expect:
        entry = EXPECTATIONS.get(key)
        if entry is None or case.kind not in entry.kinds:
            line = case.expect_lines.get(key, case.line)
            known = sorted(k for k, e in EXPECTATIONS.items() if case.kind in e.kinds)
            bad.append(f"{case.file}:{line}  unknown expectation {key!r} for a {case.kind} case "
                       f"(known: {', '.join(known)})")
    if bad:
        return CaseResult(case, "error", tuple(bad))
    from backrx.followup.apply import adjust

    if case.kind == "episode":
        return _run_episode(rules, case)
    try:
        rec = rules.recommend(plain(case.profile))
        for feedback in dated_rounds(plain(list(case.rounds))):
            rec = adjust(rec, feedback, rules=rules)
    except (ValidationError, FeedbackError, EngineError, ValueError) as exc:
        return CaseResult(case, "error", (f"{case.file}:{case.line}  could not run: {_reason(exc)}",))
    failures = [f"{case.file}:{case.expect_lines.get(key, case.line)}  {m}"
                for key, value in case.expect.items() for m in EXPECTATIONS[key].check(rec, plain(value))]
    return CaseResult(case, "fail" if failures else "pass", tuple(failures))


def _run_episode(rules: RuleSet, case: Case) -> CaseResult:
    """A golden timeline: its events added in turn, then the plan on its date checked."""
    from backrx.followup.episode import Episode

    *events, last = plain(list(case.rounds))
    wanted = case.expect.get("refused")
    try:
        episode = Episode()
        for index, event in enumerate(events):
            try:
                episode = episode.add(event, rules=rules)
            except FeedbackError as exc:
                if wanted is not None and index == len(events) - 1:
                    code = exc.code
                    break
                raise
        else:
            code = None
        rec = episode.plan(at=last.get("at"), rules=rules)
    except (ValidationError, FeedbackError, EngineError, ValueError) as exc:
        return CaseResult(case, "error", (f"{case.file}:{case.line}  could not run: {_reason(exc)}",))
    failures = [f"{case.file}:{case.expect_lines.get(key, case.line)}  {m}"
                for key, value in case.expect.items() for m in EXPECTATIONS[key].check(rec, plain(value))]
    if wanted is not None and code != wanted:
        failures.append(f"{case.file}:{case.expect_lines.get('refused', case.line)}  refused: expected "
                        f"{wanted}, got {code or 'no refusal'}")
    return CaseResult(case, "fail" if failures else "pass", tuple(failures))


def run_cases(rules: RuleSet, pack_dir: str | Path | None = None) -> CaseReport:
    """Run every golden case of the pack (by default the pack ``rules`` was loaded from)."""
    cases, problems = read_cases(pack_dir if pack_dir is not None else rules.path)
    return CaseReport(tuple(run_case(rules, c) for c in cases), tuple(problems))
