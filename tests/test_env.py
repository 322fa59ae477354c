"""The gymnasium env: registration, the env checker, the documented layout, rendering."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import robot_il  # noqa: F401  (registers the env)
from robot_il.envs import PEG_INSERTION_ID, PegInsertionEnv, observation_layout
from robot_il.tasks import task_names


def test_make_by_id_and_pass_the_env_checker() -> None:
    env = gymnasium.make(PEG_INSERTION_ID)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.observation_space.shape == (19,)
    assert env.action_space.shape == (6,)
    env.close()


def test_layout_matches_the_structured_observation() -> None:
    env = PegInsertionEnv(include_efforts=True)
    vec, _ = env.reset(seed=4)
    for _ in range(3):
        vec, *_ = env.step(env.action_space.high * 0.2)
    obs = env.last_observation
    layout = observation_layout(include_efforts=True)
    assert layout[-1]["stop"] == vec.shape[0] == env.observation_space.shape[0] == 25
    for row in layout:
        np.testing.assert_allclose(vec[row["start"] : row["stop"]], getattr(obs, row["field"]), rtol=1e-6, atol=1e-6)
    env.close()


def test_is_success_is_in_info_on_every_step() -> None:
    env = PegInsertionEnv(config={"episode_seconds": 0.5})
    _, info = env.reset(seed=0)
    assert info["is_success"] is False
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert isinstance(info["is_success"], bool)
        done = terminated or truncated
    env.close()


def test_clipping_is_reported_in_info() -> None:
    env = PegInsertionEnv()
    env.reset(seed=0)
    *_, info = env.step(np.full(6, 100.0, dtype=np.float32))
    assert info["action_clipped"]
    np.testing.assert_allclose(info["applied_action"], env.action_space.high, rtol=1e-6)
    *_, info = env.step(np.zeros(6, dtype=np.float32))
    assert not info["action_clipped"]
    env.close()


def test_same_seed_same_episode() -> None:
    def episode(seed: int) -> np.ndarray:
        env = PegInsertionEnv()
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(10):
            out.append(env.step(env.action_space.sample())[0])
        env.close()
        return np.array(out)

    np.testing.assert_array_equal(episode(3), episode(3))
    assert not np.array_equal(episode(3), episode(4))


def test_offscreen_render_gives_a_picture() -> None:
    env = PegInsertionEnv(render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    frame = env.render()
    env.close()
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert frame.std() > 10, "the frame is blank"


def test_bad_render_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="render_mode"):
        PegInsertionEnv(render_mode="human")


@pytest.mark.parametrize("name", task_names())
def test_every_registered_task_builds_an_env_that_its_expert_solves(name: str) -> None:
    """A second task plugs in by registration: env, task rules and expert found by name alone."""
    from robot_il.envs import InsertionEnv
    from robot_il.tasks import task_entry

    entry = task_entry(name)
    env = InsertionEnv(task=name)
    expert = entry.make_expert(env.task.cfg)
    env.reset(seed=3)
    for _ in range(round(env.task.cfg.episode_seconds * env.task.cfg.control_rate_hz)):
        _obs, _r, terminated, truncated, info = env.step(expert(env.last_observation))
        if terminated or truncated:
            break
    env.close()
    assert info["is_success"], f"the {name} expert did not succeed on seed 3"
    assert env.env_args()["env_name"] == entry.env_id


def test_an_unknown_task_names_the_registered_ones() -> None:
    from robot_il.envs import InsertionEnv
    from robot_il.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown task 'plug'; registered: clip, peg"):
        InsertionEnv(task="plug")
