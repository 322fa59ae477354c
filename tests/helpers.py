"""Builders shared by the data and learning tests: real demo files of known content."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from robot_il.data.writer import DemoWriter, EpisodeBuffer
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.hal.base import Observation


def env_args() -> dict:
    env = PegInsertionEnv()
    args = env.env_args()
    env.close()
    return args


def synthetic_state(rng: np.random.Generator, t: float) -> Observation:
    return Observation(
        joint_positions=rng.normal(size=6),
        joint_velocities=rng.normal(size=6) * 0.1,
        joint_efforts=rng.normal(size=6),
        ee_position=rng.normal(size=3) * 0.1,
        socket_quat=np.array([1.0, 0.0, 0.0, 0.0]),
        pan_tilt=rng.uniform(-0.4, 0.4, size=2),
        timestamp=t,
    )


def known_policy(obs: Observation) -> np.ndarray:
    """The answer BC must find: a smooth function of the joint positions, inside the bounds."""
    w = np.linspace(-1.0, 1.0, 36).reshape(6, 6)
    return 0.4 * np.tanh(w @ obs.joint_positions)


def write_synthetic_demos(
    path: Path, num_demos: int, steps: int, noise: float = 0.0, seed: int = 0, state_only: bool = False
) -> Path:
    """Demos whose actions are ``known_policy`` of the state plus Gaussian ``noise`` (rad/s)."""
    rng = np.random.default_rng(seed)
    writer = DemoWriter(path, env_args(), state_only=state_only)
    for _ in range(num_demos):
        ep = EpisodeBuffer()
        for t in range(steps + 1):
            obs = synthetic_state(rng, t * 0.05)
            action = None if state_only or t == steps else known_policy(obs) + noise * rng.normal(size=6)
            ep.add(obs, action)
        writer.write_episode(ep, terminated=True, attrs={"source": "synthetic"})
    return path


def sigkill_when(cmd: list[str], ready: Callable[[], bool], timeout: float = 300, delay: float = 0.0) -> None:
    """Start ``cmd``, wait until ``ready()``, then SIGKILL it (a real kill: no handler runs)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, f"{cmd[:4]} exited (code {proc.returncode}) before it could be killed"
            assert time.monotonic() < deadline, f"{cmd[:4]} was not ready to be killed within {timeout} s"
            time.sleep(0.02)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"exit code {proc.returncode}"
