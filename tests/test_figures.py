"""Exercise figures: every exercise of the catalog has a plain name, a summary and a drawable figure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import backrx
from backrx.errors import RuleError
from backrx.pack.load import read_pack
from backrx.pack.locale import report
from backrx.render.context import pack_texts
from backrx.render.figure_pose import LIMB, skeleton
from backrx.render.figures import beside, figure_for, lying_flat

SVG = "{http://www.w3.org/2000/svg}"
PACK = read_pack()
ADVICE = {eid for eid, ex in PACK.exercises.items() if ex.category == "education"}
EXERCISES = sorted(set(PACK.exercises) - ADVICE)


@pytest.mark.parametrize("eid", EXERCISES)
def test_every_exercise_renders_a_well_formed_figure(eid: str) -> None:
    """Each catalog exercise that is not advice draws as well-formed SVG with a title, a description and
    start and end panels."""
    svg = figure_for(PACK, eid)
    assert svg is not None
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == PACK.texts[f"plain.{eid}.name"]
    desc = root.find(f"{SVG}desc")
    assert desc is not None and PACK.texts[f"plain.{eid}.summary"] in (desc.text or "")
    panels = [g for g in root.iter(f"{SVG}g") if "panel" in (g.get("class") or "").split()]
    assert len(panels) in (2, 3)
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert labels[0] == PACK.texts["figure.start"] and labels[-1] == PACK.texts["figure.end"]


def test_advice_needs_no_figure_but_an_exercise_does(pack_copy: Path) -> None:
    """An advice item may have no figure (figure_for gives None); an exercise without positions fails."""
    assert ADVICE and all(PACK.texts[f"plain.{eid}.name"] for eid in ADVICE)
    assert figure_for(PACK, "education-pain-reassurance") is None
    assert figure_for(PACK, "education-stay-active") is not None  # a picture is allowed where it helps
    path = pack_copy / "figures.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("    positions: [cat, camel]\n")
    path.write_text(text[:start] + text[start:].replace("    positions: [cat, camel]\n", "", 1),
                    encoding="utf-8")
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    assert [(p.code, p.rule_id) for p in info.value.problems] == [("missing-key", "cat-camel")]


@pytest.mark.parametrize("eid", EXERCISES)
def test_every_figure_rests_on_the_floor_and_nothing_sinks_through_it(eid: str) -> None:
    """In every position of every figure no body point goes below the floor, a point the body may bear
    weight on touches it (unless the pose is lifted or floating), and both points a pose rests on
    touch the floor or the top of their prop: a bridge lifts the hips, not the head."""
    book = PACK.figures
    assert book is not None
    for i, pose in enumerate(book.figures[eid].positions):
        sk = skeleton(pose)
        where = f"{eid} position {i}"
        if not pose.body.floats:
            low = min(sk.lows, key=lambda k: sk.lows[k])
            assert sk.lows[low] >= -0.5, f"{where}: {low} is below the floor"
            touching = [c for c in sk.contacts if abs(sk.lows[c] - pose.rise) <= 0.5]
            assert touching, f"{where}: no contact point is on the floor"
        for point, prop in pose.rest:
            height = 0.0 if prop is None else (2 * prop.w if prop.shape == "roller" else prop.h)
            assert abs(sk.lows[point] - height - pose.rise) <= 0.5, f"{where}: {point} does not rest"


def test_a_bridge_lifts_the_hips_and_keeps_head_and_feet_down() -> None:
    """In the bridge's end position the pelvis is well off the floor while the head and heels touch it."""
    book = PACK.figures
    assert book is not None
    start, end = (skeleton(p) for p in book.figures["glute-bridge"].positions)
    assert end.lows["pelvis"] > start.lows["pelvis"] + 20
    assert abs(end.lows["head"]) <= 0.5 and abs(end.lows["heel"]) <= 0.5


def test_figures_are_byte_identical_across_runs() -> None:
    """Drawing the same figure twice, from two loads of the pack, gives the same bytes."""
    again = read_pack()
    for eid in PACK.exercises:
        assert figure_for(PACK, eid) == figure_for(again, eid)
    assert figure_for(PACK, "cat-camel") != figure_for(PACK, "bird-dog")


def test_spanish_figures_carry_the_spanish_words() -> None:
    """A Spanish figure's title, description and panel labels come from the Spanish locale."""
    texts = pack_texts(PACK, "es")
    root = ET.fromstring(figure_for(PACK, "cat-camel", texts.get) or "")
    assert root.findtext(f"{SVG}title") == PACK.locales["es"]["text.plain.cat-camel.name"]
    assert next(t.text for t in root.iter(f"{SVG}text")) == PACK.locales["es"]["text.figure.start"]


def test_every_plain_name_and_summary_is_translated() -> None:
    """The bundled Spanish locale misses no plain name, summary or figure word."""
    missing, _ = report(PACK)["es"]
    assert not [k for k in missing if k.startswith(("text.plain.", "text.figure."))]


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_impossible_knee_angle_is_refused_at_load(pack_copy: Path) -> None:
    """A knee bent past its anatomical limit fails the load, naming the file, line and exercise."""
    _replace(pack_copy / "figures.yaml", "    positions: [cat, camel]\n",
             "    positions: [cat, {like: camel, knee: 170}]\n")
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    found = [p for p in info.value.problems if p.code == "figure-angle-out-of-range"]
    assert len(found) == 1 and found[0].file == "figures.yaml" and found[0].rule_id == "cat-camel"
    line = (pack_copy / "figures.yaml").read_text(encoding="utf-8").splitlines()[found[0].line - 1]
    assert "knee: 170" in line


def test_an_unknown_pose_or_prop_is_refused(pack_copy: Path) -> None:
    """A figure naming a pose or a prop the file does not declare fails the load with a coded problem."""
    _replace(pack_copy / "figures.yaml", "positions: [cat, camel]", "positions: [cat, camle]")
    _replace(pack_copy / "figures.yaml", "props: [kettlebell@hand]}", "props: [kettlebel@hand]}")
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    codes = {(p.code, p.rule_id) for p in info.value.problems}
    assert ("figure-unknown-pose", "cat-camel") in codes
    assert ("figure-unknown-prop", "kettlebell-deadlift") in codes


def test_an_exercise_without_a_figure_fails_the_check(pack_copy: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Removing an exercise's figure entry fails the load and `backrx check` with missing-figure."""
    path = pack_copy / "figures.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  bird-dog:\n")
    end = text.index("\n  dead-bug:\n")
    path.write_text(text[:start] + text[end + 1:], encoding="utf-8")
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    assert [(p.code, p.rule_id, p.file) for p in info.value.problems] == [
        ("missing-figure", "bird-dog", "figures.yaml")]
    from backrx.cli import main

    assert main(["check", str(pack_copy)]) != 0
    assert "missing-figure" in capsys.readouterr().err


def test_an_exercise_without_a_plain_name_fails_the_load(pack_copy: Path) -> None:
    """A figure entry without its patient name is refused at load."""
    _replace(pack_copy / "figures.yaml", "    name: Bird-dog\n", "")
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    assert any(p.code == "missing-key" and p.rule_id == "bird-dog" for p in info.value.problems)


def test_a_missing_translation_fails_the_check(pack_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Spanish locale without an exercise's plain name makes `backrx check` fail and name the key."""
    path = pack_copy / "locales" / "es.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.lstrip().startswith("plain.bird-dog.name:")]
    assert len(kept) == len(lines) - 1
    path.write_text("".join(kept), encoding="utf-8")
    from backrx.cli import main

    assert main(["check", str(pack_copy)]) != 0
    assert "text.plain.bird-dog.name" in capsys.readouterr().err


def test_the_bundled_pack_passes_the_check() -> None:
    """The bundled pack, with its figures and Spanish plain names, loads and checks clean."""
    rules = backrx.load_rules()
    assert rules.pack.figures is not None
    assert set(rules.pack.figures.figures) == set(rules.pack.exercises)
    drawn = {eid for eid, f in rules.pack.figures.figures.items() if f.positions}
    assert drawn >= set(EXERCISES)


def _last_panel(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    panels = [g for g in root.iter(f"{SVG}g") if "panel" in (g.get("class") or "").split()]
    return panels[-1]


def _dashed(panel: ET.Element) -> int:
    return sum(1 for e in panel.iter() if e.get("stroke-dasharray") == "3 5")


def test_ghost_false_leaves_the_start_out_of_the_end_panel(pack_copy: Path) -> None:
    """A figure with ghost: false draws no dashed start position in its end panel; one without it does,
    and a ghost that is not true or false is refused at load with the exercise named."""
    book = PACK.figures
    assert book is not None and not book.figures["childs-pose"].ghost and book.figures["bird-dog"].ghost
    assert _dashed(_last_panel(figure_for(PACK, "childs-pose") or "")) == 0
    assert _dashed(_last_panel(figure_for(PACK, "bird-dog") or "")) > 0
    _replace(pack_copy / "figures.yaml", "    positions: [cat, camel]\n",
             "    positions: [cat, camel]\n    ghost: maybe\n")
    with pytest.raises(RuleError) as info:
        read_pack(pack_copy)
    assert [(p.code, p.rule_id) for p in info.value.problems] == [("wrong-type", "cat-camel")]


@pytest.mark.parametrize("eid", ["posterior-pelvic-tilt", "prone-lying", "abdominal-drawing-in"])
def test_arms_resting_beside_a_lying_body_are_drawn_clear_of_the_trunk(eid: str) -> None:
    """Lying on the back or front with the arms at the sides, the near arm is drawn below the trunk's line
    and the far arm above it, each by more than a limb's width, so both arms show."""
    book = PACK.figures
    assert book is not None
    sk = skeleton(book.figures[eid].positions[0])
    drawn, trunk = beside(sk), sk.points["pelvis"][1]
    assert lying_flat(sk)
    assert drawn["hand"][1] - trunk > LIMB and trunk - drawn["far-hand"][1] > LIMB


def test_a_standing_body_is_drawn_where_its_points_are() -> None:
    """Standing figures are not shifted: the arms stay exactly where the pose puts them."""
    book = PACK.figures
    assert book is not None
    sk = skeleton(book.figures["calf-raise"].positions[0])
    assert not lying_flat(sk) and beside(sk) == sk.points


def test_every_roller_is_drawn_under_a_point_that_rests_on_it() -> None:
    """Every foam roller in a figure sits under a point the pose rests on it, so it is drawn full size
    (its diameter), never squeezed into the gap under a body lying on the floor."""
    book = PACK.figures
    assert book is not None
    rollers = 0
    for eid, figure in book.figures.items():
        for i, pose in enumerate(figure.positions):
            for use in (*figure.props, *pose.props):
                if use.prop.shape == "roller":
                    rollers += 1
                    assert (use.at, use.prop) in pose.rest, f"{eid} position {i}: roller at {use.at}"
    assert rollers >= 12
