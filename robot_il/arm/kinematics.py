"""The arm's kinematics from its own description: where the tool-centre point is, and how it moves.

:class:`ArmModel` is what turns joint angles into tip motion everywhere in
robot-il: the observation's tip position on hardware, the safety filter's
workspace box and tip-speed check, the retreat, teleop and the scripted expert.
It compiles the description's kinematic tree with MuJoCo and nothing else (no
geometry, no dynamics), resolves the arm's joints by name along the chain from
``base_link`` to ``tip_link``, and puts the tool-centre point at ``tool_offset``
in ``tip_link``'s frame (the peg's length, or an F/T sensor's stack-up).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mujoco
import numpy as np

from robot_il.arm.description import ArmDescription, DescriptionError, JointDescription
from robot_il.arm.rotations import rpy_matrix


class ArmModel:
    """The kinematics of one arm's description, for the joints ``joint_names`` (default: the chain's).

    ``joint_names`` must be exactly the movable joints between ``base_link`` (default: the description's root)
    and ``tip_link``, in any order (it is the order of the policy's and the HAL's vectors); a joint missing from
    the description, or a joint of the chain missing from the list, is refused with both named.
    """

    def __init__(
        self,
        description: ArmDescription,
        tip_link: str,
        tool_offset: Sequence[float] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        base_link: str | None = None,
        joint_names: Sequence[str] | None = None,
    ) -> None:
        self.description = description
        self.base_link = base_link or description.root
        self.tip_link = tip_link
        if len(tool_offset) != 6 or not all(math.isfinite(float(x)) for x in tool_offset):
            raise DescriptionError(
                "tool_offset", f"must be 6 finite numbers (x, y, z in m, roll, pitch, yaw in rad), got {tool_offset}"
            )
        self.tool_offset = tuple(float(x) for x in tool_offset)
        chain = description.chain(self.base_link, tip_link)
        if not chain:
            raise DescriptionError(description.source, f"no movable joint between {self.base_link!r} and {tip_link!r}")
        above = [j for link in description.path(self.base_link) if (j := description.parents.get(link, ("", None))[1])]
        if above:
            raise DescriptionError(
                description.source,
                f"joint(s) {above} move base_link {self.base_link!r}; pick a base_link fixed to the cell",
            )
        self.joint_names = tuple(chain if joint_names is None else joint_names)
        _check_joints(description, chain, self.joint_names, self.base_link, tip_link)
        self.limits: tuple[JointDescription, ...] = tuple(description.joint(n) for n in self.joint_names)

        self.model = description.compile()
        self._data = mujoco.MjData(self.model)
        m = self.model

        def body(name: str) -> int:
            i = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)
            if i < 0:
                raise DescriptionError(description.source, f"link {name!r} did not survive MuJoCo's compiler")
            return i

        joints = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in self.joint_names]
        self._qpos = m.jnt_qposadr[joints].copy()
        self._dof = m.jnt_dofadr[joints].copy()
        self._tip, self._base = body(tip_link), body(self.base_link)
        self._offset_p = np.array(self.tool_offset[:3])
        self._offset_r = rpy_matrix(*self.tool_offset[3:])
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))

    @property
    def name(self) -> str:
        return self.description.name

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def _forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        d = self._data
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (self.num_joints,):
            raise ValueError(f"{self.name}: joint angles have shape {q.shape}, expected ({self.num_joints},)")
        d.qpos[self._qpos] = q
        mujoco.mj_kinematics(self.model, d)
        r_tip = d.xmat[self._tip].reshape(3, 3)
        world = d.xpos[self._tip] + r_tip @ self._offset_p
        r_base = d.xmat[self._base].reshape(3, 3)
        return world, r_tip, d.xpos[self._base], r_base

    def position(self, q: np.ndarray) -> np.ndarray:
        """Tool-centre point, m, in ``base_link``'s frame."""
        world, _, p_base, r_base = self._forward(q)
        return r_base.T @ (world - p_base)

    def tip_frame(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tool-centre point (m), the tool's orientation (3 x 3, columns its axes) and the 6 x n Jacobian
        [linear; angular] of the joints ``joint_names``, all in ``base_link``'s frame."""
        world, r_tip, p_base, r_base = self._forward(q)
        mujoco.mj_comPos(self.model, self._data)
        mujoco.mj_jac(self.model, self._data, self._jacp, self._jacr, world, self._tip)
        jac = np.vstack([r_base.T @ self._jacp[:, self._dof], r_base.T @ self._jacr[:, self._dof]])
        return r_base.T @ (world - p_base), r_base.T @ r_tip @ self._offset_r, jac

    def link_pose(self, q: np.ndarray, link: str) -> tuple[np.ndarray, np.ndarray]:
        """Position (m) and orientation (3 x 3) of the description's link ``link`` at ``q``, in ``base_link``'s
        frame (a force sensor's frame, say)."""
        i = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, link)
        if i < 0:
            raise DescriptionError(self.description.source, f"{link!r} is not a link of the description")
        _, _, p_base, r_base = self._forward(q)
        d = self._data
        return r_base.T @ (d.xpos[i] - p_base), r_base.T @ d.xmat[i].reshape(3, 3)

    def wrench_at_tip(self, q: np.ndarray, link: str, wrench: np.ndarray) -> np.ndarray:
        """A wrench measured in ``link``'s frame (force N and torque N·m about its origin, its axes) as the tool
        feels it: about the tool-centre point, in the tool frame's axes. The torque moves with the reference
        point (the force's moment arm); the force's magnitude does not."""
        p_s, r_s = self.link_pose(q, link)
        p_t, r_t, _ = self.tip_frame(q)
        force = r_s @ np.asarray(wrench[:3], dtype=np.float64)
        torque = r_s @ np.asarray(wrench[3:6], dtype=np.float64) + np.cross(p_s - p_t, force)
        return np.concatenate([r_t.T @ force, r_t.T @ torque])

    def tip(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tool-centre point (m), the tool's axis (its z, unit) and the 6 x n Jacobian, in ``base_link``'s frame."""
        position, rotation, jac = self.tip_frame(q)
        return position, rotation[:, 2].copy(), jac

    def tip_linear(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tip position (3,), linear Jacobian (3, n)): what the safety filter checks commands against."""
        position, _, jac = self.tip_frame(q)
        return position, jac[:3]

    def describe(self) -> str:
        return (
            f"{self.name or 'arm'} from {self.description.source}: {self.num_joints} joints "
            f"{list(self.joint_names)}, {self.base_link} -> {self.tip_link} + tool {list(self.tool_offset)}"
        )


def _check_joints(description: ArmDescription, chain: list[str], names: tuple[str, ...], base: str, tip: str) -> None:
    source = description.source
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DescriptionError("joint_names", f"lists {dupes} twice")
    known = {j.name for j in description.joints}
    for name in names:
        if name not in chain:
            where = (
                f"in the description but not between base_link {base!r} and tip_link {tip!r}"
                if name in known
                else "not a joint of the description"
            )
            raise DescriptionError(
                source, f"joint {name!r} (joint_names) is {where}; the arm's joints from {base} to {tip} are {chain}"
            )
    extra = [j for j in chain if j not in names]
    if extra:
        raise DescriptionError(
            source,
            f"the arm's joint(s) {extra} between {base} and {tip} are not in joint_names ({len(names)} listed, "
            f"the arm has {len(chain)}: {chain}); list every joint of the arm",
        )
