"""ROS 2 round trip and control rate over loopback, against the sim bridge.

    python benchmarks/ros2_latency.py [--seconds 10]

* Round trip: a joint-velocity command published on /velocity_controller/commands
  until /joint_states first shows joint 1 responding to it (its velocity 0.005 rad/s
  closer to the command than when it was sent): DDS both ways plus one bridge tick.
  The arm's own acceleration (tens of ms to reverse 0.2 rad/s) is not counted.
* Control rate: Ros2Robot.send_action in a loop at 100 Hz and 500 Hz (the bridge
  runs at 500 Hz): achieved rate and period p50/p99.

Writes benchmarks/results/ros2_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from robot_il.config import load_yaml
from robot_il.ros2.config import Ros2Config
from robot_il.ros2.robot import Ros2Robot

CONFIG = Path(__file__).parents[1] / "robot_il" / "ros2" / "jaco_sim.yaml"


def round_trips(robot: Ros2Robot, n: int) -> list[float]:
    out = []
    for k in range(n):
        target = 0.2 if k % 2 == 0 else -0.2
        command = np.zeros(6)
        command[0] = target
        time.sleep(0.1)  # let the arm settle at the previous command
        with robot.link.lock:
            msg = robot.link.joints[0]
        index = list(msg.name).index(robot.cfg.joint_names[0])
        before = msg.velocity[index]
        t0 = time.perf_counter()
        robot._publish(command)
        while True:
            with robot.link.lock:
                msg = robot.link.joints[0]
            if abs(msg.velocity[index] - target) < abs(before - target) - 0.005:
                out.append(time.perf_counter() - t0)
                break
            if time.perf_counter() - t0 > 2.0:
                raise RuntimeError("joint states never reflected the command")
            time.sleep(0.0002)
    robot._publish(np.zeros(6))
    return out


def control_rate(cfg: Ros2Config, rate: float, seconds: float) -> dict:
    robot = Ros2Robot(replace(cfg, control_rate_hz=rate), node_name=f"rate_{int(rate)}")
    with robot:
        robot.reset()
        stamps = []
        for k in range(int(rate * seconds)):
            robot.send_action(np.array([0.1 * np.sin(k / rate), 0, 0, 0, 0, 0]))
            stamps.append(time.perf_counter())
    periods = np.diff(stamps) * 1e3
    return {
        "target_hz": rate,
        "achieved_hz": float(len(periods) / (stamps[-1] - stamps[0])),
        "period_p50_ms": float(np.percentile(periods, 50)),
        "period_p99_ms": float(np.percentile(periods, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    os.environ["ROS_DOMAIN_ID"] = str(150 + os.getpid() % 50)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    exe = shutil.which("robot-il-sim-bridge") or str(Path(sys.executable).parent / "robot-il-sim-bridge")
    bridge = subprocess.Popen(
        [exe, "--ros-args", "-p", "rate:=500.0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    gate_exe = str(Path(sys.executable).parent / "robot-il-command-gate")
    # Commands reach the controller through the command gate, as on a real cell.
    gate = subprocess.Popen([gate_exe], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cfg = load_yaml(Ros2Config, CONFIG)
        robot = Ros2Robot(cfg, node_name="round_trip")
        with robot:
            robot.reset()
            trips = np.array(round_trips(robot, args.round_trips)) * 1e3
        result = {
            "benchmark": "ros2_latency",
            "command": f"python benchmarks/ros2_latency.py --seconds {args.seconds}",
            "transport": "DDS (Fast DDS) over loopback, through the command gate, bridge stepping at 500 Hz",
            "round_trip_ms": {
                "n": len(trips),
                "p50": float(np.percentile(trips, 50)),
                "p99": float(np.percentile(trips, 99)),
                "max": float(trips.max()),
            },
            "control_rate": [control_rate(cfg, r, args.seconds) for r in (100.0, 500.0)],
        }
    finally:
        for proc in (bridge, gate):
            proc.terminate()
            proc.wait(timeout=10)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ros2_latency.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
