"""Watchdogs of the deploy loop: a policy that misses its deadline, observations that stop changing.

Both turn a fault into a NaN command, which the safety filter turns into zero
velocity in the same control period.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
from collections.abc import Callable

import numpy as np

from robot_il.hal.base import Observation


class PolicyWorker:
    """Runs the policy in a worker thread and waits at most ``deadline`` seconds for its answer.

    A late answer is dropped; while the worker is still busy with it (a hung
    policy), every period gets "busy" and the arm is held at zero.
    """

    def __init__(self, policy: Callable[[Observation], np.ndarray], deadline: float) -> None:
        if not deadline > 0:
            raise ValueError(f"deadline must be positive, got {deadline}")
        self.policy, self.deadline = policy, deadline
        self._pool = cf.ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="robot-il-policy",
            initializer=_match_torch_threads,
            initargs=(_torch_threads(),),
        )
        self._pending: cf.Future | None = None
        self.error: Exception | None = None
        """The policy's last exception (kept for a caller that ends the episode on it)."""

    def __call__(self, obs: Observation) -> tuple[np.ndarray | None, str]:
        """(command, status); status is "ok", "late", "busy" or "error: ..." (command None unless ok)."""
        if self._pending is not None and not self._pending.done():
            return None, "busy"
        self._pending = self._pool.submit(self.policy, obs)
        try:
            return np.asarray(self._pending.result(timeout=self.deadline), dtype=np.float64), "ok"
        except cf.TimeoutError:
            return None, "late"
        except Exception as err:  # the policy's own failure: reported, and the arm is stopped
            self.error = err
            return None, f"error: {err!r}"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return None if torch is None else torch.get_num_threads()


def _match_torch_threads(n: int | None) -> None:
    """OpenMP's thread count is per thread: without this a torch policy in the worker wakes a whole
    thread team each period, about 6 ms on a 2-core machine instead of 0.1 ms."""
    if n is not None:
        sys.modules["torch"].set_num_threads(n)


class StaleObservationMonitor:
    """Flags an observation whose timestamp has not advanced over ``periods`` consecutive control periods.

    Counted in periods, not measured in loop time: a state stream faster than the
    control rate advances every period, so the first period that sees no newer
    state than the one before is already a full period without data, and loop
    jitter cannot add another period before the stop.
    """

    def __init__(self, periods: int = 1) -> None:
        if periods < 1:
            raise ValueError("periods must be at least 1")
        self.periods = periods
        self._last_stamp: float | None = None
        self._unchanged = 0

    def stale(self, obs: Observation) -> bool:
        if obs.timestamp != self._last_stamp:
            self._last_stamp, self._unchanged = obs.timestamp, 0
        else:
            self._unchanged += 1
        return self._unchanged >= self.periods
