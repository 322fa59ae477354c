"""The pan-tilt driver (real pyserial code) against a fake PTU on a pseudo-terminal."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from robot_il_pan_tilt.fake import FakePTU
from robot_il_pan_tilt.node import PARAMETERS
from robot_il_pan_tilt.protocol import (
    ARCSEC_TO_RAD,
    FALLBACK_SPEED_RANGE_RAD,
    PanTiltUnit,
    PTUError,
    PTULimitError,
)

RES = 185.1428 * ARCSEC_TO_RAD  # rad per count
DRIVER = Path(__file__).parents[1] / "drivers" / "robot_il_pan_tilt"


def _node_exe() -> str:
    """The installed console script, as a launch file or a user starts it."""
    return shutil.which("pan-tilt-node") or os.path.join(os.path.dirname(sys.executable), "pan-tilt-node")


@pytest.fixture(params=[True, False], ids=["echo_on", "echo_off"])
def fake(request):
    unit = FakePTU(echo=request.param)
    yield unit
    unit.close()


def test_initialisation_sets_terse_echo_off_and_reads_limits(fake: FakePTU) -> None:
    with PanTiltUnit(fake.port) as ptu:
        assert fake.received[:2] == ["FT", "ED"]
        assert {"PR", "TR", "PN", "PX", "TN", "TX", "PL", "PU", "TL", "TU"} <= set(fake.received)
        (pmin, pmax), (tmin, tmax) = ptu.limits
        assert pmin == pytest.approx(-3090 * RES) and pmax == pytest.approx(3090 * RES)
        assert tmin == pytest.approx(-907 * RES) and tmax == pytest.approx(604 * RES)
        assert pmax == pytest.approx(2.7736, abs=1e-4)  # 158.9°: 3090 counts of 185.1428″
        assert ptu.pan.speed_range_rad == pytest.approx((57 * RES, 2902 * RES))
        assert ptu.tilt.speed_range_rad == pytest.approx((57 * RES, 1500 * RES))


def test_moves_in_radians_are_sent_as_counts_and_read_back(fake: FakePTU) -> None:
    with PanTiltUnit(fake.port) as ptu:
        ptu.set_speed(0.5, 0.3)
        ptu.move_to(0.3, -0.1)
        assert fake.position == {"P": round(0.3 / RES), "T": round(-0.1 / RES)}
        assert fake.speed["P"] == round(0.5 / RES)
        pan, tilt = ptu.position()
    assert pan == pytest.approx(0.3, abs=RES) and tilt == pytest.approx(-0.1, abs=RES)


@pytest.mark.parametrize(("pan", "tilt", "axis"), [(3.0, 0.0, "pan"), (0.0, 0.6, "tilt"), (math.nan, 0.0, "pan")])
def test_limits_are_enforced_before_sending(fake: FakePTU, pan: float, tilt: float, axis: str) -> None:
    with PanTiltUnit(fake.port) as ptu:
        sent = len(fake.received)
        with pytest.raises(PTULimitError, match=axis):
            ptu.move_to(pan, tilt)
        assert len(fake.received) == sent, "a command went out despite the limit"


@pytest.mark.parametrize(
    ("pan", "tilt", "axis"),
    [(0.5, 2.0, "tilt"), (0.5, 0.01, "tilt"), (3.0, 0.3, "pan"), (0.5, math.inf, "tilt")],
    ids=["tilt_too_fast", "tilt_too_slow", "pan_too_fast", "tilt_inf"],
)
def test_speeds_are_checked_on_both_axes_before_either_goes_out(
    fake: FakePTU, pan: float, tilt: float, axis: str
) -> None:
    with PanTiltUnit(fake.port) as ptu:
        sent = len(fake.received)
        with pytest.raises(PTULimitError, match=f"^{axis} speed"):
            ptu.set_speed(pan, tilt)
        assert fake.received[sent:] == [], "a speed went out despite the limit"
    assert fake.speed == {"P": 1000, "T": 1000}, "the speeds were half applied"


@pytest.mark.parametrize("echo", [True, False], ids=["echo_on", "echo_off"])
def test_a_unit_that_refuses_the_speed_limit_queries_gets_conservative_limits_with_a_warning(echo: bool) -> None:
    fake = FakePTU(echo=echo, answers_speed_limits=False)
    try:
        with PanTiltUnit(fake.port) as ptu:
            assert {"PL", "TL"} <= set(fake.received)
            assert len(ptu.warnings) == 2, ptu.warnings
            for axis, query, warning in (("pan", "PL", ptu.warnings[0]), ("tilt", "TL", ptu.warnings[1])):
                assert f"refused '{query}': Illegal command" in warning and f"its {axis} speed limits" in warning
            slow, fast = FALLBACK_SPEED_RANGE_RAD
            for axis in (ptu.pan, ptu.tilt):
                lo, hi = axis.speed_range_rad
                assert slow <= lo < slow + RES and fast - RES < hi <= fast
            ptu.set_speed(0.5, 0.3)  # the node's defaults
            sent = len(fake.received)
            with pytest.raises(PTULimitError, match=r"^pan speed 1\.5000 rad/s is outside"):
                ptu.set_speed(1.5, 0.3)  # within this unit's own limits, but not known to be
            assert fake.received[sent:] == []
        assert fake.speed == {"P": round(0.5 / RES), "T": round(0.3 / RES)}
    finally:
        fake.close()


def test_the_fake_refuses_speeds_outside_its_limits_as_the_unit_does(fake: FakePTU) -> None:
    with PanTiltUnit(fake.port) as ptu:
        with pytest.raises(PTUError, match=r"refused 'TS1501': Tilt speed out of range"):
            ptu.command("TS1501")
        ptu.set_speed(0.5, 1500 * RES)  # the fastest tilt the unit allows
    assert fake.speed == {"P": round(0.5 / RES), "T": 1500}


def test_a_refusal_from_the_unit_is_a_clear_error(fake: FakePTU) -> None:
    with PanTiltUnit(fake.port) as ptu:
        with pytest.raises(PTUError, match=r"refused 'PP99999': Pan position out of range"):
            ptu.command("PP99999")


def test_asynchronous_limit_hits_are_recorded_not_mistaken_for_replies(fake: FakePTU) -> None:
    with PanTiltUnit(fake.port) as ptu:
        fake.send_async("!P")
        ptu.move_to(0.1, 0.0)
        assert ptu.limit_hits == ["!P"]
        assert ptu.position()[0] == pytest.approx(0.1, abs=RES)


def test_garbled_replies_raise(fake: FakePTU) -> None:
    with PanTiltUnit(fake.port) as ptu:
        fake.garble = True
        with pytest.raises(PTUError, match="garbage"):
            ptu.position()


def test_missing_replies_raise_without_hanging(fake: FakePTU) -> None:
    with PanTiltUnit(fake.port, timeout=0.3) as ptu:
        fake.silent = True
        start = time.monotonic()
        with pytest.raises(PTUError, match=f"no reply from the pan-tilt on {fake.port}"):
            ptu.position()
        assert time.monotonic() - start < 1.0


def test_unplugged_port_raises_without_hanging(fake: FakePTU) -> None:
    with PanTiltUnit(fake.port, timeout=0.3) as ptu:
        fake.unplug()
        start = time.monotonic()
        with pytest.raises(PTUError, match=fake.port):
            ptu.move_to(0.1, 0.1)
        assert time.monotonic() - start < 1.5


def test_a_missing_device_names_the_port() -> None:
    with pytest.raises(PTUError, match="cannot open pan-tilt port /dev/does-not-exist"):
        PanTiltUnit("/dev/does-not-exist").open()


def test_use_before_open_is_refused() -> None:
    with pytest.raises(PTUError, match="not open"):
        PanTiltUnit("/dev/null").position()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_node_help_lists_the_parameters_and_their_defaults(flag: str) -> None:
    """No ROS graph and no unit needed: the default port /dev/ttyUSB0 is not opened."""
    defaults = {
        "port": "/dev/ttyUSB0",
        "baudrate": "9600",
        "timeout": "0.5",
        "publish_rate": "20.0",
        "pan_speed": "0.5",
        "tilt_speed": "0.3",
        "joint_names": "[ptu_pan, ptu_tilt]",
    }
    out = subprocess.run([_node_exe(), flag], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert out.stdout.startswith("usage: pan-tilt-node")
    for name, default in defaults.items():
        assert re.search(rf"^  {name} +{re.escape(default)} ", out.stdout, re.M), f"{name}={default}?\n{out.stdout}"


def test_node_help_does_not_import_rclpy() -> None:
    code = (
        "import sys\n"
        "from robot_il_pan_tilt.node import main\n"
        "status = main(['pan-tilt-node', '--help'])\n"
        "sys.exit(3 if 'rclpy' in sys.modules else status)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"exit {out.returncode} (3: rclpy was imported) {out.stderr}"


def test_the_parameter_file_mirrors_the_node_defaults() -> None:
    config = yaml.safe_load((DRIVER / "config" / "pan_tilt.yaml").read_text())["pan_tilt"]["ros__parameters"]
    assert config == {p.name: p.default for p in PARAMETERS}


def test_the_ros2_node_publishes_state_and_moves_on_commands(ros2_domain) -> None:
    """The node as a process (console script), the fake PTU on a pty, DDS on loopback."""
    import rclpy
    from sensor_msgs.msg import JointState

    fake = FakePTU(echo=True)
    domain = ros2_domain + 2  # a graph of its own: the sim bridge also publishes /pan_tilt/joint_states
    proc = subprocess.Popen(
        [_node_exe(), "--ros-args", "-p", f"port:={fake.port}"],
        env={**os.environ, "ROS_DOMAIN_ID": str(domain)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node("pan_tilt_test", context=context)
    states: list[JointState] = []
    node.create_subscription(JointState, "/pan_tilt/joint_states", states.append, 10)
    command = node.create_publisher(JointState, "/pan_tilt/command", 10)
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 30
        while not states:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no pan-tilt state published"
            executor.spin_once(timeout_sec=0.1)
        assert list(states[-1].name) == ["ptu_pan", "ptu_tilt"]
        deadline = time.monotonic() + 30
        while abs(states[-1].position[0] - 0.25) > RES:
            command.publish(JointState(name=["ptu_pan", "ptu_tilt"], position=[0.25, -0.05]))
            executor.spin_once(timeout_sec=0.1)
            assert time.monotonic() < deadline, f"the unit did not move: last state {list(states[-1].position)}"
        assert fake.position == {"P": round(0.25 / RES), "T": round(-0.05 / RES)}
        command.publish(JointState(name=["ptu_pan", "ptu_tilt"], position=[3.5, 0.0]))  # beyond the limit
        for _ in range(10):
            executor.spin_once(timeout_sec=0.1)
        assert f"PP{round(3.5 / RES)}" not in fake.received, "an out-of-limit move was sent"
        assert fake.position["P"] == round(0.25 / RES)
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
        proc.terminate()
        proc.wait(timeout=10)
        fake.close()


@pytest.mark.parametrize("fault", ["unplugged", "silent"])
def test_the_node_exits_non_zero_when_it_loses_its_unit(ros2_domain, fault: str) -> None:
    """A supervisor (launch respawn, systemd) restarts a node that exits; one that logs errors forever, never."""
    lost_unit_timeout, reply_timeout, margin = 1.0, 0.2, 8.0
    fake = FakePTU(echo=False)
    args = [
        "-p",
        f"port:={fake.port}",
        "-p",
        f"timeout:={reply_timeout}",
        "-p",
        f"lost_unit_timeout:={lost_unit_timeout}",
    ]
    proc = subprocess.Popen(
        [_node_exe(), "--ros-args", *args],
        env={**os.environ, "ROS_DOMAIN_ID": str(ros2_domain + 3)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while fake.received.count("PP") < 3:  # up, and polling the position
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, f"the node never polled the unit: {fake.received}"
            time.sleep(0.05)
        if fault == "unplugged":
            fake.unplug()
        else:
            fake.silent = True
        lost_at = time.monotonic()
        status = proc.wait(timeout=lost_unit_timeout + reply_timeout + margin)
        elapsed = time.monotonic() - lost_at
        log = proc.stderr.read().decode()
        assert status == 1, f"exit status {status}: {log}"
        assert elapsed >= lost_unit_timeout, f"exited {elapsed:.2f} s after the loss, before lost_unit_timeout"
        assert f"the unit on {fake.port} has not answered for" in log and "lost_unit_timeout 1.0 s" in log, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        fake.close()


def test_the_node_runs_a_unit_that_refuses_the_speed_limit_queries(ros2_domain) -> None:
    """The node as launched (its shipped YAML), a unit whose firmware answers PL/PU/TL/TU with ``! Illegal
    command``: it warns, sets its speeds within the assumed limits and publishes."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    fake = FakePTU(echo=True, answers_speed_limits=False)
    domain = ros2_domain + 2
    args = ["--params-file", str(DRIVER / "config" / "pan_tilt.yaml"), "-p", f"port:={fake.port}"]
    proc = subprocess.Popen(
        [_node_exe(), "--ros-args", *args],
        env={**os.environ, "ROS_DOMAIN_ID": str(domain)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node("pan_tilt_fallback_test", context=context)
    states: list[JointState] = []
    node.create_subscription(JointState, "/pan_tilt/joint_states", states.append, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 30
        while not states:
            assert proc.poll() is None, f"exit {proc.returncode}: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no pan-tilt state published"
            executor.spin_once(timeout_sec=0.1)
        assert fake.speed == {"P": round(0.5 / RES), "T": round(0.3 / RES)}, "the speeds were not set"
        proc.send_signal(signal.SIGINT)
        status, log = proc.wait(timeout=30), proc.stderr.read()
        assert status == 0, f"exit {status} on SIGINT: {log}"
        warnings = [line for line in log.splitlines() if line.startswith("[WARN]")]
        assert len(warnings) == 2 and "refused 'PL': Illegal command" in warnings[0], log
        assert "assuming 0.1 to 1 rad/s" in warnings[0], log
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        fake.close()
