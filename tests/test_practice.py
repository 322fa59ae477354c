"""`robot-il deploy --practice N`: GPRIL practice through the deploy path, safe resets, resume after a kill."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from helpers import sigkill_when

from robot_il.algos.gpril import CHECKPOINT_FILE, PRESETS, train_gpril_from_file
from robot_il.cli import main as cli
from robot_il.data import validate
from robot_il.deploy.loop import control_loop
from robot_il.deploy.run import open_session
from robot_il.errors import EStopError

DEMOS = Path(__file__).parents[1] / "demos" / "peg_25.h5"
TINY = dict(iterations=2, flow_steps=5, policy_steps=5, num_actors=0, eval_episodes=1, eval_every=1, generated_pool=64)


@pytest.fixture(scope="module")
def gpril_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("practice") / "gpril"
    train_gpril_from_file(DEMOS, run, PRESETS["fast"], overrides=TINY, progress=False)
    return run


def _checkpoint_counters(path: Path) -> tuple[dict, dict]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    return json.loads(state["counters"]), json.loads(state["practice"])


def test_practice_runs_episodes_through_the_filter_and_keeps_learning(gpril_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "practice"
    args = ["deploy", "--policy", str(gpril_run), "--practice", "3", "--practice-out", str(out), "--max-steps", "60"]
    assert cli(args) == 0
    before = json.loads((gpril_run / "train_log.json").read_text())["counters"]
    counters, progress = _checkpoint_counters(out / CHECKPOINT_FILE)
    assert progress["done"] == 3 and [e["seed"] for e in progress["episodes"]] == [30_000, 30_001, 30_002]
    assert counters["episodes"] == before["episodes"] + 3  # practised episodes joined the replay buffer
    assert counters["flow_steps"] > before["flow_steps"] and counters["policy_version"] > before["policy_version"]
    assert (out / "policy.pt").exists()
    assert validate(out / "practice.h5") == []
    with h5py.File(out / "practice.h5") as f:
        demos = [f[f"data/demo_{k}"] for k in range(3)]
        assert [d.attrs["source"] for d in demos] == ["practice"] * 3
        limits = json.loads(demos[0].attrs["limits"])
        v_max = np.array([j["max_velocity"] for j in limits["joints"]])
        for d in demos:  # what reached the robot is what passed the filter
            assert np.all(np.abs(d["actions"][()]) <= v_max + 1e-12)
            assert len(d["interventions"]) == len(d["actions"])

    # Asking for more continues in the same directory; asking for fewer than done is refused.
    assert cli([*args[:4], "5", *args[5:]]) == 0
    assert _checkpoint_counters(out / CHECKPOINT_FILE)[1]["done"] == 5
    assert cli([*args[:4], "2", *args[5:]]) == 2


def test_safe_reset_draws_the_peg_out_and_brings_the_arm_home(expert) -> None:
    session = open_session("sim:peg")
    try:
        session.safe_reset(seed=3)
        inserted = control_loop(session.controller, expert, session.task)
        assert inserted.success, inserted.end_reason
        obs = session.controller.observe()
        depth0, _ = session.task.tip_in_hole(obs)
        tip0, axis, _ = session.kinematics.tip(obs.joint_positions)

        assert session.controller.retreat(session.kinematics, 0.08, 0.05)
        obs = session.controller.observe()
        tip1, _, _ = session.kinematics.tip(obs.joint_positions)
        depth1, _ = session.task.tip_in_hole(obs)
        assert np.dot(tip0 - tip1, axis) >= 0.08 - 1e-3  # backed out along the peg's axis
        assert depth0 >= 0.03 and depth1 < 0  # out of the socket
        assert session.safety.latched is None

        home = session.robot.spec.home_joint_positions
        assert session.controller.return_home(home, tolerance=0.01)
        assert np.abs(session.controller.observe().joint_positions - home).max() < 0.01
    finally:
        session.env.close()


def test_killed_practice_resumes_where_it_stopped(gpril_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "practice"
    cmd = [sys.executable, "-m", "robot_il.cli", "deploy", "--policy", str(gpril_run), "--practice", "6"]
    cmd += ["--practice-out", str(out), "--max-steps", "60"]

    def two_done() -> bool:
        try:
            return json.loads((out / "practice.json").read_text())["done"] >= 2
        except (OSError, ValueError):
            return False

    sigkill_when(cmd, two_done, timeout=240)
    killed_at = _checkpoint_counters(out / CHECKPOINT_FILE)[1]["done"]
    assert 2 <= killed_at < 6

    assert cli(cmd[3:]) == 0
    counters, progress = _checkpoint_counters(out / CHECKPOINT_FILE)
    before = json.loads((gpril_run / "train_log.json").read_text())["counters"]
    assert progress["done"] == 6 and [e["episode"] for e in progress["episodes"]] == list(range(6))
    assert counters["episodes"] == before["episodes"] + 6  # no episode lost, none counted twice
    with h5py.File(out / "practice.h5") as f:  # the log holds every motion made, even one the kill cut short
        logged = sorted(int(f[f"data/{k}"].attrs["episode"]) for k in f["data"] if k.startswith("demo_"))
    assert set(logged) == set(range(6)) and len(logged) - 6 <= 1


def test_practice_over_ros2_against_the_sim_bridge(sim_bridge, gpril_run: Path, tmp_path: Path) -> None:
    """The same practice loop in real time through the ROS 2 backend (safe reset, then the bridge's reset)."""
    out = tmp_path / "ros2"
    args = ["deploy", "--backend", "ros2", "--policy", str(gpril_run), "--practice", "2"]
    assert cli([*args, "--practice-out", str(out), "--max-steps", "30"]) == 0
    _, progress = _checkpoint_counters(out / CHECKPOINT_FILE)
    assert progress["done"] == 2 and all(e["steps"] == 30 for e in progress["episodes"])
    assert validate(out / "practice.h5") == []


def test_the_one_safe_reset_drives_home_from_an_inserted_peg_and_an_estop_on_the_way_ends_it(expert) -> None:
    """The reset deploy, record and practice share: from a peg in the socket, out along its axis and home on the
    shortest angle through the filter, then the new socket pose; an e-stop during the motion home ends it within
    a period, with its own error, instead of waiting for the arm to arrive."""
    import threading

    session = open_session("sim:peg")
    try:
        session.safe_reset(seed=3)
        assert control_loop(session.controller, expert, session.task).success
        counted = sum(session.safety.counts.values())
        session.safe_reset(seed=4, drive=True)
        home = session.robot.spec.home_joint_positions
        obs = session.controller.observe()
        assert np.abs(obs.joint_positions - home).max() < 0.01
        assert sum(session.safety.counts.values()) >= counted, "the motion home bypassed the filter"
        assert np.allclose(obs.pan_tilt, session.task.sample_socket_pose(np.random.default_rng(4)), atol=6e-3)

        session.safe_reset(seed=5)
        assert control_loop(session.controller, expert, session.task).success
        sent = []
        step = session.controller.step

        def counting_step(command, obs):
            sent.append(np.any(command))
            if len(sent) == 10:  # the e-stop button, pressed mid-motion, from another thread
                # joined: the simulated arm runs faster than real time, so on a loaded machine a thread not yet
                # scheduled let the reset run on for 9 more commands; what is tested is what follows the press
                button = threading.Thread(target=session.safety.estop, args=("test button",))
                button.start()
                button.join()
            return step(command, obs)

        session.controller.step = counting_step
        with pytest.raises(EStopError, match=r"e-stop (during the retreat|on the way home) \(test button\)"):
            session.safe_reset(seed=6, drive=True)
        assert len(sent) <= 12, f"the reset went on for {len(sent)} commands after the e-stop at 10"
        speed = np.abs(session.controller.observe().joint_velocities).max()
        assert speed < 0.05, f"the arm still moves at {speed:.3f} rad/s a period after the e-stop"
    finally:
        session.env.close()
