"""The simulated arm as a scene part: its MJCF, velocity servos and the flange site the tool attaches to.

As dm_control's composer entities, an arm owns its MJCF and tells the scene
where things are on it; the scene (:mod:`robot_il.cell.scene`) attaches it to
the arena, a tool to its flange, and the fixture beside it. The Jaco is
dm_control's own entity; the other arms are built from their URDF, which
MuJoCo reads, and which is also what their kinematics
(:class:`robot_il.arm.ArmModel`) and ``/robot_description`` are made from, so
the simulated arm and the model of it cannot disagree.

Every arm gets the same actuation: a velocity servo per joint (gain
``servo_gain``, command range the config's velocity bounds, torque range the
description's effort limits) and gravity compensation, as a cobot's controller
does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from robot_il.arm import SimArm
from robot_il.arm.description import with_compiler

SCOPE = {"jaco": "jaco_arm"}
"""The MJCF namespace of each arm in the scene (the Jaco keeps dm_control's name); default: the arm's name."""
ARM_CONTYPE = 4
"""Collision bits of a URDF arm's links: they touch the floor and the fixture (whose conaffinity the scene
extends by this bit) but not themselves or the tool they carry."""


@dataclass
class ArmEntity:
    """An arm's MJCF in the scene, and the names its parts have there."""

    arm: SimArm
    mjcf_model: Any  # mjcf.RootElement
    joints: tuple[str, ...]
    """The arm's joints in HAL order, by their description names."""
    flange: Any  # mjcf site
    """Where the tool attaches: the flange frame, z out of it."""

    @property
    def scope(self) -> str:
        return self.mjcf_model.model

    def scoped(self, name: str) -> str:
        """The name of the arm's element ``name`` in the compiled scene."""
        return f"{self.scope}/{name}"


def build_arm(arm: SimArm, velocity_bounds, gravity_compensation: bool = True) -> ArmEntity:
    """The arm ``arm``'s MJCF with velocity servos bounded by ``velocity_bounds`` (rad/s, one per joint)."""
    if arm.urdf is None:
        return _jaco(arm, velocity_bounds, gravity_compensation)
    return _from_urdf(arm, velocity_bounds, gravity_compensation)


def _jaco(arm: SimArm, velocity_bounds, gravity_compensation: bool) -> ArmEntity:
    from dm_control.entities.manipulators.kinova import jaco_arm

    entity = jaco_arm.JacoArm(name=SCOPE["jaco"])
    if gravity_compensation:
        for body in entity.mjcf_model.find_all("body"):
            body.gravcomp = 1
    for joint, vmax in zip(entity.joints, velocity_bounds, strict=True):
        entity.mjcf_model.find("actuator", joint.name).ctrlrange = (-vmax, vmax)
    return ArmEntity(arm, entity.mjcf_model, tuple(j.name for j in entity.joints), entity.wrist_site)


def _from_urdf(arm: SimArm, velocity_bounds, gravity_compensation: bool) -> ArmEntity:
    import mujoco
    from dm_control import mjcf

    description = arm.description()
    text = with_compiler(description.text, 'fusestatic="false" discardvisual="true"')
    root = mjcf.from_xml_string(mujoco.MjSpec.from_string(text).to_xml())
    root.model = SCOPE.get(arm.name, arm.name)
    joints = tuple(j.name for j in arm.model().limits)  # the chain's joints, in the description's order
    efforts = {j.name: j.effort for j in description.joints}
    for body in root.find_all("body"):
        if gravity_compensation:
            body.gravcomp = 1
    for geom in root.find_all("geom"):
        geom.contype, geom.conaffinity, geom.rgba = ARM_CONTYPE, 0, (0.62, 0.64, 0.68, 1)
    for i, (name, vmax) in enumerate(zip(joints, velocity_bounds, strict=True)):
        joint = root.find("joint", name)
        joint.armature = arm.armature[i] if arm.armature else 0.0
        joint.damping = arm.damping
        effort = efforts[name]
        root.actuator.add(
            "velocity",
            name=name,
            joint=joint,
            kv=arm.servo_gain,
            ctrlrange=(-vmax, vmax),
            forcelimited=math.isfinite(effort),
            forcerange=(-effort, effort) if math.isfinite(effort) else None,
        )
    flange = root.find("body", arm.tip_link).add("site", name="flange", size=(0.004,), rgba=(0, 0, 1, 0))
    return ArmEntity(arm, root, joints, flange)
