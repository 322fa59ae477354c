"""The ``robot-il`` command line: record, demos, train, eval, deploy, practice, run.

The same names mean the same thing in every verb: ``--demos`` is a demo file,
``--out`` (``-o``) what a verb writes, ``--seed`` the first episode's seed,
``--episodes`` how many episodes, ``--config`` a YAML of the verb's config
dataclass. ``train`` takes one flag per field of the algorithm's config
(:func:`robot_il.config.add_config_flags`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from robot_il.algos.registry import ALGORITHMS, Algorithm, algorithm
from robot_il.config import add_config_flags, build_config, given_flags, read_yaml
from robot_il.errors import EStopError, RobotILError

TASKS = ("peg", "clip")
"""The registered tasks (robot_il.tasks), listed here so that --help works without importing them."""
ARMS = ("jaco", "ur5e", "fr3")
"""The simulated arms (robot_il.arm.SIM_ARMS), listed here for the same reason."""


def _add_task_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--task", choices=TASKS, default="peg", help="the cell: peg insertion, or the elastic clip (default: peg)"
    )
    p.add_argument(
        "--arm",
        choices=ARMS,
        help="the simulated arm: Kinova Jaco (default), Universal Robots UR5e, Franka FR3 (7 joints); on "
        "deploy and practice, default: the arm the policy was trained on",
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


def _task_env(args: argparse.Namespace, render: bool = False):
    from robot_il.config import load_yaml
    from robot_il.envs import make_task_env
    from robot_il.tasks import task_entry

    config_class = task_entry(args.task).config_class()
    cfg = load_yaml(config_class, args.config) if args.config else config_class()
    if args.arm:
        cfg = dataclasses.replace(cfg, arm=args.arm, home_joint_positions=None, max_joint_velocity=None)
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

        env = _task_env(args)
        expert = task_entry(args.task).make_expert(env.task.cfg)
        names = record_expert(
            env, args.out, args.num_demos, seed=args.seed, expert=expert, keep_failures=args.keep_failures
        )
    elif args.source == "kinesthetic":
        if args.backend != "ros2":
            raise RobotILError("--source kinesthetic needs a real (or bridged) arm: --backend ros2")
        from robot_il.deploy.run import open_session
        from robot_il.record.kinesthetic import record_kinesthetic

        session = open_session(
            "ros2", args.rate, args.limits, args.backend_config, task=args.task, force_sensor=False, commands=False
        )
        with session:
            names = record_kinesthetic(session, args.out, args.num_demos, args.seed, args.max_seconds)
        print(f"recorded {len(names)} kinesthetic demos into {args.out} ({names[0]} .. {names[-1]})")
        return 0
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
        from robot_il.record.gui import require_display, run_gui  # a missing PySide6 is one line

        require_display()  # before connecting: a display Qt cannot use is one line too, not Qt's abort
    from robot_il.deploy.run import open_session
    from robot_il.record.recorder import Recorder
    from robot_il.record.speech import Speaker
    from robot_il.record.teleop import KeyboardTeleop, open_device
    from robot_il.record.terminal import run_terminal

    session = open_session(
        args.backend,
        args.rate,
        args.limits,
        args.backend_config,
        task=args.task,
        arm=args.arm,
        force_sensor=not args.no_force_sensor,  # the window can switch to teleop: it may command the arm
    )
    with session:
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


def train_config(args: argparse.Namespace) -> Any:
    """The config ``robot-il train ALGO ...`` trains with: the preset <- ``--config`` YAML <- the flags given."""
    algo = algorithm(args.algo)
    cls, presets = algo.config_class, algo.preset_table
    return build_config(
        cls,
        preset=presets[args.preset] if presets else None,
        config_file=args.config,
        flags=given_flags(cls, args),
    )


def _user_settings(args: argparse.Namespace, cfg: Any) -> dict[str, Any]:
    """The fields the user set (in the YAML or as flags), with their values: what a learner must not override."""
    keys = {*(read_yaml(args.config) if args.config else {}), *given_flags(algorithm(args.algo).config_class, args)}
    return {k: getattr(cfg, k) for k in keys}


def _add_train_args(p: argparse.ArgumentParser, algo: Algorithm) -> None:
    """The arguments of ``train ALGO``: added on first use, as the config classes import torch (seconds)."""
    cls, presets = algo.config_class, algo.preset_table
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
            default=algo.default_preset,
            help=f"starting values of every field (default: {algo.default_preset}; the defaults shown below are "
            f"{algo.default_preset}'s)",
        )
        defaults = presets[algo.default_preset]
    if algo.state_only:
        p.add_argument("--state-only", action="store_true", help=algo.state_only)
    group = p.add_argument_group(f"{cls.__name__} (one flag per field; see {cls.__module__})")
    add_config_flags(group, cls, defaults=defaults, aliases=algo.flag_aliases)


def cmd_train(args: argparse.Namespace) -> int:
    """``robot-il train ALGO``: one verb for every learner in the registry."""
    algo = algorithm(args.algo)
    cfg = train_config(args)
    # What the user set is passed as overrides too, so that a learner's own choices (GPRIL's for sparse
    # demos) give way to it.
    summary = algo.train(
        args.demos,
        args.out,
        cfg,
        overrides=_user_settings(args, cfg),
        state_only=bool(getattr(args, "state_only", False)),
    )
    print(algo.report(summary, args.out))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from robot_il.evaluation import evaluate_policy

    env = _task_env(args, render=args.video > 0)
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
    summaries = deploy(args.policy, episodes=args.episodes, log_path=args.log, **_robot_kwargs(args))
    wins = sum(s["success"] for s in summaries)
    print(f"deploy: {wins}/{len(summaries)} successful" + (f"; log {args.log}" if args.log else ""))
    return 0


def _robot_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """What every verb that moves the robot under a policy passes on from its robot arguments (_add_robot_args)."""
    return {
        "backend": args.backend,
        "rate": args.rate,
        "seed": args.seed,
        "limits_path": args.limits,
        "realtime": _realtime(args),
        "estop_keys": args.estop_keys,
        "backend_config": args.backend_config,
        "max_steps": args.max_steps,
        "task": args.task,
        "arm": args.arm,
        "force_sensor": not args.no_force_sensor,
    }


def cmd_practice(args: argparse.Namespace) -> int:
    from robot_il.practice import PracticePaused, practice

    try:
        summary = practice(args.policy, episodes=args.episodes, out=args.out, demos=args.demos, **_robot_kwargs(args))
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

    arm = args.arm or "jaco"
    out = args.out or ("runs/main" if args.task == "peg" else f"runs/{args.task}")
    out = out if args.out or arm == "jaco" else f"{out}_{arm}"
    run_main_job(
        Path(out),
        num_demos=args.num_demos,
        eval_episodes=args.episodes,
        seed=args.seed,
        task=args.task,
        gpril_demos=args.gpril_demos,
        arm=args.arm or "jaco",
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
    _add_no_force_sensor(p)


def _add_no_force_sensor(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-force-sensor",
        action="store_true",
        help="run on an arm without a force-torque sensor: every force limit is off (refused without this flag)",
    )


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
    _add_no_force_sensor(rec)
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
    for algo in ALGORITHMS.values():
        t = tsub.add_parser(
            algo.name, help=algo.summary, description=algo.summary, populate=partial(_add_train_args, algo=algo)
        )
        t.set_defaults(func=cmd_train)

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

    cal = sub.add_parser(
        "calibrate",
        help="measure the fixture's mount pose: touch points on the socket's face, fit, write it to the cell YAML",
        description="The unit goes to a few pan/tilt poses; at each, the peg's tip touches the four corners of a "
        "square on the socket's face (hand-guided on a real arm: Enter takes each point). A least-squares fit "
        "gives tilt_center and fixture_rpy, with the residual in mm.",
    )
    cal.add_argument("--backend", default="ros2", choices=["sim:peg", "ros2"], help="default: ros2")
    cal.add_argument("--backend-config", type=Path, help="the ros2 backend's YAML; the result goes to its cell:")
    cal.add_argument("--config", type=Path, help="sim: the simulated cell's YAML (where its fixture really is)")
    cal.add_argument("--arm", choices=ARMS, help="sim: the simulated arm")
    cal.add_argument(
        "--device", choices=["hand", "scripted"], default="hand", help="hand: guided by a person; scripted: sim only"
    )
    cal.add_argument("--out", "-o", type=Path, help="the YAML to write the fit into (default: --backend-config)")
    cal.set_defaults(func=cmd_calibrate)

    chk = sub.add_parser(
        "check",
        help="bring-up check of a cell over ROS 2: one line per item, PASS or FAIL with the fix",
        description="Checks the arm's description and joints, the limits, the joint states' rate, the velocity "
        "controller, the pan-tilt unit, the force sensor's frame and the command gate, then (if all pass) that the "
        "e-stop topic stops a guarded 2%%-speed motion within one control period. Exits 1 on any FAIL.",
    )
    chk.add_argument("--backend-config", type=Path, required=True, help="the ros2 backend's YAML")
    chk.add_argument("--limits", type=Path, help="the arm's limits file (default: the YAML's limits:)")
    _add_task_arg(chk)
    chk.add_argument("--no-estop-test", action="store_true", help="check everything but the e-stop (no motion)")
    chk.set_defaults(func=cmd_check)

    backends = sub.add_parser("backends", help="list the registered HAL backends")
    backends.set_defaults(func=lambda _a: print("\n".join(__import__("robot_il.hal").hal.backend_names())) or 0)
    return parser


def cmd_calibrate(args: argparse.Namespace) -> int:
    from robot_il.calibrate import calibrate, hand_guided, scripted_hand, write_cell_yaml

    if args.device == "scripted" and args.backend != "sim:peg":
        raise RobotILError("--device scripted is a simulated hand: use it with --backend sim:peg")
    if args.backend == "ros2" and args.backend_config is None:
        raise RobotILError("--backend-config: give the ros2 backend's YAML (its cell: is what calibrate measures)")
    if args.backend == "sim:peg":
        from robot_il.deploy.run import open_session

        sim = dict(read_yaml(args.config)) if args.config else {}
        session = open_session("sim:peg", arm=args.arm, sim_config=sim)
        with session:
            hand = scripted_hand(session, session.task.cfg) if args.device == "scripted" else None
            hand = hand or hand_guided()(session.robot)
            fit = calibrate(session.robot, session.env.backend.pan_tilt, session.kinematics, session.task.cfg, hand)
    else:
        from robot_il.deploy.run import connect_env

        env = connect_env("ros2", args.backend_config, 20.0, commands=False)
        try:
            robot = env.backend.robot
            fit = calibrate(robot, env.backend.pan_tilt, robot.kinematics, env.task.cfg, hand_guided()(robot))
        finally:
            env.close()
    print(f"calibrated: {fit.describe()}")
    out = args.out or args.backend_config
    if out is not None:
        write_cell_yaml(out, fit, section="cell" if args.backend == "ros2" and out == args.backend_config else None)
        print(f"written to {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from robot_il.check import run_check

    items = run_check(
        args.backend_config, args.limits, args.task, estop=not args.no_estop_test, report=lambda i: print(i.line())
    )
    failed = [i.name for i in items if i.ok is False]
    passed = sum(i.ok is True for i in items)
    print(f"check: {passed} of {len(items)} passed" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_gate(args: argparse.Namespace) -> int:
    from robot_il.ros2.command_gate import RELEASE_SERVICE, call_gate_service

    service = RELEASE_SERVICE if args.action == "release" else args.estop_service
    print(f"{service}: {call_gate_service(service, args.timeout)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 a user error (one line, no traceback), 3 a person is needed (a safe reset the filter
    blocked; practice paused), 4 an e-stop or a latched command gate ended the run, 128 + N stopped by signal N
    (130 Ctrl-C, 143 SIGTERM). A process that moves the arm sends zero on each of them."""
    from robot_il.deploy.exits import Stopped, signals_raise_stopped

    args = build_parser().parse_args(argv)
    if getattr(args, "task", None) is not None and getattr(args, "backend", "") is None:
        args.backend = _backend(args)
    try:
        with signals_raise_stopped():
            return int(args.func(args))
    except EStopError as err:
        print(f"robot-il: stopped: {err}", file=sys.stderr)
        return err.exit_code
    except RobotILError as err:
        print(f"robot-il: error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", 2)
    except Stopped as stop:
        print(f"robot-il: {stop}", file=sys.stderr)
        return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())
