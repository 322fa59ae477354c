"""Configuration of the peg-insertion cell: geometry, physics and task rules.

One closed dataclass serves the MuJoCo backend (which builds the scene from it),
the task (which computes the hole frame from the observed socket quaternion)
and the scripted expert. On hardware the same fields describe the calibrated
cell. Lengths in m, angles in rad, rates in Hz, times in s.
"""

from __future__ import annotations

from dataclasses import dataclass

from robot_il.config import (
    require_box,
    require_non_negative,
    require_positive,
    require_range,
)
from robot_il.errors import ConfigError

# Kinova Jaco firmware limits (dm_control's jaco_arm.py): 36 deg/s for the
# three large joints, 48 deg/s for the three small ones.
JACO_MAX_VELOCITY = (0.6283185, 0.6283185, 0.6283185, 0.8377580, 0.8377580, 0.8377580)

# Home pose (elbow up): peg level, pointing along +x, tip at (0.50, 0, 0.35) m,
# 0.15 m in front of the hole at zero pan and tilt.
JACO_HOME = (2.9656, 3.7323, 0.9710, 0.2153, -1.4163, 1.0920)


class CellConfigBase:
    """What every simulated cell's config (:class:`PegConfig`, ``ClipConfig``) shares: the checks of the
    control timing, pan-tilt ranges, episode length, workspace and the arm's joints, and the derived step counts.
    The fields themselves are the dataclasses'."""

    def validate_cell(self) -> None:
        require_positive("control_rate_hz", self.control_rate_hz)
        require_positive("physics_timestep", self.physics_timestep)
        period = 1.0 / self.control_rate_hz
        substeps = period / self.physics_timestep
        if substeps < 1 or abs(substeps - round(substeps)) > 1e-6:
            raise ConfigError(
                "physics_timestep",
                f"{self.physics_timestep} s does not divide the control period {period} s "
                f"(control_rate_hz={self.control_rate_hz}); pick a timestep that does",
            )
        require_range("pan_range", self.pan_range)
        require_range("tilt_range", self.tilt_range)
        require_positive("episode_seconds", self.episode_seconds)
        require_box("workspace", self.workspace_low, self.workspace_high, 3)
        if len(self.tilt_center) != 3:
            raise ConfigError("tilt_center", f"must be 3 numbers (x, y, z), got {self.tilt_center!r}")
        n = len(JACO_HOME)
        if len(self.home_joint_positions) != n:
            got = len(self.home_joint_positions)
            raise ConfigError("home_joint_positions", f"must have {n} joint angles, got {got}")
        if len(self.max_joint_velocity) != n:
            raise ConfigError("max_joint_velocity", f"must have {n} values, got {len(self.max_joint_velocity)}")
        for i, v in enumerate(self.max_joint_velocity):
            require_positive(f"max_joint_velocity[{i}]", v)

    @property
    def substeps(self) -> int:
        """Physics steps per control period."""
        return round(1.0 / (self.control_rate_hz * self.physics_timestep))

    @property
    def max_episode_steps(self) -> int:
        return round(self.episode_seconds * self.control_rate_hz)


@dataclass(frozen=True)
class PegConfig(CellConfigBase):
    """The simulated peg-insertion task (defaults: the GPRIL paper's peg task)."""

    control_rate_hz: float = 20.0
    """Rate of joint-velocity commands; the physics runs sub-steps in between."""
    physics_timestep: float = 0.002
    """MuJoCo integration step, s. Must divide the control period."""
    pan_range: tuple[float, float] = (-0.4, 0.4)
    """Pan of the socket, drawn uniformly each episode, rad."""
    tilt_range: tuple[float, float] = (-0.1, 0.1)
    """Tilt of the socket, drawn uniformly each episode, rad."""
    episode_seconds: float = 50.0
    """Time limit of an episode (truncation), s."""
    workspace_low: tuple[float, float, float] = (0.25, -0.35, 0.10)
    """Lower corner of the box the peg tip must stay in, base frame, m."""
    workspace_high: tuple[float, float, float] = (0.80, 0.35, 0.65)
    """Upper corner of that box, m."""
    peg_radius: float = 0.010
    """Radius of the peg's shaft, m."""
    peg_length: float = 0.10
    """Length from flange face to tip, m."""
    clearance: float = 0.0015
    """Gap between peg and hole wall on each side, m."""
    hole_depth: float = 0.05
    """Depth of the hole, m."""
    success_depth: float = 0.03
    """The tip must pass this far into the hole to count as inserted, m."""
    friction: float = 0.5
    """Sliding friction coefficient between peg and socket."""
    tilt_center: tuple[float, float, float] = (0.74, 0.0, 0.35)
    """Where the pan and tilt axes meet, base frame, m."""
    hole_offset: float = 0.09
    """Distance from the tilt centre to the hole's mouth (towards the arm), m."""
    home_joint_positions: tuple[float, ...] = JACO_HOME
    """Joint angles of the home pose, rad."""
    max_joint_velocity: tuple[float, ...] = JACO_MAX_VELOCITY
    """Symmetric joint-velocity bounds, rad/s."""
    gravity_compensation: bool = True
    """Cancel gravity on the arm, as a cobot's controller does."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        self.validate_cell()
        for name in ("peg_radius", "peg_length", "hole_depth", "success_depth", "hole_offset"):
            require_positive(name, getattr(self, name))
        require_non_negative("clearance", self.clearance)
        require_non_negative("friction", self.friction)
        if self.success_depth > self.hole_depth:
            raise ConfigError("success_depth", f"{self.success_depth} m is deeper than the hole ({self.hole_depth} m)")

    @property
    def hole_half_width(self) -> float:
        """Half the side of the square hole, m."""
        return self.peg_radius + self.clearance
