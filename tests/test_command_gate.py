"""The command gate's decisions (pure logic) and its program's help; its stop on kill -9 is in test_exit_paths."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from robot_il.ros2.command_gate import GateLogic, GateState

NAMES = ("j1", "j2", "j3")
PERIOD = 0.05


def gate(**kw) -> GateLogic:
    return GateLogic(joint_names=NAMES, period=PERIOD, timeout_periods=3, **kw)


def test_forwards_valid_commands_matched_by_name() -> None:
    g = gate()
    out = g.on_command(["j3", "j1", "j2"], [0.3, 0.1, 0.2], stamp=1.0, now=10.0)
    np.testing.assert_array_equal(out, [0.1, 0.2, 0.3])
    assert g.state is GateState.FORWARDING


def test_a_quiet_stream_is_zeroed_after_the_timeout_and_latches_until_released() -> None:
    g = gate()
    g.on_command(NAMES, [0.1, 0, 0], stamp=1.0, now=10.0)
    assert g.on_tick(10.0 + 3 * PERIOD - 1e-3) is None, "stopped before the timeout"
    np.testing.assert_array_equal(g.on_tick(10.0 + 3 * PERIOD + 1e-3), np.zeros(3))
    assert g.state is GateState.STREAM_LOST and g.latched
    assert g.on_tick(11.0) is None, "a latched gate has nothing more to send"
    # a client that comes back is answered with zero until a person releases the gate
    np.testing.assert_array_equal(g.on_command(NAMES, [0.1, 0, 0], stamp=2.0, now=11.0), np.zeros(3))
    assert "stream_lost" in g.release()
    assert g.state is GateState.IDLE
    np.testing.assert_array_equal(g.on_command(NAMES, [0.1, 0, 0], stamp=3.0, now=12.0), [0.1, 0, 0])


def test_a_gate_that_was_not_running_judges_the_timeout_after_its_queue_and_still_latches() -> None:
    """A tick late by more than half the timeout (the gate's own process starved) waits for the commands queued
    behind it; only once: a gate that stays starved still latches a dead stream one tick later."""
    g = gate()
    g.on_command(NAMES, [0.1, 0, 0], stamp=1.0, now=10.0)
    assert g.on_tick(10.0 + PERIOD / 4) is None
    assert g.on_tick(10.0 + 5 * PERIOD) is None, "a late tick latched before reading its queue"
    np.testing.assert_array_equal(
        g.on_command(NAMES, [0.1, 0, 0], stamp=1.1, now=10.0 + 5 * PERIOD + 1e-3), [0.1, 0, 0]
    )
    assert g.state is GateState.FORWARDING and g.counts["late_tick"] == 1
    # the stream then dies while the gate stays starved: every tick late, the second one latches
    t = 10.0 + 5 * PERIOD + 1e-3
    assert g.on_tick(t + 4 * PERIOD) is None
    np.testing.assert_array_equal(g.on_tick(t + 8 * PERIOD), np.zeros(3))
    assert g.state is GateState.STREAM_LOST


def test_a_clean_end_of_stream_goes_idle_without_latching() -> None:
    g = gate()
    g.on_command(NAMES, [0.1, 0, 0], stamp=1.0, now=10.0)
    np.testing.assert_array_equal(g.on_command(NAMES, [0, 0, 0], stamp=1.1, now=10.1, end=True), np.zeros(3))
    assert g.state is GateState.IDLE and not g.latched
    assert g.on_tick(20.0) is None, "an idle gate has no stream to time out"


def test_a_replayed_stamp_is_not_a_heartbeat() -> None:
    g = gate()
    g.on_command(NAMES, [0.1, 0, 0], stamp=5.0, now=10.0)
    assert g.on_command(NAMES, [0.1, 0, 0], stamp=5.0, now=10.1) is None
    assert g.on_command(NAMES, [0.1, 0, 0], stamp=4.0, now=10.1) is None
    np.testing.assert_array_equal(g.on_tick(10.0 + 3 * PERIOD + 1e-3), np.zeros(3))
    assert g.state is GateState.STREAM_LOST


@pytest.mark.parametrize(
    ("names", "velocities", "why"),
    [
        (("j1", "j2", "shoulder"), [0.0, 0.0, 0.0], "command names"),
        (NAMES, [0.0, 0.0], "command names"),
        (NAMES, [np.nan, 0.0, 0.0], "non-finite"),
        (NAMES, [0.0, 0.0, 2.0], "over max_velocity"),
    ],
)
def test_a_bad_command_stops_and_latches(names, velocities, why: str) -> None:
    g = gate(max_velocity=(1.0, 1.0, 1.0))
    g.on_command(NAMES, [0.1, 0, 0], stamp=1.0, now=10.0)
    np.testing.assert_array_equal(g.on_command(names, velocities, stamp=2.0, now=10.05), np.zeros(3))
    assert g.state is GateState.BAD_COMMAND and why in g.reason


def test_an_estop_latches_whatever_the_stream_does() -> None:
    g = gate()
    g.on_command(NAMES, [0.1, 0, 0], stamp=1.0, now=10.0)
    np.testing.assert_array_equal(g.estop("service /robot_il/estop"), np.zeros(3))
    assert g.describe() == "estop: service /robot_il/estop"
    np.testing.assert_array_equal(g.on_command(NAMES, [0.1, 0, 0], stamp=2.0, now=10.05), np.zeros(3))


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="max_velocity has 2 values for 3 joints"):
        gate(max_velocity=(1.0, 1.0))
    with pytest.raises(ValueError, match="must be positive"):
        GateLogic(joint_names=NAMES, period=PERIOD, timeout_periods=0)


def test_help_lists_the_parameters_without_starting_ros() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "robot_il.ros2.command_gate", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    for name in ("rate", "timeout_periods", "controller", "joint_names", "max_velocity"):
        assert name in out.stdout
