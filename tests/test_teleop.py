"""Teleop devices and the interactive recorder, without a window: twists through the Jacobian and the safety
filter, keep / discard / resume, the hardware-style reset, and failures mid-episode."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from robot_il.cell.config import PegConfig
from robot_il.data import load_demos, validate
from robot_il.deploy.run import DeploySession, open_session
from robot_il.hal.base import Observation
from robot_il.record.recorder import Phase, Recorder
from robot_il.record.teleop import (
    KeyboardTeleop,
    ScriptedTeleop,
    TeleopDevice,
    TeleopDeviceError,
    open_device,
    twist_to_joint_velocities,
)


@pytest.fixture
def session() -> Iterator[DeploySession]:
    with open_session("sim:peg", 20.0) as s:
        yield s


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def in_thread(recorder: Recorder) -> threading.Thread:
    thread = threading.Thread(target=recorder.run, daemon=True)
    thread.start()
    return thread


def test_twist_maps_through_the_jacobian_and_holds_the_orientation() -> None:
    kin = PegConfig().arm_model()
    q = PegConfig().home
    _, _, jac = kin.tip(np.asarray(q))
    twist = np.array([0.02, -0.01, 0.005, 0.0, 0.0, 0.0])
    qdot = twist_to_joint_velocities(jac, twist)
    np.testing.assert_allclose(jac @ qdot, twist, atol=2e-4)  # the damping costs a little accuracy
    assert not np.any(twist_to_joint_velocities(jac, np.zeros(6)))


def test_keyboard_keys_move_along_their_axes_while_held_and_pulses_expire() -> None:
    keys = KeyboardTeleop(speed=0.03, turn_speed=0.2)
    obs = None
    assert keys.press("W") and keys.press("q") and not keys.press("x")
    np.testing.assert_allclose(keys.twist(obs), [0.03, 0, 0.03, 0, 0, 0])
    keys.release("w")
    np.testing.assert_allclose(keys.twist(obs), [0, 0, 0.03, 0, 0, 0])
    keys.press("l")
    np.testing.assert_allclose(keys.twist(obs), [0, 0, 0.03, 0, 0, -0.2])
    keys.release_all()
    assert not np.any(keys.twist(obs))
    pulsed = KeyboardTeleop(speed=0.02, pulse=0.05)
    pulsed.press("a")
    assert pulsed.twist(obs)[1] == pytest.approx(0.02)
    time.sleep(0.08)
    assert not np.any(pulsed.twist(obs)), "a terminal key press must stop moving after its pulse"


def test_missing_device_libraries_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyspacemouse", None)  # import fails, as when not installed
    monkeypatch.setitem(sys.modules, "pygame", None)
    with pytest.raises(TeleopDeviceError, match="pip install pyspacemouse"):
        open_device("spacemouse")
    with pytest.raises(TeleopDeviceError, match="pip install pygame"):
        open_device("gamepad")
    with pytest.raises(TeleopDeviceError, match="unknown teleop device"):
        open_device("joystick9000")


def test_scripted_teleop_inserts_through_the_filter_and_records_applied_velocities(
    session: DeploySession, tmp_path: Path
) -> None:
    out = tmp_path / "teleop.h5"
    recorder = Recorder(
        session, out, device=ScriptedTeleop(session.task.cfg), target=2, auto_start=True, auto_keep=True,
        realtime=False,
    )  # fmt: skip
    recorder.run()
    assert recorder.status.phase == Phase.DONE and recorder.status.kept == 2
    assert validate(out) == []
    demos = load_demos(out)
    assert len(demos) == 2 and not demos.state_only
    low, high = session.robot.spec.action_low, session.robot.spec.action_high
    for demo in demos.demos:
        assert demo.attrs["source"] == "teleop" and demo.attrs["device"] == "scripted"
        assert demo.attrs["success"] and demo.attrs["end_reason"] == "success"
        assert np.all(demo.actions >= low - 1e-9) and np.all(demo.actions <= high + 1e-9)
        assert demo.dones[-1] == 1 and demo.rewards[-1] == 1.0
    with h5py.File(out) as f:
        assert f["data/demo_0/requested_actions"].shape == f["data/demo_0/actions"].shape
    assert [d.attrs["seed"] for d in demos.demos] == [0, 1]


def test_every_teleop_command_passes_the_safety_filter(session: DeploySession, tmp_path: Path) -> None:
    """A keyboard set to 1 m/s is held to the filter's 0.25 m/s tip speed; the file says what was asked."""
    out = tmp_path / "fast.h5"
    keys = KeyboardTeleop(speed=1.0)
    keys.press("s")  # away from the socket, inside the workspace for a while
    recorder = Recorder(session, out, device=keys, target=1, auto_start=True, realtime=False)
    thread = in_thread(recorder)
    wait_for(lambda: recorder.status.steps >= 10)
    recorder.request("keep")
    thread.join(timeout=60)
    demo = load_demos(out).demos[0]
    tip = demo.obs["ee_position"]
    speed = np.linalg.norm(np.diff(tip, axis=0), axis=1) / session.robot.spec.control_period
    assert speed.max() < 0.25 * 1.1, f"tip speed {speed.max():.3f} m/s over the filter's 0.25 m/s"
    assert "ee_speed" in demo.attrs["interventions"]
    with h5py.File(out) as f:
        requested = f["data/demo_0/requested_actions"][()]
    assert np.abs(requested).max() > np.abs(demo.actions).max()


def test_discard_rerecords_the_same_pose_and_resume_counts_the_file(session: DeploySession, tmp_path: Path) -> None:
    out = tmp_path / "resume.h5"
    keys = KeyboardTeleop()
    first = Recorder(session, out, device=keys, target=2, seed=5)
    thread = in_thread(first)
    for i, action in enumerate(("keep", "discard", "keep")):
        wait_for(lambda: first.status.phase == Phase.READY)
        first.request("start")
        wait_for(lambda: first.status.phase == Phase.RECORDING and first.status.steps >= 3)
        first.request(action)
        wait_for(lambda i=i: first.status.kept + first.status.discarded == i + 1)
    thread.join(timeout=60)
    assert (first.status.kept, first.status.discarded, first.status.phase) == (2, 1, Phase.DONE)
    readies = [e.seed for e in first.events if e.phase == Phase.READY]
    assert readies == [5, 6, 6], "a discarded episode is recorded again with its socket pose"

    again = Recorder(session, out, device=keys, target=3, seed=5)
    assert (again.status.kept, again.status.seed) == (2, 7), "resuming counts the demos already in the file"
    thread = in_thread(again)
    wait_for(lambda: again.status.phase == Phase.READY)
    again.request("start")
    wait_for(lambda: again.status.steps >= 3)
    again.request("keep")
    thread.join(timeout=60)
    assert again.status.kept == 3 and validate(out) == []
    assert [d.attrs["seed"] for d in load_demos(out).demos] == [5, 6, 7]


def test_only_successes_turns_a_failed_keep_into_a_discard(session: DeploySession, tmp_path: Path) -> None:
    out = tmp_path / "only.h5"
    recorder = Recorder(session, out, device=KeyboardTeleop(), target=1, only_successes=True, auto_start=True)
    thread = in_thread(recorder)
    wait_for(lambda: recorder.status.steps >= 3)
    recorder.request("keep")
    wait_for(lambda: recorder.status.discarded == 1)
    recorder.request("stop")
    thread.join(timeout=60)
    assert recorder.status.kept == 0 and not out.exists()


def test_without_a_self_reset_the_peg_backs_out_and_drives_home_through_the_filter(
    session: DeploySession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hardware path in simulation: the backend's own reset only checks that the arm is home."""
    monkeypatch.setattr(DeploySession, "resets_itself", lambda self: False)
    robot = session.robot
    home = robot.spec.home_joint_positions
    at_reset: list[np.ndarray] = []
    real_reset = robot.reset

    def reset() -> Observation:
        at_reset.append(robot.observe().joint_positions.copy())
        return real_reset()

    monkeypatch.setattr(robot, "reset", reset)
    recorder = Recorder(
        session, tmp_path / "hw.h5", device=ScriptedTeleop(session.task.cfg), target=2, auto_start=True,
        auto_keep=True, realtime=False,
    )  # fmt: skip
    recorder.run()
    assert recorder.status.kept == 2 and len(at_reset) == 2
    assert np.abs(at_reset[1] - home).max() < 0.01, "after an inserted episode the filter brought the arm home"


class FailingDevice(TeleopDevice):
    """The scripted expert until step ``fail_at`` of episode ``episode``, then an exception (a device unplugged)."""

    name = "failing"

    def __init__(self, cfg, episode: int, fail_at: int) -> None:
        self.inner, self.episode, self.fail_at = ScriptedTeleop(cfg), episode, fail_at
        self.steps = 0

    def twist(self, obs: Observation) -> np.ndarray:
        if obs.timestamp == 0.0:  # simulated time restarts with every episode
            self.episode, self.steps = self.episode - 1, 0
        self.steps += 1
        if self.episode == 0 and self.steps > self.fail_at:
            raise OSError("device unplugged")
        return self.inner.twist(obs)


def test_an_exception_mid_episode_stops_the_arm_and_leaves_the_file_valid(
    session: DeploySession, tmp_path: Path
) -> None:
    out = tmp_path / "fail.h5"
    device = FailingDevice(session.task.cfg, episode=2, fail_at=40)
    recorder = Recorder(session, out, device=device, target=3, auto_start=True, auto_keep=True, realtime=False)
    with pytest.raises(OSError, match="unplugged"):
        recorder.run()
    assert recorder.status.phase == Phase.STOPPED and "unplugged" in recorder.status.message
    assert validate(out) == [] and len(load_demos(out)) == 1
    assert np.abs(session.robot.observe().joint_velocities).max() < 0.05, "the arm was stopped"


def test_prompts_are_spoken_where_espeak_ng_is_installed(
    session: DeploySession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in espeak-ng on PATH records what it was asked to say."""
    from robot_il.record.speech import Speaker

    said = tmp_path / "said.txt"
    fake = tmp_path / "bin" / "espeak-ng"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nshift 2\necho "$*" >> {said}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    speaker = Speaker()
    assert speaker.available
    recorder = Recorder(
        session, tmp_path / "spoken.h5", device=ScriptedTeleop(session.task.cfg), target=1, auto_start=True,
        auto_keep=True, realtime=False, speaker=speaker,
    )  # fmt: skip
    recorder.run()
    speaker._proc.wait(timeout=10)
    assert said.read_text().splitlines()[-1] == "done"
    assert not Speaker(enabled=False).available
