"""``robot-il deploy``: run a trained policy on a backend, every command through the safety filter.

:class:`DeploySession` is an open backend with its safety chain, and the one
safe reset between episodes (:meth:`DeploySession.safe_reset`) that deploy, the
recorder and practice share. Each episode runs on the one control loop
(:func:`robot_il.deploy.loop.control_loop`) and is logged to HDF5 (the demo
schema; ``actions`` are the commands actually sent, ``requested_actions`` what
the policy asked for, ``interventions`` the filter's reasons per step). It ends
on success, the task's limits, or a safety stop; an e-stop ends the run
(:class:`~robot_il.errors.EStopError`, exit code 4).
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import numpy as np
from rich.console import Console

from robot_il.data.writer import DemoWriter, EpisodeBuffer
from robot_il.deploy.exits import stopping
from robot_il.deploy.loop import SafeController, Trajectory, control_loop
from robot_il.envs.insertion import InsertionEnv, flatten_observation
from robot_il.errors import ConfigError, EStopError, OperatorNeeded
from robot_il.hal.base import Observation
from robot_il.safety import SafetyFilter, SafetyLimits, default_limits, load_limits

console = Console(stderr=True)


class KeyboardEStop(threading.Thread):
    """Reads the terminal: a line ``e`` (or an empty line) latches the e-stop; ``r`` releases it."""

    def __init__(self, safety: SafetyFilter, stream=None) -> None:
        super().__init__(daemon=True, name="robot-il-estop-keys")
        self.safety, self.stream = safety, stream or sys.stdin

    def run(self) -> None:
        for line in self.stream:
            key = line.strip().lower()
            if key in ("", "e", "s", "stop"):
                self.safety.estop("keyboard")
                console.print("[bold red]E-STOP[/] latched from the keyboard; type r + Enter to release")
            elif key == "r":
                self.safety.reset()
                console.print("e-stop released")


@dataclass(frozen=True)
class SafeResetConfig:
    retreat_distance: float = 0.08
    """How far the tool backs out along its own axis before the joint-space move home, m."""
    retreat_speed: float = 0.05
    """Tip speed of the retreat, m/s."""
    home_tolerance: float = 0.01
    """Largest joint error at which the arm counts as home, rad."""
    home_timeout: float = 60.0
    """Seconds (of robot time) the way home may take."""


@dataclass
class DeploySession:
    """A backend opened for deployment: its env (task, layout, log description) and the safety chain.

    Use it as a context manager: every way out (normal end, exception, a signal turned into
    :class:`~robot_il.deploy.exits.Stopped`) commands zero velocity and closes the backend.
    """

    env: InsertionEnv
    limits: SafetyLimits
    safety: SafetyFilter
    controller: SafeController
    kinematics: Any

    @property
    def robot(self):
        return self.env.backend.robot

    @property
    def task(self):
        return self.env.task

    def observation_vector(self, obs: Observation) -> np.ndarray:
        return flatten_observation(obs, self.env.include_efforts)

    def resets_itself(self) -> bool:
        """Whether the backend can put the cell back by itself (the simulator, or a bridge's reset service);
        on hardware without one, every motion home goes through the filter."""
        return self.robot.spec.resets_itself

    def close(self, why: BaseException | None = None) -> None:
        """Zero velocity, then close the backend (which sends zero again); a signal cannot cut this short."""
        with stopping():
            try:
                self.controller.stop()
            except Exception as err:  # stale state cannot block a zero, but a dead link can: close anyway
                console.print(f"[red]zero command failed ({err!r}); closing the backend, which sends zero too[/]")
            finally:
                self.env.close()
            if why is not None and self.controller.moved:
                console.print(f"[bold]arm stopped[/] (zero velocity sent, backend closed) after {why!r}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(exc)

    def safe_reset(self, seed: int, drive: bool | None = None, cfg: SafeResetConfig | None = None) -> None:
        """The one safe reset between episodes: deploy's, the recorder's and practice's.

        1. an e-stop ends the run (:class:`EStopError`); a protective stop of the last episode is released;
        2. where the arm must be driven home (``drive``; default: unless the backend resets the cell itself),
           the tool retreats along its own axis and the arm goes home on the shortest angle, every command
           through the filter; an e-stop on the way ends the run at once, a blocked motion needs a person
           (:class:`OperatorNeeded`) unless the backend can reset the cell itself;
        3. the backend's reset (on hardware: a check that the arm is home), then the episode's socket pose
           from ``seed``: home first, so the socket never moves with the tool in it.
        """
        safety = self.safety
        if safety.estopped:
            raise EStopError(f"e-stop latched ({safety.latched}); release it, then run again")
        if safety.latched:
            console.print(f"releasing the protective stop of the last episode ({safety.latched}) for the reset")
            safety.reset()
        if not self.resets_itself() if drive is None else drive:
            self._drive_home(cfg or SafeResetConfig())
        self.robot.reset()
        self.robot.zero_wrench()  # home and still, nothing touching the tool: its weight and the drift are zero
        self.task.randomize(self.env.backend.pan_tilt, np.random.default_rng(seed))

    def _drive_home(self, cfg: SafeResetConfig) -> None:
        home = self.robot.spec.home_joint_positions
        if home is None:
            raise ConfigError("home_joint_positions", "not set for this arm; give the joint angles episodes start at")
        safety = self.safety
        self.controller.retreat(self.kinematics, cfg.retreat_distance, cfg.retreat_speed)  # blocked: still try home
        if safety.estopped:
            raise EStopError(f"e-stop during the retreat ({safety.latched}); release it, then run again")
        ok = safety.latched is None and self.controller.return_home(home, cfg.home_tolerance, cfg.home_timeout)
        if safety.estopped:
            raise EStopError(f"e-stop on the way home ({safety.latched}); release it, then run again")
        if not ok:
            why = safety.latched or "the filter blocked the motion home"
            if not self.resets_itself():
                raise OperatorNeeded(
                    f"safe reset failed: {why}. Free the arm and bring it home by hand, then run the same command again"
                )
            console.print(f"[yellow]safe reset failed ({why}); the backend resets the cell itself[/]")
            safety.reset()

    def view(self, width: int = 320, height: int = 240, camera: str = "overview") -> SimView | None:
        """A live picture of the cell for a window, or None where the backend has no simulation to draw."""
        cell = getattr(self.robot, "cell", None)
        return None if cell is None else SimView(cell, self.controller.lock, width, height, camera)

    def write(self, writer: DemoWriter, traj: Trajectory, attrs: dict[str, Any]) -> str:
        """One trajectory into an HDF5 file of the demo schema: the commands sent as actions, with what was
        asked and why it differed; a trajectory that sent nothing (kinesthetic) as states only."""
        if not traj.sent_commands:
            return writer.write_episode(EpisodeBuffer(states=traj.observations), terminated=traj.success, attrs=attrs)
        return writer.write_episode(
            EpisodeBuffer(states=traj.observations, actions=list(traj.commands)),
            terminated=traj.end_reason in ("success", "left_workspace"),
            rewards=np.asarray(traj.rewards),
            attrs={
                **attrs,
                "success": traj.success,
                "end_reason": traj.end_reason,
                "interventions": json.dumps(dict(traj.interventions)),
                "limits": json.dumps(asdict(self.limits)),
            },
            extras={
                "requested_actions": np.array(traj.requested),
                "interventions": np.array([",".join(r) for r in traj.step_reasons], dtype="S"),
            },
        )


class SimView:
    """Renders a simulated cell's live state with its own MuJoCo renderer (``width`` x ``height`` pixels).

    The env's ``render()`` would hold the state for the whole draw; here only the scene update (a copy of the
    state, microseconds) happens under the control loop's lock, and the drawing outside it."""

    def __init__(self, cell: Any, lock: threading.Lock, width: int, height: int, camera: str) -> None:
        import mujoco

        self._cell, self._lock, self._camera = cell, lock, camera
        self._renderer = mujoco.Renderer(cell.model, height, width)
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False

    def frame(self) -> np.ndarray:
        with self._lock:
            self._renderer.update_scene(self._cell.data, camera=self._camera)
        return self._renderer.render()

    def close(self) -> None:
        self._renderer.close()


def open_session(
    backend: str = "sim:peg",
    rate: float = 20.0,
    limits_path: Path | None = None,
    backend_config: Path | str | None = None,
    realtime: bool = False,
    task: str = "peg",
    arm: str | None = None,
    force_sensor: bool = True,
    commands: bool = True,
    sim_config: dict[str, Any] | None = None,
) -> DeploySession:
    """Connect the backend and build the safety chain. ``realtime`` makes the simulator hold the control rate in
    wall-clock time (hardware always does); ``arm`` picks the simulated arm (simulated backends; None: the
    Jaco). The filter checks against the arm's own model (the backend's ``kinematics``: the description it was
    built from, or that the arm published). Without a force sensor a session that may command the arm
    (``commands``) is refused, unless ``force_sensor`` is False (``--no-force-sensor``): then every force limit
    is off, and it says so. A session that only observes (kinesthetic teaching) needs no active velocity
    controller."""
    env = connect_env(backend, backend_config, rate, task, arm, commands, sim_config)  # connected; its log's args
    try:
        robot = env.backend.robot
        if commands and not robot.has_force_sensor:
            if force_sensor:
                raise ConfigError(
                    "--no-force-sensor",
                    "the arm has no force source (the backend's wrench_topic is empty): give the force-torque "
                    "sensor's WrenchStamped topic, or pass --no-force-sensor to run with every force limit off",
                )
            console.print(
                "[bold red]FORCE LIMITS ARE OFF:[/] no force-torque sensor (--no-force-sensor); contact forces are "
                "not watched, nothing stops the arm pushing into the fixture"
            )
        if realtime and not robot.realtime:
            robot.realtime = True
        kinematics = robot.kinematics
        limits = session_limits(env, task, limits_path)
        safety = SafetyFilter(limits, robot.spec.control_period, kinematics.tip_linear)
        return DeploySession(env, limits, safety, SafeController(robot, safety), kinematics)
    except BaseException:
        env.close()
        raise


def session_limits(env: InsertionEnv, task: str, limits_path: Path | str | None) -> SafetyLimits:
    """The safety limits of the connected arm: ``limits_path`` (``--limits``), else the backend's own (the
    simulated cell's shipped limits, or the ROS 2 config's ``limits``), each within the arm's description."""
    robot = env.backend.robot
    spec, kinematics = robot.spec, robot.kinematics
    path = str(limits_path) if limits_path else robot.limits_hint
    if not path:
        raise ConfigError(
            "--limits",
            f"give the safety limits of your arm ({spec.arm or 'from its description'}, joints "
            f"{list(spec.joint_names)}): joint_limits with ros2_control's fields (UR's joint_limits.yaml works as "
            "is) and a cartesian_limits section (workspace box, tip speed, forces); or set `limits:` in the "
            "backend's YAML",
        )
    source = kinematics.description.source
    if path == "sim":
        return default_limits(task, spec.arm, spec.joint_names, env.task.cfg.workspace, kinematics.limits)
    return load_limits(path, spec.joint_names, kinematics.limits, source)


class DeployPolicy(Protocol):
    """What deploy needs of a policy: a check against the task (before connecting) and against the connected
    env's arm and observation layout, and an action per state."""

    def check_task(self, task: str) -> None: ...

    def check_env(self, env: InsertionEnv) -> None: ...

    def __call__(self, obs: Observation, obs_vec: np.ndarray) -> np.ndarray: ...


def deploy(
    policy: Path | str | DeployPolicy,
    *,
    backend: str = "sim:peg",
    rate: float = 20.0,
    episodes: int = 1,
    seed: int = 0,
    log_path: Path | None = None,
    limits_path: Path | None = None,
    realtime: bool = False,
    estop_keys: bool = False,
    backend_config: Path | str | None = None,
    max_steps: int | None = None,
    task: str = "peg",
    arm: str | None = None,
    force_sensor: bool = True,
) -> list[dict[str, Any]]:
    """Run ``policy`` (a run directory, a policy.pt, or a policy object) for ``episodes`` episodes of ``task``;
    a simulated backend simulates ``arm`` (default: the arm the policy was trained on)."""
    import torch

    from robot_il.policies import CheckpointPolicy

    torch.set_num_threads(1)  # a (300, 200) MLP per period: one thread answers fastest and leaves a core free

    runner = CheckpointPolicy(policy) if isinstance(policy, str | Path) else policy
    runner.check_task(task)  # another task's policy is refused before anything connects
    name = str(policy) if isinstance(policy, str | Path) else type(policy).__name__
    arm = arm or trained_arm(runner)
    with open_session(backend, rate, limits_path, backend_config, realtime, task, arm, force_sensor) as session:
        runner.check_env(session.env)  # the arm's joints and units are known once connected; nothing moved yet
        return _deploy_episodes(session, runner, name, episodes, seed, log_path, estop_keys, max_steps)


def trained_arm(policy: Any) -> str | None:
    """The simulated arm a policy file was trained on (its env's cell config), or None."""
    meta = getattr(policy, "meta", None) or {}
    return meta.get("env_args", {}).get("env_kwargs", {}).get("config", {}).get("arm")


def _deploy_episodes(
    session: DeploySession,
    runner: DeployPolicy,
    policy_name: str,
    episodes: int,
    seed: int,
    log_path: Path | None,
    estop_keys: bool,
    max_steps: int | None,
) -> list[dict[str, Any]]:
    env, safety = session.env, session.safety

    def policy(obs: Observation) -> np.ndarray:
        return runner(obs, session.observation_vector(obs))

    writer = DemoWriter(log_path, env.env_args()) if log_path else None
    if estop_keys:
        KeyboardEStop(safety).start()
        console.print("e-stop: press Enter (or e + Enter); r + Enter releases it")
    summaries = []
    for i in range(episodes):
        session.safe_reset(seed + i)  # an e-stop latched since the last episode ends the run here
        traj = control_loop(session.controller, policy, session.task, max_steps=max_steps)
        summaries.append(
            {
                "episode": i,
                "seed": seed + i,
                "steps": traj.steps,
                "success": traj.success,
                "end_reason": traj.end_reason,
                "interventions": dict(traj.interventions),
                "stopped_at_step": traj.stopped_at_step,
            }
        )
        console.print(
            f"episode {i}: {'success' if traj.success else 'failure'} ({traj.end_reason}) after "
            f"{traj.steps} steps; interventions {dict(traj.interventions)}"
        )
        if writer is not None:
            session.write(writer, traj, {"source": "deploy", "policy": policy_name, "seed": seed + i})
        if safety.estopped:
            wins = sum(s["success"] for s in summaries)
            raise EStopError(
                f"e-stop ({safety.latched}) ended the run after {i + 1} of {episodes} episodes ({wins} successful)"
                + (f"; log {log_path}" if log_path else "")
            )
    return summaries


def connect_env(
    backend: str,
    backend_config: Path | str | None,
    rate: float,
    task: str = "peg",
    arm: str | None = None,
    commands: bool = True,
    sim_config: dict[str, Any] | None = None,
) -> InsertionEnv:
    """The task's simulated backend takes the rate (and the simulated ``arm``, and any other cell fields in
    ``sim_config``) directly; other backends come from their YAML config (rate overridden)."""
    import dataclasses

    from robot_il.envs import task_includes_efforts
    from robot_il.hal import make_backend
    from robot_il.tasks import task_entry

    efforts = task_includes_efforts(task)  # the layout of the task's registered env, which policies train on
    sim = {**(sim_config or {}), "control_rate_hz": rate, **({"arm": arm} if arm else {})}
    if backend == task_entry(task).backend:
        return InsertionEnv(backend, sim, task=task, include_efforts=efforts)
    if backend != "ros2":
        return InsertionEnv(backend, task=task, include_efforts=efforts)
    from robot_il.ros2.config import load_ros2_config

    if backend_config is None:
        from importlib import resources

        backend_config = str(resources.files("robot_il.ros2").joinpath(f"{arm or 'jaco'}_sim.yaml"))
    cfg = dataclasses.replace(load_ros2_config(backend_config), control_rate_hz=rate)
    if not commands:  # kinesthetic teaching: the arm is guided by hand; no velocity controller need be active
        cfg = dataclasses.replace(cfg, check_controller=False)
    cell = task_entry(task).config_class()
    # The ROS 2 config's cell is the peg's geometry; the clip cell shares its arm, tool-centre point and
    # pan-tilt unit, so those fields carry over and the task's own config supplies the rest.
    shared = {f: getattr(cfg.cell, f) for f in dataclasses.asdict(cfg.cell) if f in cell.__dataclass_fields__}
    task_cfg = cell(**{**shared, "control_rate_hz": rate})
    return InsertionEnv(make_backend("ros2", cfg), task_cfg, task=task, include_efforts=efforts)
