"""The one robot control loop and the motions of the one safe reset. Nothing reaches the robot except through here.

A period of :func:`control_loop`, after LeRobot's ``record_loop``: observe, ask
the action source for a command, filter it, send what survives, log. The source
is a policy, a teleop device, the scripted expert, or nothing (kinesthetic
teaching: the arm is guided by hand, the loop only observes). Deploy, the
recorder and practice all run their episodes on it, and each episode comes back
as one :class:`Trajectory`.

:class:`SafeController` owns the robot and the safety filter and is the only
object holding the robot: ``step(command)`` filters and sends, ``stop()`` sends
zero. ``retreat`` and ``return_home`` are the motions of the safe reset
(:meth:`robot_il.deploy.run.DeploySession.safe_reset`), every command of them
through the filter too. A source never sees the robot.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from robot_il.deploy.watchdog import PolicyWorker, StaleObservationMonitor
from robot_il.errors import StaleStateError
from robot_il.hal.base import ArmKinematics, Observation, Robot
from robot_il.safety.filter import SafeCommand, SafetyFilter
from robot_il.tasks.base import StepOutcome, Task

Source = Callable[[Observation], np.ndarray]
"""An action source: the state -> joint velocities, rad/s (a policy, a teleop device, the scripted expert)."""


class SafeController:
    """The robot behind the safety filter. ``lock`` is held around each step of the loop, so that a live view can
    read the cell between steps."""

    def __init__(self, robot: Robot, safety: SafetyFilter) -> None:
        self._robot, self.safety = robot, safety
        self.lock = threading.Lock()
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
        refused it on stale state (commanding zero itself), that, with the reason added. A force sensor gone
        quiet holds the arm: a silent sensor must not switch the force limits off."""
        try:
            wrench = self._robot.wrench()
        except StaleStateError as err:
            return self.hold("stale_wrench", str(err))
        return self._send(self.safety(command, obs.joint_positions, wrench))

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

    def retreat(self, kinematics: ArmKinematics, distance: float, speed: float) -> bool:
        """Back the tool ``distance`` (m) out along its own axis at ``speed`` (m/s), holding its orientation: a
        peg left in the socket would be dragged sideways by a joint-space move. False if the filter stopped it
        (a latched stop, the workspace box, a soft limit) or it ran out of time."""
        obs = self.observe()
        start, direction, _ = kinematics.tip(obs.joint_positions)
        period = self.spec.control_period
        try:
            for _ in range(math.ceil(distance / (speed * period)) + round(2.0 / period)):
                tip, _, jac = kinematics.tip(obs.joint_positions)
                if float(np.dot(start - tip, direction)) >= distance:
                    return True
                twist = np.concatenate([-speed * direction, np.zeros(3)])
                command = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), twist)
                if self.step(command, obs).stopped:
                    return False
                obs = self.observe()
            return False
        finally:
            self.stop()

    def return_home(self, home: np.ndarray, tolerance: float = 0.01, timeout: float = 60.0, gain: float = 1.0) -> bool:
        """Joint-space P-control to ``home``, every command through the filter. A joint without position limits
        (a continuous joint) turns the shorter way round. True on arrival; False if the filter stopped the motion
        (a latched stop) or time ran out."""
        home = np.asarray(home, dtype=np.float64)
        continuous = ~np.isfinite(self.safety.q_min) & ~np.isfinite(self.safety.q_max)
        try:
            for _ in range(round(timeout / self.spec.control_period)):
                obs = self.observe()
                error = home - obs.joint_positions
                error[continuous] = (error[continuous] + np.pi) % (2 * np.pi) - np.pi
                if np.abs(error).max() < tolerance:
                    return True
                if self.step(gain * error, obs).stopped and self.safety.latched:
                    return False
            return False
        finally:
            self.stop()

    def estop(self, source: str) -> None:
        self.safety.estop(source)
        self.stop()


@dataclass
class Trajectory:
    """One episode as the loop ran it: what was observed, asked and sent, why the filter stepped in, and how it
    ended. The type every loop gives back (deploy, record, practice); a kinesthetic trajectory sends nothing."""

    observations: list[Observation] = field(default_factory=list, repr=False)
    commands: list[np.ndarray] = field(default_factory=list, repr=False)
    """Commands sent, after the filter (none when the arm was guided by hand)."""
    requested: list[np.ndarray] = field(default_factory=list, repr=False)
    """What the source asked for (NaN where it failed to answer)."""
    step_reasons: list[list[str]] = field(default_factory=list, repr=False)
    """The filter's and watchdogs' reasons, per step."""
    latency_s: list[float] = field(default_factory=list, repr=False)
    """Per step: wall-clock time from having the observation to the command being sent (source + filter)."""
    rewards: list[float] = field(default_factory=list, repr=False)
    """The task's success signal after each step."""
    interventions: Counter = field(default_factory=Counter)
    success: bool = False
    end_reason: str = ""
    stopped_at_step: int | None = None
    """First step whose command the filter zeroed for a stop reason (workspace, force, e-stop...)."""
    last: StepOutcome | None = field(default=None, repr=False)
    """The task's judgement of the last state."""

    @property
    def steps(self) -> int:
        return len(self.observations) - 1

    @property
    def sent_commands(self) -> bool:
        return bool(self.commands)


STOP_REASONS = {
    "estop", "protective_stop", "non_finite", "bad_state", "force", "workspace", "stale_state", "stale_wrench"
}  # fmt: skip
FAULTS = {"stale_observation", "policy_late", "policy_busy", "policy_error"}  # the loop's own, via hold()
LATCHING = {"estop", "protective_stop", "force"}  # the filter reasons that come with a latched stop


def control_loop(
    controller: SafeController,
    source: Source | None,
    task: Task,
    *,
    max_steps: int | None = None,
    deadline: float | None = None,
    stale_after_periods: int = 1,
    stop_on_intervention: bool = False,
    poll: Callable[[], str | None] | None = None,
    on_step: Callable[[Trajectory], None] | None = None,
    pace: bool = False,
    raise_source_errors: bool = False,
) -> Trajectory:
    """Run one episode at the control rate, every command through the safety filter; return its trajectory.

    ``source`` runs in a worker thread with ``deadline`` seconds (default: 80% of the period) to answer. A late,
    hung, failing or NaN-returning source, an observation that cannot be read or has not changed for
    ``stale_after_periods`` periods, all give zero velocity in that period, named as such in the log. With no
    source (a person guides the arm) nothing is sent and the loop only observes. The episode ends when the
    task says so, after ``max_steps``, on a latched stop, or when ``poll`` (asked once a period) returns a
    reason (a person's keep, discard or stop). ``on_step`` sees the trajectory after every period. A source that
    raises holds the arm at zero that period; with ``raise_source_errors`` (a teleop device unplugged) its
    exception then ends the episode, the arm stopped.

    The robot holds the rate (``Robot.realtime``: always on hardware; in simulation each command advances time
    by one period, in wall-clock time when asked); a loop that sends nothing, or is told to ``pace``, sleeps to
    each period's tick itself.
    """
    period = controller.spec.control_period
    max_steps = max_steps or round(task.cfg.episode_seconds / period)
    worker = PolicyWorker(source, deadline or 0.8 * period) if source is not None else None
    freshness = StaleObservationMonitor(stale_after_periods)
    traj = Trajectory()
    obs = controller.observe()
    traj.observations.append(obs)
    next_tick = time.perf_counter()
    try:
        for step in range(max_steps):
            request = poll() if poll is not None else None
            if request is not None:
                traj.end_reason = request
                break
            tick = time.perf_counter()
            if worker is not None:
                safe, command = _command(controller, worker, freshness, obs, stale_after_periods)
                traj.latency_s.append(time.perf_counter() - tick)
                traj.commands.append(safe.velocities)
                traj.requested.append(np.asarray(command, dtype=np.float64))
                traj.step_reasons.append([n.reason for n in safe.interventions])
                traj.interventions.update(n.reason for n in safe.interventions)
                if raise_source_errors and worker.error is not None:
                    raise worker.error
                if traj.stopped_at_step is None and any(
                    n.reason in STOP_REASONS or n.reason in FAULTS for n in safe.interventions
                ):
                    traj.stopped_at_step = step
            if worker is None or pace:
                next_tick = max(next_tick + period, time.perf_counter() - period)
                time.sleep(max(0.0, next_tick - time.perf_counter()))
            try:
                with controller.lock:
                    obs = controller.observe()
            except Exception as err:  # the backend cannot read the state: hold at zero, keep the last state
                traj.interventions["observe_error"] += 1
                traj.end_reason = f"observe_error: {err!r}"
            traj.observations.append(obs)
            outcome = task.evaluate(obs, (step + 1) * period)
            traj.last, traj.success = outcome, outcome.success
            traj.rewards.append(float(outcome.success))
            if on_step is not None:
                on_step(traj)
            if outcome.terminated or outcome.truncated:
                traj.end_reason = outcome.reason
                break
            latched = controller.safety.latched
            if latched and (worker is None or any(n.reason in LATCHING for n in safe.interventions)):
                # e-stop or protective stop, and this period's command was the filter's zero: nothing moves
                # until an operator resets. A latch that arrived after this period's command went out (an
                # e-stop key or topic from another thread) is honoured by the next period's zero command.
                traj.end_reason = "estop" if controller.safety.estopped else "protective_stop"
                break
            if stop_on_intervention and traj.stopped_at_step is not None:
                traj.end_reason = traj.end_reason or "safety_stop"
                break
        else:
            traj.end_reason = traj.end_reason or "max_steps"
    finally:
        if worker is not None:
            worker.close()
            controller.stop()  # every commanded episode ends at rest, however it ends
    return traj


def _command(
    controller: SafeController,
    worker: PolicyWorker,
    freshness: StaleObservationMonitor,
    obs: Observation,
    stale_after_periods: int,
) -> tuple[SafeCommand, np.ndarray]:
    """This period's command, through the filter and sent: the source's, or zero for a fault (named)."""
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
    with controller.lock if fault is None else contextlib.nullcontext():
        safe = controller.hold(*fault) if fault else controller.step(command, obs)
    return safe, command


def wait_for_motion(
    controller: SafeController, speed: float, poll: Callable[[], str | None], timeout: float | None = None
) -> tuple[Observation | None, str | None]:
    """Kinesthetic teaching's start: observe at the control rate until a joint moves faster than ``speed``
    (rad/s), the hand has started guiding the arm. Returns (that state, None), or (None, the request ``poll``
    returned), or raises TimeoutError after ``timeout`` seconds."""
    period = controller.spec.control_period
    start = next_tick = time.perf_counter()
    while True:
        with controller.lock:
            obs = controller.observe()
        if np.abs(obs.joint_velocities).max() >= speed:
            return obs, None
        request = poll()
        if request is not None:
            return None, request
        if timeout is not None and time.perf_counter() - start > timeout:
            raise TimeoutError(f"nobody moved the arm within {timeout} s")
        next_tick = max(next_tick + period, time.perf_counter() - period)
        time.sleep(max(0.0, next_tick - time.perf_counter()))
