"""Scripted expert for clip insertion: Cartesian servoing of the clip's full pose along the plug's axis.

As the peg expert (:mod:`robot_il.tasks.peg_expert`), a stateless function of
the HAL observation plus privileged knowledge of the cell's geometry, with the
arm's kinematics from its own model of the cell; so it drives any backend of
the clip cell and answers at arbitrary states (DAgger, AggreVaTeD).

The clip is flat, so unlike the round peg its roll matters: the expert aligns
the clip's axis with the plug's and its legs with the slot (either way round:
the clip is symmetric). While misaligned or off the axis it holds a stand-off
point in front of the mouth; once lined up it pushes along the axis, slowly,
to just past the latch depth: the lips flex the legs, the barbs snap behind
them, and the task ends in success.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_il.cell.clip_config import ClipConfig
from robot_il.cell.kinematics import CellKinematics
from robot_il.hal.base import Observation
from robot_il.tasks.clip_insertion import ClipInsertionTask


@dataclass(frozen=True)
class ClipExpertGains:
    standoff: float = 0.02
    """Distance in front of the mouth where the clip lines up, m."""
    kp: float = 5.0
    """Tip position gain, 1/s."""
    kr: float = 4.0
    """Orientation gain, 1/s."""
    max_speed: float = 0.10
    """Tip speed limit in free space, m/s."""
    insert_speed: float = 0.02
    """Axial tip speed limit near and in the plug, m/s."""
    max_rate: float = 0.5
    """Clip angular speed limit, rad/s."""
    align_tol: float = 0.02
    """Orientation error (axis and roll) below which insertion may proceed, rad."""
    lateral_tol: float = 0.001
    """Tip-to-axis distance below which insertion may proceed, m."""
    overshoot: float = 0.004
    """How far past the latch depth the expert aims, m (short of the head's stop at ``leg_length``)."""
    damping: float = 0.02
    """Damped least squares regulariser."""


class ScriptedClipExpert:
    """Maps an observation to the joint velocities (rad/s) that snap the clip into the plug."""

    def __init__(self, cfg: ClipConfig | None = None, gains: ClipExpertGains | None = None) -> None:
        self.cfg = cfg or ClipConfig()
        self.gains = gains or ClipExpertGains()
        self.task = ClipInsertionTask(self.cfg)
        self.kinematics = CellKinematics(self.cfg)  # type: ignore[arg-type]  (a ClipConfig builds the clip cell)
        self._vmax = np.asarray(self.cfg.max_joint_velocity)

    def __call__(self, obs: Observation) -> np.ndarray:
        return self.act(obs)

    def act(self, obs: Observation) -> np.ndarray:
        g = self.gains
        tip, rot, jac = self.kinematics.tip_frame(obs.joint_positions)

        frame = self.task.hole_frame(obs)
        slot = self.task.slot_axis(obs)
        # The clip is symmetric under a half turn about its axis: aim its legs along the nearer of ±slot.
        if rot[:, 0] @ slot < 0:
            slot = -slot
        goal_rot = np.column_stack([slot, np.cross(frame.axis, slot), frame.axis])
        # Rotation error as an angular velocity direction (small-angle: half the sum of column cross products).
        err = 0.5 * sum(np.cross(rot[:, i], goal_rot[:, i]) for i in range(3))
        misalign = float(np.linalg.norm(err))

        rel = tip - frame.mouth
        depth = float(rel @ frame.axis)
        lateral_vec = rel - depth * frame.axis
        lateral = float(np.linalg.norm(lateral_vec))

        if depth < -g.standoff:
            lined_up = misalign < 5 * g.align_tol and lateral < 10 * g.lateral_tol
        elif depth < 0.0:
            lined_up = misalign < g.align_tol and lateral < g.lateral_tol
        else:  # between the lips the legs centre the clip; only a twisted or tilted clip jams
            lined_up = misalign < 2 * g.align_tol
        goal_depth = self.cfg.latch_depth + g.overshoot if lined_up else -g.standoff
        axial_speed = g.max_speed if depth < -2 * g.standoff else g.insert_speed
        v_axial = float(np.clip(g.kp * (goal_depth - depth), -axial_speed, axial_speed))
        v_lateral = -g.kp * lateral_vec
        lat_speed = np.linalg.norm(v_lateral)
        if lat_speed > g.max_speed:
            v_lateral *= g.max_speed / lat_speed
        w = g.kr * err
        rate = np.linalg.norm(w)
        if rate > g.max_rate:
            w *= g.max_rate / rate

        twist = np.concatenate([v_axial * frame.axis + v_lateral, w])
        qdot = jac.T @ np.linalg.solve(jac @ jac.T + g.damping**2 * np.eye(6), twist)
        # Scale the whole command (not each joint) so the tip keeps its direction.
        scale = np.max(np.abs(qdot) / self._vmax)
        if scale > 1.0:
            qdot /= scale
        return np.clip(qdot, -self._vmax, self._vmax)
