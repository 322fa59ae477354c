"""Fault injection at the lowest layer, for tests and the safety benchmark.

``FaultySimRobot`` is the MuJoCo backend with faults a real cell can have:
joint states that stop updating, a force-torque spike. Everything above it (the
deploy loop, the watchdogs, the safety filter) is the real code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_il.cell.config import PegConfig
from robot_il.errors import StaleStateError
from robot_il.hal.base import Observation
from robot_il.sim.peg_backend import SimPegRobot


@dataclass
class Faults:
    freeze_observations_at: int | None = None
    """From this many commands on, observe() keeps returning the last observation (a dead state topic)."""
    wrench_spike_at: int | None = None
    """From this many commands on, the F/T sensor reads 500 N."""
    refuse_motion_at: int | None = None
    """From this many commands on, the HAL finds its state stale when asked to move (after the loop observed):
    it commands zero and raises StaleStateError, as the ROS 2 backend does."""


class FaultySimRobot(SimPegRobot):
    def __init__(self, cfg: PegConfig, faults: Faults) -> None:
        super().__init__(cfg)
        self.faults = faults
        self.commands_received = 0
        self._frozen: Observation | None = None

    def _apply(self, joint_velocities: np.ndarray) -> None:
        super()._apply(joint_velocities)
        self.commands_received += 1

    def _require_fresh_state(self) -> None:
        at = self.faults.refuse_motion_at
        if at is not None and self.commands_received >= at:
            self._apply(np.zeros(self.spec.num_joints))
            raise StaleStateError("refusing to move the arm: injected stale state")

    def _observe(self) -> Observation:
        at = self.faults.freeze_observations_at
        if at is not None and self.commands_received >= at:
            if self._frozen is None:
                self._frozen = super()._observe()
            return self._frozen
        return super()._observe()

    def _wrench(self) -> np.ndarray:
        at = self.faults.wrench_spike_at
        if at is not None and self.commands_received >= at:
            return np.array([500.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        return super()._wrench()

    def true_joint_speed(self) -> float:
        """The simulated arm's fastest joint, rad/s, whatever the (possibly frozen) observations say."""
        return float(np.abs(self.cell.data.qvel[self.cell.index.arm_dof]).max())
