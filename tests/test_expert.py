"""The scripted expert is the sim's demo source and the oracle for DAgger: it must be reliable."""

from __future__ import annotations

import numpy as np

from robot_il.envs.insertion import PegInsertionEnv
from robot_il.rollout import evaluate, summarize

SEEDS = range(1000, 1060)  # 60 randomised episodes, none of them used when tuning the expert


def test_expert_succeeds_in_at_least_95_percent_of_randomised_episodes(expert) -> None:
    env = PegInsertionEnv()
    episodes = evaluate(env, lambda obs, _v: expert(obs), SEEDS, progress=None)
    env.close()
    report = summarize(episodes)
    failures = [(e.seed, e.end_reason) for e in episodes if not e.success]
    assert report["success_rate"] >= 0.95, f"expert success {report['success_rate']:.2%}, failures: {failures}"
    # Insertion is quick (the paper's limit is 50 s).
    assert report["mean_success_duration_s"] < 10.0


def test_expert_covers_the_whole_randomisation_range(expert) -> None:
    env = PegInsertionEnv(config={"pan_range": (0.4, 0.4), "tilt_range": (-0.1, -0.1)})
    corners = evaluate(env, lambda obs, _v: expert(obs), [0], progress=None)
    env.close()
    env = PegInsertionEnv(config={"pan_range": (-0.4, -0.4), "tilt_range": (0.1, 0.1)})
    corners += evaluate(env, lambda obs, _v: expert(obs), [0], progress=None)
    env.close()
    assert all(e.success for e in corners), [(e.pan_tilt, e.end_reason) for e in corners]


def test_expert_actions_respect_the_bounds(expert) -> None:
    env = PegInsertionEnv()
    env.reset(seed=5)
    for _ in range(40):
        action = expert(env.last_observation)
        assert np.all(np.abs(action) <= env.backend.robot.spec.action_high)
        *_, info = env.step(action)
        assert not info["action_clipped"]
    env.close()


def test_an_expert_demo_file_appears_whole_or_not_at_all(tmp_path, monkeypatch) -> None:
    """expert_demo_file records under a name of its own and renames when done: a recording killed after one
    of two demos leaves no file at the path (only its hidden partial one); a whole one is kept, not redone."""
    import pytest

    from robot_il.data import load_demos
    from robot_il.record import expert as expert_module

    real = expert_module.record_expert

    def killed_after_one(env, path, num_demos, seed=0):
        real(env, path, 1, seed=seed, progress=False)
        raise KeyboardInterrupt

    path = tmp_path / "peg_2.h5"
    monkeypatch.setattr(expert_module, "record_expert", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        expert_module.expert_demo_file(PegInsertionEnv, path, 2)
    assert not path.exists() and [p.name.endswith(".partial") for p in tmp_path.iterdir()] == [True]
    monkeypatch.setattr(expert_module, "record_expert", lambda *a, **k: real(*a, **k, progress=False))
    expert_module.expert_demo_file(PegInsertionEnv, path, 2)
    assert len(load_demos(path).demos) == 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # this process's partial became the file
    stamp = path.stat().st_mtime_ns
    expert_module.expert_demo_file(PegInsertionEnv, path, 2)
    assert path.stat().st_mtime_ns == stamp
