"""Build a backend (robot + pan-tilt) by name from a config.

Backends register a builder under a name such as ``sim:peg``. Builders are
imported lazily so that a ROS 2 user does not import MuJoCo and vice versa.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from robot_il.errors import ConfigError
from robot_il.hal.base import PanTilt, Robot


@dataclass
class Backend:
    """A robot and the pan-tilt unit of its cell, connected and closed together."""

    name: str
    robot: Robot
    pan_tilt: PanTilt

    def connect(self) -> None:
        self.robot.connect()

    def close(self) -> None:
        self.robot.close()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# name -> "module:function"; the function takes the config (mapping, dataclass or None).
_REGISTRY: dict[str, str] = {
    "sim:peg": "robot_il.sim.peg_backend:build",
    "sim:clip": "robot_il.sim.clip_backend:build",
    "ros2": "robot_il.ros2.robot:build",
}


def register_backend(name: str, builder: str) -> None:
    """Register ``builder`` ("module:function") under ``name``."""
    _REGISTRY[name] = builder


def backend_names() -> list[str]:
    return sorted(_REGISTRY)


def make_backend(name: str, config: Mapping[str, Any] | object | None = None) -> Backend:
    """Build the backend ``name`` (not yet connected). Unknown names raise ConfigError."""
    if name not in _REGISTRY:
        raise ConfigError("backend", f"unknown backend {name!r}; available: {', '.join(backend_names())}")
    module, func = _REGISTRY[name].split(":")
    builder: Callable[[Any], Backend] = getattr(importlib.import_module(module), func)
    return builder(config)
