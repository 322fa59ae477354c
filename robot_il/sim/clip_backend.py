"""The MuJoCo backend of the clip cell (``sim:clip``): the peg cell's backend with the clip on the flange and
the plug in the socket (:mod:`robot_il.cell.clip_scene`).

Everything the HAL sees works as in ``sim:peg`` (the cell compiles its scene
from the config's type); the clip's legs are passive spring hinges, not in the
observation, and the wrench sensor sums the contacts on the clip's body and
both legs.
"""

from __future__ import annotations

import mujoco
import numpy as np

from robot_il.cell.clip_config import ClipConfig
from robot_il.cell.clip_scene import compile_clip_scene
from robot_il.config import from_dict
from robot_il.hal.factory import Backend
from robot_il.sim.peg_backend import SimPanTilt, SimPegRobot, to_tool_frame

NAME = "sim:clip"


class SimClipRobot(SimPegRobot):
    """The cell's arm holding the elastic clip, commanded in joint velocities."""

    compile_scene = staticmethod(compile_clip_scene)

    def __init__(self, cfg: ClipConfig) -> None:
        super().__init__(cfg, name=NAME)  # type: ignore[arg-type]  (the cell takes either config)

    def leg_angles(self) -> np.ndarray:
        """The legs' hinge angles (+x leg, -x leg), rad: 0 relaxed, negative flexed inward (privileged)."""
        c = self.cell
        return c.data.qpos[c.index.leg_qpos].copy()

    def _wrench(self) -> np.ndarray:
        """Contact force and torque (about the tip) on the clip and its legs, tool frame: a flange F/T sensor."""
        c = self.cell
        m, d = c.model, c.data
        tool = c.index.tool_bodies
        total, local = np.zeros(6), np.zeros(6)
        tip = d.site_xpos[c.index.tip_site]
        for i in range(d.ncon):
            con = d.contact[i]
            b1, b2 = m.geom_bodyid[con.geom1], m.geom_bodyid[con.geom2]
            if (b1 in tool) == (b2 in tool):
                continue  # not a contact of the clip with the rest of the cell
            mujoco.mj_contactForce(m, d, i, local)
            force = con.frame.reshape(3, 3).T @ local[:3]  # on geom2's body, from geom1's
            if b1 in tool:
                force = -force
            total[:3] += force
            total[3:] += np.cross(con.pos - tip, force)
        return to_tool_frame(total, d.site_xmat[c.index.tip_site])


def build(config: ClipConfig | dict | None = None) -> Backend:
    """Factory entry for ``sim:clip``: a ClipConfig, a mapping of its fields, or None for defaults."""
    cfg = config if isinstance(config, ClipConfig) else from_dict(ClipConfig, config or {})
    robot = SimClipRobot(cfg)
    return Backend(name=NAME, robot=robot, pan_tilt=SimPanTilt(robot))
