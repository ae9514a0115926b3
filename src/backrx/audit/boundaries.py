"""The boundary values of a rule pack, for the strategies of `backrx.testing` (issue 29).

A decision changes where a rule compares a profile field with a number (an age under 40, a
straight-leg raise over 91 degrees), so generated profiles should sit on those numbers and just
beside them. They are read here from the pack's rules, never restated in Python: a pack that moves
a cut-off moves the generated values with it. Two kinds of number come from the model instead of
the pack: the range each field accepts (the bounds of `backrx.Profile`) and the weeks at which an
episode turns subacute and chronic (`backrx.model.profile.stage_for_weeks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from backrx.audit.fields import condition_tests
from backrx.audit.reference import load_cap, reference_pack, threshold
from backrx.model import profile as _p
from backrx.pack.model import Pack

#: Steps beside a cut-off: whole ones for counts, small ones for measures (a cut-off of 4 weeks is
#: generated as 3.9, 3.99, 4, 4.01 and 4.5 weeks).
WHOLE_STEPS = (-1, 0, 1)
FINE_STEPS = (-0.1, -0.01, 0.0, 0.01, 0.5)
#: How far below a cut-off a target sits for a measure (3.99 weeks is still acute).
FINE_BELOW = 0.01


@dataclass(frozen=True)
class FieldRange:
    """The values a profile field accepts: its bounds, and whether it takes whole numbers only."""

    low: float
    high: float
    whole: bool


@dataclass(frozen=True)
class Boundaries:
    """A pack's boundary values per profile field, the fields' ranges, and the audit targets."""

    digest: str
    cuts: tuple[tuple[str, tuple[float, ...]], ...]  # field path -> the numbers rules compare it with
    values: tuple[tuple[str, tuple[float, ...]], ...]  # field path -> values at and beside cut-offs
    ranges: tuple[tuple[str, FieldRange], ...]  # field path -> the range the model accepts
    targets: tuple[tuple[str, float], ...]  # (field, value) every audit run should reach

    def of(self, field: str) -> tuple[float, ...]:
        """The boundary values of ``field`` (empty when no rule compares it with a number)."""
        return dict(self.values).get(field, ())

    def cut_offs(self, field: str) -> tuple[float, ...]:
        """The numbers the pack's rules compare ``field`` with."""
        return dict(self.cuts).get(field, ())

    def range(self, field: str) -> FieldRange:
        """The range the model accepts for ``field``."""
        return dict(self.ranges)[field]

    def target_values(self, field: str) -> tuple[float, ...]:
        """The target values of ``field``, in order."""
        return tuple(value for name, value in self.targets if name == field)


def _schema_fields(schema: dict[str, Any], defs: dict[str, Any],
                   prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in schema.get("properties", {}).items():
        for option in [spec, *spec.get("anyOf", ())]:
            if "$ref" in option:
                yield from _schema_fields(defs[option["$ref"].rsplit("/", 1)[-1]], defs, f"{prefix}{name}.")
            elif "minimum" in option and "maximum" in option:
                yield f"{prefix}{name}", option


@cache
def field_ranges() -> dict[str, FieldRange]:
    """The bounded numeric fields of `backrx.Profile` (dotted paths) with their ranges."""
    schema = _p.Profile.model_json_schema()
    return {path: FieldRange(float(spec["minimum"]), float(spec["maximum"]), spec.get("type") == "integer")
            for path, spec in _schema_fields(schema, schema.get("$defs", {}), "")}


def cut_offs(pack: Pack) -> dict[str, tuple[float, ...]]:
    """The numbers the rules of ``pack`` compare each bounded profile field with, and the stage
    cut-offs of the model for ``duration_weeks``."""
    ranges = field_ranges()
    found: dict[str, set[float]] = {"duration_weeks": {_p.ACUTE_BEFORE_WEEKS, _p.CHRONIC_FROM_WEEKS}}
    for rule in pack.rules:
        for test in condition_tests(rule.when):
            values = test.value if isinstance(test.value, tuple) else (test.value,)
            numbers = {float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if numbers and test.field in ranges:
                found.setdefault(test.field, set()).update(numbers)
    return {path: tuple(sorted(numbers)) for path, numbers in sorted(found.items())}


def _beside(numbers: tuple[float, ...], span: FieldRange) -> tuple[float, ...]:
    steps = WHOLE_STEPS if span.whole else FINE_STEPS
    near = {round(n + step, 6) for n in numbers for step in steps} | {span.low}
    return tuple(sorted(int(v) if span.whole else v for v in near if span.low <= v <= span.high))


def _targets(pack: Pack, found: dict[str, tuple[float, ...]]) -> tuple[tuple[str, float], ...]:
    """The stage cut-offs, the pathway rules' cut-offs and the load cap's pain, each at the cut-off
    and just on its other side, and the STarT Back scores the pack's rules test."""
    out: list[tuple[str, float]] = []
    for weeks in (_p.ACUTE_BEFORE_WEEKS, _p.CHRONIC_FROM_WEEKS):
        out += [("duration_weeks", round(weeks - FINE_BELOW, 6)), ("duration_weeks", weeks)]
    under = threshold(pack, "age", "lt", pathway="stabilization")
    over = threshold(pack, "age", "gt", pathway="stenosis")
    slr = threshold(pack, "findings.straight_leg_raise_deg", "gt", pathway="stabilization")
    sitting = threshold(pack, "findings.sitting_hours_per_day", "gte", pathway="lower_crossed")
    cap = load_cap(pack)
    out += [("age", int(under) - 1), ("age", int(under))] if under is not None else []
    out += [("age", int(over)), ("age", int(over) + 1)] if over is not None else []
    out += [("findings.straight_leg_raise_deg", slr), ("findings.straight_leg_raise_deg", slr + 0.5)] \
        if slr is not None else []
    out += [("findings.sitting_hours_per_day", sitting)] if sitting is not None else []
    if cap is not None and cap.pain_from is not None:
        out += [("pain_intensity", int(cap.pain_from) - 1), ("pain_intensity", int(cap.pain_from))]
    for score in ("startback.total", "startback.psychosocial"):
        out += [(score, int(value)) for value in found.get(score, ())]
    return tuple(out)


def boundaries(pack: Pack | None = None) -> Boundaries:
    """The boundaries of ``pack`` (the bundled pack by default), found once per pack."""
    return _boundaries(pack or reference_pack())


_found: dict[str, Boundaries] = {}


def _boundaries(pack: Pack) -> Boundaries:
    made = _found.get(pack.digest)
    if made is None:
        ranges = field_ranges()
        found = cut_offs(pack)
        values = tuple((path, _beside(numbers, ranges[path])) for path, numbers in found.items())
        made = Boundaries(pack.digest, tuple(found.items()), values, tuple(sorted(ranges.items())),
                          _targets(pack, _score_cut_offs(pack)))
        _found[pack.digest] = made
    return made


def _score_cut_offs(pack: Pack) -> dict[str, tuple[float, ...]]:
    """The STarT Back scores the rules of ``pack`` compare with a number."""
    found: dict[str, set[float]] = {}
    for rule in pack.rules:
        for test in condition_tests(rule.when):
            if test.field.startswith("startback.") and isinstance(test.value, (int, float)) \
                    and not isinstance(test.value, bool):
                found.setdefault(test.field, set()).add(float(test.value))
    return {path: tuple(sorted(numbers)) for path, numbers in found.items()}


__all__ = ["FINE_BELOW", "FINE_STEPS", "WHOLE_STEPS", "Boundaries", "FieldRange", "boundaries", "cut_offs",
           "field_ranges"]
