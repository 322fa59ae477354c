"""Behavioural cloning learns a known policy, keeps the policy its rule selects (closed-loop validation success
by default, or validation NLL), checkpoints load safely, and a killed run resumes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import known_policy, sigkill_when, synthetic_state, write_synthetic_demos

from robot_il.algos.bc import BCConfig, _split, train_bc
from robot_il.algos.common import DemoData, RunDir
from robot_il.checkpoint import BEST_POLICY_FILE, CHECKPOINT_FILE, CheckpointError, load_policy
from robot_il.cli import main as cli
from robot_il.data.arrays import flat_obs
from robot_il.envs.insertion import observation_layout
from robot_il.errors import ConfigError


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("bc")
    demos = write_synthetic_demos(tmp / "known.h5", num_demos=20, steps=60, noise=0.03)
    cfg = BCConfig(lr=1e-3, max_steps=3000, eval_every=250, select="nll", eval_episodes=0)
    summary = train_bc(demos, tmp / "run", cfg, progress=False)
    return tmp / "run", summary


def test_bc_recovers_a_known_policy_on_unseen_states(trained) -> None:
    run, _ = trained
    policy, meta = load_policy(run)
    rng = np.random.default_rng(123)
    states = [synthetic_state(rng, 0.0) for _ in range(500)]
    layout = observation_layout()
    x = flat_obs(
        {
            k: np.stack([getattr(s, k) for s in states])
            for k in ("joint_positions", "joint_velocities", "ee_position", "socket_quat")
        },
        layout,
    )
    target = np.stack([known_policy(s) for s in states])
    with torch.no_grad():
        mu, sigma = policy(torch.as_tensor(x, dtype=torch.float32))
    mse = float(((mu.numpy() - target) ** 2).mean())
    assert mse < 0.1 * target.var(), f"BC mean is off the known policy: MSE {mse:.2e} vs variance {target.var():.2e}"
    # The demonstrator's noise is 0.03 rad/s: the learned spread lands near it, within the (0.01, 0.1) bounds.
    assert 0.02 < float(sigma.mean()) < 0.06, f"learned sigma {float(sigma.mean()):.3f}"
    assert meta["algo"] == "bc" and meta["env_args"]["obs_layout"] == layout


def test_bc_writes_its_report(trained) -> None:
    run, summary = trained
    log = json.loads((run / "train_log.json").read_text())
    assert log["steps"] == summary["steps"] > 0
    assert log["best_valid_nll"] == min(r["valid_nll"] for r in log["log"]) < log["log"][0]["valid_nll"]
    assert (run / "train_curves.png").stat().st_size > 10_000


def test_checkpoints_load_with_weights_only(trained) -> None:
    run, _ = trained
    for name in ("policy.pt", CHECKPOINT_FILE):
        payload = torch.load(run / name, map_location="cpu", weights_only=True)
        assert isinstance(payload, dict)


def test_loading_garbage_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "policy.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a robot-il checkpoint"):
        load_policy(tmp_path)
    with pytest.raises(CheckpointError, match="no policy checkpoint"):
        load_policy(tmp_path / "elsewhere")


def test_bc_refuses_state_only_demos(tmp_path: Path) -> None:
    demos = write_synthetic_demos(tmp_path / "so.h5", num_demos=2, steps=5, state_only=True)
    with pytest.raises(Exception, match="needs actions"):
        train_bc(demos, tmp_path / "run", progress=False)


def test_killed_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    demos = write_synthetic_demos(tmp_path / "d.h5", num_demos=10, steps=40, noise=0.03)
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "robot_il.cli",
        "train",
        "bc",
        "--demos",
        str(demos),
        "--out",
        str(run),
        "--max-steps",
        "4000",
        "--lr",
        "1e-3",
        "--eval-episodes",
        "2",
    ]
    sigkill_when(cmd, ready=(run / CHECKPOINT_FILE).exists, timeout=120)
    state = json.loads(torch.load(run / CHECKPOINT_FILE, weights_only=True)["state"])
    killed_at = state["step"]
    assert 0 < killed_at < 4000 and not (run / "train_log.json").exists()
    assert (run / BEST_POLICY_FILE).exists() and "best_eval_success" in state

    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    log = json.loads((run / "train_log.json").read_text())
    steps = [r["step"] for r in log["log"]]
    assert steps[: len(state["log"])] == [r["step"] for r in state["log"]], "the resumed run lost its history"
    assert steps == sorted(set(steps)) and log["steps"] == 4000 > killed_at
    assert log["best_eval_success"] == max(r["eval_success"] for r in log["log"])


def test_a_run_shorter_than_eval_every_still_leaves_its_policy(tmp_path: Path, capsys) -> None:
    demos = write_synthetic_demos(tmp_path / "d.h5", num_demos=10, steps=10, noise=0.03)
    run = tmp_path / "run"
    args = ["train", "bc", "--demos", str(demos), "--out", str(run), "--max-steps", "100", "--eval-episodes", "1"]
    assert cli(args) == 0  # eval_every 250
    assert f"-> {run}/policy.pt" in capsys.readouterr().out
    load_policy(run)
    assert [r["step"] for r in json.loads((run / "train_log.json").read_text())["log"]] == [100]


def test_the_last_steps_are_validated_and_the_best_policy_kept(tmp_path: Path) -> None:
    demos = write_synthetic_demos(tmp_path / "d.h5", num_demos=10, steps=10, noise=0.03)
    cfg = BCConfig(lr=1e-3, max_steps=120, eval_every=50, select="nll", eval_episodes=0)
    summary = train_bc(demos, tmp_path / "run", cfg, progress=False)
    assert [r["step"] for r in summary["log"]] == [50, 100, 120]
    assert summary["best_valid_nll"] == min(r["valid_nll"] for r in summary["log"])
    policy, _ = load_policy(tmp_path / "run")
    _, (x_valid, y_valid) = _split(DemoData.load(demos))
    with torch.no_grad():
        x, y = torch.as_tensor(x_valid, dtype=torch.float32), torch.as_tensor(y_valid, dtype=torch.float32)
        nll = float(-policy.log_prob(x, y).mean())
    assert nll == pytest.approx(summary["best_valid_nll"], rel=1e-5), "policy.pt is not the best-validated policy"


def _valid_nll(run: Path, name: str, demos: Path) -> float:
    policy, _ = load_policy(run / name)
    _, (x_valid, y_valid) = _split(DemoData.load(demos))
    with torch.no_grad():
        x, y = torch.as_tensor(x_valid, dtype=torch.float32), torch.as_tensor(y_valid, dtype=torch.float32)
        return float(-policy.log_prob(x, y).mean())


def test_the_policy_of_the_best_validation_success_is_kept(tmp_path: Path, monkeypatch) -> None:
    demos = write_synthetic_demos(tmp_path / "d.h5", num_demos=10, steps=10, noise=0.03)
    scores = iter([0.2, 0.6, 0.4, 0.6, 0.1])  # the later of equal scores (step 200) is kept, as RunDir does
    monkeypatch.setattr(RunDir, "evaluate", lambda self, policy: next(scores))
    cfg = BCConfig(lr=1e-3, max_steps=250, eval_every=50, eval_episodes=3)
    summary = train_bc(demos, tmp_path / "run", cfg, progress=False)
    assert [r["eval_success"] for r in summary["log"]] == [0.2, 0.6, 0.4, 0.6, 0.1]
    assert summary["best_step"] == 200 and summary["best_eval_success"] == 0.6
    assert summary["stopped_by"] == "max_steps" and summary["steps"] == 250, "select success must not stop early"
    logged = next(r["valid_nll"] for r in summary["log"] if r["step"] == 200)
    for name in ("policy.pt", BEST_POLICY_FILE):
        assert _valid_nll(tmp_path / "run", name, demos) == pytest.approx(logged, rel=1e-5), f"{name} is not step 200's"


def test_closed_loop_selection_is_a_function_of_seed_and_config(tmp_path: Path) -> None:
    demos = write_synthetic_demos(tmp_path / "d.h5", num_demos=10, steps=10, noise=0.03)
    cfg = BCConfig(lr=1e-3, max_steps=60, eval_every=30, eval_episodes=2)
    logs = [train_bc(demos, tmp_path / f"run{i}", cfg, progress=False)["log"] for i in range(2)]
    strip = [[{k: v for k, v in r.items() if k != "wall_s"} for r in log] for log in logs]
    assert strip[0] == strip[1]
    assert all(r["eval_success"] is not None for r in logs[0])


def test_validation_episodes_are_disjoint_from_the_held_out_and_demo_seeds() -> None:
    cfg = BCConfig()
    valid = set(range(cfg.eval_seed, cfg.eval_seed + cfg.eval_episodes))
    held_out = set(range(10_000, 10_000 + 1_000))  # `robot-il eval`'s default first seed, and the benchmarks'
    demos = set(range(1_000))  # `robot-il record` and the scripted expert count up from 0
    assert not valid & held_out and not valid & demos


def test_select_success_needs_validation_episodes() -> None:
    with pytest.raises(ConfigError, match="eval_episodes"):
        BCConfig(eval_episodes=0)
    with pytest.raises(ConfigError, match="select"):
        BCConfig(select="loss")
    BCConfig(select="nll", eval_episodes=0)
