"""Fault injection in simulation: each fault gives zero commanded velocity within one control period,
and the arm stops moving soon after. Stop times are measured in simulated time."""

from __future__ import annotations

import time

import numpy as np
import pytest

from robot_il.cell.config import PegConfig
from robot_il.deploy import SafeController, control_loop
from robot_il.safety import SafetyFilter, default_limits
from robot_il.sim.faults import Faults, FaultySimRobot
from robot_il.tasks import PegInsertionTask

CFG = PegConfig(pan_range=(0.0, 0.0), tilt_range=(0.0, 0.0))
FAULT_STEP = 10
MOVING = np.array([0.3, 0.0, 0.0, 0.0, 0.0, 0.0])  # swings the tip sideways, inside the box for > 1 s
KIN = CFG.arm_model()


def run_with_fault(faults: Faults, policy=None, steps: int = 40) -> tuple[np.ndarray, float, FaultySimRobot]:
    """Commanded velocities per step, and the simulated time from the fault until every joint is below 0.01 rad/s."""
    robot = FaultySimRobot(CFG, faults)
    limits = default_limits("peg", "jaco", robot.spec.joint_names)
    safety = SafetyFilter(limits, robot.spec.control_period, KIN.tip_linear)
    speeds: list[float] = []

    def recording(obs):
        speeds.append(robot.true_joint_speed())
        return (policy or (lambda o, k, s: MOVING))(obs, len(speeds) - 1, safety)

    with robot:
        robot.reset()
        result = control_loop(SafeController(robot, safety), recording, PegInsertionTask(CFG), max_steps=steps)
        speeds.append(robot.true_joint_speed())
    commands = np.array(result.commands)
    stopped = [k for k in range(FAULT_STEP, len(speeds)) if speeds[k] < 0.01]
    stop_time = (stopped[0] - FAULT_STEP) * robot.spec.control_period if stopped else float("inf")
    return commands, stop_time, robot


def assert_zero_from(commands: np.ndarray, step: int) -> None:
    assert np.any(commands[step - 1]), "the arm was not moving before the fault"
    zero = [k for k in range(step, len(commands)) if not np.any(commands[k])]
    assert zero and zero[0] <= step + 1, f"first zero command at step {zero[:1]}, fault at {step}"
    assert all(not np.any(c) for c in commands[zero[0] :]), "motion resumed after the stop"


def test_stale_joint_states_stop_the_arm() -> None:
    commands, stop_time, _ = run_with_fault(Faults(freeze_observations_at=FAULT_STEP))
    assert_zero_from(commands, FAULT_STEP)
    assert stop_time <= 0.2, f"arm stopped {stop_time:.2f} s after the states froze"


def test_motion_refused_by_the_hal_is_logged_as_a_stop_and_the_episode_goes_on_at_zero() -> None:
    commands, stop_time, robot = run_with_fault(Faults(refuse_motion_at=FAULT_STEP))
    assert_zero_from(commands, FAULT_STEP)
    assert robot.commands_received >= 40, "the episode ended instead of holding the arm at zero"
    assert stop_time <= 0.2, f"arm stopped {stop_time:.2f} s after the HAL refused motion"


def test_wrench_spike_stops_the_arm_and_latches() -> None:
    commands, stop_time, _ = run_with_fault(Faults(wrench_spike_at=FAULT_STEP))
    assert_zero_from(commands, FAULT_STEP)
    assert stop_time <= 0.1, f"arm stopped {stop_time:.2f} s after the wrench spike"


@pytest.mark.parametrize("fault", ["nan", "raises", "late", "estop"])
def test_policy_faults_and_estop_stop_the_arm(fault: str) -> None:
    def policy(obs, k, safety):
        if k >= FAULT_STEP:
            if fault == "nan":
                return np.full(6, np.nan)
            if fault == "raises":
                raise RuntimeError("policy crashed")
            if fault == "late":
                time.sleep(0.2)  # misses the 40 ms deadline
            if fault == "estop":
                safety.estop("api")  # an operator's call, arriving while the policy computes
        return MOVING

    commands, stop_time, _ = run_with_fault(Faults(), policy=policy, steps=30)
    assert_zero_from(commands, FAULT_STEP)
    assert stop_time <= 0.1, f"{fault}: arm stopped {stop_time:.2f} s after the fault"


def test_estop_after_the_command_went_out_is_zeroed_and_logged_next_period() -> None:
    """An e-stop from another thread (a key, a ROS topic) can land after a period's command was sent:
    the next period must send the filter's zero with the reason, not end the episode on a moving arm."""
    robot = FaultySimRobot(CFG, Faults())
    limits = default_limits("peg", "jaco", robot.spec.joint_names)
    safety = SafetyFilter(limits, robot.spec.control_period, KIN.tip_linear)

    class EStopAfterCommand(PegInsertionTask):
        steps = 0

        def evaluate(self, obs, t):  # runs after the command of the period has gone to the robot
            self.steps += 1
            if self.steps == FAULT_STEP:
                safety.estop("keyboard")
            return super().evaluate(obs, t)

    with robot:
        robot.reset()
        result = control_loop(SafeController(robot, safety), lambda obs: MOVING, EStopAfterCommand(CFG), max_steps=40)
    commands = np.array(result.commands)
    assert result.end_reason == "estop"
    assert len(commands) == FAULT_STEP + 1, "the e-stop must be answered by exactly one more (zero) period"
    assert np.any(commands[FAULT_STEP - 1]) and not np.any(commands[FAULT_STEP])
    assert "estop" in result.step_reasons[FAULT_STEP]
