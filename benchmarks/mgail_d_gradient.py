"""Does D's action gradient point to the expert? A diagnostic for MGAIL's discriminator (issue #18).

MGAIL moves the policy's action along ∇ₐ log D(s, a). That is useful only where
it points from the policy's action toward the expert's. In simulation the
task's scripted expert can be asked for its action at the policy's own states,
so the direction can be checked:

1. BC-start the policy (as MGAIL's ``fast``), roll it out with MGAIL's fixed
   exploration noise, and ask the expert for its action at every visited state;
2. train D, in each variant below, as MGAIL does (BCE against the demonstrated
   pairs) on the first episodes;
3. on held-out episodes' states, at the policy's mean action μ(s), measure the
   cosine between ∇ₐ log D(s, μ(s)) and a_E(s) − μ(s), both in units of the
   demonstrated actions' spread, and D's accuracy.

A cosine near 0 means D's gradient is no better than a random direction for
the policy; near 1, it is the expert's correction.

    python benchmarks/mgail_d_gradient.py --seeds 0 1 2

Output: ``benchmarks/results/mgail_d_gradient.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from robot_il.algos.common import DemoData
from robot_il.algos.gail import Discriminator, discriminator_step
from robot_il.algos.mgail import MGAIL, PRESETS
from robot_il.algos.oracle import expert_label
from robot_il.nn.policy import Normalizer

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"

# name: (state fields D sees, actions of the demos perturbed by the policy's noise, dropout, gradient penalty)
VARIANTS = {
    "as_built": (("joint_positions", "joint_velocities", "ee_position", "socket_quat"), False, 0.0, 0.0),
    "dropout_0.25": (("joint_positions", "joint_velocities", "ee_position", "socket_quat"), False, 0.25, 0.0),
    "grad_penalty_10": (("joint_positions", "joint_velocities", "ee_position", "socket_quat"), False, 0.0, 10.0),
    "no_socket": (("joint_positions", "joint_velocities", "ee_position"), False, 0.0, 0.0),
    "noisy_demo_actions": (("joint_positions", "joint_velocities", "ee_position", "socket_quat"), True, 0.0, 0.0),
    "no_velocities": (("joint_positions", "ee_position", "socket_quat"), False, 0.0, 0.0),
    "no_velocities_noisy_demo_actions": (("joint_positions", "ee_position", "socket_quat"), True, 0.0, 0.0),
}


class MaskedDiscriminator(Discriminator):
    """GAIL's D(s, a) with some state fields zeroed after normalisation (so D cannot use them) and optional
    dropout before the last layer (the authors' keep probability 0.75 is dropout 0.25)."""

    def __init__(self, mask: torch.Tensor, dropout: float, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.register_buffer("mask", mask)
        if dropout > 0:
            layers = list(self.net)
            self.net = torch.nn.Sequential(*layers[:-1], torch.nn.Dropout(dropout), layers[-1])

    def features(self, s, a, s_next):
        return torch.cat([self.state_norm(s) * self.mask, self.normalize(a)], dim=-1)


def collect(learner: MGAIL, episodes: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Episodes of the learner's policy with its fixed noise; the expert's label at every state."""
    env, out = learner.env, []
    gen = torch.Generator().manual_seed(seed)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed * 1000 + i)
        states, actions, labels, done = [], [], [], False
        while not done:
            labels.append(expert_label(env.unwrapped))
            with torch.no_grad():
                mu, _ = learner.policy(torch.as_tensor(obs).unsqueeze(0))
            action = (mu[0] + learner.noise_std * torch.randn(mu.shape[1], generator=gen)).numpy()
            states.append(obs)
            actions.append(action)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        out.append(
            {
                "s": np.asarray(states, np.float32),
                "a": np.asarray(actions, np.float32),
                "label": np.asarray(labels, np.float32),
            }
        )
    return out


def measure(learner: MGAIL, train, test, variant, steps: int, seed: int) -> dict[str, float]:
    fields, noisy, dropout, penalty = VARIANTS[variant]
    torch.manual_seed(seed)
    mask = torch.zeros(learner.policy.obs_dim)
    for field, start, stop, _ in learner.layout:
        if field in fields:
            mask[start:stop] = 1.0
    d0 = learner.disc
    disc = MaskedDiscriminator(
        mask,
        dropout,
        "sa",
        mask.numel(),
        learner.policy.act_dim,
        Normalizer(d0.state_norm.mean, d0.state_norm.std),
        (d0.action_center - d0.action_half_range).numpy(),
        (d0.action_center + d0.action_half_range).numpy(),
        learner.cfg.disc_hidden,
    )
    opt = torch.optim.Adam(disc.parameters(), lr=learner.cfg.disc_lr)
    s_g = torch.as_tensor(np.concatenate([e["s"] for e in train]))
    a_g = torch.as_tensor(np.concatenate([e["a"] for e in train]))
    rng = np.random.default_rng(seed)
    batch = learner.cfg.disc_batch
    for _ in range(steps):
        g = torch.as_tensor(rng.integers(0, len(s_g), batch))
        e = torch.as_tensor(rng.integers(0, len(learner.expert_s), batch))
        a_e = learner.expert_a[e]
        if noisy:
            a_e = a_e + learner.noise_std * torch.randn_like(a_e)
        x_e = disc.features(learner.expert_s[e], a_e, None)
        x_g = disc.features(s_g[g], a_g[g], None)
        alpha = torch.rand(batch) if penalty > 0 else None
        discriminator_step(disc, opt, x_e, x_g, learner.cfg.disc_ent_coef, alpha, penalty)
    disc.eval()
    s_t = torch.as_tensor(np.concatenate([e["s"] for e in test]))
    a_t = torch.as_tensor(np.concatenate([e["a"] for e in test]))
    label = torch.as_tensor(np.concatenate([e["label"] for e in test]))
    with torch.no_grad():
        mu, _ = learner.policy(s_t)
    a = mu.clone().requires_grad_(True)
    log_d = -torch.nn.functional.softplus(-disc(s_t, a, s_t))
    (grad,) = torch.autograd.grad(log_d.sum(), a)
    scale = learner.expert_a.std(0)
    g = grad * scale  # the gradient in units of the demonstrated spread (chain rule: a = scale·u)
    err = (label - mu) / scale
    cos = torch.nn.functional.cosine_similarity(g, err, dim=-1)
    with torch.no_grad():
        e_idx = torch.as_tensor(np.random.default_rng(seed + 1).integers(0, len(learner.expert_s), len(s_t)))
        a_e = learner.expert_a[e_idx] + (learner.noise_std * torch.randn_like(learner.expert_a[e_idx]) if noisy else 0)
        acc = 0.5 * (
            (disc(learner.expert_s[e_idx], a_e, None) > 0).float().mean() + (disc(s_t, a_t, None) < 0).float().mean()
        )
    return {
        "cosine_mean": float(cos.mean()),
        "cosine_positive": float((cos > 0).float().mean()),
        "accuracy": float(acc),
        "grad_norm_median": float(g.norm(dim=-1).median()),
        "policy_error_rms": float(err.pow(2).mean().sqrt()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demos", default="runs/adversarial/peg_25.h5")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=24, help="rollouts per seed; the last quarter held out")
    parser.add_argument("--disc-steps", type=int, default=400)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", default=str(RESULTS / "mgail_d_gradient"))
    args = parser.parse_args()
    demos = DemoData.load(args.demos)
    results: dict[str, list[dict[str, float]]] = {v: [] for v in args.variants}
    t0 = time.time()
    for seed in args.seeds:
        learner = MGAIL(dataclasses.replace(PRESETS["fast"], seed=seed), demos, demos.env_factory())
        learner.bc_warm_start()
        eps = collect(learner, args.episodes, seed)
        cut = args.episodes * 3 // 4
        for v in args.variants:
            r = measure(learner, eps[:cut], eps[cut:], v, args.disc_steps, seed)
            results[v].append(r)
            print(f"seed {seed} {v:34s} " + " ".join(f"{k}={x:.3f}" for k, x in r.items()), flush=True)
        learner.close()
    summary = {
        v: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} | {"per_seed": rs} for v, rs in results.items()
    }
    record = {
        "benchmark": "mgail_d_gradient",
        "command": f"python benchmarks/mgail_d_gradient.py --seeds {' '.join(map(str, args.seeds))} "
        f"--episodes {args.episodes} --disc-steps {args.disc_steps}"
        + ("" if args.variants == list(VARIANTS) else f" --variants {' '.join(args.variants)}")
        + f" --out {args.out}",
        "demos": args.demos,
        "wall_s": time.time() - t0,
        "summary": summary,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    names = list(summary)
    for i, v in enumerate(names):
        vals = [r["cosine_mean"] for r in summary[v]["per_seed"]]
        ax.scatter([i] * len(vals), vals, color="tab:blue")
        ax.bar(i, np.mean(vals), color="tab:blue", alpha=0.3)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("cos(∇ₐ log D, a_E − μ)")
    ax.set_title("D's action gradient against the expert's correction (held-out BC rollouts)")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    print(
        json.dumps({v: {k: round(x, 3) for k, x in s.items() if k != "per_seed"} for v, s in summary.items()}, indent=1)
    )


if __name__ == "__main__":
    main()
