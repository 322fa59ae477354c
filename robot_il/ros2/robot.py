"""The HAL over ROS 2: an arm behind ros2_control topics and a pan-tilt unit behind its node.

State comes from ``/joint_states`` (joints matched by name, not position), plus
a ``WrenchStamped`` topic when configured; joint-velocity commands go out on
``/<controller>/commands`` as ``Float64MultiArray``. The tip position comes from
the cell's kinematics and the socket's orientation from the pan-tilt angles,
so observations match the simulation's. ``send_action`` publishes and then
waits out the control period, so a loop over it runs at the control rate.
``reset`` never moves the arm itself unless the cell offers a reset service
(the sim bridge's): on hardware, motion home goes through the safety filter
(``SafeController.return_home``) or a person's hands.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from robot_il.errors import NotConnectedError, RobotILError
from robot_il.hal.base import Observation, PanTilt, Robot, RobotSpec, observation_fields
from robot_il.ros2.config import Ros2Config
from robot_il.ros2.geometry import socket_quat


class StaleStateError(RobotILError):
    """The robot's state topic has gone quiet."""


class _Ros2Link:
    """One rclpy context, node and executor thread, shared by the robot and its pan-tilt."""

    def __init__(self, cfg: Ros2Config, name: str) -> None:
        import rclpy
        from geometry_msgs.msg import WrenchStamped
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Float64MultiArray

        self.cfg = cfg
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        reliable = cfg.qos_reliability == "reliable"
        policy = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
        qos = QoSProfile(depth=cfg.qos_depth, reliability=policy)
        self.lock = threading.Lock()
        self.joints: tuple[JointState, float] | None = None
        self.pan_tilt: tuple[JointState, float] | None = None
        self.wrench: np.ndarray | None = None
        self.node.create_subscription(JointState, cfg.joint_states_topic, self._on_joints, qos)
        self.node.create_subscription(JointState, cfg.pan_tilt_state_topic, self._on_pan_tilt, qos)
        if cfg.wrench_topic:
            self.node.create_subscription(WrenchStamped, cfg.wrench_topic, self._on_wrench, qos)
        self.command_pub = self.node.create_publisher(Float64MultiArray, cfg.command_topic, qos)
        self.pan_tilt_pub = self.node.create_publisher(JointState, cfg.pan_tilt_command_topic, qos)
        from std_msgs.msg import Empty
        from std_srvs.srv import Trigger

        self.on_estop = lambda source: None
        self.node.create_subscription(Empty, cfg.estop_topic, lambda _m: self.on_estop(f"topic {cfg.estop_topic}"), qos)
        self.node.create_service(Trigger, cfg.estop_topic, self._estop_service)
        self.last_command = (0.0, None)  # (time, values)
        self.watchdog_stops = 0
        period = 1.0 / cfg.control_rate_hz
        self.node.create_timer(period / 2, self._command_watchdog)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True, name=f"{name}-spin")
        self.thread.start()

    def _estop_service(self, _request, response):
        self.on_estop(f"service {self.cfg.estop_topic}")
        response.success, response.message = True, "e-stop latched"
        return response

    def publish_command(self, values) -> None:
        from std_msgs.msg import Float64MultiArray

        with self.lock:
            self.last_command = (time.monotonic(), list(values))
        self.command_pub.publish(Float64MultiArray(data=[float(x) for x in values]))

    def _command_watchdog(self) -> None:
        """A dead command stream (our loop hung or died) must not leave the arm moving."""
        with self.lock:
            sent_at, values = self.last_command
        timeout = self.cfg.command_timeout_periods / self.cfg.control_rate_hz
        if values is not None and any(values) and time.monotonic() - sent_at > timeout:
            self.watchdog_stops += 1
            self.publish_command([0.0] * len(values))

    def _on_joints(self, msg) -> None:
        with self.lock:
            self.joints = (msg, time.monotonic())

    def _on_pan_tilt(self, msg) -> None:
        with self.lock:
            self.pan_tilt = (msg, time.monotonic())

    def _on_wrench(self, msg) -> None:
        f, t = msg.wrench.force, msg.wrench.torque
        with self.lock:
            self.wrench = np.array([f.x, f.y, f.z, t.x, t.y, t.z])

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=2)


def _by_name(msg, names, field: str, topic: str) -> np.ndarray:
    index = {n: i for i, n in enumerate(msg.name)}
    missing = [n for n in names if n not in index]
    if missing:
        raise RobotILError(f"{topic} has no joint(s) {missing}; it names {list(msg.name)}. Fix joint_names.")
    values = getattr(msg, field)
    if len(values) == 0:
        return np.zeros(len(names))
    return np.array([values[index[n]] for n in names], dtype=np.float64)


class Ros2Robot(Robot):
    def __init__(self, cfg: Ros2Config, node_name: str = "robot_il") -> None:
        super().__init__()
        self.cfg, self.node_name = cfg, node_name
        v = np.asarray(cfg.max_joint_velocity, dtype=np.float64)
        self._spec = RobotSpec(
            name="ros2",
            joint_names=tuple(cfg.joint_names),
            observation=observation_fields(len(cfg.joint_names)),
            action_low=-v,
            action_high=v,
            control_rate_hz=cfg.control_rate_hz,
            home_joint_positions=np.asarray(cfg.home_joint_positions, dtype=np.float64),
        )
        self.link: _Ros2Link | None = None
        self._kinematics = None
        self._next_tick = 0.0

    @property
    def spec(self) -> RobotSpec:
        return self._spec

    def _connect(self) -> None:
        from robot_il.sim.kinematics import CellKinematics

        self._kinematics = CellKinematics(self.cfg.cell)
        self.link = _Ros2Link(self.cfg, self.node_name)
        self.link.on_estop = self._on_estop
        deadline = time.monotonic() + self.cfg.connect_timeout
        while self.link.joints is None or self.link.pan_tilt is None:
            if time.monotonic() > deadline:
                missing = self.cfg.joint_states_topic if self.link.joints is None else self.cfg.pan_tilt_state_topic
                self.link.close()
                self.link = None
                raise NotConnectedError(
                    f"no messages on {missing} within {self.cfg.connect_timeout} s; is the arm driver (or the sim "
                    "bridge) running, on this ROS_DOMAIN_ID?"
                )
            time.sleep(0.01)
        self._next_tick = time.monotonic()

    def _close(self) -> None:
        if self.link is not None:
            self._publish(np.zeros(self.spec.num_joints))  # forward_command_controller keeps the last command
            time.sleep(0.05)
            self.link.close()
            self.link = None

    def _observe(self) -> Observation:
        with self.link.lock:
            joints, pan_tilt = self.link.joints, self.link.pan_tilt
        msg, received = joints
        age = time.monotonic() - received
        if age > self.cfg.stale_after:
            raise StaleStateError(
                f"no {self.cfg.joint_states_topic} for {age:.2f} s (limit stale_after={self.cfg.stale_after} s); "
                "the arm driver has stopped publishing"
            )
        topic = self.cfg.joint_states_topic
        q = _by_name(msg, self.cfg.joint_names, "position", topic)
        pt = _by_name(pan_tilt[0], self.cfg.pan_tilt_joint_names, "position", self.cfg.pan_tilt_state_topic)
        tip, _, _ = self._kinematics.tip(q)
        return Observation(
            joint_positions=q,
            joint_velocities=_by_name(msg, self.cfg.joint_names, "velocity", topic),
            joint_efforts=_by_name(msg, self.cfg.joint_names, "effort", topic),
            ee_position=tip,
            socket_quat=socket_quat(pt[0], pt[1]),
            pan_tilt=pt,
            timestamp=msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
        )

    def _wrench(self) -> np.ndarray | None:
        with self.link.lock:
            return None if self.link.wrench is None else self.link.wrench.copy()

    def _publish(self, v: np.ndarray) -> None:
        self.link.publish_command(v)

    def _on_estop(self, source: str) -> None:
        """Runs in the executor thread: stop at once, then tell the listeners (the safety filter latches)."""
        self.link.publish_command(np.zeros(self.spec.num_joints))
        self._emit_estop(source)

    def _apply(self, joint_velocities: np.ndarray) -> None:
        self._publish(joint_velocities)
        self._next_tick = max(self._next_tick + self.spec.control_period, time.monotonic())
        time.sleep(max(0.0, self._next_tick - time.monotonic()))

    def _reset(self) -> Observation:
        if self.cfg.reset_service:
            self._call_reset()
        else:
            self._wait_home()
        time.sleep(2 * self.cfg.stale_after)  # let fresh states arrive
        self._next_tick = time.monotonic()
        return self._observe()

    def _call_reset(self) -> None:
        from std_srvs.srv import Trigger

        client = self.link.node.create_client(Trigger, self.cfg.reset_service)
        if not client.wait_for_service(timeout_sec=self.cfg.connect_timeout):
            raise NotConnectedError(f"reset service {self.cfg.reset_service} is not available")
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + self.cfg.connect_timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise RobotILError(f"reset service {self.cfg.reset_service} did not answer")
            time.sleep(0.01)
        if not future.result().success:
            raise RobotILError(f"reset service {self.cfg.reset_service} failed: {future.result().message}")

    def _wait_home(self, tolerance: float = 0.02, timeout: float = 120.0) -> None:
        """Without a reset service the HAL moves nothing itself (every motion must pass the safety filter):
        it waits until the arm is home, brought there by ``SafeController.return_home`` or by hand."""
        home = np.asarray(self.cfg.home_joint_positions)
        deadline = time.monotonic() + timeout
        while np.abs(home - self._observe().joint_positions).max() > tolerance:
            if time.monotonic() > deadline:
                raise RobotILError(
                    f"the arm is not at home_joint_positions after {timeout} s; move it there (guide it, or "
                    "SafeController.return_home() in the deploy path)"
                )
            time.sleep(0.05)


class Ros2PanTilt(PanTilt):
    """The pan-tilt node's JointState topics. ``set`` waits until the unit has arrived."""

    def __init__(self, robot: Ros2Robot) -> None:
        self._robot = robot

    @property
    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        return tuple(self._robot.cfg.pan_limits), tuple(self._robot.cfg.tilt_limits)

    def get(self) -> tuple[float, float]:
        link = self._require_link()
        with link.lock:
            msg = link.pan_tilt[0]
        pan, tilt = _by_name(
            msg, self._robot.cfg.pan_tilt_joint_names, "position", self._robot.cfg.pan_tilt_state_topic
        )
        return float(pan), float(tilt)

    def _set(self, pan: float, tilt: float) -> None:
        from sensor_msgs.msg import JointState

        link, cfg = self._require_link(), self._robot.cfg
        link.pan_tilt_pub.publish(JointState(name=list(cfg.pan_tilt_joint_names), position=[pan, tilt]))
        deadline = time.monotonic() + cfg.pan_tilt_timeout
        while max(abs(a - b) for a, b in zip(self.get(), (pan, tilt), strict=True)) > cfg.pan_tilt_tolerance:
            if time.monotonic() > deadline:
                raise RobotILError(
                    f"the pan-tilt did not reach ({pan:.3f}, {tilt:.3f}) rad within {cfg.pan_tilt_timeout} s; "
                    f"it reports {self.get()} on {cfg.pan_tilt_state_topic}"
                )
            time.sleep(0.01)

    def _require_link(self) -> _Ros2Link:
        if self._robot.link is None:
            raise NotConnectedError("the ROS 2 backend is not connected; connect() the robot first")
        return self._robot.link


def build(config: Ros2Config | dict | str | None = None):
    """Factory entry for ``ros2``: a Ros2Config, a mapping of its fields, or a YAML path."""
    from robot_il.config import from_dict, load_yaml
    from robot_il.hal.factory import Backend

    if isinstance(config, Ros2Config):
        cfg = config
    elif isinstance(config, str):
        cfg = load_yaml(Ros2Config, config)
    else:
        cfg = from_dict(Ros2Config, config or {})
    robot = Ros2Robot(cfg)
    return Backend(name="ros2", robot=robot, pan_tilt=Ros2PanTilt(robot))
