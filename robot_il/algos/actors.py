"""Actors that roll out the policy for a learner, on a fixed data budget.

The learner *grants* episodes: ``grant(count, version, weights)`` hands out
``count`` permits, each an episode index ``e`` and the policy version to act
with. An actor takes one permit at a time and runs episode ``e`` with that
version's weights, the env seeded ``base_seed + e`` and the action noise drawn
from a generator seeded the same way; ``gather()`` waits for the granted
episodes and returns them in index order. So what a learner receives is a
function of its seed and config, never of machine load: a loaded machine makes
the run slower, not different. ``ActorPool(n > 0)`` runs ``n`` processes
(spawned, one torch thread each); ``ActorPool(0)`` runs the granted episodes in
the calling process, with the same seeds and weights, so both give the same data.
:func:`robot_il.algos.engines.open_actor_pool` picks the engine: this pool
(``local``) or :class:`robot_il.algos.ray_engine.RayActorPool` (``ray``, the
same interface on a Ray cluster, giving the same data).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


@dataclass(frozen=True)
class EnvFactory:
    """A picklable recipe for an env: a gymnasium id and its keyword arguments."""

    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self):
        import gymnasium

        import robot_il  # noqa: F401  (registers robot_il envs in a fresh process)

        return gymnasium.make(self.env_id, **self.kwargs)


@dataclass
class EpisodeData:
    states: np.ndarray
    """(T + 1, obs_dim) float32, the terminal state last."""
    actions: np.ndarray
    """(T, act_dim) float32, the actions actually applied."""
    success: bool
    seed: int
    actor: int
    policy_version: int
    index: int = -1
    """The episode's place in the learner's grants (-1: not a granted episode, e.g. one on the robot)."""

    @property
    def steps(self) -> int:
        return len(self.actions)


class Episode(NamedTuple):
    states: np.ndarray
    """(T + 1, obs_dim) float32, the terminal state last."""
    actions: np.ndarray
    """(T, act_dim) float32: the actions applied (by default), or those the policy chose."""
    success: bool
    end_reason: str
    """Why it ended (:func:`end_reason`)."""


def end_reason(terminated: bool, info: dict[str, Any]) -> str:
    """Why an episode ended: the env's ``end_reason``, or for envs without one success / left_workspace (any
    other termination) / time_limit."""
    if reason := info.get("end_reason"):
        return reason
    if info.get("is_success"):
        return "success"
    return "left_workspace" if terminated else "time_limit"


def play(
    env,
    policy,
    seed: int,
    deterministic: bool,
    generator,
    sigma=None,
    applied: bool = True,
) -> Episode:
    """One episode with ``policy`` (a GaussianPolicy), acting with its mean or sampling with ``generator`` (and a
    fixed ``sigma`` instead of σ(s), if given). ``applied``: record the actions the env reports it applied
    (``info['applied_action']``, after its clipping); else those the policy chose."""
    obs, _ = env.reset(seed=seed)
    states, actions = [obs], []
    done, terminated, info = False, False, {}
    while not done:
        action = policy.act(obs, deterministic=deterministic, generator=generator, sigma=sigma).astype(np.float32)
        obs, _, terminated, truncated, info = env.step(action)
        states.append(obs)
        actions.append(np.asarray(info.get("applied_action", action) if applied else action, dtype=np.float32))
        done = terminated or truncated
    success = bool(info.get("is_success", False))
    return Episode(
        np.asarray(states, dtype=np.float32),
        np.asarray(actions, dtype=np.float32),
        success,
        end_reason(terminated, info),
    )


def run_episode(env, policy, seed: int, deterministic: bool, generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`play`'s states, applied actions and success."""
    states, actions, success, _ = play(env, policy, seed, deterministic, generator)
    return states, actions, success


def _exit_when_orphaned(parent: int, period_s: float = 0.5) -> None:
    """Exit this process as soon as ``parent`` is gone, whatever the main thread is blocked in: a learner
    killed while it wrote a policy's weights leaves half a message in the pipe, and the read of the rest
    never returns (this process holds the pipe's write end too, so no end of file comes)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period_s)
        os._exit(0)

    threading.Thread(target=watch, name="robot-il-orphan-watch", daemon=True).start()


def _actor_main(
    actor: int, learner: int, factory: EnvFactory, net_spec: dict, weights_q, permits_q, episodes_q
) -> None:
    # ``learner`` is the pid the learner passed, not os.getppid() read here: a learner killed while this
    # process was still starting would otherwise leave it taking its new parent (init) for the learner.
    _exit_when_orphaned(learner)
    import torch

    from robot_il.nn.policy import make_policy

    torch.set_num_threads(1)
    # Do not wait at exit to flush episodes nobody will read (the learner has quit or died).
    episodes_q.cancel_join_thread()
    env = factory.make()
    policy = make_policy(**net_spec)
    version = -1
    while os.getppid() == learner:  # a killed learner (even by SIGKILL) takes its actors with it
        try:
            permit = permits_q.get(timeout=2.0)
        except queue.Empty:
            continue
        if permit is None:
            return
        index, seed, wanted = permit
        while version != wanted:  # weights arrive in version order, before the permits that need them
            try:
                item = weights_q.get(timeout=2.0)
            except queue.Empty:
                if os.getppid() != learner:
                    return
                continue
            if item is None:
                return
            version, state = item
            if version == wanted:
                policy.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
        gen = torch.Generator().manual_seed(seed)
        states, actions, success = run_episode(env, policy, seed, deterministic=False, generator=gen)
        episodes_q.put(EpisodeData(states, actions, success, seed, actor, version, index))


class ActorPool:
    """Runs granted episodes in ``num_actors`` processes (or in this process with 0); see the module's text."""

    def __init__(self, num_actors: int, factory: EnvFactory, net_spec: dict, base_seed: int) -> None:
        self.num_actors = num_actors
        self.factory, self.net_spec, self.base_seed = factory, net_spec, base_seed
        self._procs: list[mp.Process] = []
        self._weights_qs: list[Any] = []
        self._granted: list[tuple[int, int]] = []  # (index, version) not yet gathered
        self._weights: dict[int, dict] = {}  # version -> state dict, for the local runner
        self._published = -1
        self._local_env = None
        self._local_policy = None
        self._local_version = -1
        if num_actors > 0:
            ctx = mp.get_context("spawn")
            self._episodes_q = ctx.Queue()
            self._permits_q = ctx.Queue()
            for k in range(num_actors):
                wq = ctx.Queue()
                p = ctx.Process(
                    target=_actor_main,
                    args=(k, os.getpid(), factory, net_spec, wq, self._permits_q, self._episodes_q),
                    daemon=True,
                    name=f"robot-il-actor-{k}",
                )
                p.start()
                self._procs.append(p)
                self._weights_qs.append(wq)

    @property
    def outstanding(self) -> int:
        """Episodes granted and not yet gathered."""
        return len(self._granted)

    def grant(self, first: int, count: int, version: int, state_dict: dict) -> None:
        """Episodes ``first .. first + count - 1``, to be run with the policy ``state_dict`` of ``version``."""
        if version != self._published:
            weights = {k: v.detach().cpu().numpy().copy() for k, v in state_dict.items()}
            if self.num_actors == 0:
                self._weights = {version: weights}
            for wq in self._weights_qs:
                wq.put((version, weights))
            self._published = version
        for index in range(first, first + count):
            self._granted.append((index, version))
            if self.num_actors > 0:
                self._permits_q.put((index, self.base_seed + index, version))

    def gather(self, timeout: float | None = None) -> list[EpisodeData]:
        """Every granted episode, in index order (waiting for them)."""
        wanted = {index for index, _ in self._granted}
        if self.num_actors == 0:
            episodes = [self._run_local(index, version) for index, version in self._granted]
        else:
            episodes = self._receive(wanted, timeout)
        self._granted.clear()
        return sorted(episodes, key=lambda ep: ep.index)

    def _receive(self, wanted: set[int], timeout: float | None) -> list[EpisodeData]:
        out: list[EpisodeData] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(out) < len(wanted):
            try:
                ep = self._episodes_q.get(timeout=1.0)
            except queue.Empty:
                self._check_alive()
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"granted episodes not back from the actors within {timeout} s") from None
                continue
            if ep.index in wanted:
                out.append(ep)
        return out

    def _run_local(self, index: int, version: int) -> EpisodeData:
        import torch

        from robot_il.nn.policy import make_policy

        if self._local_env is None:
            self._local_env = self.factory.make()
            # Its initial weights are overwritten by the granted ones; drawing them must not move the learner's
            # generator, or a resumed run (which builds this again) would draw differently from an unbroken one.
            with torch.random.fork_rng(devices=[]):
                self._local_policy = make_policy(**self.net_spec)
        if self._local_version != version:
            self._local_policy.load_state_dict({k: torch.as_tensor(v) for k, v in self._weights[version].items()})
            self._local_version = version
        seed = self.base_seed + index
        gen = torch.Generator().manual_seed(seed)
        states, actions, success = run_episode(self._local_env, self._local_policy, seed, False, gen)
        return EpisodeData(states, actions, success, seed, 0, version, index)

    def _check_alive(self) -> None:
        dead = [p.name for p in self._procs if not p.is_alive()]
        if dead:
            raise RuntimeError(
                f"actor process(es) {', '.join(dead)} died; see their output above (a script that starts "
                "actors must guard its entry point with `if __name__ == '__main__':`)"
            )

    def close(self) -> None:
        for _ in self._procs:
            self._permits_q.put(None)
        for wq in self._weights_qs:
            wq.put(None)
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self._procs.clear()
        if self.num_actors > 0:
            # Data still buffered for an actor that died (a policy's weights) must not hold the interpreter at
            # exit: its queue's feeder thread would block forever on the full pipe nobody reads.
            for q in (*self._weights_qs, self._permits_q, self._episodes_q):
                q.cancel_join_thread()
                q.close()
            self._weights_qs.clear()
        if self._local_env is not None:
            self._local_env.close()
            self._local_env = None
