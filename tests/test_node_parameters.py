"""The nodes start from their shipped parameter files and their documented ``-p`` examples, each as its own
process over DDS on loopback (as a launch file starts them), hold typed read-only parameters, and stop on
SIGINT with status 0; a bad value ends them with status 2 and one line naming the parameter."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from robot_il_pan_tilt import node as pan_tilt_node
from robot_il_pan_tilt import params as driver_params
from robot_il_pan_tilt.fake import FakePTU

from robot_il.ros2 import command_gate, params
from robot_il.ros2.params import Param, ParameterError

ROOT = Path(__file__).parents[1]
GATE_YAML = ROOT / "drivers/robot_il_bringup/config/command_gate.yaml"
PAN_TILT_YAML = ROOT / "drivers/robot_il_pan_tilt/config/pan_tilt.yaml"
TIMEOUT = 60.0


def _exe(console_script: str) -> str:
    return shutil.which(console_script) or str(Path(sys.executable).parent / console_script)


def _documented(program: str, *texts: str) -> list[str]:
    """The ``--ros-args`` of every example of ``program`` in ``texts`` (docstrings, --help, the README)."""
    found = re.findall(rf"{re.escape(program)} --ros-args ([^#\n\"]*)", "\n".join(texts))
    assert found, f"no documented example of {program}"
    return [line.strip() for line in found]


class Peer:
    """A node of the test's own, on a graph of its own (the session's gate and bridge are on ``ros2_domain``)."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.domain = domain
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("parameter_test", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def start(self, program: str, args: list[str]) -> subprocess.Popen:
        """``program --ros-args ARGS`` as its own process on this graph."""
        return subprocess.Popen(
            [_exe(program), "--ros-args", *args],
            env={**os.environ, "ROS_DOMAIN_ID": str(self.domain)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def spin_until(self, proc: subprocess.Popen, done, what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not done():
            assert proc.poll() is None, f"exited {proc.returncode} before {what}: {proc.stderr.read()}"
            assert time.monotonic() < deadline, f"no {what} within {TIMEOUT} s"
            self.executor.spin_once(timeout_sec=0.1)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def peer(ros2_domain: int) -> Iterator[Peer]:
    p = Peer(ros2_domain + 4)
    yield p
    p.close()


def _parameters(peer: Peer, proc: subprocess.Popen, node: str, names: list[str]) -> dict[str, tuple]:
    """{name: (ROS type name, value, read_only)} as the node's parameter services report them."""
    from rcl_interfaces.srv import DescribeParameters, GetParameters
    from rclpy.parameter import Parameter, parameter_value_to_python

    answers = []
    for srv, service in ((DescribeParameters, "describe_parameters"), (GetParameters, "get_parameters")):
        client = peer.node.create_client(srv, f"/{node}/{service}")
        peer.spin_until(proc, client.service_is_ready, f"/{node}/{service}")
        future = client.call_async(srv.Request(names=names))
        peer.spin_until(proc, future.done, f"an answer from /{node}/{service}")
        answers.append(future.result())
        peer.node.destroy_client(client)
    described, got = answers
    return {
        name: (Parameter.Type(d.type).name, parameter_value_to_python(v), d.read_only)
        for name, d, v in zip(names, described.descriptors, got.values, strict=True)
    }


def _stop(proc: subprocess.Popen) -> str:
    """SIGINT, as Ctrl-C or a launch file's shutdown: the node must exit 0."""
    proc.send_signal(signal.SIGINT)
    try:
        status = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = proc.stderr.read()
    assert status == 0, f"exit {status} on SIGINT: {log}"
    return log


# The parameter helper ---------------------------------------------------------------------------------


def test_the_driver_package_carries_the_same_parameter_helper() -> None:
    """The pan-tilt package does not depend on robot-il, so it has a copy; the two must not drift apart."""
    assert Path(driver_params.__file__).read_text() == Path(params.__file__).read_text()


@pytest.mark.parametrize(
    ("param", "given", "expected"),
    [
        (Param("rate", 20.0, "Hz", positive=True), 20, 20.0),
        (Param("rate", 20.0, "Hz", positive=True), None, 20.0),
        (Param("v", [], "rad/s", type="double_array"), [1, 2], [1.0, 2.0]),
        (Param("v", [], "rad/s", type="double_array"), None, []),
        (Param("baud", 9600, "bit/s"), 115200, 115200),
        (Param("names", ["a", "b"], "joints", length=2), ["x", "y"], ["x", "y"]),
        (Param("topic", "/a/b", "where", type="topic"), "~/c", "~/c"),
        (Param("cell", "peg", "which", choices=("peg", "clip")), "clip", "clip"),
        (Param("delay", 0.5, "s", minimum=0.0), 0, 0.0),
    ],
)
def test_values_are_converted_to_the_declared_type(param: Param, given, expected) -> None:
    value = param.convert(given)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("param", "given", "why"),
    [
        (Param("rate", 20.0, "Hz", positive=True), 0.0, "must be positive"),
        (Param("rate", 20.0, "Hz", positive=True), float("nan"), "must be finite"),
        (Param("rate", 20.0, "Hz"), "abc", "must be a number"),
        (Param("rate", 20.0, "Hz"), True, "must be a number"),
        (Param("baud", 9600, "bit/s"), 9600.5, "must be an integer"),
        (Param("v", [], "rad/s", type="double_array", positive=True), [1.0, -1.0], "must be positive"),
        (Param("v", [], "rad/s", type="double_array"), 1.0, "must be a list of doubles"),
        (Param("names", ["a", "b"], "joints", length=2), ["x"], "must have 2 elements, not 1"),
        (Param("port", "/dev/ttyUSB0", "device"), 0, "must be a string"),
        (Param("topic", "/a", "where", type="topic"), "a b", "is not a valid ROS name"),
        (Param("cell", "peg", "which", choices=("peg", "clip")), "pegs", "must be one of 'peg', 'clip'"),
        (Param("delay", 0.5, "s", minimum=0.0), -0.1, "must be at least 0"),
    ],
)
def test_bad_values_raise_one_line_naming_the_parameter(param: Param, given, why: str) -> None:
    with pytest.raises(ParameterError) as err:
        param.convert(given)
    assert str(err.value).startswith(f"parameter {param.name}:=") and why in str(err.value)
    assert "\n" not in str(err.value)


# The command gate -------------------------------------------------------------------------------------


def _gate_up(peer: Peer, proc: subprocess.Popen) -> None:
    """The gate's latched state topic says ``idle``."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    states: list[str] = []
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    sub = peer.node.create_subscription(String, command_gate.STATE_TOPIC, lambda m: states.append(m.data), qos)
    peer.spin_until(proc, lambda: states, f"state on {command_gate.STATE_TOPIC}")
    peer.node.destroy_subscription(sub)
    assert states[0] == "idle", states


def test_the_gate_starts_from_its_shipped_parameter_file_with_typed_parameters(peer) -> None:
    """As real.launch.py starts it: ``--ros-args --params-file config/command_gate.yaml``."""
    shipped = yaml.safe_load(GATE_YAML.read_text())[command_gate.NODE_NAME]["ros__parameters"]
    assert set(shipped) == {p.name for p in command_gate.PARAMETERS}, "the file and the node disagree"
    proc = peer.start("robot-il-command-gate", ["--params-file", str(GATE_YAML)])
    _gate_up(peer, proc)
    got = _parameters(peer, proc, command_gate.NODE_NAME, list(shipped))
    assert {name: value for name, (_, value, _) in got.items()} == shipped
    assert {name: kind for name, (kind, _, _) in got.items()} == {
        "rate": "DOUBLE",
        "timeout_periods": "DOUBLE",
        "controller": "STRING",
        "joint_names": "STRING_ARRAY",
        "max_velocity": "DOUBLE_ARRAY",
        "command_topic": "STRING",
        "estop_topic": "STRING",
    }
    assert all(read_only for _, _, read_only in got.values()), "a parameter the gate reads once is settable"
    assert "command gate up" in _stop(proc)


@pytest.mark.parametrize("args", _documented("robot-il-command-gate", command_gate.__doc__, command_gate.usage()))
def test_the_gate_starts_from_its_documented_examples(peer, args: str) -> None:
    """Integers where doubles are expected (``timeout_periods:=3``) are doubles."""
    proc = peer.start("robot-il-command-gate", args.split())
    _gate_up(peer, proc)
    given = dict(a.removeprefix("-p ").split(":=") for a in re.findall(r"-p \S+", args))
    got = _parameters(peer, proc, command_gate.NODE_NAME, list(given))
    for name, text in given.items():
        kind, value, _ = got[name]
        assert value == yaml.safe_load(text), f"{name}: {value!r} from {text!r}"
        assert kind == ("STRING" if isinstance(value, str) else "DOUBLE"), f"{name} is {kind}"
    _stop(proc)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_gate_going_away_sends_the_controller_a_zero(peer, signum: int) -> None:
    """However the gate is stopped (Ctrl-C, a launch file's SIGINT, systemd's SIGTERM) while it forwards motion,
    its last word to the controller is zero and it exits 0: rclpy's own signal handlers would shut its context
    down first, and the zero would then fail to publish (seen as exit 1 under load)."""
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    received: list[list[float]] = []
    peer.node.create_subscription(
        Float64MultiArray, "/going_away_controller/commands", lambda m: received.append(list(m.data)), 10
    )
    command = peer.node.create_publisher(JointState, command_gate.COMMAND_TOPIC, 10)
    # A timeout far longer than the test: only the gate's going away can zero the controller.
    proc = peer.start(
        "robot-il-command-gate", ["-p", "controller:=going_away_controller", "-p", "timeout_periods:=200"]
    )
    _gate_up(peer, proc)

    def forwarding() -> bool:  # also proves both directions of the graph are matched
        msg = JointState(name=[f"joint_{i}" for i in range(1, 7)], velocity=[0.1] * 6)
        msg.header.stamp = peer.node.get_clock().now().to_msg()
        command.publish(msg)
        return any(v and all(x == 0.1 for x in v) for v in received)

    peer.spin_until(proc, forwarding, "a forwarded command on /going_away_controller/commands")
    proc.send_signal(signum)
    status = proc.wait(timeout=TIMEOUT)
    deadline = time.monotonic() + 5.0
    while any(received[-1]) and time.monotonic() < deadline:
        peer.executor.spin_once(timeout_sec=0.05)
    assert status == 0, f"exit {status} on {signal.Signals(signum).name}: {proc.stderr.read()}"
    assert not any(received[-1]), f"the controller's last message was {received[-1]}"


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["-p", "rate:=0.0"], "rate"),
        (["-p", "rate:=20", "-p", "timeout_periods:=-1.0"], "timeout_periods"),
        (["--params-file", str(GATE_YAML), "-p", "max_velocity:=[0.6, 0.6]"], "max_velocity"),
        (["-p", "timeout_periods:=abc"], "timeout_periods"),
        (["-p", "command_topic:=/robot il/command"], "command_topic"),
    ],
    ids=["rate_zero", "negative_timeout", "max_velocity_length", "non_numeric", "bad_topic"],
)
def test_the_gate_refuses_a_bad_value_in_one_line(peer, args: list[str], name: str) -> None:
    proc = peer.start("robot-il-command-gate", args)
    status, log = proc.wait(timeout=TIMEOUT), proc.stderr.read()
    assert status == 2, f"exit {status}: {log}"
    lines = log.strip().splitlines()
    assert len(lines) == 1 and "cannot start" in lines[0] and name in lines[0], log


def test_an_unreadable_parameter_file_is_named_with_status_2(peer) -> None:
    proc = peer.start("robot-il-command-gate", ["--params-file", "/nonexistent/gate.yaml"])
    status, log = proc.wait(timeout=TIMEOUT), proc.stderr.read()
    assert status == 2, f"exit {status}: {log}"
    assert "Traceback" not in log and re.search(r"^robot-il-command-gate: .*/nonexistent/gate\.yaml", log, re.M), log


# The pan-tilt node ------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakePTU]:
    unit = FakePTU(echo=True)
    yield unit
    unit.close()


def _launch_args(port: str, *more: str) -> list[str]:
    """What pan_tilt.launch.py and real.launch.py give the node: its name, the shipped file, then the launch
    arguments (launch_ros writes a dict of parameters to a file of its own)."""
    return ["-r", "__node:=pan_tilt", "--params-file", str(PAN_TILT_YAML), "-p", f"port:={port}", *more]


def _pan_tilt_up(peer: Peer, proc: subprocess.Popen) -> None:
    from sensor_msgs.msg import JointState

    states: list[JointState] = []
    sub = peer.node.create_subscription(JointState, "/pan_tilt/joint_states", states.append, 10)
    peer.spin_until(proc, lambda: states, "state on /pan_tilt/joint_states")
    peer.node.destroy_subscription(sub)
    assert list(states[0].name) == ["ptu_pan", "ptu_tilt"]


def test_the_pan_tilt_node_starts_from_its_shipped_parameter_file_with_typed_parameters(
    peer, fake: FakePTU, tmp_path: Path
) -> None:
    launch_params = tmp_path / "launch_params.yaml"  # the launch arguments, as launch_ros passes them
    launch_params.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"port": fake.port, "baudrate": 9600}}}))
    shipped = yaml.safe_load(PAN_TILT_YAML.read_text())["pan_tilt"]["ros__parameters"]
    args = ["-r", "__node:=pan_tilt", "--params-file", str(PAN_TILT_YAML), "--params-file", str(launch_params)]
    proc = peer.start("pan-tilt-node", args)
    _pan_tilt_up(peer, proc)
    got = _parameters(peer, proc, "pan_tilt", list(shipped))
    assert {name: value for name, (_, value, _) in got.items()} == {**shipped, "port": fake.port}
    assert {name: kind for name, (kind, _, _) in got.items()} == {
        "port": "STRING",
        "baudrate": "INTEGER",
        "timeout": "DOUBLE",
        "publish_rate": "DOUBLE",
        "pan_speed": "DOUBLE",
        "tilt_speed": "DOUBLE",
        "joint_names": "STRING_ARRAY",
        "lost_unit_timeout": "DOUBLE",
    }
    assert all(read_only for _, _, read_only in got.values())
    assert f"pan-tilt on {fake.port}" in _stop(proc)


PAN_TILT_EXAMPLES = [
    *_documented("pan-tilt-node", pan_tilt_node.__doc__, pan_tilt_node.usage(), (ROOT / "README.md").read_text()),
    "-p port:=/dev/ttyUSB0 -p publish_rate:=20 -p timeout:=1 -p pan_speed:=1 -p lost_unit_timeout:=2",
]


@pytest.mark.parametrize("args", PAN_TILT_EXAMPLES)
def test_the_pan_tilt_node_starts_from_documented_examples_and_integers(peer, fake: FakePTU, args: str) -> None:
    proc = peer.start("pan-tilt-node", args.replace("port:=/dev/ttyUSB0", f"port:={fake.port}").split())
    _pan_tilt_up(peer, proc)
    given = dict(a.removeprefix("-p ").split(":=") for a in re.findall(r"-p \S+", args) if "port:=" not in a)
    got = _parameters(peer, proc, "pan_tilt", list(given))
    for name, text in given.items():
        kind, value, _ = got[name]
        assert value == yaml.safe_load(text), f"{name}: {value!r} from {text!r}"
        assert kind == ("INTEGER" if name == "baudrate" else "DOUBLE"), f"{name} is {kind}"
    _stop(proc)


@pytest.mark.parametrize(
    ("more", "name"),
    [
        (["-p", "publish_rate:=0"], "publish_rate"),
        (["-p", "timeout:=-0.5"], "timeout"),
        (["-p", "joint_names:=[ptu_pan]"], "joint_names"),
        (["-p", "lost_unit_timeout:=soon"], "lost_unit_timeout"),
    ],
    ids=["rate_zero", "negative_timeout", "one_joint_name", "non_numeric"],
)
def test_the_pan_tilt_node_refuses_a_bad_value_in_one_line(peer, fake: FakePTU, more: list[str], name: str) -> None:
    proc = peer.start("pan-tilt-node", _launch_args(fake.port, *more))
    status, log = proc.wait(timeout=TIMEOUT), proc.stderr.read()
    assert status == 2, f"exit {status}: {log}"
    lines = log.strip().splitlines()
    assert len(lines) == 1 and "cannot start" in lines[0] and name in lines[0], log
    assert fake.received == [], "the node talked to the unit despite a bad parameter"
