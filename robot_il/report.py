"""Plots for run reports (matplotlib, Agg back-end: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from robot_il.rollout import Episode


def plot_episodes(episodes: list[Episode], path: str | Path, title: str) -> Path:
    """Left: socket pose of each episode, coloured by outcome. Right: episode lengths."""
    path = Path(path)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    for ok, colour, label in ((True, "tab:green", "success"), (False, "tab:red", "failure")):
        pts = [e.pan_tilt for e in episodes if e.success == ok]
        if pts:
            ax0.scatter([p[0] for p in pts], [p[1] for p in pts], c=colour, label=f"{label} ({len(pts)})", s=18)
    ax0.set_xlabel("pan (rad)")
    ax0.set_ylabel("tilt (rad)")
    ax0.set_title("socket pose per episode")
    ax0.legend(loc="best")
    bins = np.linspace(0.0, max(e.duration_s for e in episodes) * 1.02 + 1e-9, 26)
    ax1.hist([e.duration_s for e in episodes if e.success], bins=bins, color="tab:green", alpha=0.8, label="success")
    ax1.hist([e.duration_s for e in episodes if not e.success], bins=bins, color="tab:red", alpha=0.8, label="failure")
    ax1.set_xlabel("episode duration (s)")
    ax1.set_ylabel("episodes")
    ax1.legend(loc="best")
    rate = sum(e.success for e in episodes) / len(episodes)
    return _save(fig, path, f"{title}: success {rate:.1%} over {len(episodes)} episodes")


def plot_learning_curve(
    curve: list[dict], path: str | Path, x_axes: tuple[tuple[str, str], ...], title: str, practice_label: str
) -> Path:
    """Evaluation (deterministic) and practice (stochastic) success against each ``(key, label)`` x axis."""
    fig, axes = plt.subplots(1, len(x_axes), figsize=(5 * len(x_axes), 3.6), sharey=True, squeeze=False)
    for ax, (key, label) in zip(axes[0], x_axes, strict=True):
        x = [p[key] for p in curve]
        ax.plot(x, [p["eval_success"] for p in curve], "o-", label="evaluation (deterministic)")
        ax.plot(x, [p["practice_success"] for p in curve], ".--", alpha=0.6, label=practice_label)
        ax.set_xlabel(label)
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel("success rate")
    axes[0][0].legend(loc="best")
    return _save(fig, path, title)


def plot_likelihood_curves(log: list[dict], path: str | Path, title: str) -> Path:
    """Behavioural cloning's curves: train and validation NLL, the validation MSE of the mean, and the
    closed-loop success on the validation episodes where the run evaluated any, per step."""
    steps = [r["step"] for r in log]
    success = [(r["step"], r["eval_success"]) for r in log if r.get("eval_success") is not None]
    fig, axes = plt.subplots(1, 3 if success else 2, figsize=(15 if success else 10, 3.6))
    ax0, ax1 = axes[:2]
    ax0.plot(steps, [r["train_nll"] for r in log], label="train")
    ax0.plot(steps, [r["valid_nll"] for r in log], label="validation")
    ax0.set_xlabel("gradient step")
    ax0.set_ylabel("negative log-likelihood")
    ax0.legend()
    ax1.semilogy(steps, [r["valid_mse"] for r in log], color="tab:orange")
    ax1.set_xlabel("gradient step")
    ax1.set_ylabel("validation MSE of the mean, (rad/s)²")
    if success:
        axes[2].plot([x for x, _ in success], [y for _, y in success], marker="o", color="tab:green")
        axes[2].set_ylim(0, 1)
        axes[2].set_xlabel("gradient step")
        axes[2].set_ylabel("closed-loop validation success")
    return _save(fig, path, title)


def _save(fig: plt.Figure, path: str | Path, title: str) -> Path:
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
