"""Behavioural cloning: maximum likelihood of the demonstrated actions under a Gaussian policy.

The GPRIL paper's baseline: hidden (300, 200), σ in (0.01, 0.1), Adam 1e-4,
L2 1e-4, observations normalised from the demonstrations.

Which policy it keeps (``select``):

* ``success`` (default): a fixed budget of gradient steps; every ``eval_every``
  steps the policy runs closed loop on validation episodes of the demos' env
  (seeds ``eval_seed`` on, disjoint from the demos' 0.. and from the held-out
  10000.. that ``robot-il eval`` reports on), and the one with the highest
  success is kept. The likelihood of held-out demo actions ranks policies
  poorly by what they achieve closed loop, where small errors compound
  (Ross & Bagnell, AISTATS 2010), and stopping on it cut training short.
* ``nll``: the likelihood of the file's ``mask/valid`` demos: the best-scoring
  policy is kept and training stops when it has not improved for ``patience``
  checks (needs no simulator: demos of a real cell).

Either way the run is a function of its demos, seed and config, never of
machine load.

    robot-il train bc --demos demos/peg_25.h5 --out runs/bc

The run directory holds ``policy.pt`` (the selected policy, the one to deploy),
``policy_best.pt`` (the same, with ``select`` success, as the other learners keep
it), ``checkpoint.pt`` (the whole training state: a killed run resumes from it),
``train_log.json`` (its ``log`` is the learning curve: steps, NLLs, validation
success) and ``train_curves.png``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from robot_il.algos.common import DemoData, RunDir, policy_spec, rng_state, set_rng_state
from robot_il.algos.lifecycle import LikelihoodPolicyConfig
from robot_il.checkpoint import config_dict
from robot_il.config import require_non_negative, require_positive
from robot_il.data.writer import DemoFileError
from robot_il.errors import ConfigError
from robot_il.nn.policy import GaussianPolicy, Normalizer

CURVES_FILE = "train_curves.png"
SELECT = ("success", "nll")


@dataclass(frozen=True)
class BCConfig(LikelihoodPolicyConfig):
    lr: float = 1e-4
    """Adam learning rate (paper: 1e-4)."""
    max_steps: int = 6_000
    """Gradient steps: the fixed budget with ``select`` success, an upper bound with ``nll``."""
    select: str = "success"
    """Which policy is kept and deployed: 'success' (the highest closed-loop success on the validation
    episodes, after a fixed budget) or 'nll' (the lowest NLL of the validation demos, stopping early)."""
    eval_every: int = 250
    """Gradient steps between validation checks (and checkpoints); the last step is always checked."""
    eval_episodes: int = 50
    """Closed-loop validation episodes per check (fixed seeds); 0 runs none (``select`` nll only)."""
    eval_seed: int = 40_000
    """Seed of the first validation episode: disjoint from the demos' (0..) and the held-out ones (10000..)."""
    sample_actions: bool = False
    """Validate, save and deploy a policy that samples a ~ π(·|s) every step instead of acting with the mean.
    The policy file records the choice; ``robot-il eval --act`` overrides it."""
    patience: int = 8
    """With ``select`` nll: validation checks without improvement before stopping early."""
    seed: int = 0
    """Seeds weight initialisation and batch sampling."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("lr", "max_steps", "eval_every", "patience"):
            require_positive(name, getattr(self, name))
        require_non_negative("eval_episodes", self.eval_episodes)
        if self.select not in SELECT:
            raise ConfigError("select", f"must be one of {', '.join(SELECT)}, got {self.select!r}")
        if self.select == "success" and self.eval_episodes == 0:
            raise ConfigError("eval_episodes", "select success needs validation episodes: give at least 1")


def _split(demos: DemoData) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Train and validation pairs; without a validation mask, the last demo validates."""
    train = demos.pairs(demos.split("train"))
    if train is None:
        raise DemoFileError(
            f"{demos.path}: no demos with actions in mask/train; "
            "behavioural cloning needs actions (use GPRIL with --state-only for state-only or sparse demos)"
        )
    if (valid := demos.pairs(demos.split("valid"))) is not None:
        return train, valid
    held = len(demos.actions[demos.split("train")[-1]])
    return (train[0][:-held], train[1][:-held]), (train[0][-held:], train[1][-held:])


def likelihood_step(
    policy: GaussianPolicy, optimizer: torch.optim.Optimizer, states: torch.Tensor, actions: torch.Tensor, l2: float = 0
) -> torch.Tensor:
    """One step of maximum likelihood (plus ``l2`` times the squared weights); returns the batch's NLL."""
    nll = -policy.log_prob(states, actions).mean()
    loss = nll + l2 * policy.l2_penalty() if l2 else nll
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return nll


def warm_start(
    policy: GaussianPolicy, states: torch.Tensor, actions: torch.Tensor, steps: int, lr: float, seed: int
) -> None:
    """A BC warm start (GAIL's, MGAIL's): ``steps`` likelihood steps on demonstrated pairs, Adam at ``lr``,
    batches of up to 256 drawn by a generator seeded with ``seed``."""
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        i = torch.randint(0, len(states), (min(256, len(states)),), generator=gen)
        likelihood_step(policy, optimizer, states[i], actions[i])


def train_bc(
    demos_path: str | Path, out: str | Path, cfg: BCConfig | None = None, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) a BC policy; returns the training summary written to ``train_log.json``."""
    cfg = cfg or BCConfig()
    demos = DemoData.load(demos_path)
    (x_train, y_train), (x_valid, y_valid) = _split(demos)
    factory = demos.env_factory() if cfg.eval_episodes else None
    run = RunDir(out, "bc", cfg, demos.env_args, factory=factory, curves_png=CURVES_FILE)

    # Networks.
    torch.manual_seed(cfg.seed)
    policy = GaussianPolicy(
        **policy_spec(demos, cfg.hidden, cfg.sigma_min, cfg.sigma_max),
        normalizer=Normalizer.fit(demos.all_states, cfg.obs_std_floor),
    )
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    state = {"step": 0, "best_valid_nll": float("inf"), "evals_since_best": 0, "log": [], "wall_s": 0.0}
    if (ckpt := run.resume()) is not None:
        policy.load_state_dict(ckpt["policy"])
        optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(rng, ckpt)
        state = json.loads(ckpt["state"])

    xt, yt = torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train, dtype=torch.float32)
    xv, yv = torch.as_tensor(x_valid, dtype=torch.float32), torch.as_tensor(y_valid, dtype=torch.float32)
    bar = tqdm(total=cfg.max_steps, initial=state["step"], desc="BC", unit="step", disable=not progress)
    run.start_clock(state["wall_s"])
    train_nll: list[float] = []

    def check() -> None:
        """Validate (demo NLL; closed-loop success where episodes are asked for); keep the policy if it is
        the best so far by ``cfg.select``; checkpoint the whole training state."""
        nonlocal train_nll
        with torch.no_grad():
            valid_nll = float(-policy.log_prob(xv, yv).mean())
            valid_mse = float(((policy(xv)[0] - yv) ** 2).mean())
        success = run.evaluate(policy) if cfg.eval_episodes else None
        if valid_nll < state["best_valid_nll"]:
            state["best_valid_nll"], state["evals_since_best"] = valid_nll, 0
            if cfg.select == "nll":
                state["best_step"] = state["step"]
                run.save_policy(policy)
        else:
            state["evals_since_best"] += 1
        if cfg.select == "success":
            run.keep_if_best(policy, success, state, {"best_step": state["step"]})
            if state["best_step"] == state["step"]:
                run.save_policy(policy)
        state["wall_s"] = run.wall_s
        state["log"].append(
            {
                "step": state["step"],
                "train_nll": float(np.mean(train_nll)),
                "valid_nll": valid_nll,
                "valid_mse": valid_mse,
                "eval_success": success,
                "wall_s": state["wall_s"],
            }
        )
        train_nll = []
        shown = {"valid_nll": f"{valid_nll:.2f}"} | ({} if success is None else {"eval": f"{success:.2f}"})
        bar.set_postfix(train_nll=f"{state['log'][-1]['train_nll']:.2f}", **shown)
        run.save_checkpoint(
            {
                "config": json.dumps(config_dict(cfg)),
                "policy": policy.state_dict(),
                "optimizer": optimizer.state_dict(),
                **rng_state(rng),
                "state": json.dumps(state),
            }
        )

    def stop_early() -> bool:
        return cfg.select == "nll" and state["evals_since_best"] >= cfg.patience

    # The loop: maximum likelihood on random batches, validated every eval_every steps.
    try:
        while state["step"] < cfg.max_steps and not stop_early():
            idx = torch.as_tensor(rng.integers(0, len(xt), size=cfg.batch_size))
            train_nll.append(likelihood_step(policy, optimizer, xt[idx], yt[idx], cfg.l2).item())
            state["step"] += 1
            bar.update(1)
            if state["step"] % cfg.eval_every == 0:
                check()
        stopped = "early_stopping" if stop_early() else "max_steps"
        if not state["log"] or state["log"][-1]["step"] != state["step"]:
            check()  # max_steps is no multiple of eval_every: the last steps count too, and leave a policy
    finally:
        bar.close()
        run.close()
    summary = run.write_log(
        {
            "algo": "bc",
            "demos": str(demos_path),
            "train_pairs": len(x_train),
            "valid_pairs": len(x_valid),
            "steps": state["step"],
            "stopped_by": stopped,
            "selected_by": cfg.select,
            "best_step": state["best_step"],
            "best_valid_nll": state["best_valid_nll"],
            "best_eval_success": state.get("best_eval_success"),
            "act": "sample" if cfg.sample_actions else "mean",
            "wall_clock_s": state["wall_s"],
            "config": config_dict(cfg),
            "log": state["log"],
        }
    )
    if summary["log"]:
        from robot_il.report import plot_likelihood_curves

        title = (
            f"BC on {Path(summary['demos']).name}: {summary['train_pairs']} pairs, {summary['stopped_by']}, "
            f"kept step {summary['best_step']} by {cfg.select}"
        )
        plot_likelihood_curves(summary["log"], run.curves, title)
    return summary
