"""Compose the cell from its parts with dm_control's mjcf: the arm (:mod:`robot_il.cell.arms`), a tool on its
flange, and the pan-tilt fixture with a socket insert, in the arena of ``sim_assets/``.

The parts of the peg cell are here (the peg and the socket's walls, sized from
:class:`PegConfig`); the clip cell's parts are in :mod:`robot_il.cell.clip_scene`,
which builds on this module. A new arm is an entry in :mod:`robot_il.arm.catalog`
(and its URDF); a new task is its own parts module and config.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import mujoco
import numpy as np

from robot_il.cell.arms import ARM_CONTYPE, ArmEntity, build_arm
from robot_il.cell.config import CellConfigBase, PegConfig

ASSETS = resources.files("robot_il.sim_assets")


def build_mjcf(cfg: PegConfig):  # -> (mjcf.RootElement, ArmEntity)
    """The peg cell as an MJCF tree, with geometry and friction taken from ``cfg``, and its arm."""
    from dm_control import mjcf

    arena, arm = build_arena_with_arm(cfg)
    peg = mjcf.from_path(str(ASSETS / "peg.xml"))
    shaft = peg.find("geom", "shaft")
    # The capsule's rounded end is the tip; fromto spans the cylinder part.
    shaft.fromto = (0, 0, 0.02, 0, 0, cfg.peg_length - cfg.peg_radius)
    shaft.size = (cfg.peg_radius,)
    shaft.friction = (cfg.friction, 0.005, 0.0001)
    peg.find("site", "tip").pos = (0, 0, cfg.peg_length)
    arm.flange.attach(peg)

    ptu = load_pan_tilt(arena, cfg, arm)
    _size_socket(ptu, cfg)
    arena.find("site", "pan_tilt_mount").attach(ptu)
    return arena, arm


def build_arena_with_arm(cfg: CellConfigBase):  # -> (mjcf.RootElement, ArmEntity)
    """The arena with the cell's arm mounted at its origin (velocity bounds and gravity compensation from
    ``cfg``), no tool."""
    from dm_control import mjcf

    arena = mjcf.from_path(str(ASSETS / "arena.xml"))
    arena.option.timestep = cfg.physics_timestep
    arm = build_arm(cfg.sim_arm, cfg.velocity_bounds, cfg.gravity_compensation)
    arena.find("site", "arm_mount").attach(arm.mjcf_model)
    if arm.arm.urdf is not None:  # the URDF arm's links touch the floor
        arena.find("geom", "floor").conaffinity = 1 | ARM_CONTYPE
    return arena, arm


def load_pan_tilt(arena, cfg: CellConfigBase, arm: ArmEntity):  # -> mjcf.RootElement
    """The pan-tilt unit mounted at the fixture's pose (``fixture_position``, ``fixture_rpy``), its pedestal down
    to the floor, the socket ``hole_offset`` in front of the tilt axis; attach it at the arena's
    ``pan_tilt_mount`` once its socket's insert is in."""
    from dm_control import mjcf

    ptu = mjcf.from_path(str(ASSETS / "pan_tilt_socket.xml"))
    cx, cy, cz = cfg.fixture_position
    mount = arena.find("site", "pan_tilt_mount")
    mount.pos = (cx, cy, cz)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, cfg.fixture_rotation.reshape(-1))
    mount.quat = quat
    ptu.find("body", "base").pos = (0, 0, -cz)
    ptu.find("body", "pan_link").pos = (0, 0, cz - 0.05)
    ptu.find("geom", "pedestal").size = (0.04, (cz - 0.07) / 2)
    ptu.find("geom", "pedestal").pos = (0, 0, (cz - 0.07) / 2)
    ptu.find("body", "socket").pos = (-cfg.hole_offset, 0, 0)
    if arm.arm.urdf is not None:
        for geom in ptu.find_all("geom"):
            geom.conaffinity = 1 | ARM_CONTYPE
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
    """The tool's body (the peg's, or the clip's stem)."""
    joint_axes: np.ndarray


def compile_scene(cfg: PegConfig) -> tuple[mujoco.MjModel, SceneIndex]:
    """Build and compile the peg cell's scene; return the model and its index."""
    root, arm = build_mjcf(cfg)
    model = mujoco.MjModel.from_xml_string(root.to_xml_string(), root.get_assets())
    return model, index_scene(model, arm)


def index_scene(model: mujoco.MjModel, arm: ArmEntity, tool: str = "peg", tool_geom: str = "shaft") -> SceneIndex:
    """Addresses of the arm, the pan-tilt unit and the tool ``tool`` on the arm's flange (its ``tip`` site and
    the body of its geom ``tool_geom``)."""

    def find(kind: mujoco.mjtObj, name: str) -> int:
        i = mujoco.mj_name2id(model, kind, name)
        if i < 0:
            raise KeyError(f"the compiled cell has no {kind.name[6:].lower()} {name!r}")
        return i

    arm_j = [find(mujoco.mjtObj.mjOBJ_JOINT, arm.scoped(j)) for j in arm.joints]
    ptu_j = [find(mujoco.mjtObj.mjOBJ_JOINT, "pan_tilt/pan"), find(mujoco.mjtObj.mjOBJ_JOINT, "pan_tilt/tilt")]
    act = lambda n: find(mujoco.mjtObj.mjOBJ_ACTUATOR, n)  # noqa: E731
    tool_geom_id = find(mujoco.mjtObj.mjOBJ_GEOM, arm.scoped(f"{tool}/{tool_geom}"))
    return SceneIndex(
        arm_qpos=_contiguous(model.jnt_qposadr[arm_j]),
        arm_dof=_contiguous(model.jnt_dofadr[arm_j]),
        arm_ctrl=_contiguous([act(arm.scoped(j)) for j in arm.joints]),
        ptu_qpos=_contiguous(model.jnt_qposadr[ptu_j]),
        ptu_dof=_contiguous(model.jnt_dofadr[ptu_j]),
        ptu_ctrl=_contiguous([act("pan_tilt/pan"), act("pan_tilt/tilt")]),
        tip_site=find(mujoco.mjtObj.mjOBJ_SITE, arm.scoped(f"{tool}/tip")),
        hole_site=find(mujoco.mjtObj.mjOBJ_SITE, "pan_tilt/hole"),
        socket_body=find(mujoco.mjtObj.mjOBJ_BODY, "pan_tilt/socket"),
        peg_body=int(model.geom_bodyid[tool_geom_id]),
        joint_axes=model.jnt_axis[arm_j].copy(),
    )
