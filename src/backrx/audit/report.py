"""The result of an audit: invariant results with shrunk counterexamples, coverage, conflicts.

`AuditReport` renders as text for people (`AuditReport.format_text`) and as JSON
(`AuditReport.to_json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from backrx.audit.invariant import Status

if TYPE_CHECKING:
    from backrx.audit.fields import FieldAudit


def _words(values: Iterable[str]) -> str:
    return ", ".join(values)


@dataclass(frozen=True)
class Counterexample:
    """A profile that violates an invariant: shrunk by Hypothesis to a minimal one."""

    profile: dict[str, Any]
    reason: str
    explanation: str  # rec.explain(), or the exception when recommend() failed
    shrunk: bool  # False when shrinking could not reproduce it: the first failing profile found

    @property
    def yaml(self) -> str:
        """The profile as YAML (``yaml.safe_dump``)."""
        return yaml.safe_dump(self.profile, sort_keys=False, default_flow_style=False, allow_unicode=True)

    def as_case(self, name: str) -> str:
        """A golden case to paste under ``cases:`` in ``<pack>/cases/*.yaml``; fill in ``expect``."""
        body = yaml.safe_dump({"profile": self.profile}, sort_keys=False, default_flow_style=False,
                              allow_unicode=True)
        lines = [f"- name: {name}"] + [f"  {line}" for line in body.splitlines()]
        lines.append("  expect: {}  # state the outcome this profile must get")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """The counterexample as plain data."""
        return {"profile": self.profile, "yaml": self.yaml, "reason": self.reason,
                "explanation": self.explanation, "shrunk": self.shrunk}


@dataclass(frozen=True)
class InvariantResult:
    """How one invariant fared: holds, violated (with a counterexample) or skipped."""

    id: str
    statement: str
    status: Status
    violations: int = 0  # generated profiles that violated it
    counterexample: Counterexample | None = None
    skip_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as plain data."""
        return {"id": self.id, "statement": self.statement, "status": self.status,
                "violations": self.violations, "skip_reason": self.skip_reason,
                "counterexample": self.counterexample.as_dict() if self.counterexample else None}


@dataclass(frozen=True)
class Conflict:
    """Two rules whose conclusions contradict each other for some profile.

    ``kind`` is ``prescribe-vs-exclude`` (the first rule names an exercise for a phase, the
    second rule's exclusion rules it out there, and planning again without that exclusion
    gives the first rule other exercises), ``risk`` (two STarT Back risk groups), ``set`` (one
    derived name set to two values) or ``pathway`` (opposite directional pathways).
    ``dropped`` (prescribe-vs-exclude only): for some profile the exclusion cost the prescribing
    rule exercises outright; otherwise the planner only substituted others.
    """

    kind: str
    rule_ids: tuple[str, str]
    phases: tuple[str, ...]
    exercises: tuple[str, ...]
    profiles: int
    dropped: bool
    detail: str
    profile: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The conflict as plain data."""
        return {"kind": self.kind, "rule_ids": list(self.rule_ids), "phases": list(self.phases),
                "exercises": list(self.exercises), "profiles": self.profiles, "dropped": self.dropped,
                "detail": self.detail, "profile": self.profile}


@dataclass(frozen=True)
class AuditReport:
    """The result of `audit`: invariants, rule coverage, golden cases and conflicts."""

    pack_name: str
    pack_version: str
    pack_digest: str
    pack_path: str
    engine: str
    seed: int
    max_examples: int
    examples: int  # profiles checked: the corner cases and the generated ones
    corner_cases: int  # of which corner cases (backrx.testing.corners())
    results: tuple[InvariantResult, ...]
    coverage: dict[str, int]  # rule id -> generated profiles it fired for (rules recommend runs)
    golden_cases: dict[str, list[str]]  # rule id -> golden cases whose profile fires it
    case_problems: tuple[str, ...]  # golden cases that could not be run
    conflicts: tuple[Conflict, ...]
    vocabulary: dict[str, int]  # vocabulary corner -> generated profiles that reached it
    seconds: float = 0.0
    fields: FieldAudit | None = None  # the profile-field audit (None: not run)

    @property
    def ok(self) -> bool:
        """True when no invariant was violated."""
        return not self.violations

    @property
    def violations(self) -> list[InvariantResult]:
        """The violated invariants."""
        return [r for r in self.results if r.status == "violated"]

    @property
    def never_fired(self) -> list[str]:
        """Rules that fired for none of the generated profiles."""
        return [rule_id for rule_id, count in self.coverage.items() if count == 0]

    @property
    def rules_without_case(self) -> list[str]:
        """Rules that no golden case fires."""
        return [rule_id for rule_id, cases in self.golden_cases.items() if not cases]

    @property
    def missing_vocabulary(self) -> list[str]:
        """Corners of the vocabulary (``backrx.testing.VOCABULARY_TARGETS``) no profile reached."""
        return [label for label, count in self.vocabulary.items() if count == 0]

    def result(self, invariant_id: str) -> InvariantResult:
        """The result of one invariant (``KeyError`` if it was not checked)."""
        for r in self.results:
            if r.id == invariant_id:
                return r
        raise KeyError(invariant_id)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain, JSON-ready data."""
        return {
            "ok": self.ok,
            "pack": {"name": self.pack_name, "version": self.pack_version, "digest": self.pack_digest,
                     "path": self.pack_path},
            "engine": self.engine,
            "seed": self.seed,
            "max_examples": self.max_examples,
            "examples": self.examples,
            "corner_cases": self.corner_cases,
            "seconds": round(self.seconds, 3),
            "invariants": [r.as_dict() for r in self.results],
            "coverage": {"fired": dict(self.coverage), "never_fired": self.never_fired,
                         "golden_cases": {k: list(v) for k, v in self.golden_cases.items()},
                         "rules_without_case": self.rules_without_case,
                         "case_problems": list(self.case_problems)},
            "conflicts": [c.as_dict() for c in self.conflicts],
            "vocabulary": {"reached": dict(self.vocabulary), "missing": self.missing_vocabulary},
            "fields": self.fields.as_dict() if self.fields is not None else None,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON."""
        return json.dumps(self.as_dict(), indent=indent, ensure_ascii=False)

    def format_text(self) -> str:
        """The report for people: verdict, violations with counterexamples, coverage, conflicts."""
        out: list[str] = []
        count = len(self.violations)
        verdict = ("PASS: every invariant holds" if self.ok else
                   f"FAIL: {count} invariant{'s' if count != 1 else ''} violated")
        out.append(f"backrx audit of {self.pack_name} {self.pack_version} ({self.pack_digest[:19]}) "
                   f"on the {self.engine} engine")
        out.append(f"{self.examples} profiles ({self.corner_cases} corner cases, "
                   f"{self.examples - self.corner_cases} generated with seed {self.seed}), "
                   f"{self.seconds:.1f} s: {verdict}")
        out.append("")
        out.append("Invariants")
        width = max((len(r.id) for r in self.results), default=0)
        for r in self.results:
            mark = {"holds": "ok", "violated": "VIOLATED", "skipped": "skipped"}[r.status]
            extra = f" ({r.skip_reason})" if r.skip_reason else ""
            if r.status == "violated":
                extra = f" ({r.violations} of {self.examples} profiles)"
            out.append(f"  {mark:<8} {r.id:<{width}}  {r.statement}{extra}")
        for r in self.violations:
            ce = r.counterexample
            out.append("")
            out.append(f"Violated: {r.id}: {r.statement}")
            if ce is None:  # pragma: no cover - a violation always keeps a profile
                continue
            out.append(f"  reason: {ce.reason}")
            how = "shrunk by Hypothesis to" if ce.shrunk else "could not be shrunk; the first one found is"
            out.append(f"  counterexample ({how} a minimal profile), as a golden case for cases/*.yaml:")
            out.extend(f"    {line}" for line in ce.as_case(f"audit-{r.id.replace('.', '-')}").splitlines())
            out.append("  explain():")
            out.extend(f"    {line}" if line else "" for line in ce.explanation.splitlines())
        out.append("")
        fired = sum(1 for count in self.coverage.values() if count)
        out.append(f"Rule coverage: {fired} of {len(self.coverage)} rules fired for some audited profile")
        if self.never_fired:
            out.append("  never fired (unreachable, or a pattern the generator cannot build):")
            out.extend(f"    - {rule_id}" for rule_id in self.never_fired)
        width = max((len(k) for k in self.coverage), default=0)
        out.append(f"  {'rule':<{width}}  profiles  golden cases")
        for rule_id, count in self.coverage.items():
            cases = self.golden_cases.get(rule_id, [])
            shown = _words(cases[:2]) + (f" (+{len(cases) - 2})" if len(cases) > 2 else "")
            out.append(f"  {rule_id:<{width}}  {count:>8}  {shown or '-'}")
        if self.rules_without_case:
            out.append(f"  {len(self.rules_without_case)} rule(s) fire in no golden case: "
                       f"{_words(self.rules_without_case)}")
        for problem in self.case_problems:
            out.append(f"  golden case problem: {problem}")
        out.append("")
        out.append(f"Conflicts: {len(self.conflicts)}")
        for c in self.conflicts:
            tag = ("DROPPED" if c.dropped else
                   "substituted" if c.kind == "prescribe-vs-exclude" else "contradicts")
            out.append(f"  {tag:<11} {c.rule_ids[0]} vs {c.rule_ids[1]} ({c.kind}, {c.profiles} profiles): "
                       f"{c.detail}")
            out.append(f"              e.g. {json.dumps(c.profile, sort_keys=True)}")
        missing = self.missing_vocabulary
        out.append("")
        out.append(f"Vocabulary: the audited profiles reached {len(self.vocabulary) - len(missing)} of "
                   f"{len(self.vocabulary)} targets (red flags, pathway triggers, boundaries, values)"
                   + (f"; missing: {_words(missing)}" if missing else ""))
        if self.fields is not None:
            out.append("")
            out.extend(self.fields.text_lines())
        return "\n".join(out) + "\n"


__all__ = ["AuditReport", "Conflict", "Counterexample", "InvariantResult"]
