"""The Gaussian policy over joint velocities shared by BC, GPRIL and GAIL (the GPRIL paper's)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Normalizer(nn.Module):
    """``(x - mean) / std`` with statistics fixed from the demonstrations."""

    def __init__(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).clone())
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).clone())

    @classmethod
    def fit(cls, x: np.ndarray, std_floor: float = 1e-3) -> Normalizer:
        """Statistics of the rows of ``x``; dimensions that barely vary get ``std_floor``."""
        x = np.asarray(x, dtype=np.float64)
        return cls(x.mean(axis=0), np.maximum(x.std(axis=0), std_floor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean


class ActionScaler(nn.Module):
    """Joint velocities (rad/s) to [-1, 1] and back, by the action bounds: ``a = center + half_range * z``.

    The bounds are buffers named ``action_center`` and ``action_half_range``, the names policy files
    store; the modules that take or give actions (the policy, GAIL's discriminator) are scalers, so
    their checkpoints keep those keys.
    """

    def __init__(self, action_low: np.ndarray, action_high: np.ndarray) -> None:
        super().__init__()
        low = torch.as_tensor(action_low, dtype=torch.float32)
        high = torch.as_tensor(action_high, dtype=torch.float32)
        self.register_buffer("action_center", (high + low) / 2)
        self.register_buffer("action_half_range", (high - low) / 2)

    def normalize(self, a: torch.Tensor) -> torch.Tensor:
        return (a - self.action_center) / self.action_half_range

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return self.action_center + self.action_half_range * z


class GaussianPolicy(ActionScaler):
    """π(a|s) = N(μ(s), diag σ(s)²) over joint velocities, rad/s.

    μ is squashed into the action bounds and σ into ``[sigma_min, sigma_max]``
    (the paper's (0.01, 0.1)); observations are normalised inside the module so
    a checkpoint carries everything needed to act.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        action_low: np.ndarray,
        action_high: np.ndarray,
        normalizer: Normalizer | None = None,
        hidden: Sequence[int] = (300, 200),
        sigma_min: float = 0.01,
        sigma_max: float = 0.1,
    ) -> None:
        super().__init__(action_low, action_high)
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got ({sigma_min}, {sigma_max})")
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        self.normalizer = normalizer or Normalizer(np.zeros(obs_dim), np.ones(obs_dim))
        self.body = mlp([obs_dim, *hidden, 2 * act_dim])

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of the action distribution."""
        out = self.body(self.normalizer(obs))
        raw_mu, raw_sigma = out[..., : self.act_dim], out[..., self.act_dim :]
        mu = self.denormalize(torch.tanh(raw_mu))
        sigma = self.sigma_min + (self.sigma_max - self.sigma_min) * torch.sigmoid(raw_sigma)
        return mu, sigma

    def distribution(self, obs: torch.Tensor) -> Independent:
        mu, sigma = self(obs)
        return Independent(Normal(mu, sigma), 1)

    def log_prob(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.distribution(obs).log_prob(act)

    @torch.no_grad()
    def act(
        self,
        obs: np.ndarray,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
        sigma: torch.Tensor | None = None,
    ) -> np.ndarray:
        """An action for one observation vector (float64 numpy in, float64 numpy out); sampled with a fixed
        ``sigma`` (act_dim,) instead of σ(s) if given (MGAIL's exploration noise)."""
        mu, own_sigma = self(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
        sigma = own_sigma if sigma is None else sigma
        if deterministic:
            return mu[0].double().numpy()
        noise = torch.randn(mu.shape, generator=generator)
        return (mu + sigma * noise)[0].double().numpy()

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws a ~ π(·|s) per observation (B, obs_dim) → (n, B, act_dim) for B > 1, (n, act_dim) for
        B = 1."""
        mu, sigma = self(obs)
        a = mu + sigma * torch.randn((n, *mu.shape), generator=generator)
        return a[:, 0] if len(obs) == 1 else a

    def l2_penalty(self) -> torch.Tensor:
        """Sum of squared weights (not biases), for the papers' L2 regularisation."""
        return sum((m.weight**2).sum() for m in self.body if isinstance(m, nn.Linear))


class MixturePolicy(GaussianPolicy):
    """π(a|s) = Σ_k w_k(s) N(μ_k(s), diag σ_k(s)²): a mixture density head over joint velocities, rad/s.

    For an expert whose law switches at nearly equal states (on peg: back off or insert), a single Gaussian
    fitted by likelihood averages the two actions into one neither would take; the mixture keeps both. Acting
    with the mean means the most probable component's mean (the mixture's own mean would average the modes
    again); sampling draws a component, then its Gaussian. Each μ_k and σ_k is bounded as in the parent.
    """

    def __init__(self, *args, components: int = 2, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if components < 2:
            raise ValueError(f"a mixture needs at least 2 components, got {components}")
        self.components = components
        # The parent's single-Gaussian body is replaced by one with the mixture's head (its weights were drawn
        # first, so a seed gives the mixture the same weights as the runs recorded with it).
        hidden = [m.out_features for m in self.body if isinstance(m, nn.Linear)][:-1]
        self.body = mlp([self.obs_dim, *hidden, components * (2 * self.act_dim + 1)])

    def parts(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixture logits (..., K), means and standard deviations (..., K, act_dim)."""
        out = self.body(self.normalizer(obs))
        k, a = self.components, self.act_dim
        logits = out[..., :k]
        rest = out[..., k:].reshape(*out.shape[:-1], k, 2 * a)
        mu = self.denormalize(torch.tanh(rest[..., :a]))
        sigma = self.sigma_min + (self.sigma_max - self.sigma_min) * torch.sigmoid(rest[..., a:])
        return logits, mu, sigma

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of the most probable component (the mode the policy acts with)."""
        logits, mu, sigma = self.parts(obs)
        index = logits.argmax(-1)[..., None, None].expand(*mu.shape[:-2], 1, self.act_dim)
        return mu.gather(-2, index).squeeze(-2), sigma.gather(-2, index).squeeze(-2)

    def distribution(self, obs: torch.Tensor) -> MixtureSameFamily:
        logits, mu, sigma = self.parts(obs)
        return MixtureSameFamily(Categorical(logits=logits), Independent(Normal(mu, sigma), 1))

    @torch.no_grad()
    def act(
        self,
        obs: np.ndarray,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
        sigma: torch.Tensor | None = None,
    ) -> np.ndarray:
        if deterministic:
            return super().act(obs, deterministic=True)
        logits, mu, own_sigma = self.parts(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
        k = int(torch.multinomial(torch.softmax(logits[0], -1), 1, generator=generator))
        sigma = own_sigma[0, k] if sigma is None else sigma
        noise = torch.randn(mu[0, k].shape, generator=generator)
        return (mu[0, k] + sigma * noise).double().numpy()

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws per observation (B, obs_dim) → (n, B, act_dim) for B > 1, (n, act_dim) for B = 1: a
        component each, then its Gaussian."""
        logits, mu, sigma = self.parts(obs)
        k = torch.multinomial(torch.softmax(logits, -1), n, replacement=True, generator=generator).T  # (n, B)
        index = k[..., None, None].expand(*k.shape, 1, self.act_dim)
        pick = lambda x: x.unsqueeze(0).expand(n, *x.shape).gather(-2, index).squeeze(-2)  # noqa: E731
        a = pick(mu) + pick(sigma) * torch.randn((n, *mu.shape[:-2], self.act_dim), generator=generator)
        return a[:, 0] if len(obs) == 1 else a


def make_policy(components: int = 1, **spec) -> GaussianPolicy:
    """The policy a config names: the paper's Gaussian (``components`` 1) or a :class:`MixturePolicy`."""
    return GaussianPolicy(**spec) if components == 1 else MixturePolicy(**spec, components=components)
