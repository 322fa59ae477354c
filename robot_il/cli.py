"""The ``robot-il`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from robot_il.errors import RobotILError


def _add_env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="sim:peg", help="HAL backend (default: sim:peg)")
    p.add_argument("--config", type=Path, help="YAML file of PegConfig fields (see robot_il/sim/config.py)")


def _make_env(args: argparse.Namespace, render: bool):
    from robot_il.config import load_yaml
    from robot_il.envs.insertion import PegInsertionEnv
    from robot_il.sim.config import PegConfig

    cfg = load_yaml(PegConfig, args.config) if args.config else PegConfig()
    return PegInsertionEnv(args.backend, cfg, render_mode="rgb_array" if render else None)


def cmd_rollout(args: argparse.Namespace) -> int:
    """Roll out the scripted expert; write metrics.json, a plot and a video."""
    from robot_il.report import plot_episodes
    from robot_il.rollout import evaluate, save_video, summarize
    from robot_il.sim.expert import ScriptedPegExpert

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = _make_env(args, render=args.video_episodes > 0)
    expert = ScriptedPegExpert(env.task.cfg)
    t0 = time.perf_counter()
    episodes = evaluate(
        env,
        lambda obs, _vec: expert(obs),
        range(args.seed, args.seed + args.episodes),
        render_first=args.video_episodes,
        progress="expert rollouts",
    )
    wall = time.perf_counter() - t0
    metrics = {"policy": "scripted_expert", "backend": args.backend, "seed": args.seed, **summarize(episodes)}
    metrics["wall_clock_s"] = wall
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_episodes(episodes, out / "expert_episodes.png", "scripted expert")
    frames = [f for e in episodes[: args.video_episodes] for f in e.frames]
    if frames:
        save_video(frames, out / "expert_rollouts.mp4", fps=env.metadata["render_fps"])
    env.close()
    lo, hi = metrics["success_ci95"]
    print(
        f"scripted expert: {metrics['successes']}/{metrics['episodes']} successes "
        f"({metrics['success_rate']:.1%}, 95% CI {lo:.1%}-{hi:.1%}), "
        f"mean length {metrics['mean_episode_steps']:.1f} steps, {wall:.1f} s wall clock"
    )
    print(f"report: {out}/metrics.json, {out}/expert_episodes.png" + (", expert_rollouts.mp4" if frames else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robot-il", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="the main job on the simulation (currently: scripted expert rollouts)")
    rollout = sub.add_parser("rollout", help="roll out the scripted expert and report its success")
    for p, out in ((run, "runs/main"), (rollout, "runs/expert")):
        _add_env_args(p)
        p.add_argument("--episodes", type=int, default=50)
        p.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed+i")
        p.add_argument("--video-episodes", type=int, default=3, help="episodes to render into the video (0: none)")
        p.add_argument("--out", default=out, help="output directory")
        p.set_defaults(func=cmd_rollout)

    backends = sub.add_parser("backends", help="list the registered HAL backends")
    backends.set_defaults(func=lambda _a: print("\n".join(__import__("robot_il.hal").hal.backend_names())) or 0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RobotILError as err:
        print(f"robot-il: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
