"""The ``robot-il`` command line: record, demos, train, eval, run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from robot_il.errors import RobotILError


def _add_env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="sim:peg", help="HAL backend (default: sim:peg)")
    p.add_argument("--config", type=Path, help="YAML file of PegConfig fields (see robot_il/sim/config.py)")


def _make_env(args: argparse.Namespace, render: bool = False):
    from robot_il.config import load_yaml
    from robot_il.envs.insertion import PegInsertionEnv
    from robot_il.sim.config import PegConfig

    cfg = load_yaml(PegConfig, args.config) if args.config else PegConfig()
    return PegInsertionEnv(args.backend, cfg, render_mode="rgb_array" if render else None)


# record -------------------------------------------------------------------------------------------


def cmd_record(args: argparse.Namespace) -> int:
    if args.source == "expert":
        if args.backend != "sim:peg":
            raise RobotILError("--source expert records in simulation (--backend sim:peg)")
        from robot_il.record.expert import record_expert

        env = _make_env(args)
        names = record_expert(env, args.output, args.num_demos, seed=args.seed, keep_failures=args.keep_failures)
    elif args.source == "kinesthetic":
        if args.backend != "ros2":
            raise RobotILError("--source kinesthetic needs a real (or bridged) arm: --backend ros2")
        from robot_il.deploy.run import _make_env as make_backend_env
        from robot_il.record.kinesthetic import record_kinesthetic

        env = make_backend_env("ros2", args.backend_config, args.rate)
        with env.backend:
            names = record_kinesthetic(env, args.output, args.num_demos, seed=args.seed, max_seconds=args.max_seconds)
    else:
        raise RobotILError("--source teleop: no teleop device driver yet; use expert (sim) or kinesthetic (ros2)")
    env.close()
    print(f"recorded {len(names)} {args.source} demos into {args.output} ({names[0]} .. {names[-1]})")
    return 0


# demos --------------------------------------------------------------------------------------------


def cmd_demos_validate(args: argparse.Namespace) -> int:
    from robot_il.data import validate

    problems = validate(args.file)
    for p in problems:
        print(p)
    if problems:
        print(f"{args.file}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.file}: valid")
    return 0


def cmd_demos_info(args: argparse.Namespace) -> int:
    from robot_il.data import summary

    info = summary(args.file)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = info["rows_per_demo"]
    print(f"{info['file']}  ({info['size_bytes'] / 1e6:.2f} MB)")
    print(f"  env        {info['env']} on {info['backend']}")
    print(f"  demos      {info['demos']} (train {info['train']}, valid {info['valid']}), sources {info['sources']}")
    print(f"  content    {'states only' if info['state_only'] else 'states and actions'}, sparsity {info['sparsity']}")
    print(f"  rows/demo  min {rows['min']}, mean {rows['mean']:.1f}, max {rows['max']} ({info['samples']} in all)")
    if info["episode_seconds"]["mean"] is not None:
        print(f"  episodes   {info['episode_seconds']['mean']:.2f} s on average, {info['successes']} successful")
    return 0


def cmd_demos_sparsify(args: argparse.Namespace) -> int:
    from robot_il.data import sparsify

    out = sparsify(args.file, args.output, every=args.every, final_only=args.final_only)
    print(f"wrote {out}")
    return 0


def cmd_demos_strip(args: argparse.Namespace) -> int:
    from robot_il.data import strip_actions

    print(f"wrote {strip_actions(args.file, args.output)}")
    return 0


# train / eval -------------------------------------------------------------------------------------


def cmd_train_bc(args: argparse.Namespace) -> int:
    from robot_il.algos.bc import BCConfig, train_bc

    overrides = {
        k: v for k, v in (("max_steps", args.max_steps), ("lr", args.lr), ("seed", args.seed)) if v is not None
    }
    summary = train_bc(args.demos, args.out, BCConfig(**overrides))
    print(
        f"BC: {summary['steps']} steps ({summary['stopped_by']}), best validation NLL "
        f"{summary['best_valid_nll']:.3f}, {summary['wall_clock_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_train_gail(args: argparse.Namespace) -> int:
    from robot_il.algos.gail import PRESETS, train_gail_from_file

    pairs = (
        ("num_envs", args.envs),
        ("total_steps", args.steps),
        ("disc_input", args.disc_input),
        ("reward", args.reward),
        ("seed", args.seed),
    )
    overrides = {k: v for k, v in pairs if v is not None}
    summary = train_gail_from_file(args.demos, args.out, PRESETS[args.preset], args.state_only, overrides)
    c = summary["counters"]
    print(
        f"GAIL (D on {summary['disc_input']}): {c['env_steps']} env steps, {c['episodes']} episodes, final "
        f"evaluation success {summary['final_eval_success']:.0%}, {c['wall_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_train_gpril(args: argparse.Namespace) -> int:
    from robot_il.algos.gpril import PRESETS, train_gpril_from_file

    overrides = {
        k: v
        for k, v in (("iterations", args.iterations), ("num_actors", args.actors), ("seed", args.seed))
        if v is not None
    }
    summary = train_gpril_from_file(args.demos, args.out, PRESETS[args.preset], args.state_only, overrides)
    c = summary["counters"]
    print(
        f"GPRIL: {c['iteration']} iterations, {c['episodes']} practice episodes, final evaluation success "
        f"{summary['final_eval_success']:.0%}, {c['wall_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from robot_il.evaluation import evaluate_policy

    env = _make_env(args, render=args.video > 0)
    metrics = evaluate_policy(env, args.policy, args.episodes, args.seed, args.out, video_episodes=args.video)
    env.close()
    lo, hi = metrics["success_ci95"]
    print(
        f"{metrics['policy']}: success {metrics['success_rate']:.1%} (95% CI {lo:.1%}-{hi:.1%}) over "
        f"{metrics['episodes']} episodes, mean length {metrics['mean_episode_steps']:.0f} steps -> {metrics['out']}"
    )
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from robot_il.deploy.run import deploy

    realtime = args.realtime or args.backend != "sim:peg"  # hardware runs in real time, always
    if args.practice is not None:
        from robot_il.deploy.practice import PracticePaused, practice

        if args.log:
            raise RobotILError("--practice logs to <practice dir>/practice.h5; drop --log")
        try:
            summary = practice(
                args.policy,
                args.practice,
                out=args.practice_out,
                demos=args.demos,
                backend=args.backend,
                rate=args.rate,
                seed=args.seed,
                limits_path=args.limits,
                realtime=realtime,
                estop_keys=args.estop_keys,
                backend_config=args.backend_config,
                max_steps=args.max_steps,
            )
        except PracticePaused as err:
            print(f"practice paused: {err}", file=sys.stderr)
            return 3
        print(
            f"practice: {summary['done']}/{summary['target']} episodes, {summary['successes']} successful; "
            f"interventions {summary['interventions']}; policy and log in {Path(summary['log']).parent}"
        )
        return 0
    summaries = deploy(
        args.policy,
        args.backend,
        args.rate,
        args.episodes,
        args.seed,
        args.log,
        args.limits,
        realtime,
        args.estop_keys,
        args.backend_config,
        args.max_steps,
    )
    wins = sum(s["success"] for s in summaries)
    print(f"deploy: {wins}/{len(summaries)} successful" + (f"; log {args.log}" if args.log else ""))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from robot_il.pipeline import run_main_job

    run_main_job(Path(args.out), num_demos=args.demos, eval_episodes=args.episodes, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robot-il", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="the main job on the simulation: demos, training, evaluation, report")
    run.add_argument("--out", default="runs/main", help="output directory")
    run.add_argument("--demos", type=int, default=25, help="expert demos to record")
    run.add_argument("--episodes", type=int, default=100, help="evaluation episodes per policy")
    run.add_argument("--seed", type=int, default=0)
    run.set_defaults(func=cmd_run)

    rec = sub.add_parser("record", help="record demonstrations to HDF5")
    rec.add_argument("--backend", default="sim:peg", choices=["sim:peg", "ros2"])
    rec.add_argument("--config", type=Path, help="YAML file of PegConfig fields (sim)")
    rec.add_argument("--source", choices=["expert", "kinesthetic", "teleop"], default="expert")
    rec.add_argument("-n", "--num-demos", type=int, default=25)
    rec.add_argument("-o", "--output", type=Path, required=True, help="HDF5 file (appended to if it exists)")
    rec.add_argument("--seed", type=int, default=0, help="seed of the first episode; later ones count up")
    rec.add_argument("--keep-failures", action="store_true", help="also keep episodes the expert failed")
    rec.add_argument("--backend-config", type=Path, help="the ros2 backend's YAML (default: the sim bridge's)")
    rec.add_argument("--rate", type=float, default=20.0, help="recording rate for kinesthetic demos, Hz")
    rec.add_argument("--max-seconds", type=float, default=60.0, help="longest kinesthetic demo, s")
    rec.set_defaults(func=cmd_record)

    demos = sub.add_parser("demos", help="inspect and transform demo files")
    dsub = demos.add_subparsers(dest="demos_command", required=True, metavar="ACTION")
    v = dsub.add_parser("validate", help="check a file against the schema")
    v.add_argument("file", type=Path)
    v.set_defaults(func=cmd_demos_validate)
    i = dsub.add_parser("info", help="summarise a file")
    i.add_argument("file", type=Path)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_demos_info)
    s = dsub.add_parser("sparsify", help="keep every k-th state, or only the final state (state-only output)")
    s.add_argument("file", type=Path)
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--every", type=int)
    g.add_argument("--final-only", action="store_true")
    s.add_argument("-o", "--output", type=Path, required=True)
    s.set_defaults(func=cmd_demos_sparsify)
    st = dsub.add_parser("strip-actions", help="a state-only copy, as kinesthetic teaching records")
    st.add_argument("file", type=Path)
    st.add_argument("-o", "--output", type=Path, required=True)
    st.set_defaults(func=cmd_demos_strip)

    train = sub.add_parser("train", help="train a policy")
    tsub = train.add_subparsers(dest="algo", required=True, metavar="ALGO")
    bc = tsub.add_parser("bc", help="behavioural cloning")
    bc.add_argument("--demos", type=Path, required=True)
    bc.add_argument("--out", type=Path, required=True, help="run directory (a killed run resumes from it)")
    bc.add_argument("--max-steps", type=int)
    bc.add_argument("--lr", type=float)
    bc.add_argument("--seed", type=int)
    bc.set_defaults(func=cmd_train_bc)

    gp = tsub.add_parser("gpril", help="generative predecessor models (states only and sparse demos work)")
    gp.add_argument("--demos", type=Path, required=True)
    gp.add_argument("--out", type=Path, required=True, help="run directory (a killed run resumes from it)")
    gp.add_argument("--state-only", action="store_true", help="ignore demonstrated actions (beta_pi = 0)")
    gp.add_argument("--preset", choices=["fast", "peg_sim", "peg_real", "clip_sim"], default="fast")
    gp.add_argument("--iterations", type=int)
    gp.add_argument("--actors", type=int, help="actor processes (0: roll out in the learner's process)")
    gp.add_argument("--seed", type=int)
    gp.set_defaults(func=cmd_train_gpril)

    ga = tsub.add_parser("gail", help="GAIL baseline: PPO generator against a discriminator, N env processes")
    ga.add_argument("--demos", type=Path, required=True)
    ga.add_argument("--out", type=Path, required=True, help="run directory (a killed run resumes from it)")
    ga.add_argument("--state-only", action="store_true", help="ignore demonstrated actions: D on (s, s') or s")
    ga.add_argument("--preset", choices=["fast", "peg_sim", "clip_sim"], default="fast")
    ga.add_argument("--envs", type=int, help="environment processes (paper: 16)")
    ga.add_argument("--steps", type=int, help="environment steps to train for, all envs together")
    ga.add_argument("--disc-input", choices=["auto", "sa", "ss", "s"], help="what D sees (default: auto)")
    ga.add_argument("--reward", choices=["gail", "logit"], help="-log(1 - D), or the lower-variance logit")
    ga.add_argument("--seed", type=int)
    ga.set_defaults(func=cmd_train_gail)

    ev = sub.add_parser("eval", help="success rate of a trained policy")
    _add_env_args(ev)
    ev.add_argument("--policy", type=Path, required=True, help="run directory or policy.pt")
    ev.add_argument("--episodes", type=int, default=100)
    ev.add_argument("--seed", type=int, default=10_000, help="seed of the first episode (demos use 0..)")
    ev.add_argument("--video", type=int, default=0, help="episodes to render into a video")
    ev.add_argument("--out", type=Path, help="output directory (default: <policy run>/eval)")
    ev.set_defaults(func=cmd_eval)

    dep = sub.add_parser("deploy", help="run a policy through the safety filter, logging to HDF5")
    dep.add_argument("--backend", default="sim:peg", choices=["sim:peg", "ros2"])
    dep.add_argument("--backend-config", type=Path, help="the ros2 backend's YAML (default: the sim bridge's)")
    dep.add_argument("--max-steps", type=int, help="cut episodes short (default: the task's 50 s)")
    dep.add_argument("--policy", type=Path, required=True, help="run directory or policy.pt")
    dep.add_argument("--rate", type=float, default=20.0, help="control rate, Hz")
    dep.add_argument("--episodes", type=int, default=1)
    dep.add_argument("--seed", type=int, default=30_000)
    dep.add_argument("--limits", type=Path, help="joint_limits.yaml-style safety limits (default: the sim cell's)")
    dep.add_argument("--log", type=Path, help="HDF5 file for the rollouts and interventions")
    dep.add_argument("--realtime", action="store_true", help="hold the rate in wall-clock time (always on hardware)")
    dep.add_argument("--estop-keys", action="store_true", help="Enter latches the e-stop, r + Enter releases it")
    dep.add_argument(
        "--practice",
        type=int,
        metavar="N",
        help="GPRIL: run N self-supervised practice episodes (safe reset between them) and keep learning; "
        "running it again continues where it stopped",
    )
    dep.add_argument("--practice-out", type=Path, help="practice directory (default: <policy run>/practice)")
    dep.add_argument("--demos", type=Path, help="practice: the demos to keep imitating (default: the run's own)")
    dep.set_defaults(func=cmd_deploy)

    ex = sub.add_parser("rollout", help="roll out the scripted expert and report its success")
    _add_env_args(ex)
    ex.add_argument("--episodes", type=int, default=50)
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--video", type=int, default=0, help="episodes to render into a video")
    ex.add_argument("--out", type=Path, default=Path("runs/expert"))
    ex.set_defaults(func=lambda a: cmd_eval(argparse.Namespace(**{**vars(a), "policy": "expert"})))

    gate = sub.add_parser("gate", help="the ROS 2 command gate: release it after a stop, or latch an e-stop")
    gate.add_argument("action", choices=["release", "estop"])
    gate.add_argument("--estop-service", default="/robot_il/estop", help="the e-stop Trigger service")
    gate.add_argument("--timeout", type=float, default=5.0, help="how long to wait for the gate, s")
    gate.set_defaults(func=cmd_gate)

    backends = sub.add_parser("backends", help="list the registered HAL backends")
    backends.set_defaults(func=lambda _a: print("\n".join(__import__("robot_il.hal").hal.backend_names())) or 0)
    return parser


def cmd_gate(args: argparse.Namespace) -> int:
    from robot_il.ros2.command_gate import RELEASE_SERVICE, call_gate_service

    service = RELEASE_SERVICE if args.action == "release" else args.estop_service
    print(f"{service}: {call_gate_service(service, args.timeout)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 a user error (one line, no traceback), 3 practice paused, 128 + N stopped by
    signal N (130 Ctrl-C, 143 SIGTERM). A process that moves the arm sends zero on each of them."""
    from robot_il.deploy.exits import Stopped, signals_raise_stopped

    args = build_parser().parse_args(argv)
    try:
        with signals_raise_stopped():
            return int(args.func(args))
    except RobotILError as err:
        print(f"robot-il: error: {err}", file=sys.stderr)
        return 2
    except Stopped as stop:
        print(f"robot-il: {stop}", file=sys.stderr)
        return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())
