"""The HDF5 demo schema: round trip, crash safety, the validator, transforms and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import env_args, sigkill_when, synthetic_state, write_synthetic_demos

from robot_il.checkpoint import save_policy
from robot_il.cli import main as cli
from robot_il.data import (
    DemoFileError,
    DemoLayoutError,
    DemoWriter,
    EpisodeBuffer,
    load_demos,
    sparsify,
    strip_actions,
    validate,
)
from robot_il.data.schema import OBS_KEYS
from robot_il.nn.policy import GaussianPolicy


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "demos.h5"
    writer = DemoWriter(path, env_args())
    episodes = []
    for _ in range(3):
        ep = EpisodeBuffer()
        for t in range(6):
            ep.add(synthetic_state(rng, 0.05 * t), rng.normal(size=6) if t < 5 else None)
        episodes.append(ep)
        writer.write_episode(ep, terminated=True, rewards=np.arange(5.0), attrs={"source": "test", "seed": 3})
    demos = load_demos(path)
    assert [d.name for d in demos.demos] == ["demo_0", "demo_1", "demo_2"]
    assert demos.env_args == env_args()
    for ep, demo in zip(episodes, demos.demos, strict=True):
        np.testing.assert_array_equal(demo.actions, np.stack(ep.actions))
        states, times = demo.states()
        for key in OBS_KEYS:
            np.testing.assert_array_equal(states[key], np.stack([getattr(o, key) for o in ep.states]))
        np.testing.assert_array_equal(times, np.arange(6))
        np.testing.assert_array_equal(demo.rewards, np.arange(5.0))
        assert demo.dones.tolist() == [0, 0, 0, 0, 1]
        assert demo.attrs["num_samples"] == 5 and demo.attrs["source"] == "test" and demo.attrs["seed"] == 3
    with h5py.File(path) as f:  # robomimic's layout, read with plain h5py
        assert f["data"].attrs["total"] == 15
        assert json.loads(f["data"].attrs["env_args"])["env_name"] == "robot_il/PegInsertion-v0"
        assert f["data/demo_1/actions"].shape == (5, 6)
        assert f["data/demo_1/obs/joint_positions"].shape == (5, 6)
        assert sorted(n.decode() for n in f["mask/train"][()]) == ["demo_0", "demo_1", "demo_2"]


def test_appending_continues_numbering_and_refuses_another_task(tmp_path: Path) -> None:
    path = write_synthetic_demos(tmp_path / "d.h5", num_demos=2, steps=3)
    write_synthetic_demos(path, num_demos=10, steps=3, seed=1)
    demos = load_demos(path)
    assert len(demos) == 12 and demos.valid == ["demo_9"]
    other = {**env_args(), "control_rate_hz": 50}
    with pytest.raises(DemoFileError, match="different env configuration"):
        DemoWriter(path, other)


def test_state_only_demos_have_no_actions_and_say_so(tmp_path: Path) -> None:
    path = write_synthetic_demos(tmp_path / "so.h5", num_demos=2, steps=4, state_only=True)
    with h5py.File(path) as f:
        assert "actions" not in f["data/demo_0"] and f["data/demo_0"].attrs["state_only"]
        assert f["data"].attrs["state_only"]
    demo = load_demos(path).demos[0]
    assert demo.state_only and len(demo) == 5


def test_sparsify_keeps_original_time_indices(tmp_path: Path) -> None:
    src = write_synthetic_demos(tmp_path / "full.h5", num_demos=2, steps=24)
    every = load_demos(sparsify(src, tmp_path / "every10.h5", every=10))
    final = load_demos(sparsify(src, tmp_path / "final.h5", final_only=True))
    full = load_demos(src)
    for f_demo, e_demo, l_demo in zip(full.demos, every.demos, final.demos, strict=True):
        states, _ = f_demo.states()
        assert e_demo.time_index.tolist() == [0, 10, 20, 24]
        assert l_demo.time_index.tolist() == [24]
        np.testing.assert_array_equal(e_demo.obs["joint_positions"], states["joint_positions"][[0, 10, 20, 24]])
        np.testing.assert_array_equal(l_demo.obs["ee_position"], states["ee_position"][[-1]])
        assert e_demo.state_only and e_demo.attrs["sparsity"] == "every_10"
        assert l_demo.attrs["sparsity"] == "final_only" and l_demo.dones.tolist() == [1]
    assert every.env_args == full.env_args


def test_strip_actions_keeps_all_states(tmp_path: Path) -> None:
    src = write_synthetic_demos(tmp_path / "full.h5", num_demos=1, steps=7)
    stripped = load_demos(strip_actions(src, tmp_path / "so.h5")).demos[0]
    states, _ = load_demos(src).demos[0].states()
    assert stripped.state_only and stripped.time_index.tolist() == list(range(8))
    np.testing.assert_array_equal(stripped.obs["joint_velocities"], states["joint_velocities"])


# The validator: one clear message per problem, naming the demo and key.


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    return write_synthetic_demos(tmp_path / "good.h5", num_demos=2, steps=5)


def test_valid_file_has_no_problems(good_file: Path) -> None:
    assert validate(good_file) == []


def test_truncated_file_is_reported(good_file: Path) -> None:
    size = good_file.stat().st_size
    with open(good_file, "r+b") as fh:
        fh.truncate(size // 2)
    problems = validate(good_file)
    assert len(problems) >= 1 and str(good_file) in problems[0]
    assert "truncated or corrupted" in problems[0] or "damaged" in problems[0]
    with pytest.raises(DemoFileError):
        load_demos(good_file)


def test_corrupted_file_is_reported(good_file: Path) -> None:
    data = bytearray(good_file.read_bytes())
    data[:64] = os.urandom(64)  # destroys the HDF5 superblock
    good_file.write_bytes(bytes(data))
    (problem,) = validate(good_file)
    assert "not a readable HDF5 file" in problem


def test_missing_file_is_reported(tmp_path: Path) -> None:
    assert validate(tmp_path / "nope.h5") == [f"{tmp_path / 'nope.h5'}: file not found"]


def test_wrong_dimensions_are_reported(good_file: Path) -> None:
    with h5py.File(good_file, "a") as f:
        del f["data/demo_1/obs/joint_positions"]
        f["data/demo_1/obs/joint_positions"] = np.zeros((5, 7))
        del f["data/demo_0/actions"]
        f["data/demo_0/actions"] = np.zeros((5, 4))
    problems = validate(good_file)
    assert any("demo_1/obs/joint_positions: each row has shape (7,), expected (6,)" in p for p in problems), problems
    assert any("demo_0/actions: each row has shape (4,), expected (6,)" in p for p in problems), problems


def test_nan_and_inf_are_reported(good_file: Path) -> None:
    with h5py.File(good_file, "a") as f:
        f["data/demo_0/obs/ee_position"][3, 1] = np.nan
        f["data/demo_1/actions"][2, 0] = np.inf
    problems = validate(good_file)
    assert any("demo_0/obs/ee_position: NaN or inf at row 3" in p for p in problems), problems
    assert any("demo_1/actions: NaN or inf at row 2" in p for p in problems), problems


def test_missing_keys_and_inconsistent_lengths_are_reported(good_file: Path) -> None:
    with h5py.File(good_file, "a") as f:
        del f["data/demo_0/obs/socket_quat"]
        del f["data/demo_1/dones"]
        f["data/demo_1/dones"] = np.zeros(4)
        del f["data"].attrs["env_args"]
    problems = validate(good_file)
    assert any("demo_0/obs/socket_quat: missing" in p for p in problems), problems
    assert any("demo_1/dones: 4 rows but num_samples is 5" in p for p in problems), problems
    assert any("missing attribute 'env_args'" in p for p in problems), problems


def test_cli_validate_and_info(good_file: Path, capsys) -> None:
    assert cli(["demos", "validate", str(good_file)]) == 0
    assert "valid" in capsys.readouterr().out
    assert cli(["demos", "info", str(good_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["demos"] == 2 and info["samples"] == 10 and not info["state_only"]
    with h5py.File(good_file, "a") as f:
        f["data/demo_0/obs/ee_position"][0, 0] = np.nan
    assert cli(["demos", "validate", str(good_file)]) == 1
    assert "demo_0/obs/ee_position: NaN or inf at row 0" in capsys.readouterr().out


def test_cli_sparsify_and_strip(good_file: Path, tmp_path: Path) -> None:
    assert cli(["demos", "sparsify", str(good_file), "--every", "2", "-o", str(tmp_path / "s.h5")]) == 0
    assert load_demos(tmp_path / "s.h5").demos[0].time_index.tolist() == [0, 2, 4, 5]
    assert cli(["demos", "strip-actions", str(good_file), "-o", str(tmp_path / "so.h5")]) == 0
    assert load_demos(tmp_path / "so.h5").state_only


# Crash safety, with a real recorder process and a real SIGKILL.


def _demo_count(path: Path) -> int:
    try:
        with h5py.File(path, "r") as f:
            return sum(1 for k in f["data"] if k.startswith("demo_"))
    except (OSError, KeyError):
        return 0


@pytest.mark.parametrize("kill_after", [2, 5])
def test_recorder_killed_mid_episode_leaves_earlier_episodes_intact(tmp_path: Path, kill_after: int) -> None:
    path = tmp_path / "rec.h5"
    cmd = [sys.executable, "-m", "robot_il.cli", "record", "--source", "expert", "-n", "500", "-o", str(path)]
    # Land the kill somewhere inside a later episode or its write.
    sigkill_when(cmd, ready=lambda: _demo_count(path) >= kill_after, timeout=120, delay=0.07)
    assert validate(path) == []
    demos = load_demos(path)
    assert len(demos) >= kill_after
    assert [d.name for d in demos.demos] == [f"demo_{i}" for i in range(len(demos))]
    assert all(d.attrs["success"] and len(d) > 10 for d in demos.demos)
    # Recording again appends after the last complete episode and clears the killed writer's temporary.
    subprocess.run([*cmd[:-4], "-n", "1", "-o", str(path), "--seed", "900"], check=True, capture_output=True)
    assert len(load_demos(path)) == len(demos) + 1
    assert [p.name for p in tmp_path.iterdir()] == ["rec.h5"]


# A file consistent with its own declarations but not with its task: one line naming it, exit 2, everywhere.


def _five_joint_env_args() -> dict:
    """The peg task's env_args rewritten as if by a writer for a 5-joint arm: obs_spec and obs_layout agree."""
    args = env_args()
    args["obs_spec"]["joint_positions"]["shape"] = [5]
    start = 0
    for row in args["obs_layout"]:
        width = 5 if row["field"] == "joint_positions" else row["stop"] - row["start"]
        row["start"], row["stop"] = start, start + width
        start += width
    return args


def _write_five_joint_demos(path: Path) -> Path:
    """Two demos written with plain h5py, 5 joint positions per row where the peg task has 6."""
    args, n, rng = _five_joint_env_args(), 8, np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs.update(total=2 * n, env_args=json.dumps(args), state_only=False, robot_il_schema=1)
        for i in range(2):
            g = data.create_group(f"demo_{i}")
            g.attrs.update(num_samples=n, state_only=False)
            for group in ("obs", "next_obs"):
                for key, spec in args["obs_spec"].items():
                    g[f"{group}/{key}"] = rng.normal(size=(n, *spec["shape"]))
            g["actions"] = 0.1 * rng.normal(size=(n, 6))
            g["rewards"] = np.zeros(n)
            g["dones"] = np.eye(n)[-1]
            g["time_index"] = np.arange(n)
        f["mask/train"] = np.array([b"demo_0"])
        f["mask/valid"] = np.array([b"demo_1"])
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("robot-il: error: "), f"not one error line: {err!r}"
    return err


@pytest.mark.parametrize("algo", ["bc", "gpril", "gail"])
def test_demos_of_another_layout_are_refused_by_validate_and_training(tmp_path: Path, capsys, algo: str) -> None:
    bad = _write_five_joint_demos(tmp_path / "five.h5")
    expected = (
        f"{bad}: demo_0/obs has joint_positions of width 5, but the task robot_il/PegInsertion-v0 on its arm "
        "(6 joints) expects width 6; "
        "the file was written for another observation layout: record the demos again"
    )
    assert cli(["demos", "validate", str(bad)]) == 2
    assert expected in _one_error_line(capsys)
    with pytest.raises(DemoLayoutError, match="joint_positions of width 5"):
        load_demos(bad)
    assert cli(["train", algo, "--demos", str(bad), "--out", str(tmp_path / "run")]) == 2
    assert expected in _one_error_line(capsys)
    assert not (tmp_path / "run" / "policy.pt").exists()


def test_a_policy_of_another_layout_is_refused_by_eval(tmp_path: Path, capsys) -> None:
    args = _five_joint_env_args()
    net = GaussianPolicy(args["obs_layout"][-1]["stop"], 6, np.full(6, -1.0), np.ones(6), hidden=(8,))
    path = save_policy(tmp_path / "policy.pt", net, algo="bc", config={}, env_args=args)
    assert cli(["eval", "--policy", str(path), "--episodes", "1", "--out", str(tmp_path / "eval")]) == 2
    assert (
        f"{path}: its env_args obs_spec has joint_positions of width 5, but the task robot_il/PegInsertion-v0 "
        "on its arm (6 joints) expects width 6; the policy learnt from demos of another observation layout: retrain it"
    ) in _one_error_line(capsys)
    assert not (tmp_path / "eval" / "metrics.json").exists()


def test_a_directory_is_not_a_demo_file(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "demos"
    folder.mkdir()
    expected = f"{folder} is a directory, not an HDF5 demo file; pass the .h5 file itself"
    assert validate(folder) == [expected]
    assert cli(["demos", "validate", str(folder)]) == 1
    assert expected in capsys.readouterr().out
    assert cli(["train", "bc", "--demos", str(folder), "--out", str(tmp_path / "run")]) == 2
    assert _one_error_line(capsys) == f"robot-il: error: {expected}\n"


def test_loading_a_file_with_many_problems_names_the_first_in_one_line(good_file: Path) -> None:
    with h5py.File(good_file, "a") as f:
        f["data/demo_0/obs/ee_position"][3, 1] = np.nan
        f["data/demo_1/actions"][2, 0] = np.inf
    with pytest.raises(DemoFileError) as err:
        load_demos(good_file)
    assert str(err.value) == (
        f"{good_file}: demo_0/obs/ee_position: NaN or inf at row 3 "
        f"(and 1 more: `robot-il demos validate {good_file}` lists them)"
    )
