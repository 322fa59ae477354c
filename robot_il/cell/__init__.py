"""The work cell as a model: the arm, geometry and physics parameters (:class:`PegConfig`, ``ClipConfig``) and
the scene composed from its parts (the arm, the tool, the pan-tilt fixture and its socket insert; dm_control
mjcf). Below the backends and tasks: the MuJoCo backend simulates this model, tasks read the socket's geometry
from it; the arm's kinematics come from :mod:`robot_il.arm`.
"""

from robot_il.cell.config import JACO_HOME, JACO_MAX_VELOCITY, PegConfig

__all__ = ["JACO_HOME", "JACO_MAX_VELOCITY", "PegConfig"]
