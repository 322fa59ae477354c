"""The ``robot-il`` command line: record, demos, train, eval, deploy, practice, run.

The same names mean the same thing in every verb: ``--demos`` is a demo file,
``--out`` (``-o``) what a verb writes, ``--seed`` the first episode's seed,
``--episodes`` how many episodes, ``--config`` a YAML of the verb's config
dataclass. ``train`` takes one flag per field of the algorithm's config
(:func:`robot_il.config.add_config_flags`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from robot_il.config import add_config_flags, build_config, given_flags, read_yaml
from robot_il.errors import RobotILError

TASKS = ("peg", "clip")
"""The registered tasks (robot_il.tasks), listed here so that --help works without importing them."""


def _add_task_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task", choices=TASKS, default="peg", help="the cell: peg insertion, or the elastic clip (default: peg)"
    )


def _add_env_args(p: argparse.ArgumentParser) -> None:
    _add_task_arg(p)
    p.add_argument("--backend", help="HAL backend (default: the task's simulation, sim:peg or sim:clip)")
    p.add_argument(
        "--config", type=Path, help="YAML file of the task's config fields (PegConfig or ClipConfig, robot_il/cell/)"
    )


def _backend(args: argparse.Namespace) -> str:
    """--backend, or the task's simulated backend."""
    from robot_il.tasks import task_entry

    return args.backend or task_entry(args.task).backend


def _make_env(args: argparse.Namespace, render: bool = False):
    from robot_il.config import load_yaml
    from robot_il.envs import make_task_env
    from robot_il.tasks import task_entry

    config_class = task_entry(args.task).config_class()
    cfg = load_yaml(config_class, args.config) if args.config else config_class()
    return make_task_env(args.task, backend=_backend(args), config=cfg, render_mode="rgb_array" if render else None)


# record -------------------------------------------------------------------------------------------


def cmd_record(args: argparse.Namespace) -> int:
    if args.source == "teleop" or args.gui or args.terminal:
        return _record_interactive(args)
    if args.source == "expert":
        if not _backend(args).startswith("sim:"):
            raise RobotILError(f"--source expert records in simulation (--backend sim:{args.task})")
        from robot_il.record.expert import record_expert
        from robot_il.tasks import task_entry

        env = _make_env(args)
        expert = task_entry(args.task).make_expert(env.task.cfg)
        names = record_expert(
            env, args.out, args.num_demos, seed=args.seed, expert=expert, keep_failures=args.keep_failures
        )
    elif args.source == "kinesthetic":
        if args.backend != "ros2":
            raise RobotILError("--source kinesthetic needs a real (or bridged) arm: --backend ros2")
        from robot_il.deploy.run import _make_env as make_backend_env
        from robot_il.record.kinesthetic import record_kinesthetic

        env = make_backend_env("ros2", args.backend_config, args.rate, args.task)
        with env.backend:
            names = record_kinesthetic(env, args.out, args.num_demos, seed=args.seed, max_seconds=args.max_seconds)
    env.close()
    print(f"recorded {len(names)} {args.source} demos into {args.out} ({names[0]} .. {names[-1]})")
    return 0


def _record_interactive(args: argparse.Namespace) -> int:
    """Teleop or kinesthetic demos that a person starts, keeps and discards: the window (default) or the
    terminal. Teleop commands go through the deploy session's safety filter."""
    if args.source == "expert":
        raise RobotILError(
            "--gui and --terminal record teleop or kinesthetic demos; the scripted expert as a "
            "teleop device: --source teleop --device scripted"
        )
    if args.source == "kinesthetic" and args.backend != "ros2":
        raise RobotILError("--source kinesthetic needs a real (or bridged) arm: --backend ros2")
    if args.config is not None:
        raise RobotILError(
            "--config applies to --source expert; interactive recording uses the cell of the "
            "deploy session (--backend-config for ros2, --rate)"
        )
    gui = not args.terminal
    if gui:
        from robot_il.record.gui import run_gui  # before connecting: a missing PySide6 is one line
    from robot_il.deploy.run import open_session
    from robot_il.record.recorder import Recorder
    from robot_il.record.speech import Speaker
    from robot_il.record.teleop import KeyboardTeleop, open_device
    from robot_il.record.terminal import run_terminal

    with open_session(args.backend, args.rate, args.limits, args.backend_config, task=args.task) as session:
        device = open_device(args.device, session.task.cfg, args.speed, task=session.env.env_id)
        try:
            recorder = Recorder(
                session,
                args.out,
                mode="kinesthetic" if args.source == "kinesthetic" else "teleop",
                device=device,
                target=args.num_demos,
                seed=args.seed,
                only_successes=args.only_successes,
                auto_keep=args.auto_keep,
                auto_start=args.auto_start,
                realtime=args.realtime,
                max_seconds=args.max_seconds,
                speaker=Speaker(enabled=args.speech),
            )
            keyboard = device if isinstance(device, KeyboardTeleop) else None
            if gui:
                code = run_gui(recorder, keyboard, close_when_done=args.auto_start and args.auto_keep)
            else:
                code = run_terminal(recorder, keyboard)
        finally:
            device.close()
    s = recorder.status
    print(f"{s.kept} demos in {args.out} ({s.discarded} discarded this session)")
    return code


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

    out = sparsify(args.file, args.out, every=args.every, final_only=args.final_only)
    print(f"wrote {out}")
    return 0


def cmd_demos_strip(args: argparse.Namespace) -> int:
    from robot_il.data import strip_actions

    print(f"wrote {strip_actions(args.file, args.out)}")
    return 0


# train / eval -------------------------------------------------------------------------------------


FLAG_ALIASES = {
    "gpril": {"num_actors": ["--actors"]},
    "gail": {"num_envs": ["--envs"], "total_steps": ["--steps"]},
    "airl": {"num_envs": ["--envs"], "total_steps": ["--steps"]},
}
"""Short names the train verbs took before every config field was a flag; they still work."""


def _algo(name: str) -> tuple[type, dict[str, Any] | None]:
    """The config dataclass of a learner and its presets (None: the dataclass's defaults are the only ones)."""
    if name == "bc":
        from robot_il.algos.bc import BCConfig

        return BCConfig, None
    if name == "gpril":
        from robot_il.algos.gpril import PRESETS, GPRILConfig

        return GPRILConfig, PRESETS
    if name == "dagger":
        from robot_il.algos.dagger import DAggerConfig

        return DAggerConfig, None
    if name == "aggrevated":
        from robot_il.algos.aggrevated import AggreVaTeDConfig

        return AggreVaTeDConfig, None
    if name == "mgail":
        from robot_il.algos.mgail import PRESETS as MGAIL_PRESETS
        from robot_il.algos.mgail import MGAILConfig

        return MGAILConfig, MGAIL_PRESETS
    if name == "airl":
        from robot_il.algos.airl import PRESETS as AIRL_PRESETS
        from robot_il.algos.airl import AIRLConfig

        return AIRLConfig, AIRL_PRESETS
    from robot_il.algos.gail import PRESETS, GAILConfig

    return GAILConfig, PRESETS


def train_config(args: argparse.Namespace) -> Any:
    """The config ``robot-il train ALGO ...`` trains with: the preset <- ``--config`` YAML <- the flags given."""
    cls, presets = _algo(args.algo)
    return build_config(
        cls,
        preset=presets[args.preset] if presets else None,
        config_file=args.config,
        flags=given_flags(cls, args),
    )


def _user_settings(args: argparse.Namespace, cfg: Any) -> dict[str, Any]:
    """The fields the user set (in the YAML or as flags), with their values: what a learner must not override."""
    cls, _ = _algo(args.algo)
    keys = {*(read_yaml(args.config) if args.config else {}), *given_flags(cls, args)}
    return {k: getattr(cfg, k) for k in keys}


def _add_train_args(p: argparse.ArgumentParser, algo: str) -> None:
    """The arguments of ``train ALGO``: added on first use, as the config classes import torch (seconds)."""
    cls, presets = _algo(algo)
    p.add_argument("--demos", type=Path, required=True, metavar="FILE", help="demo file (HDF5)")
    p.add_argument(
        "--out", "-o", type=Path, required=True, metavar="DIR", help="run directory (a killed run resumes from it)"
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="YAML",
        help=f"YAML file of {cls.__name__} fields, over the {'preset' if presets else 'defaults'}; flags override it",
    )
    defaults = None
    if presets:
        p.add_argument(
            "--preset",
            choices=sorted(presets),
            default="fast",
            help="starting values of every field (default: fast; the defaults shown below are fast's)",
        )
        defaults = presets["fast"]
        what = "beta_pi = 0" if algo == "gpril" else "D on (s, s') or s"
        if algo not in ("airl", "mgail"):  # AIRL's D needs log π of the demonstrated actions, MGAIL's D(s, a)
            p.add_argument("--state-only", action="store_true", help=f"ignore demonstrated actions ({what})")
    group = p.add_argument_group(f"{cls.__name__} (one flag per field; see {cls.__module__})")
    add_config_flags(group, cls, defaults=defaults, aliases=FLAG_ALIASES.get(algo))


def cmd_train_bc(args: argparse.Namespace) -> int:
    from robot_il.algos.bc import train_bc

    cfg = train_config(args)
    summary = train_bc(args.demos, args.out, cfg)
    kept = (
        f"validation success {summary['best_eval_success']:.0%}"
        if summary["selected_by"] == "success"
        else f"validation NLL {summary['best_valid_nll']:.3f}"
    )
    print(
        f"BC: {summary['steps']} steps ({summary['stopped_by']}), kept step {summary['best_step']} "
        f"({kept}, acting with its {summary['act']}), {summary['wall_clock_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_train_gail(args: argparse.Namespace) -> int:
    from robot_il.algos.gail import train_gail_from_file

    cfg = train_config(args)
    summary = train_gail_from_file(args.demos, args.out, cfg, args.state_only)
    c = summary["counters"]
    print(
        f"GAIL (D on {summary['disc_input']}): {c['env_steps']} env steps, {c['episodes']} episodes, final "
        f"evaluation success {summary['final_eval_success']:.0%}, {c['wall_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_train_airl(args: argparse.Namespace) -> int:
    from robot_il.algos.airl import train_airl_from_file

    cfg = train_config(args)
    summary = train_airl_from_file(args.demos, args.out, cfg)
    c = summary["counters"]
    print(
        f"AIRL (g on {summary['disc_input']}): {c['env_steps']} env steps, {c['episodes']} episodes, final "
        f"evaluation success {summary['final_eval_success']:.0%}, {c['wall_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_train_mgail(args: argparse.Namespace) -> int:
    from robot_il.algos.mgail import train_mgail_from_file

    cfg = train_config(args)
    summary = train_mgail_from_file(args.demos, args.out, cfg)
    c = summary["counters"]
    print(
        f"MGAIL: {c['iteration']} iterations, {c['env_steps']} env steps, {c['episodes']} episodes, final "
        f"evaluation success {summary['final_eval_success']:.0%}, {c['wall_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_train_gpril(args: argparse.Namespace) -> int:
    from robot_il.algos.gpril import train_gpril_from_file

    cfg = train_config(args)
    # What the user set is passed as overrides too, so that the learner's own choices for sparse demos
    # (norm_episodes) give way to it.
    summary = train_gpril_from_file(args.demos, args.out, cfg, args.state_only, _user_settings(args, cfg))
    c = summary["counters"]
    print(
        f"GPRIL: {c['iteration']} iterations, {c['episodes']} practice episodes, final evaluation success "
        f"{summary['final_eval_success']:.0%}, {c['wall_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_train_dagger(args: argparse.Namespace) -> int:
    from robot_il.algos.dagger import train_dagger_from_file

    summary = train_dagger_from_file(args.demos, args.out, train_config(args))
    c = summary["counters"]
    print(
        f"DAgger: {c['round']} rounds, {c['env_steps']} env steps, {c['expert_queries']} expert queries, final "
        f"evaluation success {summary['final_eval_success']:.0%}, {c['wall_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_train_aggrevated(args: argparse.Namespace) -> int:
    from robot_il.algos.aggrevated import train_aggrevated_from_file

    summary = train_aggrevated_from_file(args.demos, args.out, train_config(args))
    c = summary["counters"]
    print(
        f"AggreVaTeD ({summary['config']['update']}): {c['iteration']} iterations, {c['env_steps']} env steps, "
        f"{c['expert_queries']} expert queries, final evaluation success {summary['final_eval_success']:.0%}, "
        f"{c['wall_s']:.0f} s -> {args.out}/policy.pt"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from robot_il.evaluation import evaluate_policy

    env = _make_env(args, render=args.video > 0)
    metrics = evaluate_policy(
        env,
        args.policy,
        args.episodes,
        args.seed,
        args.out,
        video_episodes=args.video,
        act_mode=getattr(args, "act", None),
    )
    env.close()
    lo, hi = metrics["success_ci95"]
    print(
        f"{metrics['policy']}: success {metrics['success_rate']:.1%} (95% CI {lo:.1%}-{hi:.1%}) over "
        f"{metrics['episodes']} episodes, mean length {metrics['mean_episode_steps']:.0f} steps -> {metrics['out']}"
    )
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from robot_il.deploy.run import deploy

    if args.practice is not None:
        print(
            f"robot-il: note: `deploy --practice N` is deprecated; use `robot-il practice --episodes {args.practice}`"
            " (--practice-out is now --out)",
            file=sys.stderr,
        )
        if args.log:
            raise RobotILError("--practice logs to <practice dir>/practice.h5; drop --log")
        return cmd_practice(argparse.Namespace(**{**vars(args), "episodes": args.practice, "out": args.practice_out}))
    if args.practice_out or args.demos:
        raise RobotILError("--practice-out and --demos belong to practice: `robot-il practice --out DIR --demos FILE`")
    summaries = deploy(
        args.policy,
        backend=args.backend,
        rate=args.rate,
        episodes=args.episodes,
        seed=args.seed,
        log_path=args.log,
        limits_path=args.limits,
        realtime=_realtime(args),
        estop_keys=args.estop_keys,
        backend_config=args.backend_config,
        max_steps=args.max_steps,
        task=args.task,
    )
    wins = sum(s["success"] for s in summaries)
    print(f"deploy: {wins}/{len(summaries)} successful" + (f"; log {args.log}" if args.log else ""))
    return 0


def cmd_practice(args: argparse.Namespace) -> int:
    from robot_il.practice import PracticePaused, practice

    try:
        summary = practice(
            args.policy,
            episodes=args.episodes,
            out=args.out,
            demos=args.demos,
            backend=args.backend,
            rate=args.rate,
            seed=args.seed,
            limits_path=args.limits,
            realtime=_realtime(args),
            estop_keys=args.estop_keys,
            backend_config=args.backend_config,
            max_steps=args.max_steps,
            task=args.task,
        )
    except PracticePaused as err:
        print(f"practice paused: {err}", file=sys.stderr)
        return 3
    print(
        f"practice: {summary['done']}/{summary['target']} episodes, {summary['successes']} successful; "
        f"interventions {summary['interventions']}; policy and log in {Path(summary['log']).parent}"
    )
    return 0


def _realtime(args: argparse.Namespace) -> bool:
    return args.realtime or not args.backend.startswith("sim:")  # hardware runs in real time, always


def cmd_run(args: argparse.Namespace) -> int:
    from robot_il.pipeline import run_main_job

    out = args.out or ("runs/main" if args.task == "peg" else f"runs/{args.task}")
    run_main_job(
        Path(out),
        num_demos=args.num_demos,
        eval_episodes=args.episodes,
        seed=args.seed,
        task=args.task,
        gpril_demos=args.gpril_demos,
    )
    return 0


class _LazyParser(argparse.ArgumentParser):
    """A sub-command's parser whose arguments are added on first use (``populate``): the train verbs' flags
    come from the learners' config classes, whose modules import torch, which every other verb is spared."""

    def __init__(self, *args: Any, populate: Callable[[argparse.ArgumentParser], None] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self._populate = populate

    def _ready(self) -> None:
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        self._ready()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._ready()
        return super().format_help()


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def _add_robot_args(p: argparse.ArgumentParser) -> None:
    """What deploy and practice share: the backend, the policy, the safety filter, the loop."""
    _add_task_arg(p)
    p.add_argument("--backend", choices=["sim:peg", "sim:clip", "ros2"], help="default: the task's simulation")
    p.add_argument("--backend-config", type=Path, help="the ros2 backend's YAML (default: the sim bridge's)")
    p.add_argument("--policy", type=Path, required=True, help="run directory or policy.pt")
    p.add_argument("--rate", type=float, default=20.0, help="control rate, Hz")
    p.add_argument(
        "--seed", type=int, default=30_000, help="seed of the first episode's socket pose; later ones count up"
    )
    p.add_argument("--max-steps", type=int, help="cut episodes short (default: the task's 50 s)")
    p.add_argument("--limits", type=Path, help="joint_limits.yaml-style safety limits (default: the sim cell's)")
    p.add_argument("--realtime", action="store_true", help="hold the rate in wall-clock time (always on hardware)")
    p.add_argument("--estop-keys", action="store_true", help="Enter latches the e-stop, r + Enter releases it")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robot-il", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="the main job on the simulation: demos, training, evaluation, report")
    _add_task_arg(run)
    run.add_argument("--out", "-o", help="output directory (default: runs/main; runs/clip for --task clip)")
    run.add_argument("--num-demos", type=int, default=25, help="expert demos to record")
    run.add_argument("--episodes", type=int, default=100, help="evaluation episodes per policy")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--gpril-demos",
        choices=("states", "full"),
        help="GPRIL learns from the demos' states only or states and actions (default: states on peg, full on clip)",
    )
    run.set_defaults(func=cmd_run)

    rec = sub.add_parser("record", help="record demonstrations to HDF5")
    _add_task_arg(rec)
    rec.add_argument("--backend", choices=["sim:peg", "sim:clip", "ros2"], help="default: the task's simulation")
    rec.add_argument("--config", type=Path, help="YAML file of the task's config fields (sim)")
    rec.add_argument("--source", choices=["expert", "kinesthetic", "teleop"], default="expert")
    rec.add_argument(
        "-n",
        "--num-demos",
        type=int,
        default=25,
        help="demos to append; --gui/--terminal: record until the file holds this many (resumes)",
    )
    rec.add_argument("--out", "-o", type=Path, required=True, help="HDF5 file (appended to if it exists)")
    rec.add_argument("--seed", type=int, default=0, help="seed of the first episode; later ones count up")
    rec.add_argument("--keep-failures", action="store_true", help="also keep episodes the expert failed")
    rec.add_argument("--backend-config", type=Path, help="the ros2 backend's YAML (default: the sim bridge's)")
    rec.add_argument("--rate", type=float, default=20.0, help="control / recording rate (teleop, kinesthetic), Hz")
    rec.add_argument("--max-seconds", type=float, default=60.0, help="longest kinesthetic demo, s")
    ui = rec.add_mutually_exclusive_group()
    ui.add_argument("--gui", action="store_true", help="the recording window (default for --source teleop)")
    ui.add_argument("--terminal", action="store_true", help="keys from the terminal, for machines without a display")
    rec.add_argument(
        "--device",
        default="keyboard",
        choices=["keyboard", "spacemouse", "gamepad", "scripted"],
        help="teleop device (scripted: the scripted expert, hands-free)",
    )
    rec.add_argument("--speed", type=float, default=0.02, help="keyboard teleop tip speed, m/s")
    rec.add_argument("--only-successes", action="store_true", help="keep only episodes where the peg went in")
    rec.add_argument("--auto-start", action="store_true", help="start each episode once the cell is reset")
    rec.add_argument(
        "--auto-keep",
        action="store_true",
        help="when the task ends an episode, keep a success and discard a failure (no review)",
    )
    rec.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="hold the control rate in wall-clock time in simulation (--no-realtime: a scripted "
        "device, as fast as it goes)",
    )
    rec.add_argument(
        "--speech",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="spoken prompts where espeak-ng is installed",
    )
    rec.add_argument("--limits", type=Path, help="safety limits for teleop (default: the sim cell's)")
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
    s.add_argument("--out", "-o", type=Path, required=True)
    s.set_defaults(func=cmd_demos_sparsify)
    st = dsub.add_parser("strip-actions", help="a state-only copy, as kinesthetic teaching records")
    st.add_argument("file", type=Path)
    st.add_argument("--out", "-o", type=Path, required=True)
    st.set_defaults(func=cmd_demos_strip)

    train = sub.add_parser("train", help="train a policy (every field of the learner's config is a flag)")
    tsub = train.add_subparsers(dest="algo", required=True, metavar="ALGO", parser_class=_LazyParser)
    for algo, help_text, func in (
        ("bc", "behavioural cloning", cmd_train_bc),
        ("gpril", "generative predecessor models (states only and sparse demos work)", cmd_train_gpril),
        ("gail", "GAIL baseline: TRPO (or PPO) generator against a discriminator, N env processes", cmd_train_gail),
        ("airl", "AIRL: GAIL's machinery with D = exp f / (exp f + π), f = g(s) + γh(s') - h(s)", cmd_train_airl),
        (
            "mgail",
            "MGAIL: the policy trained through a learnt forward model with D's exact gradient",
            cmd_train_mgail,
        ),
        ("dagger", "DAgger: the scripted expert labels the learner's own states (simulation)", cmd_train_dagger),
        (
            "aggrevated",
            "AggreVaTeD: policy gradient on the scripted expert's cost-to-go, regular or natural (simulation)",
            cmd_train_aggrevated,
        ),
    ):
        t = tsub.add_parser(algo, help=help_text, description=help_text, populate=partial(_add_train_args, algo=algo))
        t.set_defaults(func=func)

    ev = sub.add_parser("eval", help="success rate of a trained policy")
    _add_env_args(ev)
    ev.add_argument("--policy", type=Path, required=True, help="run directory or policy.pt")
    ev.add_argument("--episodes", type=int, default=100)
    ev.add_argument("--seed", type=int, default=10_000, help="seed of the first episode (demos use 0..)")
    ev.add_argument("--video", type=int, default=0, help="episodes to render into a video")
    ev.add_argument("--out", "-o", type=Path, help="output directory (default: <policy run>/eval)")
    ev.add_argument(
        "--act",
        choices=("mean", "sample"),
        help="act with the policy's mean or sample from it (default: as the policy was trained to be deployed)",
    )
    ev.set_defaults(func=cmd_eval)

    dep = sub.add_parser("deploy", help="run a policy through the safety filter, logging to HDF5")
    _add_robot_args(dep)
    dep.add_argument("--episodes", type=int, default=1)
    dep.add_argument("--log", type=Path, help="HDF5 file for the rollouts and interventions")
    # Deprecated: practice is its own verb. Hidden, and still working, for the commands already written down.
    dep.add_argument("--practice", type=int, metavar="N", help=argparse.SUPPRESS)
    dep.add_argument("--practice-out", type=Path, help=argparse.SUPPRESS)
    dep.add_argument("--demos", type=Path, help=argparse.SUPPRESS)
    dep.set_defaults(func=cmd_deploy)

    pr = sub.add_parser(
        "practice",
        help="GPRIL: practise on the robot through the deploy path (safe reset between episodes), keep learning",
        description="Run N self-supervised practice episodes of a GPRIL run through the safety filter, training "
        "between them; running it again with a larger N continues where it stopped.",
    )
    _add_robot_args(pr)
    pr.add_argument("--episodes", type=_positive_int, required=True, help="practice episodes in all (done ones count)")
    pr.add_argument("--out", "-o", type=Path, help="practice directory (default: <policy run>/practice)")
    pr.add_argument("--demos", type=Path, help="demo file to keep imitating (default: the run's own)")
    pr.set_defaults(func=cmd_practice)

    ex = sub.add_parser("rollout", help="roll out the scripted expert and report its success")
    _add_env_args(ex)
    ex.add_argument("--episodes", type=int, default=50)
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--video", type=int, default=0, help="episodes to render into a video")
    ex.add_argument("--out", "-o", type=Path, default=Path("runs/expert"))
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
    if getattr(args, "task", None) is not None and getattr(args, "backend", "") is None:
        args.backend = _backend(args)
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
