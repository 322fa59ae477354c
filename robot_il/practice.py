"""GPRIL practice on a robot: ``robot-il practice --policy runs/gpril --episodes N``.

GPRIL improves from its own self-supervised episodes. On hardware those
episodes are real motions, so each one runs on the deploy path's one control
loop (:func:`robot_il.deploy.loop.control_loop`: the policy in its worker
thread, every command through the :class:`SafetyFilter`, the watchdogs armed),
and between episodes the one safe reset
(:meth:`robot_il.deploy.run.DeploySession.safe_reset`) brings the arm back:
release a protective stop, retreat along the tool's axis, go home through the
filter, reset the backend, set a new socket pose. Practice drives the arm home
even where the backend could reset the cell itself, so the simulator exercises
the path hardware takes. An e-stop ends practice (exit code 4); a reset the
filter blocks on hardware pauses it for a person (exit code 3). Either way,
running the same command again continues.

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
from robot_il.deploy.loop import control_loop
from robot_il.deploy.run import DeploySession, KeyboardEStop, SafeResetConfig, open_session, trained_arm
from robot_il.errors import EStopError, OperatorNeeded, RobotILError
from robot_il.hal.base import Observation
from robot_il.policies import CheckpointPolicy

console = Console(stderr=True)

PRACTICE_LOG = "practice.h5"
PRACTICE_SUMMARY = "practice.json"


class PracticePaused(OperatorNeeded):
    """Practice cannot go on without an operator (a stop the safe reset cannot clear); progress is saved."""


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

    def episode(self) -> EpisodeData:
        k = self.progress.done
        episode_seed = self.seed + k
        try:
            self.session.safe_reset(episode_seed, drive=True, cfg=self.reset_cfg)
        except OperatorNeeded as err:
            raise PracticePaused(f"{err} (progress is saved)") from None
        gen = torch.Generator().manual_seed(self.seed * 7_919 + k)
        policy = self.learner.policy
        vector = self.session.observation_vector

        def act(obs: Observation) -> np.ndarray:
            return policy.act(vector(obs), deterministic=False, generator=gen)

        t0 = time.perf_counter()
        traj = control_loop(self.session.controller, act, self.session.task, max_steps=self.max_steps)
        record = {
            "episode": k,
            "seed": episode_seed,
            "steps": traj.steps,
            "success": traj.success,
            "end_reason": traj.end_reason,
            "interventions": dict(traj.interventions),
            "policy_version": self.learner.counters["policy_version"],
            "wall_s": time.perf_counter() - t0,
        }
        self.session.write(self.writer, traj, {"source": "practice", "seed": episode_seed, "episode": k})
        self.progress.episodes.append(record)
        states = np.asarray([vector(o) for o in traj.observations], dtype=np.float32)
        return EpisodeData(states, np.asarray(traj.commands, dtype=np.float32), traj.success, episode_seed, 0, 0)

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
                    raise EStopError(
                        f"e-stop ({self.session.safety.latched}) after {p.done} of {p.target} practice episodes; "
                        "release it, then run the same command again to continue (progress is saved)"
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
    force_sensor: bool = True,
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
    with open_session(backend, rate, limits_path, backend_config, realtime, task, arm, force_sensor) as session:
        trained.check_env(session.env)
        if estop_keys:
            KeyboardEStop(session.safety).start()
            console.print("e-stop: press Enter (or e + Enter); r + Enter releases it")
        runner = Practice(session, learner, out, progress, seed, max_steps)
        if not resume:
            runner.save()  # the starting point, so even a kill during the first episode resumes cleanly
        return runner.run(progress_bar)
