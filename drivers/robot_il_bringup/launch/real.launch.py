"""Real cell: assumes the vendor's arm driver (ros2_control) is running; switches its velocity controller on
(``ros2 control switch_controllers``), starts the pan-tilt node on its serial port and the command gate in front
of the controller (it zeroes the arm when a robot-il process dies, even by kill -9).

    ros2 launch robot_il_bringup real.launch.py arm:=ur5e port:=/dev/ttyUSB0
    ros2 launch robot_il_bringup real.launch.py arm:=fr3 controller:=forward_velocity_controller stop_controller:=...

``arm`` picks the shipped per-arm files (config/command_gate_<arm>.yaml; config/<arm>.yaml is robot-il's own
backend config for `robot-il check`, `calibrate` and `deploy`); copy and edit them for another arm. The UR
driver starts scaled_joint_trajectory_controller; the velocity forward_command_controller replaces it here.
Kinova's Gen3 config has no forward velocity controller: add one (forward_command_controller, interface
velocity) to its controllers' YAML first.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node

CONTROLLERS = {
    "ur5e": ("forward_velocity_controller", "scaled_joint_trajectory_controller"),
    "fr3": ("forward_velocity_controller", "fr3_arm_controller"),
}
"""Per shipped arm: its velocity controller and the controller its driver starts instead."""


def _per_arm(arm, index: int) -> PythonExpression:
    """The shipped arm's controller (``index`` 0) or the one to stop (1), chosen when the launch runs."""
    return PythonExpression([repr({k: v[index] for k, v in CONTROLLERS.items()}), ".get('", arm, "', '')"])


def generate_launch_description():
    params = os.path.join(get_package_share_directory("robot_il_pan_tilt"), "config", "pan_tilt.yaml")
    config = os.path.join(get_package_share_directory("robot_il_bringup"), "config")
    arm = LaunchConfiguration("arm")
    controller, stop = LaunchConfiguration("controller"), LaunchConfiguration("stop_controller")
    return LaunchDescription(
        [
            DeclareLaunchArgument("arm", default_value="ur5e", description="the shipped arm files: ur5e or fr3"),
            DeclareLaunchArgument(
                "gate_params",
                default_value=PathJoinSubstitution([config, ["command_gate_", arm, ".yaml"]]),
                description="the command gate's parameters (joint names, controller, velocity bounds)",
            ),
            DeclareLaunchArgument(
                "controller",
                default_value=PythonExpression(
                    [repr({k: v[0] for k, v in CONTROLLERS.items()}), ".get('", arm, "', '')"]
                ),
                description="the arm's velocity forward_command_controller, switched on",
            ),
            DeclareLaunchArgument(
                "stop_controller",
                default_value=PythonExpression(
                    [repr({k: v[1] for k, v in CONTROLLERS.items()}), ".get('", arm, "', '')"]
                ),
                description="the controller the driver starts, switched off (empty: none)",
            ),
            DeclareLaunchArgument("switch", default_value="true", description="switch the controllers over"),
            ExecuteProcess(
                cmd=["ros2", "control", "switch_controllers", "--activate", controller, "--deactivate", stop],
                condition=IfCondition(LaunchConfiguration("switch")),
                output="screen",
            ),
            ExecuteProcess(
                cmd=["robot-il-command-gate", "--ros-args", "--params-file", LaunchConfiguration("gate_params")],
                output="screen",
                respawn=True,  # a restarted gate starts idle and forwards only a fresh stream
            ),
            DeclareLaunchArgument(
                "port", default_value="/dev/ttyUSB0", description="serial device of the pan-tilt unit"
            ),
            DeclareLaunchArgument("baudrate", default_value="9600"),
            Node(
                package="robot_il_pan_tilt",
                executable="pan-tilt-node",
                name="pan_tilt",
                respawn=True,  # the node exits when it loses its unit (lost_unit_timeout); start it afresh
                respawn_delay=2.0,
                output="screen",
                parameters=[params, {"port": LaunchConfiguration("port"), "baudrate": LaunchConfiguration("baudrate")}],
            ),
        ]
    )
