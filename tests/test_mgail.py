"""MGAIL: the forward model on a known linear system, the policy gradient through the model against finite
differences, real states in the forward pass, learning the toy task, resume, the CLI verb, refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_gail import DEMOS, TOY_FACTORY, toy_expert_demos

from robot_il.algos.common import DemoData
from robot_il.algos.mgail import (
    MGAIL,
    MGAILConfig,
    TrustRegion,
    sample_windows,
    train_mgail,
    unrolled_cost,
)
from robot_il.checkpoint import load_policy
from robot_il.cli import main as cli
from robot_il.errors import ConfigError
from robot_il.nn.discriminators import GAILDiscriminator
from robot_il.nn.forward_model import ForwardModel
from robot_il.nn.policy import GaussianPolicy, Normalizer
from robot_il.policies import act_mode

TOY_MGAIL = MGAILConfig(
    iterations=40,
    episodes_per_iteration=4,
    policy_hidden=(64, 64),
    sigma_max=0.05,
    model_lr=1e-3,
    model_steps=50,
    policy_lr=3e-4,
    bc_warm_start_steps=0,
    prep_iterations=0,
    noise_intensity=0.0,  # the policy's own σ(s), D's actions by the bounds: the toy's expert is at its bound
    disc_action_norm="bounds",
    eval_every=5,
    eval_episodes=20,
)

A = np.array([[1.0, 0.05, 0.0], [0.0, 0.95, 0.1], [0.02, 0.0, 0.9]])
B = np.array([[0.0, 0.1], [0.2, 0.0], [0.05, -0.1]])


def linear_episodes(n: int, steps: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """s' = A s + B a from random states and random actions in [-1, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = [rng.uniform(-1, 1, 3)]
        a = rng.uniform(-1, 1, (steps, 2))
        for t in range(steps):
            s.append(A @ s[-1] + B @ a[t])
        out.append((np.asarray(s, np.float32), a.astype(np.float32)))
    return out


def test_forward_model_learns_a_known_linear_system() -> None:
    torch.manual_seed(0)
    train, held_out = linear_episodes(40, 30, seed=0), linear_episodes(10, 30, seed=1)
    states = np.concatenate([s for s, _ in train])
    delta = np.concatenate([s[1:] - s[:-1] for s, _ in train])
    model = ForwardModel(3, 2, Normalizer.fit(states), delta.std(0), -np.ones(2), np.ones(2), hidden=32)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(1_500):
        loss = model.window_loss(*sample_windows(train, 64, 5, rng))
        opt.zero_grad()
        loss.backward()
        opt.step()
    s, a, mask = sample_windows(held_out, 256, 5, np.random.default_rng(2))
    one, five = model.errors(s, a, mask)
    change_1 = np.sqrt(((s[:, 1] - s[:, 0]) ** 2).mean(0).numpy())
    change_5 = np.sqrt(((s[:, 5] - s[:, 0]) ** 2).mean(0).numpy())
    # Against the change itself (what "the state stays" would get wrong): well under a tenth, and under a
    # fifth after five open-loop steps.
    assert np.all(one < 0.1 * change_1), (one, change_1)
    assert np.all(five < 0.2 * change_5), (five, change_5)


def _toy_nets() -> tuple[GaussianPolicy, ForwardModel, GAILDiscriminator]:
    torch.manual_seed(3)
    norm = Normalizer(np.zeros(3), np.ones(3))
    policy = GaussianPolicy(3, 2, -np.ones(2), np.ones(2), norm, hidden=(8,), sigma_min=0.05, sigma_max=0.3)
    model = ForwardModel(3, 2, Normalizer(np.zeros(3), np.ones(3)), np.full(3, 0.2), -np.ones(2), np.ones(2), 6)
    disc = GAILDiscriminator("sa", 3, 2, Normalizer(np.zeros(3), np.ones(3)), -np.ones(2), np.ones(2), (8,))
    for net in (policy, model, disc):
        net.double()
    return policy, model, disc


def test_policy_gradient_through_the_model_matches_finite_differences() -> None:
    policy, model, disc = _toy_nets()
    gen = torch.Generator().manual_seed(0)
    s0 = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    xi = torch.randn(4, 6, 2, generator=gen, dtype=torch.float64)
    params = list(policy.parameters())
    j = unrolled_cost(policy, model, disc, s0, xi, 0.9).sum()
    grads = torch.autograd.grad(j, params)
    flat_grad = torch.cat([g.flatten() for g in grads])
    direction = torch.randn(len(flat_grad), generator=gen, dtype=torch.float64)
    direction /= direction.norm()
    theta = torch.nn.utils.parameters_to_vector(params).detach()

    def cost_at(vec: torch.Tensor) -> float:
        torch.nn.utils.vector_to_parameters(vec, params)
        with torch.no_grad():
            return unrolled_cost(policy, model, disc, s0, xi, 0.9).sum().item()

    eps = 1e-6
    fd = (cost_at(theta + eps * direction) - cost_at(theta - eps * direction)) / (2 * eps)
    torch.nn.utils.vector_to_parameters(theta, params)
    assert abs(fd - float(flat_grad @ direction)) <= 1e-6 * max(1.0, abs(fd)), (fd, float(flat_grad @ direction))
    # The gradient reaches the policy through later states too (not only through each step's own action):
    # a one-step unroll gives a different gradient.
    one = torch.autograd.grad(unrolled_cost(policy, model, disc, s0, xi[:, :1], 0.9).sum(), params)
    assert not torch.allclose(torch.cat([g.flatten() for g in one]), flat_grad)


def test_forward_pass_follows_the_recorded_states_and_the_gradient_the_model() -> None:
    policy, model, disc = _toy_nets()
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(4, 4, 3, generator=gen, dtype=torch.float64)  # s_0 .. s_3, not what the model predicts
    xi = torch.randn(4, 3, 2, generator=gen, dtype=torch.float64)
    j = unrolled_cost(policy, model, disc, real[:, 0], xi, 0.9, real[:, 1:])
    with torch.no_grad():
        expected = torch.zeros(4, dtype=torch.float64)
        for t in range(3):
            mu, sigma = policy(real[:, t])
            a = mu + sigma * xi[:, t]
            expected += 0.9**t * torch.nn.functional.softplus(-disc(real[:, t], a, real[:, t]))
    assert torch.allclose(j, expected)
    grads = torch.autograd.grad(j.sum(), list(model.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)  # the gradient went through the model


@pytest.mark.parametrize("noise_std", [torch.tensor([0.1, 0.2], dtype=torch.float64), None])
def test_trust_region_scales_a_large_step_back_onto_the_bound(noise_std: torch.Tensor | None) -> None:
    policy, _, _ = _toy_nets()
    states = torch.randn(64, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    region = TrustRegion(policy, states, noise_std)
    start = [p.detach().clone() for p in policy.parameters()]
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.5 * torch.randn_like(p))
    end = [p.detach().clone() for p in policy.parameters()]
    assert region.kl() > 0.01
    stats = region.enforce(0.01)
    assert stats["policy/kl"] <= 0.01 and 0.0 < stats["policy/step_kept"] < 1.0
    assert region.kl() == pytest.approx(stats["policy/kl"])
    f = stats["policy/step_kept"]
    for p, a, b in zip(policy.parameters(), start, end, strict=True):
        assert torch.allclose(p, a + f * (b - a))  # on the line from the start to the step, not elsewhere
    # The KL is the Gaussians': with a fixed σ it is Σ (Δμ / σ)² / 2.
    if noise_std is not None:
        with torch.no_grad():
            mu_now, _ = policy(states)
            with_start = TrustRegion(policy, states, noise_std)
            for p, a in zip(policy.parameters(), start, strict=True):
                p.copy_(a)
            mu0, _ = policy(states)
        expected = (0.5 * ((mu_now - mu0) / noise_std) ** 2).sum(-1).mean()
        assert with_start.kl() == pytest.approx(float(expected))
    # A step inside the region is kept whole.
    small = TrustRegion(policy, states, noise_std)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(1e-5)
    assert small.enforce(0.01)["policy/step_kept"] == 1.0


def test_mgail_learns_the_reaching_task_from_scratch(tmp_path: Path) -> None:
    summary = train_mgail(toy_expert_demos(), TOY_FACTORY, tmp_path / "run", TOY_MGAIL, progress=False)
    curve = [(p["env_steps"], p["eval_success"]) for p in summary["curve"]]
    assert curve[0][1] <= 0.2, curve
    assert max(s for _, s in curve[-3:]) >= 0.8, curve
    errors = summary["curve"][-1]["model_error"]
    assert set(errors) == {"one_step", "10_step"} and errors["one_step"]["observation"] < 0.05
    policy, _ = load_policy(tmp_path / "run")
    assert policy.obs_dim == 2


def test_resumed_mgail_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    cfg = dataclasses.replace(TOY_MGAIL, iterations=4, eval_every=2, eval_episodes=3, model_steps=5)
    straight = train_mgail(toy_expert_demos(), TOY_FACTORY, tmp_path / "a", cfg, progress=False)
    train_mgail(toy_expert_demos(), TOY_FACTORY, tmp_path / "b", dataclasses.replace(cfg, iterations=2), False)
    # The config changed (iterations), so resume the same way `robot-il train` would: same config from the start.
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    state["config"] = json.dumps({**json.loads(state["config"]), "iterations": 4})
    torch.save(state, tmp_path / "b" / "checkpoint.pt")
    resumed = train_mgail(toy_expert_demos(), TOY_FACTORY, tmp_path / "b", cfg, progress=False)

    def strip(curve: list[dict]) -> list[dict]:
        return [{k: v for k, v in p.items() if k != "wall_s"} for p in curve]

    assert strip(resumed["curve"]) == strip(straight["curve"])
    a, _ = load_policy(tmp_path / "a")
    b, _ = load_policy(tmp_path / "b")
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_train_mgail_cli_on_peg_demos(tmp_path: Path) -> None:
    out = tmp_path / "mgail"
    args = ["--iterations", "1", "--episodes-per-iteration", "1", "--eval-episodes", "1", "--model-steps", "2"]
    args += ["--policy-steps", "1", "--bc-warm-start-steps", "10"]
    assert cli(["train", "mgail", "--demos", str(DEMOS), "--out", str(out), *args]) == 0
    log = json.loads((out / "train_log.json").read_text())
    assert log["algo"] == "mgail" and log["counters"]["episodes"] == 1
    assert (out / "policy.pt").exists()


def test_mgail_refuses_state_only_demos_and_bad_settings() -> None:
    with pytest.raises(ConfigError, match="actions"):
        MGAIL(TOY_MGAIL, DemoData.load(DEMOS, state_only=True), TOY_FACTORY)
    with pytest.raises(ConfigError, match="unroll"):
        MGAILConfig(unroll=0)
    with pytest.raises(SystemExit):
        cli(["train", "mgail", "--demos", str(DEMOS), "--out", "/tmp/x", "--state-only"])


def _recording(disc: GAILDiscriminator) -> GAILDiscriminator:
    """D, recording in ``disc.calls`` the (s, a) of each batch it reads: a D update's demonstrated batch first,
    then its generated one."""
    calls, inputs = [], disc.inputs

    def recorded(s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor) -> tuple[torch.Tensor, ...]:
        calls.append((s.detach().clone(), a.detach().clone()))
        return inputs(s, a, s_next)

    disc.inputs, disc.calls = recorded, calls
    return disc


def _recorded_discriminator_step(cfg: MGAILConfig, replay: list[tuple[np.ndarray, np.ndarray]]) -> GAILDiscriminator:
    learner = MGAIL(cfg, toy_expert_demos(), TOY_FACTORY)
    learner.replay = replay
    learner.disc = _recording(learner.disc)
    learner.train_discriminator(1)
    return learner.disc


def test_ds_generated_pairs_come_from_the_last_episodes_or_the_whole_replay() -> None:
    replay = [(np.full((6, 2), float(k), np.float32), np.zeros((5, 2), np.float32)) for k in (1, 2, 3)]
    last = _recorded_discriminator_step(dataclasses.replace(TOY_MGAIL, disc_recent_episodes=1), replay)
    assert set(last.calls[1][0].flatten().tolist()) == {3.0}
    whole = _recorded_discriminator_step(dataclasses.replace(TOY_MGAIL, disc_recent_episodes=0), replay)
    assert set(whole.calls[1][0].flatten().tolist()) == {1.0, 2.0, 3.0}


def test_demonstrated_actions_reach_d_with_the_exploration_noise_only_if_asked() -> None:
    replay = [(np.zeros((6, 2), np.float32), np.zeros((5, 2), np.float32))]
    base = dataclasses.replace(TOY_MGAIL, noise_intensity=6.0, disc_batch=4096)
    demos = toy_expert_demos()
    for noisy in (False, True):
        rec = _recorded_discriminator_step(dataclasses.replace(base, disc_demo_noise=noisy), replay)
        s, a = rec.calls[0]
        learner = MGAIL(base, demos, TOY_FACTORY)
        # the clean demonstrated action of each drawn state: nearest demonstrated state (rows are distinct)
        idx = torch.cdist(s, learner.expert_s).argmin(1)
        residual = a - learner.expert_a[idx]
        if noisy:
            assert torch.allclose(residual.std(0), learner.noise_std, rtol=0.1)
        else:
            assert torch.equal(residual, torch.zeros_like(residual))


def test_with_a_fixed_noise_the_saved_policy_samples_with_that_noise(tmp_path: Path) -> None:
    cfg = dataclasses.replace(
        TOY_MGAIL, noise_intensity=1.0, sample_actions=True, iterations=1, eval_every=1, eval_episodes=1
    )
    train_mgail(toy_expert_demos(), TOY_FACTORY, tmp_path / "run", cfg, progress=False)
    learner = MGAIL(cfg, toy_expert_demos(), TOY_FACTORY)
    policy, meta = load_policy(tmp_path / "run")
    _, sigma = policy(torch.randn(50, 2))
    expected = learner.noise_std.clamp(cfg.sigma_min, cfg.sigma_max)
    assert torch.allclose(sigma, expected.expand_as(sigma), atol=1e-5)
    assert act_mode(meta) == "sample"


def test_prep_iterations_take_prep_disc_steps_d_updates_and_later_ones_disc_steps() -> None:
    cfg = dataclasses.replace(
        TOY_MGAIL, prep_iterations=1, prep_disc_steps=3, disc_steps=1, episodes_per_iteration=1, model_steps=1
    )
    learner = MGAIL(cfg, toy_expert_demos(), TOY_FACTORY)
    learner.disc = _recording(learner.disc)
    calls = []
    for _ in range(2):
        before = len(learner.disc.calls)
        learner.iteration()
        calls.append(len(learner.disc.calls) - before)
    # each D update scores a demonstrated and a generated batch; the policy's unroll scores T more after prep
    assert calls == [2 * 3, 2 * 1 + cfg.policy_steps * cfg.unroll]


def test_a_capped_d_skips_updates_on_batches_it_already_tells_apart() -> None:
    """Generated pairs far from every demonstrated one: D learns to separate them, then with
    ``disc_max_accuracy`` its weights stop moving while without the cap they go on."""
    replay = [(np.full((41, 2), 5.0, np.float32), np.full((40, 2), 0.5, np.float32))]
    runs = {}
    for cap in (0.0, 0.9):
        learner = MGAIL(dataclasses.replace(TOY_MGAIL, disc_max_accuracy=cap), toy_expert_demos(), TOY_FACTORY)
        learner.replay = replay
        first = learner.train_discriminator(60)
        weights = [p.detach().clone() for p in learner.disc.parameters()]
        then = learner.train_discriminator(20)
        moved = any(not torch.equal(w, p) for w, p in zip(weights, learner.disc.parameters(), strict=True))
        runs[cap] = (first, then, moved)
    assert runs[0.0][2] and "disc/skipped" not in runs[0.0][1]
    first, then, moved = runs[0.9]
    assert first["disc/skipped"] > 0 and then["disc/skipped"] == 20 and not moved
    assert then["disc/accuracy"] >= 0.9
