"""robomimic's default BC (its low-dim MLP) on one of our demo files, in robomimic's own venv.

Runs with robomimic 0.3.0's Python, never the project's (robomimic pulls
torchvision and a CUDA torch, which stay out of the project's venv):

    python3.11 -m venv /work/venvs/robomimic
    /work/venvs/robomimic/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/venvs/robomimic/bin/pip install robomimic==0.3.0 six
    /work/venvs/robomimic/bin/python benchmarks/robomimic_bc.py train --task peg \\
        --demos demos/peg_25.h5 --out runs/robomimic/peg
    /work/venvs/robomimic/bin/python benchmarks/robomimic_bc.py export --run runs/robomimic/peg

``train`` takes robomimic's default ``bc`` config and changes only what our file
and this machine need: the dataset and its ``mask/train`` / ``mask/valid``
split, the observation keys (the policy's observation, never the privileged
``pan_tilt``), no rollouts (robomimic cannot build our env), validation on,
a checkpoint every 50 epochs and at each best validation loss, the CPU with
one thread, ``--epochs`` (500, as the issue's filer ran). Everything else
(MLP 1024 x 1024, tanh output, L2 loss, Adam 1e-4, batch 100, 100 steps an
epoch, unnormalised observations) is robomimic's default.

``export`` turns every checkpoint into an ``.npz`` of plain arrays (the MLP's
weights, the observation keys in the order the encoder concatenates them) plus
reference inputs and robomimic's own actions for them, so the project's venv
can run the policy in its env and check that it computes what robomimic does
(``benchmarks/bc.py --robomimic``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

OBS_KEYS = {
    "peg": ["joint_positions", "joint_velocities", "ee_position", "socket_quat"],
    "clip": ["joint_positions", "joint_velocities", "joint_efforts", "ee_position", "socket_quat"],
}
"""Each task's policy observation (robot_il.envs.insertion.observation_layout), as HDF5 obs keys."""


def train(args: argparse.Namespace) -> None:
    import torch

    threads = torch.set_num_threads
    threads(1)
    torch.set_num_threads = lambda _n: threads(1)  # robomimic's train() asks for 2; this machine's budget is 1

    import robomimic.utils.torch_utils as TorchUtils
    from robomimic.config import config_factory
    from robomimic.scripts.train import train as robomimic_train

    config = config_factory("bc")
    with config.values_unlocked():
        config.experiment.name = args.out.name
        config.experiment.validate = True
        config.experiment.rollout.enabled = False
        config.experiment.render_video = False
        config.experiment.logging.log_tb = False
        config.experiment.save.every_n_epochs = args.save_every
        config.experiment.save.on_best_validation = True
        config.experiment.save.on_best_rollout_success_rate = False
        config.train.data = str(args.demos.resolve())
        config.train.output_dir = str(args.out.parent.resolve())
        config.train.hdf5_filter_key = "train"
        config.train.hdf5_validation_filter_key = "valid"
        config.train.num_epochs = args.epochs
        config.train.cuda = False
        config.train.seed = args.seed
        config.observation.modalities.obs.low_dim = OBS_KEYS[args.task]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    (args.out.parent / f"{args.out.name}_command.txt").write_text(shlex.join([Path(sys.executable).name, *sys.argv]))
    robomimic_train(config, TorchUtils.get_torch_device(try_to_use_cuda=False))


def _linear_layers(module) -> list[tuple[np.ndarray, np.ndarray]]:
    import torch

    return [
        (m.weight.detach().cpu().numpy().astype(np.float64), m.bias.detach().cpu().numpy().astype(np.float64))
        for m in module.modules()
        if isinstance(m, torch.nn.Linear)
    ]


def export(args: argparse.Namespace) -> None:
    import robomimic.utils.file_utils as FileUtils
    import torch

    torch.set_num_threads(1)
    runs = sorted(args.run.glob("*/models"))
    if not runs:
        raise SystemExit(f"{args.run}: no robomimic run here (expected <run>/<timestamp>/models/*.pth)")
    models = runs[-1]
    out = args.out or args.run / "exported"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for ckpt in sorted(models.glob("*.pth")):
        policy, _ = FileUtils.policy_from_checkpoint(ckpt_path=str(ckpt), device=torch.device("cpu"), verbose=False)
        net = policy.policy.nets["policy"]
        keys = list(net.nets["encoder"].nets["obs"].obs_shapes.keys())
        shapes = {k: tuple(v) for k, v in net.nets["encoder"].nets["obs"].obs_shapes.items()}
        if net.nets["encoder"].nets["obs"].obs_nets.keys() and any(
            m is not None for m in net.nets["encoder"].nets["obs"].obs_nets.values()
        ):
            raise SystemExit(f"{ckpt}: the observation encoder is not a plain concatenation; cannot export")
        layers = _linear_layers(net.nets["mlp"]) + _linear_layers(net.nets["decoder"])
        # Reference: robomimic's own rollout policy on random observations near the demos' scale.
        ref_obs = {k: rng.normal(size=(16, *shapes[k])) * 0.5 for k in keys}
        policy.start_episode()
        ref_act = np.stack(
            [policy(ob={k: ref_obs[k][i] for k in keys}) for i in range(16)]
        )  # RolloutPolicy: np in, np out
        arrays = {f"w{i}": w for i, (w, _) in enumerate(layers)} | {f"b{i}": b for i, (_, b) in enumerate(layers)}
        arrays |= {f"ref_obs/{k}": v for k, v in ref_obs.items()}
        np.savez(
            out / f"{ckpt.stem}.npz",
            obs_keys=np.array(keys),
            n_layers=np.array(len(layers)),
            ref_act=ref_act,
            **arrays,
        )
        print(f"{ckpt.name} -> {out / (ckpt.stem + '.npz')}: keys {keys}, {len(layers)} linear layers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train robomimic's default BC on a demo file")
    t.add_argument("--task", choices=sorted(OBS_KEYS), required=True)
    t.add_argument("--demos", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True, help="run directory (robomimic adds a timestamped folder)")
    t.add_argument("--epochs", type=int, default=500)
    t.add_argument("--save-every", type=int, default=50, help="epochs between periodic checkpoints")
    t.add_argument("--seed", type=int, default=1, help="robomimic's default seed is 1")
    t.set_defaults(func=train)
    e = sub.add_parser("export", help="every checkpoint of a run as plain arrays (.npz)")
    e.add_argument("--run", type=Path, required=True)
    e.add_argument("--out", type=Path, help="default: <run>/exported")
    e.set_defaults(func=export)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
