"""Checkpoints that cannot be used are refused at load, in one line naming the file and what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import env_args, write_synthetic_demos

from robot_il.checkpoint import CheckpointError, save_policy
from robot_il.cli import main as cli
from robot_il.nn.policy import GaussianPolicy, MixturePolicy, Normalizer
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


class _Pickled:
    """Any Python object: torch.save pickles it, and the safe loader must refuse to run its pickle."""


def _write_foreign(path: Path, kind: str) -> str:
    """A file torch's safe loader refuses; returns why the message must give."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "pickled object":
        torch.save({"config": "{}", "policy": _Pickled()}, path)
        return "torch's safe loader refused it (it holds pickled Python objects, not only tensors)"
    path.write_bytes(b"\x00garbage, not a checkpoint\xff" * 10)
    return "it is not a torch file at all (garbage, empty or truncated)"


KINDS = ["pickled object", "garbage bytes"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_foreign_policy_file_is_refused_in_one_line(tmp_path: Path, capsys, kind: str) -> None:
    why = _write_foreign(tmp_path / "policy.pt", kind)
    assert cli(["eval", "--policy", str(tmp_path), "--episodes", "1"]) == 2
    assert _one_error_line(capsys) == (
        f"{tmp_path / 'policy.pt'} is not a robot-il checkpoint: {why}; "
        "pass a policy.pt written by `robot-il train`, or retrain"
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("algo", ["bc", "gpril"])
def test_a_foreign_training_checkpoint_is_refused_when_resuming(tmp_path: Path, capsys, kind: str, algo: str) -> None:
    demos = write_synthetic_demos(tmp_path / "d.h5", num_demos=2, steps=5)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    why = _write_foreign(ckpt, kind)
    short = ["--actors", "0", "--iterations", "1"] if algo == "gpril" else ["--max-steps", "10"]
    argv = ["train", algo, "--demos", str(demos), "--out", str(tmp_path / "run"), *short]
    assert cli(argv) == 2
    assert _one_error_line(capsys) == (
        f"{ckpt} is not a robot-il checkpoint: {why}; move it away or delete it to start the run afresh"
    )
    assert not (tmp_path / "run" / "policy.pt").exists()
    ckpt.unlink()  # as the message says: then the run starts afresh
    assert cli(argv) == 0


def test_a_policy_trained_to_sample_acts_by_sampling_unless_told_otherwise(tmp_path: Path) -> None:
    """sample_actions in the training config: eval and deploy sample from π (reproducibly from the seed);
    ``act='mean'`` (``robot-il eval --act mean``) acts with the mean."""
    args = env_args()
    obs_dim = args["obs_layout"][-1]["stop"]
    norm = Normalizer(np.zeros(obs_dim), np.ones(obs_dim))
    net = GaussianPolicy(obs_dim, 6, np.asarray(args["action_low"]), np.asarray(args["action_high"]), norm, (8,))
    sampled = save_policy(tmp_path / "s.pt", net, algo="gpril", config={"sample_actions": True}, env_args=args)
    mean = _policy_file(tmp_path / "m.pt")
    obs = np.linspace(-1, 1, obs_dim)
    assert CheckpointPolicy(mean).act_mode == "mean"
    a, b = CheckpointPolicy(sampled), CheckpointPolicy(sampled)
    assert a.act_mode == "sample"
    first = a(None, obs)
    assert not np.array_equal(first, a(None, obs)), "two samples at one state are equal"
    np.testing.assert_array_equal(first, b(None, obs))  # the same seed, the same samples
    mu = CheckpointPolicy(sampled, act="mean")
    np.testing.assert_array_equal(mu(None, obs), mu(None, obs))
    np.testing.assert_allclose(mu(None, obs), net.act(obs), rtol=1e-6)
    assert cli(["eval", "--policy", str(sampled), "--episodes", "1", "--act", "mean", "-o", str(tmp_path / "e")]) == 0
    assert '"act": "mean"' in (tmp_path / "e" / "metrics.json").read_text()
    assert cli(["eval", "--policy", str(sampled), "--episodes", "1", "-o", str(tmp_path / "f")]) == 0
    assert '"act": "sample"' in (tmp_path / "f" / "metrics.json").read_text()


def test_a_run_resumes_with_a_config_field_added_since_at_its_default(tmp_path: Path) -> None:
    """A checkpoint written before a config field existed resumes when the field is at its default (the
    behaviour the run had), and is refused, naming the field, when it is not."""
    import dataclasses
    import json

    from robot_il.algos.gail import GAILConfig
    from robot_il.checkpoint import config_dict, load_resumable, save_atomic
    from robot_il.errors import ConfigError

    cfg = GAILConfig(total_steps=1000)
    old = config_dict(cfg)
    del old["disc_grad_penalty"]  # as a run written before the field was added
    path = save_atomic({"config": json.dumps(old)}, tmp_path / "checkpoint.pt")
    assert load_resumable(path, cfg, "gail") is not None
    assert load_resumable(path, dataclasses.replace(cfg, total_steps=2000), "gail") is not None
    with pytest.raises(ConfigError, match="disc_grad_penalty"):
        load_resumable(path, dataclasses.replace(cfg, disc_grad_penalty=10.0), "gail")


def test_a_mixture_policy_file_loads_as_the_mixture_it_saved_and_acts_the_same(tmp_path: Path) -> None:
    args = env_args()
    obs_dim = args["obs_layout"][-1]["stop"]
    norm = Normalizer(np.linspace(0, 1, obs_dim), np.full(obs_dim, 2.0))
    torch.manual_seed(3)
    net = MixturePolicy(
        obs_dim, 6, np.asarray(args["action_low"]), np.asarray(args["action_high"]), norm, (8,), components=3
    )
    path = save_policy(tmp_path / "mix.pt", net, algo="dagger", config={}, env_args=args)
    loaded = CheckpointPolicy(path)
    assert isinstance(loaded.net, MixturePolicy) and loaded.net.components == 3
    obs = np.linspace(-1, 1, obs_dim)
    np.testing.assert_array_equal(loaded(None, obs), net.act(obs))
    sampled = CheckpointPolicy(path, act="sample", seed=5)
    np.testing.assert_array_equal(
        sampled(None, obs), net.act(obs, deterministic=False, generator=torch.Generator().manual_seed(5))
    )
