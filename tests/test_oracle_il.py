"""Learning with an interactive oracle: simulator save/restore, the expert's cost-to-go, DAgger, AggreVaTeD."""

from __future__ import annotations

import copy
import pickle

import gymnasium
import numpy as np
import pytest
import torch

from robot_il.algos.actors import EnvFactory
from robot_il.algos.aggrevated import (
    AggreVaTeD,
    AggreVaTeDConfig,
    conjugate_gradient,
    leave_one_out_advantages,
    train_aggrevated,
)
from robot_il.algos.common import DemoData
from robot_il.algos.dagger import DAggerConfig, train_dagger
from robot_il.algos.oracle import cost_to_go, require_oracle
from robot_il.checkpoint import load_policy
from robot_il.envs.insertion import InsertionEnv
from robot_il.envs.toy import ChainEnv, PointReachEnv
from robot_il.errors import ConfigError

TOY_FACTORY = EnvFactory("robot_il/PointReach-v0")
BOUND = np.full(2, 0.1, dtype=np.float32)


# Simulator state -------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["peg", "clip"])
def test_restoring_the_sim_and_replaying_the_actions_gives_the_same_trajectory_bit_for_bit(task):
    env = InsertionEnv(include_efforts=True, task=task)
    rng = np.random.default_rng(0)
    env.reset(seed=3)
    for _ in range(15):  # somewhere mid-episode, moving
        env.step(rng.uniform(-0.3, 0.3, 6).astype(np.float32))
    saved = pickle.loads(pickle.dumps(env.get_state()))  # a saved state crosses processes
    actions = rng.uniform(-0.3, 0.3, (40, 6)).astype(np.float32)

    def replay():
        out = [env.step(a) for a in actions]
        return np.stack([o[0] for o in out]), [o[4]["time"] for o in out]

    first, t1 = replay()
    env.reset(seed=11)  # another episode (another socket pose) in between
    env.step(np.full(6, 0.2, dtype=np.float32))
    restored = env.set_state(saved)
    np.testing.assert_array_equal(
        restored,
        np.concatenate(
            [
                saved.observation.joint_positions,
                saved.observation.joint_velocities,
                saved.observation.ee_position,
                saved.observation.socket_quat,
                saved.observation.joint_efforts,
            ]
        ).astype(np.float32),
    )
    second, t2 = replay()
    assert np.array_equal(first, second)  # bit for bit, efforts included
    assert t1 == t2
    env.close()


def test_a_state_from_another_cell_is_refused_by_name():
    env = InsertionEnv()
    env.reset(seed=0)
    saved = env.get_state()
    bad = type(saved.backend)(saved.backend.physics[:-3], saved.backend.ptu_target, (1, 1, 1))
    with pytest.raises(ValueError, match="another model"):
        env.unwrapped.backend.robot.set_state(bad)
    env.close()


def test_an_env_without_the_oracle_interface_is_refused_with_what_it_lacks():
    class NoOracle(gymnasium.Env):
        observation_space = gymnasium.spaces.Box(-1, 1, (1,))
        action_space = gymnasium.spaces.Box(-1, 1, (1,))

    with pytest.raises(ConfigError, match="expert_action, get_state, set_state"):
        require_oracle(NoOracle(), "DAgger")


# The expert's cost-to-go -----------------------------------------------------------------------------


def _chain_at(x: float, t: int) -> tuple[ChainEnv, tuple[float, int]]:
    env = ChainEnv()
    env.reset(seed=0)
    env.set_state((x, t))
    return env, env.get_state()


@pytest.mark.parametrize("x", [0.0, 2.5, 7.25])
@pytest.mark.parametrize("a", [-1.0, -0.4, 0.0, 0.3, 1.0])
def test_cost_to_go_is_the_true_one_on_a_chain(x, a):
    env, state = _chain_at(x, 0)
    q = cost_to_go(env, state, np.array([a]), failure_penalty=50.0)
    assert q.success
    # Take a, then the expert steps +1 to the goal at 10: 1 + (10 - x - a) steps, the last one in part.
    assert q.cost == pytest.approx(1 + (ChainEnv.goal - x - a), abs=1e-6)  # a is sent as float32
    assert q.env_steps == 1 + q.expert_queries


def test_cost_to_go_of_a_failure_is_the_rest_of_the_episode_plus_the_penalty():
    env, state = _chain_at(-1.5, 4)  # -1.5 - 1 leaves the workspace (below -2)
    q = cost_to_go(env, state, np.array([-1.0]), failure_penalty=50.0)
    assert not q.success and q.cost == ChainEnv.horizon - 4 + 50.0
    env, state = _chain_at(0.0, 25)  # 10 steps to go, 5 left: the time limit ends it
    q = cost_to_go(env, state, np.array([1.0]), failure_penalty=50.0)
    assert not q.success and q.cost == 5 + 50.0
    # The same state, restored, gives the same answer: the estimate does not depend on what ran before.
    assert cost_to_go(env, state, np.array([1.0]), failure_penalty=50.0) == q


def test_the_peg_cost_to_go_of_the_experts_own_action_is_the_rest_of_its_episode():
    """Q*(s, π*(s)) at step 20 of an expert episode that succeeds at step T is T - 20, less the part of the
    last step after the tip crossed the success depth."""
    env = InsertionEnv()
    env.reset(seed=5)
    saved = None
    for t in range(1000):
        if t == 20:
            saved, action = env.get_state(), env.expert_action()
        *_, terminated, truncated, info = env.step(env.expert_action())
        if terminated or truncated:
            break
    assert info["is_success"]
    total = t + 1
    q = cost_to_go(env, saved, action, failure_penalty=100.0)
    assert q.success and total - 20 - 1 < q.cost <= total - 20
    assert q.env_steps == total - 20
    assert cost_to_go(env, saved, action, failure_penalty=100.0) == q  # restored: the same estimate
    env.close()


def test_leave_one_out_advantages_sum_to_zero_per_state_and_rank_the_actions():
    costs = np.array([[10.0, 12.0], [5.0, 5.0], [1.0, 4.0]])
    adv = leave_one_out_advantages(costs)
    np.testing.assert_allclose(adv, [[-2, 2], [0, 0], [-3, 3]])
    three = leave_one_out_advantages(np.array([[3.0, 6.0, 9.0]]))
    np.testing.assert_allclose(three, [[-4.5, 0.0, 4.5]])


def test_conjugate_gradient_solves_a_positive_definite_system():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(8, 8))
    a = torch.as_tensor(m @ m.T + 8 * np.eye(8))
    b = torch.as_tensor(rng.normal(size=8))
    x = conjugate_gradient(lambda v: a @ v, b, iters=20)
    torch.testing.assert_close(a @ x, b, atol=1e-4, rtol=0)  # stops once |r|² < 1e-10


# DAgger ----------------------------------------------------------------------------------------------


def _one_demo() -> DemoData:
    """One expert demo from the far left on the axis: BC sees only states on y = 0."""
    env = PointReachEnv()
    env.reset(seed=0)
    env.set_state((np.array([-1.0, 0.0]), 0))
    states, actions = [env.get_state()[0].astype(np.float32)], []
    done = False
    while not done:
        a = env.expert_action()
        obs, _, term, trunc, _ = env.step(a)
        states.append(obs)
        actions.append(a)
        done = term or trunc
    return DemoData(
        [np.asarray(states)], -BOUND, BOUND, [np.asarray(actions)], dense=True,
        env_args={"env_name": "robot_il/PointReach-v0"},
    )  # fmt: skip


DAGGER_TOY = DAggerConfig(
    rounds=4, episodes_per_round=10, bc_steps=1500, train_steps=1500, lr=1e-3, l2=0.0, hidden=(64, 64),
    sigma_max=0.05, eval_episodes=40, eval_seed=500,
)  # fmt: skip


def test_dagger_fixes_bcs_compounding_error_on_a_task_with_a_known_answer(tmp_path):
    """The expert heads straight for the goal from anywhere (success 100%); one demo along y = 0 teaches
    BC to drive right, which misses the goal from most starts. DAgger's labels at the learner's own
    states teach it to head for the goal."""
    torch.set_num_threads(1)
    summary = train_dagger(_one_demo(), TOY_FACTORY, tmp_path / "dagger", DAGGER_TOY, progress=False)
    curve = summary["curve"]
    assert [p["round"] for p in curve] == [0, 1, 2, 3, 4]
    bc, final = curve[0]["eval_success"], curve[-1]["eval_success"]
    assert bc <= 0.5, f"BC on one demo should fail from most starts, got {bc}"
    assert final >= 0.9, f"DAgger should reach the expert's answer, got {final} (curve {curve})"
    # Bookkeeping: every visited state was labelled once; β halves each round from 0.5.
    assert [p["beta"] for p in curve] == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert curve[-1]["expert_queries"] == curve[-1]["env_steps"] > 0
    assert summary["counters"]["episodes"] == 40
    _policy, meta = load_policy(tmp_path / "dagger" / "policy.pt")
    assert meta["algo"] == "dagger"


def test_dagger_is_a_function_of_its_seed_and_a_killed_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    from robot_il.algos.common import RunDir

    cfg = DAggerConfig(**{**DAGGER_TOY.__dict__, "rounds": 2, "bc_steps": 200, "train_steps": 200, "eval_episodes": 5})
    whole = train_dagger(_one_demo(), TOY_FACTORY, tmp_path / "whole", cfg, progress=False)

    evaluate = RunDir.evaluate
    calls = []

    def killed_in_round_2(self, policy, index=0):
        calls.append(1)
        if len(calls) == 3:  # round 0 and round 1 are saved; round 2 dies before its checkpoint
            raise KeyboardInterrupt
        return evaluate(self, policy, index)

    monkeypatch.setattr(RunDir, "evaluate", killed_in_round_2)
    with pytest.raises(KeyboardInterrupt):
        train_dagger(_one_demo(), TOY_FACTORY, tmp_path / "killed", cfg, progress=False)
    monkeypatch.setattr(RunDir, "evaluate", evaluate)
    resumed = train_dagger(_one_demo(), TOY_FACTORY, tmp_path / "killed", cfg, progress=False)
    strip = lambda c: [{k: v for k, v in p.items() if k != "wall_s"} for p in c]  # noqa: E731
    assert strip(whole["curve"]) == strip(resumed["curve"])


def test_dagger_refuses_demos_without_actions(tmp_path):
    demo = _one_demo()
    state_only = DemoData(demo.states, demo.action_low, demo.action_high, None, path="kinesthetic.h5")
    with pytest.raises(Exception, match=r"kinesthetic\.h5.*no"):
        train_dagger(state_only, TOY_FACTORY, tmp_path / "x", DAGGER_TOY, progress=False)


# AggreVaTeD ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("update", "components"), [("regular", 1), ("natural", 1), ("regular", 2), ("natural", 2)])
def test_an_aggrevated_step_lowers_the_experts_cost_and_keeps_the_kl_bound(update, components):
    """From a policy that dawdles (BC on a few steps of a slowed expert), one update on Q* moves the
    sampled actions' probability toward the cheaper ones: the surrogate loss falls, the KL stays ≤ δ. With a
    mixture head the KL is sampled; the closed form is not available, so the bound is checked on fresh draws."""
    torch.set_num_threads(1)
    demo = _one_demo()
    slow = DemoData(demo.states, demo.action_low, demo.action_high, [0.3 * demo.actions[0]], dense=True)
    cfg = AggreVaTeDConfig(
        episodes_per_iteration=4, states_per_episode=6, actions_per_state=4, bc_steps=300, bc_lr=1e-3,
        hidden=(32, 32), update=update, max_kl=0.01, seed=1, policy_components=components,
    )  # fmt: skip
    learner = AggreVaTeD(cfg, slow, TOY_FACTORY)
    learner.warm_start()
    batch = learner.collect()
    assert batch["advantages"].shape == (24, 4)
    np.testing.assert_allclose(batch["advantages"].sum(axis=1), 0, atol=1e-9)
    states = torch.as_tensor(batch["states"])
    before = copy.deepcopy(learner.policy)
    stats = learner.update(batch)
    assert stats["loss"] < 0 and 0 < stats["kl"] <= cfg.max_kl
    # an independent check of the step's size: log-ratio of 4 000 fresh draws per state of the last policy
    x = before.sample(states, 4000, torch.Generator().manual_seed(9))
    with torch.no_grad():
        kl = (before.distribution(states).log_prob(x) - learner.policy.distribution(states).log_prob(x)).mean()
    assert 0 < kl.item() <= 1.5 * cfg.max_kl, kl.item()
    assert learner.counters["q_estimates"] == 96
    learner.close()


def test_aggrevated_improves_a_weak_policy_on_the_toy_task(tmp_path):
    torch.set_num_threads(1)
    demo = _one_demo()
    cfg = AggreVaTeDConfig(
        iterations=6, episodes_per_iteration=6, states_per_episode=8, actions_per_state=2, bc_steps=1500,
        bc_lr=1e-3, l2=0.0, hidden=(64, 64), sigma_max=0.05, update="regular", max_kl=0.05, eval_every=3,
        eval_episodes=40, eval_seed=500, failure_penalty=20.0,
    )  # fmt: skip
    summary = train_aggrevated(demo, TOY_FACTORY, tmp_path / "agg", cfg, progress=False)
    curve = summary["curve"]
    assert [p["iteration"] for p in curve] == [0, 3, 6]
    assert curve[-1]["eval_success"] >= curve[0]["eval_success"] + 0.3, curve  # measured: 0.125 -> 0.625
    assert curve[-1]["expert_queries"] > 0 and curve[-1]["env_steps"] > curve[-1]["episodes"]
