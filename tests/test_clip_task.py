"""The clip task: the legs flex and spring back, the calibrated forces, the step-size stability check, what
success means (latched and retained), a misaligned clip staying out, the env and the expert."""

from __future__ import annotations

import dataclasses

import gymnasium
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import robot_il  # noqa: F401  (registers the envs)
from robot_il.cell.clip_config import ClipConfig
from robot_il.cell.clip_rig import run_rig
from robot_il.envs import CLIP_INSERTION_ID, make_task_env
from robot_il.errors import ConfigError
from robot_il.rollout import evaluate, summarize
from robot_il.tasks import task_entry


@pytest.fixture(scope="module")
def rig_2ms():
    return run_rig(ClipConfig())


@pytest.fixture(scope="module")
def clip_expert():
    return task_entry("clip").make_expert(ClipConfig())


def test_the_legs_flex_on_the_way_in_and_spring_back(rig_2ms) -> None:
    # The barbs stand 2 mm proud of the lips; 23 mm from the hinge that takes about 0.087 rad.
    assert rig_2ms.max_flex > 0.07, f"the legs flexed only {rig_2ms.max_flex:.3f} rad going in"
    assert rig_2ms.latched, f"the clip got only {rig_2ms.deepest * 1e3:.1f} mm in"
    assert rig_2ms.final_flex < 0.005, f"latched, the legs stay flexed by {rig_2ms.final_flex:.3f} rad"


def test_insertion_and_retention_forces_are_within_20_percent_of_their_targets(rig_2ms) -> None:
    cfg = ClipConfig()
    assert rig_2ms.insertion_force == pytest.approx(cfg.insertion_force_target, rel=0.2)
    assert rig_2ms.retention_force == pytest.approx(cfg.retention_force_target, rel=0.2)
    assert rig_2ms.pulled_out, "the retention force was not reached: the pull never tore the clip out"


def test_a_2ms_step_gives_the_forces_of_a_half_ms_step_within_10_percent(rig_2ms) -> None:
    """The stability regression test: an explicit leg spring too stiff for its inertia at 2 ms shows up here."""
    fine = run_rig(ClipConfig(physics_timestep=0.0005))
    assert rig_2ms.insertion_force == pytest.approx(fine.insertion_force, rel=0.1)
    assert rig_2ms.retention_force == pytest.approx(fine.retention_force, rel=0.1)
    assert rig_2ms.max_flex == pytest.approx(fine.max_flex, rel=0.1)


def test_a_stiffer_leg_needs_more_force_and_a_flatter_shoulder_holds_harder() -> None:
    base = ClipConfig()
    soft = run_rig(dataclasses.replace(base, leg_stiffness=0.6), pull=False)
    gentle = run_rig(dataclasses.replace(base, retention_angle=0.95))
    assert soft.insertion_force < 0.7 * base.insertion_force_target
    assert gentle.retention_force < 0.8 * base.retention_force_target


def test_a_shoulder_no_steeper_than_the_ramp_is_refused() -> None:
    with pytest.raises(ConfigError, match="retention_angle"):
        ClipConfig(retention_angle=0.5)


def _servo(env, goal_depth: float, offset: np.ndarray, roll: float) -> np.ndarray:
    """Joint velocities that move the clip's tip toward ``goal_depth`` on the plug's axis shifted by ``offset``
    (m, base frame), the clip turned ``roll`` rad about the axis from the slot."""
    expert = env._clip_expert
    obs = env.last_observation
    tip, rot, jac = expert.kinematics.tip_frame(obs.joint_positions)
    frame = env.task.hole_frame(obs)
    slot = env.task.slot_axis(obs)
    slot = slot if rot[:, 0] @ slot > 0 else -slot
    across = np.cross(frame.axis, slot)
    turned = np.cos(roll) * slot + np.sin(roll) * across
    goal = np.column_stack([turned, np.cross(frame.axis, turned), frame.axis])
    w = 2.0 * 0.5 * sum(np.cross(rot[:, i], goal[:, i]) for i in range(3))
    v = np.clip(5.0 * (frame.mouth + goal_depth * frame.axis + offset - tip), -0.02, 0.02)
    return np.linalg.lstsq(jac, np.concatenate([v, w]), rcond=None)[0]


def _push(expert, offset_along_slot: float = 0.0, roll: float = 0.0, stop_at: float | None = None) -> dict:
    """Line up in front of a square-on plug, apply the misalignment, push the tip in (18 mm, or ``stop_at``),
    back off 5 mm, then let go: the arm goes limp (servos and joint friction off, gravity still compensated)
    while a gentle 5 N pull, a sixth of the retention force, tugs the clip back along the axis for a second.

    Returns the deepest the tip got, its depth after letting go, whether the task counted success, and the legs'
    angles at the deepest point.
    """
    env = make_task_env("clip", config={"pan_range": (0.0, 0.0), "tilt_range": (0.0, 0.0)})
    env._clip_expert = expert
    env.reset(seed=0)
    slot = env.task.slot_axis(env.last_observation)
    for _ in range(80):
        env.step(_servo(env, -0.01, offset_along_slot * slot, roll))
    deepest, success, goal = -1.0, False, -0.01
    target = 0.018 if stop_at is None else stop_at
    for _ in range(100):
        goal = min(goal + 0.001, target)
        *_, info = env.step(_servo(env, goal, offset_along_slot * slot, roll))
        deepest, success = max(deepest, info["depth"]), success or info["is_success"]
    legs_at_push = env.backend.robot.leg_angles()
    for _ in range(20):
        env.step(_servo(env, deepest - 0.005, offset_along_slot * slot, roll))
    cell = env.backend.robot.cell
    cell.model.actuator_gainprm[cell.index.arm_ctrl] = 0.0
    cell.model.actuator_biasprm[cell.index.arm_ctrl] = 0.0
    cell.model.dof_frictionloss[cell.index.arm_dof] = 0.0
    axis = env.task.hole_frame(env.last_observation).axis
    cell.data.xfrc_applied[cell.index.peg_body, :3] = -5.0 * axis
    for _ in range(20):
        *_, info = env.step(np.zeros(6))
    env.close()
    return {"deepest": deepest, "after": info["depth"], "success": success, "legs": legs_at_push}


def test_a_latched_clip_is_retained_when_the_arm_lets_go(clip_expert) -> None:
    cfg = ClipConfig()
    latched = _push(clip_expert)
    assert latched["success"] and latched["deepest"] >= cfg.latch_depth
    assert np.all(np.abs(latched["legs"]) < 0.01), f"latched legs not sprung back: {latched['legs']}"
    # The shoulders hook behind the lips: the clip settles on them, its tip well past the lips, against the pull.
    assert latched["after"] > cfg.lip_thickness + cfg.ramp_length / 2, (
        f"let go, the latched clip slid out to {latched['after'] * 1e3:.1f} mm: not retained"
    )
    short = _push(clip_expert, stop_at=cfg.latch_depth - 0.006)  # the barbs still on the lips
    assert not short["success"] and short["deepest"] < cfg.latch_depth
    assert np.min(short["legs"]) < -0.03, "part way in, the lips should hold the legs flexed"
    assert short["after"] < 0.0, f"a clip that is not latched must come out, it stayed {short['after'] * 1e3:.1f} mm in"


@pytest.mark.parametrize(("offset", "roll"), [(0.005, 0.0), (0.0, 0.5)], ids=["5mm-along-slot", "0.5rad-twist"])
def test_a_misaligned_clip_does_not_go_in(clip_expert, offset: float, roll: float) -> None:
    result = _push(clip_expert, offset_along_slot=offset, roll=roll)
    assert not result["success"]
    assert result["deepest"] < 0.004, f"the misaligned clip got {result['deepest'] * 1e3:.1f} mm in"


def test_the_gymnasium_env_passes_the_checker_and_observes_efforts() -> None:
    env = gymnasium.make(CLIP_INSERTION_ID)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.observation_space.shape == (25,) and env.action_space.shape == (6,)
    assert env.unwrapped.include_efforts
    assert env.unwrapped.env_args()["env_name"] == CLIP_INSERTION_ID
    env.close()


def test_the_expert_latches_the_clip_across_the_randomisation_range(clip_expert) -> None:
    env = make_task_env("clip")
    episodes = evaluate(env, lambda obs, _v: clip_expert(obs), range(2000, 2012), progress=None)
    for pan, tilt in [(0.8, 0.2), (-0.8, -0.2), (0.8, -0.2), (-0.8, 0.2)]:
        corner = make_task_env("clip", config={"pan_range": (pan, pan), "tilt_range": (tilt, tilt)})
        episodes += evaluate(corner, lambda obs, _v: clip_expert(obs), [0], progress=None)
        corner.close()
    env.close()
    report = summarize(episodes)
    failures = [(e.seed, e.pan_tilt, e.end_reason) for e in episodes if not e.success]
    assert not failures, f"expert success {report['success_rate']:.0%}, failures: {failures}"
    assert report["mean_success_duration_s"] < 10.0


def test_the_wrench_sensor_feels_the_snap(clip_expert) -> None:
    env = make_task_env("clip")
    env.reset(seed=5)
    peak, done = 0.0, False
    while not done:
        *_, terminated, truncated, _ = env.step(clip_expert(env.last_observation))
        peak = max(peak, float(np.linalg.norm(env.backend.robot.wrench()[:3])))
        done = terminated or truncated
    env.close()
    assert peak > 0.5 * ClipConfig().insertion_force_target, f"peak contact force {peak:.1f} N"


def test_the_leg_springs_are_stable_at_the_configured_step() -> None:
    """√(k / I)·dt stays under 0.5 (MuJoCo integrates hinge springs explicitly)."""
    env = make_task_env("clip")
    cell = env.backend.robot.cell
    m = cell.model
    for dof, jnt in zip(cell.index.leg_dof, m.dof_jntid[cell.index.leg_dof], strict=True):
        d = mujoco.MjData(m)
        mujoco.mj_forward(m, d)
        inertia = np.zeros((m.nv, m.nv))
        mujoco.mj_fullM(m, d, inertia)
        omega_dt = np.sqrt(m.jnt_stiffness[jnt] / inertia[dof, dof]) * m.opt.timestep
        assert omega_dt < 0.5, f"leg {jnt}: sqrt(k/I)*dt = {omega_dt:.2f}"
    env.close()
