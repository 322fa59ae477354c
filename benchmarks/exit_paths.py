"""Time from a failure of `robot-il deploy --backend ros2` to the zero command the arm's controller receives.

    python benchmarks/exit_paths.py [--kills 10] [--repeats 5]

Starts the sim bridge and the command gate (20 Hz, timeout 3 periods) in a ROS domain of its own, trains a
tiny BC policy, and runs `robot-il deploy` as a separate process for each way out, while a recorder node on
``/velocity_controller/commands`` notes when every command arrives:

* SIGINT and SIGTERM mid-motion (failure = the signal);
* the cell's reset refused after an episode of motion (failure = the bridge refusing it);
* joint states frozen while driving home through the filter (failure = freeze + stale_after);
* kill -9 mid-motion, stopped by the command gate (failure = the kill).

For each: whether the last command the controller saw was zero, and the delay from the failure to the first
zero after it (ms, p50 / max). Writes benchmarks/results/exit_paths.json and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the same recorder the exit-path tests use

PERIOD = 0.05
STALE_AFTER = 0.2


def start(program: str, *args: str) -> subprocess.Popen:
    exe = str(Path(sys.executable).parent / program)
    return subprocess.Popen([exe, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_moving(peer, proc, count: int) -> None:
    deadline = time.monotonic() + 60
    while peer.moving() < count:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"deploy did not move (exit {proc.poll()}): {proc.stderr.read()[-1500:]}")
        time.sleep(0.005)


def one_run(path: str, policy: Path, homing_config: Path) -> dict:
    from ros2_peer import CommandRecorder, first_zero_after, last_stop, robot_il

    from robot_il.ros2.command_gate import RELEASE_SERVICE, call_gate_service

    peer = CommandRecorder()
    peer.reset_cell()
    base = ["deploy", "--backend", "ros2", "--policy", str(policy), "--rate", "20"]
    try:
        if path in ("SIGINT", "SIGTERM", "kill -9"):
            proc = robot_il(*base, "--episodes", "1", "--max-steps", "400")
            wait_moving(peer, proc, 5)
            failed = time.monotonic()
            proc.send_signal({"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "kill -9": signal.SIGKILL}[path])
        elif path == "reset refused":
            proc = robot_il(*base, "--episodes", "2", "--max-steps", "20")
            wait_moving(peer, proc, 5)
            peer.inject("reset_fails")
        else:
            frozen: list[float] = []

            def freeze(_k: int, v: np.ndarray) -> None:
                if not frozen and peer.moving() >= 25 and np.any(v):
                    frozen.append(peer.inject("freeze_joint_states"))

            peer.on_command = freeze
            proc = robot_il(*base, "--episodes", "2", "--max-steps", "20", "--backend-config", str(homing_config))
        proc.communicate(timeout=120)
        time.sleep(4 * PERIOD + 0.3)  # whatever the gate still sends
        if path == "reset refused":
            failed = next(t for t, e in peer.events if e == "reset_refused")
        elif path == "stale state while homing":
            failed = frozen[0] + STALE_AFTER
        commands = peer.snapshot()
        _t, zero = last_stop(commands, failed)
        return {
            "exit_code": proc.returncode,
            "last_command_zero": bool(zero),
            "delay_ms": 1e3 * (first_zero_after(commands, failed) - failed),
        }
    finally:
        peer.close()
        call_gate_service(RELEASE_SERVICE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "exit_paths")
    args = ap.parse_args()
    os.environ["ROS_DOMAIN_ID"] = str(150 + os.getpid() % 50)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    from helpers import write_synthetic_demos

    from robot_il.algos.bc import BCConfig, train_bc

    tmp = Path(tempfile.mkdtemp(prefix="exit_paths_"))
    train_bc(
        write_synthetic_demos(tmp / "d.h5", 3, 20),
        tmp / "run",
        BCConfig(max_steps=200, select="nll", eval_episodes=0),
        progress=False,
    )
    cfg = yaml.safe_load((ROOT / "robot_il" / "ros2" / "jaco_sim.yaml").read_text())
    cfg["reset_service"] = ""
    (tmp / "homing.yaml").write_text(yaml.safe_dump(cfg))
    gate = start("robot-il-command-gate", "--ros-args", "-p", "rate:=20.0", "-p", "timeout_periods:=3.0")
    bridge = start("robot-il-sim-bridge")
    plan = [("SIGINT", args.repeats), ("SIGTERM", args.repeats), ("reset refused", args.repeats),
            ("stale state while homing", args.repeats), ("kill -9", args.kills)]  # fmt: skip
    results: dict[str, list[dict]] = {}
    try:
        for path, n in plan:
            for i in range(n):
                r = one_run(path, tmp / "run" / "policy.pt", tmp / "homing.yaml")
                results.setdefault(path, []).append(r)
                print(f"{path} {i + 1}/{n}: exit {r['exit_code']}, last zero {r['last_command_zero']}, "
                      f"{r['delay_ms']:.1f} ms", flush=True)  # fmt: skip
    finally:
        for proc in (bridge, gate):
            proc.terminate()
            proc.wait(timeout=10)
    summary = {
        path: {
            "runs": len(rs),
            "all_last_commands_zero": all(r["last_command_zero"] for r in rs),
            "exit_codes": sorted({r["exit_code"] for r in rs}),
            "delay_ms_p50": float(np.median([r["delay_ms"] for r in rs])),
            "delay_ms_max": float(max(r["delay_ms"] for r in rs)),
        }
        for path, rs in results.items()
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": "python benchmarks/exit_paths.py " + " ".join(sys.argv[1:]),
        "control_period_ms": PERIOD * 1e3,
        "gate_timeout_periods": 3,
        "summary": summary,
        "runs": results,
    }
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(results)
    ax.boxplot([[r["delay_ms"] for r in results[n]] for n in names], vert=False, tick_labels=names)
    ax.axvline(PERIOD * 1e3, ls="--", c="gray", label="one control period")
    ax.axvline(4 * PERIOD * 1e3, ls=":", c="red", label="gate timeout + one period")
    ax.set_xlabel("failure -> zero command at the controller (ms)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=120)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
