"""`robot-il check` against the independent arm peer (a UR5e) and the real command gate from its shipped UR5e
parameters: every item passes on a sound cell, and each fault, injected in turn, fails its own item by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_arms import ARMS, limits_file, peer_config, peer_domain, start_peer, stop_peer

from robot_il.check import run_check

pytestmark = pytest.mark.slow
__all__ = ["peer_domain"]  # the arm peer's own ROS domain, a fixture of test_arms

ITEMS = ["description", "limits", "state", "controller", "pan_tilt", "wrench", "gate", "estop"]
GATE_PARAMS = Path(__file__).parents[1] / "drivers" / "robot_il_bringup" / "config" / "command_gate_ur5e.yaml"


@pytest.fixture
def gate(peer_domain):
    """The command gate as the UR5e's real.launch.py starts it: its shipped parameter file."""
    from conftest import _start, _stop

    proc = _start("robot-il-command-gate", "--ros-args", "--params-file", str(GATE_PARAMS))
    yield proc
    _stop(proc)


def _check(tmp_path: Path, peer_args=(), limits=None, **over) -> dict:
    arm = ARMS["ur5e"]
    limits = limits or limits_file(arm, tmp_path / "limits.yaml")
    cfg = peer_config(arm, tmp_path / "cell.yaml", limits, command_gate_topic="/robot_il/command", **over)
    peer = start_peer(arm, tmp_path / "cmds.jsonl", *peer_args)
    try:
        items = run_check(cfg, wait=5.0)
    finally:
        stop_peer(peer)
    assert [i.name for i in items] == ITEMS
    return {i.name: i for i in items}


def test_a_sound_cell_passes_every_item_and_the_estop_stops_within_a_period(gate, tmp_path) -> None:
    items = _check(tmp_path)
    assert all(i.ok for i in items.values()), "\n".join(i.line() for i in items.values())
    assert "stopped" in items["estop"].detail and "released again" in items["estop"].detail


@pytest.mark.parametrize(
    ("fault", "item", "expected"),
    [
        ("no_description", "description", "no URDF on /robot_description"),
        ("missing_joint", "description", "joint 'shoulder_pan' (joint_names) is not a joint of the description"),
        ("looser_limits", "limits", "max_velocity: 3.2 rad/s is looser than the arm's own limit"),
        ("slow_state", "state", "/joint_states at 1"),
        ("no_controller", "controller", "nothing listens on /forward_velocity_controller/commands"),
        ("no_pan_tilt", "pan_tilt", "no messages on /pan_tilt/joint_states"),
        ("unknown_wrench_frame", "wrench", "is in 'tool0_controller', not a link of the description"),
        ("latched_gate", "gate", "latched (estop: service /robot_il/estop)"),
        ("estop_ignored", "estop", "the arm still moved after the e-stop"),
    ],
)
def test_each_fault_fails_its_own_item(fault: str, item: str, expected: str, gate, tmp_path) -> None:
    arm = ARMS["ur5e"]
    peer_args, over, limits = [], {}, None
    if fault == "no_description":
        peer_args = ["--no-description"]
    elif fault == "missing_joint":
        over["joint_names"] = ["shoulder_pan", *arm.joints[1:]]
    elif fault == "looser_limits":
        limits = limits_file(arm, tmp_path / "limits.yaml")
        limits.write_text(limits.read_text().replace("max_velocity: 0.8", "max_velocity: 3.2", 1))
    elif fault == "slow_state":
        peer_args = ["--rate", "10"]
    elif fault == "no_controller":
        peer_args = ["--controller", "scaled_joint_trajectory_controller"]
    elif fault == "no_pan_tilt":
        peer_args = ["--no-pan-tilt"]
    elif fault == "unknown_wrench_frame":
        over["wrench_frame"] = ""
    elif fault == "latched_gate":
        from robot_il.ros2.command_gate import ESTOP_TOPIC, call_gate_service

        call_gate_service(ESTOP_TOPIC)
    elif fault == "estop_ignored":
        peer_args = ["--ignore-stops"]
    items = _check(tmp_path, peer_args, limits, **over)
    failed = [name for name, i in items.items() if i.ok is False]
    assert failed == [item], "\n".join(i.line() for i in items.values())
    assert expected in items[item].line(), items[item].line()
    assert items[item].fix, f"{item} failed without a fix"
    if item != "estop":
        assert items["estop"].ok is None, "the check moved the arm although an item had failed"


def test_the_command_exits_1_naming_the_failed_items(gate, tmp_path) -> None:
    from ros2_peer import robot_il

    arm = ARMS["ur5e"]
    cfg = peer_config(arm, tmp_path / "cell.yaml", limits_file(arm, tmp_path / "limits.yaml"))
    peer = start_peer(arm, tmp_path / "cmds.jsonl", "--no-pan-tilt")
    try:
        proc = robot_il("check", "--backend-config", str(cfg))
        out, err = proc.communicate(timeout=120)
    finally:
        stop_peer(peer)
    assert proc.returncode == 1, err
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["PASS"] * 4 + ["FAIL", "PASS", "PASS", "SKIP"], out
    assert lines[-1] == "check: 6 of 8 passed; FAILED: pan_tilt"
