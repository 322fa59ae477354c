"""MuJoCo backends, tasks and the scripted expert.

MuJoCo picks its OpenGL back-end from ``MUJOCO_GL`` when it is first imported,
so the default is set here, before any submodule imports ``mujoco``: OSMesa
(software, Debian's ``libosmesa6``, installed by ``make``) when there is no
display. Export ``MUJOCO_GL=egl`` on a machine with a GPU.
"""

import os

if "MUJOCO_GL" not in os.environ:
    os.environ["MUJOCO_GL"] = "glfw" if os.environ.get("DISPLAY") else "osmesa"
if os.environ["MUJOCO_GL"] == "osmesa":
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
