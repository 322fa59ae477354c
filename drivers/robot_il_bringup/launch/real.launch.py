"""Real cell: assumes the vendor's arm driver (ros2_control with a velocity forward_command_controller)
is running; starts the pan-tilt node on its serial port and the command gate in front of the controller
(it zeroes the arm when a robot-il process dies, even by kill -9; edit config/command_gate.yaml for your arm).

    ros2 launch robot_il_bringup real.launch.py port:=/dev/ttyUSB0 gate_params:=my_gate.yaml
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    params = os.path.join(get_package_share_directory("robot_il_pan_tilt"), "config", "pan_tilt.yaml")
    gate = os.path.join(get_package_share_directory("robot_il_bringup"), "config", "command_gate.yaml")
    return LaunchDescription(
        [
            DeclareLaunchArgument("gate_params", default_value=gate, description="the command gate's parameters"),
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
