"""Hardware abstraction layer: one Robot and one PanTilt interface, many backends."""

from robot_il.hal.base import AppliedAction, FieldSpec, Observation, PanTilt, Robot, RobotSpec
from robot_il.hal.factory import Backend, backend_names, make_backend, register_backend

__all__ = [
    "AppliedAction",
    "Backend",
    "FieldSpec",
    "Observation",
    "PanTilt",
    "Robot",
    "RobotSpec",
    "backend_names",
    "make_backend",
    "register_backend",
]
