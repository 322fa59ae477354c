"""Compose the peg-insertion scene with dm_control's mjcf from the pieces in ``sim_assets/``.

The arm is dm_control's Kinova Jaco entity (6 joints, velocity actuators with
the firmware's velocity and torque limits). The peg is welded to its flange;
the socket rides on a pan-tilt unit with stiff position servos.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import mujoco
import numpy as np

from robot_il.cell.config import PegConfig

ASSETS = resources.files("robot_il.sim_assets")

ARM = "jaco_arm"
JOINTS = tuple(f"joint_{i}" for i in range(1, 7))


def build_mjcf(cfg: PegConfig):  # -> mjcf.RootElement
    """The scene as an MJCF tree, with geometry and friction taken from ``cfg``."""
    from dm_control import mjcf

    arena, arm = build_arena_with_arm(cfg)
    peg = mjcf.from_path(str(ASSETS / "peg.xml"))
    shaft = peg.find("geom", "shaft")
    # The capsule's rounded end is the tip; fromto spans the cylinder part.
    shaft.fromto = (0, 0, 0.02, 0, 0, cfg.peg_length - cfg.peg_radius)
    shaft.size = (cfg.peg_radius,)
    shaft.friction = (cfg.friction, 0.005, 0.0001)
    peg.find("site", "tip").pos = (0, 0, cfg.peg_length)
    arm.wrist_site.attach(peg)

    ptu = load_pan_tilt(arena, cfg)
    _size_socket(ptu, cfg)
    arena.find("site", "pan_tilt_mount").attach(ptu)
    return arena


def build_arena_with_arm(cfg):  # -> (mjcf.RootElement, JacoArm)
    """The arena with the Jaco arm mounted (velocity bounds and gravity compensation from ``cfg``), no tool."""
    from dm_control import mjcf
    from dm_control.entities.manipulators.kinova import jaco_arm

    arena = mjcf.from_path(str(ASSETS / "arena.xml"))
    arena.option.timestep = cfg.physics_timestep

    arm = jaco_arm.JacoArm(name=ARM)
    if cfg.gravity_compensation:
        for body in arm.mjcf_model.find_all("body"):
            body.gravcomp = 1
    for joint, vmax in zip(arm.joints, cfg.max_joint_velocity, strict=True):
        act = arm.mjcf_model.find("actuator", joint.name)
        act.ctrlrange = (-vmax, vmax)
    arena.find("site", "arm_mount").attach(arm.mjcf_model)
    return arena, arm


def load_pan_tilt(arena, cfg):  # -> mjcf.RootElement
    """The pan-tilt unit sized by ``cfg.tilt_center`` and ``cfg.hole_offset``, with the arena's
    ``pan_tilt_mount`` moved under the tilt centre (attach it there once its socket's insert is in)."""
    from dm_control import mjcf

    ptu = mjcf.from_path(str(ASSETS / "pan_tilt_socket.xml"))
    cx, cy, cz = cfg.tilt_center
    arena.find("site", "pan_tilt_mount").pos = (cx, cy, 0.0)
    ptu.find("body", "pan_link").pos = (0, 0, cz - 0.05)
    ptu.find("geom", "pedestal").size = (0.04, (cz - 0.07) / 2)
    ptu.find("geom", "pedestal").pos = (0, 0, (cz - 0.07) / 2)
    ptu.find("body", "socket").pos = (-cfg.hole_offset, 0, 0)
    return ptu


def _size_socket(ptu, cfg: PegConfig) -> None:
    """Four walls around a square hole of half-width ``peg_radius + clearance`` and a bottom."""
    w, d, t = cfg.hole_half_width, cfg.hole_depth, 0.02  # t: wall thickness
    outer = w + t
    walls = {
        "wall_px": ((w + t / 2, 0, d / 2), (t / 2, outer, d / 2)),
        "wall_nx": ((-w - t / 2, 0, d / 2), (t / 2, outer, d / 2)),
        "wall_py": ((0, w + t / 2, d / 2), (w, t / 2, d / 2)),
        "wall_ny": ((0, -w - t / 2, d / 2), (w, t / 2, d / 2)),
        "bottom": ((0, 0, d + t / 4), (outer, outer, t / 4)),
    }
    for name, (pos, size) in walls.items():
        geom = ptu.find("geom", name)
        geom.pos, geom.size = pos, size
        geom.friction = (cfg.friction, 0.005, 0.0001)


Index = slice | np.ndarray


def _contiguous(ids: list[int] | np.ndarray) -> Index:
    """A slice where the addresses are consecutive: a view instead of a fancy-indexed copy."""
    ids = np.asarray(ids)
    if len(ids) and np.all(np.diff(ids) == 1):
        return slice(int(ids[0]), int(ids[-1]) + 1)
    return ids


@dataclass(frozen=True)
class SceneIndex:
    """Addresses in the compiled model, resolved once so the hot loop does no name look-ups."""

    arm_qpos: Index
    arm_dof: Index
    arm_ctrl: Index
    ptu_qpos: Index
    ptu_dof: Index
    ptu_ctrl: Index
    tip_site: int
    hole_site: int
    socket_body: int
    peg_body: int
    torque_sensor_adr: np.ndarray
    joint_axes: np.ndarray


def compile_scene(cfg: PegConfig) -> tuple[mujoco.MjModel, SceneIndex]:
    """Build and compile the cell's scene (the clip cell's for a ClipConfig); return the model and its index."""
    from robot_il.cell.clip_config import ClipConfig

    if isinstance(cfg, ClipConfig):
        from robot_il.cell.clip_scene import compile_clip_scene

        return compile_clip_scene(cfg)
    root = build_mjcf(cfg)
    model = mujoco.MjModel.from_xml_string(root.to_xml_string(), root.get_assets())
    return model, index_scene(model)


def index_scene(model: mujoco.MjModel, tool: str = "peg", tool_geom: str = "shaft") -> SceneIndex:
    """Addresses of the arm, the pan-tilt unit and the tool ``tool`` (its ``tip`` site and the body of its geom
    ``tool_geom``)."""

    def jid(name: str) -> int:
        return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)

    arm_j = [jid(f"{ARM}/{j}") for j in JOINTS]
    ptu_j = [jid("pan_tilt/pan"), jid("pan_tilt/tilt")]
    act = lambda n: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, n)  # noqa: E731
    sensors = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, f"{ARM}/{j}_torque") for j in JOINTS]
    tool_geom_name = f"{ARM}/{tool}/{tool_geom}"
    return SceneIndex(
        arm_qpos=_contiguous(model.jnt_qposadr[arm_j]),
        arm_dof=_contiguous(model.jnt_dofadr[arm_j]),
        arm_ctrl=_contiguous([act(f"{ARM}/{j}") for j in JOINTS]),
        ptu_qpos=_contiguous(model.jnt_qposadr[ptu_j]),
        ptu_dof=_contiguous(model.jnt_dofadr[ptu_j]),
        ptu_ctrl=_contiguous([act("pan_tilt/pan"), act("pan_tilt/tilt")]),
        tip_site=mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, f"{ARM}/{tool}/tip"),
        hole_site=mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "pan_tilt/hole"),
        socket_body=mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "pan_tilt/socket"),
        peg_body=int(model.geom_bodyid[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, tool_geom_name)]),
        torque_sensor_adr=model.sensor_adr[sensors].copy(),
        joint_axes=model.jnt_axis[arm_j].copy(),
    )
