"""The MuJoCo cell as a ROS 2 robot: the project's fake hardware for the ROS 2 path.

Steps the simulation in real time and speaks the topics a real cell has:

* ``/robot_description`` (std_msgs/String, transient-local, as robot_state_publisher
  publishes it): the simulated arm's URDF;
* ``/joint_states`` (sensor_msgs/JointState): the arm's joints by their description's
  names (``joint_1`` .. ``joint_6`` on the Jaco, ``shoulder_pan_joint`` ... on the UR5e);
* ``/<controller>/commands`` (std_msgs/Float64MultiArray): joint velocities, held until
  the next command, as ros2_control's forward_command_controller does;
* ``/force_torque_sensor_broadcaster/wrench`` (geometry_msgs/WrenchStamped): contact
  wrench on the tool as a flange-mounted sensor measures it (``frame_id`` the arm's
  flange link, about its origin, in its axes);
* ``/pan_tilt/joint_states`` and ``/pan_tilt/command`` (JointState, ``ptu_pan``/``ptu_tilt``),
  as the pan-tilt node;
* ``/sim_bridge/reset`` (std_srvs/Trigger): arm at home, at rest (what a person does
  between episodes on hardware).

For fault injection (tests, the safety benchmark) it also has:

* ``/sim_bridge/fault`` (std_msgs/String): ``freeze_joint_states`` stops
  publishing ``/joint_states`` (a dead driver; the arm keeps obeying its last
  command), ``wrench_spike`` makes the sensor read 500 N, ``clear`` (or a reset)
  ends both; ``reset_fails`` makes the next reset service call fail (a cell that
  cannot be reset), after which the fault clears itself;
* ``/sim_bridge/ground_truth/joint_states``: the simulated arm's true state,
  published even while ``/joint_states`` is frozen, so a test can see the arm stop.

With ``cell:=clip`` the bridge simulates the clip cell (``sim:clip``: the same
arm, topics and tool-centre point, the clip and its plug instead of the peg and
its socket); the default is ``cell:=peg``. ``arm:=ur5e`` (or ``fr3``) builds the
cell with another arm; the default is the Jaco.

With ``guide:=expert`` the bridge plays a person teaching kinesthetically: after
each reset (and ``guide_delay`` seconds) the scripted expert's hand moves the arm
into the socket, and velocity commands are ignored, as an arm in gravity
compensation ignores them.

    robot-il-sim-bridge --ros-args -p rate:=100.0 -p controller:=velocity_controller -p cell:=clip -p arm:=ur5e
"""

from __future__ import annotations

import sys

import numpy as np

from robot_il.arm import rpy_matrix
from robot_il.errors import ConfigError
from robot_il.hal import make_backend
from robot_il.tasks import task_entry

WRENCH_TOPIC = "/force_torque_sensor_broadcaster/wrench"
FAULTS = {"freeze_joint_states", "wrench_spike", "reset_fails"}


def main(argv: list[str] | None = None) -> int:
    import rclpy
    from geometry_msgs.msg import WrenchStamped
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray, String
    from std_srvs.srv import Trigger

    rclpy.init(args=argv if argv is not None else sys.argv)
    node = Node("sim_bridge")
    rate = node.declare_parameter("rate", 100.0).value
    controller = node.declare_parameter("controller", "velocity_controller").value
    guide = node.declare_parameter("guide", "").value
    guide_delay = node.declare_parameter("guide_delay", 0.5).value
    cell = node.declare_parameter("cell", "peg").value
    arm = node.declare_parameter("arm", "jaco").value
    try:
        entry = task_entry(cell)
        cfg = entry.config_class()(arm=arm, control_rate_hz=float(rate))
    except ConfigError as err:  # an unknown cell or arm; the message names the known ones
        node.get_logger().fatal(f"{err}")
        return 2
    backend = make_backend(entry.backend, cfg)
    robot, pan_tilt = backend.robot, backend.pan_tilt
    robot.connect()
    robot.reset()
    names = list(robot.spec.joint_names)
    command = np.zeros(robot.spec.num_joints)
    hand = None
    if guide == "expert":
        hand = entry.make_expert(cfg)
    elif guide:
        node.get_logger().fatal(f"unknown guide {guide!r}; use 'expert' or leave it empty")
        return 2
    guide_from = node.get_clock().now().nanoseconds * 1e-9 + guide_delay
    offset = np.asarray(cfg.tool_offset)
    tool_in_flange = rpy_matrix(*offset[3:])

    def at_flange(tool_wrench: np.ndarray) -> np.ndarray:
        """The tool's wrench (about the tool-centre point, tool axes) as a sensor at the flange reads it."""
        force = tool_in_flange @ tool_wrench[:3]
        return np.concatenate([force, tool_in_flange @ tool_wrench[3:] + np.cross(offset[:3], force)])

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    description_pub = node.create_publisher(String, "/robot_description", latched)
    description_pub.publish(String(data=cfg.sim_arm.description().text))
    joint_pub = node.create_publisher(JointState, "/joint_states", 10)
    truth_pub = node.create_publisher(JointState, "/sim_bridge/ground_truth/joint_states", 10)
    faults: set[str] = set()
    ptu_pub = node.create_publisher(JointState, "/pan_tilt/joint_states", 10)
    wrench_pub = node.create_publisher(WrenchStamped, WRENCH_TOPIC, 10)
    events_pub = node.create_publisher(String, "/sim_bridge/events", 10)

    def on_command(msg: Float64MultiArray) -> None:
        nonlocal command
        if len(msg.data) != len(names) or not np.all(np.isfinite(msg.data)):
            node.get_logger().error(f"ignored command {list(msg.data)}: need {len(names)} finite velocities")
            return
        command = np.asarray(msg.data, dtype=np.float64)

    def on_pan_tilt(msg: JointState) -> None:
        try:
            target = dict(zip(msg.name, msg.position, strict=True))
            pan_tilt.set(target["ptu_pan"], target["ptu_tilt"])
        except (KeyError, ValueError) as err:
            node.get_logger().error(f"ignored pan-tilt command {msg.name} {list(msg.position)}: {err}")

    def on_fault(msg: String) -> None:
        if msg.data == "clear":
            faults.clear()
        elif msg.data in FAULTS:
            faults.add(msg.data)
        else:
            node.get_logger().error(f"unknown fault {msg.data!r}; use one of {sorted(FAULTS)} or 'clear'")
            return
        node.get_logger().warning(f"fault injection: {msg.data} (active: {sorted(faults) or 'none'})")

    def on_reset(_request, response):
        nonlocal command, guide_from
        if "reset_fails" in faults:
            faults.discard("reset_fails")
            events_pub.publish(String(data="reset_refused"))
            response.success, response.message = False, "injected fault: the cell cannot be reset"
            return response
        command = np.zeros(len(names))
        faults.clear()
        robot.reset()
        guide_from = node.get_clock().now().nanoseconds * 1e-9 + guide_delay
        response.success, response.message = True, "arm at home, at rest"
        return response

    def tick() -> None:
        if hand is not None:  # the person's hand moves the arm; commands are ignored
            now = node.get_clock().now().nanoseconds * 1e-9
            robot.send_action(hand(robot.observe()) if now >= guide_from else np.zeros(len(names)))
        else:
            robot.send_action(command)
        obs = robot.observe()
        stamp = node.get_clock().now().to_msg()
        js = JointState(
            name=names,
            position=obs.joint_positions.tolist(),
            velocity=obs.joint_velocities.tolist(),
            effort=obs.joint_efforts.tolist(),
        )
        js.header.stamp = stamp
        truth_pub.publish(js)
        if "freeze_joint_states" not in faults:
            joint_pub.publish(js)
        pt = JointState(name=["ptu_pan", "ptu_tilt"], position=obs.pan_tilt.tolist())
        pt.header.stamp = stamp
        ptu_pub.publish(pt)
        w = np.array([500.0, 0, 0, 0, 0, 0]) if "wrench_spike" in faults else at_flange(robot.wrench())
        ws = WrenchStamped()
        ws.header.stamp, ws.header.frame_id = stamp, cfg.sim_arm.tip_link
        ws.wrench.force.x, ws.wrench.force.y, ws.wrench.force.z = (float(x) for x in w[:3])
        ws.wrench.torque.x, ws.wrench.torque.y, ws.wrench.torque.z = (float(x) for x in w[3:])
        wrench_pub.publish(ws)

    node.create_subscription(Float64MultiArray, f"/{controller}/commands", on_command, 10)
    node.create_subscription(JointState, "/pan_tilt/command", on_pan_tilt, 10)
    node.create_service(Trigger, "/sim_bridge/reset", on_reset)
    node.create_subscription(String, "/sim_bridge/fault", on_fault, 10)
    node.create_timer(1.0 / rate, tick)
    node.get_logger().info(
        f"sim bridge up: the {cell} cell with the {arm} at {rate} Hz, commands on /{controller}/commands"
    )
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
