"""Exercise figures as SVG: a stick figure per key position, drawn from the poses of figures.yaml.

The figure is a side (or front) view: a solid head with a nose on the face side, thick rounded
limbs, the far limbs in grey, simple props, and the floor. The panels (start, optional middle,
end) sit side by side with an arrow between them; the last panel shows the first position as a
dashed ghost and an arrow along the path of the part that moves. Everything is black, white and
grey, so it prints. The output depends only on the figure and the words: the same input gives the
same bytes. Where the points are (forward kinematics, resting the body on the floor) is
`backrx.render.figure_pose`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from backrx.pack.figures import Figure, PropUse
from backrx.pack.model import Pack
from backrx.render.figure_pose import HEAD, LIMB, NECK, Point, Skeleton, skeleton

PANEL_W, PANEL_H, GAP, LABEL = 240.0, 215.0, 34.0, 22.0
SCALE = 1.0
FAR, GHOST, INK, PROP_INK, MAT = "#8c8c8c", "#d2d2d2", "#000", "#444", "#f4f4f4"
#: Lying on the back or front, seen from the side and a little from above: an arm resting on the
#: floor beside the trunk is drawn this much lower on the page (near arm) or higher (far arm), on a
#: light floor band, so it does not hide behind the trunk.
BESIDE = 8.0
#: Props at a fixed place in the scene (w ahead of the pelvis, or behind with to: back; h up), the same
#: in every panel: a cable's wheel, a band's knot.
FIXED = ("pulley", "anchor")


def _down(theta: float, length: float, at: Point) -> Point:
    r = math.radians(theta)
    return at[0] + length * math.sin(r), at[1] + length * math.cos(r)


def _f(v: float) -> str:
    text = f"{v:.1f}"
    return "0.0" if text == "-0.0" else text


def _line(a: Point, b: Point, color: str, width: float, extra: str = "") -> str:
    return (f'<line x1="{_f(a[0])}" y1="{_f(a[1])}" x2="{_f(b[0])}" y2="{_f(b[1])}" stroke="{color}" '
            f'stroke-width="{_f(width)}" stroke-linecap="round"{extra}/>')


def _poly(points: list[Point], color: str, width: float, extra: str = "") -> str:
    d = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
    return (f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="{_f(width)}" '
            f'stroke-linecap="round" stroke-linejoin="round"{extra}/>')


def _limbs(p: dict[str, Point], side: str, color: str, width: float, extra: str) -> list[str]:
    leg = [p[side + "hip"], p[side + "knee"], p[side + "heel"], p[side + "toe"]]
    return [_poly(leg, color, width, extra),
            _poly([p[side + "shoulder"], p[side + "elbow"], p[side + "hand"]], color, width, extra)]


def lying_flat(sk: Skeleton) -> bool:
    """A side view of a body lying on its back or front: the trunk level and low."""
    p = sk.points
    return sk.view == "side" and abs(p["neck"][1] - p["pelvis"][1]) < 25 and p["pelvis"][1] > -20


def beside(sk: Skeleton) -> dict[str, Point]:
    """The points as drawn: lying flat, an arm whose hand rests near the floor moves off the trunk's
    line (the near arm toward the viewer, the far arm away), so both arms show beside the body."""
    if not lying_flat(sk):
        return sk.points
    out = dict(sk.points)
    for side, dy in (("", BESIDE), ("far-", -BESIDE)):
        if out[side + "hand"][1] > -14:
            for joint in ("shoulder", "elbow", "hand"):
                x, y = out[side + joint]
                out[side + joint] = (x, y + dy)
    return out


def _body(sk: Skeleton, ink: str, far: str, width: float, extra: str = "", head: bool = True) -> list[str]:
    """The far limbs (grey; black seen from the front), the trunk and head, then the near limbs."""
    p = beside(sk)
    front = sk.view == "front"
    out = _limbs(p, "far-", ink if front else far, width, extra)
    sp = p["spine"]
    out.append(f'<path d="M{_f(p["pelvis"][0])},{_f(p["pelvis"][1])} Q{_f(sp[0])},{_f(sp[1])} '
               f'{_f(p["neck"][0])},{_f(p["neck"][1])}" fill="none" stroke="{ink}" '
               f'stroke-width="{_f(width * 1.35)}" stroke-linecap="round"{extra}/>')
    if sk.view != "side":
        out.append(_line(p["hip"], p["far-hip"], ink, width, extra))
        out.append(_line(p["shoulder"], p["far-shoulder"], ink, width, extra))
    out.append(_line(p["neck"], _toward(p["neck"], p["head"], NECK + HEAD * 0.5), ink, width, extra))
    if head:
        hx, hy = p["head"]
        out.append(f'<circle cx="{_f(hx)}" cy="{_f(hy)}" r="{_f(HEAD)}" fill="{ink}"/>')
        if sk.nose is not None:
            base = [_down(d, HEAD * 0.8, p["head"]) for d in _nose_dirs(p["head"], sk.nose)]
            corners = " ".join(f"{_f(x)},{_f(y)}" for x, y in [*base, sk.nose])
            out.append(f'<polygon points="{corners}" fill="{ink}"/>')
    return out + _limbs(p, "", ink, width, extra)


def _nose_dirs(head: Point, nose: Point) -> tuple[float, float]:
    d = math.degrees(math.atan2(nose[0] - head[0], nose[1] - head[1]))
    return d - 28, d + 28


def _anchor(sk: Skeleton, at: str) -> tuple[Point, float]:
    """Where a prop goes, and the page's y of the floor under it."""
    p = sk.points
    xs = [x for x, _ in p.values()]
    if at == "front":
        return (max(xs) + LIMB / 2, 0.0), 0.0
    if at == "back":
        return (min(xs) - LIMB / 2, 0.0), 0.0
    return p[at], sk.ground.get(at, 0.0)


def _prop(use: PropUse, sk: Skeleton, span: tuple[float, float]) -> list[str]:
    """A prop's drawing; ``span`` is the panel's left and right edge (water fills it)."""
    prop, ((x, y), floor) = use.prop, _anchor(sk, use.at)
    shape, top = prop.shape, y + LIMB / 2
    k = PROP_INK
    if use.at in ("front", "back") and shape in ("box", "chair", "wheelchair"):
        top = floor - prop.h  # set down beside the body: it stands on the floor, h high
    if shape == "box":
        x = x + (prop.w / 2 if use.at == "front" else -prop.w / 2) if use.at in ("front", "back") else \
            {"front": x + prop.w / 2 - 8, "back": x - prop.w / 2 + 8}.get(prop.to, x)
        return [f'<rect x="{_f(x - prop.w / 2)}" y="{_f(top)}" width="{_f(prop.w)}" '
                f'height="{_f(max(floor - top, 2))}" fill="#eee" stroke="{k}" stroke-width="2"/>']
    if shape in ("chair", "wheelchair"):
        x = {"front": x + prop.w / 2, "back": x - prop.w / 2}.get(use.at, x)
        back = x - prop.w / 2
        out = [_poly([(back, top - prop.w * 1.1), (back, top), (x + prop.w / 2, top)], k, 4),
               _line((back + 3, top), (back + 3, floor), k, 3), _line((x + prop.w / 2 - 3, top),
                                                                      (x + prop.w / 2 - 3, floor), k, 3)]
        if shape == "wheelchair":
            r = (floor - top) * 0.62
            out.append(f'<circle cx="{_f(back + r * 0.6)}" cy="{_f(floor - r)}" r="{_f(r)}" fill="none" '
                       f'stroke="{k}" stroke-width="3"/>')
        return out
    if shape in ("circle", "roller"):
        r = max((floor - top) / 2, 3.0)
        return [f'<circle cx="{_f(x)}" cy="{_f(top + r)}" r="{_f(r)}" fill="#eee" stroke="{k}" '
                f'stroke-width="2"/>']
    if shape == "vline":
        return [_line((x, floor), (x, floor - prop.h), k, 4)]
    if shape == "hline":
        return [_line((x - prop.w / 2, y), (x + prop.w / 2, y), k, 4)]
    if shape in ("weight", "plate"):
        r = prop.w / 2
        return [f'<rect x="{_f(x - r)}" y="{_f(y - r * 0.6)}" width="{_f(2 * r)}" height="{_f(1.2 * r)}" '
                f'rx="{_f(r * 0.3)}" fill="{k}"/>'] if shape == "weight" else [
            f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" fill="#eee" stroke="{k}" stroke-width="3"/>']
    return _prop_far(use, sk, floor, (x, y), span)


def _prop_far(use: PropUse, sk: Skeleton, floor: float, at: Point, span: tuple[float, float]) -> list[str]:
    prop, (x, y), k = use.prop, at, PROP_INK
    if prop.shape == "line":
        to = {"front": (x + prop.w, y), "back": (x - prop.w, y), "up": (x, y - prop.w),
              "down": (x, y + prop.w)}.get(prop.to, (x + prop.w, y))
        return [_line((x, y), to, k, 2, ' stroke-dasharray="5 3"'),
                f'<rect x="{_f(to[0] - 4)}" y="{_f(to[1] - 4)}" width="8" height="8" fill="{k}"/>']
    if prop.shape == "club":  # a club or stick held in the hand, along the forearm's line
        elbow = sk.points[use.at.replace("hand", "elbow")] if "hand" in use.at else (x, y - 1)
        return [_line((x, y), _toward((x, y), elbow, -prop.w), k, 3)]
    if prop.shape == "pulley":  # a cable from the point to a fixed wheel w ahead, h up, on its column
        wheel = (-prop.w if prop.to == "back" else prop.w, -prop.h)
        return [_line((wheel[0], 0.0), (wheel[0], -prop.h - 10), k, 5),
                f'<circle cx="{_f(wheel[0])}" cy="{_f(wheel[1])}" r="6" fill="#fff" stroke="{k}" '
                'stroke-width="3"/>', _line((x, y), wheel, k, 2, ' stroke-dasharray="5 3"'),
                f'<rect x="{_f(x - 4)}" y="{_f(y - 4)}" width="8" height="8" fill="{k}"/>']
    if prop.shape == "anchor":  # a band tied at a fixed point w ahead (or behind), h up, on a door frame
        knot = (-prop.w if prop.to == "back" else prop.w, -prop.h)
        return [_line((knot[0], 0.0), (knot[0], -prop.h - 40), k, 4),
                _line((x, y), knot, k, 2.5, ' stroke-dasharray="6 3"'),
                f'<rect x="{_f(knot[0] - 4)}" y="{_f(knot[1] - 4)}" width="8" height="8" fill="{k}"/>']
    if prop.shape == "backdrop":  # a wall seen face on, behind the body: w wide, h high, on the floor
        return [f'<rect x="{_f(x - prop.w / 2)}" y="{_f(floor - prop.h)}" width="{_f(prop.w)}" '
                f'height="{_f(prop.h)}" fill="{MAT}" stroke="{k}" stroke-width="2"/>']
    if prop.shape == "strap":  # a towel or band from the point to the near hand
        return [_line((x, y), sk.points["hand"], k, 3, ' stroke-dasharray="6 3"')]
    if prop.shape == "water":  # a wavy surface h above the point, light water down to w below the floor
        top, (left, right) = y - prop.h, span
        count = int((right - left) / 10) + 1
        waves = [(left + 10 * i, top + (0 if i % 2 == 0 else -4)) for i in range(count)]
        return [f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(right - left)}" '
                f'height="{_f(floor + prop.w - top)}" fill="{MAT}"/>', _poly(waves, k, 2)]
    if prop.shape == "belt":
        return [f'<rect x="{_f(x - prop.w / 2)}" y="{_f(floor - prop.h)}" width="{_f(prop.w)}" '
                f'height="{_f(prop.h)}" fill="#eee" stroke="{k}" stroke-width="2"/>',
                _line((x + prop.w / 2, floor - prop.h), (x + prop.w / 2 + 10, floor - 110), k, 3)]
    if prop.shape == "bike":
        top = y + LIMB / 2
        return [_line((x - 10, top), (x + 10, top), k, 5), _line((x, top), (x + 5, floor), k, 3),
                f'<circle cx="{_f(x + 45)}" cy="{_f(floor - 22)}" r="22" fill="none" stroke="{k}" '
                f'stroke-width="3"/>', _line((x + 5, floor), (x + 45, floor - 22), k, 3)]
    if prop.shape == "rod":  # a stick along the back, or held in the hand upright
        if use.at == "back":
            neck, pelvis = sk.points["neck"], sk.points["pelvis"]
            d = math.dist(neck, pelvis) or 1.0
            nx, ny = (pelvis[1] - neck[1]) / d * 9, (neck[0] - pelvis[0]) / d * 9  # behind the back
            ext = _toward(neck, pelvis, -HEAD * 2), _toward(pelvis, neck, -10)
            return [_line((ext[0][0] - nx, ext[0][1] - ny), (ext[1][0] - nx, ext[1][1] - ny), k, 3)]
        return [_line((x, y - 4), (x, floor), k, 3)]
    return []


def _moving(first: Skeleton, last: Skeleton, move: tuple[str, ...] | None) -> list[str]:
    if move is not None:
        return list(move)
    names = ("hand", "far-hand", "toe", "far-toe", "knee", "far-knee", "head", "pelvis")
    best = max(names, key=lambda n: math.dist(first.points[n], last.points[n]))
    return [best] if math.dist(first.points[best], last.points[best]) > 12 else []


def _arrow(a: Point, b: Point, color: str = INK, curve: bool = True) -> list[str]:
    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy) or 1.0
    bulge = min(18.0, length * 0.3) if curve else 0.0
    ctrl = (mid[0] - dy / length * bulge, mid[1] + dx / length * bulge)
    ang = math.atan2(b[1] - ctrl[1], b[0] - ctrl[0])
    wing = [(b[0] - 9 * math.cos(ang + s), b[1] - 9 * math.sin(ang + s)) for s in (0.45, -0.45)]
    return [f'<path d="M{_f(a[0])},{_f(a[1])} Q{_f(ctrl[0])},{_f(ctrl[1])} {_f(b[0])},{_f(b[1])}" '
            f'fill="none" stroke="{color}" stroke-width="2.2"/>',
            f'<polygon points="{_f(b[0])},{_f(b[1])} {_f(wing[0][0])},{_f(wing[0][1])} '
            f'{_f(wing[1][0])},{_f(wing[1][1])}" fill="{color}"/>']


@dataclass(frozen=True)
class _Panel:
    sk: Skeleton
    uses: tuple[PropUse, ...]
    floats: bool  # in water: no floor drawn


def _panels(figure: Figure) -> list[_Panel]:
    return [_Panel(skeleton(pose), (*figure.props, *pose.props), pose.body.floats)
            for pose in figure.positions]


def _fit(panels: list[_Panel]) -> tuple[float, float, float]:
    """One scale and x/ y shifts for every panel, so the figure stays still between them."""
    xs = [x for p in panels for n, (x, _) in p.sk.points.items() if n != "spine"]
    wheels = [u.prop for p in panels for u in p.uses if u.prop.shape in FIXED]
    xs += [(-w.w if w.to == "back" else w.w) + s * 10 for w in wheels for s in (-1, 1)]
    top = min(y for p in panels for y in (*(y for _, y in p.sk.points.values()), 0.0,
                                          *(-w.h - 10 for w in wheels))) - HEAD
    walls = [u.prop.h for p in panels for u in p.uses if u.prop.shape == "backdrop"]
    top = min(top, *(-h for h in walls)) if walls else top
    band = BESIDE + 3 if any(lying_flat(p.sk) for p in panels) else 0.0
    deep = [u.prop.w for p in panels for u in p.uses if u.prop.shape == "water"]
    bottom = max((p.sk.mat[1] if p.sk.mat else band) for p in panels)
    bottom = max(bottom, *deep) if deep else bottom
    width, height = max(xs) - min(xs) + 2 * HEAD, bottom - top
    scale = min(SCALE, (PANEL_W - 24) / width, (PANEL_H - 24) / height)
    shift = PANEL_W / 2 - scale * (max(xs) + min(xs)) / 2
    return scale, shift, PANEL_H - 12 - scale * bottom


def figure_svg(figure: Figure, word: Callable[[str], str | None] | None = None) -> str:
    """The figure as one SVG element: the panels side by side, a title and a description.

    ``word(key)`` gives a pack text in the reader's language (``plain.<id>.name``,
    ``plain.<id>.summary``, ``figure.start`` ...); without it the figure's own English words are used.
    """
    own = {f"plain.{figure.exercise}.name": figure.name, f"plain.{figure.exercise}.summary": figure.summary}

    def say(key: str) -> str:
        found = word(key) if word is not None else None
        return found if found is not None else own.get(key, "")

    panels = _panels(figure)
    scale, shift, ground = _fit(panels)
    count = len(panels)
    width = count * PANEL_W + (count - 1) * GAP
    labels = [say("figure.start"), *([say("figure.middle")] if count == 3 else []), say("figure.end")]
    name = say(f"plain.{figure.exercise}.name")
    alt = f'{name}. {say("figure.alt")} {say(f"plain.{figure.exercise}.summary")}.'
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="backrx-figure" '
           f'data-exercise="{escape(figure.exercise)}" '
           f'role="img" viewBox="0 0 {_f(width)} {_f(PANEL_H + LABEL)}" width="{_f(width)}" '
           f'height="{_f(PANEL_H + LABEL)}">', f"<title>{escape(name)}</title>",
           f"<desc>{escape(alt)}</desc>"]
    moving = _moving(panels[0].sk, panels[-1].sk, figure.move)
    band = any(lying_flat(p.sk) for p in panels)
    for i, panel in enumerate(panels):
        left = i * (PANEL_W + GAP)
        out.append(f'<g class="panel panel-{i}" transform="translate({_f(left)},0)">')
        out.append(f'<rect x="0.5" y="0.5" width="{_f(PANEL_W - 1)}" height="{_f(PANEL_H - 1)}" rx="8" '
                   'fill="#fff" stroke="#ccc"/>')
        out.append(f'<g transform="translate({_f(shift)},{_f(ground)}) scale({scale:.3f})">')
        left_x, right_x = -shift / scale + 4, (PANEL_W - shift) / scale - 4
        if panel.sk.mat is not None:
            m = panel.sk.mat
            out.append(f'<rect x="{_f(left_x)}" y="{_f(m[0])}" width="{_f(right_x - left_x)}" '
                       f'height="{_f(m[1] - m[0])}" fill="{MAT}"/>')
            out.append(_line((left_x, m[1]), (right_x, m[1]), PROP_INK, 3))
        elif band and not panel.floats:
            out.append(f'<rect x="{_f(left_x)}" y="{_f(-BESIDE - 3)}" width="{_f(right_x - left_x)}" '
                       f'height="{_f(2 * BESIDE + 6)}" fill="{MAT}"/>')
            out.append(_line((left_x, BESIDE + 3), (right_x, BESIDE + 3), PROP_INK, 3))
        elif not panel.floats:
            out.append(_line((left_x, 0.0), (right_x, 0.0), PROP_INK, 3))
        for use in panel.uses:
            out.extend(_prop(use, panel.sk, (left_x, right_x)))
        if i == count - 1 and i > 0:
            ghost = panels[0].sk
            if figure.ghost:
                out.extend(_body(ghost, GHOST, GHOST, 2.0, ' stroke-dasharray="3 5"', head=False))
            for point in moving:
                a, b = beside(ghost)[point], beside(panel.sk)[point]
                out.extend(_arrow(_toward(a, b, 8), _toward(b, a, 10)))
        out.extend(_body(panel.sk, INK, FAR, LIMB))
        out.append("</g>")
        out.append(f'<text x="{_f(PANEL_W / 2)}" y="{_f(PANEL_H + LABEL - 5)}" text-anchor="middle" '
                   f'font-family="sans-serif" font-size="15">{escape(labels[i])}</text></g>')
        if i < count - 1:
            y, x = PANEL_H / 2, left + PANEL_W + 6
            out.extend(_arrow((x, y), (x + GAP - 12, y), curve=False))
    out.append("</svg>")
    return "".join(out)


def _toward(a: Point, b: Point, by: float) -> Point:
    length = math.dist(a, b) or 1.0
    return a[0] + (b[0] - a[0]) * by / length, a[1] + (b[1] - a[1]) * by / length


def figure_for(pack: Pack, exercise_id: str, word: Callable[[str], str | None] | None = None) -> str | None:
    """The SVG of an exercise's figure in a loaded pack (None when the pack has no figure for it, as for
    advice drawn without one).

    ``word`` looks up pack texts in the reader's language, for example
    ``backrx.render.context.pack_texts(pack, "es").get``; without it the words are English.
    """
    book = pack.figures
    figure = book.figures.get(exercise_id) if book is not None else None
    if book is None or figure is None or not figure.positions:
        return None
    english = {f"figure.{k}": v for k, v in book.words.items()}
    return figure_svg(figure, word if word is not None else english.get)
