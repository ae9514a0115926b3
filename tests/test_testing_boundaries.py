"""The strategies of backrx.testing take their boundary values from the pack's rules (issue 29)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import find, settings

import backrx
from backrx import testing
from backrx.audit.boundaries import boundaries, cut_offs
from backrx.audit.reference import threshold
from backrx.pack.load import read_pack
from backrx.pack.model import Pack

HICKS_SLR = "{findings.straight_leg_raise_deg: {gt: 91}}"
HICKS_AGE = "{age: {lt: 40}}"
SLR = "findings.straight_leg_raise_deg"


@pytest.fixture(scope="module")
def bundled() -> Pack:
    """The bundled pack, read once for this module."""
    return read_pack()


def _moved(pack_copy: Path) -> Pack:
    """A copy of the pack whose Hicks rule reads a straight-leg raise over 85 and an age under 37."""
    path = pack_copy / "classification.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(HICKS_SLR) == 1 and text.count(HICKS_AGE) == 1
    text = text.replace(HICKS_SLR, "{findings.straight_leg_raise_deg: {gt: 85}}")
    path.write_text(text.replace(HICKS_AGE, "{age: {lt: 37}}"), encoding="utf-8")
    return read_pack(pack_copy)


def test_every_cut_off_of_the_pack_is_a_generated_boundary(bundled: Pack) -> None:
    """Each number a rule compares a bounded profile field with is among that field's boundary values."""
    found = boundaries(bundled)
    numbers = cut_offs(bundled)
    assert numbers["age"] and numbers[SLR]
    assert all(set(cuts) <= set(found.of(field)) for field, cuts in numbers.items())
    assert set(testing.BOUNDARY_AGES) == set(found.of("age"))
    assert threshold(bundled, SLR, "gt", pathway="stabilization") in testing.BOUNDARY_SLR


def test_a_moved_cut_off_moves_the_boundaries_and_the_targets(pack_copy: Path, bundled: Pack) -> None:
    """Moving the Hicks cut-offs in a pack copy moves its boundary values and audit targets with them."""
    moved = boundaries(_moved(pack_copy))
    assert 85.0 in moved.of(SLR) and 85.5 in moved.of(SLR) and 91.0 not in moved.of(SLR)
    assert moved.target_values(SLR) == (85.0, 85.5)
    assert set(moved.target_values("age")) >= {36, 37} and 39 not in moved.target_values("age")
    before = boundaries(bundled)
    assert before.target_values(SLR) == (91.0, 91.5) and 85.5 not in before.of(SLR)


@pytest.mark.slow
def test_profiles_for_a_pack_reach_its_own_cut_offs(pack_copy: Path, bundled: Pack) -> None:
    """profiles(pack=...) generates the straight-leg raise just over the copy's cut-off, which the
    bundled pack's boundaries never hold."""
    moved = _moved(pack_copy)
    quick = settings(max_examples=2000, database=None, derandomize=True)
    found = find(testing.profiles(pack=moved),
                 lambda p: (p.get("findings") or {}).get("straight_leg_raise_deg") == 85.5, settings=quick)
    assert found["findings"]["straight_leg_raise_deg"] == 85.5
    rules = backrx.load_rules(pack_copy, engine="reference")
    assert find(testing.profiles(pack=rules), lambda p: p["age"] == 36, settings=quick)["age"] == 36
    assert 85.5 not in boundaries(bundled).of(SLR)


def test_generated_numbers_stay_within_the_model_ranges(bundled: Pack) -> None:
    """Every boundary value lies within the range the Profile model accepts for its field."""
    found = boundaries(bundled)
    for field, values in found.values:
        span = found.range(field)
        assert all(span.low <= v <= span.high for v in values), field
        assert all(isinstance(v, int) for v in values) or not span.whole, field


def test_the_corners_sit_on_the_pack_cut_offs(bundled: Pack) -> None:
    """The audit's corners hold every age cut-off of the pack, each with the year just under it."""
    ages = {c["age"] for c in testing.corners() if set(c) == {"age"}}
    assert {int(a) for a in cut_offs(bundled)["age"]} <= ages
    assert {int(a) - 1 for a in cut_offs(bundled)["age"]} <= ages
