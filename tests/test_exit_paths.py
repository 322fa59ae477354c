"""Every way out of `robot-il deploy` over ROS 2 leaves the arm stopped, seen by a peer on the controller's topic.

The deploy process runs as its own process against the sim bridge, through the command gate; a recorder
node sees every command the (simulated) velocity controller receives. For each way out (normal end,
SIGINT, SIGTERM, an error after connecting, kill -9), the last command the controller saw must be zero,
arriving within one control period of the failure (within the gate's timeout for kill -9).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import write_synthetic_demos
from ros2_peer import CommandRecorder, first_zero_after, last_stop, robot_il

from robot_il.algos.bc import BCConfig, train_bc

PERIOD = 0.05  # the deploy rate, 20 Hz
GATE_TIMEOUT = 3 * PERIOD  # conftest starts the gate with timeout_periods 3
SLACK = 0.03  # DDS delivery and scheduling on a loaded 2-core machine
CONFIG = Path(__file__).parents[1] / "robot_il" / "ros2" / "jaco_sim.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("exit_paths")
    demos = write_synthetic_demos(tmp / "d.h5", num_demos=3, steps=20)
    train_bc(demos, tmp / "run", BCConfig(max_steps=200, eval_every=100, select="nll", eval_episodes=0), progress=False)
    return tmp / "run" / "policy.pt"


@pytest.fixture
def peer(sim_bridge, released_gate):
    recorder = CommandRecorder()
    recorder.reset_cell()
    yield recorder
    recorder.close()


def _deploy(policy: Path, *extra: str):
    return robot_il("deploy", "--backend", "ros2", "--policy", str(policy), "--rate", "20", *extra)


def _finish(proc, timeout: float = 60) -> tuple[int, str]:
    try:
        _out, err = proc.communicate(timeout=timeout)
    except Exception:
        proc.kill()
        raise
    return proc.returncode, err


def _when_moving(peer: CommandRecorder, proc, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while peer.moving() < count:
        if proc.poll() is not None:
            raise AssertionError(f"deploy exited ({proc.returncode}) before moving: {proc.stderr.read()[-2000:]}")
        assert time.monotonic() < deadline, f"deploy did not send {count} moving commands within {timeout} s"
        time.sleep(0.005)


def _report(path: str, latency: float) -> None:
    print(f"exit path {path}: last zero command {latency * 1e3:.1f} ms after the failure")


def test_normal_end_leaves_zero(policy: Path, peer: CommandRecorder) -> None:
    proc = _deploy(policy, "--episodes", "1", "--max-steps", "20")
    _when_moving(peer, proc, 5)
    code, err = _finish(proc)
    assert code == 0, err
    commands = peer.snapshot()
    moving = [t for t, v in commands if np.any(v)]
    _t_last, zero = last_stop(commands, moving[-1])
    assert zero, f"the last command the controller saw was {commands[-1][1]}"
    latency = first_zero_after(commands, moving[-1]) - moving[-1]
    _report("normal end", latency)
    assert latency <= PERIOD + SLACK


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_motion_stops_the_arm(policy: Path, peer: CommandRecorder, signum: int) -> None:
    proc = _deploy(policy, "--episodes", "1", "--max-steps", "400")
    _when_moving(peer, proc, 5)
    sent = time.monotonic()
    proc.send_signal(signum)
    code, err = _finish(proc)
    assert code == 128 + signum, f"exit code {code}: {err[-2000:]}"
    assert f"stopped by {signal.Signals(signum).name}" in err and "Traceback" not in err, err[-2000:]
    commands = peer.snapshot()
    _t_last, zero = last_stop(commands, sent)
    assert zero, f"the last command the controller saw was {commands[-1][1]}"
    assert all(not np.any(v) for t, v in commands if t > sent + PERIOD + SLACK), "motion after the signal"
    latency = first_zero_after(commands, sent) - sent
    _report(signal.Signals(signum).name, latency)
    assert latency <= PERIOD + SLACK


def test_a_reset_that_fails_after_motion_stops_the_arm(policy: Path, peer: CommandRecorder) -> None:
    proc = _deploy(policy, "--episodes", "2", "--max-steps", "20")
    _when_moving(peer, proc, 5)
    peer.inject("reset_fails")  # the reset before episode 2 is refused
    code, err = _finish(proc)
    assert code == 2, f"exit code {code}: {err[-2000:]}"
    assert "cannot be reset" in err and "Traceback" not in err, err[-2000:]
    refused = [t for t, e in peer.events if e == "reset_refused"]
    assert refused, "the bridge never refused a reset"
    commands = peer.snapshot()
    t_last, zero = last_stop(commands, refused[0])
    assert zero, f"the last command the controller saw was {commands[-1][1]}"
    latency = t_last - refused[0]
    _report("reset refused", latency)
    assert latency <= PERIOD + SLACK


def test_stale_state_while_driving_home_stops_the_arm(policy: Path, peer: CommandRecorder, tmp_path: Path) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["reset_service"] = ""  # drive home through the filter, as on hardware
    # the peer's own publishing once paused 0.21 s before the freeze on a CI machine: stale_after leaves room for
    # that, so what stops the arm is the injected freeze (the latency below counts from stale_after after it)
    cfg["stale_after"] = max(float(cfg.get("stale_after", 0.2)), 0.5)
    config = tmp_path / "cell.yaml"
    config.write_text(yaml.safe_dump(cfg))
    frozen: list[float] = []

    def freeze_on_the_way_home(k: int, v: np.ndarray) -> None:
        if not frozen and peer.moving() >= 25 and np.any(v):  # 20 policy commands, then the motion home
            frozen.append(peer.inject("freeze_joint_states"))

    proc = _deploy(policy, "--episodes", "2", "--max-steps", "20", "--backend-config", str(config))
    peer.on_command = freeze_on_the_way_home
    code, err = _finish(proc)
    assert frozen, f"the arm never drove home (exit {code}): {err[-2000:]}"
    assert code == 2, f"exit code {code}: {err[-2000:]}"
    assert "no /joint_states for" in err and "Traceback" not in err, err[-2000:]
    stale_from = frozen[0] + yaml.safe_load(config.read_text())["stale_after"]
    commands = peer.snapshot()
    _t_last, zero = last_stop(commands, stale_from)
    assert zero, f"the last command the controller saw was {commands[-1][1]}"
    assert all(not np.any(v) for t, v in commands if t > stale_from + PERIOD + SLACK), "motion on stale state"
    latency = first_zero_after(commands, stale_from) - stale_from
    _report("stale joint states while homing", latency)
    assert latency <= PERIOD + SLACK


def test_a_policy_for_another_task_is_refused_before_connecting(policy: Path, peer: CommandRecorder, tmp_path) -> None:
    """A policy that observes joint efforts (the clip's layout) deployed on the peg task: refused with exit 2 before
    anything connects, so not even a zero command reaches the controller."""
    payload = torch.load(policy, map_location="cpu", weights_only=True)
    env_args = json.loads(payload["env_args"])
    env_args["obs_layout"] = [
        *env_args["obs_layout"],
        {"field": "joint_efforts", "name": "tau", "start": 19, "stop": 25, "unit": "N·m"},
    ]
    payload["env_args"] = json.dumps(env_args)
    other = tmp_path / "other_cell_policy.pt"
    torch.save(payload, other)
    started = time.monotonic()
    code, err = _finish(_deploy(other, "--episodes", "1"))
    assert code == 2, f"exit code {code}: {err[-2000:]}"
    assert "the 'peg' task does not observe joint efforts" in err and "Traceback" not in err, err[-2000:]
    assert not [t for t, _ in peer.snapshot() if t >= started], "a refused policy reached the controller"


def test_kill_9_mid_motion_is_stopped_by_the_gate(policy: Path, peer: CommandRecorder) -> None:
    proc = _deploy(policy, "--episodes", "1", "--max-steps", "400")
    _when_moving(peer, proc, 5)
    killed = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(GATE_TIMEOUT + 0.3)
    commands = peer.snapshot()
    _t_last, zero = last_stop(commands, killed)
    assert zero, f"the last command the controller saw after kill -9 was {commands[-1][1]}"
    latency = first_zero_after(commands, killed) - killed
    _report("kill -9 (command gate)", latency)
    assert latency <= GATE_TIMEOUT + PERIOD + SLACK
