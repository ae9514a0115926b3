"""Figures a patient can follow: props stand where they belong (a band tied to a door, a cable from high,
a bench behind the heels, a wall behind the back), and the key positions show what the steps say."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from backrx.errors import RuleError
from backrx.pack.figures import Figure
from backrx.pack.load import read_pack
from backrx.render.figure_pose import HEAD, LIMB, Skeleton, skeleton
from backrx.render.figures import figure_for

SVG = "{http://www.w3.org/2000/svg}"
PACK = read_pack()
BOOK = PACK.figures
assert BOOK is not None


def _figure(eid: str) -> Figure:
    """A bundled figure by exercise id."""
    assert BOOK is not None
    return BOOK.figures[eid]


def _skeletons(eid: str) -> list[Skeleton]:
    """Every position of a bundled figure, put down."""
    return [skeleton(p) for p in _figure(eid).positions]


def _panels(eid: str) -> list[ET.Element]:
    """The drawing group (figure units) inside each panel of a bundled figure's SVG."""
    svg = figure_for(PACK, eid)
    assert svg is not None
    root = ET.fromstring(svg)
    panels = [g for g in root.iter(f"{SVG}g") if "panel" in (g.get("class") or "").split()]
    groups = [p.find(f"{SVG}g") for p in panels]
    return [g for g in groups if g is not None]


def _xy(el: ET.Element, *keys: str) -> tuple[float, ...]:
    return tuple(float(el.get(k) or "nan") for k in keys)


def _knots(group: ET.Element) -> list[tuple[float, float]]:
    """The small squares of a panel: a band's knot or a cable's handle (8 units wide)."""
    return [(x + 4, y + 4) for x, y in (_xy(r, "x", "y") for r in group.iter(f"{SVG}rect")
                                        if r.get("width") == "8")]


def _wheels(group: ET.Element) -> list[tuple[float, float]]:
    return [(x, y) for x, y in (_xy(c, "cx", "cy") for c in group.iter(f"{SVG}circle") if c.get("r") == "6")]


@pytest.mark.parametrize("eid", ["band-face-pull", "pallof-press"])
def test_a_band_tied_to_a_door_stays_put_and_runs_to_the_hands(eid: str) -> None:
    """A band anchored in a door frame is tied at the same place in every panel, and in each panel a band
    runs from the hands to that knot."""
    groups, sks = _panels(eid), _skeletons(eid)
    knots = [set(_knots(g)) for g in groups]
    assert len(knots[0]) == 1 and all(k == knots[0] for k in knots)
    (kx, ky), = knots[0]
    for group, sk in zip(groups, sks, strict=True):
        bands = [_xy(ln, "x1", "y1", "x2", "y2") for ln in group.iter(f"{SVG}line")
                 if ln.get("stroke-dasharray") == "6 3"]
        hand = sk.points["hand"]
        assert any(math.dist(b[:2], hand) < 0.2 and math.dist(b[2:], (kx, ky)) < 0.2 for b in bands)


@pytest.mark.parametrize("eid", ["face-pull", "band-face-pull"])
def test_a_face_pull_comes_from_above_the_hands(eid: str) -> None:
    """In a face pull the cable's wheel or the band's knot is above the hands at the start (a high
    anchor, pulled down and back towards the face), and the hands end at the face."""
    start, end = _skeletons(eid)
    group = _panels(eid)[0]
    fixed = _wheels(group) or [k for k in _knots(group) if math.dist(k, start.points["hand"]) > 1]
    assert fixed and all(y < start.points["hand"][1] - 5 for _, y in fixed)
    assert math.dist(end.points["hand"], end.points["head"]) < HEAD + 2 * LIMB


def test_a_cable_pulled_down_runs_to_the_same_high_wheel_in_both_panels() -> None:
    """The straight-arm pulldown's cable comes from one wheel, above the head, in both panels."""
    groups, sks = _panels("straight-arm-pulldown"), _skeletons("straight-arm-pulldown")
    wheels = [_wheels(g) for g in groups]
    assert len(wheels[0]) == 1 and wheels[0] == wheels[1]
    assert all(wheels[0][0][1] < sk.points["head"][1] for sk in sks)


@pytest.mark.parametrize(("eid", "panel"), [("box-squat", 0), ("bench-sit-to-stand", 1)])
def test_a_bench_set_behind_the_body_stands_on_the_floor_at_its_height(eid: str, panel: int) -> None:
    """A bench placed behind a standing person is drawn standing on the floor, as high as the pack says,
    behind the heels (not a slab under the feet)."""
    pose = _figure(eid).positions[panel]
    use, = (u for u in pose.props if u.at == "back")
    rect, = (r for r in _panels(eid)[panel].iter(f"{SVG}rect") if r.get("fill") == "#eee")
    x, y, w, h = _xy(rect, "x", "y", "width", "height")
    assert h == pytest.approx(use.prop.h, abs=0.1) and y + h == pytest.approx(0.0, abs=0.1)
    sk = skeleton(pose)
    assert x + w <= min(sk.points[p][0] for p in ("heel", "far-heel")) + 0.1


def test_the_squat_to_a_bench_ends_sitting_on_the_bench_it_started_in_front_of() -> None:
    """In the box squat the hips end on top of the bench (its top just under the pelvis), and that bench
    overlaps the place where it stood behind the heels at the start."""
    start, end = _panels("box-squat")
    rects = [next(r for r in g.iter(f"{SVG}rect") if r.get("fill") == "#eee") for g in (start, end)]
    (x0, _, w0, _), (x1, y1, w1, _) = (_xy(r, "x", "y", "width", "height") for r in rects)
    pelvis = _skeletons("box-squat")[1].points["pelvis"]
    assert y1 == pytest.approx(pelvis[1] + LIMB / 2, abs=0.1) and x1 <= pelvis[0] <= x1 + w1
    assert min(x0 + w0, x1 + w1) - max(x0, x1) > w0 / 2


def test_the_wall_angel_has_a_wall_behind_the_whole_body() -> None:
    """The wall angel draws a wall behind the person (before the body, so the body is on top), wider than
    the arms and higher than the raised hands."""
    for group, sk in zip(_panels("wall-angel"), _skeletons("wall-angel"), strict=True):
        kids = list(group)
        wall = next(i for i, el in enumerate(kids) if el.tag == f"{SVG}rect" and el.get("height") != "8")
        first_limb = next(i for i, el in enumerate(kids) if el.tag == f"{SVG}polyline")
        assert wall < first_limb
        x, y, w, h = _xy(kids[wall], "x", "y", "width", "height")
        xs = [p[0] for p in sk.points.values()]
        assert x < min(xs) and x + w > max(xs)
        assert y < min(p[1] for p in sk.points.values()) - HEAD and y + h == pytest.approx(0.0, abs=0.1)


def test_hands_held_together_stay_together() -> None:
    """At the golf address and through the band press-out both hands are on the club or band: the two
    hands are within a limb's width of each other."""
    for eid, positions in (("golf-swing-drill", [0]), ("pallof-press", [0, 1])):
        for i in positions:
            pts = _skeletons(eid)[i].points
            assert math.dist(pts["hand"], pts["far-hand"]) < LIMB, f"{eid} position {i}"


def test_the_seated_pull_apart_is_seated_and_pulls_the_band_apart() -> None:
    """The seated band pull-apart shows a seated person (hips well below standing height) with a band
    between the two hands, which end far wider apart than they start."""
    sks = _skeletons("seated-band-pull-apart")
    standing = skeleton(_figure("wall-angel").positions[0])
    spread = [abs(sk.points["hand"][0] - sk.points["far-hand"][0]) for sk in sks]
    assert all(sk.points["pelvis"][1] > standing.points["pelvis"][1] + 25 for sk in sks)
    assert spread[-1] > spread[0] + 2 * (HEAD + LIMB) * 3
    for group, sk in zip(_panels("seated-band-pull-apart"), sks, strict=True):
        bands = [_xy(ln, "x1", "y1", "x2", "y2") for ln in group.iter(f"{SVG}line")
                 if ln.get("stroke-dasharray") == "6 3"]
        ends = (sk.points["far-hand"], sk.points["hand"])
        assert any(math.dist(b[:2], ends[0]) < 0.2 and math.dist(b[2:], ends[1]) < 0.2 for b in bands)



def test_the_figure_4_rests_the_ankle_on_the_other_knee_with_the_knee_out() -> None:
    """In both positions of the figure-4 stretch the crossed leg's ankle sits on the other knee and its own
    knee points out to the side, away from the other knee."""
    for sk in _skeletons("piriformis-stretch"):
        pts = sk.points
        assert math.dist(pts["heel"], pts["far-knee"]) < LIMB
        assert math.dist(pts["knee"], pts["far-knee"]) > 4 * LIMB


def test_the_knee_fall_out_moves_one_knee_clearly_and_keeps_the_other() -> None:
    """The falling knee moves more than two head widths on the page; the other knee does not move."""
    start, end = _skeletons("bent-knee-fallout")
    assert math.dist(start.points["knee"], end.points["knee"]) > 2 * HEAD
    assert start.points["far-knee"] == pytest.approx(end.points["far-knee"], abs=0.5)


def test_the_kneeling_hip_stretch_keeps_the_front_foot_planted_and_moves_the_hips_forward() -> None:
    """Easing the hips forward in the kneeling hip stretch: the front heel and toe stay on the floor and in
    place, the back knee stays down, and the pelvis moves forward."""
    start, end = _skeletons("hip-flexor-stretch-kneeling")
    for sk in (start, end):
        assert sk.lows["heel"] == pytest.approx(0.0, abs=0.5)
        assert sk.lows["toe"] == pytest.approx(0.0, abs=1.0)
        assert sk.lows["far-knee"] < LIMB  # the back knee is down (its toes just touch the floor)
    shift = end.points["far-knee"][0] - start.points["far-knee"][0]  # the figure is put down, not pinned
    assert abs(end.points["heel"][0] - shift - start.points["heel"][0]) < LIMB
    assert end.points["pelvis"][0] - shift > start.points["pelvis"][0] + 10


def test_a_bar_on_the_back_is_held_at_the_shoulders() -> None:
    """In every figure with a bar across the upper back the hands stay at the shoulders holding it, in every
    position (no arm hanging across the body)."""
    assert BOOK is not None
    found = 0
    for eid, figure in BOOK.figures.items():
        for i, pose in enumerate(figure.positions):
            if any(u.prop.shape == "plate" and u.at == "neck" for u in (*figure.props, *pose.props)):
                found += 1
                pts = skeleton(pose).points
                assert math.dist(pts["hand"], pts["neck"]) < 3 * LIMB, f"{eid} position {i}"
    assert found >= 4


def test_a_seat_holds_the_thighs() -> None:
    """Sitting on a chair or wheelchair, leaning or not, no knee drops more than a limb's width and a half
    below the hips: the thighs rest on the seat instead of sloping through it."""
    assert BOOK is not None
    seated = 0
    for eid, figure in BOOK.figures.items():
        for i, pose in enumerate(figure.positions):
            uses = (*figure.props, *pose.props)
            if any(u.prop.shape in ("chair", "wheelchair") and u.at == "pelvis" for u in uses):
                seated += 1
                pts = skeleton(pose).points
                for side in ("", "far-"):
                    assert pts[side + "knee"][1] - pts["pelvis"][1] < 1.5 * LIMB, f"{eid} position {i}"
    assert seated >= 20


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_arm_across_the_body_past_its_range_is_refused(pack_copy: Path) -> None:
    """arm_out may bring an arm 30 degrees across the body (the hands together); further fails the load,
    naming the exercise."""
    _replace(pack_copy / "figures.yaml", "arm_out: -15, props: [club@hand]",
             "arm_out: -40, props: [club@hand]")
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    found = [(p.code, p.rule_id) for p in info.value.problems]
    assert found == [("figure-angle-out-of-range", "golf-swing-drill")]


@pytest.mark.parametrize("prop", ["band-high: {shape: anchor, w: 100, h: 172}",
                                  "wall-behind: {shape: backdrop, w: 130, h: 235}"])
def test_an_anchor_or_wall_without_its_size_is_refused(pack_copy: Path, prop: str) -> None:
    """A band anchor or a wall placed by its own size needs both w and h: without h the load fails,
    naming the prop."""
    name = prop.split(":")[0]
    _replace(pack_copy / "figures.yaml", prop, re.sub(r", h: \d+", "", prop))
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    found = [(p.code, p.location) for p in info.value.problems]
    assert found.count(("missing-value", f"props.{name}")) == 1
    assert {code for code, _ in found} == {"missing-value", "figure-unknown-prop"}  # and the figures using it

