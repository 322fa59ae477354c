"""robot-il: imitation learning for contact-rich insertion, in MuJoCo and on ROS 2 arms.

MuJoCo picks its OpenGL back-end from ``MUJOCO_GL`` when it is first imported, so the default is set here,
before any module of the package imports ``mujoco``: OSMesa (software, Debian's ``libosmesa6``, installed by
``make``) when there is no display. Export ``MUJOCO_GL=egl`` on a machine with a GPU.
"""

import os

__version__ = "0.1.0"

if "MUJOCO_GL" not in os.environ:
    os.environ["MUJOCO_GL"] = "glfw" if os.environ.get("DISPLAY") else "osmesa"
if os.environ["MUJOCO_GL"] == "osmesa":
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

from robot_il import envs as _envs

del _envs
