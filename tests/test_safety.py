"""The safety filter: no command it lets out breaks a limit, whatever goes in; and a bad policy is stopped."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_il.cell.config import JACO_HOME, PegConfig
from robot_il.deploy import SafeController, control_loop
from robot_il.errors import ConfigError
from robot_il.hal import make_backend
from robot_il.safety import SafetyFilter, default_limits, load_limits
from robot_il.safety.limits import limits_from_dict
from robot_il.tasks import PegInsertionTask

JOINTS = tuple(f"joint_{i}" for i in range(1, 7))
KIN = PegConfig().arm_model()
LIMITS = default_limits("peg", "jaco", JOINTS, PegConfig().workspace, KIN.limits)
DT = 0.05

# The oracle: the limits files' numbers, read here with plain YAML, so a mis-parsed file cannot pass.
SAFETY = Path(__file__).parents[1] / "robot_il" / "safety"
RAW = {
    **yaml.safe_load((SAFETY / "peg_limits.yaml").read_text()),
    **yaml.safe_load((SAFETY / "arms" / "jaco.yaml").read_text()),
}
RAW_JOINTS = [RAW["joint_limits"][name] for name in JOINTS]
V_MAX = np.array([j["max_velocity"] for j in RAW_JOINTS])
A_MAX = np.array([j["max_acceleration"] for j in RAW_JOINTS])
Q_MIN = np.array([j["min_position"] if j["has_position_limits"] else -np.inf for j in RAW_JOINTS])
Q_MAX = np.array([j["max_position"] if j["has_position_limits"] else np.inf for j in RAW_JOINTS])
MARGIN = RAW["soft_limit_margin"]
BOX_MIN = np.array(RAW["cartesian_limits"]["workspace_min"])
BOX_MAX = np.array(RAW["cartesian_limits"]["workspace_max"])
MAX_EE_SPEED = RAW["cartesian_limits"]["max_ee_speed"]
MAX_FORCE = RAW["cartesian_limits"]["max_force"]
MAX_TORQUE = RAW["cartesian_limits"]["max_torque"]


def tip_kinematics(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    position, _, jac = KIN.tip(q)
    return position, jac[:3]


def make_filter() -> SafetyFilter:
    return SafetyFilter(LIMITS, DT, tip_kinematics)


anything = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e300, 1e300),
    st.floats(-2.0, 2.0),
)
commands = st.lists(anything, min_size=6, max_size=6).map(np.array)
# Joint angles around home, reaching past joints 2 and 3's position limits.
postures = st.lists(st.floats(-1.2, 1.2), min_size=6, max_size=6).map(lambda d: np.array(JACO_HOME) + np.array(d))


def check_limits(previous: np.ndarray, q: np.ndarray, v: np.ndarray) -> None:
    """``v``, let out at posture ``q`` after ``previous``, against the limits file's numbers."""
    assert v.shape == (6,) and np.all(np.isfinite(v)), v
    assert np.all(np.abs(v) <= V_MAX + 1e-12), "velocity limit"
    up = np.clip((Q_MAX - q) / MARGIN, 0, 1) * V_MAX
    down = np.clip((q - Q_MIN) / MARGIN, 0, 1) * V_MAX
    assert np.all(v <= up + 1e-12) and np.all(v >= -down - 1e-12), "soft position limit"
    rising = (np.abs(v) > np.abs(previous) + 1e-12) | (np.sign(v) * np.sign(previous) < 0)
    assert np.all(np.abs(v - previous)[rising] <= A_MAX[rising] * DT + 1e-9), "acceleration limit"
    tip, jac = tip_kinematics(q)
    tip_v = jac @ v
    assert np.linalg.norm(tip_v) <= MAX_EE_SPEED + 1e-9, "tip speed limit"
    nxt = tip + tip_v * 2 * DT
    leaving = ((nxt > BOX_MAX) & (tip_v > 0)) | ((nxt < BOX_MIN) & (tip_v < 0))
    assert not leaving.any(), "the command moves the tip out of the workspace"


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(commands, postures), min_size=1, max_size=8))
def test_no_filtered_command_violates_a_limit(sequence) -> None:
    """Sequences of arbitrary commands (NaN, inf, 1e300, ordinary) at arbitrary postures."""
    f = make_filter()
    previous = np.zeros(6)  # the last command let out, as the arm saw it
    for command, q in sequence:
        out = f(command, q)
        check_limits(previous, q, out.velocities)
        if not np.all(np.isfinite(command)):
            assert out.stopped and out.interventions[0].reason == "non_finite"
        previous = out.velocities


@settings(max_examples=300, deadline=None)
@given(commands, postures, st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=6, max_size=6))
def test_wrench_over_the_threshold_stops_and_latches(command, q, wrench) -> None:
    f = make_filter()
    w = np.array(wrench)
    out = f(command, q, w)
    with np.errstate(over="ignore"):
        over = not np.all(np.isfinite(w)) or np.linalg.norm(w[:3]) > MAX_FORCE or np.linalg.norm(w[3:]) > MAX_TORQUE
    if over and np.all(np.isfinite(command)):
        assert out.stopped and out.interventions[0].reason == "force"
        assert f(np.full(6, 0.1), np.array(JACO_HOME)).stopped, "the protective stop did not latch"
        f.reset()
        assert not f(np.full(6, 0.1), np.array(JACO_HOME)).stopped


def test_a_contact_spike_under_the_transient_limit_passes_a_sustained_push_does_not() -> None:
    """ISO/TS 15066-style: single samples are held to the transient limit, the mean over the
    window to the sustained one."""
    c = LIMITS.cartesian
    assert c.max_force < c.transient_force and c.force_window >= 2 * DT  # the peg cell's limits
    window = round(c.force_window / DT)
    q, go = np.array(JACO_HOME), np.full(6, 0.05)

    def push(force: float) -> np.ndarray:
        return np.array([0.0, 0.0, force, 0.0, 0.0, 0.0])

    f = make_filter()
    for _ in range(window):
        assert not f(go, q, push(0.0)).stopped
    spike = 0.5 * (c.max_force + c.transient_force)  # over the sustained limit, under the transient one
    assert not f(go, q, push(spike)).stopped, "a contact transient latched a protective stop"
    assert not f(go, q, push(0.0)).stopped

    steps = next(k for k in range(1, 2 * window + 1) if f(go, q, push(1.2 * c.max_force)).stopped)
    assert steps <= window, f"a sustained push over the limit ran {steps} periods"
    assert f(go, q, push(0.0)).stopped, "the protective stop did not latch"
    assert "mean over" in f.latched

    f.reset()
    assert f(go, q, push(1.01 * c.transient_force)).interventions[0].reason == "force", "over the transient limit"
    assert "transient" in f.latched


def test_transient_limits_below_the_sustained_ones_are_refused() -> None:
    data = {
        "joint_limits": {n: {"has_velocity_limits": True, "max_velocity": 1.0} for n in JOINTS},
        "cartesian_limits": {"workspace_min": [0, 0, 0], "workspace_max": [1, 1, 1], "max_force": 50},
    }
    data["cartesian_limits"]["max_transient_force"] = 40
    with pytest.raises(ConfigError, match=r"cartesian_limits\.max_transient_force.*>= max_force"):
        limits_from_dict(data, JOINTS)
    data["cartesian_limits"].update(max_transient_force=100, force_window=-0.1)
    with pytest.raises(ConfigError, match=r"cartesian_limits\.force_window"):
        limits_from_dict(data, JOINTS)
    del data["cartesian_limits"]["force_window"]
    c = limits_from_dict(data, JOINTS).cartesian
    assert (c.transient_force, c.transient_torque, c.force_window) == (100, math.inf, 0.0)


def test_estop_latches_until_reset() -> None:
    f = make_filter()
    q = np.array(JACO_HOME)
    assert not f(np.full(6, 0.1), q).stopped
    f.estop("test")
    for _ in range(3):
        out = f(np.full(6, 0.1), q)
        assert out.stopped and out.interventions[0].reason == "estop"
    f.reset()
    assert not f(np.full(6, 0.1), q).stopped
    assert f.counts["estop"] == 3


def test_acceleration_ramps_and_stopping_is_immediate() -> None:
    f = make_filter()
    q = np.array(JACO_HOME)
    target = np.array([0.4, 0, 0, 0, 0, 0])
    speeds = [f(target, q).velocities[0] for _ in range(5)]
    assert speeds == pytest.approx([0.15, 0.3, 0.4, 0.4, 0.4])  # 3 rad/s² x 0.05 s per period
    assert f(np.zeros(6), q).velocities[0] == 0.0


def test_limits_file_errors_name_the_field(tmp_path) -> None:
    assert RAW["cartesian_limits"]["workspace_min"] == list(PegConfig().workspace[0])  # the Jaco cell's box
    path = tmp_path / "limits.yaml"
    path.write_text("joint_limits: {}\ncartesian_limits: {workspace_min: [0, 0, 0], workspace_max: [1, 1, 1]}\n")
    with pytest.raises(ConfigError, match="no limits for joint"):
        load_limits(path, JOINTS)
    data = {
        "joint_limits": {n: {"has_velocity_limits": True, "max_velocity": 1.0} for n in JOINTS},
        "cartesian_limits": {"workspace_min": [0, 0, 0], "workspace_max": [1, 1, 1]},
    }
    assert limits_from_dict(data, JOINTS).cartesian.max_ee_speed == 0.25  # ISO 10218-1 reduced speed
    data["joint_limits"][JOINTS[2]] = {"has_velocity_limits": True, "max_velocity": -1}
    with pytest.raises(ConfigError, match=r"joint_3\.max_velocity"):
        limits_from_dict(data, JOINTS)
    data["joint_limits"][JOINTS[2]] = {"has_velocity_limits": False}
    with pytest.raises(ConfigError, match="needs a velocity limit"):
        limits_from_dict(data, JOINTS)
    with pytest.raises(ConfigError, match="not found"):
        load_limits(tmp_path / "missing.yaml", JOINTS)


def test_a_policy_driving_out_of_the_workspace_is_stopped_at_the_boundary() -> None:
    backend = make_backend("sim:peg", {"pan_range": (0.0, 0.0), "tilt_range": (0.0, 0.0)})
    task = PegInsertionTask(backend.robot.cfg)
    with backend:
        backend.robot.reset()
        controller = SafeController(backend.robot, SafetyFilter(LIMITS, DT, tip_kinematics))

        def towards_the_ceiling(obs):  # full speed on the shoulder and elbow, lifting the tip
            return np.array([0.0, -0.6, 0.0, 0.0, 0.0, 0.0])

        result = control_loop(controller, towards_the_ceiling, task, max_steps=200)
        tips = np.array([o.ee_position for o in result.observations])
    assert result.stopped_at_step is not None and result.interventions["workspace"] > 0
    low, high = np.array(LIMITS.cartesian.workspace_min), np.array(LIMITS.cartesian.workspace_max)
    overshoot = np.maximum(tips - high, 0).max() + np.maximum(low - tips, 0).max()
    assert overshoot == 0.0, f"the tip went {overshoot * 1000:.1f} mm past the workspace box"
    assert result.end_reason != "left_workspace"
    speeds = np.linalg.norm(np.diff(tips, axis=0), axis=1) / DT
    assert speeds.max() <= LIMITS.cartesian.max_ee_speed * 1.3, f"tip moved at {speeds.max():.2f} m/s"


@pytest.mark.parametrize("fault", ["nan", "raises"])
def test_a_broken_policy_gives_zero_velocity_that_period(fault: str) -> None:
    backend = make_backend("sim:peg", {"pan_range": (0.0, 0.0), "tilt_range": (0.0, 0.0)})
    task = PegInsertionTask(backend.robot.cfg)
    calls = {"n": 0}

    def flaky(obs):
        calls["n"] += 1
        if calls["n"] > 10:
            if fault == "nan":
                return np.full(6, math.nan)
            raise RuntimeError("policy crashed")
        return np.array([0.3, 0.0, 0.0, 0.0, 0.0, 0.0])

    with backend:
        backend.robot.reset()
        controller = SafeController(backend.robot, SafetyFilter(LIMITS, DT, tip_kinematics))
        result = control_loop(controller, flaky, task, max_steps=20)
    assert np.all(result.commands[9] > -1) and result.commands[9][0] > 0
    assert np.all(result.commands[10] == 0), "the period after the fault still commanded motion"
    assert result.stopped_at_step == 10
    final_speed = np.abs(result.observations[-1].joint_velocities).max()
    assert final_speed < 0.01, f"the arm still moves at {final_speed:.3f} rad/s ten periods after the fault"


def test_return_home_goes_through_the_filter() -> None:
    backend = make_backend("sim:peg", {"pan_range": (0.0, 0.0), "tilt_range": (0.0, 0.0)})
    with backend:
        backend.robot.reset()
        safety = SafetyFilter(LIMITS, DT, tip_kinematics)
        controller = SafeController(backend.robot, safety)
        for _ in range(15):  # wander off
            controller.step(np.array([0.4, 0.0, 0.0, 0.3, 0.0, 0.0]), backend.robot.observe())
        assert np.abs(backend.robot.observe().joint_positions - JACO_HOME).max() > 0.2
        before = dict(safety.counts)
        assert controller.return_home(np.array(JACO_HOME))
        assert np.abs(backend.robot.observe().joint_positions - JACO_HOME).max() < 0.01
        assert sum(safety.counts.values()) > sum(before.values()), "the homing commands bypassed the filter"
