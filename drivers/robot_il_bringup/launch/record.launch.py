"""Kinesthetic recording on a running cell (real.launch.py, or sim.launch.py's bridge with guide:=expert).

ros2 launch robot_il_bringup record.launch.py config:=my_cell.yaml output:=demos/kinesthetic.h5 demos:=20
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("config", description="the ros2 backend's YAML (topics, joints, cell geometry)"),
            DeclareLaunchArgument("output", description="HDF5 file for the state-only demos"),
            DeclareLaunchArgument("demos", default_value="20"),
            ExecuteProcess(
                cmd=[
                    "robot-il",
                    "record",
                    "--source",
                    "kinesthetic",
                    "--backend",
                    "ros2",
                    "--backend-config",
                    LaunchConfiguration("config"),
                    "-n",
                    LaunchConfiguration("demos"),
                    "-o",
                    LaunchConfiguration("output"),
                ],
                output="screen",
                emulate_tty=True,
            ),
        ]
    )
