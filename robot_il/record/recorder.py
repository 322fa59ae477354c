"""The interactive recorder: episodes that a person starts, keeps or discards, for the GUI and the terminal.

:class:`Recorder` is a small state machine over the deploy path's one control
loop (:func:`robot_il.deploy.loop.control_loop`) and its one safe reset (call
:meth:`Recorder.run` from one thread); it takes requests from any other:
``start``, ``keep``, ``discard``, ``stop``. Each episode goes through the phases

    resetting -> ready -> recording [-> review] -> saved | discarded -> resetting ...

``keep`` ends the episode and writes it; ``discard`` drops it and records the
same socket pose again; when the task ends an episode (peg in, out of the
workspace, time limit, a protective stop) the arm stops and the episode waits
for review (``auto_keep``: a success is kept and a failure discarded at once).

Teleop mode is the loop with the device as its action source: the device's
twist, mapped to joint velocities through the arm model's Jacobian, goes
through the deploy session's safety filter (the recorder never holds the robot)
and the velocities the robot applied are the actions. Kinesthetic mode is the
loop with no source: it commands nothing, waits for the arm to move, then
records states until the peg is in (as :mod:`robot_il.record.kinesthetic`).

The output file is written whole per kept episode (:class:`DemoWriter`): the
counter shows an episode as kept only once it is on disk, so ``kill -9`` loses
at most the episode being recorded. The file's demo count is the counter's
start: recording resumes into an existing file until it holds ``target`` demos.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from robot_il.data.writer import DemoWriter
from robot_il.deploy.loop import Trajectory, control_loop, wait_for_motion
from robot_il.errors import EStopError
from robot_il.record.kinesthetic import START_SPEED
from robot_il.record.speech import Speaker
from robot_il.record.teleop import TeleopDevice, twist_to_joint_velocities

MODES = ("teleop", "kinesthetic")
REQUESTS = ("start", "keep", "discard", "stop")


class Phase(StrEnum):
    RESETTING = "resetting"
    READY = "ready"
    RECORDING = "recording"
    REVIEW = "review"
    SAVED = "saved"
    DISCARDED = "discarded"
    DONE = "done"
    STOPPED = "stopped"


class Cell(Protocol):
    """What the recorder needs of an open deploy session (``robot_il.deploy.run.open_session``): its env,
    task and kinematics, the safety filter, the :class:`SafeController` through which alone it moves the arm,
    its safe reset, its log writer and its live view."""

    env: Any
    safety: Any
    controller: Any
    kinematics: Any

    @property
    def task(self) -> Any: ...

    @property
    def robot(self) -> Any: ...

    def resets_itself(self) -> bool: ...

    def safe_reset(self, seed: int, drive: bool | None = None) -> None: ...

    def write(self, writer: DemoWriter, traj: Trajectory, attrs: dict[str, Any]) -> str: ...

    def view(self) -> Any: ...


@dataclass(frozen=True)
class Status:
    """A snapshot for the user interfaces (replaced whole, so a reader in another thread sees one moment)."""

    phase: Phase = Phase.RESETTING
    mode: str = "teleop"
    kept: int = 0
    discarded: int = 0
    target: int = 0
    seed: int = 0
    """Seed of the episode's socket pose (a discarded episode is recorded again with the same one)."""
    steps: int = 0
    elapsed: float = 0.0
    """Seconds into the episode (robot time)."""
    success: bool = False
    """The task's success signal at the latest state."""
    depth: float = float("nan")
    """Tip depth past the hole's mouth, m (negative: outside)."""
    end_reason: str = ""
    waiting_for_motion: bool = False
    """Kinesthetic: armed, recording starts when the arm moves."""
    message: str = ""


class Recorder:
    """Records demos on an open deploy session; see the module docstring for the phases and requests."""

    def __init__(
        self,
        cell: Cell,
        out: str | Path,
        *,
        mode: str = "teleop",
        device: TeleopDevice | None = None,
        target: int = 10,
        seed: int = 0,
        only_successes: bool = False,
        auto_keep: bool = False,
        auto_start: bool = False,
        realtime: bool = True,
        max_seconds: float | None = None,
        speaker: Speaker | None = None,
    ) -> None:
        self.cell, self.out, self.device = cell, Path(out), device
        self.only_successes, self.auto_keep, self.auto_start = only_successes, auto_keep, auto_start
        self.realtime = realtime
        """Hold the control rate in wall-clock time (False: as fast as the robot allows, for tests)."""
        self.max_seconds = max_seconds
        """Longest kinesthetic demo, s (default: the task's episode length)."""
        self.speaker = speaker or Speaker(enabled=False)
        self.period: float = cell.robot.spec.control_period
        self.lock = cell.controller.lock
        """Held while the cell's state changes (a control step, a reset): a live view reads it under this lock."""
        self.tick_times: deque[float] = deque(maxlen=100_000)
        """perf_counter() of every control step while recording, s, a NaN before each episode: the rate held."""
        self.events: list[Status] = []
        """The status at every phase change, in order."""
        self.error: BaseException | None = None
        self._requests: queue.Queue[str] = queue.Queue()
        self._writer: DemoWriter | None = None
        self.mode = mode
        self._open_writer(mode)
        self.status = Status(mode=mode, kept=self._existing, target=target, seed=seed + self._existing)
        self._base_seed = seed

    # Requests and settings, from any thread ---------------------------------------------------------

    def request(self, what: str) -> None:
        """``start``, ``keep``, ``discard`` or ``stop``; honoured in the phases where it means something.

        ``stop`` during a reset also latches the safety filter's stop, so a motion home on hardware (a loop of
        the controller's, which takes no requests) halts within a period; elsewhere the loop stops the arm
        itself at its next period. The loop then ends."""
        if what not in REQUESTS:
            raise ValueError(f"unknown request {what!r}; use one of {REQUESTS}")
        if what == "stop" and self.status.phase == Phase.RESETTING:
            self.cell.safety.estop("recorder stopped during the reset")
        self._requests.put(what)

    def set_mode(self, mode: str) -> None:
        """Switch between teleop and kinesthetic (while ready). Raises DemoFileError where the output file
        holds the other kind (teleop demos have actions, kinesthetic demos are state-only)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
        if self.status.phase != Phase.READY:
            raise RuntimeError("switch the mode between episodes")
        self._open_writer(mode)
        self.mode = mode
        self._update(mode=mode)

    @property
    def done(self) -> bool:
        return self.status.phase in (Phase.DONE, Phase.STOPPED)

    def rates(self, last: int | None = None) -> dict[str, float]:
        """Control steps per second while recording (mean) and the step period's p50 / p99, ms; over the
        ``last`` steps, or all of them."""
        t = np.asarray(self.tick_times)[-last if last else 0 :]
        dt = np.diff(t)
        dt = dt[np.isfinite(dt)]  # episodes are separated by NaN: the gaps between them are not periods
        if len(dt) == 0:
            return {"control_hz": float("nan"), "period_p50_ms": float("nan"), "period_p99_ms": float("nan")}
        return {
            "control_hz": float(1.0 / dt.mean()),
            "period_p50_ms": float(1e3 * np.percentile(dt, 50)),
            "period_p99_ms": float(1e3 * np.percentile(dt, 99)),
        }

    # The control loop --------------------------------------------------------------------------------

    def run(self) -> None:
        """Record until the file holds ``target`` demos or ``stop``; the arm is stopped however it ends.

        An exception (a device that fails, a lost link) ends the loop and is raised; the episode in progress is
        dropped and the file keeps the episodes already kept."""
        try:
            while self.status.kept < self.status.target:
                if self.cell.safety.estopped:
                    self._phase(Phase.STOPPED, f"e-stop latched ({self.cell.safety.latched})")
                    return
                if not self._reset():
                    self._phase(Phase.STOPPED, "stopped during the reset")
                    return
                if not self._wait_start():
                    return
                episode = self._record()
                by_request = episode.end_reason in REQUESTS  # the person ended it; else the task or a stop did
                self._update(end_reason=episode.end_reason)
                decision = episode.end_reason if by_request else self._decide(episode)
                if decision == "stop":
                    self._phase(Phase.STOPPED, "stopped; the episode in progress was not kept")
                    return
                if decision == "keep":
                    self._keep(episode)
                else:
                    self._discard("(on request)" if by_request else f"({episode.end_reason})")
            self._phase(Phase.DONE, f"done: {self.status.kept} demos in {self.out}")
            self.speaker.say("done")
        except BaseException as err:
            self.error = err
            why = f"error: {err!r}" if isinstance(err, Exception) else f"stopped ({err})"
            self._phase(Phase.STOPPED, f"{why}; the file keeps the {self.status.kept} demos kept")
            raise
        finally:
            self._halt()

    def _halt(self) -> None:
        if self.mode == "teleop":
            self.cell.controller.stop()

    def _reset(self) -> bool:
        """The session's safe reset with the episode's socket pose: the arm driven home through the filter where
        the backend cannot reset itself (teleop); kinesthetic: the person brings the arm home. False if a stop
        came meanwhile."""
        self._update(steps=0, elapsed=0.0, success=False, depth=float("nan"), end_reason="")
        self._phase(Phase.RESETTING, f"resetting for episode {self.status.kept + 1} (seed {self.status.seed})")
        drive = self.mode == "teleop" and not self.cell.resets_itself()
        try:
            with self.lock:
                self.cell.safe_reset(self.status.seed, drive=drive)
        except EStopError:
            return False
        return True

    def _wait_start(self) -> bool:
        self._phase(Phase.READY, f"ready for episode {self.status.kept + 1} of {self.status.target}")
        self.speaker.say(f"ready, episode {self.status.kept + 1}")
        if self.auto_start:
            return True
        while True:
            what = self._take()
            if what == "stop":
                self._phase(Phase.STOPPED, "stopped")
                return False
            if what == "start":
                return True

    def _take(self, timeout: float | None = None) -> str | None:
        """The next request (``None`` after ``timeout`` s; default one control period)."""
        try:
            return self._requests.get(timeout=self.period if timeout is None else timeout)
        except queue.Empty:
            return None

    def _poll(self) -> str | None:
        """A pending ``keep``, ``discard`` or ``stop`` (a stray ``start`` is dropped), without waiting."""
        while True:
            try:
                what = self._requests.get_nowait()
            except queue.Empty:
                return None
            if what != "start":
                return what

    def _record(self) -> Trajectory:
        """One episode on the control loop: the device as its source (teleop), or none (kinesthetic)."""
        self._phase(Phase.RECORDING, f"recording episode {self.status.kept + 1}")
        self.tick_times.append(float("nan"))
        self.speaker.say("go")
        controller, task = self.cell.controller, self.cell.task
        if self.mode == "kinesthetic":
            self._update(waiting_for_motion=True)
            _, request = wait_for_motion(controller, START_SPEED, self._poll)
            if request is not None:
                return Trajectory(end_reason=request)
            self._update(waiting_for_motion=False, message="recording: the arm is moving")
            limit = min(self.max_seconds or task.cfg.episode_seconds, task.cfg.episode_seconds)
            return control_loop(
                controller, None, task, max_steps=round(limit / self.period), poll=self._poll, on_step=self._on_step
            )
        if self.device is None:
            raise RuntimeError("teleop mode needs a device")
        device, kinematics = self.device, self.cell.kinematics

        def teleop(obs):
            _, _, jac = kinematics.tip(obs.joint_positions)
            return twist_to_joint_velocities(jac, device.twist(obs))

        # A robot that holds the rate itself (hardware) paces the loop; a simulation only when asked.
        pace = self.realtime and not self.cell.robot.realtime
        return control_loop(
            controller, teleop, task, poll=self._poll, on_step=self._on_step, pace=pace, raise_source_errors=True
        )

    def _on_step(self, traj: Trajectory) -> None:
        self.tick_times.append(time.perf_counter())
        self._update(
            steps=traj.steps,
            elapsed=traj.steps * self.period,
            success=traj.success,
            depth=traj.last.depth if traj.last is not None else float("nan"),
        )

    def _decide(self, ep: Trajectory) -> str:
        """The task (or a stop) ended the episode: keep, discard or stop, by ``auto_keep`` or the person."""
        if self.auto_keep:
            return "keep" if ep.success else "discard"
        outcome = "the peg is in" if ep.success else f"ended: {ep.end_reason}"
        self._phase(Phase.REVIEW, f"{outcome}; Right keeps it, Left discards it")
        self.speaker.say("in. keep?" if ep.success else "keep or discard?")
        while True:
            what = self._take()
            if what in ("keep", "discard", "stop"):
                return what

    def _keep(self, ep: Trajectory) -> None:
        if ep.steps < 1:
            self._discard("(nothing recorded yet)")
            return
        if self.only_successes and not ep.success:
            self._discard("(not a success, and only successes are kept)")
            return
        name = self._write(ep)
        self._update(kept=self.status.kept + 1, seed=self._base_seed + self.status.kept + 1)
        left = self.status.target - self.status.kept
        self._phase(Phase.SAVED, f"saved {name} ({self.status.kept} of {self.status.target})")
        self.speaker.say(f"saved. {left} to go" if left else "saved")

    def _discard(self, why: str) -> None:
        self._update(discarded=self.status.discarded + 1)
        self._phase(Phase.DISCARDED, f"discarded {why}; the same socket pose comes again")
        self.speaker.say("discarded. again")

    def _write(self, ep: Trajectory) -> str:
        attrs: dict[str, Any] = {
            "source": self.mode,
            "seed": self.status.seed,
            "success": ep.success,
            "end_reason": ep.end_reason,
            "pan_tilt": np.asarray(ep.observations[-1].pan_tilt),
        }
        if self.mode == "teleop":
            attrs["device"] = self.device.name
        return self.cell.write(self._open_writer(self.mode, create=True), ep, attrs)

    def _open_writer(self, mode: str, create: bool = False) -> DemoWriter | None:
        """The file's writer for ``mode``; checks an existing file (same env, same kind) and counts its demos.
        A new file is created at the first kept episode, so switching the mode before then is free."""
        state_only = mode == "kinesthetic"
        if self._writer is not None and self._writer.state_only == state_only:
            return self._writer
        if self.out.exists() or create:
            self._writer = DemoWriter(self.out, self.cell.env.env_args(), state_only=state_only)
            self._existing = self._writer.num_demos
        else:
            self._writer, self._existing = None, 0
        return self._writer

    # Status ------------------------------------------------------------------------------------------

    def _update(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)

    def _phase(self, phase: Phase, message: str) -> None:
        self.status = replace(self.status, phase=phase, message=message)
        self.events.append(self.status)
