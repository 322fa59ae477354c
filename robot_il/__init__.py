"""robot-il: imitation learning for contact-rich insertion, in MuJoCo and on ROS 2 arms."""

__version__ = "0.1.0"

from robot_il import envs as _envs

del _envs
