"""The clip-insertion task (the GPRIL paper's second simulated task): snap an elastic clip into a plug.

The rules are the peg task's (:class:`PegInsertionTask`: the socket's pose
drawn per episode, the plug's frame from the observed socket quaternion, the
end on success, leaving the workspace, or 50 s) with the clip's success:

The clip is *latched* when its tip is ``ClipConfig.latch_depth`` past the
plug's mouth, within the mouth's half-width of the axis. That depth is where
the barbs' retention shoulders have passed behind the lips (ramp, shoulder and
lip thickness, plus a margin), so the legs, flexed inward by the lips on the
way in, have sprung back and the shoulders hook behind the lips: the clip is
retained. A clip pushed only part way in is not: the flexed legs push it back
out when the arm backs off and lets go (``tests/test_clip_task.py`` checks both;
the pull that tears a latched clip out is the calibrated retention force,
``robot_il.cell.clip_rig``).
Success is therefore judged from the tip alone, as it must be on hardware,
where the legs' angles are not measured.
"""

from __future__ import annotations

import numpy as np

from robot_il.cell.clip_config import ClipConfig
from robot_il.hal.base import Observation
from robot_il.tasks.base import TaskEntry, register_task
from robot_il.tasks.peg_insertion import PegInsertionTask


def quat_axis_x(q: np.ndarray) -> np.ndarray:
    """The rotated x axis (first column of the rotation matrix) of a quaternion (w, x, y, z)."""
    w, x, y, z = (float(v) for v in q)
    s = 2.0 / (w * w + x * x + y * y + z * z)
    return np.array([1.0 - s * (y * y + z * z), s * (x * y + z * w), s * (x * z - y * w)])


class ClipInsertionTask(PegInsertionTask):
    """Rules of the clip-insertion episode (the GPRIL paper's clip task by default)."""

    cfg: ClipConfig

    def __init__(self, cfg: ClipConfig | None = None) -> None:
        super().__init__(cfg or ClipConfig())  # type: ignore[arg-type]  (the same fields where the rules read them)

    def slot_axis(self, obs: Observation) -> np.ndarray:
        """Unit direction, base frame, along which the plug's slot runs (the clip's legs must spread along it)."""
        return quat_axis_x(obs.socket_quat)

    def is_latched(self, obs: Observation) -> bool:
        """The barbs are behind the lips: the clip is in and held (what success means for this task)."""
        return self.is_success(obs)


register_task(
    TaskEntry(
        name="clip",
        env_id="robot_il/ClipInsertion-v0",
        config="robot_il.cell.clip_config:ClipConfig",
        task="robot_il.tasks.clip_insertion:ClipInsertionTask",
        backend="sim:clip",
        expert="robot_il.tasks.clip_expert:ScriptedClipExpert",
    )
)
