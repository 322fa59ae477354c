"""An independent arm for the tests: a process that speaks a real driver's topics and keeps its own record.

It knows nothing of robot-il (it imports only rclpy, the message packages and numpy). It

* publishes a URDF on ``/robot_description`` (std_msgs/String, transient-local, as robot_state_publisher does),
  unless ``--no-description``;
* publishes ``/joint_states`` at ``--rate`` Hz with the given joint names (plus a gripper joint that is not the
  arm's), integrating the velocity commands it receives on ``/<controller>/commands`` (Float64MultiArray, held
  until the next one, as ros2_control's forward_command_controller);
* publishes ``/pan_tilt/joint_states`` and follows ``/pan_tilt/command`` at once;
* publishes a force-torque sensor's ``/force_torque_sensor_broadcaster/wrench`` in ``--wrench-frame`` (UR's
  driver stamps ``tool0_controller``): a constant ``--wrench`` (the tool's weight, a bias), unless ``--no-wrench``;
* takes ``/arm_peer/set_joints`` (JointState positions): the test's hand, putting the arm at a pose;
* appends every command it receives to ``--log`` as a JSON line {"t", "q" (the joint angles when it arrived),
  "v"}: the record a test checks the safety filter against.

    python tests/arm_peer.py --urdf tests/data/ur5e.urdf --joints shoulder_pan_joint,... --home 0,... --log cmds.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urdf", required=True)
    parser.add_argument("--joints", required=True, help="comma-separated joint names, in the driver's order")
    parser.add_argument("--home", required=True, help="comma-separated joint angles to start at, rad")
    parser.add_argument("--controller", default="forward_velocity_controller")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--log", required=True)
    parser.add_argument("--no-description", action="store_true", help="never publish /robot_description")
    parser.add_argument("--wrench-frame", default="tool0_controller")
    parser.add_argument("--wrench", default="0,0,0,0,0,0", help="the sensor's constant reading: fx,fy,fz,tx,ty,tz")
    parser.add_argument("--no-wrench", action="store_true", help="never publish the wrench")
    parser.add_argument("--wrench-for", type=float, default=float("inf"), help="stop publishing it after this, s")
    parser.add_argument("--no-pan-tilt", action="store_true", help="no pan-tilt unit: never publish its state")
    parser.add_argument("--ignore-stops", action="store_true", help="a broken controller: zero keeps the last motion")
    args = parser.parse_args(argv)

    import rclpy
    from geometry_msgs.msg import WrenchStamped
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray, String

    names = args.joints.split(",")
    q = np.array([float(x) for x in args.home.split(",")])
    v = np.zeros(len(names))
    pan_tilt = np.zeros(2)
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1)

    rclpy.init()
    node = Node("arm_peer")
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    description = node.create_publisher(String, "/robot_description", latched)
    if not args.no_description:
        with open(args.urdf) as f:
            description.publish(String(data=f.read()))
    joints_pub = node.create_publisher(JointState, "/joint_states", 10)
    ptu_pub = node.create_publisher(JointState, "/pan_tilt/joint_states", 10)
    wrench_pub = node.create_publisher(WrenchStamped, "/force_torque_sensor_broadcaster/wrench", 10)
    reading = [float(x) for x in args.wrench.split(",")]

    def on_command(msg) -> None:
        nonlocal v
        with lock:
            if len(msg.data) != len(names):
                return
            if not (args.ignore_stops and not any(msg.data)):
                v = np.asarray(msg.data, dtype=np.float64)
            log.write(json.dumps({"t": time.monotonic(), "q": q.tolist(), "v": v.tolist()}) + "\n")

    def on_set(msg) -> None:
        nonlocal q, v
        with lock:
            index = {n: i for i, n in enumerate(msg.name)}
            q = np.array([msg.position[index[n]] for n in names])
            v = np.zeros(len(names))

    def on_pan_tilt(msg) -> None:
        nonlocal pan_tilt
        with lock:
            pan_tilt = np.array(msg.position[:2])

    node.create_subscription(Float64MultiArray, f"/{args.controller}/commands", on_command, 10)
    node.create_subscription(JointState, "/arm_peer/set_joints", on_set, 10)
    node.create_subscription(JointState, "/pan_tilt/command", on_pan_tilt, 10)
    dt = 1.0 / args.rate

    def tick() -> None:
        nonlocal q
        with lock:
            q = q + v * dt
            stamp = node.get_clock().now().to_msg()
            js = JointState(name=[*names, "finger_joint"], position=[*q.tolist(), 0.0], velocity=[*v.tolist(), 0.0])
            js.effort = [0.0] * (len(names) + 1)
            pt = JointState(name=["ptu_pan", "ptu_tilt"], position=pan_tilt.tolist())
        js.header.stamp = pt.header.stamp = stamp
        joints_pub.publish(js)
        if not args.no_pan_tilt:
            ptu_pub.publish(pt)
        if not args.no_wrench and time.monotonic() - started < args.wrench_for:
            ws = WrenchStamped()
            ws.header.stamp, ws.header.frame_id = stamp, args.wrench_frame
            ws.wrench.force.x, ws.wrench.force.y, ws.wrench.force.z = reading[:3]
            ws.wrench.torque.x, ws.wrench.torque.y, ws.wrench.torque.z = reading[3:]
            wrench_pub.publish(ws)

    started = time.monotonic()
    node.create_timer(dt, tick)
    print("ready", flush=True)  # the description is latched and every publisher exists
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        log.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
