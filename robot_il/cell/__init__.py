"""The work cell as a model: geometry and physics parameters (:class:`PegConfig`), the scene composed from
``sim_assets/`` (dm_control mjcf) and the arm's kinematics. Below the backends and tasks: the MuJoCo backend
simulates this model, the ROS 2 backend computes its tip from it, tasks read the socket's geometry from it.

MuJoCo picks its OpenGL back-end from ``MUJOCO_GL`` when it is first imported, so the default is set here,
before any module of the cell imports ``mujoco``: OSMesa (software, Debian's ``libosmesa6``, installed by
``make``) when there is no display. Export ``MUJOCO_GL=egl`` on a machine with a GPU.
"""

import os

from robot_il.cell.config import JACO_HOME, JACO_MAX_VELOCITY, PegConfig

if "MUJOCO_GL" not in os.environ:
    os.environ["MUJOCO_GL"] = "glfw" if os.environ.get("DISPLAY") else "osmesa"
if os.environ["MUJOCO_GL"] == "osmesa":
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

__all__ = ["JACO_HOME", "JACO_MAX_VELOCITY", "PegConfig"]
