"""Checkpoints that cannot be used are refused at load, in one line naming the file and what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import env_args

from robot_il.checkpoint import CheckpointError, save_policy
from robot_il.cli import main as cli
from robot_il.nn.policy import GaussianPolicy, Normalizer
from robot_il.policies import CheckpointPolicy


def _policy_file(path: Path) -> Path:
    """A small, finite policy for the peg task (19 observations, 6 joint velocities)."""
    args = env_args()
    obs_dim = args["obs_layout"][-1]["stop"]
    norm = Normalizer(np.zeros(obs_dim), np.ones(obs_dim))
    net = GaussianPolicy(obs_dim, 6, np.asarray(args["action_low"]), np.asarray(args["action_high"]), norm, (8,))
    return save_policy(path, net, algo="bc", config={}, env_args=args)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("robot-il: error: "), f"not one error line: {err!r}"
    return err.removeprefix("robot-il: error: ").strip()


@pytest.mark.parametrize(("tensor", "value"), [("body.2.weight", float("nan")), ("normalizer.std", float("inf"))])
def test_a_policy_with_non_finite_weights_is_refused_by_eval_and_deploy(
    tmp_path: Path, capsys, tensor: str, value: float
) -> None:
    path = _policy_file(tmp_path / "policy.pt")
    CheckpointPolicy(path)  # finite: loads
    payload = torch.load(path, weights_only=True)
    payload["state_dict"][tensor].view(-1)[3] = value
    torch.save(payload, path)
    expected = (
        f"{path} has non-finite weights (NaN or inf) in {tensor}; it cannot be deployed; "
        "retrain or pick another checkpoint"
    )
    with pytest.raises(CheckpointError) as err:
        CheckpointPolicy(path)  # deploy's loader
    assert str(err.value) == expected
    assert cli(["eval", "--policy", str(path), "--episodes", "1", "--out", str(tmp_path / "eval")]) == 2
    assert _one_error_line(capsys) == expected
    assert cli(["deploy", "--policy", str(path), "--episodes", "1", "--max-steps", "5"]) == 2
    assert _one_error_line(capsys) == expected
    assert not (tmp_path / "eval" / "metrics.json").exists()
