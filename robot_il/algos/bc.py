"""Behavioural cloning: maximum likelihood of the demonstrated actions under a Gaussian policy.

The GPRIL paper's baseline: hidden (300, 200), σ in (0.01, 0.1), Adam 1e-4,
L2 1e-4, observations normalised from the demonstrations. A validation split
(the file's ``mask/valid``) stops training when its likelihood stops improving.

    robot-il train bc --demos demos/peg_25.h5 --out runs/bc

The run directory holds ``policy.pt`` (the best policy so far), ``checkpoint.pt``
(the whole training state: a killed run resumes from it), ``train_log.json`` and
``train_curves.png``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from robot_il.checkpoint import POLICY_FILE, load_resumable, save_atomic, save_policy
from robot_il.config import require_positive
from robot_il.data.arrays import all_states, state_action_pairs
from robot_il.data.reader import DemoSet, load_demos
from robot_il.errors import ConfigError
from robot_il.nn.policy import GaussianPolicy, Normalizer

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass(frozen=True)
class BCConfig:
    hidden: tuple[int, ...] = (300, 200)
    """Hidden layer sizes of the policy (paper: 300, 200)."""
    sigma_min: float = 0.01
    """Lower bound of the policy's standard deviation, rad/s (paper: 0.01)."""
    sigma_max: float = 0.1
    """Upper bound of the policy's standard deviation, rad/s (paper: 0.1)."""
    lr: float = 1e-4
    """Adam learning rate (paper: 1e-4)."""
    l2: float = 1e-4
    """Weight of the L2 penalty on the weights (paper: 1e-4)."""
    batch_size: int = 256
    """State-action pairs per gradient step."""
    max_steps: int = 30_000
    """Upper bound on gradient steps."""
    eval_every: int = 500
    """Gradient steps between validation checks (and checkpoints); the last step is always checked."""
    patience: int = 8
    """Validation checks without improvement before stopping early."""
    obs_std_floor: float = 1e-3
    """Smallest standard deviation used to normalise an observation dimension."""
    seed: int = 0
    """Seeds weight initialisation and batch sampling."""

    def __post_init__(self) -> None:
        for name in ("lr", "batch_size", "max_steps", "eval_every", "patience", "obs_std_floor"):
            require_positive(name, getattr(self, name))
        require_positive("l2", self.l2 + 1e-30)
        if not 0 < self.sigma_min < self.sigma_max:
            raise ConfigError("sigma_min", f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")


def _split(demos: DemoSet) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Train and validation pairs; without a validation mask, the last demo validates."""
    train = state_action_pairs(demos, "train")
    if any(not d.state_only for d in demos.split("valid")):
        return train, state_action_pairs(demos, "valid")
    last = demos.split("train")[-1]
    held = len(last.actions)
    return (train[0][:-held], train[1][:-held]), (train[0][-held:], train[1][-held:])


def train_bc(
    demos_path: str | Path, out: str | Path, cfg: BCConfig | None = None, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) a BC policy; returns the training summary written to ``train_log.json``."""
    cfg = cfg or BCConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    demos = load_demos(demos_path)
    (x_train, y_train), (x_valid, y_valid) = _split(demos)
    env_args = demos.env_args

    torch.manual_seed(cfg.seed)
    policy = GaussianPolicy(
        x_train.shape[1],
        y_train.shape[1],
        action_low=np.asarray(env_args["action_low"]),
        action_high=np.asarray(env_args["action_high"]),
        normalizer=Normalizer.fit(all_states(demos), cfg.obs_std_floor),
        hidden=cfg.hidden,
        sigma_min=cfg.sigma_min,
        sigma_max=cfg.sigma_max,
    )
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    state = {"step": 0, "best_valid_nll": float("inf"), "evals_since_best": 0, "log": [], "wall_s": 0.0}

    ckpt_path = out / CHECKPOINT_FILE
    if (ckpt := load_resumable(ckpt_path, cfg, "BC")) is not None:
        policy.load_state_dict(ckpt["policy"])
        optimizer.load_state_dict(ckpt["optimizer"])
        rng.bit_generator.state = json.loads(ckpt["numpy_rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        state = json.loads(ckpt["state"])

    xt, yt = torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train, dtype=torch.float32)
    xv, yv = torch.as_tensor(x_valid, dtype=torch.float32), torch.as_tensor(y_valid, dtype=torch.float32)
    bar = tqdm(total=cfg.max_steps, initial=state["step"], desc="BC", unit="step", disable=not progress)
    t0 = time.perf_counter() - state["wall_s"]
    train_nll: list[float] = []

    def check() -> None:
        """Validate; keep the policy if it is the best so far; checkpoint the whole training state."""
        nonlocal train_nll
        with torch.no_grad():
            valid_nll = float(-policy.log_prob(xv, yv).mean())
            valid_mse = float(((policy(xv)[0] - yv) ** 2).mean())
        if valid_nll < state["best_valid_nll"]:
            state["best_valid_nll"], state["evals_since_best"] = valid_nll, 0
            save_policy(out / POLICY_FILE, policy, algo="bc", config=_jsonable(cfg), env_args=env_args)
        else:
            state["evals_since_best"] += 1
        state["wall_s"] = time.perf_counter() - t0
        state["log"].append(
            {
                "step": state["step"],
                "train_nll": float(np.mean(train_nll)),
                "valid_nll": valid_nll,
                "valid_mse": valid_mse,
                "wall_s": state["wall_s"],
            }
        )
        train_nll = []
        bar.set_postfix(train_nll=f"{state['log'][-1]['train_nll']:.2f}", valid_nll=f"{valid_nll:.2f}")
        save_atomic(
            {
                "config": json.dumps(_jsonable(cfg)),
                "policy": policy.state_dict(),
                "optimizer": optimizer.state_dict(),
                "numpy_rng": json.dumps(rng.bit_generator.state),
                "torch_rng": torch.get_rng_state(),
                "state": json.dumps(state),
            },
            ckpt_path,
        )

    while state["step"] < cfg.max_steps and state["evals_since_best"] < cfg.patience:
        idx = torch.as_tensor(rng.integers(0, len(xt), size=cfg.batch_size))
        nll = -policy.log_prob(xt[idx], yt[idx]).mean()
        loss = nll + cfg.l2 * policy.l2_penalty()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        train_nll.append(nll.item())
        state["step"] += 1
        bar.update(1)
        if state["step"] % cfg.eval_every == 0:
            check()
    stopped = "early_stopping" if state["evals_since_best"] >= cfg.patience else "max_steps"
    if not state["log"] or state["log"][-1]["step"] != state["step"]:
        check()  # max_steps is no multiple of eval_every: the last steps count too, and leave a policy
    bar.close()
    summary = {
        "algo": "bc",
        "demos": str(demos_path),
        "train_pairs": len(x_train),
        "valid_pairs": len(x_valid),
        "steps": state["step"],
        "stopped_by": stopped,
        "best_valid_nll": state["best_valid_nll"],
        "wall_clock_s": state["wall_s"],
        "config": _jsonable(cfg),
        "log": state["log"],
    }
    (out / "train_log.json").write_text(json.dumps(summary, indent=2))
    _plot_curves(summary, out / "train_curves.png")
    return summary


def _jsonable(cfg: BCConfig) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _plot_curves(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = summary["log"]
    if not log:
        return
    steps = [r["step"] for r in log]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax0.plot(steps, [r["train_nll"] for r in log], label="train")
    ax0.plot(steps, [r["valid_nll"] for r in log], label="validation")
    ax0.set_xlabel("gradient step")
    ax0.set_ylabel("negative log-likelihood")
    ax0.legend()
    ax1.semilogy(steps, [r["valid_mse"] for r in log], color="tab:orange")
    ax1.set_xlabel("gradient step")
    ax1.set_ylabel("validation MSE of the mean, (rad/s)²")
    fig.suptitle(f"BC on {Path(summary['demos']).name}: {summary['train_pairs']} pairs, {summary['stopped_by']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
