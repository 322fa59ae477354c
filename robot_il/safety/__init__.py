"""Safety: limits, the command filter, e-stop. Every command in the deploy path passes the filter."""

from robot_il.safety.filter import Intervention, SafeCommand, SafetyFilter
from robot_il.safety.limits import (
    CartesianLimits,
    JointLimits,
    SafetyLimits,
    default_limits,
    load_limits,
    read_limits_yaml,
)

__all__ = [
    "CartesianLimits",
    "Intervention",
    "JointLimits",
    "SafeCommand",
    "SafetyFilter",
    "SafetyLimits",
    "default_limits",
    "load_limits",
    "read_limits_yaml",
]
