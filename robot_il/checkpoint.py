"""Policy checkpoints: everything needed to act, loadable with ``torch.load(weights_only=True)``.

A policy file is a dict of tensors and plain Python values (no pickled
classes): the network's constructor arguments, its state dict (normalisation
statistics included), the env description it was trained for, and the
training config.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from robot_il.data.reader import check_task_layout
from robot_il.errors import ConfigError, RobotILError
from robot_il.nn.policy import GaussianPolicy, MixturePolicy, make_policy

POLICY_FORMAT = "robot_il.policy/1"
START_AFRESH = "move it away or delete it to start the run afresh"
"""What to do with a training checkpoint that cannot be resumed."""
POLICY_FILE = "policy.pt"
BEST_POLICY_FILE = "policy_best.pt"
"""In a run directory: the policy of the evaluation with the highest success so far (validation seeds)."""
CHECKPOINT_FILE = "checkpoint.pt"
"""In a run directory: the whole training state, to resume from."""
LOG_FILE = "train_log.json"
EVAL_DIR = "eval"
"""In a run directory: where `robot-il eval` reports by default."""


class CheckpointError(RobotILError):
    """A checkpoint is missing, unreadable or of another format."""


def load_checkpoint(path: Path, fix: str) -> dict[str, Any]:
    """``torch.load`` with the safe loader (tensors and plain values only: a checkpoint never runs code).

    Whatever it refuses (pickled objects, garbage, an empty or truncated file) raises one line naming
    the file; ``fix`` says what to do. torch's own messages run to a dozen lines of advice to turn the
    safety off, which is not the advice to give here.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, EOFError, RuntimeError, ... for foreign or damaged files
        if isinstance(err, pickle.UnpicklingError) and zipfile.is_zipfile(path):
            why = "torch's safe loader refused it (it holds pickled Python objects, not only tensors)"
        else:
            why = "it is not a torch file at all (garbage, empty or truncated)"
        raise CheckpointError(f"{path} is not a robot-il checkpoint: {why}; {fix}") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} is not a robot-il checkpoint: it holds a {type(payload).__name__}; {fix}")
    return payload


def save_atomic(obj: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temporary file, then rename: a kill never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def save_policy(
    path: str | Path, policy: GaussianPolicy, *, algo: str, config: dict[str, Any], env_args: dict[str, Any]
) -> Path:
    payload = {
        "format": POLICY_FORMAT,
        "algo": algo,
        "net": {
            "obs_dim": policy.obs_dim,
            "act_dim": policy.act_dim,
            "hidden": [m.out_features for m in policy.body if isinstance(m, torch.nn.Linear)][:-1],
            "sigma_min": policy.sigma_min,
            "sigma_max": policy.sigma_max,
            **({"components": policy.components} if isinstance(policy, MixturePolicy) else {}),
        },
        "state_dict": policy.state_dict(),
        "config": json.dumps(config),
        "env_args": json.dumps(env_args),
    }
    return save_atomic(payload, path)


def load_policy(path: str | Path) -> tuple[GaussianPolicy, dict[str, Any]]:
    """Load a policy from a ``policy.pt`` file or a run directory holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / POLICY_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no policy checkpoint here; train one with `robot-il train`")
    payload = load_checkpoint(path, "pass a policy.pt written by `robot-il train`, or retrain")
    if payload.get("format") != POLICY_FORMAT:
        raise CheckpointError(f"{path}: not a robot-il policy (expected format {POLICY_FORMAT!r})")
    env_args = json.loads(payload["env_args"])
    check_task_layout(
        str(path),
        env_args,
        [],
        "the policy learnt from demos of another observation layout: "
        "retrain it from demos that `robot-il demos validate` accepts",
    )
    net = payload["net"]
    state = payload["state_dict"]
    # A diverged run saves NaN weights without complaint; they would act NaN (or stop the arm) every step.
    bad = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise CheckpointError(
            f"{path} has non-finite weights (NaN or inf) in {bad}; it cannot be deployed; "
            "retrain or pick another checkpoint"
        )
    policy = make_policy(
        net.get("components", 1),
        obs_dim=net["obs_dim"],
        act_dim=net["act_dim"],
        action_low=(state["action_center"] - state["action_half_range"]).numpy(),
        action_high=(state["action_center"] + state["action_half_range"]).numpy(),
        hidden=net["hidden"],
        sigma_min=net["sigma_min"],
        sigma_max=net["sigma_max"],
    )
    policy.load_state_dict(state)
    policy.eval()
    meta = {
        "algo": payload["algo"],
        "config": json.loads(payload["config"]),
        "env_args": env_args,
        "path": str(path),
    }
    return policy, meta


def config_value(value: Any) -> Any:
    """A config value as checkpoints store it (plain JSON: tuples become lists)."""
    return json.loads(json.dumps(value))


def config_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON values, as checkpoints store it."""
    return config_value(dataclasses.asdict(cfg))


def load_resumable(path: str | Path, cfg: Any, algo: str) -> dict[str, Any] | None:
    """The training checkpoint at ``path`` to resume from, or None if there is none yet.

    Refuses one written with another config: resuming it would silently mix two runs (a field added to the
    config class since the checkpoint was written counts as unchanged at its default). The fields the
    config class names in ``EXTENDABLE`` (how long to train, where nothing else depends on it) may be
    larger than the checkpoint's: the run trains on, exactly as one given the larger value from the start.
    """
    path = Path(path)
    if not path.exists():
        return None
    state = load_checkpoint(path, START_AFRESH)
    if "config" not in state:
        raise CheckpointError(f"{path} is not a robot-il training checkpoint (it records no config); {START_AFRESH}")
    saved, wanted = json.loads(state["config"]), config_dict(cfg)
    extendable = getattr(cfg, "EXTENDABLE", ())
    # A field the checkpoint does not know was added to the config class after it was written; at its default
    # it keeps the behaviour the run had, so it is no change.
    defaults = {f.name: f.default for f in dataclasses.fields(cfg) if f.default is not dataclasses.MISSING}
    added = {k for k in wanted.keys() - saved.keys() if k in defaults and config_value(defaults[k]) == wanted[k]}
    differ = sorted(k for k in wanted.keys() | saved.keys() if saved.get(k) != wanted.get(k) and k not in added)
    shorter = [k for k in differ if k in extendable and wanted[k] < saved[k]]
    if shorter:
        k = shorter[0]
        raise ConfigError(
            k,
            f"{path.parent} holds a {algo} run of {k}={saved[k]}; it can be extended, not shortened (got {wanted[k]})",
        )
    if fixed := [k for k in differ if k not in extendable]:
        raise ConfigError(
            "out", f"{path.parent} holds a {algo} run with another {', '.join(fixed)}; pick a new --out or delete it"
        )
    return state
