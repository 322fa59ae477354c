"""The pan-tilt ROS 2 node: a thin layer over :mod:`robot_il_pan_tilt.protocol`.

Publishes ``~/joint_states``-style ``sensor_msgs/JointState`` (``ptu_pan``,
``ptu_tilt``, rad) at ``publish_rate`` on ``/pan_tilt/joint_states`` and moves the
unit on ``sensor_msgs/JointState`` commands on ``/pan_tilt/command``. Targets
outside the unit's limits are refused (logged) before anything is sent. A unit
that stops answering (port gone, power off) for ``lost_unit_timeout`` seconds
makes the node exit with status 1, so that its supervisor (the launch file's
``respawn``, systemd) restarts it rather than it logging errors forever.

    pan-tilt-node --ros-args -p port:=/dev/ttyUSB0 -p baudrate:=9600
    pan-tilt-node --help        # the parameters and their defaults; needs no ROS and no unit
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

from robot_il_pan_tilt.params import Param, ParameterError, declare, init

PARAMETERS: tuple[Param, ...] = (
    Param("port", "/dev/ttyUSB0", "serial device of the unit"),
    Param("baudrate", 9600, "bit/s", positive=True),
    Param("timeout", 0.5, "s to wait for each reply", positive=True),
    Param("publish_rate", 20.0, "Hz: position queries, published on /pan_tilt/joint_states", positive=True),
    Param("pan_speed", 0.5, "rad/s, slew speed set at start (within the unit's PL/PU limits)", positive=True),
    Param("tilt_speed", 0.3, "rad/s, slew speed set at start (within the unit's TL/TU limits)", positive=True),
    Param("joint_names", ["ptu_pan", "ptu_tilt"], "the pan and tilt joints' names in JointState messages", length=2),
    Param(
        "lost_unit_timeout",
        5.0,
        "s without an answer from the unit before the node exits (status 1) to be restarted",
        positive=True,
    ),
)
"""Each ROS parameter (read once at start): name, default, unit and meaning, bounds. ``config/pan_tilt.yaml``
mirrors the defaults."""


class UnitLost(Exception):
    """The unit has not answered for ``lost_unit_timeout`` seconds."""


def _show(value: Any) -> str:
    """A default as it is written in a parameter file."""
    return f"[{', '.join(map(str, value))}]" if isinstance(value, list) else str(value)


def usage() -> str:
    rows = "\n".join(f"  {p.name:<18} {_show(p.default):<20} {p.description}" for p in PARAMETERS)
    return (
        "usage: pan-tilt-node [-h] [--ros-args -p NAME:=VALUE ...]\n\n"
        "ROS 2 driver of a FLIR / Directed Perception pan-tilt unit on a serial port.\n\n"
        f"ROS parameters (name, default, meaning):\n{rows}\n\n"
        "example: pan-tilt-node --ros-args -p port:=/dev/ttyUSB0 -p lost_unit_timeout:=2.0"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    own = argv[1 : argv.index("--ros-args")] if "--ros-args" in argv else argv[1:]
    if "-h" in own or "--help" in own:
        print(usage())
        return 0

    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import JointState

    from robot_il_pan_tilt.protocol import PanTiltUnit, PTUError

    try:
        # SIGINT and SIGTERM are handled below: rclpy's own handlers shut the context down under a running
        # timer, whose publish then raised (exit 1 on Ctrl-C or a launch file's shutdown, on a loaded machine).
        init(argv, signal_handler_options=SignalHandlerOptions.NO)
    except ParameterError as err:
        print(f"pan-tilt-node: {err}", file=sys.stderr)
        return 2
    node = Node("pan_tilt")
    try:
        p = declare(node, PARAMETERS)
    except ParameterError as err:
        node.get_logger().fatal(f"cannot start: {err}")
        node.destroy_node()
        rclpy.try_shutdown()
        return 2
    port, names, lost_unit_timeout = p["port"], p["joint_names"], p["lost_unit_timeout"]

    ptu = PanTiltUnit(port, p["baudrate"], p["timeout"])
    try:
        ptu.open()
        for warning in ptu.warnings:
            node.get_logger().warning(warning)
        ptu.set_speed(p["pan_speed"], p["tilt_speed"])
    except PTUError as err:
        node.get_logger().fatal(str(err))
        node.destroy_node()
        rclpy.try_shutdown()
        return 1
    state_pub = node.create_publisher(JointState, "/pan_tilt/joint_states", 10)
    last_answer = time.monotonic()

    def on_command(msg: JointState) -> None:
        target = dict(zip(msg.name, msg.position, strict=False))
        if not all(n in target for n in names):
            node.get_logger().error(f"pan-tilt command names {list(msg.name)}, expected {names}")
            return
        try:
            ptu.move_to(target[names[0]], target[names[1]])
        except PTUError as err:
            node.get_logger().error(str(err))

    def publish() -> None:
        nonlocal last_answer
        try:
            pan, tilt = ptu.position()
        except PTUError as err:
            silent = time.monotonic() - last_answer
            if silent > lost_unit_timeout:
                raise UnitLost(
                    f"the unit on {port} has not answered for {silent:.1f} s (lost_unit_timeout "
                    f"{lost_unit_timeout} s): exiting so that a supervisor restarts the node; last error: {err}"
                ) from None
            node.get_logger().error(str(err), throttle_duration_sec=1.0)
            return
        last_answer = time.monotonic()
        msg = JointState(name=names, position=[pan, tilt])
        msg.header.stamp = node.get_clock().now().to_msg()
        state_pub.publish(msg)

    node.create_subscription(JointState, "/pan_tilt/command", on_command, 10)
    node.create_timer(1.0 / p["publish_rate"], publish)
    node.get_logger().info(f"pan-tilt on {port}: pan {ptu.limits[0]}, tilt {ptu.limits[1]} rad")
    status = 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.05)
    except UnitLost as err:
        node.get_logger().fatal(str(err))
        status = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ptu.close()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
