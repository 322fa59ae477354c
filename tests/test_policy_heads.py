"""The policy heads: the paper's Gaussian and the mixture that DAgger can use where the expert's law switches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robot_il.nn.policy import GaussianPolicy, MixturePolicy, make_policy


def _fit(policy: GaussianPolicy, x: torch.Tensor, y: torch.Tensor, steps: int = 1500) -> float:
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    for _ in range(steps):
        nll = -policy.log_prob(x, y).mean()
        optimizer.zero_grad()
        nll.backward()
        optimizer.step()
    return float(nll)


def test_a_mixture_head_keeps_both_of_an_experts_actions_where_a_gaussian_averages_them():
    """At one state the expert half the time backs off (-0.5) and half the time pushes (+0.5), as the peg
    expert's law does at nearly equal states by the hole. Maximum likelihood with one Gaussian acts near 0,
    which neither would do; the mixture acts with one of the two and samples both."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    low, high = np.full(2, -1.0), np.full(2, 1.0)
    x = torch.zeros(512, 3)
    y = torch.where(torch.rand(512, 1) < 0.5, 0.5, -0.5).expand(512, 2).clone()
    gaussian = GaussianPolicy(3, 2, low, high, hidden=(32, 32))
    mixture = MixturePolicy(3, 2, low, high, hidden=(32, 32), components=2)
    gaussian_nll, mixture_nll = _fit(gaussian, x, y), _fit(mixture, x, y)
    assert mixture_nll < gaussian_nll - 10, (mixture_nll, gaussian_nll)
    assert np.abs(gaussian.act(np.zeros(3))).max() < 0.2, "one Gaussian should average the two modes"
    mode = mixture.act(np.zeros(3))
    assert np.allclose(np.abs(mode), 0.5, atol=0.05) and mode[0] * mode[1] > 0, mode
    gen = torch.Generator().manual_seed(1)
    samples = np.array([mixture.act(np.zeros(3), deterministic=False, generator=gen) for _ in range(200)])
    pushing = (samples[:, 0] > 0).mean()
    assert 0.3 < pushing < 0.7, f"samples should come from both modes, {pushing:.0%} pushed"
    assert np.allclose(np.abs(samples), 0.5, atol=0.1)


def test_make_policy_gives_the_papers_gaussian_for_one_component_and_refuses_a_one_component_mixture():
    spec = dict(obs_dim=3, act_dim=2, action_low=np.full(2, -1.0), action_high=np.full(2, 1.0), hidden=(8,))
    assert type(make_policy(1, **spec)) is GaussianPolicy
    mixture = make_policy(4, **spec)
    assert isinstance(mixture, MixturePolicy) and mixture.components == 4
    mu, sigma = mixture(torch.zeros(5, 3))
    assert mu.shape == sigma.shape == (5, 2)
    assert mixture.log_prob(torch.zeros(5, 3), torch.zeros(5, 2)).shape == (5,)
    with pytest.raises(ValueError, match="at least 2 components"):
        MixturePolicy(**spec, components=1)
