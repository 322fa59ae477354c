"""Safety limits: ros2_control's joint_limits.yaml fields plus a Cartesian section.

```yaml
joint_limits:              # one entry per joint, ros2_control field names
  jaco_arm/joint_1:
    has_position_limits: false
    has_velocity_limits: true
    max_velocity: 0.5          # rad/s
    has_acceleration_limits: true
    max_acceleration: 2.0      # rad/s^2
cartesian_limits:
  workspace_min: [0.25, -0.35, 0.10]   # m, robot base frame (peg tip)
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
joint without limits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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
    """Sustained (quasi-static) contact force, N: the mean of the samples over ``force_window``."""
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


def limits_from_dict(data: Mapping[str, Any], joint_names: Sequence[str], source: str = "limits") -> SafetyLimits:
    """Validate and build limits; every error names ``source`` and the field."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, "expected a mapping with 'joint_limits' and 'cartesian_limits'")
    unknown = set(data) - {"joint_limits", "cartesian_limits", "soft_limit_margin"}
    if unknown:
        raise ConfigError(f"{source}:{sorted(unknown)[0]}", "unknown section")
    jl = data.get("joint_limits") or {}
    missing = [n for n in joint_names if n not in jl]
    if missing:
        raise ConfigError(f"{source}:joint_limits", f"no limits for joint(s) {missing}; list every joint")
    joints = []
    for name in joint_names:
        entry = jl[name] or {}
        bad = set(entry) - set(JOINT_FIELDS)
        if bad:
            raise ConfigError(f"{source}:joint_limits.{name}.{sorted(bad)[0]}", "unknown field")
        limit = JointLimits(**{k: entry[k] for k in JOINT_FIELDS if k in entry})
        _check_joint(limit, f"{source}:joint_limits.{name}")
        joints.append(limit)
    cart = data.get("cartesian_limits")
    if not isinstance(cart, Mapping):
        raise ConfigError(f"{source}:cartesian_limits", "missing; a workspace box is required")
    scalars = ("max_ee_speed", "max_force", "max_torque", "force_window", "max_transient_force", "max_transient_torque")
    fields = {"workspace_min", "workspace_max", *scalars}
    if set(cart) - fields:
        raise ConfigError(f"{source}:cartesian_limits.{sorted(set(cart) - fields)[0]}", "unknown field")
    try:
        cartesian = CartesianLimits(
            workspace_min=tuple(float(v) for v in cart["workspace_min"]),
            workspace_max=tuple(float(v) for v in cart["workspace_max"]),
            **{k: float(cart[k]) for k in scalars if k in cart},
        )
    except KeyError as err:
        raise ConfigError(f"{source}:cartesian_limits.{err.args[0]}", "missing") from None
    where = f"{source}:cartesian_limits"
    if len(cartesian.workspace_min) != 3 or len(cartesian.workspace_max) != 3:
        raise ConfigError(f"{where}.workspace_min", "workspace corners need 3 coordinates (x, y, z)")
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
    margin = float(data.get("soft_limit_margin", 0.1))
    if not margin >= 0:
        raise ConfigError(f"{source}:soft_limit_margin", f"must be >= 0, got {margin}")
    return SafetyLimits(tuple(joint_names), tuple(joints), cartesian, margin)


def _check_joint(limit: JointLimits, where: str) -> None:
    if limit.has_position_limits and not limit.min_position < limit.max_position:
        raise ConfigError(f"{where}.min_position", f"must be below max_position, got {limit.min_position}")
    for flag, value in (
        ("velocity", limit.max_velocity),
        ("acceleration", limit.max_acceleration),
        ("effort", limit.max_effort),
    ):
        if getattr(limit, f"has_{flag}_limits") and not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{where}.max_{flag}", f"must be a positive finite number, got {value}")
    if not limit.has_velocity_limits:
        raise ConfigError(f"{where}.has_velocity_limits", "every joint needs a velocity limit to be commanded safely")


def load_limits(path: str | Path, joint_names: Sequence[str]) -> SafetyLimits:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "limits file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(str(path), f"not valid YAML: {err}") from None
    return limits_from_dict(data, joint_names, source=str(path))


def default_peg_limits(joint_names: Sequence[str]) -> SafetyLimits:
    """Conservative limits for the simulated Jaco cell (see robot_il/safety/peg_limits.yaml)."""
    return default_cell_limits("peg", joint_names)


def default_cell_limits(cell: str, joint_names: Sequence[str]) -> SafetyLimits:
    """The limits shipped for the simulated Jaco cell of task ``cell`` (robot_il/safety/<cell>_limits.yaml)."""
    from importlib import resources

    source = f"robot_il/safety/{cell}_limits.yaml"
    path = resources.files("robot_il.safety").joinpath(f"{cell}_limits.yaml")
    if not path.is_file():
        raise ConfigError(source, f"no limits shipped for the {cell!r} cell; pass a limits file (--limits)")
    data = yaml.safe_load(path.read_text())
    # The file names the Jaco's joints joint_1..6; the sim prefixes them (jaco_arm/joint_1), ROS does not.
    data["joint_limits"] = {name: data["joint_limits"].get(name.rsplit("/", 1)[-1]) for name in joint_names}
    return limits_from_dict(data, joint_names, source=source)
