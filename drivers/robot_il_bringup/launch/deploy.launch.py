"""Deploy a trained policy on a running cell, through the safety filter, with the keyboard e-stop.

ros2 launch robot_il_bringup deploy.launch.py config:=my_cell.yaml limits:=my_limits.yaml policy:=runs/gpril
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("config", description="the ros2 backend's YAML"),
            DeclareLaunchArgument("limits", description="joint_limits.yaml-style safety limits of the arm"),
            DeclareLaunchArgument("policy", description="run directory or policy.pt"),
            DeclareLaunchArgument("episodes", default_value="1"),
            DeclareLaunchArgument("rate", default_value="20.0"),
            ExecuteProcess(
                cmd=[
                    "robot-il",
                    "deploy",
                    "--backend",
                    "ros2",
                    "--backend-config",
                    LaunchConfiguration("config"),
                    "--limits",
                    LaunchConfiguration("limits"),
                    "--policy",
                    LaunchConfiguration("policy"),
                    "--episodes",
                    LaunchConfiguration("episodes"),
                    "--rate",
                    LaunchConfiguration("rate"),
                    "--estop-keys",
                ],
                output="screen",
                emulate_tty=True,
            ),
        ]
    )
