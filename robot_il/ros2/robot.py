"""The HAL over ROS 2: an arm behind ros2_control topics and a pan-tilt unit behind its node.

State comes from ``/joint_states`` (joints matched by name, not position), plus
a ``WrenchStamped`` topic when configured; joint-velocity commands go out on
``/<controller>/commands`` as ``Float64MultiArray``. The arm's own description
(the URDF on ``/robot_description``, received transient-local as
robot_state_publisher publishes it, or a file) gives its joints, limits and
kinematics (:class:`robot_il.arm.ArmModel`): the tip position is computed from
it, and the socket's orientation from the pan-tilt angles and the fixture's
mount, so observations match the simulation's. ``send_action`` publishes and then
waits out the control period, so a loop over it runs at the control rate.
``reset`` never moves the arm itself unless the cell offers a reset service
(the sim bridge's): on hardware, motion home goes through the safety filter
(``SafeController.return_home``) or a person's hands.

Commands go through the command gate (:mod:`robot_il.ros2.command_gate`), a
process of its own that stops the arm when this one dies; ``connect`` refuses to
start without it (or with it latched) unless ``command_gate_topic`` is empty.
Every way out of this process sends zero: ``close`` (also from ``atexit``), the
in-process watchdog when the loop stops sending, and ``send_action`` itself when
the joint states have gone stale.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
import time
import weakref

import numpy as np

from robot_il.arm import ArmDescription, ArmModel, DescriptionError, load_description, parse_urdf
from robot_il.errors import EStopError, NotConnectedError, RobotILError, StaleStateError
from robot_il.hal.base import Observation, PanTilt, Robot, RobotSpec, observation_fields
from robot_il.ros2 import command_gate
from robot_il.ros2.config import Ros2Config
from robot_il.ros2.geometry import socket_quat

__all__ = ["GateLatchedError", "Ros2PanTilt", "Ros2Robot", "StaleStateError", "build"]

_OPEN_LINKS: weakref.WeakSet = weakref.WeakSet()


class GateLatchedError(NotConnectedError):
    """The command gate is latched (an e-stop, a lost stream, a bad command) and needs a person to release it."""


@atexit.register
def _close_open_links() -> None:
    """An interpreter that exits with a link still open (an error escaped every ``with``) stops the arm and
    shuts rclpy down cleanly, instead of aborting in the executor thread with the last command still held."""
    for link in list(_OPEN_LINKS):
        link.close()


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
        self.joint_names: tuple[str, ...] = tuple(cfg.joint_names or ())
        """The arm's joints, in the order commands carry them (resolved from the description at connect)."""
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        reliable = cfg.qos_reliability == "reliable"
        policy = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
        qos = QoSProfile(depth=cfg.qos_depth, reliability=policy)
        self.lock = threading.Lock()
        self.joints: tuple[JointState, float] | None = None
        self.pan_tilt: tuple[JointState, float] | None = None
        self.wrench: tuple[np.ndarray, str, float] | None = None
        """The latest wrench (force, torque), its frame_id and when it arrived (monotonic)."""
        self.node.create_subscription(JointState, cfg.joint_states_topic, self._on_joints, qos)
        self.description: str | None = None
        if cfg.arm.description == "topic":
            from rclpy.qos import DurabilityPolicy
            from std_msgs.msg import String

            # robot_state_publisher publishes the URDF once, transient-local: a late subscriber gets it only if it
            # asks for transient-local too.
            latched_description = QoSProfile(
                depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
            )
            self.node.create_subscription(String, cfg.arm.description_topic, self._on_description, latched_description)
        self.node.create_subscription(JointState, cfg.pan_tilt_state_topic, self._on_pan_tilt, qos)
        if cfg.wrench_topic:
            self.node.create_subscription(WrenchStamped, cfg.wrench_topic, self._on_wrench, qos)
        if cfg.command_gate_topic:
            self.command_pub = self.node.create_publisher(JointState, cfg.command_gate_topic, qos)
        else:
            self.command_pub = self.node.create_publisher(Float64MultiArray, cfg.command_topic, qos)
        self.pan_tilt_pub = self.node.create_publisher(JointState, cfg.pan_tilt_command_topic, qos)
        from rclpy.qos import DurabilityPolicy
        from std_msgs.msg import Empty, String
        from std_srvs.srv import Trigger

        self.on_estop = lambda source: None
        self.node.create_subscription(Empty, cfg.estop_topic, lambda _m: self.on_estop(f"topic {cfg.estop_topic}"), qos)
        self.gate_state: str | None = None
        if cfg.command_gate_topic:  # the gate owns the e-stop service and re-broadcasts it on the topic
            latched = QoSProfile(
                depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
            )
            self.node.create_subscription(String, command_gate.STATE_TOPIC, self._on_gate_state, latched)
        else:
            self.node.create_service(Trigger, cfg.estop_topic, self._estop_service)
        self.last_command: tuple[float, list[float] | None] = (0.0, None)  # (time, values)
        self.last_stamp_ns = 0
        self.watchdog_stops = 0
        self.closed = False
        self.ready = False
        """connect() got through: the gate (if any) listens to us with our joints. Before that an end of stream
        to the gate could latch it with joint names it does not know."""
        self.ended = False
        """The stream's end has been sent: no heartbeat may reopen it at the gate."""
        period = 1.0 / cfg.control_rate_hz
        self.node.create_timer(period / 4, self._command_watchdog)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True, name=f"{name}-spin")
        self.thread.start()
        _OPEN_LINKS.add(self)

    def _estop_service(self, _request, response):
        self.on_estop(f"service {self.cfg.estop_topic}")
        response.success, response.message = True, "e-stop latched"
        return response

    def publish_command(self, values, end_of_stream: bool = False) -> None:
        values = [float(x) for x in values]
        with self.lock:
            if self.ended and not end_of_stream:
                return  # a heartbeat racing the end of the stream would reopen it at the gate
            self.last_command = (time.monotonic(), values)
            if self.cfg.command_gate_topic:
                from sensor_msgs.msg import JointState

                # The stamp is the stream's heartbeat: the gate drops any message not newer than the last.
                self.last_stamp_ns = max(self.last_stamp_ns + 1, self.node.get_clock().now().nanoseconds)
                msg = JointState(name=list(self.joint_names), velocity=values)
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(self.last_stamp_ns, 10**9)
                msg.header.frame_id = command_gate.END_OF_STREAM if end_of_stream else ""
            else:
                from std_msgs.msg import Float64MultiArray

                msg = Float64MultiArray(data=values)
            self.command_pub.publish(msg)

    def _command_watchdog(self) -> None:
        """A quiet command stream (our loop hung, or is between episodes) gets zero velocity every tick: the
        arm must not keep the last command, and the gate sees this process is alive. A moving command on joint
        states older than ``stale_after`` is zeroed here too, within a quarter period, without waiting for the
        loop's next ``send_action``. Nothing is sent before the first command (an observe-only client, such as
        kinesthetic recording, never commands)."""
        with self.lock:
            sent_at, values = self.last_command
            state_age = time.monotonic() - self.joints[1] if self.joints else 0.0
        if values is None or self.closed or self.ended:
            return
        period = 1.0 / self.cfg.control_rate_hz
        # A moving command is zeroed after command_timeout_periods; a zero one is repeated after one period, so
        # the gate's heartbeat keeps a margin of twice its usual gap on a loaded machine.
        timeout = self.cfg.command_timeout_periods * period if any(values) else period
        quiet = time.monotonic() - sent_at > timeout
        blind = any(values) and state_age > self.cfg.stale_after  # moving on states too old to act on
        if quiet or blind:
            self.watchdog_stops += int(any(values))
            self.publish_command([0.0] * len(values))

    def _on_gate_state(self, msg) -> None:
        self.gate_state = msg.data
        if msg.data.split(":")[0] in {str(s) for s in command_gate.LATCHED}:
            self.on_estop(f"command gate {msg.data}")

    def stop(self) -> None:
        """Zero velocity, and tell the gate the stream ends here (it goes back to idle without latching).

        Sent even if this process never commanded: the controller may still hold another client's command (not
        before the arm's joints are known: a command without them would be malformed)."""
        if not self.closed and self.joint_names and (self.ready or not self.cfg.command_gate_topic):
            self.ended = True
            self.publish_command([0.0] * len(self.joint_names), end_of_stream=True)

    def _on_joints(self, msg) -> None:
        with self.lock:
            self.joints = (msg, time.monotonic())

    def _on_description(self, msg) -> None:
        with self.lock:
            self.description = msg.data

    def _on_pan_tilt(self, msg) -> None:
        with self.lock:
            self.pan_tilt = (msg, time.monotonic())

    def _on_wrench(self, msg) -> None:
        f, t = msg.wrench.force, msg.wrench.torque
        with self.lock:
            self.wrench = (np.array([f.x, f.y, f.z, t.x, t.y, t.z]), msg.header.frame_id, time.monotonic())

    def close(self) -> None:
        """Zero, then shut rclpy down. Safe to call twice. With a gate that is forwarding our stream, wait (up to
        half a second) until it has taken the end of the stream: a lost end marker would latch it as a crash."""
        if self.closed:
            return
        try:
            self.stop()
            # The end marker is repeated each period until the gate confirms it: one marker delayed past the
            # gate's timeout (a loaded machine) would latch it as if this process had died.
            period = 1.0 / self.cfg.control_rate_hz
            deadline, resend = time.monotonic() + 1.0, time.monotonic() + period
            while self.ready and self.cfg.command_gate_topic and (self.gate_state or "").startswith("forwarding"):
                if time.monotonic() > deadline:
                    break
                if time.monotonic() > resend:
                    self.publish_command([0.0] * len(self.joint_names), end_of_stream=True)
                    resend += period
                time.sleep(0.002)
            time.sleep(0.02)  # let the zero leave before the publisher goes
        finally:
            self.closed = True
            _OPEN_LINKS.discard(self)
            self.executor.shutdown()
            self.node.destroy_node()
            self.context.try_shutdown()
            self.thread.join(timeout=2)


def _fresh_pan_tilt(link: _Ros2Link, cfg: Ros2Config):
    with link.lock:
        msg, received = link.pan_tilt
    age = time.monotonic() - received
    if age > cfg.pan_tilt_stale_after:
        raise StaleStateError(
            f"no {cfg.pan_tilt_state_topic} for {age:.2f} s (limit pan_tilt_stale_after={cfg.pan_tilt_stale_after} "
            "s); the pan-tilt node has stopped publishing (is it running, and is its unit connected?)"
        )
    return msg


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
        self.link: _Ros2Link | None = None
        self._kinematics: ArmModel | None = None
        self._spec: RobotSpec | None = None
        self._wrench_bias = np.zeros(6)
        self._estops: list[str] = []
        """The e-stops received, in order: a wait for the arm (home) ends at a new one."""
        # A simulated cell's arm is known before connecting; its description still comes over the wire.
        if cfg.simulated:
            arm = cfg.cell.sim_arm
            self._spec = self._make_spec(cfg.joint_names or arm.model().joint_names, arm.name)

    def _make_spec(self, joint_names, arm: str, description_velocity=None) -> RobotSpec:
        cfg = self.cfg
        n = len(joint_names)
        if cfg.max_joint_velocity is not None:
            v = np.asarray(cfg.max_joint_velocity, dtype=np.float64)
        elif cfg.simulated:
            v = np.asarray(cfg.cell.velocity_bounds, dtype=np.float64)
        else:
            v = np.asarray(description_velocity, dtype=np.float64)
        if cfg.home_joint_positions is not None:
            home = np.asarray(cfg.home_joint_positions, dtype=np.float64)
        elif cfg.simulated:
            home = np.asarray(cfg.cell.home, dtype=np.float64)
        else:
            home = None
        if home is not None and len(home) != n:
            raise DescriptionError("home_joint_positions", f"has {len(home)} values for the arm's {n} joints")
        return RobotSpec(
            name="ros2",
            joint_names=tuple(joint_names),
            observation=observation_fields(n, cfg.effort_unit),
            action_low=-v,
            action_high=v,
            control_rate_hz=cfg.control_rate_hz,
            home_joint_positions=home,
            resets_itself=bool(cfg.reset_service),
            arm=arm,
            effort_unit=cfg.effort_unit,
        )

    @property
    def realtime(self) -> bool:
        """A real arm runs in real time: ``send_action`` always waits out the control period."""
        return True

    @property
    def spec(self) -> RobotSpec:
        if self._spec is None:
            raise NotConnectedError(
                "the ROS 2 arm's joints and limits come from its description: connect() first (or give "
                "joint_names and max_joint_velocity in the backend's YAML)"
            )
        return self._spec

    @property
    def kinematics(self) -> ArmModel:
        if self._kinematics is None:
            raise NotConnectedError("the ROS 2 arm's kinematics come from its description: connect() first")
        return self._kinematics

    @property
    def limits_hint(self) -> str:
        return self.cfg.limits

    def _connect(self) -> None:
        self.link = _Ros2Link(self.cfg, self.node_name)
        self.link.on_estop = self._on_estop
        try:
            self._load_arm()
            self._wait_for_cell()
            self.link.ready = True
        except BaseException:
            self.link.close()
            self.link = None
            raise

    def _load_arm(self) -> None:
        """The arm's model from its description, its joints checked against the config's; the spec from them."""
        cfg, link = self.cfg, self.link
        description = self._description()
        tool = cfg.arm.tool_offset if cfg.arm.tool_offset is not None else cfg.cell.tool_offset
        model = ArmModel(description, cfg.arm.tip_link, tool, cfg.arm.base_link or None, cfg.joint_names)
        if self._spec is not None and tuple(self._spec.joint_names) != model.joint_names:
            raise DescriptionError(
                description.source,
                f"the arm's joints {list(model.joint_names)} are not the simulated {cfg.cell.arm}'s "
                f"{list(self._spec.joint_names)}; set cell.arm to the arm the bridge simulates",
            )
        velocity = [j.velocity for j in model.limits]
        if cfg.max_joint_velocity is None and not cfg.simulated and not all(np.isfinite(velocity)):
            missing = [j.name for j in model.limits if not np.isfinite(j.velocity)]
            raise DescriptionError(
                description.source, f"gives no velocity limit for {missing}; set max_joint_velocity in the config"
            )
        self._spec = self._make_spec(model.joint_names, description.name or "arm", velocity)
        self._kinematics = model
        link.joint_names = model.joint_names

    def _description(self) -> ArmDescription:
        cfg, link = self.cfg, self.link
        if cfg.arm.description != "topic":
            return load_description(cfg.arm.description)
        deadline = time.monotonic() + cfg.connect_timeout
        while link.description is None:
            if time.monotonic() > deadline:
                raise NotConnectedError(
                    f"no arm description on {cfg.arm.description_topic} within {cfg.connect_timeout} s; is "
                    "robot_state_publisher (the arm driver's bringup, or the sim bridge) running on this "
                    "ROS_DOMAIN_ID? Or set arm.description to the arm's URDF file"
                )
            time.sleep(0.01)
        return parse_urdf(link.description, f"{cfg.arm.description_topic} (the arm's URDF)")

    def _wait_for_cell(self) -> None:
        """The first joint and pan-tilt states, and (with a gate) an open command gate listening to us."""
        cfg, link = self.cfg, self.link
        gate = cfg.command_gate_topic
        deadline = time.monotonic() + cfg.connect_timeout
        controller = f"nothing listens on {cfg.command_topic}"
        while True:
            missing = [
                what
                for what, ok in (
                    (f"no messages on {cfg.joint_states_topic}", link.joints is not None),
                    (f"no messages on {cfg.pan_tilt_state_topic}", link.pan_tilt is not None),
                    (f"no messages on {cfg.wrench_topic}", not cfg.wrench_topic or link.wrench is not None),
                    (f"no command gate listening on {gate}", not gate or link.command_pub.get_subscription_count()),
                    (f"no state from the command gate on {command_gate.STATE_TOPIC}", not gate or link.gate_state),
                    (controller, not cfg.check_controller or link.node.count_subscribers(cfg.command_topic)),
                )
                if not ok
            ]
            if not missing:
                break
            if time.monotonic() > deadline:
                if missing == [controller]:  # the driver is up, its velocity controller is not active
                    stop = f" --deactivate {cfg.stop_controller}" if cfg.stop_controller else ""
                    raise NotConnectedError(
                        f"{controller} within {cfg.connect_timeout} s: the arm's velocity controller "
                        f"{cfg.controller!r} is not active; activate it with `ros2 control switch_controllers "
                        f"--activate {cfg.controller}{stop}` (or set controller: to the driver's name for it)"
                    )
                hint = (
                    "; start robot-il-command-gate (real.launch.py and sim.launch.py do), or set "
                    "command_gate_topic: '' to publish straight to the controller (then nothing stops the arm "
                    "if this process is killed)"
                    if any("gate" in m for m in missing)
                    else ""
                )
                raise NotConnectedError(
                    f"{'; '.join(missing)} within {cfg.connect_timeout} s; is the arm driver (or the sim bridge) "
                    f"running, on this ROS_DOMAIN_ID?{hint}"
                )
            time.sleep(0.01)
        with link.lock:
            msg = link.joints[0]
        missing = [n for n in self.spec.joint_names if n not in msg.name]
        if missing:
            raise DescriptionError(
                cfg.joint_states_topic,
                f"has no joint(s) {missing} of the arm; it names {list(msg.name)}. Is this the arm the "
                "description belongs to (or a prefix, tf_prefix, missing from joint_names)?",
            )
        if gate and link.gate_state.split(":")[0] in {str(s) for s in command_gate.LATCHED}:
            raise GateLatchedError(
                f"the command gate is latched ({link.gate_state}); check the cell, then release it with "
                f"`robot-il gate release` (the {command_gate.RELEASE_SERVICE} service)"
            )

    def _close(self) -> None:
        if self.link is not None:
            self.link.close()  # zero first: forward_command_controller keeps the last command
            self.link = None

    def _fresh_joints(self):
        with self.link.lock:
            msg, received = self.link.joints
        age = time.monotonic() - received
        if age > self.cfg.stale_after:
            raise StaleStateError(
                f"no {self.cfg.joint_states_topic} for {age:.2f} s (limit stale_after={self.cfg.stale_after} s); "
                "the arm driver has stopped publishing"
            )
        return msg

    def _require_fresh_state(self) -> None:
        try:
            self._fresh_joints()
        except StaleStateError as err:
            self._publish(np.zeros(self.spec.num_joints))
            raise StaleStateError(f"refusing to move the arm: {err}") from None

    def _observe(self) -> Observation:
        msg = self._fresh_joints()
        pan_tilt = _fresh_pan_tilt(self.link, self.cfg)
        topic, names = self.cfg.joint_states_topic, self.spec.joint_names
        q = _by_name(msg, names, "position", topic)
        pt = _by_name(pan_tilt, self.cfg.pan_tilt_joint_names, "position", self.cfg.pan_tilt_state_topic)
        return Observation(
            joint_positions=q,
            joint_velocities=_by_name(msg, names, "velocity", topic),
            joint_efforts=_by_name(msg, names, "effort", topic),
            ee_position=self._kinematics.position(q),
            socket_quat=socket_quat(pt[0], pt[1], self.cfg.cell.fixture_rotation),
            pan_tilt=pt,
            timestamp=msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
        )

    @property
    def has_force_sensor(self) -> bool:
        return bool(self.cfg.wrench_topic)

    def _latest_wrench(self) -> tuple[np.ndarray, str]:
        cfg = self.cfg
        with self.link.lock:
            latest = self.link.wrench
        age = math.inf if latest is None else time.monotonic() - latest[2]
        if age > cfg.wrench_stale_after:
            heard = "nothing yet" if latest is None else f"nothing for {age:.2f} s"
            raise StaleStateError(
                f"{heard} on {cfg.wrench_topic} (limit wrench_stale_after={cfg.wrench_stale_after} s); the force "
                "sensor has stopped publishing"
            )
        return latest[0], cfg.wrench_frame or latest[1]

    def _wrench(self) -> np.ndarray | None:
        """The sensor's wrench, less its bias, moved from its frame to the tool-centre point (tool frame)."""
        if not self.cfg.wrench_topic:
            return None
        raw, frame = self._latest_wrench()
        q = self._fresh_joints_positions()
        try:
            return self._kinematics.wrench_at_tip(q, frame, raw - self._wrench_bias)
        except DescriptionError:
            raise DescriptionError(
                self.cfg.wrench_topic,
                f"its frame_id {frame!r} is not a link of the arm's description; set wrench_frame to the link it is "
                "measured in (tool0 for UR's tool0_controller)",
            ) from None

    def zero_wrench(self, seconds: float = 0.2) -> None:
        """The mean reading over ``seconds`` becomes the bias subtracted from every later one."""
        super().zero_wrench()
        if not self.cfg.wrench_topic:
            return
        samples, deadline, last = [], time.monotonic() + seconds, None
        while time.monotonic() < deadline or not samples:
            raw, _ = self._latest_wrench()
            if last is None or not np.array_equal(raw, last):
                samples.append(raw)
                last = raw
            time.sleep(0.005)
        self._wrench_bias = np.mean(samples, axis=0)

    def _fresh_joints_positions(self) -> np.ndarray:
        return _by_name(self._fresh_joints(), self.spec.joint_names, "position", self.cfg.joint_states_topic)

    def _publish(self, v: np.ndarray) -> None:
        self.link.publish_command(v)

    def _on_estop(self, source: str) -> None:
        """Runs in the executor thread: stop at once, then tell the listeners (the safety filter latches)."""
        self.link.publish_command(np.zeros(self.spec.num_joints))
        self._estops.append(source)
        self._emit_estop(source)

    def _apply(self, joint_velocities: np.ndarray) -> None:
        self._publish(joint_velocities)

    def _reset(self) -> Observation:
        if self.cfg.reset_service:
            self._call_reset()
        else:
            self._wait_home()
        self._wait_for_states_after(time.monotonic())
        return self._observe()

    def _wait_for_states_after(self, moment: float) -> None:
        """Block until joint and pan-tilt states received after ``moment`` (monotonic) are in: the first
        observation after a reset shows the reset cell, however late a loaded driver publishes it."""
        deadline = moment + self.cfg.connect_timeout
        while True:
            with self.link.lock:
                fresh = self.link.joints[1] > moment and self.link.pan_tilt[1] > moment
            if fresh:
                return
            if time.monotonic() > deadline:
                raise StaleStateError(
                    f"no {self.cfg.joint_states_topic} and {self.cfg.pan_tilt_state_topic} within "
                    f"{self.cfg.connect_timeout} s after the reset; the driver has stopped publishing"
                )
            time.sleep(0.002)

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
        home = self.spec.home_joint_positions
        if home is None:
            raise RobotILError(
                "home_joint_positions is not set in the backend's YAML: give the joint angles where episodes start"
            )
        deadline, seen = time.monotonic() + timeout, len(self._estops)
        while np.abs(home - self._observe().joint_positions).max() > tolerance:
            if len(self._estops) > seen:
                raise EStopError(f"e-stop ({self._estops[-1]}) while waiting for the arm to be home")
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
        msg = _fresh_pan_tilt(link, self._robot.cfg)
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
    from robot_il.config import from_dict
    from robot_il.hal.factory import Backend
    from robot_il.ros2.config import load_ros2_config

    if isinstance(config, Ros2Config):
        cfg = config
    elif isinstance(config, str | os.PathLike):
        cfg = load_ros2_config(config)
    else:
        cfg = from_dict(Ros2Config, config or {})
    robot = Ros2Robot(cfg)
    return Backend(name="ros2", robot=robot, pan_tilt=Ros2PanTilt(robot))
