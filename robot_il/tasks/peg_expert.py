"""Scripted expert for peg insertion: Cartesian servoing along the hole's axis.

The expert is a function of the HAL observation (joint angles and the socket
quaternion) plus privileged knowledge of the cell's geometry; it computes the
arm's kinematics with its own MuJoCo model of the cell. It therefore drives any
backend of the same cell (direct simulation or the ROS 2 sim bridge) and can
be queried at arbitrary states, as DAgger and AggreVaTeD need.

The control law is stateless: while the peg is misaligned with the hole's axis
or off it laterally, the tip is servoed to a stand-off point in front of the
mouth; once aligned and centred, it is servoed along the axis to just past the
success depth. A peg that jams is therefore pulled back and re-aligned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_il.cell.config import PegConfig
from robot_il.hal.base import Observation
from robot_il.tasks.peg_insertion import PegInsertionTask


@dataclass(frozen=True)
class ExpertGains:
    standoff: float = 0.02
    """Distance in front of the mouth where the peg lines up, m."""
    kp: float = 5.0
    """Tip position gain, 1/s."""
    kr: float = 4.0
    """Peg axis alignment gain, 1/s."""
    max_speed: float = 0.10
    """Tip speed limit in free space, m/s."""
    insert_speed: float = 0.02
    """Axial tip speed limit near and in the hole, m/s."""
    max_rate: float = 0.5
    """Peg angular speed limit, rad/s."""
    align_tol: float = 0.02
    """Peg-to-axis angle below which insertion may proceed, rad."""
    lateral_tol: float = 0.001
    """Tip-to-axis distance below which insertion may proceed, m."""
    damping: float = 0.02
    """Damped least squares regulariser."""


class ScriptedPegExpert:
    """Maps an observation to the joint velocities (rad/s) that insert the peg."""

    def __init__(self, cfg: PegConfig | None = None, gains: ExpertGains | None = None) -> None:
        self.cfg = cfg or PegConfig()
        self.gains = gains or ExpertGains()
        self.task = PegInsertionTask(self.cfg)
        self.kinematics = self.cfg.arm_model()
        self._vmax = np.asarray(self.cfg.velocity_bounds)
        self._home = np.asarray(self.cfg.home)

    def __call__(self, obs: Observation) -> np.ndarray:
        return self.act(obs)

    def act(self, obs: Observation) -> np.ndarray:
        g = self.gains
        tip, peg_dir, jac = self.kinematics.tip(obs.joint_positions)

        frame = self.task.hole_frame(obs)
        misalign = float(np.arccos(np.clip(peg_dir @ frame.axis, -1.0, 1.0)))

        rot_err = np.cross(peg_dir, frame.axis)
        posture = posture_velocity(obs.joint_positions, self._home, jac)
        return servo_along_axis(
            g, frame, tip, rot_err, misalign, self.cfg.success_depth + 0.005, jac, self._vmax, posture
        )


def posture_velocity(q: np.ndarray, home: np.ndarray, jac: np.ndarray, gain: float = 0.5) -> np.ndarray | None:
    """A redundant arm's (n > 6) self-motion towards the home posture, in the Jacobian's null space, so that
    the spare joint does not drift to its limit over an episode; None for a 6-joint arm (it has no spare)."""
    if jac.shape[1] <= 6:
        return None
    null = np.eye(jac.shape[1]) - np.linalg.pinv(jac) @ jac
    return null @ (gain * (home - q))


def servo_along_axis(
    g: ExpertGains,
    frame: Any,
    tip: np.ndarray,
    rot_err: np.ndarray,
    misalign: float,
    inserted_depth: float,
    jac: np.ndarray,
    vmax: np.ndarray,
    posture: np.ndarray | None = None,
) -> np.ndarray:
    """The scripted experts' servo (peg and clip): joint velocities that move the tip along the hole's axis.

    The tip holds a stand-off point in front of the mouth (``frame``: mouth and axis) until the part is lined
    up (``misalign``, rad; the tip's distance from the axis), then goes to ``inserted_depth`` along the axis;
    the lateral error is servoed out and the part turned at ``g.kr * rot_err``. The Cartesian twist maps to
    joint velocities by damped least squares on ``jac`` (plus ``posture``, a self-motion of a redundant arm
    that leaves the tip alone) and is scaled as a whole into ``vmax``.
    """
    depth, lateral_vec = frame.offset(tip)
    lateral = float(np.linalg.norm(lateral_vec))
    # How deep the tip may go: all the way once lined up, else back to the stand-off point.
    if depth < -g.standoff:
        lined_up = misalign < 5 * g.align_tol and lateral < 10 * g.lateral_tol
    elif depth < 0.0:
        lined_up = misalign < g.align_tol and lateral < g.lateral_tol
    else:  # inside, the walls (peg) or the lips (clip) centre the part; only a tilted or twisted one jams
        lined_up = misalign < 2 * g.align_tol
    goal_depth = inserted_depth if lined_up else -g.standoff
    axial_speed = g.max_speed if depth < -2 * g.standoff else g.insert_speed
    v_axial = float(np.clip(g.kp * (goal_depth - depth), -axial_speed, axial_speed))
    v_lateral = -g.kp * lateral_vec
    lat_speed = np.linalg.norm(v_lateral)
    if lat_speed > g.max_speed:
        v_lateral *= g.max_speed / lat_speed
    v = v_axial * frame.axis + v_lateral
    w = g.kr * rot_err
    rate = np.linalg.norm(w)
    if rate > g.max_rate:
        w *= g.max_rate / rate

    twist = np.concatenate([v, w])
    qdot = jac.T @ np.linalg.solve(jac @ jac.T + g.damping**2 * np.eye(6), twist)
    if posture is not None:
        qdot = qdot + posture
    # Scale the whole command (not each joint) so the tip keeps its direction.
    scale = np.max(np.abs(qdot) / vmax)
    if scale > 1.0:
        qdot /= scale
    return np.clip(qdot, -vmax, vmax)  # guards against rounding past the bound
