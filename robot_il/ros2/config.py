"""Configuration of the ROS 2 backend: the arm's description, topics, joint names, QoS and the cell's geometry.

Any ros2_control arm works by configuration alone: its description (the URDF its
driver's robot_state_publisher publishes on ``/robot_description``, or a file)
gives the kinematics, joints and limits; ``arm.tip_link`` and ``arm.tool_offset``
say where the tool-centre point is; ``controller`` names its
``forward_command_controller`` (``interface_name: velocity``); ``cell`` holds the
fixture's calibrated pose. See ``robot_il/ros2/jaco_sim.yaml`` (and the other
``*_sim.yaml``) for the simulated cells served by the sim bridge, and
``drivers/robot_il_bringup/config/`` for real arms.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from robot_il.cell.config import PegConfig
from robot_il.config import load_yaml, require_positive
from robot_il.errors import ConfigError
from robot_il.hal.base import EFFORT_UNITS


@dataclass(frozen=True)
class ArmSource:
    """Where the arm's description comes from, and where its tool-centre point is on it."""

    description: str = "topic"
    """``topic``: the URDF on ``description_topic`` (robot_state_publisher publishes it transient-local); or the
    path of a URDF or MJCF file (relative paths: to the backend's YAML)."""
    description_topic: str = "/robot_description"
    """std_msgs/String topic of the URDF."""
    base_link: str = ""
    """The frame the cell (fixture pose, workspace, observations) is given in; empty: the description's root.
    UR's ``base_link`` is REP-103 aligned; its ``base`` is turned half a turn about z (the controller's frame)."""
    tip_link: str = ""
    """The flange frame the tool is mounted on (``tool0`` on UR arms, ``fr3_link8`` on the FR3, ``flange`` on the
    simulated Jaco)."""
    tool_offset: tuple[float, ...] | None = None
    """The tool-centre point in ``tip_link``'s frame: x, y, z (m), roll, pitch, yaw (rad): the peg (its length
    along z) plus anything between it and the flange (an F/T sensor, an adapter plate). None: the cell's tool
    (``cell.peg_length`` along z)."""

    def __post_init__(self) -> None:
        if not self.description:
            raise ConfigError("arm.description", "give 'topic' or the path of the arm's URDF or MJCF file")
        if not self.tip_link:
            raise ConfigError(
                "arm.tip_link", "name the link the tool is mounted on (tool0 on UR arms, fr3_link8 on the FR3)"
            )
        if self.tool_offset is not None and len(self.tool_offset) != 6:
            raise ConfigError(
                "arm.tool_offset", f"must be 6 numbers (x, y, z, roll, pitch, yaw), got {self.tool_offset}"
            )


@dataclass(frozen=True)
class Ros2Config:
    arm: ArmSource
    """The arm's description and tool."""
    joint_names: tuple[str, ...] | None = None
    """Arm joints in the order the policy uses, matched by name in /joint_states; None: the description's joints
    from ``arm.base_link`` to ``arm.tip_link``, in order. Every joint on that chain must be listed."""
    max_joint_velocity: tuple[float, ...] | None = None
    """Symmetric velocity bounds of the HAL, rad/s (the safety limits file sets the ones deploy uses); None: the
    description's velocity limits (on a simulated cell: the simulated arm's servo range)."""
    home_joint_positions: tuple[float, ...] | None = None
    """Home pose, rad: where episodes start and safe resets go. Needed to reset the cell; on a simulated cell the
    simulated arm's home by default."""
    effort_unit: str = "N·m"
    """What the driver reports as joint effort: ``N·m`` (joint torques), ``A`` (motor currents: UR's driver by
    default) or ``none``. A policy that observes efforts is refused on an arm reporting them in another unit."""
    simulated: bool = False
    """This config talks to the sim bridge (robot-il-sim-bridge): where this config leaves them out, the
    simulated arm ``cell.arm``'s home, servo range, default cell layout and shipped limits apply."""
    limits: str = ""
    """The arm's safety limits file (``--limits`` overrides it; relative paths: to the backend's YAML); ``sim``:
    the simulated arm's shipped limits (simulated cells only); empty: ``--limits`` must be given."""
    control_rate_hz: float = 20.0
    """Rate of velocity commands; send_action waits out each period."""
    joint_states_topic: str = "/joint_states"
    controller: str = "velocity_controller"
    """forward_command_controller name (interface velocity); commands go to /<controller>/commands. UR's driver
    calls it forward_velocity_controller and starts a trajectory controller instead (see stop_controller)."""
    stop_controller: str = ""
    """The controller the arm's driver activates by default and that must give way to ``controller`` (UR:
    scaled_joint_trajectory_controller); named in the fix when nothing listens on the command topic."""
    check_controller: bool = True
    """connect() refuses to start unless something subscribes to /<controller>/commands (off for kinesthetic
    teaching, which commands nothing)."""
    wrench_topic: str = ""
    """geometry_msgs/WrenchStamped topic of a force-torque sensor (UR: /force_torque_sensor_broadcaster/wrench);
    empty: none, and deploy refuses to run unless told --no-force-sensor."""
    wrench_frame: str = ""
    """The description's link the wrench is measured in; empty: the message's frame_id. UR's driver stamps
    ``tool0_controller`` (the controller's own calibrated tool0, not a link of the URDF): set ``tool0``."""
    wrench_stale_after: float = 0.2
    """A wrench older than this, s, holds the arm (a silent sensor must not switch the force limits off)."""
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
    """Geometry of the cell: the fixture's pose (``tilt_center``, ``fixture_rpy``, as calibrated by
    ``robot-il calibrate``), the workspace box, the socket and the tool."""

    def __post_init__(self) -> None:
        if self.joint_names is not None:
            n = len(self.joint_names)
            if n == 0 or len(set(self.joint_names)) != n:
                raise ConfigError("joint_names", f"need distinct joint names, got {self.joint_names}")
            for name in ("max_joint_velocity", "home_joint_positions"):
                value = getattr(self, name)
                if value is not None and len(value) != n:
                    raise ConfigError(name, f"must have {n} values, one per joint in joint_names")
        for i, v in enumerate(self.max_joint_velocity or ()):
            require_positive(f"max_joint_velocity[{i}]", v)
        if self.effort_unit not in EFFORT_UNITS:
            raise ConfigError("effort_unit", f"must be one of {EFFORT_UNITS}, got {self.effort_unit!r}")
        if self.limits == "sim" and not self.simulated:
            raise ConfigError("limits", "'sim' (the simulated arm's shipped limits) needs simulated: true")
        for name in (
            "control_rate_hz",
            "stale_after",
            "wrench_stale_after",
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
        if not self.simulated:
            for name in ("tilt_center", "workspace_low", "workspace_high"):
                if getattr(self.cell, name) is None:
                    raise ConfigError(
                        f"cell.{name}",
                        "give the cell's layout in the arm's base frame (tilt_center: where the pan-tilt unit's axes "
                        "meet, `robot-il calibrate` measures it; workspace_low/high: the box the tool-centre point "
                        "must stay in)",
                    )

    @property
    def command_topic(self) -> str:
        return f"/{self.controller.strip('/')}/commands"


def load_ros2_config(path: str | Path) -> Ros2Config:
    """The backend's YAML, with its file paths (the description, the limits) taken relative to its folder."""
    cfg = load_yaml(Ros2Config, path)
    folder = Path(path).parent

    def resolve(value: str, keep: tuple[str, ...]) -> str:
        return value if value in keep or not value or Path(value).is_absolute() else str(folder / value)

    arm = dataclasses.replace(cfg.arm, description=resolve(cfg.arm.description, ("topic",)))
    return dataclasses.replace(cfg, arm=arm, limits=resolve(cfg.limits, ("sim",)))
