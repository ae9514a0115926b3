"""Figures drawn in depth: a body can turn (twist, roll), a hip can turn, and the pose language refuses
those turns where the view cannot show them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from backrx.errors import RuleError
from backrx.pack.figures import Pose
from backrx.pack.load import read_pack
from backrx.render.figure_pose import skeleton
from backrx.render.figures import figure_for

PACK = read_pack()
BOOK = PACK.figures
assert BOOK is not None


def _pose(eid: str, i: int, **angles: float | tuple[float, float]) -> Pose:
    """Position ``i`` of a bundled figure with some angles changed."""
    pose = BOOK.figures[eid].positions[i]
    changed = {k: (v, v) if isinstance(v, (int, float)) else v for k, v in angles.items()}
    return dataclasses.replace(pose, angles=tuple((k, changed.get(k, v)) for k, v in pose.angles))


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_knee_rocks_carry_both_knees_together_to_one_side_then_the_other() -> None:
    """In the knee rocks the two knees move the same way, toward the viewer in one position (lower on
    the page, seen from above) and away in the other, while the shoulders stay where they are."""
    start, one, other = (skeleton(p) for p in BOOK.figures["supine-knee-rocks"].positions)
    for knee in ("knee", "far-knee"):
        assert one.points[knee][1] > start.points[knee][1] + 10
        assert other.points[knee][1] < start.points[knee][1] - 10
    for sk in (one, other):
        assert sk.points["far-shoulder"] == pytest.approx(start.points["far-shoulder"], abs=1.0)


def test_turning_the_hip_out_carries_a_bent_knees_foot_toward_the_other_leg() -> None:
    """Seen from in front with the hips and knees bent, an outward hip turn moves each foot toward the
    middle (the figure-4), and an inward turn moves it away."""
    flat = {"twist": 0.0, "roll": 0.0, "hip": 90.0, "knee": 90.0}
    base = _pose("doorway-pec-stretch", 0, **flat)
    feet = skeleton(base).points
    out = skeleton(_pose("doorway-pec-stretch", 0, **flat, hip_turn=30.0)).points
    inward = skeleton(_pose("doorway-pec-stretch", 0, **flat, hip_turn=-30.0)).points
    for heel, toward_other in (("heel", -1.0), ("far-heel", 1.0)):  # the near leg is on the right
        assert (out[heel][0] - feet[heel][0]) * toward_other > 10
        assert (inward[heel][0] - feet[heel][0]) * toward_other < -10


def test_a_twist_turns_the_shoulders_and_leaves_the_feet() -> None:
    """Standing, a twist of the upper body moves the hands across and leaves the feet in place."""
    still = skeleton(_pose("cable-wood-chop", 0, twist=0.0)).points
    turned = skeleton(_pose("cable-wood-chop", 0, twist=60.0)).points
    assert abs(turned["hand"][0] - still["hand"][0]) > 20
    for foot in ("heel", "toe", "far-heel", "far-toe"):
        assert turned[foot] == pytest.approx(still[foot])


def test_the_side_plank_rests_the_top_arm_along_the_body() -> None:
    """Both side planks show the standard hold: the top hand is no higher than the top shoulder."""
    for eid in ("side-bridge", "side-bridge-knees"):
        for pose in BOOK.figures[eid].positions:
            sk = skeleton(pose)
            assert sk.points["hand"][1] >= sk.points["shoulder"][1] - 1, eid


def test_the_cable_runs_to_a_wheel_that_stays_put() -> None:
    """The cable chop's pulley wheel is drawn at the same place in the start and end panels, above both
    hands, with a cable from the hand to it."""
    svg = figure_for(PACK, "cable-wood-chop")
    assert svg is not None
    wheels = re.findall(r'<circle cx="([-\d.]+)" cy="([-\d.]+)" r="6"', svg)
    assert len(wheels) == 2 and wheels[0] == wheels[1]
    for pose in BOOK.figures["cable-wood-chop"].positions:
        assert float(wheels[0][1]) < skeleton(pose).points["hand"][1]


@pytest.mark.parametrize(("old", "new", "code"), [
    ("positions: [cat, camel]", "positions: [cat, {like: camel, twist: 20}]", "figure-angle-view"),
    ("positions: [cat, camel]", "positions: [cat, {like: camel, roll: 20}]", "figure-angle-view"),
    ("positions: [cat, camel]", "positions: [cat, {like: camel, hip_turn: 20}]", "figure-angle-view"),
    ("positions: [cat, camel]", "positions: [cat, {like: camel, hip_turn: 60}]",
     "figure-angle-out-of-range"),
])
def test_a_turn_the_view_cannot_show_or_past_its_limit_is_refused(pack_copy: Path, old: str, new: str,
                                                                    code: str) -> None:
    """A twist, roll or hip turn on a body seen flat from the side, or past its range, fails the load."""
    _replace(pack_copy / "figures.yaml", old, new)
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    assert [(p.code, p.rule_id) for p in info.value.problems] == [(code, "cat-camel")]


def test_a_camera_height_on_a_flat_view_is_refused(pack_copy: Path) -> None:
    """``above`` is only for the views drawn in depth; on a side view it fails the load by name."""
    _replace(pack_copy / "figures.yaml", "  standing: {trunk: 0,", "  standing: {trunk: 0, above: 30,")
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    assert any(p.code == "wrong-type" and p.location == "bodies.standing.above" for p in info.value.problems)
