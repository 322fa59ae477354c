"""Kinesthetic teaching: record states only while a person guides the arm.

The arm is in gravity compensation (Franka) or freedrive (UR), so nothing is
commanded: each demo is the control loop with no action source. For each demo
the session's safe reset checks the arm is home (a person brings it there) and
sets a random socket pose; the loop waits for the hand to start moving the arm,
records at the control rate, and stops when the peg is in (the task's success)
or after ``max_seconds``. Each demo is written whole, state-only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from robot_il.data.writer import DemoWriter
from robot_il.deploy.loop import control_loop, wait_for_motion

START_SPEED = 0.01
"""A joint faster than this (rad/s) means the person has started moving the arm."""


def record_kinesthetic(
    session: Any,
    path: str | Path,
    num_demos: int,
    seed: int = 0,
    max_seconds: float = 60.0,
    start_timeout: float = 120.0,
    progress: bool = True,
) -> list[str]:
    """``num_demos`` state-only demos into ``path`` on an open deploy session (``open_session``)."""
    task, controller = session.task, session.controller
    period = controller.spec.control_period
    writer = DemoWriter(path, session.env.env_args(), state_only=True)
    names: list[str] = []
    for i in tqdm(range(num_demos), desc="kinesthetic demos", unit="demo", disable=not progress):
        session.safe_reset(seed + i, drive=False)  # the person brings the arm home; nothing is commanded
        try:
            wait_for_motion(controller, START_SPEED, lambda: None, timeout=start_timeout)
        except TimeoutError as err:
            raise TimeoutError(f"{err} (demo {i})") from None
        limit = min(max_seconds, task.cfg.episode_seconds)
        traj = control_loop(controller, None, task, max_steps=round(limit / period))
        attrs = {
            "source": "kinesthetic",
            "seed": seed + i,
            "success": traj.success,
            "end_reason": traj.end_reason,
            "pan_tilt": np.asarray(traj.observations[0].pan_tilt),
        }
        names.append(session.write(writer, traj, attrs))
    return names
