"""Configuration of the peg-insertion cell: the arm, geometry, physics and task rules.

One closed dataclass serves the MuJoCo backend (which builds the scene from it),
the task (which computes the hole frame from the observed socket quaternion)
and the scripted expert. On hardware the same fields describe the calibrated
cell. Lengths in m, angles in rad, rates in Hz, times in s; positions in the
arm's base frame.

The arm is chosen by name (``arm``: one of :data:`robot_il.arm.SIM_ARMS`). Its
home pose, servo ranges and default cell layout (fixture position, workspace)
come from it where the config leaves them ``None``; read them resolved through
:attr:`CellConfigBase.home`, :attr:`~CellConfigBase.velocity_bounds`,
:attr:`~CellConfigBase.fixture_position` and :attr:`~CellConfigBase.workspace`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_il.arm import ArmModel, SimArm, rpy_matrix, sim_arm
from robot_il.config import (
    require_box,
    require_non_negative,
    require_positive,
    require_range,
)
from robot_il.errors import ConfigError

JACO_MAX_VELOCITY = sim_arm("jaco").max_velocity
"""Kinova Jaco firmware limits (dm_control's jaco_arm.py): 36 deg/s large joints, 48 deg/s small ones."""
JACO_HOME = sim_arm("jaco").home
"""The Jaco's home pose (elbow up): peg level, pointing along +x, tip at (0.50, 0, 0.35) m."""


class CellConfigBase:
    """What every simulated cell's config (:class:`PegConfig`, ``ClipConfig``) shares: the checks of the
    control timing, pan-tilt ranges, episode length, workspace and the arm's joints, the derived step counts,
    and the arm's defaults where the config leaves them out. The fields themselves are the dataclasses'."""

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
        arm = self.sim_arm  # an unknown arm raises, naming the known ones
        require_box("workspace", *self.workspace, 3)
        for name, size in (("tilt_center", 3), ("fixture_rpy", 3)):
            value = getattr(self, name)
            if value is not None and (len(value) != size or not all(np.isfinite(v) for v in value)):
                raise ConfigError(name, f"must be {size} finite numbers, got {value!r}")
        n = arm.num_joints
        if self.home_joint_positions is not None and len(self.home_joint_positions) != n:
            got = len(self.home_joint_positions)
            raise ConfigError("home_joint_positions", f"must have {n} joint angles (the {arm.name}'s), got {got}")
        if self.max_joint_velocity is not None:
            if len(self.max_joint_velocity) != n:
                raise ConfigError(
                    "max_joint_velocity", f"must have {n} values (the {arm.name}'s), got {len(self.max_joint_velocity)}"
                )
            for i, v in enumerate(self.max_joint_velocity):
                require_positive(f"max_joint_velocity[{i}]", v)

    @property
    def sim_arm(self) -> SimArm:
        """The simulated arm ``arm`` names."""
        return sim_arm(self.arm)

    @property
    def home(self) -> tuple[float, ...]:
        """Joint angles of the home pose, rad: ``home_joint_positions``, or the arm's."""
        return tuple(self.home_joint_positions or self.sim_arm.home)

    @property
    def velocity_bounds(self) -> tuple[float, ...]:
        """Symmetric joint-velocity bounds, rad/s: ``max_joint_velocity``, or the arm's servo range."""
        return tuple(self.max_joint_velocity or self.sim_arm.max_velocity)

    @property
    def fixture_position(self) -> tuple[float, float, float]:
        """Where the pan and tilt axes meet, base frame, m: ``tilt_center``, or the arm's default cell's."""
        return tuple(self.tilt_center or self.sim_arm.fixture)  # type: ignore[return-value]

    @property
    def fixture_rotation(self) -> np.ndarray:
        """The fixture's mount orientation in the base frame (3 x 3): ``fixture_rpy`` as URDF's roll-pitch-yaw."""
        return rpy_matrix(*self.fixture_rpy)

    @property
    def workspace(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """(low, high) corners of the tool-centre point's box, base frame, m: the config's, or the arm's."""
        low, high = self.sim_arm.workspace
        return tuple(self.workspace_low or low), tuple(self.workspace_high or high)  # type: ignore[return-value]

    @property
    def tool_offset(self) -> tuple[float, float, float, float, float, float]:
        """The tool-centre point in the arm's flange frame: (x, y, z) m, (roll, pitch, yaw) rad."""
        raise NotImplementedError

    def arm_model(self) -> ArmModel:
        """The simulated arm's kinematics with this cell's tool: what the expert and the safety filter use."""
        return self.sim_arm.model(self.tool_offset)

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
    arm: str = "jaco"
    """The simulated arm: jaco (Kinova Jaco, 6 joints), ur5e (Universal Robots, 6), fr3 (Franka Research 3, 7)."""
    workspace_low: tuple[float, float, float] | None = None
    """Lower corner of the box the peg tip must stay in, base frame, m (None: the arm's default cell)."""
    workspace_high: tuple[float, float, float] | None = None
    """Upper corner of that box, m (None: the arm's default cell)."""
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
    tilt_center: tuple[float, float, float] | None = None
    """The fixture's mount position: where the pan and tilt axes meet, base frame, m (None: the arm's default
    cell; (0.74, 0, 0.35) for the Jaco). ``robot-il calibrate`` measures it on a real cell."""
    fixture_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """The fixture's mount orientation in the base frame (roll, pitch, yaw about x, y, z, rad): the pan axis is
    the mount's z, and at zero pan and tilt the hole faces the mount's -x."""
    hole_offset: float = 0.09
    """Distance from the tilt centre to the hole's mouth (towards the arm), m."""
    home_joint_positions: tuple[float, ...] | None = None
    """Joint angles of the home pose, rad (None: the arm's)."""
    max_joint_velocity: tuple[float, ...] | None = None
    """Symmetric joint-velocity bounds, rad/s (None: the arm's servo range)."""
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

    @property
    def tool_offset(self) -> tuple[float, float, float, float, float, float]:
        """The peg's tip on the flange's axis."""
        return (0.0, 0.0, self.peg_length, 0.0, 0.0, 0.0)
