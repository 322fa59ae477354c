"""GPRIL practice on a robot: ``robot-il practice --policy runs/gpril --episodes N``.

GPRIL improves from its own self-supervised episodes. On hardware those
episodes are real motions, so each one runs through the deploy path (the
policy in its worker thread, every command through the :class:`SafetyFilter`,
the watchdogs armed), and between episodes a *safe reset* brings the arm back:

1. a protective stop of the last episode is released (an e-stop never is:
   practice pauses until an operator releases it and runs the command again);
2. the peg retreats along its own axis (Cartesian velocity through the
   Jacobian, still through the filter), which draws it out of the socket;
3. joint-space motion to the home pose, through the filter;
4. the backend's reset (on hardware: a check that the arm is home) and a new
   socket pose.

If the filter blocks the retreat or the way home (a peg jammed above the
force limit, say), a backend that resets itself (the simulator, a bridge with a
reset service) is reset; on hardware practice pauses with the reason and what
to do.

The learner trains between episodes on everything practised so far (as
GPRIL's asynchronous actors would, with one actor: the robot). Progress is
checkpointed after every episode into the practice directory (flows, policy,
optimisers, replay buffer, RNG states, the practice counters), each episode is
appended to ``practice.h5`` (the deploy log format), and running the same
command again continues where it stopped: a killed process loses at most the
episode it was in.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from tqdm import tqdm

from robot_il.algos.actors import EpisodeData
from robot_il.algos.gpril import CHECKPOINT_FILE, GPRIL, SOURCE_FILE, load_learner
from robot_il.checkpoint import POLICY_FILE, config_dict, save_atomic, save_policy
from robot_il.data.writer import DemoWriter
from robot_il.deploy.loop import SafeController, deploy_episode
from robot_il.deploy.run import DeploySession, KeyboardEStop, log_episode, open_session, trained_arm
from robot_il.errors import RobotILError
from robot_il.hal.base import Observation
from robot_il.policies import CheckpointPolicy

console = Console(stderr=True)

PRACTICE_LOG = "practice.h5"
PRACTICE_SUMMARY = "practice.json"


class PracticePaused(RobotILError):
    """Practice cannot go on without an operator (e-stop, or a stop the safe reset cannot clear)."""


@dataclass
class SafeResetConfig:
    retreat_distance: float = 0.08
    """How far the peg backs out along its own axis before the joint-space move home, m."""
    retreat_speed: float = 0.05
    """Tip speed of the retreat, m/s."""
    home_tolerance: float = 0.01
    """Largest joint error at which the arm counts as home, rad."""
    home_timeout: float = 60.0
    """Seconds (of robot time) the way home may take."""


def retreat(controller: SafeController, kinematics, cfg: SafeResetConfig) -> bool:
    """Back the peg out along its axis by ``cfg.retreat_distance``, every command through the filter.

    Returns False if the filter stopped the motion (a latched stop, the workspace box, a soft limit)."""
    period = controller.spec.control_period
    obs = controller.observe()
    start, direction, _ = kinematics.tip(obs.joint_positions)
    steps = int(np.ceil(cfg.retreat_distance / (cfg.retreat_speed * period))) + round(2.0 / period)
    for _ in range(steps):
        tip, _, jac = kinematics.tip(obs.joint_positions)
        if float(np.dot(start - tip, direction)) >= cfg.retreat_distance:
            controller.stop()
            return True
        twist = np.concatenate([-cfg.retreat_speed * direction, np.zeros(3)])  # keep the orientation
        damping = 1e-4 * np.eye(6)
        command = jac.T @ np.linalg.solve(jac @ jac.T + damping, twist)
        safe = controller.step(command, obs)
        if safe.stopped:
            controller.stop()
            return False
        obs = controller.observe()
    controller.stop()
    return False


@dataclass
class PracticeProgress:
    target: int
    done: int = 0
    successes: int = 0
    since_learning: int = 0
    episodes: list[dict[str, Any]] = field(default_factory=list)


class Practice:
    """N self-supervised GPRIL episodes on a backend, through the deploy path, resumable."""

    def __init__(
        self,
        session: DeploySession,
        learner: GPRIL,
        out: Path,
        progress: PracticeProgress,
        seed: int,
        max_steps: int | None = None,
        reset: SafeResetConfig | None = None,
    ) -> None:
        self.session, self.learner, self.out, self.progress = session, learner, out, progress
        self.seed, self.max_steps = seed, max_steps
        self.reset_cfg = reset or SafeResetConfig()
        self.writer = DemoWriter(out / PRACTICE_LOG, session.env.env_args())

    # One episode ----------------------------------------------------------------------------------

    def safe_reset(self, episode_seed: int) -> None:
        s, safety = self.session, self.session.safety
        if safety.estopped:
            raise PracticePaused(f"e-stop latched ({safety.latched}); release it, then run the same command again")
        if safety.latched:
            console.print(f"releasing the protective stop of the last episode ({safety.latched}) for the reset")
            safety.reset()
        retreat(s.controller, s.kinematics, self.reset_cfg)  # blocked short of its distance: still try home
        ok = safety.latched is None and s.controller.return_home(
            s.robot.spec.home_joint_positions, self.reset_cfg.home_tolerance, self.reset_cfg.home_timeout
        )
        if not ok:
            why = safety.latched or "the filter blocked the motion home"
            if not s.resets_itself():
                raise PracticePaused(
                    f"safe reset failed: {why}. Free the arm and bring it home by hand, then run the same "
                    "command again (progress is saved)"
                )
            console.print(f"[yellow]safe reset failed ({why}); the backend resets the cell itself[/]")
            safety.reset()
        s.robot.reset()
        s.task.randomize(s.env.backend.pan_tilt, np.random.default_rng(episode_seed))

    def episode(self) -> EpisodeData:
        k = self.progress.done
        episode_seed = self.seed + k
        self.safe_reset(episode_seed)
        gen = torch.Generator().manual_seed(self.seed * 7_919 + k)
        policy = self.learner.policy
        vector = self.session.observation_vector

        def act(obs: Observation) -> np.ndarray:
            return policy.act(vector(obs), deterministic=False, generator=gen)

        t0 = time.perf_counter()
        result = deploy_episode(self.session.controller, act, self.session.task, max_steps=self.max_steps)
        record = {
            "episode": k,
            "seed": episode_seed,
            "steps": result.steps,
            "success": result.success,
            "end_reason": result.end_reason,
            "interventions": dict(result.interventions),
            "policy_version": self.learner.counters["policy_version"],
            "wall_s": time.perf_counter() - t0,
        }
        log_episode(self.writer, self.session, result, {"source": "practice", "seed": episode_seed, "episode": k})
        self.progress.episodes.append(record)
        states = np.asarray([vector(o) for o in result.observations], dtype=np.float32)
        return EpisodeData(states, np.asarray(result.commands, dtype=np.float32), result.success, episode_seed, 0, 0)

    # The loop -------------------------------------------------------------------------------------

    def run(self, progress_bar: bool = True) -> dict[str, Any]:
        p = self.progress
        bar = tqdm(total=p.target, initial=p.done, desc="practice", unit="ep", disable=not progress_bar)
        try:
            while p.done < p.target:
                ep = self.episode()
                p.done += 1
                p.successes += int(ep.success)
                p.since_learning += 1
                self.learner.add_episodes([ep])
                # One GPRIL iteration after every episode: a robot's episodes are too dear to batch (the
                # simulator's episodes_per_iteration budget is for actors, which run ahead of the learner).
                if self.learner.learn():
                    p.since_learning = 0
                    save_policy(
                        self.out / POLICY_FILE,
                        self.learner.deployed,
                        algo="gpril",
                        config=config_dict(self.learner.cfg),
                        env_args=self.learner.env_args,
                    )
                self.save()
                bar.update(1)
                bar.set_postfix(success=f"{p.successes}/{p.done}", last=p.episodes[-1]["end_reason"])
                if self.session.safety.estopped:
                    raise PracticePaused(
                        f"e-stop latched ({self.session.safety.latched}) after {p.done} of {p.target} episodes; "
                        "release it, then run the same command again to continue"
                    )
        finally:
            bar.close()
            self.session.controller.stop()
        return self.summary()

    def save(self) -> None:
        state = self.learner.state_dict()
        state["practice"] = json.dumps(asdict(self.progress))
        save_atomic(state, self.out / CHECKPOINT_FILE)
        (self.out / PRACTICE_SUMMARY).write_text(json.dumps(self.summary(), indent=1))

    def summary(self) -> dict[str, Any]:
        p = self.progress
        totals: dict[str, int] = {}
        for e in p.episodes:
            for reason, count in e["interventions"].items():
                totals[reason] = totals.get(reason, 0) + count
        return {
            "target": p.target,
            "done": p.done,
            "successes": p.successes,
            "success_rate": p.successes / p.done if p.done else None,
            "learner": self.learner.counters,
            "interventions": totals,
            "episodes": p.episodes,
            "log": str(self.out / PRACTICE_LOG),
        }


def practice(
    policy_path: Path | str,
    *,
    episodes: int,
    out: Path | str | None = None,
    demos: Path | str | None = None,
    backend: str = "sim:peg",
    rate: float = 20.0,
    seed: int = 50_000,
    limits_path: Path | None = None,
    realtime: bool = False,
    estop_keys: bool = False,
    backend_config: Path | str | None = None,
    max_steps: int | None = None,
    progress_bar: bool = True,
    task: str = "peg",
    arm: str | None = None,
) -> dict[str, Any]:
    """Run (or continue) ``episodes`` practice episodes of the GPRIL run ``policy_path`` into ``out``.

    ``out`` (default ``<run>/practice``) becomes a GPRIL run directory itself: the
    improved ``policy.pt``, a ``checkpoint.pt`` to continue from, ``practice.h5`` and
    ``practice.json``. ``seed`` numbers the socket poses (episode k uses ``seed + k``).
    """
    run = Path(policy_path)
    out = Path(out) if out is not None else run / "practice"
    if episodes < 1:
        raise RobotILError("--practice: the number of practice episodes must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    resume = (out / CHECKPOINT_FILE).exists()
    if resume:
        learner = load_learner(out, demos)
        state = torch.load(out / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
        progress = PracticeProgress(**json.loads(state["practice"]))
        if episodes < progress.done:
            raise RobotILError(f"{out} already holds {progress.done} practice episodes; ask for more than that")
        progress.target = episodes
        console.print(f"resuming practice in {out}: {progress.done} of {episodes} episodes done")
    else:
        learner = load_learner(run, demos)
        progress = PracticeProgress(target=episodes)
        source = run / SOURCE_FILE
        if demos is not None:
            record = {"demos": str(Path(demos).resolve()), "state_only": learner.cfg.beta_pi == 0}
            (out / SOURCE_FILE).write_text(json.dumps(record))
        elif source.exists():
            shutil.copy(source, out / SOURCE_FILE)
    torch.set_num_threads(1)
    # The session commands zero and closes the backend on every way out.
    trained = CheckpointPolicy(out if (out / POLICY_FILE).exists() else run)
    arm = arm or trained_arm(trained)
    with open_session(backend, rate, limits_path, backend_config, realtime, task, arm) as session:
        trained.check_env(session.env)
        if estop_keys:
            KeyboardEStop(session.safety).start()
            console.print("e-stop: press Enter (or e + Enter); r + Enter releases it")
        runner = Practice(session, learner, out, progress, seed, max_steps)
        if not resume:
            runner.save()  # the starting point, so even a kill during the first episode resumes cleanly
        return runner.run(progress_bar)
