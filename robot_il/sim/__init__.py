"""The MuJoCo backend of the cell model (:mod:`robot_il.cell`), its ROS 2 bridge, and a fault-injecting variant
for tests and benchmarks."""

import robot_il.cell  # noqa: F401  (sets the MUJOCO_GL default before mujoco is imported)
