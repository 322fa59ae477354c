"""Teleoperation devices behind one interface: each gives an end-effector twist per control period.

A twist is six numbers in the arm's base frame: the peg tip's linear velocity
(m/s) and the peg's angular velocity (rad/s). :func:`twist_to_joint_velocities`
maps it to joint velocities through the tip's Jacobian (damped least squares);
the recorder then sends those through the deploy path's safety filter, so a
device never commands the arm itself.

Devices: the keyboard (key events from the recording GUI or the terminal, so it
works over SSH and in tests), a 3Dconnexion SpaceMouse (``pyspacemouse``), a
gamepad (``pygame``), and a scripted device that replays the scripted expert as
twists (tests, and a hands-free check of the whole chain). The SpaceMouse and
gamepad libraries are imported only when such a device is opened.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from robot_il.errors import RobotILError
from robot_il.hal.base import Observation
from robot_il.tasks.base import task_entry

DEVICES = ("keyboard", "spacemouse", "gamepad", "scripted")


class TeleopDeviceError(RobotILError):
    """A teleop device cannot be opened: its library is missing or no such device is attached."""


def twist_to_joint_velocities(jacobian: np.ndarray, twist: np.ndarray, damping: float = 0.01) -> np.ndarray:
    """Joint velocities (rad/s) that best give ``twist`` (m/s, rad/s) for the 6 x n tip Jacobian.

    Damped least squares, ``J^T (J J^T + damping^2 I)^-1 twist``: near a singularity the
    arm moves less rather than fast. A zero angular part holds the peg's orientation."""
    jac = np.asarray(jacobian, dtype=np.float64)
    return jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(jac.shape[0]), np.asarray(twist, float))


class TeleopDevice(ABC):
    """An input device read once per control period."""

    name: str = "device"

    @abstractmethod
    def twist(self, obs: Observation) -> np.ndarray:
        """The commanded twist at state ``obs``: linear m/s then angular rad/s, base frame, shape (6,)."""

    def close(self) -> None:  # noqa: B027 (most devices hold nothing to release)
        """Release the device."""


class KeyboardTeleop(TeleopDevice):
    """Keys held down move the peg tip at ``speed`` (m/s) and turn the peg at ``turn_speed`` (rad/s).

    W/S: +x/-x (towards / away from the socket at home), A/D: +y/-y, Q/E: up/down;
    I/K and J/L turn the peg about y and z. The GUI reports key presses and releases;
    a terminal has no releases, so there each press moves for ``pulse`` seconds
    (a tap nudges, a held key moves once the terminal's auto-repeat starts).
    """

    name = "keyboard"
    BINDINGS: ClassVar[dict[str, tuple[int, float]]] = {
        **{"w": (0, 1.0), "s": (0, -1.0), "a": (1, 1.0), "d": (1, -1.0), "q": (2, 1.0), "e": (2, -1.0)},
        **{"i": (4, -1.0), "k": (4, 1.0), "j": (5, 1.0), "l": (5, -1.0)},
    }
    """Key -> (twist component, sign): 0-2 the tip's x, y, z; 4-5 the peg's rotation about y and z."""

    def __init__(self, speed: float = 0.02, turn_speed: float = 0.2, pulse: float | None = None) -> None:
        self.speed, self.turn_speed, self.pulse = speed, turn_speed, pulse
        self._held: dict[str, float] = {}  # key -> monotonic time it stops counting (inf while held)
        self._lock = threading.Lock()

    def press(self, key: str) -> bool:
        """A key went down; returns whether it is a motion key."""
        key = key.lower()
        if key not in self.BINDINGS:
            return False
        with self._lock:
            self._held[key] = np.inf if self.pulse is None else time.monotonic() + self.pulse
        return True

    def release(self, key: str) -> None:
        with self._lock:
            self._held.pop(key.lower(), None)

    def release_all(self) -> None:
        with self._lock:
            self._held.clear()

    def twist(self, obs: Observation) -> np.ndarray:
        now = time.monotonic()
        out = np.zeros(6)
        with self._lock:
            for key, until in list(self._held.items()):
                if until < now:
                    del self._held[key]
                    continue
                axis, sign = self.BINDINGS[key]
                out[axis] += sign * (self.speed if axis < 3 else self.turn_speed)
        return out


class ScriptedTeleop(TeleopDevice):
    """The task's scripted expert as a device: its joint velocities as the tip twist they make, ``J @ qdot``.

    The recorder maps the twist back through the Jacobian, so with the arm's six joints the
    expert's own command comes out (up to the damping); every command still passes the filter."""

    name = "scripted"

    def __init__(self, cfg: Any = None, task: str = "peg") -> None:
        self.expert = task_entry(task).make_expert(cfg)
        self.kinematics = self.expert.kinematics

    def twist(self, obs: Observation) -> np.ndarray:
        _, _, jac = self.kinematics.tip(obs.joint_positions)
        return jac @ self.expert(obs)


class SpaceMouseTeleop(TeleopDevice):
    """A 3Dconnexion SpaceMouse through ``pyspacemouse`` (hidapi): full deflection gives ``max_speed`` (m/s)
    and ``max_turn`` (rad/s). Axes are mapped as the puck is held with its cable away from you, facing the arm."""

    name = "spacemouse"

    def __init__(self, max_speed: float = 0.05, max_turn: float = 0.4, deadzone: float = 0.05) -> None:
        try:
            import pyspacemouse
        except ImportError:
            raise TeleopDeviceError(
                "the SpaceMouse needs pyspacemouse: pip install pyspacemouse (and the hidapi library: "
                "apt install libhidapi-hidraw0; a udev rule gives your user the hidraw device)"
            ) from None
        if not pyspacemouse.open():
            raise TeleopDeviceError(
                "no SpaceMouse found: is it plugged in, and may your user read its /dev/hidraw* device?"
            )
        self._lib = pyspacemouse
        self.max_speed, self.max_turn, self.deadzone = max_speed, max_turn, deadzone

    def twist(self, obs: Observation) -> np.ndarray:
        s = self._lib.read()
        raw = np.array([s.y, -s.x, s.z, s.roll, s.pitch, -s.yaw], dtype=np.float64)
        raw[np.abs(raw) < self.deadzone] = 0.0
        return np.concatenate([self.max_speed * raw[:3], self.max_turn * raw[3:]])

    def close(self) -> None:
        self._lib.close()


class GamepadTeleop(TeleopDevice):
    """A gamepad through ``pygame``: left stick x/y, right stick up/down for z, right stick left/right turns the
    peg about z; full deflection gives ``max_speed`` (m/s) and ``max_turn`` (rad/s)."""

    name = "gamepad"

    def __init__(self, index: int = 0, max_speed: float = 0.05, max_turn: float = 0.4, deadzone: float = 0.1) -> None:
        try:
            import pygame
        except ImportError:
            raise TeleopDeviceError("the gamepad needs pygame: pip install pygame-ce") from None
        pygame.joystick.init()
        count = pygame.joystick.get_count()
        if index >= count:
            raise TeleopDeviceError(f"no gamepad number {index}: {count} attached (is it connected and paired?)")
        self._pygame = pygame
        self._stick = pygame.joystick.Joystick(index)
        self.max_speed, self.max_turn, self.deadzone = max_speed, max_turn, deadzone

    def twist(self, obs: Observation) -> np.ndarray:
        self._pygame.event.pump()
        axis = self._stick.get_axis
        raw = np.array([-axis(1), -axis(0), -axis(4), 0.0, 0.0, -axis(3)], dtype=np.float64)
        raw[np.abs(raw) < self.deadzone] = 0.0
        return np.concatenate([self.max_speed * raw[:3], self.max_turn * raw[3:]])

    def close(self) -> None:
        self._pygame.joystick.quit()


def open_device(name: str, cfg: Any = None, speed: float = 0.02, task: str = "peg") -> TeleopDevice:
    """A device by name (one of :data:`DEVICES`); ``cfg`` and ``task`` pick the scripted device's expert (the
    cell's config, the registered task), ``speed`` is the keyboard's tip speed, m/s."""
    if name == "keyboard":
        return KeyboardTeleop(speed=speed)
    if name == "scripted":
        return ScriptedTeleop(cfg, task)
    if name == "spacemouse":
        return SpaceMouseTeleop()
    if name == "gamepad":
        return GamepadTeleop()
    raise TeleopDeviceError(f"unknown teleop device {name!r}; use one of {', '.join(DEVICES)}")
