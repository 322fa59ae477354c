"""The MuJoCo backend of the HAL: the cell's arm (``PegConfig.arm``) and the pan-tilt socket in one simulation.

``SimPegRobot.send_action`` applies the command for one control period and
advances the physics by that period (``PegConfig.substeps`` MuJoCo steps), so
simulated time runs in lock-step with the caller's control loop. ``reset``
puts the whole cell back at rest: the arm at home and the pan-tilt unit at its
last commanded angles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from robot_il.arm import ArmModel
from robot_il.cell.config import PegConfig
from robot_il.cell.scene import SceneIndex, compile_scene
from robot_il.config import from_dict
from robot_il.hal.base import Observation, PanTilt, Robot, RobotSpec, observation_fields
from robot_il.hal.factory import Backend

_STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


@dataclass(frozen=True)
class SimState:
    """A saved cell: MuJoCo's integration state (time, qpos, qvel, act, warm start, ctrl, applied forces,
    mocap, ...) and the pan-tilt target. Plain arrays: it pickles and crosses processes."""

    physics: np.ndarray
    ptu_target: np.ndarray
    model_signature: tuple[int, int, int]
    """(nq, nv, state size) of the model it came from, to refuse a state from another cell."""


class SimCell:
    """The compiled model and its state, shared by the cell's robot and pan-tilt."""

    def __init__(self, cfg: PegConfig, compile: Callable = compile_scene) -> None:
        self.cfg = cfg
        self.model: mujoco.MjModel
        self.data: mujoco.MjData
        self.index: SceneIndex
        self.model, self.index = compile(cfg)
        self.home = np.asarray(cfg.home, dtype=np.float64)
        self.data = mujoco.MjData(self.model)
        self.ptu_target = np.zeros(2)

    def rest(self) -> None:
        """Arm at home and still, pan-tilt at its target, time zero."""
        m, d, ix = self.model, self.data, self.index
        mujoco.mj_resetData(m, d)
        d.qpos[ix.arm_qpos] = self.home
        d.qpos[ix.ptu_qpos] = self.ptu_target
        d.ctrl[ix.ptu_ctrl] = self.ptu_target
        mujoco.mj_forward(m, d)

    def get_state(self) -> SimState:
        m, d = self.model, self.data
        size = mujoco.mj_stateSize(m, _STATE_SPEC)
        physics = np.empty(size)
        mujoco.mj_getState(m, d, physics, _STATE_SPEC)
        return SimState(physics, self.ptu_target.copy(), (m.nq, m.nv, size))

    def set_state(self, state: SimState) -> None:
        m, d = self.model, self.data
        signature = (m.nq, m.nv, mujoco.mj_stateSize(m, _STATE_SPEC))
        if tuple(state.model_signature) != signature:
            raise ValueError(
                f"simulator state from another model (nq, nv, size {tuple(state.model_signature)}; this cell's "
                f"{signature}): save and restore states within one cell config"
            )
        mujoco.mj_setState(m, d, np.asarray(state.physics, dtype=np.float64), _STATE_SPEC)
        self.ptu_target = np.array(state.ptu_target, dtype=np.float64)
        # Derived quantities (frames, contacts, actuator forces) from the restored state; the warm start and
        # everything else the next step integrates from are part of the state, so the physics replays exactly.
        mujoco.mj_forward(m, d)


class SimPegRobot(Robot):
    """The cell's arm holding the peg, commanded in joint velocities."""

    compile_scene: Callable = staticmethod(compile_scene)
    """Builds the cell's scene from its config: the peg cell's (the clip backend's is the clip cell's)."""

    def __init__(self, cfg: PegConfig, name: str = "sim:peg") -> None:
        super().__init__()
        self.cfg = cfg
        self._cell: SimCell | None = None
        arm = cfg.sim_arm
        bounds = np.asarray(cfg.velocity_bounds, dtype=np.float64)
        self._spec = RobotSpec(
            name=name,
            joint_names=tuple(j.name for j in arm.model().limits),
            observation=observation_fields(arm.num_joints, arm.effort_unit),
            action_low=-bounds,
            action_high=bounds,
            control_rate_hz=cfg.control_rate_hz,
            home_joint_positions=np.asarray(cfg.home, dtype=np.float64),
            resets_itself=True,
            arm=arm.name,
            effort_unit=arm.effort_unit,
        )

    @property
    def spec(self) -> RobotSpec:
        return self._spec

    @property
    def kinematics(self) -> ArmModel:
        """The arm's model with the cell's tool: what the expert and the safety filter compute tip motion with."""
        return self.cfg.arm_model()

    @property
    def limits_hint(self) -> str:
        return "sim"

    @property
    def cell(self) -> SimCell:
        """The simulated cell (compiled on connect); privileged state for experts and tests."""
        if self._cell is None:
            self._cell = SimCell(self.cfg, self.compile_scene)
        return self._cell

    def _connect(self) -> None:
        self.cell.rest()

    def _close(self) -> None:
        """Nothing to release: the model stays for a later connect()."""

    def _observe(self) -> Observation:
        c = self.cell
        d, ix = c.data, c.index
        quat = d.xquat[ix.socket_body]
        return Observation(
            joint_positions=d.qpos[ix.arm_qpos],
            joint_velocities=d.qvel[ix.arm_dof],
            joint_efforts=d.qfrc_actuator[ix.arm_dof],
            ee_position=d.site_xpos[ix.tip_site],
            socket_quat=quat if quat[0] >= 0 else -quat,
            pan_tilt=d.qpos[ix.ptu_qpos],
            timestamp=float(d.time),
        )

    def _wrench(self) -> np.ndarray:
        """Contact force and torque on the peg, about its tip, in the tool frame's axes: a flange F/T sensor
        (contacts only: the simulated sensor has no bias to zero)."""
        c = self.cell
        m, d = c.model, c.data
        total = np.zeros(6)
        local = np.zeros(6)
        tip = d.site_xpos[c.index.tip_site]
        for i in range(d.ncon):
            con = d.contact[i]
            b1, b2 = m.geom_bodyid[con.geom1], m.geom_bodyid[con.geom2]
            if c.index.peg_body not in (b1, b2):
                continue
            mujoco.mj_contactForce(m, d, i, local)
            frame = con.frame.reshape(3, 3)  # rows: contact normal and tangents, world frame
            force = frame.T @ local[:3]  # force on geom2's body, from geom1's
            if b1 == c.index.peg_body:
                force = -force
            total[:3] += force
            total[3:] += np.cross(con.pos - tip, force)
        return to_tool_frame(total, d.site_xmat[c.index.tip_site])

    def _apply(self, joint_velocities: np.ndarray) -> None:
        c = self.cell
        c.data.ctrl[c.index.arm_ctrl] = joint_velocities
        mujoco.mj_step(c.model, c.data, nstep=self.cfg.substeps)
        # mj_step leaves positions one sub-step ahead of the derived frames; refresh the frames.
        mujoco.mj_kinematics(c.model, c.data)

    def _reset(self) -> Observation:
        self.cell.rest()
        return self._observe()

    def get_state(self) -> SimState:
        """The whole simulated cell, to restore with :meth:`set_state` (exact: the same commands replay the
        same trajectory bit for bit)."""
        self._require_connected("get_state")
        return self.cell.get_state()

    def set_state(self, state: SimState) -> None:
        """Put the cell back to a state from :meth:`get_state` (of this cell's model)."""
        self._require_connected("set_state")
        self.cell.set_state(state)


def to_tool_frame(wrench: np.ndarray, tool_xmat: np.ndarray) -> np.ndarray:
    """A wrench in base-frame axes turned into the tool frame's (``tool_xmat``: the tip site's, row-major)."""
    r = tool_xmat.reshape(3, 3)
    return np.concatenate([r.T @ wrench[:3], r.T @ wrench[3:]])


class SimPanTilt(PanTilt):
    """The socket's pan-tilt unit: stiff position servos on the pan and tilt joints."""

    def __init__(self, robot: SimPegRobot) -> None:
        self._robot = robot  # the robot owns the simulated cell (compiled on connect)

    @property
    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        m, ix = self._robot.cell.model, self._robot.cell.index
        pan, tilt = m.actuator_ctrlrange[ix.ptu_ctrl]
        return (float(pan[0]), float(pan[1])), (float(tilt[0]), float(tilt[1]))

    def get(self) -> tuple[float, float]:
        pan, tilt = self._robot.cell.data.qpos[self._robot.cell.index.ptu_qpos]
        return float(pan), float(tilt)

    def _set(self, pan: float, tilt: float) -> None:
        """The simulated unit arrives at once (and its servos then hold it there)."""
        cell = self._robot.cell
        cell.ptu_target = np.array([pan, tilt])
        cell.data.ctrl[cell.index.ptu_ctrl] = cell.ptu_target
        cell.data.qpos[cell.index.ptu_qpos] = cell.ptu_target
        cell.data.qvel[cell.index.ptu_dof] = 0.0
        mujoco.mj_forward(cell.model, cell.data)


def build(config: PegConfig | dict | None = None) -> Backend:
    """Factory entry for ``sim:peg``: a PegConfig, a mapping of its fields, or None for defaults."""
    if isinstance(config, PegConfig):
        cfg = config
    else:
        cfg = from_dict(PegConfig, config or {})
    robot = SimPegRobot(cfg)
    return Backend(name="sim:peg", robot=robot, pan_tilt=SimPanTilt(robot))
