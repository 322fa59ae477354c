"""The arm model: an arm's own description (URDF or MJCF) read for its joints, limits and kinematics, and the
arms the simulated cell can be built with. Everything that turns joint angles into tip motion uses it."""

from robot_il.arm.catalog import SIM_ARMS, SimArm, arm_names, sim_arm
from robot_il.arm.description import (
    ArmDescription,
    DescriptionError,
    JointDescription,
    load_description,
    parse_mjcf,
    parse_urdf,
)
from robot_il.arm.kinematics import ArmModel
from robot_il.arm.rotations import matrix_rpy, rpy_matrix

__all__ = [
    "SIM_ARMS",
    "ArmDescription",
    "ArmModel",
    "DescriptionError",
    "JointDescription",
    "SimArm",
    "arm_names",
    "load_description",
    "matrix_rpy",
    "parse_mjcf",
    "parse_urdf",
    "rpy_matrix",
    "sim_arm",
]
