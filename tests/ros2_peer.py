"""A ROS 2 peer for exit-path tests: records every command the arm's controller receives, with arrival times."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

CONTROLLER_TOPIC = "/velocity_controller/commands"


class CommandRecorder:
    """Subscribes to the controller's command topic (what the arm obeys) and the sim bridge's fault events.

    ``commands`` holds (monotonic arrival time, velocities); ``on_command`` lets a test act at the moment a
    given command arrives (inject a fault, send a signal) from the recorder's own thread.
    """

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import Float64MultiArray, String

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("command_recorder", context=self.context)
        self.lock = threading.Lock()
        self.commands: list[tuple[float, np.ndarray]] = []
        self.events: list[tuple[float, str]] = []
        self.on_command: Callable[[int, np.ndarray], None] | None = None
        self.node.create_subscription(Float64MultiArray, CONTROLLER_TOPIC, self._on_command, 100)
        self.node.create_subscription(String, "/sim_bridge/events", self._on_event, 10)
        self.faults = self.node.create_publisher(String, "/sim_bridge/fault", 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while self.faults.get_subscription_count() == 0:
            assert time.monotonic() < deadline, "the sim bridge's fault topic was never discovered"
            time.sleep(0.01)

    def _on_command(self, msg) -> None:
        t, v = time.monotonic(), np.asarray(msg.data, dtype=np.float64)
        with self.lock:
            self.commands.append((t, v))
            k = len(self.commands)
        if self.on_command is not None:
            self.on_command(k, v)

    def _on_event(self, msg) -> None:
        with self.lock:
            self.events.append((time.monotonic(), msg.data))

    def inject(self, fault: str) -> float:
        from std_msgs.msg import String

        self.faults.publish(String(data=fault))
        return time.monotonic()

    def reset_cell(self) -> None:
        """The bridge's reset service: arm at home, at rest, faults cleared."""
        from std_srvs.srv import Trigger

        client = self.node.create_client(Trigger, "/sim_bridge/reset")
        assert client.wait_for_service(timeout_sec=10), "the sim bridge's reset service is not there"
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + 10
        while not future.done():
            assert time.monotonic() < deadline, "the sim bridge did not reset"
            time.sleep(0.01)
        self.node.destroy_client(client)

    def moving(self) -> int:
        with self.lock:
            return sum(bool(np.any(v)) for _, v in self.commands)

    def snapshot(self) -> list[tuple[float, np.ndarray]]:
        with self.lock:
            return list(self.commands)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=2)


def last_stop(commands: list[tuple[float, np.ndarray]], after: float) -> tuple[float, bool]:
    """(arrival time of the last command, whether it is zero); asserts some command arrived after ``after``."""
    later = [(t, v) for t, v in commands if t >= after]
    assert later, "the controller received no command after the failure"
    t, v = later[-1]
    return t, not np.any(v)


def first_zero_after(commands: list[tuple[float, np.ndarray]], after: float) -> float:
    zeros = [t for t, v in commands if t >= after and not np.any(v)]
    assert zeros, "no zero command arrived after the failure"
    return zeros[0]


def robot_il(*args: str, stdin=None) -> subprocess.Popen:
    """``robot-il ARGS`` as its own process (its own signals, its own exit code)."""
    exe = shutil.which("robot-il") or str(Path(sys.executable).parent / "robot-il")
    return subprocess.Popen(
        [exe, *args], env=dict(os.environ), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
