"""An arm's own description (URDF or MJCF), read for what robot-il needs of it: links, joints and limits.

The description is the one a lab already has: the URDF that robot_state_publisher
publishes on ``/robot_description`` (UR's, Franka's and Kinova's drivers hand it the
factory-calibrated one), or a URDF / MJCF file. Only its kinematic tree and limits
are used; meshes never are, so a description whose meshes live in ROS packages
(``package://...``) that this machine does not have still loads.

MuJoCo compiles the kinematic tree (:meth:`ArmDescription.compile`). Its URDF
reader needs three things set, checked with mujoco 3.17: collision meshes are
opened even when visuals are skipped, so ``<collision>`` and ``<visual>`` are
removed; ``fusestatic`` is turned off, or fixed frames such as ``tool0`` are
merged away; links without ``<inertial>`` get ``boundmass``/``boundinertia``.
``<ros2_control>``, ``<transmission>`` and ``<gazebo>`` tags are ignored by it.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from robot_il.arm.rotations import matrix_rpy
from robot_il.errors import ConfigError

_HINGE, _SLIDE = int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)
MOVABLE = ("revolute", "continuous", "prismatic")
"""URDF joint types that move (``fixed`` joints are frames; ``floating``/``planar`` are refused on an arm)."""

KINEMATIC_COMPILER = 'fusestatic="false" discardvisual="true" boundmass="1e-4" boundinertia="1e-8"'
"""MuJoCo's compiler options for reading a URDF's kinematic tree: keep fixed frames, skip visuals, and give links
without an inertial a mass (MuJoCo refuses a moving body without one)."""


class DescriptionError(ConfigError):
    """An arm description that cannot be read, or that does not match what the config says about the arm. The
    message starts with the description's source (a file, a topic)."""


@dataclass(frozen=True)
class JointDescription:
    """One movable joint as the description gives it. Missing limits are infinite."""

    name: str
    type: str
    """'revolute', 'continuous' or 'prismatic' (MJCF hinges read as revolute or continuous, slides as prismatic)."""
    parent: str
    """Parent link (URDF) or body (MJCF)."""
    child: str
    lower: float = -math.inf
    """Position limits, rad (m for prismatic); infinite for a continuous joint."""
    upper: float = math.inf
    velocity: float = math.inf
    """Velocity limit, rad/s (m/s)."""
    effort: float = math.inf
    """Effort limit, N·m (N)."""

    @property
    def has_position_limits(self) -> bool:
        return math.isfinite(self.lower) and math.isfinite(self.upper)


@dataclass(frozen=True)
class ArmDescription:
    """A parsed arm description: its tree of links and movable joints, with the joints' limits."""

    name: str
    """The robot's name in the description (``<robot name=...>``, ``<mujoco model=...>``)."""
    source: str
    """Where it came from, for messages: a file, a topic, or a simulated arm's name."""
    format: str
    """'urdf' or 'mjcf'."""
    text: str
    """The description as read (for MJCF from a file: its path, so that includes and assets resolve)."""
    links: tuple[str, ...]
    joints: tuple[JointDescription, ...]
    parents: dict[str, tuple[str, str | None]]
    """Link -> (its parent link, the movable joint between them or None for a fixed one). The root is absent."""

    @property
    def root(self) -> str:
        roots = [link for link in self.links if link not in self.parents]
        return roots[0]

    def joint(self, name: str) -> JointDescription:
        for j in self.joints:
            if j.name == name:
                return j
        raise KeyError(name)

    def path(self, link: str) -> list[str]:
        """Links from the root down to ``link``, both included."""
        out = [link]
        while out[-1] in self.parents:
            out.append(self.parents[out[-1]][0])
        return out[::-1]

    def chain(self, base: str, tip: str) -> list[str]:
        """The movable joints from link ``base`` down to link ``tip``, in order. Raises if ``base`` is not above
        ``tip``, naming both."""
        for name, what in ((base, "base_link"), (tip, "tip_link")):
            if name not in self.links:
                raise DescriptionError(
                    self.source,
                    f"{what} {name!r} is not a link of the description; its links are {_short(self.links)}",
                )
        path = self.path(tip)
        if base not in path:
            raise DescriptionError(self.source, f"base_link {base!r} is not above tip_link {tip!r} in the description")
        below = path[path.index(base) + 1 :]
        return [j for link in below if (j := self.parents[link][1]) is not None]

    def compile(self) -> mujoco.MjModel:
        """The kinematic tree as a MuJoCo model: no geometry, no actuators, just frames and joints."""
        try:
            if self.format == "urdf":
                return mujoco.MjModel.from_xml_string(kinematic_urdf(self.text))
            return mujoco.MjModel.from_xml_path(self.text)
        except ValueError as err:
            raise DescriptionError(self.source, f"MuJoCo cannot compile it: {str(err).splitlines()[0]}") from None


def kinematic_urdf(text: str) -> str:
    """A URDF with its geometry removed and MuJoCo's compiler options for a kinematic model inserted."""
    text = re.sub(r"<(collision|visual)\b.*?</\1\s*>", "", text, flags=re.S)
    text = re.sub(r"<(collision|visual)\b[^>]*/>", "", text)
    return with_compiler(text, KINEMATIC_COMPILER)


def with_compiler(urdf: str, options: str) -> str:
    """``urdf`` with a ``<mujoco><compiler OPTIONS/></mujoco>`` block (MuJoCo's URDF extension) as the robot's
    first child, replacing any it had."""
    urdf = re.sub(r"<mujoco\b.*?</mujoco\s*>", "", urdf, flags=re.S)
    block = f"<mujoco><compiler {options}/></mujoco>"
    return re.sub(r"(<robot\b[^>]*?)>", lambda m: f"{m.group(1)}>{block}", urdf, count=1)


def parse_urdf(text: str, source: str) -> ArmDescription:
    """Read a URDF string; errors name ``source``."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise DescriptionError(source, f"not valid XML: {err}") from None
    if root.tag != "robot":
        raise DescriptionError(source, f"not a URDF: the top element is <{root.tag}>, expected <robot>")
    links = tuple(link.get("name", "") for link in root.findall("link"))
    parents: dict[str, tuple[str, str | None]] = {}
    joints = []
    for j in root.findall("joint"):
        name, kind = j.get("name", ""), j.get("type", "")
        parent, child = j.find("parent"), j.find("child")
        if parent is None or child is None:
            raise DescriptionError(source, f"joint {name!r} lacks a parent or child link")
        p, c = parent.get("link", ""), child.get("link", "")
        if kind in ("floating", "planar"):
            raise DescriptionError(
                source, f"joint {name!r} is {kind}; an arm's joints are revolute, prismatic or fixed"
            )
        if kind in MOVABLE:
            limit = j.find("limit")
            joints.append(
                JointDescription(
                    name=name,
                    type=kind,
                    parent=p,
                    child=c,
                    lower=_attr(limit, "lower", -math.inf, source, name) if kind != "continuous" else -math.inf,
                    upper=_attr(limit, "upper", math.inf, source, name) if kind != "continuous" else math.inf,
                    velocity=_positive(_attr(limit, "velocity", math.inf, source, name)),
                    effort=_positive(_attr(limit, "effort", math.inf, source, name)),
                )
            )
        parents[c] = (p, name if kind in MOVABLE else None)
    _check_tree(links, parents, source)
    return ArmDescription(root.get("name", ""), source, "urdf", text, links, tuple(joints), parents)


def parse_mjcf(path: str | Path, source: str | None = None) -> ArmDescription:
    """Read an MJCF file: bodies are links, hinge and slide joints the movable joints. Velocity limits come from a
    velocity actuator's ``ctrlrange`` on the joint, effort limits from its ``forcerange`` (or the joint's
    ``actuatorfrcrange``)."""
    source = source or str(path)
    try:
        model = mujoco.MjModel.from_xml_path(str(path))
    except ValueError as err:
        raise DescriptionError(source, f"MuJoCo cannot compile it: {str(err).splitlines()[0]}") from None
    return description_from_model(model, source, "mjcf", str(path))


def description_from_model(model: mujoco.MjModel, source: str, fmt: str, text: str) -> ArmDescription:
    body = lambda i: mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, i) or f"body{i}"  # noqa: E731
    links = tuple(body(i) for i in range(model.nbody))
    parents: dict[str, tuple[str, str | None]] = {}
    joints = []
    for b in range(1, model.nbody):
        movable = [
            j
            for j in range(model.body_jntadr[b], model.body_jntadr[b] + model.body_jntnum[b])
            if model.jnt_type[j] in (_HINGE, _SLIDE)
        ]
        if model.body_jntnum[b] > len(movable):
            raise DescriptionError(source, f"body {body(b)!r} has a free or ball joint; an arm's joints are hinges")
        if len(movable) > 1:
            raise DescriptionError(source, f"body {body(b)!r} has {len(movable)} joints; give each its own body")
        name = None
        if movable:
            j = movable[0]
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
            hinge = model.jnt_type[j] == _HINGE
            limited = bool(model.jnt_limited[j])
            velocity, effort = math.inf, math.inf
            if model.jnt_actfrclimited[j]:
                effort = float(np.abs(model.jnt_actfrcrange[j]).max())
            for a in range(model.nu):
                if model.actuator_trntype[a] == int(mujoco.mjtTrn.mjTRN_JOINT) and model.actuator_trnid[a, 0] == j:
                    if model.actuator_forcelimited[a]:
                        effort = min(effort, float(np.abs(model.actuator_forcerange[a]).max()))
                    # A velocity servo (<velocity kv=...>): bias -kv on the joint velocity, none on its position.
                    servo = model.actuator_biasprm[a, 1] == 0 and model.actuator_biasprm[a, 2] < 0
                    if servo and model.actuator_ctrllimited[a]:
                        velocity = min(velocity, float(np.abs(model.actuator_ctrlrange[a]).max()))
            joints.append(
                JointDescription(
                    name=name,
                    type=("revolute" if limited else "continuous") if hinge else "prismatic",
                    parent=body(model.body_parentid[b]),
                    child=body(b),
                    lower=float(model.jnt_range[j, 0]) if limited else -math.inf,
                    upper=float(model.jnt_range[j, 1]) if limited else math.inf,
                    velocity=velocity,
                    effort=effort,
                )
            )
        parents[body(b)] = (body(model.body_parentid[b]), name)
    return ArmDescription(
        mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_MODEL, 0) or "", source, fmt, text, links, tuple(joints), parents
    )


def load_description(path: str | Path) -> ArmDescription:
    """A URDF or MJCF file, told apart by its top element."""
    path = Path(path)
    if not path.is_file():
        raise DescriptionError(str(path), "arm description file not found; give a URDF or MJCF file")
    text = path.read_text()
    head = re.search(r"<\s*(robot|mujoco)\b", text)
    if head is None:
        raise DescriptionError(str(path), "neither a URDF (<robot>) nor an MJCF (<mujoco>) file")
    if head.group(1) == "robot":
        return parse_urdf(text, str(path))
    return parse_mjcf(path)


def _attr(element, name: str, default: float, source: str, joint: str) -> float:
    if element is None or element.get(name) is None:
        return default
    try:
        return float(element.get(name))
    except ValueError:
        raise DescriptionError(
            source, f"joint {joint!r}: <limit {name}={element.get(name)!r}> is not a number"
        ) from None


def _positive(value: float) -> float:
    """URDF authors write 0 for an unknown velocity or effort limit: read it as none given."""
    return value if value > 0 else math.inf


def _check_tree(links: tuple[str, ...], parents: dict[str, tuple[str, str | None]], source: str) -> None:
    if not links:
        raise DescriptionError(source, "the description has no links")
    unknown = sorted({c for c in parents if c not in links} | {p for p, _ in parents.values() if p not in links})
    if unknown:
        raise DescriptionError(source, f"joints refer to undeclared link(s) {unknown}")
    roots = [link for link in links if link not in parents]
    if len(roots) != 1:
        raise DescriptionError(
            source, f"the links form {len(roots)} trees (roots {_short(roots)}); a URDF has one root"
        )


def _short(names, limit: int = 12) -> str:
    names = list(names)
    return str(names) if len(names) <= limit else f"{names[:limit]} and {len(names) - limit} more"


def urdf_from_model(
    model: mujoco.MjModel,
    name: str,
    joints: dict[str, JointDescription],
    frames: dict[str, tuple[str, np.ndarray, np.ndarray]] | None = None,
) -> str:
    """A kinematic URDF of a compiled MuJoCo arm: a link per body (with its inertia), its hinges as revolute or
    continuous joints with the limits in ``joints``, and ``frames`` (name -> (body, position, quaternion w x y
    z)) as fixed links. What a simulated MJCF arm publishes on ``/robot_description``, as a real driver's
    robot_state_publisher does. Joints must sit at their body's origin (URDF has no joint offset)."""

    def fmt(values) -> str:
        return " ".join(f"{float(v):.12g}" for v in values)

    def rpy(quat) -> str:
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=np.float64))
        return fmt(matrix_rpy(mat.reshape(3, 3)))

    body = lambda i: "world" if i == 0 else mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, i)  # noqa: E731
    out = [f'<robot name="{name}">', '  <link name="world"/>']
    for b in range(1, model.nbody):
        out.append(f'  <link name="{body(b)}">')
        if model.body_mass[b] > 0:
            ixx, iyy, izz = model.body_inertia[b]
            out += [
                "    <inertial>",
                f'      <origin xyz="{fmt(model.body_ipos[b])}" rpy="{rpy(model.body_iquat[b])}"/>',
                f'      <mass value="{model.body_mass[b]:.12g}"/>',
                f'      <inertia ixx="{ixx:.12g}" ixy="0" ixz="0" iyy="{iyy:.12g}" iyz="0" izz="{izz:.12g}"/>',
                "    </inertial>",
            ]
        out.append("  </link>")
        origin = f'    <origin xyz="{fmt(model.body_pos[b])}" rpy="{rpy(model.body_quat[b])}"/>'
        links = f'    <parent link="{body(model.body_parentid[b])}"/>\n    <child link="{body(b)}"/>'
        if model.body_jntnum[b] == 0:
            out += [f'  <joint name="{body(b)}_fixed" type="fixed">', origin, links, "  </joint>"]
            continue
        j = model.body_jntadr[b]
        jname = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
        if np.abs(model.jnt_pos[j]).max() > 1e-9:
            raise DescriptionError(name, f"joint {jname!r} is offset from its body's origin; URDF cannot say so")
        desc = joints[jname]
        limit = [
            f'effort="{desc.effort:.12g}"' if math.isfinite(desc.effort) else 'effort="0"',
            f'velocity="{desc.velocity:.12g}"' if math.isfinite(desc.velocity) else 'velocity="0"',
        ]
        if desc.has_position_limits:
            limit = [f'lower="{desc.lower:.12g}"', f'upper="{desc.upper:.12g}"', *limit]
        out += [
            f'  <joint name="{jname}" type="{desc.type}">',
            origin,
            links,
            f'    <axis xyz="{fmt(model.jnt_axis[j])}"/>',
            f"    <limit {' '.join(limit)}/>",
            "  </joint>",
        ]
    for frame, (parent, pos, quat) in (frames or {}).items():
        out += [
            f'  <link name="{frame}"/>',
            f'  <joint name="{frame}_fixed" type="fixed">',
            f'    <origin xyz="{fmt(pos)}" rpy="{rpy(quat)}"/>',
            f'    <parent link="{parent}"/>\n    <child link="{frame}"/>',
            "  </joint>",
        ]
    out.append("</robot>")
    return "\n".join(out) + "\n"
