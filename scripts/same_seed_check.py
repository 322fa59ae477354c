"""Same seed, same run: hashes of tiny training runs of every learner with a training loop, to show that a
refactoring changed no numbers.

Each case trains a tiny run (the toy reaching task, seconds each) twice: straight through, and in two halves
(the first half's checkpoint given the full run's config, then resumed, as ``robot-il train`` resumes a run
directory). Hashed: every tensor and value of policy.pt, policy_best.pt and checkpoint.pt, and train_log.json,
wall-clock fields left out everywhere. A case runs in its own process, so that no case sees another's global
random state.

    python scripts/same_seed_check.py --out before.json --keep-halves /tmp/halves   # on the old code
    python scripts/same_seed_check.py --out after.json --compare before.json         # on the new code
    python scripts/same_seed_check.py --out old_ckpt.json --compare before.json --from-halves /tmp/halves

``--from-halves`` resumes the first halves that another version of the code wrote (its checkpoint files), so
the resumed hashes say whether old checkpoints still load and continue the same. Hashes depend on the
machine's torch build: compare runs of one machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

WALL_CLOCK = "wall_s"
ADDED_AT_DEFAULT = {
    "eval_rotate": False,
    "policy_components": 1,
    "idm_explore_steps": 0,
    "idm_steps": 4_000,
    "kl_samples": 8,
    "disc_max_accuracy": 0.0,
}
"""Config fields added since the reference hashes: left out where they hold their default, since a new switch,
off, must change no number (with it, every saved config differs by one key)."""
FILES = ("policy.pt", "policy_best.pt", "checkpoint.pt", "train_log.json")


# Hashing ---------------------------------------------------------------------------------------------


def _strip(value: Any) -> Any:
    """``value`` without wall-clock fields, JSON strings parsed (checkpoints keep counters as JSON)."""
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if k != WALL_CLOCK and not (k in ADDED_AT_DEFAULT and v == ADDED_AT_DEFAULT[k])
        }
    if isinstance(value, list | tuple):
        return [_strip(v) for v in value]
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _strip(json.loads(value))
        except ValueError:
            return value
    return value


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"tensor{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, np.ndarray):
        h.update(f"array{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        h.update(b"{")
        for k in sorted(value, key=str):
            h.update(repr(k).encode())
            _feed(h, value[k])
        h.update(b"}")
    elif isinstance(value, list | tuple):
        h.update(b"[")
        for v in value:
            _feed(h, v)
        h.update(b"]")
    else:
        h.update(repr(value).encode())


def digest(value: Any) -> str:
    h = hashlib.sha256()
    _feed(h, _strip(value))
    return h.hexdigest()[:16]


def hash_run(path: Path) -> dict[str, str]:
    out = {}
    for name in FILES:
        f = path / name
        if not f.exists():
            out[name] = "missing"
        elif name.endswith(".json"):
            out[name] = digest(json.loads(f.read_text()))
        else:
            out[name] = digest(torch.load(f, map_location="cpu", weights_only=True))
    return out


# The toy task's demos --------------------------------------------------------------------------------


def toy_expert_demos(n: int = 8, seed: int = 0, with_actions: bool = True):
    """Straight to the goal at full speed (as tests/test_gail.py's)."""
    import gymnasium

    import robot_il  # noqa: F401
    from robot_il.algos.common import DemoData
    from robot_il.envs.toy import GOAL, STEP

    env = gymnasium.make("robot_il/PointReach-v0")
    states, actions = [], []
    for k in range(n):
        obs, _ = env.reset(seed=seed + k)
        s, a, done = [obs], [], False
        while not done:
            act = np.clip(GOAL - obs, -STEP, STEP).astype(np.float32)
            obs, _, terminated, truncated, _ = env.step(act)
            s.append(obs)
            a.append(act)
            done = terminated or truncated
        states.append(np.array(s, np.float32))
        actions.append(np.array(a, np.float32))
    bound = np.full(2, STEP, np.float32)
    return DemoData(states, -bound, bound, actions if with_actions else None, dense=True)


def toy_final_states(n: int = 10):
    """Final states only (as tests/test_gpril.py's): sparse demos without actions."""
    from robot_il.algos.common import DemoData
    from robot_il.envs.toy import goal_states

    bound = np.full(2, 0.1, dtype=np.float32)
    goals = goal_states(n, np.random.default_rng(0))
    return DemoData(states=[g[None] for g in goals], action_low=-bound, action_high=bound, dense=False)


def one_demo():
    """One expert demo from the far left on the axis (as tests/test_oracle_il.py's)."""
    from robot_il.algos.common import DemoData
    from robot_il.envs.toy import PointReachEnv

    env = PointReachEnv()
    env.reset(seed=0)
    env.set_state((np.array([-1.0, 0.0]), 0))
    states, actions, done = [env.get_state()[0].astype(np.float32)], [], False
    while not done:
        a = env.expert_action()
        obs, _, term, trunc, _ = env.step(a)
        states.append(obs)
        actions.append(a)
        done = term or trunc
    bound = np.full(2, 0.1, dtype=np.float32)
    env_args = {"env_name": "robot_il/PointReach-v0"}
    return DemoData([np.asarray(states)], -bound, bound, [np.asarray(actions)], dense=True, env_args=env_args)


# The cases -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    train: Callable[[Any, Path], dict]
    """(config, out) -> summary."""
    full: Any
    half: Any


PEG_DEMOS = Path(__file__).parents[1] / "demos" / "peg_25.h5"


def _factory():
    from robot_il.algos.actors import EnvFactory

    return EnvFactory("robot_il/PointReach-v0")


def peg_demos():
    from robot_il.algos.common import DemoData

    return DemoData.load(PEG_DEMOS)


def _gail_case(demos_fn, learner: str, half_steps: int, peg: bool = False, **kw) -> Case:
    from robot_il.algos.gail import GAILConfig, train_gail

    base = {
        "num_envs": 2,
        "n_steps": 64,
        "total_steps": 2 * half_steps,
        "policy_hidden": (32, 32),
        "critic_hidden": (32, 32),
        "sigma_max": 0.05,
        "learning_rate": 1e-3,
        "disc_lr": 1e-3,
        "gamma": 0.99,
        "eval_every": 2,
        "eval_episodes": 3,
        "vec_env": "dummy",
        "minibatch_size": 64,
        "disc_batch_size": 64,
        "critic_epochs": 2,
        "ppo_epochs": 2,
        **kw,
    }
    if learner == "airl":
        from robot_il.algos.airl import AIRLConfig, train_airl

        cls, fn = AIRLConfig, train_airl
    else:
        cls, fn = GAILConfig, train_gail
    full = cls(**base)

    def train(cfg, out):
        demos = demos_fn()
        factory = demos.env_factory() if peg else _factory()
        return fn(demos, demos.env_args, factory, out, cfg, progress=False)

    return Case(train, full, dataclasses.replace(full, total_steps=half_steps))


def _mgail_case(peg: bool = False, **kw) -> Case:
    from robot_il.algos.mgail import MGAILConfig, train_mgail

    settings = dict(
        iterations=4,
        episodes_per_iteration=2,
        policy_hidden=(32, 32),
        sigma_max=0.05,
        model_hidden=16,
        model_lr=1e-3,
        model_steps=4,
        model_batch=16,
        disc_hidden=(32, 32),
        disc_steps=3,
        disc_batch=64,
        policy_steps=2,
        policy_batch=16,
        unroll=4,
        policy_lr=3e-4,
        bc_warm_start_steps=20,
        prep_iterations=1,
        held_out_every=3,
        eval_every=2,
        eval_episodes=3,
    )
    full = MGAILConfig(**{**settings, **kw})

    def train(cfg, out):
        demos = peg_demos() if peg else toy_expert_demos()
        return train_mgail(demos, demos.env_factory() if peg else _factory(), out, cfg, progress=False)

    return Case(train, full, dataclasses.replace(full, iterations=full.iterations // 2))


def _gpril_case(**kw) -> Case:
    from robot_il.algos.gpril import GPRILConfig, train_gpril

    full = GPRILConfig(
        beta_pi=0.0,
        flow_hidden=(16, 16),
        flow_steps=5,
        policy_steps=5,
        flow_lr=1e-3,
        flow_l2=0.0,
        policy_hidden=(32, 32),
        policy_lr=1e-3,
        sigma_max=0.05,
        generated_pool=64,
        batch_size=32,
        replay_size=2000,
        iterations=4,
        episodes_per_iteration=2,
        eval_every=2,
        eval_episodes=3,
        num_actors=0,
        **kw,
    )

    def train(cfg, out):
        return train_gpril(toy_final_states(), {"obs_layout": []}, _factory(), out, cfg, progress=False)

    return Case(train, full, dataclasses.replace(full, iterations=2))


def _dagger_case(components: int) -> Case:
    from robot_il.algos.dagger import DAggerConfig, train_dagger

    full = DAggerConfig(
        rounds=2, episodes_per_round=3, bc_steps=50, train_steps=50, lr=1e-3, l2=1e-4, hidden=(32, 32),
        sigma_max=0.05, eval_episodes=3, eval_seed=500, batch_size=64, policy_components=components,
    )  # fmt: skip

    def train(cfg, out):
        return train_dagger(one_demo(), _factory(), out, cfg, progress=False)

    return Case(train, full, dataclasses.replace(full, rounds=1))


def _aggrevated_case(update: str) -> Case:
    from robot_il.algos.aggrevated import AggreVaTeDConfig, train_aggrevated

    full = AggreVaTeDConfig(
        iterations=2, episodes_per_iteration=2, states_per_episode=3, actions_per_state=2, bc_steps=50,
        bc_lr=1e-3, hidden=(32, 32), sigma_max=0.05, update=update, max_kl=0.05, eval_every=1, eval_episodes=3,
        eval_seed=500, failure_penalty=20.0, alpha0=0.5,
    )  # fmt: skip

    def train(cfg, out):
        return train_aggrevated(one_demo(), _factory(), out, cfg, progress=False)

    return Case(train, full, dataclasses.replace(full, iterations=1))


def cases() -> dict[str, Callable[[], Case]]:
    return {
        # GAIL (sa), TRPO, the absorbing state, a gradient penalty, a BC start, the BC anchor, a held actor.
        "gail": lambda: _gail_case(
            toy_expert_demos,
            "gail",
            256,
            terminal="absorbing",
            disc_grad_penalty=10.0,
            disc_epochs=2,
            bc_warm_start_steps=20,
            bc_anchor_steps=2,
            critic_warmup_rollouts=1,
        ),
        # GAIL state-only (ss), PPO, the logit reward, no reward normalisation.
        "gail_state_only": lambda: _gail_case(
            lambda: toy_expert_demos(with_actions=False),
            "gail",
            256,
            generator="ppo",
            reward="logit",
            reward_norm=False,
            ent_coef=1e-3,
            terminal="none",
        ),
        # GAIL on final states only (s): the normaliser fitted on practice too.
        "gail_sparse": lambda: _gail_case(toy_final_states, "gail", 256, norm_practice_steps=64, terminal="all"),
        # The RL loop alone on the env's reward, D unused.
        "gail_env_reward": lambda: _gail_case(toy_expert_demos, "gail", 256, reward="env", terminal="all"),
        # AIRL: f - log π, g(s), successes terminal (h dropped there), a gradient penalty on f's inputs.
        "airl": lambda: _gail_case(
            toy_expert_demos, "airl", 256, terminal="all", disc_grad_penalty=10.0, bc_warm_start_steps=20
        ),
        # AIRL: the learnt reward g(s, a) alone, PPO.
        "airl_g_sa": lambda: _gail_case(toy_expert_demos, "airl", 256, reward="g", reward_input="sa", generator="ppo"),
        # MGAIL: the policy's own σ, D's actions by the bounds, a BC term, the trust region.
        "mgail": lambda: _mgail_case(
            noise_intensity=0.0, disc_action_norm="bounds", trust_region=0.01, bc_weight=0.5, disc_recent_episodes=0
        ),
        # MGAIL: the fixed noise, sampled evaluation, noisy demonstrated actions for D.
        "mgail_noise": lambda: _mgail_case(noise_intensity=6.0, sample_actions=True, disc_demo_noise=True),
        # The peg task (MuJoCo): its end reasons (workspace exits) and observation layout.
        "gail_peg": lambda: _gail_case(
            peg_demos,
            "gail",
            128,
            peg=True,
            n_steps=64,
            eval_episodes=1,
            bc_warm_start_steps=50,
            terminal="absorbing",
        ),
        "mgail_peg": lambda: _mgail_case(peg=True, iterations=2, episodes_per_iteration=1, eval_episodes=1),
        "gpril": lambda: _gpril_case(ema_decay=0.9, sample_actions=True, replay_sampling="episode"),
        "dagger": lambda: _dagger_case(1),
        "dagger_mixture": lambda: _dagger_case(2),
        "aggrevated": lambda: _aggrevated_case("regular"),
        "aggrevated_natural": lambda: _aggrevated_case("natural"),
    }


def run_case(name: str, workdir: Path, from_halves: Path | None, keep_halves: Path | None) -> dict[str, Any]:
    from robot_il.checkpoint import CHECKPOINT_FILE, config_dict, save_atomic

    torch.set_num_threads(1)
    case = cases()[name]()
    straight = workdir / "straight"
    case.train(case.full, straight)
    halves = workdir / "halves"
    if from_halves is not None:
        shutil.copytree(from_halves / name, halves)
    else:
        case.train(case.half, halves)
        if keep_halves is not None:
            shutil.copytree(halves, keep_halves / name, dirs_exist_ok=True)
    first_half = hash_run(halves)
    # Resume the way `robot-il train` resumes a run directory, given the full run's config.
    state = torch.load(halves / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    state["config"] = json.dumps(config_dict(case.full))
    save_atomic(state, halves / CHECKPOINT_FILE)
    case.train(case.full, halves)
    return {"straight": hash_run(straight), "first_half": first_half, "resumed": hash_run(halves)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the hashes here (JSON)")
    parser.add_argument("--compare", type=Path, help="hashes of another version of the code to compare with")
    parser.add_argument("--only", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--keep-halves", type=Path, help="keep each case's first-half run directory here")
    parser.add_argument("--from-halves", type=Path, help="resume the first halves kept here instead of training them")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # one case, in this process
        print(json.dumps(run_case(args.case, args.workdir, args.from_halves, args.keep_halves)))
        return 0
    names = [n for n in args.only.split(",") if n] or list(cases())
    results: dict[str, Any] = {"torch": torch.__version__, "cases": {}}
    for name in names:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"same_seed_{name}_") as tmp:
            cmd = [sys.executable, __file__, "--case", name, "--workdir", tmp]
            for flag, value in (("--from-halves", args.from_halves), ("--keep-halves", args.keep_halves)):
                if value is not None:
                    cmd += [flag, str(value)]
            done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: FAILED\n{done.stderr[-3000:]}", file=sys.stderr)
            results["cases"][name] = {"error": done.stderr[-500:]}
            continue
        results["cases"][name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    if args.compare is None:
        return 0
    reference = json.loads(args.compare.read_text())["cases"]
    same = True
    for name, got in results["cases"].items():
        want = reference.get(name)
        for run in ("straight", "first_half", "resumed"):
            for f in FILES:
                a = (want or {}).get(run, {}).get(f)
                b = got.get(run, {}).get(f)
                if a != b:
                    same = False
                    print(f"DIFFERENT {name} {run} {f}: {a} -> {b}")
        if want is not None and want == got:
            print(f"same      {name}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
