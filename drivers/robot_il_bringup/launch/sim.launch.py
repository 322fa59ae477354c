"""Simulated cell over ROS 2: the sim bridge, the command gate and a robot-il deploy node.

ros2 launch robot_il_bringup sim.launch.py policy:=runs/main/gpril episodes:=10
ros2 launch robot_il_bringup sim.launch.py cell:=clip policy:=runs/clip/gpril
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    policy = LaunchConfiguration("policy")
    return LaunchDescription(
        [
            DeclareLaunchArgument("policy", description="run directory or policy.pt to deploy"),
            DeclareLaunchArgument("episodes", default_value="10"),
            DeclareLaunchArgument("rate", default_value="100.0", description="bridge simulation and publish rate, Hz"),
            DeclareLaunchArgument("cell", default_value="peg", description="the simulated cell: peg or clip"),
            ExecuteProcess(
                cmd=[
                    "robot-il-sim-bridge",
                    "--ros-args",
                    "-p",
                    ["rate:=", LaunchConfiguration("rate")],
                    "-p",
                    ["cell:=", LaunchConfiguration("cell")],
                ],
                output="screen",
            ),
            # Between robot-il and the controller: zero when the deploy process dies (kill -9 included).
            ExecuteProcess(
                cmd=["robot-il-command-gate", "--ros-args", "-p", "rate:=20.0", "-p", "timeout_periods:=3.0"],
                output="screen",
            ),
            ExecuteProcess(
                cmd=[
                    "robot-il",
                    "deploy",
                    "--backend",
                    "ros2",
                    "--task",
                    LaunchConfiguration("cell"),
                    "--policy",
                    policy,
                    "--episodes",
                    LaunchConfiguration("episodes"),
                    "--log",
                    [policy, "/deploy_ros2.h5"],
                ],
                output="screen",
            ),
        ]
    )
