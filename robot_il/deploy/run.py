"""``robot-il deploy``: run a trained policy on a backend, every command through the safety filter.

Each episode is logged to HDF5 (the demo schema; ``actions`` are the commands
actually sent, ``requested_actions`` what the policy asked for, ``interventions``
the filter's reasons per step) and ends on success, the task's limits, or a
safety stop.
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
from robot_il.deploy.loop import DeployResult, SafeController, deploy_episode
from robot_il.envs.insertion import InsertionEnv, flatten_observation
from robot_il.errors import ConfigError
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

    def reset_cell(self, seed: int) -> None:
        """Home (through the filter where the backend cannot reset itself), then a new socket pose."""
        if not self.resets_itself():
            self.controller.return_home(self.robot.spec.home_joint_positions)
        self.robot.reset()  # home first, so the socket never moves with the peg in it
        self.task.randomize(self.env.backend.pan_tilt, np.random.default_rng(seed))


def open_session(
    backend: str = "sim:peg",
    rate: float = 20.0,
    limits_path: Path | None = None,
    backend_config: Path | str | None = None,
    realtime: bool = False,
    task: str = "peg",
    arm: str | None = None,
) -> DeploySession:
    """Connect the backend and build the safety chain. ``realtime`` makes the simulator hold the control rate in
    wall-clock time (hardware always does); ``arm`` picks the simulated arm (simulated backends; None: the
    Jaco). The filter checks against the arm's own model (the backend's ``kinematics``: the description it was
    built from, or that the arm published)."""
    env = _make_env(backend, backend_config, rate, task, arm)  # the backend, its task, the log's env_args: connected
    try:
        robot = env.backend.robot
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


def log_episode(writer: DemoWriter, session: DeploySession, result: DeployResult, attrs: dict[str, Any]) -> str:
    """One deploy episode into the HDF5 log: sent commands as actions, what was asked, and why it differed."""
    buffer = EpisodeBuffer(states=result.observations, actions=list(result.commands))
    return writer.write_episode(
        buffer,
        terminated=result.end_reason in ("success", "left_workspace"),
        attrs={
            **attrs,
            "success": result.success,
            "end_reason": result.end_reason,
            "interventions": json.dumps(dict(result.interventions)),
            "limits": json.dumps(asdict(session.limits)),
        },
        extras={
            "requested_actions": np.array(result.requested),
            "interventions": np.array([",".join(r) for r in result.step_reasons], dtype="S"),
        },
    )


class DeployPolicy(Protocol):
    """What deploy needs of a policy: a check against the env's observation layout, and an action per state."""

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
) -> list[dict[str, Any]]:
    """Run ``policy`` (a run directory, a policy.pt, or a policy object) for ``episodes`` episodes of ``task``;
    a simulated backend simulates ``arm`` (default: the arm the policy was trained on)."""
    import torch

    from robot_il.policies import CheckpointPolicy

    torch.set_num_threads(1)  # a (300, 200) MLP per period: one thread answers fastest and leaves a core free

    runner = CheckpointPolicy(policy) if isinstance(policy, str | Path) else policy  # refused before connecting
    name = str(policy) if isinstance(policy, str | Path) else type(policy).__name__
    arm = arm or trained_arm(runner)
    with open_session(backend, rate, limits_path, backend_config, realtime, task, arm) as session:
        runner.check_env(session.env)
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
    env, safety, controller = session.env, session.safety, session.controller

    def policy(obs: Observation) -> np.ndarray:
        return runner(obs, session.observation_vector(obs))

    writer = DemoWriter(log_path, env.env_args()) if log_path else None
    if estop_keys:
        KeyboardEStop(safety).start()
        console.print("e-stop: press Enter (or e + Enter); r + Enter releases it")
    summaries = []
    for i in range(episodes):
        if safety.estopped:
            console.print("[bold red]e-stop latched:[/] no further episodes (release it and run again)")
            break
        if safety.latched:  # a protective stop ends its episode; the cell is reset before the next one
            console.print(f"releasing the protective stop of the last episode ({safety.latched}) after reset")
            safety.reset()
        session.reset_cell(seed + i)
        result = deploy_episode(controller, policy, session.task, max_steps=max_steps)
        summary = {
            "episode": i,
            "seed": seed + i,
            "steps": result.steps,
            "success": result.success,
            "end_reason": result.end_reason,
            "interventions": dict(result.interventions),
            "stopped_at_step": result.stopped_at_step,
        }
        summaries.append(summary)
        console.print(
            f"episode {i}: {'success' if result.success else 'failure'} ({result.end_reason}) after "
            f"{result.steps} steps; interventions {dict(result.interventions)}"
        )
        if writer is not None:
            log_episode(writer, session, result, {"source": "deploy", "policy": policy_name, "seed": seed + i})
    return summaries


def _make_env(
    backend: str, backend_config: Path | str | None, rate: float, task: str = "peg", arm: str | None = None
) -> InsertionEnv:
    """The task's simulated backend takes the rate (and the simulated ``arm``) directly; other backends come from
    their YAML config (rate overridden)."""
    import dataclasses

    from robot_il.envs import task_includes_efforts
    from robot_il.hal import make_backend
    from robot_il.tasks import task_entry

    efforts = task_includes_efforts(task)  # the layout of the task's registered env, which policies train on
    sim = {"control_rate_hz": rate, **({"arm": arm} if arm else {})}
    if backend == task_entry(task).backend:
        return InsertionEnv(backend, sim, task=task, include_efforts=efforts)
    if backend != "ros2":
        return InsertionEnv(backend, task=task, include_efforts=efforts)
    from robot_il.ros2.config import load_ros2_config

    if backend_config is None:
        from importlib import resources

        backend_config = str(resources.files("robot_il.ros2").joinpath(f"{arm or 'jaco'}_sim.yaml"))
    cfg = dataclasses.replace(load_ros2_config(backend_config), control_rate_hz=rate)
    cell = task_entry(task).config_class()
    # The ROS 2 config's cell is the peg's geometry; the clip cell shares its arm, tool-centre point and
    # pan-tilt unit, so those fields carry over and the task's own config supplies the rest.
    shared = {f: getattr(cfg.cell, f) for f in dataclasses.asdict(cfg.cell) if f in cell.__dataclass_fields__}
    task_cfg = cell(**{**shared, "control_rate_hz": rate})
    return InsertionEnv(make_backend("ros2", cfg), task_cfg, task=task, include_efforts=efforts)
