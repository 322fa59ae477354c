"""`robot-il deploy`: a real process, real-time loop, logged to HDF5, e-stop from the keyboard."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import write_synthetic_demos

from robot_il.algos.bc import BCConfig, train_bc
from robot_il.cli import main as cli
from robot_il.data import validate


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("deploy")
    demos = write_synthetic_demos(tmp / "d.h5", num_demos=3, steps=20)
    train_bc(demos, tmp / "run", BCConfig(max_steps=200, eval_every=100, select="nll", eval_episodes=0), progress=False)
    return tmp / "run"


def test_deploy_logs_commands_and_interventions(policy: Path, tmp_path: Path) -> None:
    log = tmp_path / "deploy.h5"
    assert cli(["deploy", "--policy", str(policy), "--episodes", "2", "--log", str(log)]) == 0
    assert validate(log) == []
    with h5py.File(log) as f:
        demo = f["data/demo_0"]
        sent, asked = demo["actions"][()], demo["requested_actions"][()]
        assert sent.shape == asked.shape and len(demo["interventions"]) == len(sent)
        limits = json.loads(demo.attrs["limits"])
        v_max = np.array([j["max_velocity"] for j in limits["joints"]])
        assert np.all(np.abs(sent) <= v_max + 1e-12)
        assert demo.attrs["source"] == "deploy" and "interventions" in demo.attrs


def test_keyboard_estop_stops_a_realtime_deploy(policy: Path, tmp_path: Path) -> None:
    log = tmp_path / "estop.h5"
    cmd = [
        sys.executable,
        "-m",
        "robot_il.cli",
        "deploy",
        "--policy",
        str(policy),
        "--realtime",
        "--estop-keys",
        "--log",
        str(log),
        "--episodes",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        for line in proc.stderr:
            if "e-stop: press Enter" in line:
                break
            assert time.monotonic() < deadline
        time.sleep(1.0)  # 20 periods of the real-time loop
        proc.stdin.write("\n")
        proc.stdin.flush()
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 4, f"deploy ended by an e-stop exited {proc.returncode}: {err[-2000:]}"
    with h5py.File(log) as f:
        assert sum(1 for k in f["data"] if k.startswith("demo_")) == 1, "a second episode ran after the e-stop"
        demo = f["data/demo_0"]
        assert demo.attrs["end_reason"] == "estop"
        reasons = [r.decode() for r in demo["interventions"][()]]
        first = next(i for i, r in enumerate(reasons) if "estop" in r)
        assert np.all(demo["actions"][first:] == 0)
        assert np.any(demo["actions"][:first]), "the arm never moved before the e-stop"
        # Counted in control periods, not wall-clock time: the zero command is logged and the episode ends
        # within two periods of the latch, however loaded the machine.
        assert len(demo["actions"]) - first <= 2, f"e-stop at step {first}, episode ended {len(demo['actions'])}"
    assert "robot-il: stopped: e-stop (keyboard) ended the run after 1 of 2 episodes" in err, err[-2000:]


def test_deploy_over_ros2_stops_a_policy_leaving_the_workspace(sim_bridge, tmp_path: Path) -> None:
    """A policy that drives the tip up and out, deployed through the ROS 2 backend against the sim bridge."""
    from robot_il.deploy.run import deploy

    class Upwards:
        """A policy object (deploy takes one as well as a file)."""

        def check_task(self, task) -> None:
            """Any task."""

        def check_env(self, env) -> None:
            """Any layout: it ignores the observation."""

        def __call__(self, obs, vec) -> np.ndarray:
            return np.array([0.0, -0.6, 0.0, 0.0, 0.0, 0.0])

    log = tmp_path / "ros2.h5"
    (summary,) = deploy(Upwards(), backend="ros2", rate=20.0, episodes=1, log_path=log, max_steps=80)
    assert summary["interventions"].get("workspace", 0) > 0, summary
    with h5py.File(log) as f:
        tips = np.concatenate([f["data/demo_0/obs/ee_position"][()], f["data/demo_0/next_obs/ee_position"][-1:]])
    # In real time a stop reaches the arm up to a period late (and the task ends the episode on any
    # overshoot), so over ROS 2 the bound is the box plus 10 mm, not the box itself as in simulation.
    assert tips[:, 2].max() <= 0.65 + 0.01, f"the tip rose to {tips[:, 2].max():.3f} m, the box ends at 0.65 m"
