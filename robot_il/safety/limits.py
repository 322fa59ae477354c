"""Safety limits: ros2_control's joint_limits.yaml fields plus a Cartesian section, within the arm's description.

```yaml
joint_limits:              # one entry per joint of the arm, ros2_control field names
  shoulder_pan_joint:
    has_position_limits: true
    min_position: !degrees -360.0   # rad, or degrees with UR's !degrees tag
    max_position: !degrees  360.0
    has_velocity_limits: true
    max_velocity: 0.6               # rad/s
    has_acceleration_limits: true
    max_acceleration: 2.0           # rad/s^2
cartesian_limits:
  workspace_min: [0.25, -0.35, 0.10]   # m, robot base frame (tool-centre point)
  workspace_max: [0.80, 0.35, 0.65]
  max_ee_speed: 0.25                   # m/s (ISO 10218-1 reduced speed)
  max_force: 40.0                      # N, sustained: mean over force_window
  max_torque: 5.0                      # N·m, sustained: mean over force_window
  force_window: 0.25                   # s (0: every sample must stay under max_force)
  max_transient_force: 80.0            # N, any single sample (default: max_force)
  max_transient_torque: 10.0           # N·m, any single sample (default: max_torque)
soft_limit_margin: 0.1     # rad: joints slow to zero over this distance to a position limit
```

Every joint of the robot must be listed: a missing joint is an error, not a
joint without limits. The arm's own description (its URDF's ``<limit>``) bounds
the file: a value looser than the description's is refused, naming the joint,
both values and the description; the description's position limits apply even
where the file says ``has_position_limits: false``. Every value is checked: a
number (not a boolean or text), finite (``.inf`` never switches a check off),
and plausible for an arm (180 "rad/s" is a unit mistake, not a limit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from robot_il.arm import JointDescription
from robot_il.errors import ConfigError

JOINT_FIELDS = (
    "has_position_limits",
    "min_position",
    "max_position",
    "has_velocity_limits",
    "max_velocity",
    "has_acceleration_limits",
    "max_acceleration",
    "has_effort_limits",
    "max_effort",
)

PLAUSIBLE = {
    "min_position": 8 * math.pi,
    "max_position": 8 * math.pi,
    "max_velocity": 10.0,
    "max_acceleration": 200.0,
    "max_effort": 5000.0,
    "max_ee_speed": 2.0,
    "max_force": 2000.0,
    "max_torque": 500.0,
    "force_window": 10.0,
    "max_transient_force": 4000.0,
    "max_transient_torque": 1000.0,
    "workspace": 5.0,
    "soft_limit_margin": 1.0,
}
"""The largest magnitude each field may have on an arm, in SI units. A velocity of 10 rad/s is beyond any
collaborative arm's joint; a larger number is a unit mistake (degrees given as radians)."""
UNITS = {
    "min_position": "rad",
    "max_position": "rad",
    "max_velocity": "rad/s",
    "max_acceleration": "rad/s^2",
    "max_effort": "N·m",
    "max_ee_speed": "m/s",
    "max_force": "N",
    "max_torque": "N·m",
    "force_window": "s",
    "max_transient_force": "N",
    "max_transient_torque": "N·m",
    "workspace": "m",
    "soft_limit_margin": "rad",
}


@dataclass(frozen=True)
class JointLimits:
    has_position_limits: bool = False
    min_position: float = -math.inf
    max_position: float = math.inf
    has_velocity_limits: bool = False
    max_velocity: float = math.inf
    has_acceleration_limits: bool = False
    max_acceleration: float = math.inf
    has_effort_limits: bool = False
    max_effort: float = math.inf


@dataclass(frozen=True)
class CartesianLimits:
    workspace_min: tuple[float, float, float]
    workspace_max: tuple[float, float, float]
    max_ee_speed: float = 0.25
    max_force: float = math.inf
    """Sustained (quasi-static) contact force, N: the mean of the samples over ``force_window``. Infinite
    only where no file set it (a limits object built in code); a file must give a number."""
    max_torque: float = math.inf
    """Sustained contact torque, N·m, as ``max_force``."""
    force_window: float = 0.0
    """Seconds the sustained limits average over; 0 holds every single sample to them."""
    max_transient_force: float | None = None
    """Any single sample, N (ISO/TS 15066 allows transient contact about twice the quasi-static
    force); None: ``max_force``."""
    max_transient_torque: float | None = None
    """Any single sample, N·m; None: ``max_torque``."""

    @property
    def transient_force(self) -> float:
        return self.max_force if self.max_transient_force is None else self.max_transient_force

    @property
    def transient_torque(self) -> float:
        return self.max_torque if self.max_transient_torque is None else self.max_transient_torque


@dataclass(frozen=True)
class SafetyLimits:
    joint_names: tuple[str, ...]
    joints: tuple[JointLimits, ...]
    cartesian: CartesianLimits
    soft_limit_margin: float = 0.1


class _LimitsLoader(yaml.SafeLoader):
    """YAML with the unit tags of ros2_control's limits files: ``!degrees 180.0`` (UR's) and ``!radians``."""


def _degrees(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    value = loader.construct_scalar(node)
    try:
        return math.radians(float(value))
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"!degrees needs a number, got {value!r}", node.start_mark
        ) from None


def _radians(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return yaml.safe_load(loader.construct_scalar(node))


_LimitsLoader.add_constructor("!degrees", _degrees)
_LimitsLoader.add_constructor("!radians", _radians)


def read_limits_yaml(text: str, source: str) -> Any:
    """Parse a limits file's text (``!degrees`` values become radians); bad YAML raises one line naming it."""
    try:
        return yaml.load(text, Loader=_LimitsLoader)
    except yaml.YAMLError as err:
        first = " ".join(str(err).split())
        raise ConfigError(source, f"not valid YAML: {first}") from None


def _number(where: str, value: Any, field: str, allow_zero: bool = False) -> float:
    """A finite, plausible number (never a boolean or text); one line naming ``where`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(where, f"must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(where, f"must be finite, got {value}: an infinite limit would switch its check off")
    bound = PLAUSIBLE[field]
    unit = UNITS[field]
    if abs(value) > bound:
        hint = " (degrees given as radians? tag them !degrees)" if unit.startswith("rad") else ""
        raise ConfigError(where, f"{value:g} {unit} is not a plausible limit for an arm (at most {bound:g}){hint}")
    return value


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(where, f"must be true or false, got {value!r}")
    return value


def _joint(entry: Any, where: str) -> JointLimits:
    if entry is None:
        entry = {}
    if not isinstance(entry, Mapping):
        raise ConfigError(where, f"must be a mapping of joint_limits.yaml fields, got {entry!r}")
    bad = set(entry) - set(JOINT_FIELDS)
    if bad:
        raise ConfigError(f"{where}.{sorted(bad)[0]}", f"unknown field; the fields are {', '.join(JOINT_FIELDS)}")
    values: dict[str, Any] = {}
    for key, value in entry.items():
        if key.startswith("has_"):
            values[key] = _flag(f"{where}.{key}", value)
        else:
            values[key] = _number(f"{where}.{key}", value, key)
    limit = JointLimits(**values)
    if limit.has_position_limits and not limit.min_position < limit.max_position:
        raise ConfigError(f"{where}.min_position", f"must be below max_position, got {limit.min_position}")
    for flag in ("velocity", "acceleration", "effort"):
        value = getattr(limit, f"max_{flag}")
        if getattr(limit, f"has_{flag}_limits") and not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{where}.max_{flag}", f"must be a positive finite number, got {value}")
    if not limit.has_velocity_limits:
        raise ConfigError(f"{where}.has_velocity_limits", "every joint needs a velocity limit to be commanded safely")
    return limit


def within_description(limit: JointLimits, arm: JointDescription, where: str, source: str) -> JointLimits:
    """``limit`` bounded by the arm's description ``arm``: a looser value is refused, naming both; the
    description's position limits apply where the file has none."""

    def looser(field: str, value: float, theirs: float, unit: str) -> None:
        raise ConfigError(
            f"{where}.{field}",
            f"{value:g} {unit} is looser than the arm's own limit {theirs:g} {unit} ({source}); "
            "a limits file may only tighten the description's limits",
        )

    if limit.max_velocity > arm.velocity:
        looser("max_velocity", limit.max_velocity, arm.velocity, "rad/s")
    if limit.has_effort_limits and limit.max_effort > arm.effort:
        looser("max_effort", limit.max_effort, arm.effort, "N·m")
    if arm.has_position_limits:
        if not limit.has_position_limits:
            return replace(limit, has_position_limits=True, min_position=arm.lower, max_position=arm.upper)
        if limit.min_position < arm.lower - 1e-9:
            looser("min_position", limit.min_position, arm.lower, "rad")
        if limit.max_position > arm.upper + 1e-9:
            looser("max_position", limit.max_position, arm.upper, "rad")
    return limit


def limits_from_dict(
    data: Any,
    joint_names: Sequence[str],
    source: str = "limits",
    description: Sequence[JointDescription] | None = None,
    description_source: str = "the arm's description",
) -> SafetyLimits:
    """Validate and build limits; every error names ``source`` and the field. ``description`` holds the arm's
    joints as its description gives them (in ``joint_names`` order): the file may only tighten them."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, "expected a mapping with 'joint_limits' and 'cartesian_limits'")
    unknown = set(data) - {"joint_limits", "cartesian_limits", "soft_limit_margin"}
    if unknown:
        raise ConfigError(f"{source}:{sorted(unknown)[0]}", "unknown section")
    jl = data.get("joint_limits") or {}
    if not isinstance(jl, Mapping):
        raise ConfigError(f"{source}:joint_limits", "must map each joint's name to its limits")
    missing = [n for n in joint_names if n not in jl]
    if missing:
        raise ConfigError(
            f"{source}:joint_limits",
            f"no limits for joint(s) {missing} of the arm {list(joint_names)}; list every joint",
        )
    joints = []
    for i, name in enumerate(joint_names):
        where = f"{source}:joint_limits.{name}"
        limit = _joint(jl[name], where)
        if description is not None:
            limit = within_description(limit, description[i], where, description_source)
        joints.append(limit)
    cartesian = _cartesian(data.get("cartesian_limits"), f"{source}:cartesian_limits")
    margin = _number(f"{source}:soft_limit_margin", data.get("soft_limit_margin", 0.1), "soft_limit_margin")
    if margin < 0:
        raise ConfigError(f"{source}:soft_limit_margin", f"must be >= 0, got {margin}")
    return SafetyLimits(tuple(joint_names), tuple(joints), cartesian, margin)


def _cartesian(cart: Any, where: str) -> CartesianLimits:
    if not isinstance(cart, Mapping):
        raise ConfigError(where, "missing; a workspace box is required")
    scalars = ("max_ee_speed", "max_force", "max_torque", "force_window", "max_transient_force", "max_transient_torque")
    fields = {"workspace_min", "workspace_max", *scalars}
    if set(cart) - fields:
        raise ConfigError(f"{where}.{sorted(set(cart) - fields)[0]}", f"unknown field; the fields are {sorted(fields)}")
    corners = {}
    for corner in ("workspace_min", "workspace_max"):
        if corner not in cart:
            raise ConfigError(f"{where}.{corner}", "missing; a workspace box is required")
        value = cart[corner]
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
            raise ConfigError(f"{where}.{corner}", f"must be 3 coordinates [x, y, z] in m, got {value!r}")
        corners[corner] = tuple(_number(f"{where}.{corner}[{i}]", v, "workspace") for i, v in enumerate(value))
    values = {k: _number(f"{where}.{k}", cart[k], k) for k in scalars if k in cart}
    cartesian = CartesianLimits(**corners, **values)
    if any(lo >= hi for lo, hi in zip(cartesian.workspace_min, cartesian.workspace_max, strict=True)):
        raise ConfigError(f"{where}.workspace_min", "inverted or empty workspace box")
    for k in ("max_ee_speed", "max_force", "max_torque"):
        if not getattr(cartesian, k) > 0:
            raise ConfigError(f"{where}.{k}", f"must be positive, got {getattr(cartesian, k)}")
    if not cartesian.force_window >= 0:
        raise ConfigError(f"{where}.force_window", f"must be >= 0 s, got {cartesian.force_window}")
    for transient, sustained in (("max_transient_force", "max_force"), ("max_transient_torque", "max_torque")):
        value, floor = getattr(cartesian, transient), getattr(cartesian, sustained)
        if value is not None and not value >= floor:
            raise ConfigError(f"{where}.{transient}", f"must be >= {sustained} ({floor}), got {value}")
    return cartesian


def load_limits(
    path: str | Path,
    joint_names: Sequence[str],
    description: Sequence[JointDescription] | None = None,
    description_source: str = "the arm's description",
) -> SafetyLimits:
    """A limits file for the joints ``joint_names``, within the arm's ``description`` (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "limits file not found")
    data = read_limits_yaml(path.read_text(), str(path))
    return limits_from_dict(data, joint_names, str(path), description, description_source)


def default_limits(
    task: str,
    arm: str,
    joint_names: Sequence[str],
    workspace: tuple[Sequence[float], Sequence[float]] | None = None,
    description: Sequence[JointDescription] | None = None,
) -> SafetyLimits:
    """The limits shipped for a simulated cell: the arm's joint limits (``robot_il/safety/arms/<arm>.yaml``) and
    the task's Cartesian limits (``robot_il/safety/<task>_limits.yaml``), the workspace box ``workspace`` (the
    cell's; default the task file's)."""
    folder = resources.files("robot_il.safety")
    arm_file, task_file = folder.joinpath("arms", f"{arm}.yaml"), folder.joinpath(f"{task}_limits.yaml")
    if not arm_file.is_file():
        raise ConfigError(
            "limits",
            f"no limits shipped for the arm {arm or '(unnamed)'!r}; write your arm's limits file (joint_limits: "
            "ros2_control's fields, UR's joint_limits.yaml works as is; plus a cartesian_limits section) and pass it "
            "with --limits",
        )
    if not task_file.is_file():
        raise ConfigError("limits", f"no limits shipped for the {task!r} cell; pass a limits file (--limits)")
    data = {**read_limits_yaml(task_file.read_text(), str(task_file)), **read_limits_yaml(arm_file.read_text(), "")}
    if workspace is not None:
        low, high = workspace
        data["cartesian_limits"] = {
            **data["cartesian_limits"],
            "workspace_min": [float(v) for v in low],
            "workspace_max": [float(v) for v in high],
        }
    source = f"robot_il/safety/arms/{arm}.yaml + {task}_limits.yaml"
    return limits_from_dict(data, joint_names, source, description)
