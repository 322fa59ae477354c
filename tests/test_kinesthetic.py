"""Kinesthetic recording over ROS 2: the sim bridge's scripted 'hand' guides the arm, the recorder only watches."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from robot_il.data import load_demos, validate
from robot_il.envs.insertion import PegInsertionEnv


def _exe(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def start_guided_cell(env: dict[str, str]) -> tuple[subprocess.Popen, subprocess.Popen]:
    """The sim bridge with its scripted hand guiding the arm, and the command gate the ros2 backend connects
    through (an observe-only client too: it refuses to start without one)."""
    bridge = subprocess.Popen(
        [_exe("robot-il-sim-bridge"), "--ros-args", "-p", "guide:=expert"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gate = subprocess.Popen(
        [_exe("robot-il-command-gate"), "--ros-args", "-p", "rate:=20.0", "-p", "timeout_periods:=3.0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return bridge, gate


def test_kinesthetic_demos_are_state_only_and_end_inserted(tmp_path: Path, ros2_domain: int) -> None:
    env = {**os.environ, "ROS_DOMAIN_ID": str(ros2_domain + 1)}  # a graph of its own: this bridge is guided
    bridge, gate = start_guided_cell(env)
    out = tmp_path / "kinesthetic.h5"
    try:
        run = subprocess.run(
            [
                _exe("robot-il"),
                "record",
                "--source",
                "kinesthetic",
                "--backend",
                "ros2",
                "-n",
                "2",
                "-o",
                str(out),
                "--max-seconds",
                "20",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        for proc in (bridge, gate):
            proc.terminate()
            proc.wait(timeout=10)
    assert run.returncode == 0, run.stderr[-2000:]
    assert validate(out) == []
    demos = load_demos(out)
    assert len(demos) == 2 and demos.state_only
    with h5py.File(out) as f:
        assert f["data"].attrs["state_only"] and "actions" not in f["data/demo_0"]
    task = PegInsertionEnv().task
    for demo in demos.demos:
        assert demo.attrs["source"] == "kinesthetic" and demo.attrs["success"]
        assert 20 < len(demo) < 400, f"{len(demo)} states"
        stamps = demo.obs["timestamp"]
        assert np.all(np.diff(stamps) > 0) and np.median(np.diff(stamps)) < 0.06  # recorded at about 20 Hz
        depth_first = _depth(task, demo, 0)
        depth_last = _depth(task, demo, -1)
        assert depth_first < 0 <= task.cfg.success_depth <= depth_last


def _depth(task, demo, row: int) -> float:
    from robot_il.hal.base import Observation

    obs = Observation(**{k: v[row] for k, v in demo.obs.items()})
    return task.tip_in_hole(obs)[0]
