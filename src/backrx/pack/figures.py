"""figures.yaml: the patient's view of each exercise, a plain name, one line and a figure.

Each exercise of the catalog has an entry under ``figures:`` keyed by its id::

    cat-camel:
      name: Cat-camel                       # the name a patient reads
      summary: On hands and knees, ...      # one line: what to do
      positions: [cat, camel]               # start, (middle,) end: pose names or inline poses
      props: [bench@pelvis]                 # optional: drawn in every panel
      move: [pelvis]                        # optional: points that get a movement arrow ([] none)
      ghost: false                          # optional: no dashed start position in the end panel

A pose is a body (``bodies:``, which gives the base orientation, the view and default angles) and
joint angles in degrees; a per-side joint takes one number or ``[near, far]``. ``poses:`` names poses
for reuse, and a pose may start ``like:`` another. ``limits:`` gives the anatomical range of each
angle; a pose outside it is refused at load (``figure-angle-out-of-range``), as are unknown poses,
bodies and props. The plain names, summaries and the figure words (``words:``) become the pack
texts ``plain.<id>.name``, ``plain.<id>.summary`` and ``figure.<word>``, so a locale translates them
in its ``text:`` section. Drawing them is `backrx.render.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backrx.pack.read import ID, Ctx, check_keys, hint, join, line_of, text_value

FILE = "figures.yaml"
#: Angles a pose may give, each a joint (or the lean of the whole body) with a range in ``limits:``.
SINGLE = ("lean", "spine", "neck", "twist", "roll")
PER_SIDE = ("hip", "knee", "ankle", "shoulder", "elbow", "hip_out", "arm_out", "hip_turn")
ANGLES = (*SINGLE, *PER_SIDE)
#: Body points a prop or an arrow can be placed at (``far-`` names the far limb: far-hand).
POINTS = ("pelvis", "neck", "head", "shoulder", "elbow", "hand", "hip", "knee", "heel", "toe",
          "front", "back")
#: Points a body can rest on (a contact; ``heel`` means both heels, ``far-heel`` the far one only).
CONTACTS = tuple(p for p in POINTS if p not in ("front", "back"))
SHAPES = ("box", "chair", "wheelchair", "circle", "roller", "vline", "hline", "weight", "plate",
          "line", "water", "belt", "bike", "rod", "strap", "club", "pulley", "anchor", "backdrop")
#: Shapes drawn at a place of their own (w across, h up): they need both sizes.
SIZED = ("pulley", "anchor", "backdrop")
#: lying-side, lying-back and standing-turn are drawn in depth (`backrx.render.figure_pose`): there a
#: limb can turn out of the body's plane (hip_out, arm_out, hip_turn) and the body can turn about its
#: own line (twist: the upper body; roll: the pelvis and legs).
VIEWS = ("side", "front", "lying-side", "lying-back", "standing-turn")
DEPTH_VIEWS = VIEWS[2:]
DEPTH_ANGLES = ("twist", "roll", "hip_turn")
_POSE_KEYS = ("like", "body", *ANGLES, "props", "rise", "rest", "contacts")
_FIGURE_KEYS = ("name", "summary", "positions", "props", "move", "ghost")


@dataclass(frozen=True)
class Body:
    """A base orientation: the trunk angle from upright (+ toward the face), the view, defaults.

    ``contacts`` are the body points that may bear weight in this orientation: the figure is put
    down so the lowest of them touches the floor, and no other point may go below it.
    """

    name: str
    trunk: float
    view: str
    floats: bool  # held up by water, not resting on the floor
    angles: tuple[tuple[str, Any], ...]
    contacts: tuple[str, ...] = ()
    above: float | None = None  # a view in depth: how many degrees above the floor it is seen from


@dataclass(frozen=True)
class Prop:
    name: str
    shape: str
    w: float
    h: float
    to: str  # where a line or a band goes from its point: front, back, up, down


@dataclass(frozen=True)
class PropUse:
    prop: Prop
    at: str  # one of POINTS, optionally far-


@dataclass(frozen=True)
class Pose:
    body: Body
    angles: tuple[tuple[str, tuple[float, float]], ...]  # every angle, (near, far)
    props: tuple[PropUse, ...]
    rise: float = 0.0  # drawing units the body is lifted off what it rests on (a jump, a hang)
    contacts: tuple[str, ...] = ()  # the body's contacts, or the pose's own
    rest: tuple[tuple[str, Prop | None], ...] = ()  # two points laid level on the floor (or a prop)

    def angle(self, name: str) -> tuple[float, float]:
        """The angle in degrees, near and far side."""
        return dict(self.angles)[name]


@dataclass(frozen=True)
class Figure:
    exercise: str
    name: str
    summary: str
    positions: tuple[Pose, ...]  # empty: an advice item drawn without a figure
    props: tuple[PropUse, ...]
    move: tuple[str, ...] | None  # None: the point that moves most
    ghost: bool = True  # the end panel shows the start position dashed behind the body


@dataclass(frozen=True)
class FigureBook:
    """Everything figures.yaml declares: the figures by exercise id, and the words around them."""

    figures: dict[str, Figure]
    words: dict[str, str]


def _number(ctx: Ctx, node: Any, key: str, where: str) -> float | None:
    value = node.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        ctx.add(line_of(node, key), "wrong-type", f"{key} must be a number of degrees", join(where, key))
        return None
    return float(value)


def _points(ctx: Ctx, node: Any, key: str, where: str, allowed: tuple[str, ...]) -> list[str] | None:
    """A list of body points (``far-`` allowed) under ``key``; None after a coded problem."""
    items = node.get(key)
    if not isinstance(items, list) or not items or not all(
            isinstance(i, str) and i.partition("@")[0].removeprefix("far-") in allowed for i in items):
        ctx.add(line_of(node, key), "figure-unknown-point",
                f"{key} is a list of body points ({', '.join(allowed)})", join(where, key))
        return None
    return [str(i) for i in items]


def _limits(ctx: Ctx, doc: dict[str, Any]) -> dict[str, tuple[float, float]]:
    node = doc.get("limits")
    out: dict[str, tuple[float, float]] = {}
    if not check_keys(ctx, node, "limits", ANGLES, (*ANGLES, "note", "sources")) \
            or not isinstance(node, dict):
        return out
    for key in ANGLES:
        pair = node[key]
        if (not isinstance(pair, list) or len(pair) != 2 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair) or pair[0] > pair[1]):
            ctx.add(line_of(node, key), "wrong-type", f"{key} is [lowest, highest] in degrees",
                    join("limits", key))
            continue
        out[key] = (float(pair[0]), float(pair[1]))
    return out


def _bodies(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Body]:
    node = doc.get("bodies")
    out: dict[str, Body] = {}
    if not isinstance(node, dict):
        ctx.add(line_of(doc, "bodies"), "wrong-type", "bodies is a mapping of name: {trunk, ...}", "bodies")
        return out
    for name, item in node.items():
        where = join("bodies", str(name))
        if not check_keys(ctx, item, where, ("trunk", "contacts"),
                          ("trunk", "view", "floats", "contacts", "above", *ANGLES)):
            continue
        contacts = _points(ctx, item, "contacts", where, CONTACTS)
        if contacts is None:
            continue
        trunk = _number(ctx, item, "trunk", where)
        view = item.get("view", "side")
        if view not in VIEWS:
            ctx.add(line_of(item, "view"), "unknown-value", f"view is one of {', '.join(VIEWS)}",
                    join(where, "view"))
            continue
        above = item.get("above")
        if above is not None and (view not in DEPTH_VIEWS or isinstance(above, bool)
                                  or not isinstance(above, (int, float)) or not 0 <= above <= 90):
            ctx.add(line_of(item, "above"), "wrong-type",
                    f"above is 0 to 90 degrees, for a view in depth ({', '.join(DEPTH_VIEWS)})",
                    join(where, "above"))
            continue
        if trunk is not None:
            angles = tuple((k, item[k]) for k in ANGLES if k in item)
            out[str(name)] = Body(str(name), trunk, str(view), item.get("floats") is True, angles,
                                  tuple(contacts), None if above is None else float(above))
    return out


def _props(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Prop]:
    node = doc.get("props")
    out: dict[str, Prop] = {}
    if not isinstance(node, dict):
        ctx.add(line_of(doc, "props"), "wrong-type", "props is a mapping of name: {shape, ...}", "props")
        return out
    for name, item in node.items():
        where = join("props", str(name))
        if not check_keys(ctx, item, where, ("shape",), ("shape", "w", "h", "to")):
            continue
        shape = item["shape"]
        if shape not in SHAPES:
            ctx.add(line_of(item, "shape"), "unknown-value",
                    f"shape {shape!r} is not one of {', '.join(SHAPES)}{hint(str(shape), SHAPES)}",
                    join(where, "shape"))
            continue
        size = [item.get(k, 0) for k in ("w", "h")]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 400 for v in size):
            ctx.add(line_of(item), "wrong-type", "w and h are sizes from 0 to 400", where)
            continue
        if shape in SIZED and not all(size):
            ctx.add(line_of(item), "missing-value", f"a {shape} needs its width w and height h", where)
            continue
        out[str(name)] = Prop(str(name), str(shape), float(size[0]), float(size[1]),
                              str(item.get("to", "front")))
    return out


class _Reader:
    def __init__(self, ctx: Ctx, doc: dict[str, Any]) -> None:
        self.ctx = ctx
        self.limits = _limits(ctx, doc)
        self.bodies = _bodies(ctx, doc)
        self.props = _props(ctx, doc)
        poses = doc.get("poses", {})
        if not isinstance(poses, dict):
            ctx.add(line_of(doc, "poses"), "wrong-type", "poses is a mapping of name: pose", "poses")
            poses = {}
        self.library: dict[str, Any] = {str(k): v for k, v in poses.items()}

    def prop_uses(self, node: Any, where: str) -> tuple[PropUse, ...] | None:
        items = node.get("props", [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            self.ctx.add(line_of(node, "props"), "wrong-type", "props is a list of prop or prop@point",
                         join(where, "props"))
            return None
        out = []
        for item in items:
            name, _, at = item.partition("@")
            at = at or "pelvis"
            if name not in self.props:
                self.ctx.add(line_of(node, "props"), "figure-unknown-prop",
                             f"prop {name!r} is not declared under props{hint(name, self.props)}",
                             join(where, "props"))
                return None
            if at.removeprefix("far-") not in POINTS:
                self.ctx.add(line_of(node, "props"), "figure-unknown-point",
                             f"{at!r} is not a body point ({', '.join(POINTS)})", join(where, "props"))
                return None
            out.append(PropUse(self.props[name], at))
        return tuple(out)

    def raw(self, node: Any, where: str, seen: tuple[str, ...]) -> dict[str, Any] | None:
        """The pose's keys with every ``like:`` resolved (the pose's own keys win)."""
        if isinstance(node, str):
            if node not in self.library:
                self.ctx.add(None, "figure-unknown-pose",
                             f"pose {node!r} is not under poses{hint(node, self.library)}", where)
                return None
            if node in seen:
                self.ctx.add(line_of(self.library[node]), "figure-pose-cycle",
                             f"pose {node!r} is like itself through {' > '.join(seen)}", where)
                return None
            return self.raw(self.library[node], join("poses", node), (*seen, node))
        if not check_keys(self.ctx, node, where, (), _POSE_KEYS):
            return None
        base: dict[str, Any] = {}
        if "like" in node:
            found = self.raw(node["like"], join(where, "like"), seen)
            if found is None:
                return None
            base = found
        merged = {**base, **{k: v for k, v in node.items() if k != "like"}}
        merged["__node__"] = node
        return merged

    def pose(self, node: Any, where: str, line: int | None) -> Pose | None:
        raw = self.raw(node, where, ())
        if raw is None:
            return None
        here = raw.pop("__node__")
        body = self.bodies.get(str(raw.get("body")))
        if body is None:
            self.ctx.add(line_of(here, "body") or line, "figure-unknown-body",
                         f"body {raw.get('body')!r} is not under bodies"
                         f"{hint(str(raw.get('body')), self.bodies)}",
                         join(where, "body"))
            return None
        values = {**dict(body.angles), **{k: v for k, v in raw.items() if k in ANGLES}}
        angles: list[tuple[str, tuple[float, float]]] = []
        for key in ANGLES:
            value = values.get(key, 0)
            pair = value if isinstance(value, list) and key in PER_SIDE else [value, value]
            if (len(pair) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                          for v in pair)):
                self.ctx.add(line_of(here, key) or line, "wrong-type",
                             f"{key} is a number of degrees" + (" or [near, far]" if key in PER_SIDE else ""),
                             join(where, key))
                return None
            low, high = self.limits.get(key, (-360.0, 360.0))
            if not all(low <= v <= high for v in pair):
                self.ctx.add(line_of(here, key) or line, "figure-angle-out-of-range",
                             f"{key} must stay from {low:g} to {high:g} degrees (limits in {FILE})",
                             join(where, key))
                return None
            angles.append((key, (float(pair[0]), float(pair[1]))))
        flat_only = [k for k in DEPTH_ANGLES if k in raw and body.view not in DEPTH_VIEWS]
        if flat_only:
            self.ctx.add(line_of(here, flat_only[0]) or line, "figure-angle-view",
                         f"{flat_only[0]} turns the body in depth: use a body whose view is one of "
                         f"{', '.join(DEPTH_VIEWS)}", join(where, flat_only[0]))
            return None
        props = self.prop_uses(raw, where)
        rise = raw.get("rise", 0)
        if isinstance(rise, bool) or not isinstance(rise, (int, float)) or not 0 <= rise <= 200:
            self.ctx.add(line_of(here, "rise") or line, "wrong-type", "rise is a height from 0 to 200",
                         join(where, "rise"))
            return None
        contacts = body.contacts
        if "contacts" in raw:
            found = _points(self.ctx, raw, "contacts", where, CONTACTS)
            if found is None:
                return None
            contacts = tuple(found)
        rest = self.rest(raw, here, where) if "rest" in raw else ()
        if props is None or rest is None:
            return None
        return Pose(body, tuple(angles), props, float(rise), contacts, rest)

    def rest(self, raw: dict[str, Any], here: Any, where: str) -> tuple[tuple[str, Prop | None], ...] | None:
        """``rest: [a, b@prop]``: two contact points laid level, on the floor or on a prop's top."""
        found = _points(self.ctx, raw, "rest", where, CONTACTS)
        if found is None:
            return None
        out: list[tuple[str, Prop | None]] = []
        for item in found:
            point, _, prop = item.partition("@")
            if prop and (prop not in self.props or (self.props[prop].h <= 0
                         and self.props[prop].shape != "roller")):
                self.ctx.add(line_of(here, "rest"), "figure-unknown-prop",
                             f"rest on {prop!r}: not a declared prop with a height (h)"
                             f"{hint(prop, self.props)}",
                             join(where, "rest"))
                return None
            out.append((point, self.props[prop] if prop else None))
        if len(out) != 2:
            self.ctx.add(line_of(here, "rest"), "figure-rest",
                         "rest names two points, each on the floor or point@prop", join(where, "rest"))
            return None
        return tuple(out)


def _figure(reader: _Reader, eid: str, node: Any, where: str,
            advice: bool) -> tuple[Figure, dict[str, str]] | None:
    """One entry; an advice item (its category under ``advice:``) may leave out ``positions``."""
    ctx = reader.ctx
    if not check_keys(ctx, node, where, ("name", "summary") if advice else ("name", "summary", "positions"),
                      _FIGURE_KEYS):
        return None
    name = text_value(ctx, node, "name", where)
    summary = text_value(ctx, node, "summary", where)
    items = node.get("positions", [])
    if not isinstance(items, list) or not (2 <= len(items) <= 3 or (advice and not items)):
        ctx.add(line_of(node, "positions"), "figure-positions",
                "positions lists the start, an optional middle and the end pose", join(where, "positions"))
        return None
    poses = [reader.pose(item, join(join(where, "positions"), i), line_of(items, i))
             for i, item in enumerate(items)]
    props = reader.prop_uses(node, where)
    move = node.get("move")
    if move is not None and (not isinstance(move, list)
                             or not all(isinstance(m, str) and m.removeprefix("far-") in POINTS
                                        for m in move)):
        ctx.add(line_of(node, "move"), "figure-unknown-point",
                f"move is a list of body points ({', '.join(POINTS)})", join(where, "move"))
        return None
    ghost = node.get("ghost", True)
    if not isinstance(ghost, bool):
        ctx.add(line_of(node, "ghost"), "wrong-type", "ghost is true or false", join(where, "ghost"))
        return None
    if name is None or summary is None or props is None or any(p is None for p in poses):
        return None
    figure = Figure(eid, name, summary, tuple(p for p in poses if p is not None), props,
                    None if move is None else tuple(move), ghost)
    return figure, {f"plain.{eid}.name": name, f"plain.{eid}.summary": summary}


def read_figures(ctx: Ctx, doc: Any, catalog: dict[str, Any]) -> tuple[FigureBook | None, dict[str, str]]:
    """figures.yaml: the figure book, and the texts it adds to the pack (plain names, figure words).

    Every exercise of ``catalog`` (id: the exercise's YAML node) needs an entry; an entry for an
    exercise that is not in the catalog is refused too. An entry needs a figure (``positions``)
    unless its exercise's category is listed under ``advice:``: advice is not an exercise to copy,
    so it needs only its plain name and summary (a figure is still allowed where one helps).
    """
    if doc is None:
        return None, {}
    if not check_keys(ctx, doc, "", ("limits", "bodies", "props", "poses", "words", "figures"),
                      ("description", "advice", "limits", "bodies", "props", "poses", "words", "figures")):
        return None, {}
    advice = doc.get("advice", [])
    if not isinstance(advice, list) or not all(isinstance(a, str) for a in advice):
        ctx.add(line_of(doc, "advice"), "wrong-type", "advice is a list of exercise categories", "advice")
        advice = []
    reader = _Reader(ctx, doc)
    texts: dict[str, str] = {}
    words = doc["words"]
    for key in ("start", "middle", "end", "alt"):
        value = text_value(ctx, words, key, "words") if isinstance(words, dict) else None
        if value is None:
            ctx.add(line_of(doc, "words"), "missing-value", f"words needs {key}", join("words", key))
        else:
            texts[f"figure.{key}"] = value
    node = doc["figures"]
    if not isinstance(node, dict):
        ctx.add(line_of(doc, "figures"), "wrong-type", "figures is a mapping of exercise id: figure",
                "figures")
        return None, texts
    figures: dict[str, Figure] = {}
    for eid, item in node.items():
        ctx.rule_id = str(eid)
        if not isinstance(eid, str) or not ID.match(eid) or eid not in catalog:
            ctx.add(line_of(node, eid), "figure-unknown-exercise",
                    f"{eid!r} is not an exercise of the catalog{hint(str(eid), catalog)}",
                    join("figures", str(eid)))
            continue
        found = _figure(reader, eid, item, join("figures", eid),
                        isinstance(catalog[eid], dict) and catalog[eid].get("category") in advice)
        if found is not None:
            figures[eid] = found[0]
            texts.update(found[1])
    for eid, ex_node in catalog.items():
        ctx.rule_id = eid
        if eid not in node:
            ctx.add(line_of(doc, "figures"), "missing-figure",
                    f"exercise {eid} (exercises.yaml line {line_of(ex_node)}) has no figure, plain name "
                    "or summary here", join("figures", eid))
    ctx.rule_id = None
    return FigureBook(figures, {k.removeprefix("figure."): v for k, v in texts.items()
                                if k.startswith("figure.")}), texts
