"""AIRL: f's shaping and terminal handling, learning the toy task, the CLI's verb, kill and resume."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import sigkill_when
from test_gail import DEMOS, TOY, TOY_FACTORY, toy_expert_demos

from robot_il.algos.airl import AIRL, AIRLConfig, train_airl
from robot_il.algos.common import DemoData
from robot_il.checkpoint import CHECKPOINT_FILE, load_policy
from robot_il.cli import main as cli
from robot_il.errors import ConfigError
from robot_il.nn.discriminators import AIRLDiscriminator
from robot_il.nn.policy import Normalizer

TOY_AIRL = AIRLConfig(**{f.name: getattr(TOY, f.name) for f in dataclasses.fields(TOY) if f.name != "reward"})


def test_f_is_g_plus_discounted_potential_difference_and_drops_h_after_a_termination() -> None:
    torch.manual_seed(0)
    disc = AIRLDiscriminator("s", 2, 2, Normalizer(np.zeros(2), np.ones(2)), -np.ones(2), np.ones(2), (8,), (8,), 0.9)
    s, a, s_next = torch.randn(5, 2), torch.randn(5, 2), torch.randn(5, 2)
    g, h, h_next = disc.learnt_reward(s, a), disc.potential(s), disc.potential(s_next)
    assert torch.allclose(disc.f((s, a, s_next), torch.zeros(5)), g + 0.9 * h_next - h)
    assert torch.allclose(disc.f((s, a, s_next), torch.ones(5)), g - h)
    assert torch.allclose(disc.learnt_reward(s, torch.randn(5, 2)), g)  # g(s): the state-only reward ignores a
    log_pi = torch.randn(5)  # D's logit is f - log π: D = exp f / (exp f + π)
    assert torch.allclose(disc.logits(s, a, s_next, torch.zeros(5), log_pi), g + 0.9 * h_next - h - log_pi)


def test_airl_needs_dense_demos_with_actions() -> None:
    with pytest.raises(ConfigError, match="demos"):
        AIRL(TOY_AIRL, DemoData.load(DEMOS, state_only=True), TOY_FACTORY)
    with pytest.raises(ConfigError, match="reward"):
        AIRLConfig(reward="gail")
    with pytest.raises(ConfigError, match=r"terminal.*absorbing"):  # GAIL's: D's reward in the absorbing state
        AIRLConfig(terminal="absorbing")


def test_airl_learns_the_reaching_task_from_scratch(tmp_path: Path) -> None:
    cfg = dataclasses.replace(TOY_AIRL, total_steps=12_800, eval_every=5, eval_episodes=20)
    summary = train_airl(toy_expert_demos(), {}, TOY_FACTORY, tmp_path / "run", cfg, progress=False)
    curve = [(p["env_steps"], p["eval_success"]) for p in summary["curve"]]
    assert curve[0][1] <= 0.2 and summary["final_eval_success"] >= 0.8, curve
    assert summary["algo"] == "airl" and summary["rollouts"][-1]["disc/accuracy"] > 0.5
    policy, _ = load_policy(tmp_path / "run")
    assert policy.obs_dim == 2


@pytest.mark.parametrize("penalty", [[], ["--disc-grad-penalty", "10"]], ids=["plain", "grad_penalty"])
def test_train_airl_cli_on_peg_demos(tmp_path: Path, penalty: list[str]) -> None:
    out = tmp_path / "airl"
    args = ["--steps", "256", "--envs", "2", "--n-steps", "128", "--eval-episodes", "2", "--bc-warm-start-steps", "50"]
    assert cli(["train", "airl", "--demos", str(DEMOS), "--out", str(out), *args, *penalty]) == 0
    log = json.loads((out / "train_log.json").read_text())
    assert log["algo"] == "airl" and log["disc_input"] == "s" and log["counters"]["env_steps"] >= 256
    assert set(log["rollouts"][0]) >= {"ends/success", "ends/left_workspace", "ends/time_limit", "mean_reward"}
    if penalty:  # on f's inputs: a finite, positive penalty was part of D's loss
        assert all(0 < r["disc/grad_penalty"] < 1e3 for r in log["rollouts"])
    else:
        assert "disc/grad_penalty" not in log["rollouts"][0]


def test_killed_airl_run_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    script = tmp_path / "train.py"
    script.write_text(
        "import dataclasses, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_airl import TOY_AIRL, TOY_FACTORY, toy_expert_demos\n"
        "from robot_il.algos.airl import train_airl\n"
        "if __name__ == '__main__':\n"
        "    cfg = dataclasses.replace(TOY_AIRL, total_steps=10_240, eval_every=2, eval_episodes=5)\n"
        f"    train_airl(toy_expert_demos(), {{}}, TOY_FACTORY, {str(out)!r}, cfg, progress=False)\n"
    )

    def checkpointed_twice() -> bool:
        try:
            log = json.loads((out / "train_log.json").read_text())
        except (OSError, ValueError):
            return False
        return len(log["curve"]) >= 3

    sigkill_when([sys.executable, str(script)], checkpointed_twice, timeout=240)
    state = torch.load(out / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    killed_at = int(state["num_timesteps"])
    assert 0 < killed_at < 10_240 and json.loads(state["reward_norm"])["count"] > 1
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads((out / "train_log.json").read_text())
    steps = [p["env_steps"] for p in log["curve"]]
    assert steps == sorted(steps) and steps[-1] >= 10_240 and killed_at in steps  # continued, not restarted
    assert [r["rollout"] for r in log["rollouts"]] == list(range(1, 10_240 // 512 + 1))
