"""The peg-insertion task: randomise the socket, detect success and the end of an episode.

The task reads only the HAL observation, so it runs unchanged on the MuJoCo
backend and on hardware. The hole frame follows from the observed socket
quaternion and the cell's geometry (``PegConfig.fixture_position`` and
``hole_offset``): the socket's +z axis is the insertion direction and the hole's
mouth lies ``hole_offset`` behind the tilt centre along it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robot_il.cell.config import PegConfig
from robot_il.hal.base import Observation, PanTilt
from robot_il.tasks.base import EndReason, StepOutcome


def _axis_z(q: np.ndarray) -> tuple[float, float, float]:
    w, x, y, z = q.tolist()
    s = 2.0 / (w * w + x * x + y * y + z * z)  # also right for a quaternion that is not quite unit
    return s * (x * z + y * w), s * (y * z - x * w), 1.0 - s * (x * x + y * y)


def quat_axis_z(q: np.ndarray) -> np.ndarray:
    """The rotated z axis (third column of the rotation matrix) of a quaternion (w, x, y, z)."""
    return np.array(_axis_z(q))


@dataclass(frozen=True)
class HoleFrame:
    mouth: np.ndarray
    """Centre of the hole's mouth, base frame, m."""
    axis: np.ndarray
    """Unit insertion direction, base frame."""

    def offset(self, point: np.ndarray) -> tuple[float, np.ndarray]:
        """``point``'s depth past the mouth along the axis, m (negative: in front of it), and its offset from
        the axis, a base-frame vector."""
        rel = point - self.mouth
        depth = float(rel @ self.axis)
        return depth, rel - depth * self.axis


class PegInsertionTask:
    """Rules of the peg-insertion episode (the GPRIL paper's peg task by default)."""

    def __init__(self, cfg: PegConfig | None = None) -> None:
        self.cfg = cfg or PegConfig()
        self._center = np.asarray(self.cfg.fixture_position, dtype=np.float64)
        self._box = self.cfg.workspace

    def sample_socket_pose(self, rng: np.random.Generator) -> tuple[float, float]:
        """Draw (pan, tilt) uniformly from the configured ranges; a zero-width range gives its value."""
        (p0, p1), (t0, t1) = self.cfg.pan_range, self.cfg.tilt_range
        return float(rng.uniform(p0, p1)), float(rng.uniform(t0, t1))

    def randomize(self, pan_tilt: PanTilt, rng: np.random.Generator) -> tuple[float, float]:
        """Move the socket to a random pose for a new episode and return it."""
        pan, tilt = self.sample_socket_pose(rng)
        pan_tilt.set(pan, tilt)
        return pan, tilt

    def hole_frame(self, obs: Observation) -> HoleFrame:
        axis = quat_axis_z(obs.socket_quat)
        return HoleFrame(mouth=self._center - self.cfg.hole_offset * axis, axis=axis)

    def tip_in_hole(self, obs: Observation) -> tuple[float, float]:
        """(depth, lateral) of the peg tip in the hole frame, m."""
        # Runs every control step: plain floats beat numpy calls on 3-vectors by ~10x.
        ax, ay, az = _axis_z(obs.socket_quat)
        cx, cy, cz = self._center.tolist()
        off = self.cfg.hole_offset
        px, py, pz = obs.ee_position.tolist()
        rx, ry, rz = px - (cx - off * ax), py - (cy - off * ay), pz - (cz - off * az)
        depth = rx * ax + ry * ay + rz * az
        lateral = math.sqrt(max(rx * rx + ry * ry + rz * rz - depth * depth, 0.0))
        return depth, lateral

    def is_success(self, obs: Observation) -> bool:
        depth, lateral = self.tip_in_hole(obs)
        return depth >= self.cfg.success_depth and lateral <= self.cfg.hole_half_width

    def in_workspace(self, obs: Observation) -> bool:
        p = obs.ee_position.tolist()
        low, high = self._box
        return low[0] <= p[0] <= high[0] and low[1] <= p[1] <= high[1] and low[2] <= p[2] <= high[2]

    def evaluate(self, obs: Observation, elapsed: float) -> StepOutcome:
        """Judge the state reached after ``elapsed`` seconds of the episode."""
        depth, lateral = self.tip_in_hole(obs)
        success = depth >= self.cfg.success_depth and lateral <= self.cfg.hole_half_width
        if success:
            reason: EndReason = "success"
        elif not self.in_workspace(obs):
            reason = "left_workspace"
        elif elapsed >= self.cfg.episode_seconds - 1e-9:
            reason = "time_limit"
        else:
            reason = ""
        return StepOutcome(
            success=success,
            terminated=reason in ("success", "left_workspace"),
            truncated=reason == "time_limit",
            reason=reason,
            depth=depth,
            lateral=lateral,
            margin=depth - self.cfg.success_depth,
        )
