"""The pan-tilt ROS 2 node: a thin layer over :mod:`robot_il_pan_tilt.protocol`.

Publishes ``~/joint_states``-style ``sensor_msgs/JointState`` (``ptu_pan``,
``ptu_tilt``, rad) at ``publish_rate`` on ``/pan_tilt/joint_states`` and moves the
unit on ``sensor_msgs/JointState`` commands on ``/pan_tilt/command``. Targets
outside the unit's limits are refused (logged) before anything is sent.

    pan-tilt-node --ros-args -p port:=/dev/ttyUSB0 -p baudrate:=9600
    pan-tilt-node --help        # the parameters and their defaults; needs no ROS and no unit
"""

from __future__ import annotations

import sys
from typing import Any

PARAMETERS: tuple[tuple[str, Any, str], ...] = (
    ("port", "/dev/ttyUSB0", "serial device of the unit"),
    ("baudrate", 9600, "bit/s"),
    ("timeout", 0.5, "s to wait for each reply"),
    ("publish_rate", 20.0, "Hz: position queries, published on /pan_tilt/joint_states"),
    ("pan_speed", 0.5, "rad/s, slew speed set at start (within the unit's PL/PU limits)"),
    ("tilt_speed", 0.3, "rad/s, slew speed set at start (within the unit's TL/TU limits)"),
    ("joint_names", ["ptu_pan", "ptu_tilt"], "the pan and tilt joints' names in JointState messages"),
)
"""Each ROS parameter: name, default, unit and meaning. ``config/pan_tilt.yaml`` mirrors the defaults."""


def _show(value: Any) -> str:
    """A default as it is written in a parameter file."""
    return f"[{', '.join(map(str, value))}]" if isinstance(value, list) else str(value)


def usage() -> str:
    rows = "\n".join(f"  {name:<18} {_show(default):<20} {meaning}" for name, default, meaning in PARAMETERS)
    return (
        "usage: pan-tilt-node [-h] [--ros-args -p NAME:=VALUE ...]\n\n"
        "ROS 2 driver of a FLIR / Directed Perception pan-tilt unit on a serial port.\n\n"
        f"ROS parameters (name, default, meaning):\n{rows}\n\n"
        "example: pan-tilt-node --ros-args -p port:=/dev/ttyUSB0 -p baudrate:=9600"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    own = argv[1 : argv.index("--ros-args")] if "--ros-args" in argv else argv[1:]
    if "-h" in own or "--help" in own:
        print(usage())
        return 0

    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    from robot_il_pan_tilt.protocol import PanTiltUnit, PTUError

    rclpy.init(args=argv)
    node = Node("pan_tilt")
    p = {name: node.declare_parameter(name, default).value for name, default, _ in PARAMETERS}
    port, names = p["port"], list(p["joint_names"])

    ptu = PanTiltUnit(port, p["baudrate"], p["timeout"])
    try:
        ptu.open()
        ptu.set_speed(p["pan_speed"], p["tilt_speed"])
    except PTUError as err:
        node.get_logger().fatal(str(err))
        node.destroy_node()
        rclpy.try_shutdown()
        return 1
    state_pub = node.create_publisher(JointState, "/pan_tilt/joint_states", 10)

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
        try:
            pan, tilt = ptu.position()
        except PTUError as err:
            node.get_logger().error(str(err), throttle_duration_sec=1.0)
            return
        msg = JointState(name=names, position=[pan, tilt])
        msg.header.stamp = node.get_clock().now().to_msg()
        state_pub.publish(msg)

    node.create_subscription(JointState, "/pan_tilt/command", on_command, 10)
    node.create_timer(1.0 / p["publish_rate"], publish)
    node.get_logger().info(f"pan-tilt on {port}: pan {ptu.limits[0]}, tilt {ptu.limits[1]} rad")
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ptu.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
