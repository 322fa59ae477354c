"""The peg task: randomisation, success, and each way an episode ends, in the real simulation."""

from __future__ import annotations

import numpy as np
import pytest

from robot_il.cell.config import PegConfig
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.hal import make_backend
from robot_il.tasks import PegInsertionTask


def test_randomisation_stays_in_range_and_covers_it() -> None:
    task = PegInsertionTask()
    rng = np.random.default_rng(0)
    poses = np.array([task.sample_socket_pose(rng) for _ in range(2000)])
    assert poses[:, 0].min() >= -0.4 and poses[:, 0].max() <= 0.4
    assert poses[:, 1].min() >= -0.1 and poses[:, 1].max() <= 0.1
    # Uniform: the extremes are approached and the mean is central.
    assert poses[:, 0].min() < -0.38 and poses[:, 0].max() > 0.38
    assert abs(poses[:, 0].mean()) < 0.02 and abs(poses[:, 1].mean()) < 0.005


def test_zero_range_fixes_the_socket() -> None:
    env = PegInsertionEnv(config={"pan_range": (0.0, 0.0), "tilt_range": (0.0, 0.0)})
    for seed in range(3):
        _, info = env.reset(seed=seed)
        np.testing.assert_array_equal(info["pan_tilt"], [0.0, 0.0])
        np.testing.assert_allclose(env.last_observation.pan_tilt, [0.0, 0.0], atol=1e-9)
    env.close()


def test_env_reset_applies_the_sampled_pose() -> None:
    env = PegInsertionEnv()
    _, info = env.reset(seed=3)
    for _ in range(20):
        env.step(np.zeros(6))
    np.testing.assert_allclose(env.last_observation.pan_tilt, info["pan_tilt"], atol=2e-3)
    env.close()


def test_hole_frame_matches_the_simulated_socket() -> None:
    backend = make_backend("sim:peg")
    task = PegInsertionTask(backend.robot.cfg)
    with backend:
        for pan, tilt in [(0.0, 0.0), (0.4, 0.1), (-0.3, -0.08)]:
            backend.pan_tilt.set(pan, tilt)
            obs = backend.robot.reset()
            frame = task.hole_frame(obs)
            cell = backend.robot.cell
            np.testing.assert_allclose(frame.mouth, cell.data.site_xpos[cell.index.hole_site], atol=1e-9)
            hole_z = cell.data.site_xmat[cell.index.hole_site].reshape(3, 3)[:, 2]
            np.testing.assert_allclose(frame.axis, hole_z, atol=1e-9)


def test_expert_insertion_is_detected_as_success(expert) -> None:
    env = PegInsertionEnv()
    env.reset(seed=1)
    for _ in range(400):
        _, reward, terminated, truncated, info = env.step(expert(env.last_observation))
        assert "is_success" in info
        if terminated or truncated:
            break
    assert info["is_success"] and terminated and not truncated
    assert info["end_reason"] == "success" and reward == 1.0
    assert info["depth"] >= env.task.cfg.success_depth
    env.close()


def test_leaving_the_workspace_terminates_as_failure() -> None:
    env = PegInsertionEnv()
    env.reset(seed=0)
    action = np.array([0.0, -1.0, 0.0, 0.0, 0.0, 0.0]) * env.action_space.high  # swing the shoulder
    steps = 0
    for steps in range(1, 201):  # noqa: B007  (read after the loop)
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    assert terminated and not truncated, f"episode did not terminate in {steps} steps"
    assert info["end_reason"] == "left_workspace" and not info["is_success"] and reward == 0.0
    p = env.last_observation.ee_position
    low, high = (np.array(c) for c in env.task.cfg.workspace)
    assert np.any(p < low) or np.any(p > high)
    env.close()


def test_time_limit_truncates() -> None:
    env = PegInsertionEnv(config={"episode_seconds": 1.5})
    env.reset(seed=0)
    steps = 0
    for steps in range(1, 100):  # noqa: B007  (read after the loop)
        _, _, terminated, truncated, info = env.step(np.zeros(6))
        if terminated or truncated:
            break
    assert truncated and not terminated and info["end_reason"] == "time_limit"
    assert steps == 30, f"1.5 s at 20 Hz is 30 steps, the episode ended after {steps}"
    env.close()


def test_default_time_limit_is_fifty_seconds() -> None:
    cfg = PegConfig()
    assert cfg.episode_seconds == 50.0 and cfg.max_episode_steps == 1000


def _push_along_axis(env: PegInsertionEnv, expert, tilt: float = 0.0, offset: float = 0.0) -> tuple[float, float]:
    """Line up with the expert, then tilt the peg by ``tilt`` rad and shift it ``offset`` m sideways,
    and drive the tip along the hole's axis at 20 mm/s.

    Returns the deepest the tip got (m) and the largest normal contact force (N).
    """
    import mujoco

    env.reset(seed=0)
    for _ in range(60):
        env.step(expert(env.last_observation))
        if env.task.tip_in_hole(env.last_observation)[0] > -0.021:
            break
    cell = env.backend.robot.cell
    m, d = cell.model, cell.data
    site, jacp, jacr = cell.index.tip_site, np.zeros((3, m.nv)), np.zeros((3, m.nv))
    frame = env.task.hole_frame(env.last_observation)
    side = np.cross(frame.axis, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side)
    target_dir = np.cos(tilt) * frame.axis + np.sin(tilt) * side
    goal, deepest, peak_force, wrench = -0.02, -1.0, 0.0, np.zeros(6)
    for step in range(200):
        if step >= 40:  # 2 s to tilt and shift in place, then advance
            goal = min(goal + 0.001, env.task.cfg.success_depth + 0.01)
        mujoco.mj_jacSite(m, d, jacp, jacr, site)
        jac = np.vstack([jacp[:, :6], jacr[:, :6]])
        tip, peg_dir = d.site_xpos[site], d.site_xmat[site].reshape(3, 3)[:, 2]
        v = np.clip(5.0 * (frame.mouth + goal * frame.axis + offset * side - tip), -0.03, 0.03)
        env.step(np.linalg.lstsq(jac, np.concatenate([v, 3.0 * np.cross(peg_dir, target_dir)]), rcond=None)[0])
        deepest = max(deepest, env.task.tip_in_hole(env.last_observation)[0])
        for i in range(d.ncon):
            mujoco.mj_contactForce(m, d, i, wrench)
            peak_force = max(peak_force, float(wrench[0]))
    return deepest, peak_force


def test_contact_is_rich_yet_solvable(expert) -> None:
    """Aligned: in without touching. Slightly off: in, but through contact. Far off or tilted: stuck."""
    env = PegInsertionEnv(config={"pan_range": (0.0, 0.0), "tilt_range": (0.0, 0.0)})
    need = env.task.cfg.success_depth
    aligned, aligned_force = _push_along_axis(env, expert)
    slid, slid_force = _push_along_axis(env, expert, offset=0.004)
    blocked, _ = _push_along_axis(env, expert, offset=0.008)
    tilted, tilted_force = _push_along_axis(env, expert, tilt=0.15)
    env.close()
    assert aligned >= need and aligned_force < 1.0, (aligned, aligned_force)
    assert slid >= need and slid_force > 10.0, f"4 mm off: {slid * 1e3:.1f} mm deep, peak {slid_force:.0f} N"
    assert blocked < 0.005, f"8 mm off, the peg got {blocked * 1e3:.1f} mm past the rim"
    assert tilted < need and tilted_force > 100.0, f"0.15 rad tilt: {tilted * 1e3:.1f} mm, peak {tilted_force:.0f} N"


@pytest.mark.parametrize("clearance", [0.0005, 0.003])
def test_clearance_is_configurable(clearance: float) -> None:
    backend = make_backend("sim:peg", {"clearance": clearance})
    with backend:
        cell = backend.robot.cell
        import mujoco

        gid = mujoco.mj_name2id(cell.model, mujoco.mjtObj.mjOBJ_GEOM, "pan_tilt/wall_px")
        inner = cell.model.geom_pos[gid][0] - cell.model.geom_size[gid][0]
        assert inner == pytest.approx(backend.robot.cfg.peg_radius + clearance)
