"""Forward kinematics and the peg tip's Jacobian, from the cell's own MuJoCo model.

Used wherever joint angles must become tip motion without touching the live
simulation: the scripted expert, and the safety filter's workspace and tip
speed checks (which run the same way on hardware, fed measured joint angles).
"""

from __future__ import annotations

import mujoco
import numpy as np

from robot_il.cell.config import PegConfig
from robot_il.cell.scene import compile_scene


class CellKinematics:
    """The kinematics of the cell ``cfg`` describes (a PegConfig, or a ClipConfig for the clip cell)."""

    def __init__(self, cfg: PegConfig | None = None) -> None:
        self.cfg = cfg or PegConfig()
        self._model, self._ix = compile_scene(self.cfg)
        self._data = mujoco.MjData(self._model)
        self._jacp = np.zeros((3, self._model.nv))
        self._jacr = np.zeros((3, self._model.nv))

    def tip(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tip position (m), peg direction (unit), and the 6 x n Jacobian [linear; angular] at joint angles ``q``."""
        position, rotation, jac = self.tip_frame(q)
        return position, rotation[:, 2].copy(), jac

    def tip_frame(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tip position (m), the tool's orientation (3 x 3, columns its axes; z along the tool), and the 6 x n
        Jacobian [linear; angular] at joint angles ``q``."""
        m, d, ix = self._model, self._data, self._ix
        d.qpos[ix.arm_qpos] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_jacSite(m, d, self._jacp, self._jacr, ix.tip_site)
        position = d.site_xpos[ix.tip_site].copy()
        rotation = d.site_xmat[ix.tip_site].reshape(3, 3).copy()
        jac = np.vstack([self._jacp[:, ix.arm_dof], self._jacr[:, ix.arm_dof]])
        return position, rotation, jac
