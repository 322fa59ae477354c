"""The deploy path: observe, act, filter, send. Nothing reaches the robot except through here.

:class:`SafeController` owns the robot and the safety filter and is the only
object in the deploy path holding the robot; it exposes ``step(command)``, which
filters and sends, and ``stop()``, which sends zero. A policy never sees the
robot.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from robot_il.deploy.watchdog import PolicyWorker, StaleObservationMonitor
from robot_il.errors import StaleStateError
from robot_il.hal.base import Observation, Robot
from robot_il.safety.filter import SafeCommand, SafetyFilter
from robot_il.tasks.base import Task

Policy = Callable[[Observation], np.ndarray]


class SafeController:
    def __init__(self, robot: Robot, safety: SafetyFilter) -> None:
        self._robot, self.safety = robot, safety
        self.moved = False
        """Whether any command but zero has gone out: whether stopping the arm is news to report."""
        robot.add_estop_listener(self.safety.estop)  # e-stops from the backend (ROS topic, service) latch here

    @property
    def spec(self):
        return self._robot.spec

    def observe(self) -> Observation:
        return self._robot.observe()

    def step(self, command: np.ndarray, obs: Observation) -> SafeCommand:
        """Filter ``command`` against the state ``obs`` (and the tool wrench) and send what survives.

        Returns what the robot applied: the filter's command, or, where the HAL clipped it to its bounds or
        refused it on stale state (commanding zero itself), that, with the reason added."""
        return self._send(self.safety(command, obs.joint_positions, self._robot.wrench()))

    def hold(self, reason: str, detail: str = "") -> SafeCommand:
        """Zero this period for a fault the loop knows (named, not disguised as a NaN command)."""
        return self._send(self.safety.hold(reason, detail))

    def _send(self, safe: SafeCommand) -> SafeCommand:
        self.moved = self.moved or bool(np.any(safe.velocities))
        try:
            applied = self._robot.send_action(safe.velocities)
        except StaleStateError as err:
            return self.safety.applied(safe, np.zeros(self.spec.num_joints), "stale_state", str(err))
        if applied.was_clipped:
            return self.safety.applied(
                safe, applied.velocities, "hal_clip", f"joints {np.flatnonzero(applied.clipped)}"
            )
        return safe

    def stop(self) -> None:
        self._robot.send_action(np.zeros(self._robot.spec.num_joints))

    def return_home(self, home: np.ndarray, tolerance: float = 0.01, timeout: float = 60.0, gain: float = 1.0) -> bool:
        """Joint-space P-control to ``home``, every command through the filter (a safe reset between episodes).

        Returns True on arrival; False if the filter stopped the motion (a latched stop) or time ran out.
        """
        home = np.asarray(home, dtype=np.float64)
        steps = round(timeout / self.spec.control_period)
        for _ in range(steps):
            obs = self.observe()
            error = home - obs.joint_positions
            if np.abs(error).max() < tolerance:
                self.stop()
                return True
            if self.step(gain * error, obs).stopped and self.safety.latched:
                return False
        self.stop()
        return False

    def estop(self, source: str) -> None:
        self.safety.estop(source)
        self.stop()


@dataclass
class DeployResult:
    steps: int
    success: bool
    end_reason: str
    interventions: Counter = field(default_factory=Counter)
    stopped_at_step: int | None = None
    """First step whose command the filter zeroed for a stop reason (workspace, force, e-stop...)."""
    commands: list[np.ndarray] = field(default_factory=list, repr=False)
    """Commands sent, after the filter."""
    requested: list[np.ndarray] = field(default_factory=list, repr=False)
    """What the policy asked for (NaN where it failed to answer)."""
    step_reasons: list[list[str]] = field(default_factory=list, repr=False)
    """The filter's and watchdogs' reasons, per step."""
    latency_s: list[float] = field(default_factory=list, repr=False)
    """Per step: wall-clock time from having the observation to the command being sent (policy + filter)."""
    observations: list[Observation] = field(default_factory=list, repr=False)


STOP_REASONS = {"estop", "protective_stop", "non_finite", "bad_state", "force", "workspace", "stale_state"}
FAULTS = {"stale_observation", "policy_late", "policy_busy", "policy_error"}  # the loop's own, via hold()
LATCHING = {"estop", "protective_stop", "force"}  # the filter reasons that come with a latched stop


def deploy_episode(
    controller: SafeController,
    policy: Policy,
    task: Task,
    max_steps: int | None = None,
    deadline: float | None = None,
    stale_after_periods: int = 1,
    stop_on_intervention: bool = False,
) -> DeployResult:
    """Run one episode at the control rate; every command passes the safety filter.

    The policy runs in a worker thread with ``deadline`` seconds (default: 80% of
    the period) to answer. A late, hung, failing or NaN-returning policy, an
    observation that cannot be read or has not changed for ``stale_after_periods``
    periods, all give zero velocity in that period, named as such in the log. The
    robot holds the rate (``Robot.realtime``: always on hardware; in simulation
    each command advances time by one period, in wall-clock time when asked).
    """
    period = controller.spec.control_period
    max_steps = max_steps or round(task.cfg.episode_seconds / period)
    worker = PolicyWorker(policy, deadline or 0.8 * period)
    freshness = StaleObservationMonitor(stale_after_periods)
    result = DeployResult(steps=0, success=False, end_reason="")
    obs = controller.observe()
    result.observations.append(obs)
    try:
        for step in range(max_steps):
            tick = time.perf_counter()
            command, fault = np.full(controller.spec.num_joints, np.nan), None
            if controller.safety.latched:  # latched after the last command went out: zero now, say why, stop
                command = np.zeros(controller.spec.num_joints)
            elif freshness.stale(obs):
                fault = ("stale_observation", f"the state has not changed for {stale_after_periods} period(s)")
            else:
                answer, status = worker(obs)
                if status == "ok":
                    command = answer
                else:
                    fault = ("policy_" + status.split(":")[0], status)
            safe = controller.hold(*fault) if fault else controller.step(command, obs)
            result.latency_s.append(time.perf_counter() - tick)
            result.commands.append(safe.velocities)
            result.requested.append(np.asarray(command, dtype=np.float64))
            result.step_reasons.append([n.reason for n in safe.interventions])
            for note in safe.interventions:
                result.interventions[note.reason] += 1
            if result.stopped_at_step is None and any(
                n.reason in STOP_REASONS or n.reason in FAULTS for n in safe.interventions
            ):
                result.stopped_at_step = step
            try:
                obs = controller.observe()
            except Exception as err:  # the backend cannot read the state: hold at zero, keep the last state
                result.interventions["observe_error"] += 1
                result.end_reason = f"observe_error: {err!r}"
            result.observations.append(obs)
            result.steps = step + 1
            outcome = task.evaluate(obs, (step + 1) * period)
            if outcome.terminated or outcome.truncated:
                result.success, result.end_reason = outcome.success, outcome.reason
                break
            if controller.safety.latched and any(n.reason in LATCHING for n in safe.interventions):
                # e-stop or protective stop, and this period's command was the filter's zero: nothing moves
                # until an operator resets. A latch that arrived after this period's command went out (an
                # e-stop key or topic from another thread) is honoured by the next period's zero command.
                result.end_reason = "estop" if controller.safety.estopped else "protective_stop"
                break
            if stop_on_intervention and result.stopped_at_step is not None:
                result.end_reason = result.end_reason or "safety_stop"
                break
        else:
            result.end_reason = result.end_reason or "max_steps"
    finally:
        worker.close()
        controller.stop()  # every episode ends at rest, however it ends
    return result
