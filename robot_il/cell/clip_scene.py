"""Compose the clip-insertion scene: the peg cell's arena, arm and pan-tilt unit, with the clip
(``sim_assets/clip.xml``) on the flange and the plug (``sim_assets/clip_plug.xml``) in the socket.

The barbs are boxes laid along the lines of a triangular profile computed here
from :class:`ClipConfig` (lead-in ramp, crest, retention shoulder); the plug's
lips are capsules, so barb-lip contacts are box-capsule pairs, which MuJoCo
resolves smoothly as the crest slides over a lip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from robot_il.cell.arms import ArmEntity
from robot_il.cell.clip_config import ClipConfig
from robot_il.cell.scene import ASSETS, SceneIndex, build_arena_with_arm, index_scene, load_pan_tilt

LEGS = ("leg_px", "leg_nx")
"""The leg on the +x side of the clip's frame, then the one on the -x side."""
BARB_DEPTH = 0.0008
"""Thickness of the barb's boxes behind their outer faces, m."""
PLUG_WALL = 0.004
"""Thickness of the plug's walls, m."""
SOCKET_WALLS = ("wall_px", "wall_nx", "wall_py", "wall_ny", "bottom")
"""The peg socket's walls, removed from the pan-tilt unit's socket to make room for the plug."""


def _quat_y(angle: float) -> tuple[float, float, float, float]:
    return (math.cos(angle / 2), 0.0, math.sin(angle / 2), 0.0)


def _face_box(start: np.ndarray, end: np.ndarray, normal: np.ndarray, width: float):
    """(pos, size) of a box whose outer face (normal ``normal``, in x-z) spans ``start``-``end``."""
    length = float(np.linalg.norm(end - start))
    centre = (start + end) / 2 - normal * BARB_DEPTH / 2
    return (centre[0], 0.0, centre[1]), (BARB_DEPTH / 2, width / 2, length / 2)


def shape_clip(clip, cfg: ClipConfig, roll: float | None = None) -> None:
    """Size the clip model (``sim_assets/clip.xml``) from ``cfg``; ``roll`` turns it about the tool axis
    (default: the config's, which spreads the legs along the slot at the arm's home)."""
    roll = cfg.roll if roll is None else roll
    body = clip.find("body", "clip")
    body.quat = (math.cos(roll / 2), 0.0, 0.0, math.sin(roll / 2))
    hinge_z = cfg.clip_length - cfg.leg_length
    stem = clip.find("geom", "stem")
    stem.pos, stem.size = (0, 0, (0.02 + hinge_z) / 2), (0.004, 0.003, (hinge_z - 0.02) / 2)
    head = clip.find("geom", "head")
    head_x = cfg.neck_half_width + 0.004
    head.pos, head.size = (0, 0, hinge_z - 0.002), (head_x, cfg.slot_half_length + 0.002, 0.002)
    clip.find("site", "tip").pos = (0, 0, cfg.clip_length)

    t, h, ell = cfg.leg_thickness, cfg.barb_height, cfg.leg_length
    a, b = cfg.lead_angle, cfg.retention_angle
    crest = np.array([t / 2 + h, ell - cfg.ramp_length])  # (outward, along the leg), leg frame
    tip = np.array([0.0, ell])
    heel = np.array([0.0, ell - cfg.ramp_length - cfg.shoulder_length])
    ramp_pos, ramp_size = _face_box(tip, crest, np.array([math.cos(a), math.sin(a)]), cfg.leg_width)
    # Two boxes meeting at a crest sharper than their right-angled corners: the shoulder's box would poke its
    # inner corner out through the ramp (a step facing the lip on the way in, which jams). Start it a little
    # down the shoulder, where that corner lies under the ramp; the ramp box's end closes the crest.
    along = (heel - crest) / np.linalg.norm(heel - crest)
    setback = max(0.0, -BARB_DEPTH / math.tan(a + b)) + 1e-5
    sh_pos, sh_size = _face_box(crest + setback * along, heel, np.array([math.cos(b), -math.sin(b)]), cfg.leg_width)
    leg_top = heel[1]
    for name, side in zip(LEGS, (1.0, -1.0), strict=True):
        leg = clip.find("body", name)
        leg.pos = (side * cfg.leg_spacing, 0, hinge_z)
        joint = clip.find("joint", name)
        joint.axis = (0, side, 0)  # positive angles open the leg outward, negative ones flex it in
        joint.range = cfg.leg_range
        joint.stiffness, joint.damping, joint.armature = cfg.leg_stiffness, cfg.leg_damping, cfg.leg_armature
        geom = clip.find("geom", name)
        geom.pos, geom.size = (0, 0, leg_top / 2), (t / 2, cfg.leg_width / 2, leg_top / 2)
        ramp = clip.find("geom", name.replace("leg", "ramp"))
        ramp.pos, ramp.size, ramp.quat = (side * ramp_pos[0], 0, ramp_pos[2]), ramp_size, _quat_y(-side * a)
        shoulder = clip.find("geom", name.replace("leg", "shoulder"))
        shoulder.pos, shoulder.size, shoulder.quat = (side * sh_pos[0], 0, sh_pos[2]), sh_size, _quat_y(side * b)
    for geom in clip.find_all("geom"):
        if geom.name != "flange":
            geom.friction = (cfg.friction, 0.005, 0.0001)


def shape_plug(plug, cfg: ClipConfig) -> None:
    """Size the plug model (``sim_assets/clip_plug.xml``) from ``cfg``, in the mouth's frame."""
    lip, rho, wn, wc, depth, tw = (
        cfg.lip_thickness,
        cfg.lip_edge_radius,
        cfg.neck_half_width,
        cfg.cavity_half_width,
        cfg.cavity_depth,
        PLUG_WALL,
    )
    ys = cfg.slot_half_length
    span = ys + tw  # the lips and the x walls run across the whole slot, side walls included
    outer = wc + tw
    for name, side in (("px", 1.0), ("nx", -1.0)):
        # A lip's profile is a rectangle with rounded inner edges: an inner slab between the two edge capsules,
        # and the full-thickness face behind them.
        inner = plug.find("geom", f"lip_{name}")
        inner.pos, inner.size = (side * (wn + rho), 0, lip / 2), (rho, span, lip / 2 - rho)
        for edge, z in (("front", rho), ("back", lip - rho)):
            capsule = plug.find("geom", f"lip_{edge}_{name}")
            capsule.fromto, capsule.size = (side * (wn + rho), -span, z, side * (wn + rho), span, z), (rho,)
        face = plug.find("geom", f"face_{name}")
        face.pos, face.size = (side * (wn + rho + outer) / 2, 0, lip / 2), ((outer - wn - rho) / 2, span, lip / 2)
        wall = plug.find("geom", f"wall_{name}")
        wall.pos, wall.size = (side * (wc + tw / 2), 0, (lip + depth) / 2), (tw / 2, span, (depth - lip) / 2)
    for name, side in (("py", 1.0), ("ny", -1.0)):
        wall = plug.find("geom", f"wall_{name}")
        wall.pos, wall.size = (0, side * (ys + tw / 2), depth / 2), (outer, tw / 2, depth / 2)
    bottom = plug.find("geom", "bottom")
    bottom.pos, bottom.size = (0, 0, depth + tw / 2), (outer, span, tw / 2)
    for geom in plug.find_all("geom"):
        geom.friction = (cfg.friction, 0.005, 0.0001)


def load_clip(cfg: ClipConfig, roll: float | None = None):  # -> mjcf.RootElement
    from dm_control import mjcf

    clip = mjcf.from_path(str(ASSETS / "clip.xml"))
    shape_clip(clip, cfg, roll)
    return clip


def load_plug(cfg: ClipConfig):  # -> mjcf.RootElement
    from dm_control import mjcf

    plug = mjcf.from_path(str(ASSETS / "clip_plug.xml"))
    shape_plug(plug, cfg)
    return plug


def build_clip_mjcf(cfg: ClipConfig):  # -> (mjcf.RootElement, ArmEntity)
    """The clip cell as an MJCF tree: the clip on the arm's flange, the plug in the pan-tilt unit's socket."""
    arena, arm = build_arena_with_arm(cfg)
    arm.flange.attach(load_clip(cfg))
    ptu = load_pan_tilt(arena, cfg, arm)
    for name in SOCKET_WALLS:
        ptu.find("geom", name).remove()
    ptu.find("site", "hole").attach(load_plug(cfg))
    arena.find("site", "pan_tilt_mount").attach(ptu)
    return arena, arm


@dataclass(frozen=True)
class ClipSceneIndex(SceneIndex):
    """The peg cell's addresses (``peg_body`` is the clip's body) plus the clip's legs."""

    leg_qpos: np.ndarray
    """qpos addresses of the legs' hinges (+x leg, -x leg); angle 0 relaxed, negative flexed inward."""
    leg_dof: np.ndarray
    leg_bodies: tuple[int, int]
    tool_bodies: tuple[int, ...]
    """The clip's body and its legs: what the wrench sensor sums contacts on."""


def compile_clip_scene(cfg: ClipConfig) -> tuple[mujoco.MjModel, ClipSceneIndex]:
    root, arm = build_clip_mjcf(cfg)
    model = mujoco.MjModel.from_xml_string(root.to_xml_string(), root.get_assets())
    return model, index_clip_scene(model, arm)


def index_clip_scene(model: mujoco.MjModel, arm: ArmEntity) -> ClipSceneIndex:
    base = index_scene(model, arm, tool="clip", tool_geom="stem")
    joints = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, arm.scoped(f"clip/{leg}")) for leg in LEGS]
    legs = tuple(int(model.jnt_bodyid[j]) for j in joints)
    fields = {f: getattr(base, f) for f in SceneIndex.__dataclass_fields__}
    return ClipSceneIndex(
        **fields,
        leg_qpos=model.jnt_qposadr[joints].copy(),
        leg_dof=model.jnt_dofadr[joints].copy(),
        leg_bodies=legs,  # type: ignore[arg-type]
        tool_bodies=(base.peg_body, *legs),
    )
