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
from robot_il.hal.base import Observation
from robot_il.tasks.clip_insertion import ClipInsertionTask
from robot_il.tasks.peg_expert import ExpertGains, posture_velocity, servo_along_axis
from robot_il.tasks.peg_insertion import HoleFrame


@dataclass(frozen=True)
class ClipExpertGains(ExpertGains):
    """The peg expert's gains and tolerances (the same values: stand-off, servo gains, speed limits; for the
    flat clip ``kr`` and ``align_tol`` cover the roll too), and how far past the latch depth to aim."""

    overshoot: float = 0.004
    """How far past the latch depth the expert aims, m (short of the head's stop at ``leg_length``)."""


class ScriptedClipExpert:
    """Maps an observation to the joint velocities (rad/s) that snap the clip into the plug."""

    def __init__(self, cfg: ClipConfig | None = None, gains: ClipExpertGains | None = None) -> None:
        self.cfg = cfg or ClipConfig()
        self.gains = gains or ClipExpertGains()
        self.task = ClipInsertionTask(self.cfg)
        self.kinematics = self.cfg.arm_model()
        self._vmax = np.asarray(self.cfg.velocity_bounds)
        self._home = np.asarray(self.cfg.home)

    def __call__(self, obs: Observation) -> np.ndarray:
        return self.act(obs)

    def pose_error(self, obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray, HoleFrame]:
        """The clip's tip, its rotation error (an angular velocity direction, rad) against the plug's axis and
        slot, the arm's Jacobian and the plug's frame: what :meth:`act` servoes out (and what a benchmark
        measures a learner's clip by)."""
        tip, rot, jac = self.kinematics.tip_frame(obs.joint_positions)
        frame = self.task.hole_frame(obs)
        slot = self.task.slot_axis(obs)
        # The clip is symmetric under a half turn about its axis: aim its legs along the nearer of ±slot.
        if rot[:, 0] @ slot < 0:
            slot = -slot
        goal_rot = np.column_stack([slot, np.cross(frame.axis, slot), frame.axis])
        # Rotation error as an angular velocity direction (small-angle: half the sum of column cross products).
        err = 0.5 * sum(np.cross(rot[:, i], goal_rot[:, i]) for i in range(3))
        return tip, err, jac, frame

    def act(self, obs: Observation) -> np.ndarray:
        g = self.gains
        tip, err, jac, frame = self.pose_error(obs)
        misalign = float(np.linalg.norm(err))
        inserted = self.cfg.latch_depth + g.overshoot
        posture = posture_velocity(obs.joint_positions, self._home, jac)
        return servo_along_axis(g, frame, tip, err, misalign, inserted, jac, self._vmax, posture)
