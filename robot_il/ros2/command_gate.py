"""The command gate: a standalone node between robot-il and the arm's velocity controller.

ros2_control's ``forward_command_controller`` keeps its last command forever, so
a watchdog inside the deploy process cannot cover the deploy process dying
(``kill -9``, a segfault, the OOM killer). The gate is a process of its own,
started by ``real.launch.py`` / ``sim.launch.py`` next to the arm driver:

* robot-il publishes ``sensor_msgs/JointState`` on ``/robot_il/command`` (joint
  names, velocities in rad/s, a stamp that must increase: the stream's heartbeat);
* the gate checks each message (names, finite, within ``max_velocity``, newer than
  the last) and forwards the velocities as ``std_msgs/Float64MultiArray`` to
  ``/<controller>/commands``;
* when no valid message arrives for ``timeout_periods`` control periods, it
  publishes zero and latches (``stream_lost``); a malformed command or one over
  the limits latches too (``bad_command``); so does an e-stop
  (``std_msgs/Empty`` on ``/robot_il/estop`` or the ``std_srvs/Trigger`` service of
  that name, which also re-broadcasts the e-stop on the topic for every listener);
* while latched every incoming command is answered with zero; only the
  ``~/release`` service (``robot-il gate release``) re-opens it: after a crash a
  person looks at the cell before anything moves again;
* a client that ends cleanly sends zero with ``frame_id: end_of_stream``: the gate
  goes back to ``idle`` without latching;
* a tick more than half the timeout late (the gate's own process was starved) does
  not latch: commands may be queued behind it; the next tick decides (once);
* the state (``idle``, ``forwarding``, ``stream_lost: ...``, ``estop: ...``,
  ``bad_command: ...``) is published, latched for late joiners, on ``~/state``.

The decisions are :class:`GateLogic` (no rclpy; unit-tested directly); the node
is a thin layer over it.

    robot-il-command-gate --ros-args -p rate:=20.0 -p timeout_periods:=3 -p controller:=velocity_controller
"""

from __future__ import annotations

import enum
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from robot_il.ros2.params import Param, ParameterError, declare, init

NODE_NAME = "robot_il_command_gate"
COMMAND_TOPIC = "/robot_il/command"
STATE_TOPIC = f"/{NODE_NAME}/state"
RELEASE_SERVICE = f"/{NODE_NAME}/release"
ESTOP_TOPIC = "/robot_il/estop"
END_OF_STREAM = "end_of_stream"

PARAMETERS: tuple[Param, ...] = (
    Param("rate", 20.0, "control rate of the client, Hz (one period = 1 / rate)", positive=True),
    Param("timeout_periods", 3.0, "zero and latch when no valid command arrives for this many periods", positive=True),
    Param(
        "controller",
        "velocity_controller",
        "forward_command_controller; commands go to /<controller>/commands",
        type="topic",
    ),
    Param(
        "joint_names",
        ["joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6"],
        "joints in the controller's order; commands are matched by name",
    ),
    Param(
        "max_velocity",
        [],
        "per-joint bound, rad/s; a command beyond it latches (empty: no check)",
        type="double_array",
        positive=True,
    ),
    Param("command_topic", COMMAND_TOPIC, "where robot-il publishes its JointState commands", type="topic"),
    Param(
        "estop_topic", ESTOP_TOPIC, "std_msgs/Empty e-stop topic (a Trigger service of the same name too)", type="topic"
    ),
)
"""Each ROS parameter (read once at start); ``config/command_gate.yaml`` of robot_il_bringup sets them all."""


class GateState(enum.StrEnum):
    IDLE = "idle"
    FORWARDING = "forwarding"
    STREAM_LOST = "stream_lost"
    BAD_COMMAND = "bad_command"
    ESTOP = "estop"


LATCHED = {GateState.STREAM_LOST, GateState.BAD_COMMAND, GateState.ESTOP}


@dataclass
class GateLogic:
    """What the gate forwards, when it stops, and what it latches. Times are seconds of one clock."""

    joint_names: tuple[str, ...]
    period: float
    """Control period of the client, s."""
    timeout_periods: float = 3.0
    max_velocity: tuple[float, ...] = ()
    state: GateState = GateState.IDLE
    reason: str = ""
    last_valid: float = -math.inf
    """When the last valid command arrived (gate clock)."""
    last_stamp: float = -math.inf
    """The client's stamp of the last valid command."""
    counts: dict[str, int] = field(default_factory=dict)
    last_tick: float = -math.inf
    """When :meth:`on_tick` last ran (gate clock)."""
    deferred: bool = False
    """The last tick found the gate itself late and left the timeout to the next one (no command since)."""

    def __post_init__(self) -> None:
        if not self.period > 0 or not self.timeout_periods > 0:
            raise ValueError(f"period ({self.period}) and timeout_periods ({self.timeout_periods}) must be positive")
        if self.max_velocity and len(self.max_velocity) != len(self.joint_names):
            raise ValueError(
                f"max_velocity has {len(self.max_velocity)} values for {len(self.joint_names)} joints "
                "(joint_names): give one bound per joint, or [] for no check"
            )

    @property
    def latched(self) -> bool:
        return self.state in LATCHED

    @property
    def timeout(self) -> float:
        return self.timeout_periods * self.period

    @property
    def zero(self) -> np.ndarray:
        return np.zeros(len(self.joint_names))

    def describe(self) -> str:
        return f"{self.state}: {self.reason}" if self.reason else str(self.state)

    def _latch(self, state: GateState, reason: str) -> np.ndarray:
        self.state, self.reason = state, reason
        self.counts[str(state)] = self.counts.get(str(state), 0) + 1
        return self.zero

    def on_command(
        self, names: Sequence[str], velocities: Sequence[float], stamp: float, now: float, end: bool = False
    ) -> np.ndarray | None:
        """The velocities to forward (in ``joint_names`` order), zero, or None to send nothing."""
        if self.latched:
            return self.zero  # whatever the client still sends, the arm stays stopped until released
        if not stamp > self.last_stamp:
            self.counts["stale_stamp"] = self.counts.get("stale_stamp", 0) + 1
            return None  # a replayed or reordered message is no heartbeat
        index = {n: i for i, n in enumerate(names)}
        if len(velocities) != len(names) or any(n not in index for n in self.joint_names):
            return self._latch(
                GateState.BAD_COMMAND,
                f"command names {list(names)} with {len(velocities)} velocities; expected {list(self.joint_names)}",
            )
        v = np.array([velocities[index[n]] for n in self.joint_names], dtype=np.float64)
        if not np.isfinite(v).all():
            return self._latch(GateState.BAD_COMMAND, f"non-finite command {v.tolist()}")
        if self.max_velocity and np.any(np.abs(v) > np.asarray(self.max_velocity) + 1e-9):
            return self._latch(GateState.BAD_COMMAND, f"command {v.tolist()} over max_velocity")
        self.last_stamp, self.last_valid, self.deferred = stamp, now, False
        if end:
            self.state, self.reason = GateState.IDLE, "the client ended its stream"
            return self.zero
        self.state, self.reason = GateState.FORWARDING, ""
        return v

    def on_tick(self, now: float) -> np.ndarray | None:
        """Zero (and the latch) when a forwarding stream has gone quiet for longer than the timeout.

        A tick that comes more than half the timeout after the last one means the gate itself was not
        running (a loaded machine): the client's commands may be waiting in its queue, behind this timer.
        Such a tick leaves the decision to the next one, after the queue; never two ticks running, so a gate
        that stays starved still latches, one tick later."""
        late = math.isfinite(self.last_tick) and now - self.last_tick > self.timeout / 2
        self.last_tick = now
        if not (self.state is GateState.FORWARDING and now - self.last_valid > self.timeout):
            self.deferred = False
            return None
        if late and not self.deferred:
            self.deferred = True
            self.counts["late_tick"] = self.counts.get("late_tick", 0) + 1
            return None
        self.deferred = False
        return self._latch(
            GateState.STREAM_LOST,
            f"no command for {now - self.last_valid:.3f} s "
            f"(timeout {self.timeout_periods:g} periods = {self.timeout:.3f} s)",
        )

    def estop(self, source: str) -> np.ndarray:
        return self._latch(GateState.ESTOP, source)

    def release(self) -> str:
        """Re-open after a latch (a person's decision). The next stream starts from ``idle``."""
        before = self.describe()
        self.state, self.reason = GateState.IDLE, f"released (was {before})"
        return before


def usage() -> str:
    lines = [
        "robot-il-command-gate: forward robot-il's velocity commands to the arm's controller, and stop the arm",
        "when the stream stops, a command is malformed, or an e-stop fires (latched until ~/release).",
        "",
        "usage: robot-il-command-gate [--ros-args -p NAME:=VALUE ...]",
        "",
        "parameters:",
    ]
    lines += [f"  {p.name:<16} {p.default!r:<40} {p.description}" for p in PARAMETERS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv[1:]):
        print(usage())
        return 0

    import signal
    import threading

    import rclpy
    from rclpy.duration import Duration
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Empty, Float64MultiArray, String
    from std_srvs.srv import Trigger

    try:
        # SIGINT and SIGTERM are the gate's own: rclpy's handlers would shut the context down first, and the
        # zero the gate sends on its way out would then fail to publish.
        init(argv, signal_handler_options=SignalHandlerOptions.NO)
    except ParameterError as err:
        print(f"robot-il-command-gate: {err}", file=sys.stderr)
        return 2
    node = Node(NODE_NAME)
    try:
        p = declare(node, PARAMETERS)
        logic = GateLogic(
            joint_names=tuple(p["joint_names"]),
            period=1.0 / p["rate"],
            timeout_periods=p["timeout_periods"],
            max_velocity=tuple(p["max_velocity"]),
        )
    except ValueError as err:  # a ParameterError, or max_velocity and joint_names that do not match
        node.get_logger().fatal(f"cannot start: {err}")
        node.destroy_node()
        rclpy.try_shutdown()
        return 2
    log = node.get_logger()
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    latched_qos = QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
    )
    controller_pub = node.create_publisher(Float64MultiArray, f"/{str(p['controller']).strip('/')}/commands", reliable)
    state_pub = node.create_publisher(String, STATE_TOPIC, latched_qos)
    estop_pub = node.create_publisher(Empty, str(p["estop_topic"]), reliable)
    published = [""]

    def now() -> float:
        return node.get_clock().now().nanoseconds * 1e-9

    def send(v: np.ndarray | None) -> None:
        if v is not None:
            controller_pub.publish(Float64MultiArray(data=[float(x) for x in v]))
        text = logic.describe()
        if text != published[0]:
            published[0] = text
            state_pub.publish(String(data=text))
            if logic.latched:  # (rclpy refuses two severities from one call site)
                log.warning(f"gate {text}: the arm is stopped until released")
            else:
                log.info(f"gate {text}")

    def on_command(msg: JointState) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        send(logic.on_command(msg.name, msg.velocity, stamp, now(), end=msg.header.frame_id == END_OF_STREAM))

    def on_estop_topic(_msg: Empty) -> None:
        if logic.state is not GateState.ESTOP:
            send(logic.estop(f"topic {p['estop_topic']}"))

    def on_estop_service(_request, response):
        send(logic.estop(f"service {p['estop_topic']}"))
        estop_pub.publish(Empty())  # every listener (the deploy process's safety filter) latches too
        response.success, response.message = True, "e-stop latched; the arm is stopped"
        return response

    def on_release(_request, response):
        before = logic.release()
        send(None)
        response.success, response.message = True, f"released; was {before}"
        return response

    node.create_subscription(JointState, str(p["command_topic"]), on_command, reliable)
    node.create_subscription(Empty, str(p["estop_topic"]), on_estop_topic, reliable)
    node.create_service(Trigger, str(p["estop_topic"]), on_estop_service)
    node.create_service(Trigger, RELEASE_SERVICE, on_release)
    node.create_timer(logic.period / 4, lambda: send(logic.on_tick(now())))
    send(None)
    log.info(
        f"command gate up: {p['command_topic']} -> /{p['controller']}/commands, zero after "
        f"{logic.timeout_periods:g} periods of {logic.period * 1e3:.1f} ms"
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=logic.period)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if rclpy.ok():
            controller_pub.publish(Float64MultiArray(data=[0.0] * len(logic.joint_names)))  # the gate going away
            # Reliable delivery needs the writer alive until the controller has it: a process that exits at once
            # can take an unacknowledged zero with it.
            controller_pub.wait_for_all_acked(Duration(seconds=1.0))
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def call_gate_service(service: str, timeout: float = 5.0) -> str:
    """Call one of the gate's Trigger services from a short-lived node; returns its message."""
    import time

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_srvs.srv import Trigger

    from robot_il.errors import NotConnectedError

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("robot_il_gate_client", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        client = node.create_client(Trigger, service)
        if not client.wait_for_service(timeout_sec=timeout):
            raise NotConnectedError(
                f"no command gate answers {service} within {timeout} s; is robot-il-command-gate running "
                "(real.launch.py and sim.launch.py start it), on this ROS_DOMAIN_ID?"
            )
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise NotConnectedError(f"{service} did not answer within {timeout} s")
            executor.spin_once(timeout_sec=0.05)
        return future.result().message
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
