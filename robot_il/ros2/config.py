"""Configuration of the ROS 2 backend: topics, joint names, QoS and the cell's geometry.

Any ros2_control arm works by configuration alone: name its joints as its
``/joint_states`` does, point ``controller`` at a ``forward_command_controller``
with ``interface_name: velocity``, and give the velocity bounds. See
``robot_il/ros2/jaco_sim.yaml`` for the simulated cell served by the sim bridge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robot_il.cell.config import JACO_HOME, JACO_MAX_VELOCITY, PegConfig
from robot_il.config import require_positive
from robot_il.errors import ConfigError


@dataclass(frozen=True)
class Ros2Config:
    joint_names: tuple[str, ...] = tuple(f"joint_{i}" for i in range(1, 7))
    """Arm joints in the order the policy uses; matched by name in /joint_states."""
    max_joint_velocity: tuple[float, ...] = JACO_MAX_VELOCITY
    """Symmetric velocity bounds, rad/s."""
    home_joint_positions: tuple[float, ...] = JACO_HOME
    """Home pose, rad."""
    control_rate_hz: float = 20.0
    """Rate of velocity commands; send_action waits out each period."""
    joint_states_topic: str = "/joint_states"
    controller: str = "velocity_controller"
    """forward_command_controller name; commands go to /<controller>/commands."""
    wrench_topic: str = ""
    """geometry_msgs/WrenchStamped topic of a force-torque sensor; empty: none."""
    pan_tilt_state_topic: str = "/pan_tilt/joint_states"
    pan_tilt_command_topic: str = "/pan_tilt/command"
    pan_tilt_joint_names: tuple[str, str] = ("ptu_pan", "ptu_tilt")
    pan_limits: tuple[float, float] = (-2.7, 2.7)
    tilt_limits: tuple[float, float] = (-0.8, 0.55)
    pan_tilt_tolerance: float = 0.005
    """A pan-tilt move is done when both axes are this close to the target, rad."""
    pan_tilt_timeout: float = 10.0
    """Longest a pan-tilt move may take, s."""
    reset_service: str = ""
    """std_srvs/Trigger that resets the cell (the sim bridge's); empty: drive home instead."""
    estop_topic: str = "/robot_il/estop"
    """std_msgs/Empty: any message latches the e-stop (a std_srvs/Trigger service of the same name does too)."""
    command_gate_topic: str = "/robot_il/command"
    """JointState commands to the command gate (robot-il-command-gate), which forwards them to the controller
    and stops the arm if this process dies. Empty: publish straight to /<controller>/commands (then nothing
    stops the arm when this process is killed)."""
    command_timeout_periods: float = 1.5
    """Our side's watchdog: if no command has gone out for this many periods, publish zero velocity
    (forward_command_controller would otherwise keep the last command forever); with a gate, these zeros are
    also the heartbeat that keeps the gate open while this process is alive and idle."""
    stale_after: float = 0.2
    """observe() raises, and send_action refuses motion, when /joint_states is older than this, s."""
    pan_tilt_stale_after: float = 0.5
    """observe() and the pan-tilt's get() raise when its state is older than this, s."""
    connect_timeout: float = 10.0
    """How long connect() waits for the first joint states, s."""
    qos_depth: int = 10
    qos_reliability: str = "reliable"
    """'reliable' or 'best_effort' (match the publisher's QoS)."""
    cell: PegConfig = field(default_factory=PegConfig)
    """Geometry of the cell (kinematics, socket), as calibrated."""

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if n == 0 or len(set(self.joint_names)) != n:
            raise ConfigError("joint_names", f"need distinct joint names, got {self.joint_names}")
        for name in ("max_joint_velocity", "home_joint_positions"):
            if len(getattr(self, name)) != n:
                raise ConfigError(name, f"must have {n} values, one per joint in joint_names")
        for i, v in enumerate(self.max_joint_velocity):
            require_positive(f"max_joint_velocity[{i}]", v)
        for name in (
            "control_rate_hz",
            "stale_after",
            "pan_tilt_stale_after",
            "connect_timeout",
            "pan_tilt_tolerance",
            "pan_tilt_timeout",
            "qos_depth",
        ):
            require_positive(name, getattr(self, name))
        if self.qos_reliability not in ("reliable", "best_effort"):
            raise ConfigError("qos_reliability", f"must be 'reliable' or 'best_effort', got {self.qos_reliability!r}")
        for name in ("joint_states_topic", "controller", "pan_tilt_state_topic", "pan_tilt_command_topic"):
            if not getattr(self, name):
                raise ConfigError(name, "must not be empty")
        for name in ("pan_limits", "tilt_limits"):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ConfigError(name, f"inverted range ({lo}, {hi})")

    @property
    def command_topic(self) -> str:
        return f"/{self.controller.strip('/')}/commands"
