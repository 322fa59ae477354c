"""The Ray engine (robot_il.algos.ray_engine) on a local 2-CPU Ray cluster: the same data as the local engine
for the same seed, and a killed worker replaced while the learner goes on."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from robot_il.algos.actors import ActorPool, EnvFactory
from robot_il.algos.gpril import GPRIL, GPRILConfig, train_gpril
from robot_il.checkpoint import load_policy
from robot_il.errors import ConfigError
from robot_il.nn.policy import GaussianPolicy

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
from robot_il.algos.ray_engine import RayActorPool, RayVecEnv, init_ray  # noqa: E402  (needs ray)

FACTORY = EnvFactory("robot_il/PointReach-v0")
BOUND = np.full(2, 0.1, dtype=np.float32)
SPEC = {"obs_dim": 2, "act_dim": 2, "action_low": -BOUND, "action_high": BOUND, "hidden": (8,)}
TINY = GPRILConfig(
    beta_pi=0.0,
    flow_hidden=(16, 16),
    flow_steps=5,
    policy_steps=5,
    policy_hidden=(16, 16),
    generated_pool=256,
    replay_size=2000,
    iterations=4,
    episodes_per_iteration=3,
    eval_every=2,
    eval_episodes=2,
    num_actors=0,
)


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    """One local cluster of 2 CPUs for the module (starting Ray takes seconds)."""
    init_ray(num_cpus=2)
    yield
    ray.shutdown()


def _demos():
    from robot_il.algos.common import DemoData
    from robot_il.envs.toy import goal_states

    goals = goal_states(10, np.random.default_rng(0))
    return DemoData(states=[g[None] for g in goals], action_low=-BOUND, action_high=BOUND, dense=False)


def _grant_twice(pool) -> list:
    """Episodes 0-2 with policy version 1, then 3-6 with version 2."""
    torch.manual_seed(3)
    first, second = GaussianPolicy(**SPEC), GaussianPolicy(**SPEC)
    pool.grant(0, 3, 1, first.state_dict())
    episodes = pool.gather(timeout=60)
    pool.grant(3, 4, 2, second.state_dict())
    return episodes + pool.gather(timeout=60)


def _assert_same_episodes(expected: list, got: list) -> None:
    assert [ep.index for ep in got] == [ep.index for ep in expected], "episodes missing or out of order"
    assert [ep.seed for ep in got] == [ep.seed for ep in expected]
    assert [ep.policy_version for ep in got] == [ep.policy_version for ep in expected]
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a.states, b.states, err_msg=f"episode {a.index}: states differ")
        np.testing.assert_array_equal(a.actions, b.actions, err_msg=f"episode {a.index}: actions differ")


@pytest.fixture(scope="module")
def local_episodes() -> list:
    pool = ActorPool(0, FACTORY, SPEC, base_seed=5)
    try:
        return _grant_twice(pool)
    finally:
        pool.close()


def test_ray_actors_give_the_local_engines_episodes(local_episodes: list) -> None:
    """Two Ray actors run exactly the granted episodes, bit for bit as the learner's own process does."""
    pool = RayActorPool(2, FACTORY, SPEC, base_seed=5)
    try:
        episodes = _grant_twice(pool)
        assert pool.outstanding == 0
        assert {ep.actor for ep in episodes} == {0, 1}, "one of the two actors ran nothing"
    finally:
        pool.close()
    _assert_same_episodes(local_episodes, episodes)


def _wait_gone(pid: int, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} still alive {within_s} s after SIGKILL")


@pytest.mark.parametrize("how", ["sigkill", "ray.kill"])
def test_a_killed_actor_is_replaced_and_its_episodes_rerun(local_episodes: list, how: str) -> None:
    """Kill a worker (its process by SIGKILL, or through Ray as a lost node): the pool starts a new one, which
    runs the dead one's permits again with the same seeds, so the learner gets the same episodes."""
    pool = RayActorPool(2, FACTORY, SPEC, base_seed=5)
    try:
        pids = pool.worker_pids()
        if how == "sigkill":
            os.kill(pids[0], signal.SIGKILL)
            _wait_gone(pids[0])
        else:
            pool.kill_worker(0)
        episodes = _grant_twice(pool)
        assert pool.replaced == 1, f"{pool.replaced} workers replaced, expected 1"
        new_pids = pool.worker_pids()
        assert new_pids[0] != pids[0] and new_pids[1] == pids[1], f"pids {pids} -> {new_pids}"
    finally:
        pool.close()
    _assert_same_episodes(local_episodes, episodes)


def test_gpril_learner_survives_a_killed_actor() -> None:
    """A learner on Ray actors, one of them SIGKILLed mid-run: it goes on learning, to the very policy that
    the same seed gives on the local engine's actor processes. (Not its in-process actor: that one builds its
    policy from the learner's own torch RNG, which shifts the learner's later draws.)"""
    policies = []
    for engine in ("local", "ray"):
        learner = GPRIL(TINY, _demos(), FACTORY, {})
        pool = (
            ActorPool(1, FACTORY, learner.net_spec, 1)
            if engine == "local"
            else RayActorPool(2, FACTORY, learner.net_spec, 1)
        )
        try:
            for it in range(4):
                if engine == "ray" and it == 2:
                    os.kill(pool.worker_pids()[1], signal.SIGKILL)
                learner.iteration(pool)
            if engine == "ray":
                assert pool.replaced == 1, f"{pool.replaced} workers replaced, expected 1"
        finally:
            pool.close()
        assert learner.counters["episodes"] == 12 and learner.counters["iteration"] == 4, learner.counters
        policies.append(learner.policy.state_dict())
    for name, value in policies[0].items():
        assert torch.equal(policies[1][name], value), f"{name} differs between the engines"


def test_train_gpril_with_the_ray_engine_matches_the_local_engine(tmp_path: Path) -> None:
    """``engine="ray"`` end to end (config -> train_gpril): the same curve and policy as the local engine."""
    logs, policies = [], []
    engines = {
        "local": dataclasses.replace(TINY, num_actors=1),
        "ray": dataclasses.replace(TINY, engine="ray", num_actors=2),
    }
    for name, cfg in engines.items():
        train_gpril(_demos(), {}, FACTORY, tmp_path / name, cfg, progress=False)
        curve = json.loads((tmp_path / name / "train_log.json").read_text())["curve"]
        logs.append([{k: v for k, v in p.items() if k != "wall_s"} for p in curve])
        policies.append(load_policy(tmp_path / name / "policy.pt")[0].state_dict())
    assert logs[0] == logs[1], "the learning curves differ between the engines"
    for name, value in policies[0].items():
        assert torch.equal(policies[1][name], value), f"{name} differs between the engines"


def test_engine_is_checked() -> None:
    with pytest.raises(ConfigError, match="engine"):
        GPRILConfig(engine="spark")
    with pytest.raises(ConfigError, match="num_actors"):
        GPRILConfig(engine="ray", num_actors=0)


def test_ray_vec_env_steps_as_a_dummy_vec_env_and_replaces_a_dead_env() -> None:
    """GAIL's envs on Ray: the same observations as in-process envs for the same seeds and actions; an env
    whose worker is killed ends its episode as a truncation flagged ``worker_replaced`` and goes on."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    fns = [FACTORY.make] * 2
    rng = np.random.default_rng(0)
    actions = rng.uniform(-0.1, 0.1, size=(30, 2, 2)).astype(np.float32)
    ray_env, dummy = RayVecEnv(fns), DummyVecEnv(fns)
    try:
        for venv in (ray_env, dummy):
            venv.seed(7)
        obs_r, obs_d = ray_env.reset(), dummy.reset()
        np.testing.assert_array_equal(obs_r, obs_d)
        for a in actions:
            step_r, step_d = ray_env.step(a), dummy.step(a)
            for x, y in zip(step_r[:3], step_d[:3], strict=True):
                np.testing.assert_array_equal(x, y)
        last = step_r[0][1].copy()
        ray_env.kill_worker(1)
        obs, _, dones, infos = ray_env.step(actions[0])
        assert dones[1], "the replaced env's episode did not end"
        assert infos[1]["worker_replaced"] and infos[1]["TimeLimit.truncated"]
        np.testing.assert_array_equal(infos[1]["terminal_observation"], last)
        assert ray_env.replaced == 1
        obs, _, _, _ = ray_env.step(actions[1])
        assert np.all(np.isfinite(obs))
    finally:
        ray_env.close()
        dummy.close()
