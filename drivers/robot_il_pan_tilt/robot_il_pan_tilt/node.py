"""The pan-tilt ROS 2 node: a thin layer over :mod:`robot_il_pan_tilt.protocol`.

Publishes ``~/joint_states``-style ``sensor_msgs/JointState`` (``ptu_pan``,
``ptu_tilt``, rad) at ``publish_rate`` on ``/pan_tilt/joint_states`` and moves the
unit on ``sensor_msgs/JointState`` commands on ``/pan_tilt/command``. Targets
outside the unit's limits are refused (logged) before anything is sent.

    pan-tilt-node --ros-args -p port:=/dev/ttyUSB0 -p baudrate:=9600
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    from robot_il_pan_tilt.protocol import PanTiltUnit, PTUError

    rclpy.init(args=argv if argv is not None else sys.argv)
    node = Node("pan_tilt")
    port = node.declare_parameter("port", "/dev/ttyUSB0").value
    baudrate = node.declare_parameter("baudrate", 9600).value
    timeout = node.declare_parameter("timeout", 0.5).value
    rate = node.declare_parameter("publish_rate", 20.0).value
    pan_speed = node.declare_parameter("pan_speed", 0.5).value
    tilt_speed = node.declare_parameter("tilt_speed", 0.3).value
    names = list(node.declare_parameter("joint_names", ["ptu_pan", "ptu_tilt"]).value)

    ptu = PanTiltUnit(port, baudrate, timeout)
    try:
        ptu.open()
        ptu.set_speed(pan_speed, tilt_speed)
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
    node.create_timer(1.0 / rate, publish)
    node.get_logger().info(f"pan-tilt on {port}: pan {ptu.limits[0]}, tilt {ptu.limits[1]} rad")
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        ptu.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
