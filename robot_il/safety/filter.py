"""The safety filter every command in the deploy path passes through.

Steps, each of which can only slow the arm down, never speed it up:

1. e-stop or protective stop latched -> zero;
2. NaN or inf anywhere in the command -> zero;
3. contact force or torque above its limit -> zero, and a protective stop latches: any single
   sample above the transient limit, or the mean over ``force_window`` above the sustained one
   (ISO/TS 15066's transient and quasi-static contact; with no window every sample is held to
   the sustained limit);
4. each joint clamped to its velocity limit;
5. near a position limit, the velocity towards it shrinks linearly to zero over
   ``soft_limit_margin`` (moving away is free);
6. acceleration clamp: the command may not rise faster than ``max_acceleration``
   from the last one it let through (slowing down is always allowed);
7. tip speed: the whole command is scaled so the tip moves at most
   ``max_ee_speed`` (the tip velocity is J(q) q̇ from the cell's kinematics);
8. workspace: a command that would carry the tip out of the box within two
   periods (the command's own, and the one the arm needs to obey a stop) -> zero.

Every intervention is counted by reason and logged.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from robot_il.safety.limits import SafetyLimits

log = logging.getLogger("robot_il.safety")

WORKSPACE_LOOKAHEAD_PERIODS = 2

TipKinematics = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Joint angles -> (tip position (3,), linear tip Jacobian (3, n))."""


@dataclass(frozen=True)
class Intervention:
    reason: str
    detail: str


@dataclass
class SafeCommand:
    velocities: np.ndarray
    """The joint velocities to send, rad/s."""
    interventions: list[Intervention] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return not np.any(self.velocities)


class SafetyFilter:
    def __init__(self, limits: SafetyLimits, control_period: float, kinematics: TipKinematics) -> None:
        if not control_period > 0:
            raise ValueError(f"control_period must be positive, got {control_period}")
        self.limits, self.dt, self.kinematics = limits, control_period, kinematics
        j = limits.joints
        self.n = len(j)
        self.v_max = np.array([jl.max_velocity for jl in j])
        self.a_max = np.array([jl.max_acceleration if jl.has_acceleration_limits else np.inf for jl in j])
        self.q_min = np.array([jl.min_position if jl.has_position_limits else -np.inf for jl in j])
        self.q_max = np.array([jl.max_position if jl.has_position_limits else np.inf for jl in j])
        c = limits.cartesian
        self.box_min, self.box_max = np.array(c.workspace_min), np.array(c.workspace_max)
        self.previous = np.zeros(self.n)
        self._wrench_window = deque(maxlen=max(1, round(c.force_window / control_period)))
        self.counts: Counter[str] = Counter()
        self._estop: str | None = None
        self._protective: str | None = None

    # Stops ------------------------------------------------------------------------------------

    def estop(self, source: str) -> None:
        """Latch an emergency stop; only :meth:`reset` releases it."""
        if self._estop is None:
            log.warning("e-stop triggered by %s", source)
        self._estop = source

    @property
    def estopped(self) -> bool:
        return self._estop is not None

    @property
    def latched(self) -> str | None:
        """Why commands are being zeroed until reset, or None."""
        return self._estop or self._protective

    def reset(self) -> None:
        """Release the e-stop and any protective stop (an explicit operator action)."""
        if self.latched:
            log.warning("safety stop released (was: %s)", self.latched)
        self._estop = self._protective = None
        self.previous = np.zeros(self.n)
        self._wrench_window.clear()

    def hold(self, reason: str, detail: str = "") -> SafeCommand:
        """Zero for a fault the caller already knows (a late policy, a stale observation), named as such."""
        return self._emit(np.zeros(self.n), [Intervention(reason, detail)])

    def applied(self, safe: SafeCommand, velocities: np.ndarray, reason: str, detail: str) -> SafeCommand:
        """What the robot really applied, when it differs from what the filter let out (the HAL clipped or
        refused it): the filter's memory of the last command (for the acceleration limit) follows the robot."""
        self.counts[reason] += 1
        self.previous = np.array(velocities, dtype=np.float64)
        return SafeCommand(self.previous.copy(), [*safe.interventions, Intervention(reason, detail)])

    # The filter -------------------------------------------------------------------------------

    def __call__(
        self, command: np.ndarray, joint_positions: np.ndarray, wrench: np.ndarray | None = None
    ) -> SafeCommand:
        notes: list[Intervention] = []

        def stop(reason: str, detail: str) -> SafeCommand:
            notes.append(Intervention(reason, detail))
            return self._emit(np.zeros(self.n), notes)

        if self._estop is not None:
            return stop("estop", f"latched by {self._estop}")
        if self._protective is not None:
            return stop("protective_stop", self._protective)
        cmd = np.asarray(command, dtype=np.float64).reshape(-1)
        q = np.asarray(joint_positions, dtype=np.float64).reshape(-1)
        if cmd.shape != (self.n,) or not np.all(np.isfinite(cmd)):
            return stop("non_finite", f"command {np.array2string(cmd, precision=3)} is not {self.n} finite numbers")
        if q.shape != (self.n,) or not np.all(np.isfinite(q)):
            return stop("bad_state", "joint positions are missing or not finite")
        if wrench is not None:
            w = np.asarray(wrench, dtype=np.float64)
            with np.errstate(over="ignore"):  # 1e300 N is simply over the limit
                force, torque = float(np.linalg.norm(w[:3])), float(np.linalg.norm(w[3:6]))
            c = self.limits.cartesian
            if not np.all(np.isfinite(w)):
                self._protective = "wrench reading is not finite"
                return stop("force", self._protective)
            self._wrench_window.append((force, torque))
            mean_force, mean_torque = np.mean(self._wrench_window, axis=0)
            if force > c.transient_force or torque > c.transient_torque:
                self._protective = (
                    f"wrench {force:.1f} N / {torque:.2f} N·m over the transient limit "
                    f"{c.transient_force} N / {c.transient_torque} N·m"
                )
                return stop("force", self._protective)
            if mean_force > c.max_force or mean_torque > c.max_torque:
                span = f"mean over {len(self._wrench_window) * self.dt:.2f} s " if c.force_window > 0 else ""
                self._protective = (
                    f"wrench {span}{mean_force:.1f} N / {mean_torque:.2f} N·m over {c.max_force} N / {c.max_torque} N·m"
                )
                return stop("force", self._protective)

        v = np.clip(cmd, -self.v_max, self.v_max)
        if np.any(v != cmd):
            notes.append(Intervention("velocity", f"joints {np.flatnonzero(v != cmd).tolist()} clamped"))

        # Soft position limits: allowed speed towards a limit shrinks with the distance to it.
        margin = max(self.limits.soft_limit_margin, 1e-9)
        room_up = np.clip((self.q_max - q) / margin, 0.0, 1.0)
        room_down = np.clip((q - self.q_min) / margin, 0.0, 1.0)
        soft = np.clip(v, -self.v_max * room_down, self.v_max * room_up)
        if np.any(soft != v):
            notes.append(Intervention("soft_limit", f"joints {np.flatnonzero(soft != v).tolist()} slowed"))
        v = soft

        # Acceleration: rise by at most a_max * dt from the last command; falling towards zero is free.
        step = self.a_max * self.dt
        lo = np.where(self.previous > 0, np.minimum(self.previous - step, 0.0), self.previous - step)
        hi = np.where(self.previous < 0, np.maximum(self.previous + step, 0.0), self.previous + step)
        accel = np.clip(v, lo, hi)
        if np.any(accel != v):
            notes.append(Intervention("acceleration", f"joints {np.flatnonzero(accel != v).tolist()} limited"))
        v = accel

        tip, jac = self.kinematics(q)
        tip_velocity = jac @ v
        speed = float(np.linalg.norm(tip_velocity))
        if speed > self.limits.cartesian.max_ee_speed:
            v = v * (self.limits.cartesian.max_ee_speed / speed)
            tip_velocity = jac @ v
            notes.append(Intervention("ee_speed", f"tip speed {speed:.3f} m/s scaled down"))

        # Look two periods ahead: the arm needs about one period to obey a stop.
        nxt = tip + tip_velocity * WORKSPACE_LOOKAHEAD_PERIODS * self.dt
        leaving = ((nxt > self.box_max) & (tip_velocity > 0)) | ((nxt < self.box_min) & (tip_velocity < 0))
        if np.any(leaving):
            return stop(
                "workspace",
                f"tip {np.round(tip, 3).tolist()} would leave the box on axes {np.flatnonzero(leaving).tolist()}",
            )
        return self._emit(v, notes)

    def _emit(self, v: np.ndarray, notes: list[Intervention]) -> SafeCommand:
        for note in notes:
            self.counts[note.reason] += 1
            log.info("safety %s: %s", note.reason, note.detail)
        self.previous = v.copy()
        return SafeCommand(v, notes)
