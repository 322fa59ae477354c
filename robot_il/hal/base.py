"""The hardware abstraction layer: one interface for the arm and one for the pan-tilt unit.

A backend (MuJoCo, ROS 2, ...) implements :class:`Robot` and :class:`PanTilt`.
Everything above this layer (tasks, gymnasium envs, recorders, learners, the
deploy loop) talks only to these two classes. Units are SI throughout and are
named in the spec: rad, rad/s, N·m, m, s.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

import numpy as np

from robot_il.errors import NotConnectedError


@dataclass(frozen=True)
class FieldSpec:
    """Shape, unit and meaning of one observation field."""

    shape: tuple[int, ...]
    unit: str
    description: str


EFFORT_UNITS = ("N·m", "A", "none")
"""What a backend's joint efforts are: joint torques, motor currents (UR's driver by default), or nothing usable."""


class ArmKinematics(Protocol):
    """The arm's kinematics as the layers above the HAL use them (:class:`robot_il.arm.ArmModel` implements it):
    joint angles (rad, in ``joint_names`` order) to the tool-centre point (m), the tool's orientation and the
    6 x n Jacobian, in the arm's base frame."""

    joint_names: tuple[str, ...]

    def position(self, q: np.ndarray) -> np.ndarray: ...

    def tip(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def tip_frame(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class RobotSpec:
    """What a robot observes and accepts, available without connecting."""

    name: str
    joint_names: tuple[str, ...]
    observation: dict[str, FieldSpec]
    action_low: np.ndarray
    """Lower bound of each joint-velocity command, rad/s."""
    action_high: np.ndarray
    """Upper bound of each joint-velocity command, rad/s."""
    control_rate_hz: float
    action_unit: str = "rad/s"
    home_joint_positions: np.ndarray | None = None
    """The home pose, rad: where ``reset`` brings the arm and where safe reset motions go."""
    resets_itself: bool = False
    """Whether ``reset`` puts the cell back by itself (a simulator, a cell with a reset service); otherwise
    every motion home must go through the safety filter (or a person's hands) before ``reset``."""
    arm: str = ""
    """The arm's name, as its description gives it (``ur5e``, ``fr3``, ``jaco``); recorded in demo and policy
    files beside the joint names."""
    effort_unit: str = "N·m"
    """What ``joint_efforts`` are: one of :data:`EFFORT_UNITS`."""

    def __post_init__(self) -> None:
        if self.effort_unit not in EFFORT_UNITS:
            raise ValueError(f"effort_unit must be one of {EFFORT_UNITS}, got {self.effort_unit!r}")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def control_period(self) -> float:
        """Seconds between two commands."""
        return 1.0 / self.control_rate_hz


def observation_fields(num_joints: int, effort_unit: str = "N·m") -> dict[str, FieldSpec]:
    """The observation layout every arm backend reports (the fields of :class:`Observation`)."""
    n = num_joints
    efforts = {"N·m": "measured joint torques", "A": "measured motor currents", "none": "not measured (zeros)"}
    return {
        "joint_positions": FieldSpec((n,), "rad", "measured joint angles"),
        "joint_velocities": FieldSpec((n,), "rad/s", "measured joint velocities"),
        "joint_efforts": FieldSpec((n,), effort_unit, efforts.get(effort_unit, "measured joint efforts")),
        "ee_position": FieldSpec((3,), "m", "tool-centre point (peg tip) in the robot base frame"),
        "socket_quat": FieldSpec(
            (4,), "1", "socket orientation in the base frame, unit quaternion (w, x, y, z), w >= 0"
        ),
        "pan_tilt": FieldSpec((2,), "rad", "pan and tilt angles of the socket's pan-tilt unit"),
        "timestamp": FieldSpec((), "s", "time the state was measured (sim time or ROS clock)"),
    }


@dataclass(frozen=True)
class Observation:
    """One measured state of the work cell. Arrays are float64 and read-only."""

    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    joint_efforts: np.ndarray
    ee_position: np.ndarray
    socket_quat: np.ndarray
    pan_tilt: np.ndarray
    timestamp: float

    def __post_init__(self) -> None:
        # Copy: backends pass views of live buffers (MuJoCo's data, a ROS callback's arrays).
        for name in _ARRAY_FIELDS:
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "timestamp", float(self.timestamp))

    def as_dict(self) -> dict[str, np.ndarray]:
        """Field name to array (the timestamp as a 0-d array), in spec order."""
        return {name: np.asarray(getattr(self, name), dtype=np.float64) for name in _FIELDS}


_FIELDS = tuple(f.name for f in dataclasses.fields(Observation))
_ARRAY_FIELDS = tuple(name for name in _FIELDS if name != "timestamp")


@dataclass(frozen=True)
class AppliedAction:
    """The command a backend actually applied, and which joints had to be clipped."""

    velocities: np.ndarray
    """Applied joint velocities, rad/s, within the spec's bounds."""
    clipped: np.ndarray
    """Per joint: True where the requested velocity was outside the bounds."""

    @property
    def was_clipped(self) -> bool:
        return bool(self.clipped.any())


class Robot(abc.ABC):
    """An arm commanded in joint velocities.

    Use as a context manager, or call :meth:`connect` and :meth:`close`. The spec
    is readable before connecting. ``send_action`` clips to the spec's bounds and
    returns what it applied; non-finite commands raise (the deploy path's safety
    filter turns them into a stop before they get here).
    """

    realtime: bool = False
    """Hold the control rate in wall-clock time: ``send_action`` returns at the next period's tick. The robot
    owns the rate (no loop above it sleeps); hardware backends are always real time, the simulator when asked."""

    def __init__(self) -> None:
        self._connected = False
        self._estop_listeners: list = []
        self._next_tick = 0.0

    def add_estop_listener(self, callback) -> None:
        """Call ``callback(source: str)`` when the backend receives an e-stop (a ROS topic, a button)."""
        self._estop_listeners.append(callback)

    def _emit_estop(self, source: str) -> None:
        for callback in self._estop_listeners:
            callback(source)

    @property
    @abc.abstractmethod
    def spec(self) -> RobotSpec: ...

    @property
    def kinematics(self) -> ArmKinematics:
        """The arm's kinematics with its tool, from the arm's own description (a ROS 2 backend has it once
        connected)."""
        raise NotImplementedError(f"{type(self).__name__} has no arm model")

    @property
    def limits_hint(self) -> str:
        """Where this backend's safety limits come from when none are given: ``sim`` (a simulated arm's shipped
        limits), a limits file's path, or empty (the user must give one)."""
        return ""

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        if not self._connected:
            self._connect()
            self._connected = True
            self._next_tick = time.monotonic()

    def close(self) -> None:
        if self._connected:
            self._close()
            self._connected = False

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def observe(self) -> Observation:
        self._require_connected("observe")
        return self._observe()

    def send_action(self, joint_velocities: np.ndarray) -> AppliedAction:
        """Command joint velocities (rad/s); returns the clipped command actually applied.

        Zero always goes out (stopping must work whatever the state). Motion is refused with
        :class:`StaleStateError` when the backend's state is too old to act on: the backend
        commands zero first, then raises.
        """
        self._require_connected("send_action")
        applied = clip_action(self.spec, joint_velocities)
        if applied.velocities.any():
            self._require_fresh_state()
        self._apply(applied.velocities)
        if self.realtime:
            self._next_tick = max(self._next_tick + self.spec.control_period, time.monotonic())
            time.sleep(max(0.0, self._next_tick - time.monotonic()))
        return applied

    def _require_fresh_state(self) -> None:
        """Backends whose state arrives over a stream command zero and raise StaleStateError here when it is
        older than their limit; a simulator's state is always current."""
        return None

    def wrench(self) -> np.ndarray | None:
        """Force (N) and torque (N·m) on the tool, at and about the tool-centre point, in the tool frame's axes,
        (6,), zeroed by :meth:`zero_wrench`; None without a force-torque sensor. Raises StaleStateError when a
        sensor there is has gone quiet."""
        self._require_connected("wrench")
        return self._wrench()

    def _wrench(self) -> np.ndarray | None:
        return None

    @property
    def has_force_sensor(self) -> bool:
        """Whether :meth:`wrench` measures anything (else every force limit is unchecked)."""
        return True

    def zero_wrench(self) -> None:
        """Take the sensor's present reading (the tool's weight, the sensor's drift) as zero: call it with the arm
        still and nothing touching the tool, as the safe reset does at the start of each episode."""
        self._require_connected("zero_wrench")

    def reset(self) -> Observation:
        """Move to the home pose and return the first observation there."""
        self._require_connected("reset")
        obs = self._reset()
        self._next_tick = time.monotonic()
        return obs

    def _require_connected(self, what: str) -> None:
        if not self._connected:
            raise NotConnectedError(
                f"{type(self).__name__}.{what}() needs connect() first (or use it in a `with` block)"
            )

    @abc.abstractmethod
    def _connect(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    @abc.abstractmethod
    def _observe(self) -> Observation: ...

    @abc.abstractmethod
    def _apply(self, joint_velocities: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _reset(self) -> Observation: ...


class PanTilt(abc.ABC):
    """A two-axis positioner for the socket. Angles in radians."""

    @property
    @abc.abstractmethod
    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((pan_min, pan_max), (tilt_min, tilt_max)) in rad."""

    @abc.abstractmethod
    def get(self) -> tuple[float, float]:
        """Measured (pan, tilt) in rad."""

    def set(self, pan: float, tilt: float) -> None:
        """Command an absolute (pan, tilt) in rad; raises ValueError outside the limits."""
        (pmin, pmax), (tmin, tmax) = self.limits
        if not (np.isfinite(pan) and pmin <= pan <= pmax):
            raise ValueError(f"pan {pan!r} rad is outside the pan-tilt limits [{pmin}, {pmax}]")
        if not (np.isfinite(tilt) and tmin <= tilt <= tmax):
            raise ValueError(f"tilt {tilt!r} rad is outside the pan-tilt limits [{tmin}, {tmax}]")
        self._set(float(pan), float(tilt))

    @abc.abstractmethod
    def _set(self, pan: float, tilt: float) -> None: ...


def clip_action(spec: RobotSpec, joint_velocities: np.ndarray) -> AppliedAction:
    """Clip a joint-velocity command to the spec's bounds; non-finite values raise."""
    cmd = np.asarray(joint_velocities, dtype=np.float64)
    if cmd.shape != (spec.num_joints,):
        raise ValueError(
            f"action has shape {cmd.shape}; {spec.name} expects ({spec.num_joints},) joint velocities "
            f"for {', '.join(spec.joint_names)}"
        )
    if not np.isfinite(cmd).all():
        raise ValueError(f"action contains NaN or inf: {cmd.tolist()}; refusing to send it to {spec.name}")
    applied = np.minimum(np.maximum(cmd, spec.action_low), spec.action_high)
    return AppliedAction(velocities=applied, clipped=applied != cmd)
