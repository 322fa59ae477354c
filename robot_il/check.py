"""``robot-il check``: the bring-up check of a real cell over ROS 2, one line per item, PASS or FAIL with the fix.

Before anything moves, a probe node of its own looks at what the cell publishes,
each item on its own so that one fault does not hide the next:

1. ``description``: the arm's description is read and its joints are the config's;
2. ``limits``: the limits file is within the description;
3. ``state``: ``/joint_states`` names every joint, arrives at least at the control rate and is fresh;
4. ``controller``: something listens on the velocity controller's command topic;
5. ``pan_tilt``: the unit reports, within its limits, and follows a small move;
6. ``wrench``: the force sensor publishes, in a frame of the description;
7. ``gate``: the command gate is up, listening, and not latched;

and, when all of those pass, the one check that moves the arm:

8. ``estop``: a guarded motion of one wrist joint at 2% of its velocity limit, through the safety filter, is
   stopped by a message on the e-stop topic; the arm must be at rest within one control period (measured on
   ``/joint_states``). The check's own e-stop is then released (the gate's too).

Exit code 1 on any FAIL. ``robot_il.ros2``'s backend is the only one with a cell to check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robot_il.arm import ArmModel, load_description, parse_urdf
from robot_il.errors import RobotILError
from robot_il.ros2 import command_gate
from robot_il.ros2.config import Ros2Config, load_ros2_config

ESTOP_SPEED = 0.02
"""The guarded motion's speed, as a fraction of the joint's velocity limit."""


@dataclass
class Item:
    name: str
    ok: bool | None
    """True: PASS, False: FAIL, None: not run (an earlier item failed)."""
    detail: str
    fix: str = ""

    def line(self) -> str:
        word = {True: "PASS", False: "FAIL", None: "SKIP"}[self.ok]
        return f"{word} {self.name:<11} {self.detail}" + (f"; fix: {self.fix}" if self.fix and not self.ok else "")


class _Probe:
    """A node of the check's own: the latest message of each topic it watches, with arrival times."""

    def __init__(self, cfg: Ros2Config) -> None:
        import rclpy
        from geometry_msgs.msg import WrenchStamped
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Empty, String

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("robot_il_check", context=self.context)
        self.lock = threading.Lock()
        self.messages: dict[str, list[tuple[float, Any]]] = {}
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        watch = [(JointState, cfg.joint_states_topic, reliable), (JointState, cfg.pan_tilt_state_topic, reliable)]
        if cfg.wrench_topic:
            watch.append((WrenchStamped, cfg.wrench_topic, reliable))
        if cfg.arm.description == "topic":
            watch.append((String, cfg.arm.description_topic, latched))
        if cfg.command_gate_topic:
            watch.append((String, command_gate.STATE_TOPIC, latched))
        for kind, topic, qos in watch:
            self.messages[topic] = []
            self.node.create_subscription(kind, topic, lambda msg, t=topic: self._keep(t, msg), qos)
        self.estop = self.node.create_publisher(Empty, cfg.estop_topic, reliable)
        self.pan_tilt = self.node.create_publisher(JointState, cfg.pan_tilt_command_topic, reliable)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True, name="robot-il-check")
        self.thread.start()

    def _keep(self, topic: str, msg: Any) -> None:
        with self.lock:
            self.messages[topic].append((time.monotonic(), msg))

    def received(self, topic: str, since: float = 0.0) -> list[tuple[float, Any]]:
        with self.lock:
            return [(t, m) for t, m in self.messages.get(topic, []) if t >= since]

    def wait(self, topic: str, timeout: float, count: int = 1, since: float = 0.0) -> list[tuple[float, Any]]:
        deadline = time.monotonic() + timeout
        while len(got := self.received(topic, since)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return got

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=2)


def run_check(
    backend_config: str | Path,
    limits_path: str | Path | None = None,
    task: str = "peg",
    estop: bool = True,
    wait: float | None = None,
    report: Callable[[Item], None] = lambda item: None,
) -> list[Item]:
    """Every item against the cell ``backend_config`` describes; ``report`` sees each as it is decided. ``wait``:
    how long an item waits for its first message (default: the config's ``connect_timeout``, as the backend)."""
    cfg = load_ros2_config(backend_config)
    wait = cfg.connect_timeout if wait is None else wait
    items: list[Item] = []

    def add(item: Item) -> Item:
        items.append(item)
        report(item)
        return item

    probe = _Probe(cfg)
    try:
        model = add(_description(cfg, probe, wait)).ok and _model(cfg, probe)
        if not model:
            for name in ("limits", "state", "controller", "pan_tilt", "wrench", "gate", "estop"):
                add(Item(name, None, "not run: no arm model"))
            return items
        add(_limits(cfg, model, limits_path, task))
        add(_state(cfg, model, probe, wait))
        add(_controller(cfg, probe))
        add(_pan_tilt(cfg, probe, wait))
        add(_wrench(cfg, model, probe, wait))
        add(_gate(cfg, probe, wait))
        if not estop:
            add(Item("estop", None, "not run (--no-estop-test)"))
        elif not all(item.ok for item in items):
            add(Item("estop", None, "not run: the items above must pass before the check moves the arm"))
        else:
            add(_estop(cfg, backend_config, limits_path, task, probe))
    finally:
        probe.close()
    return items


def _model(cfg: Ros2Config, probe: _Probe) -> ArmModel:
    if cfg.arm.description == "topic":
        (_, msg), *_ = probe.received(cfg.arm.description_topic)[-1:]
        description = parse_urdf(msg.data, f"{cfg.arm.description_topic} (the arm's URDF)")
    else:
        description = load_description(cfg.arm.description)
    tool = cfg.arm.tool_offset if cfg.arm.tool_offset is not None else cfg.cell.tool_offset
    return ArmModel(description, cfg.arm.tip_link, tool, cfg.arm.base_link or None, cfg.joint_names)


def _description(cfg: Ros2Config, probe: _Probe, wait: float) -> Item:
    if cfg.arm.description == "topic" and not probe.wait(cfg.arm.description_topic, wait):
        return Item(
            "description",
            False,
            f"no URDF on {cfg.arm.description_topic} within {wait} s",
            "start the arm driver's bringup (robot_state_publisher), or set arm.description to a URDF file",
        )
    try:
        model = _model(cfg, probe)
    except RobotILError as err:
        return Item("description", False, str(err), "match joint_names, arm.tip_link and arm.base_link to it")
    joints = list(model.joint_names)
    return Item("description", True, f"{model.name or 'arm'} from {model.description.source}: {len(joints)} joints "
                f"{joints[0]} .. {joints[-1]}, {model.base_link} -> {model.tip_link}")  # fmt: skip


def _limits(cfg: Ros2Config, model: ArmModel, limits_path, task: str) -> Item:
    from robot_il.safety import default_limits, load_limits

    path = str(limits_path or cfg.limits)
    try:
        if not path:
            raise RobotILError("no limits file: give --limits, or set limits: in the backend's YAML")
        if path == "sim":
            limits = default_limits(task, cfg.cell.arm, model.joint_names, cfg.cell.workspace, model.limits)
        else:
            limits = load_limits(path, model.joint_names, model.limits, model.description.source)
    except RobotILError as err:
        return Item("limits", False, str(err), "tighten the file to the description's limits")
    fastest = max(j.max_velocity for j in limits.joints)
    return Item(
        "limits",
        True,
        f"{path} is within the description (fastest joint {fastest:.3f} rad/s, tip at most "
        f"{limits.cartesian.max_ee_speed} m/s)",
    )


def _state(cfg: Ros2Config, model: ArmModel, probe: _Probe, wait: float) -> Item:
    topic = cfg.joint_states_topic
    start = time.monotonic()
    got = probe.wait(topic, wait, count=2)
    if not got:
        return Item("state", False, f"no messages on {topic} within {wait} s", "start the arm driver")
    names = got[-1][1].name
    missing = [n for n in model.joint_names if n not in names]
    if missing:
        return Item("state", False, f"{topic} has no {missing}; it names {list(names)}", "fix joint_names")
    # Two one-second windows at most: a single stall (a loaded driver PC) is reported, a stream that stays slow
    # or stale fails.
    stalls = []
    for _ in range(2):
        time.sleep(max(0.0, start + 1.0 - time.monotonic()))
        window = probe.received(topic, since=time.monotonic() - 1.0)
        rate = len(window) / 1.0
        age = time.monotonic() - window[-1][0] if window else float("inf")
        if rate >= cfg.control_rate_hz and age <= cfg.stale_after:
            break
        stalls.append(f"{rate:.0f} Hz, last {age * 1e3:.0f} ms ago")
        start = time.monotonic()
    else:
        return Item(
            "state",
            False,
            f"{topic} at {'; then '.join(stalls)}; needs at least {cfg.control_rate_hz:g} Hz and "
            f"under {cfg.stale_after * 1e3:.0f} ms",
            "raise joint_state_broadcaster's publish rate, or lower control_rate_hz",
        )
    q = ", ".join(f"{v:.4f}" for v in _by_name(got[-1][1], model.joint_names))
    stalled = f" (one stall in the first second: {stalls[0]}; it would stop motion)" if stalls else ""
    return Item("state", True, f"{topic} at {rate:.0f} Hz, every joint named; joint angles now [{q}]{stalled}")


def _controller(cfg: Ros2Config, probe: _Probe) -> Item:
    topic = cfg.command_topic
    if probe.node.count_subscribers(topic) > 0:
        return Item("controller", True, f"{cfg.controller} listens on {topic}")
    stop = f" --deactivate {cfg.stop_controller}" if cfg.stop_controller else ""
    return Item(
        "controller",
        False,
        f"nothing listens on {topic}",
        f"ros2 control switch_controllers --activate {cfg.controller}{stop}",
    )


def _pan_tilt(cfg: Ros2Config, probe: _Probe, wait: float) -> Item:
    from sensor_msgs.msg import JointState

    topic = cfg.pan_tilt_state_topic
    got = probe.wait(topic, wait)
    if not got:
        return Item(
            "pan_tilt", False, f"no messages on {topic} within {wait} s", "start pan-tilt-node (real.launch.py)"
        )
    start = _by_name(got[-1][1], cfg.pan_tilt_joint_names)
    (pmin, pmax), (tmin, tmax) = cfg.pan_limits, cfg.tilt_limits
    if not (pmin <= start[0] <= pmax and tmin <= start[1] <= tmax):
        return Item("pan_tilt", False, f"reports ({start[0]:.3f}, {start[1]:.3f}) rad, outside its limits",
                    "home the unit (its R command), check pan_limits and tilt_limits")  # fmt: skip
    target = np.clip(start + np.array([0.05, 0.02]), [pmin, tmin], [pmax, tmax])
    for goal in (target, start):
        sent = time.monotonic()
        probe.pan_tilt.publish(JointState(name=list(cfg.pan_tilt_joint_names), position=[float(x) for x in goal]))
        deadline = sent + cfg.pan_tilt_timeout
        while time.monotonic() < deadline:
            latest = probe.received(topic, since=sent)
            if (
                latest
                and np.abs(_by_name(latest[-1][1], cfg.pan_tilt_joint_names) - goal).max() < cfg.pan_tilt_tolerance
            ):
                break
            time.sleep(0.01)
        else:
            return Item("pan_tilt", False, f"did not reach {np.round(goal, 3).tolist()} rad within "
                        f"{cfg.pan_tilt_timeout} s", "check the unit's power and serial link")  # fmt: skip
    return Item("pan_tilt", True, f"at ({start[0]:.3f}, {start[1]:.3f}) rad, moved 0.05 rad and back")


def _wrench(cfg: Ros2Config, model: ArmModel, probe: _Probe, wait: float) -> Item:
    if not cfg.wrench_topic:
        return Item("wrench", True, "no force sensor configured: deploy needs --no-force-sensor (force limits off)")
    got = probe.wait(cfg.wrench_topic, wait)
    if not got:
        return Item("wrench", False, f"no messages on {cfg.wrench_topic} within {wait} s",
                    "activate force_torque_sensor_broadcaster, or clear wrench_topic")  # fmt: skip
    frame = cfg.wrench_frame or got[-1][1].header.frame_id
    if frame not in model.description.links:
        return Item("wrench", False, f"{cfg.wrench_topic} is in {frame!r}, not a link of the description",
                    "set wrench_frame to the link it is measured in (tool0 for UR's tool0_controller)")  # fmt: skip
    w = got[-1][1].wrench
    force = float(np.linalg.norm([w.force.x, w.force.y, w.force.z]))
    return Item("wrench", True, f"{cfg.wrench_topic} in {frame}, reading {force:.1f} N (zeroed at each episode)")


def _gate(cfg: Ros2Config, probe: _Probe, wait: float) -> Item:
    if not cfg.command_gate_topic:
        return Item("gate", True, "no command gate configured: nothing stops the arm if robot-il is killed -9")
    got = probe.wait(command_gate.STATE_TOPIC, wait)
    if not got:
        return Item("gate", False, f"no state on {command_gate.STATE_TOPIC} within {wait} s",
                    "start robot-il-command-gate (real.launch.py does)")  # fmt: skip
    state = got[-1][1].data
    if state.split(":")[0] in {str(s) for s in command_gate.LATCHED}:
        return Item("gate", False, f"latched ({state})", "check the cell, then `robot-il gate release`")
    if probe.node.count_subscribers(cfg.command_gate_topic) == 0:
        return Item("gate", False, f"nothing listens on {cfg.command_gate_topic}", "set command_gate_topic to the "
                    "gate's command_topic")  # fmt: skip
    return Item("gate", True, f"up and {state} on {cfg.command_gate_topic}")


def _estop(cfg: Ros2Config, backend_config, limits_path, task: str, probe: _Probe) -> Item:
    """A guarded motion of the last joint at ESTOP_SPEED of its limit, stopped by the e-stop topic."""
    from std_msgs.msg import Empty

    from robot_il.deploy.loop import control_loop
    from robot_il.deploy.run import open_session

    session = open_session("ros2", cfg.control_rate_hz, limits_path, backend_config, task=task, force_sensor=False)
    period = session.robot.spec.control_period
    joint = session.robot.spec.num_joints - 1
    speed = ESTOP_SPEED * session.safety.v_max[joint]
    command = np.zeros(session.robot.spec.num_joints)
    command[joint] = speed
    pressed: list[float] = []

    def guarded(_obs) -> np.ndarray:
        return command

    def press_after_half_a_second(traj) -> None:
        if not pressed and traj.steps * period >= 0.5:
            pressed.append(time.monotonic())
            probe.estop.publish(Empty())

    try:
        with session:
            traj = control_loop(session.controller, guarded, session.task, max_steps=round(1.0 / period),
                                on_step=press_after_half_a_second)  # fmt: skip
            time.sleep(2 * period)
            states = probe.received(cfg.joint_states_topic, since=pressed[0] if pressed else 0.0)
            name = session.robot.spec.joint_names[joint]
            stopped = next((t for t, m in states if abs(_by_name(m, [name], "velocity")[0]) < 0.2 * speed), None)
            session.safety.reset()
    finally:
        if cfg.command_gate_topic:
            command_gate.call_gate_service(command_gate.RELEASE_SERVICE, timeout=5.0)
    if not pressed:
        return Item("estop", False, f"the guarded motion ended before the e-stop ({traj.end_reason})",
                    "check the cell: the motion must run for 0.5 s")  # fmt: skip
    if stopped is None:
        return Item("estop", False, f"the arm still moved after the e-stop on {cfg.estop_topic}",
                    "the controller ignores zero commands or the e-stop does not reach it: do not deploy")  # fmt: skip
    latency = stopped - pressed[0]
    ok = latency <= period
    return Item("estop", ok, f"a {speed:.4f} rad/s motion of {name} stopped {latency * 1e3:.0f} ms after the e-stop "
                f"on {cfg.estop_topic} (one period: {period * 1e3:.0f} ms); released again",
                "find what delays the stop (the controller's rate, the gate) before deploying")  # fmt: skip


def _by_name(msg: Any, names, field: str = "position") -> np.ndarray:
    index = {n: i for i, n in enumerate(msg.name)}
    values = getattr(msg, field)
    return np.array([values[index[n]] if len(values) else 0.0 for n in names], dtype=np.float64)
