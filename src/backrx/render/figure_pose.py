"""Where each point of a pose is: forward kinematics from the pelvis, then the body put down on the floor.

Angles (degrees; see `backrx.pack.figures`): a direction is measured from straight down,
positive toward the way the body faces. The trunk's direction is absolute (``body.trunk + lean``
from upright); a hip or shoulder angle turns the thigh or arm forward from the line of the trunk;
knee and elbow bend the next segment; ankle points the toes (plantar flexion is positive).

Putting the body down: when a pose names ``rest: [a, b]`` the whole body turns about the pelvis
until ``a`` and ``b`` are level (or differ by the height of the prop one of them rests on), so a
bridge lifts the hips while the shoulders and feet stay down. Then the body is moved so that the
lowest of its contact points (the body's ``contacts``, or the pose's) touches the floor. A body
lying on its side (view ``lying-side``) is seen from in front and a little above: its top limbs
are the near (black) ones, bottom limbs grey, bent knees come toward the viewer, and
``hip_out``/``arm_out`` lift a limb away from the body (a bent leg opens like a clamshell).

The result is in drawing units with y pointing down and the floor at y = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from backrx.pack.figures import Pose

# Segment lengths (drawing units; proportions of an adult after Drillis & Contini's body segments).
TRUNK, NECK, HEAD, UPPER_ARM, FOREARM, THIGH, SHANK, FOOT = 55.0, 7.0, 10.0, 31.0, 30.0, 45.0, 43.0, 13.0
HALF_HIPS, HALF_SHOULDERS = 9.0, 15.0  # front and side-lying views
LIMB = 7.0
# Side-lying view, seen from in front, above and toward the feet: a point one unit nearer the
# viewer is drawn SHEAR to the right and ELEVATION lower; one unit higher, RISE higher.
SHEAR, ELEVATION, RISE = 0.15, 0.3, 0.95
Point = tuple[float, float]
Vec = tuple[float, float, float]
SIDES = ("", "far-")
JOINTS = ("hip", "knee", "heel", "toe", "shoulder", "elbow", "hand")


@dataclass(frozen=True)
class Skeleton:
    """A pose put down: points on the page, and how high each point's lowest edge is off the floor."""

    points: dict[str, Point]  # pelvis, neck, head, spine (the curve's control point), per-side joints
    lows: dict[str, float]  # height of each point's lowest edge above the floor (below it: negative)
    ground: dict[str, float]  # the page's y of the floor right under each point (0 unless side-lying)
    view: str
    nose: Point | None
    contacts: tuple[str, ...]  # the points that may bear weight, sides spelled out
    mat: tuple[float, float] | None  # side-lying: the floor is a mat from this y to that y


def _down(theta: float, length: float, at: Point) -> Point:
    """The point ``length`` from ``at`` in the direction ``theta`` measured from straight down."""
    r = math.radians(theta)
    return at[0] + length * math.sin(r), at[1] + length * math.cos(r)


def radius(name: str) -> float:
    """How far a point's drawing reaches beyond the point (the head is a disc)."""
    return HEAD if name == "head" else LIMB / 2


def _flat(pose: Pose, trunk: float, front: bool) -> dict[str, Point]:
    """Forward kinematics in the picture's plane, pelvis at (0, 0), y down."""
    t = trunk
    up = _down(180 - t, 1.0, (0.0, 0.0))
    normal = (math.cos(math.radians(t)), math.sin(math.radians(t)))  # toward the face (side one)
    pts: dict[str, Point] = {"pelvis": (0.0, 0.0), "neck": (up[0] * TRUNK, up[1] * TRUNK)}
    bend = pose.angle("spine")[0] / 45.0 * 0.35 * TRUNK
    pts["spine"] = (pts["neck"][0] / 2 - normal[0] * bend, pts["neck"][1] / 2 - normal[1] * bend)
    head_dir = 180 - t - pose.angle("neck")[0]
    pts["head"] = _down(head_dir, NECK + HEAD, pts["neck"])
    if not front:
        pts["nose"] = _down(head_dir - 90, HEAD + 3, pts["head"])
    for i, side in enumerate(SIDES):
        sign = -1.0 if front and i else 1.0
        offset = (sign * HALF_HIPS if front else 0.0, sign * HALF_SHOULDERS if front else 0.0)
        hip = (normal[0] * offset[0], normal[1] * offset[0])
        shoulder = (pts["neck"][0] + normal[0] * offset[1], pts["neck"][1] + normal[1] * offset[1])
        thigh = sign * pose.angle("hip")[i] - t
        shank = thigh - sign * pose.angle("knee")[i]
        arm = sign * pose.angle("shoulder")[i] - t
        pts[side + "hip"], pts[side + "shoulder"] = hip, shoulder
        pts[side + "knee"] = _down(thigh, THIGH, hip)
        pts[side + "heel"] = _down(shank, SHANK, pts[side + "knee"])
        toe = shank + sign * (90 - pose.angle("ankle")[i]) if not front else shank + sign * 75
        pts[side + "toe"] = _down(toe, FOOT if not front else FOOT * 0.6, pts[side + "heel"])
        pts[side + "elbow"] = _down(arm, UPPER_ARM, shoulder)
        pts[side + "hand"] = _down(arm + sign * pose.angle("elbow")[i], FOREARM, pts[side + "elbow"])
    return pts


def _turn(p: Point, deg: float) -> Point:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return p[0] * c - p[1] * s, p[0] * s + p[1] * c


def _level(pts: dict[str, Point], rest: tuple[tuple[str, float], ...]) -> float:
    """The turn (degrees, about the pelvis) that lays the two rest points level, y down."""
    (a, ha), (b, hb) = rest
    vx, vy = pts[b][0] - pts[a][0], pts[b][1] - pts[a][1]
    length = math.hypot(vx, vy)
    rise = ha - hb + radius(a) - radius(b)  # b sits this much lower on the page than a
    if length < 1e-6 or abs(rise) >= length:
        return 0.0
    want = (math.copysign(math.sqrt(length * length - rise * rise), vx or 1.0), rise)
    return math.degrees(math.atan2(want[1], want[0]) - math.atan2(vy, vx))


def _spelled(names: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        out += [name, "far-" + name] if name in JOINTS else [name]
    return tuple(out)


def _rests(pose: Pose) -> tuple[tuple[str, float], ...]:
    out = []
    for point, prop in pose.rest:
        height = 0.0 if prop is None else (2 * prop.w if prop.shape == "roller" else prop.h)
        out.append((point, height))
    return tuple(out)


def _put_down(pts: dict[str, Point], heights: dict[str, float], contacts: tuple[str, ...]) -> float:
    """The page's y of the floor: under the lowest contact, or its prop."""
    return max(pts[c][1] + radius(c) + heights.get(c, 0.0) for c in contacts if c in pts)


def skeleton(pose: Pose) -> Skeleton:
    """The points of a pose, put down on the floor (y down, floor at 0)."""
    if pose.body.view in FRAMES:
        return _lying_side(pose)
    front = pose.body.view == "front"
    pts = _flat(pose, pose.body.trunk + pose.angle("lean")[0], front)
    rest = _rests(pose)
    if rest:
        turn = _level(pts, rest)
        pts = {k: _turn(p, turn) for k, p in pts.items()}
    contacts = _spelled(pose.contacts)
    heights = dict(rest)
    floor = _put_down(pts, heights, contacts) + pose.rise
    pts = {k: (x, y - floor) for k, (x, y) in pts.items()}
    nose = pts.pop("nose", None)
    lows = {k: -(y + radius(k)) for k, (_, y) in pts.items() if k != "spine"}
    return Skeleton(pts, lows, dict.fromkeys(pts, 0.0), pose.body.view, nose, contacts, None)


# ----------------------------------------------------------------------------- lying on one side

def _add(a: Vec, b: Vec, k: float = 1.0) -> Vec:
    return a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2]


def _cross(a: Vec, b: Vec) -> Vec:
    return a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]


def _unit(a: Vec) -> Vec:
    n = math.sqrt(a[0] ** 2 + a[1] ** 2 + a[2] ** 2) or 1.0
    return a[0] / n, a[1] / n, a[2] / n


def _spin(p: Vec, origin: Vec, axis: Vec, deg: float) -> Vec:
    """``p`` turned by ``deg`` about the line through ``origin`` along ``axis`` (Rodrigues)."""
    k, v = _unit(axis), _add(p, origin, -1.0)
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    dot = k[0] * v[0] + k[1] * v[1] + k[2] * v[2]
    kv = _cross(k, v)
    r = tuple(v[i] * c + kv[i] * s + k[i] * dot * (1 - c) for i in range(3))
    return _add(origin, (r[0], r[1], r[2]))


def _lift(pts: dict[str, Vec], chain: tuple[str, ...], side: Vec, deg: float, clam: bool) -> None:
    """Turn a limb away from the body: about its root-to-end line (a bent leg's clamshell) or so its
    end rises toward ``side`` (a straight leg lifted, an arm opened)."""
    if not deg:
        return
    root, end = pts[chain[0]], pts[chain[-1] if clam else chain[1]]
    d = _add(end, root, -1.0)
    axis = d if clam else _cross(d, side)
    if math.sqrt(sum(x * x for x in axis)) < 1e-6:
        axis = _cross(side, (0.0, 0.0, 1.0))
    for name in chain[1:]:
        pts[name] = _spin(pts[name], root, axis, deg)


#: The body's axes in the world of the 3-D views (x along the floor, y up, z toward the viewer):
#: superior (toward the head), anterior (the way the face looks) and the near side.
FRAMES: dict[str, tuple[Vec, Vec, Vec]] = {
    "lying-side": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    "lying-back": ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "standing-turn": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
}
UPPER = ("neck", "head", "nose", "spine", "shoulder", "elbow", "hand", "far-shoulder", "far-elbow",
         "far-hand")
LEGS = ("hip", "knee", "heel", "toe", "far-hip", "far-knee", "far-heel", "far-toe")


def _turn_shank(pts: dict[str, Vec], side: str, lateral: Vec, deg: float) -> None:
    """Turn the hip (``hip_turn``): the shank and foot swing about the thigh's line; + is outward
    rotation, which carries a bent knee's foot toward the other leg (the figure-4)."""
    if not deg:
        return
    hip, knee = pts[side + "hip"], pts[side + "knee"]
    axis = _add(knee, hip, -1.0)
    swing = _cross(axis, _add(pts[side + "heel"], knee, -1.0))
    medial = -sum(swing[i] * lateral[i] for i in range(3))
    angle = deg if medial >= 0 else -deg
    for name in ("heel", "toe"):
        pts[side + name] = _spin(pts[side + name], knee, axis, angle)


def _lying_side(pose: Pose) -> Skeleton:
    """A body seen in depth (views lying-side, lying-back, standing-turn): 3-D points (x along the floor,
    y up, z toward the viewer), the limbs turned out of the body's plane, then projected."""
    view = pose.body.view
    superior, anterior, near = FRAMES[view]
    side_lean = view == "lying-side"  # lying on the side, lean bends the trunk sideways
    flat = _flat(pose, 0.0 if side_lean else pose.angle("lean")[0], False)

    def body(p: Point, lateral: float) -> Vec:
        return _add(_add(_add((0.0, 0.0, 0.0), near, lateral), anterior, p[0]), superior, -p[1])

    pts: dict[str, Vec] = {}
    for name, p in flat.items():
        sign = -1.0 if name.startswith("far-") else 1.0
        half = HALF_SHOULDERS if any(j in name for j in ("shoulder", "elbow", "hand")) else HALF_HIPS
        lateral = sign * half if name.removeprefix("far-") in JOINTS else 0.0
        pts[name] = body(p, lateral)
    for i, side in enumerate(SIDES):
        up = near if i == 0 else (-near[0], -near[1], -near[2])
        leg, arm = (side + "hip", side + "knee", side + "heel", side + "toe"), \
            (side + "shoulder", side + "elbow", side + "hand")
        _turn_shank(pts, side, up, pose.angle("hip_turn")[i])
        _lift(pts, leg, up, pose.angle("hip_out")[i], pose.angle("knee")[i] >= 45)
        _lift(pts, arm, up, pose.angle("arm_out")[i], False)
    inward = _cross(anterior, near)  # spinning about it carries the front toward the near side
    for names, key in ((UPPER, "twist"), (LEGS, "roll")):
        for name in names if pose.angle(key)[0] else ():
            pts[name] = _spin(pts[name], (0.0, 0.0, 0.0), inward, pose.angle(key)[0])
    if side_lean:
        for name in UPPER:
            pts[name] = _spin(pts[name], (0.0, 0.0, 0.0), anterior, -pose.angle("lean")[0])
    return _project(pose, pts)


def _project(pose: Pose, pts: dict[str, Vec]) -> Skeleton:
    """Rest the 3-D body on the floor and project it: seen from ``above`` degrees over the floor."""
    rest = _rests(pose)
    if rest:
        flat2 = {k: (v[0], -v[1]) for k, v in pts.items()}
        turn = _level(flat2, rest)
        pts = {k: _spin(v, (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), -turn) for k, v in pts.items()}
    contacts = _spelled(pose.contacts)
    heights = dict(rest)
    floor = min(v[1] - radius(k) - heights.get(k, 0.0) for k, v in pts.items() if k in contacts)
    pts = {k: (v[0], v[1] - floor + pose.rise, v[2]) for k, v in pts.items()}
    above = pose.body.above
    rise, elevation = (RISE, ELEVATION) if above is None else \
        (math.cos(math.radians(above)), math.sin(math.radians(above)))
    page = {k: (v[0] + SHEAR * v[2], -rise * v[1] + elevation * v[2]) for k, v in pts.items()}
    pts.pop("nose")
    nose: Point | None = page.pop("nose")
    if nose is not None and math.dist(nose, page["head"]) < HEAD + 1:
        nose = None  # the face looks at the viewer: no nose pokes out of the head
    lows = {k: v[1] - radius(k) for k, v in pts.items() if k != "spine"}
    ground = {k: elevation * v[2] for k, v in pts.items()}
    zs = [v[2] for v in pts.values()]
    mat = (elevation * (min(zs) - 8), elevation * (max(zs) + 8))
    return Skeleton(page, lows, ground, pose.body.view, nose, contacts, mat)
