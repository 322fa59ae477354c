"""Safety filter overhead, policy-plus-filter latency at the control rate, and stop times under faults.

    python benchmarks/safety_latency.py [--commands 100000] [--seconds 20]

(``benchmarks/arms.py`` measures the filter of each simulated arm with ``filter_overhead``.)

1. The filter alone (including the tip kinematics it needs) on random commands,
   NaN/inf/huge ones among them, at random postures: µs per command, p50/p99.
2. The real-time deploy loop at 20 Hz in simulation with a paper-size policy
   network: time from observation to command sent (policy in its worker thread
   plus the filter), p50/p99. Target: p99 under 1 ms for the filter.
3. Each injected fault: the step at which the command becomes zero, and the
   simulated time until every joint is below 0.01 rad/s.

Writes benchmarks/results/safety_latency.json and .png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from robot_il.arm import ArmModel
from robot_il.cell.config import PegConfig
from robot_il.deploy import SafeController, control_loop
from robot_il.envs.insertion import flatten_observation
from robot_il.hal import make_backend
from robot_il.nn.policy import GaussianPolicy
from robot_il.safety import SafetyFilter, default_limits
from robot_il.sim.faults import Faults, FaultySimRobot
from robot_il.tasks import PegInsertionTask

CFG = PegConfig(pan_range=(0.0, 0.0), tilt_range=(0.0, 0.0))


def make_filter(cfg: PegConfig, period: float) -> tuple[SafetyFilter, ArmModel]:
    """The filter deploy builds for the simulated cell ``cfg``: its arm's model and shipped limits."""
    kin = cfg.arm_model()
    limits = default_limits("peg", cfg.arm, kin.joint_names, cfg.workspace, kin.limits)
    return SafetyFilter(limits, period, kin.tip_linear), kin


def filter_overhead(n: int, cfg: PegConfig = CFG) -> dict:
    f, kin = make_filter(cfg, 0.05)
    rng = np.random.default_rng(0)
    commands = rng.normal(0, 0.5, size=(n, kin.num_joints))
    commands[rng.random(n) < 0.01] = np.nan
    commands[rng.random(n) < 0.01] = 1e300
    postures = np.array(cfg.home) + rng.uniform(-0.5, 0.5, size=(n, kin.num_joints))
    times = np.empty(n)
    violations = 0
    for i in range(n):
        previous = f.previous.copy()
        t0 = time.perf_counter_ns()
        out = f(commands[i], postures[i])
        times[i] = time.perf_counter_ns() - t0
        violations += not _within_limits(f, kin, previous, postures[i], out.velocities)
    us = times / 1e3
    return {
        "arm": cfg.arm,
        "joints": kin.num_joints,
        "commands": n,
        "violations": violations,
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "max_us": float(us.max()),
        "interventions": dict(f.counts),
    }


def _within_limits(f: SafetyFilter, kin: ArmModel, previous, q, v) -> bool:
    """The same checks as tests/test_safety.py's property test, counted instead of asserted."""
    if v.shape != (f.n,) or not np.all(np.isfinite(v)) or np.any(np.abs(v) > f.v_max + 1e-12):
        return False
    m = f.limits.soft_limit_margin
    if np.any(v > np.clip((f.q_max - q) / m, 0, 1) * f.v_max + 1e-12):
        return False
    if np.any(v < -np.clip((q - f.q_min) / m, 0, 1) * f.v_max - 1e-12):
        return False
    rising = (np.abs(v) > np.abs(previous) + 1e-12) | (np.sign(v) * np.sign(previous) < 0)
    if np.any(np.abs(v - previous)[rising] > f.a_max[rising] * f.dt + 1e-9):
        return False
    tip, _, jac = kin.tip(q)
    tip_v = jac[:3] @ v
    if np.linalg.norm(tip_v) > f.limits.cartesian.max_ee_speed + 1e-9:
        return False
    nxt = tip + tip_v * 2 * f.dt
    return not np.any(((nxt > f.box_max) & (tip_v > 0)) | ((nxt < f.box_min) & (tip_v < 0)))


def loop_latency(seconds: float) -> dict:
    backend = make_backend("sim:peg", CFG)
    task = PegInsertionTask(CFG)
    net = GaussianPolicy(19, 6, -np.asarray(CFG.velocity_bounds), np.asarray(CFG.velocity_bounds))
    torch.set_num_threads(1)
    backend.robot.realtime = True  # the robot holds the 20 Hz rate in wall-clock time
    with backend:
        backend.robot.reset()
        safety, _ = make_filter(CFG, backend.robot.spec.control_period)
        controller = SafeController(backend.robot, safety)
        steps = round(seconds * CFG.control_rate_hz)
        t0 = time.monotonic()
        result = control_loop(controller, lambda o: 0.1 * net.act(flatten_observation(o)), task, max_steps=steps)
        wall = time.monotonic() - t0
    ms = np.array(result.latency_s) * 1e3
    return {
        "rate_hz": CFG.control_rate_hz,
        "steps": result.steps,
        "achieved_rate_hz": result.steps / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def fault_stop_times() -> dict:
    out = {}
    fault_step = 10
    moving = np.array([0.3, 0, 0, 0, 0, 0])
    cases = {
        "stale_joint_states": (Faults(freeze_observations_at=fault_step), None),
        "wrench_spike": (Faults(wrench_spike_at=fault_step), None),
        "policy_nan": (Faults(), "nan"),
        "policy_raises": (Faults(), "raises"),
        "policy_late": (Faults(), "late"),
        "estop_api": (Faults(), "estop"),
    }
    for name, (faults, kind) in cases.items():
        robot = FaultySimRobot(CFG, faults)
        safety, _ = make_filter(CFG, robot.spec.control_period)
        speeds = []

        def policy(obs, kind=kind, safety=safety, robot=robot, speeds=speeds):
            speeds.append(robot.true_joint_speed())
            k = len(speeds) - 1
            if kind and k >= fault_step:
                if kind == "nan":
                    return np.full(6, np.nan)
                if kind == "raises":
                    raise RuntimeError("policy crashed")
                if kind == "late":
                    time.sleep(0.2)
                if kind == "estop":
                    safety.estop("api")
            return moving

        with robot:
            robot.reset()
            result = control_loop(SafeController(robot, safety), policy, PegInsertionTask(CFG), max_steps=40)
            speeds.append(robot.true_joint_speed())
        zero_at = next(k for k in range(fault_step, len(result.commands)) if not np.any(result.commands[k]))
        stop = next(k for k in range(fault_step, len(speeds)) if speeds[k] < 0.01)
        out[name] = {
            "fault_step": fault_step,
            "zero_command_step": zero_at,
            "periods_to_zero_command": zero_at - fault_step,
            "arm_stop_time_s": (stop - fault_step) * robot.spec.control_period,
            "speed_at_fault_rad_s": speeds[fault_step],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    result = {
        "benchmark": "safety_latency",
        "command": f"python benchmarks/safety_latency.py --commands {args.commands} --seconds {args.seconds}",
        "filter": filter_overhead(args.commands),
        "deploy_loop": loop_latency(args.seconds),
        "faults": fault_stop_times(),
        "target": "filter p99 < 1 ms",
    }
    result["target_met"] = result["filter"]["p99_us"] < 1000
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "safety_latency.json").write_text(json.dumps(result, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
    f, d = result["filter"], result["deploy_loop"]
    bars = ax0.bar(
        ["filter p50", "filter p99", "loop p50", "loop p99"],
        [f["p50_us"], f["p99_us"], d["p50_ms"] * 1e3, d["p99_ms"] * 1e3],
        color="tab:blue",
    )
    ax0.bar_label(bars, fmt="%.0f µs")
    ax0.axhline(1000, color="r", ls="--", label="1 ms target (filter p99)")
    ax0.set_ylabel("µs")
    ax0.legend()
    names = list(result["faults"])
    ax1.barh(names, [result["faults"][n]["arm_stop_time_s"] for n in names], color="tab:orange")
    ax1.set_xlabel("simulated time from fault to arm at rest (s)")
    fig.tight_layout()
    fig.savefig(args.out / "safety_latency.png", dpi=110)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
