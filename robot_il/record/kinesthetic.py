"""Kinesthetic teaching: record states only while a person guides the arm.

The arm is in gravity compensation (Franka) or freedrive (UR), so nothing is
commanded: the recorder only observes. For each demo it homes the arm and sets
a random socket pose, waits for the hand to start moving the arm, records at the
control rate, and stops when the peg is in (the task's success) or after
``max_seconds``. Each demo is written whole, state-only.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from robot_il.data.writer import DemoWriter, EpisodeBuffer
from robot_il.envs.insertion import PegInsertionEnv

START_SPEED = 0.01
"""A joint faster than this (rad/s) means the person has started moving the arm."""


def record_kinesthetic(
    env: PegInsertionEnv,
    path: str | Path,
    num_demos: int,
    seed: int = 0,
    max_seconds: float = 60.0,
    start_timeout: float = 120.0,
    progress: bool = True,
) -> list[str]:
    robot, task = env.backend.robot, env.task
    period = robot.spec.control_period
    writer = DemoWriter(path, env.env_args(), state_only=True)
    names: list[str] = []
    for i in tqdm(range(num_demos), desc="kinesthetic demos", unit="demo", disable=not progress):
        robot.reset()
        pan, tilt = task.randomize(env.backend.pan_tilt, np.random.default_rng(seed + i))
        deadline = time.monotonic() + start_timeout
        obs = robot.observe()
        while np.abs(obs.joint_velocities).max() < START_SPEED:  # wait for the hand
            if time.monotonic() > deadline:
                raise TimeoutError(f"nobody moved the arm within {start_timeout} s (demo {i})")
            time.sleep(period / 4)
            obs = robot.observe()
        buffer = EpisodeBuffer()
        start, next_tick = obs.timestamp, time.monotonic()
        success = False
        while True:
            buffer.add(obs)
            outcome = task.evaluate(obs, obs.timestamp - start)
            if outcome.success or obs.timestamp - start >= max_seconds:
                success = outcome.success
                break
            next_tick += period
            time.sleep(max(0.0, next_tick - time.monotonic()))
            obs = robot.observe()
        names.append(
            writer.write_episode(
                buffer,
                terminated=success,
                attrs={
                    "source": "kinesthetic",
                    "seed": seed + i,
                    "success": success,
                    "end_reason": "success" if success else "time_limit",
                    "pan_tilt": np.array([pan, tilt]),
                },
            )
        )
    return names
