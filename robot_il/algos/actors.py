"""Actors that roll out the current policy and stream episodes to a learner.

``ActorPool(n > 0)`` runs ``n`` processes (spawned, each with one torch thread);
each builds its own env, acts with the newest weights it has received, and
puts finished episodes on a shared queue. ``publish`` sends new weights; an
actor picks them up before its next episode. ``ActorPool(0)`` runs episodes in
the calling process instead: deterministic for a given seed, which the tests
and small runs rely on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEED_STRIDE = 1_000_003
"""Actor ``k``'s ``e``-th episode uses seed ``base + k * SEED_STRIDE + e``."""


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

    @property
    def steps(self) -> int:
        return len(self.actions)


def run_episode(env, policy, seed: int, deterministic: bool, generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """One episode with ``policy`` (a GaussianPolicy); returns states, actions, success."""
    obs, _ = env.reset(seed=seed)
    states, actions = [obs], []
    done, info = False, {}
    while not done:
        action = policy.act(obs, deterministic=deterministic, generator=generator)
        obs, _, terminated, truncated, info = env.step(action.astype(np.float32))
        applied = info.get("applied_action", action)
        states.append(obs)
        actions.append(np.asarray(applied, dtype=np.float32))
        done = terminated or truncated
    return np.asarray(states, dtype=np.float32), np.asarray(actions, dtype=np.float32), bool(info["is_success"])


def _actor_main(
    actor: int, factory: EnvFactory, net_spec: dict, weights_q, episodes_q, base_seed: int, first_episode: int
) -> None:
    import torch

    from robot_il.nn.policy import GaussianPolicy

    torch.set_num_threads(1)
    learner = os.getppid()
    # Do not wait at exit to flush episodes nobody will read (the learner has quit or died).
    episodes_q.cancel_join_thread()
    env = factory.make()
    policy = GaussianPolicy(**net_spec)
    version = -1
    gen = torch.Generator().manual_seed(base_seed + actor)
    episode = first_episode
    while os.getppid() == learner:  # a killed learner (even by SIGKILL) takes its actors with it
        try:  # newest weights; block only until the first arrive
            item = weights_q.get(timeout=5.0 if version < 0 else 0)
            while True:
                try:
                    item = weights_q.get_nowait()
                except queue.Empty:
                    break
            if item is None:
                return
            version, state = item
            policy.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
        except queue.Empty:
            if version < 0:
                continue  # no weights yet: check the learner is alive and wait again
        seed = base_seed + actor * SEED_STRIDE + episode
        states, actions, success = run_episode(env, policy, seed, deterministic=False, generator=gen)
        episodes_q.put(EpisodeData(states, actions, success, seed, actor, version))
        episode += 1


class ActorPool:
    def __init__(
        self,
        num_actors: int,
        factory: EnvFactory,
        net_spec: dict,
        base_seed: int,
        first_episode: list[int] | None = None,
    ) -> None:
        self.num_actors = num_actors
        self.factory, self.net_spec, self.base_seed = factory, net_spec, base_seed
        self.episodes_started = list(first_episode or [0] * max(num_actors, 1))
        self._procs: list[mp.Process] = []
        self._weights_qs: list[Any] = []
        self._local_env = None
        self._local_policy = None
        self._version = -1
        if num_actors > 0:
            ctx = mp.get_context("spawn")
            self._episodes_q = ctx.Queue()
            for k in range(num_actors):
                wq = ctx.Queue(maxsize=2)
                p = ctx.Process(
                    target=_actor_main,
                    args=(k, factory, net_spec, wq, self._episodes_q, base_seed, self.episodes_started[k]),
                    daemon=True,
                    name=f"robot-il-actor-{k}",
                )
                p.start()
                self._procs.append(p)
                self._weights_qs.append(wq)

    def publish(self, version: int, state_dict: dict) -> None:
        """Hand new policy weights to the actors (numpy arrays, so they pickle cheaply)."""
        self._version = version
        if self.num_actors == 0:
            import torch

            if self._local_policy is None:
                from robot_il.nn.policy import GaussianPolicy

                self._local_policy = GaussianPolicy(**self.net_spec)
            self._local_policy.load_state_dict({k: torch.as_tensor(v) for k, v in state_dict.items()})
            return
        payload = (version, {k: v.detach().cpu().numpy() for k, v in state_dict.items()})
        for wq in self._weights_qs:
            try:
                wq.put_nowait(payload)
            except queue.Full:  # the actor is behind: it will take the newest of what it finds
                try:
                    wq.get_nowait()
                except queue.Empty:
                    pass
                wq.put(payload)

    def collect(self, min_episodes: int, timeout: float | None = None) -> list[EpisodeData]:
        """Episodes finished since the last call: at least ``min_episodes`` (waiting if needed)."""
        if self.num_actors == 0:
            return [self._run_local() for _ in range(min_episodes)]
        out: list[EpisodeData] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                block = len(out) < min_episodes
                ep = self._episodes_q.get(timeout=1.0) if block else self._episodes_q.get_nowait()
            except queue.Empty:
                if len(out) >= min_episodes:
                    break
                self._check_alive()
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"no episode from the actors within {timeout} s") from None
                continue
            self.episodes_started[ep.actor] = max(
                self.episodes_started[ep.actor], ep.seed - self.base_seed - ep.actor * SEED_STRIDE + 1
            )
            out.append(ep)
        return out

    def _run_local(self) -> EpisodeData:
        import torch

        if self._local_env is None:
            self._local_env = self.factory.make()
            self._gen = torch.Generator().manual_seed(self.base_seed + self.episodes_started[0])
        seed = self.base_seed + self.episodes_started[0]
        self.episodes_started[0] += 1
        states, actions, success = run_episode(self._local_env, self._local_policy, seed, False, self._gen)
        return EpisodeData(states, actions, success, seed, 0, self._version)

    def _check_alive(self) -> None:
        dead = [p.name for p in self._procs if not p.is_alive()]
        if dead:
            raise RuntimeError(
                f"actor process(es) {', '.join(dead)} died; see their output above (a script that starts "
                "actors must guard its entry point with `if __name__ == '__main__':`)"
            )

    def close(self) -> None:
        for wq in self._weights_qs:
            try:
                wq.put_nowait(None)
            except queue.Full:
                pass
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self._procs.clear()
        if self._local_env is not None:
            self._local_env.close()
            self._local_env = None
