"""The terminal recorder (no Qt): keys from a pty and from a pipe, and real SIGKILLs of `robot-il record`."""

from __future__ import annotations

import io
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

from robot_il.data import load_demos, validate
from robot_il.deploy.run import DeploySession, open_session
from robot_il.record.recorder import Phase, Recorder
from robot_il.record.teleop import KeyboardTeleop
from robot_il.record.terminal import run_terminal

ROBOT_IL = str(Path(sys.executable).parent / "robot-il")


@pytest.fixture
def session() -> Iterator[DeploySession]:
    with open_session("sim:peg", 20.0) as s:
        yield s


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_keys_from_a_terminal_move_keep_discard_and_stop(session: DeploySession, tmp_path: Path) -> None:
    """A real pty in cbreak mode: single key presses, arrow escape sequences, a lone Esc."""
    out = tmp_path / "pty.h5"
    keys = KeyboardTeleop(speed=0.02)
    recorder = Recorder(session, out, device=keys, target=5)
    master, slave = pty.openpty()
    lines = io.StringIO()
    thread = threading.Thread(target=run_terminal, args=(recorder, keys, slave, lines), daemon=True)
    thread.start()
    try:
        wait_for(lambda: recorder.status.phase == Phase.READY, what="ready")
        os.write(master, b" ")
        wait_for(lambda: recorder.status.phase == Phase.RECORDING, what="recording")
        for _ in range(16):  # held W: the terminal's auto-repeat, every 50 ms
            os.write(master, b"w")
            time.sleep(0.05)
        os.write(master, b"\x1b[C")  # Right arrow: keep
        wait_for(lambda: recorder.status.kept == 1, what="kept")
        wait_for(lambda: recorder.status.phase == Phase.READY, what="ready again")
        os.write(master, b" ")
        wait_for(lambda: recorder.status.steps >= 3, what="second episode")
        os.write(master, b"\x1b[D")  # Left arrow: discard
        wait_for(lambda: recorder.status.discarded == 1, what="discarded")
        wait_for(lambda: recorder.status.phase == Phase.READY, what="ready a third time")
        os.write(master, b"\x1b")  # Esc: stop
        thread.join(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    assert not thread.is_alive() and recorder.status.phase == Phase.STOPPED
    assert validate(out) == []
    demo = load_demos(out).demos[0]
    moved = demo.obs["ee_position"][-1] - demo.obs["ee_position"][0]
    assert 0.005 < moved[0] < 0.03 and np.abs(moved[1:]).max() < 0.003, f"W moves the tip along +x: {moved}"
    text = lines.getvalue()
    assert "saved demo_0 (1 of 5)" in text and "discarded" in text and "control" in text


def _demo_count(path: Path) -> int:
    try:
        with h5py.File(path, "r") as f:
            return sum(1 for k in f["data"] if k.startswith("demo_"))
    except (OSError, KeyError):
        return 0


def _saved_lines(log: Path) -> int:
    return len(re.findall(r"saved demo_\d+", log.read_text())) if log.exists() else 0


def _record(out: Path, log: Path, *flags: str) -> subprocess.Popen:
    cmd = [ROBOT_IL, "record", "--source", "teleop", "--terminal", "-n", "50", "-o", str(out), "--no-speech"]
    with open(log, "w") as fh:
        return subprocess.Popen([*cmd, *flags], stdin=subprocess.PIPE, stdout=fh, stderr=subprocess.STDOUT)


def _sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"exit code {proc.returncode}"


def test_sigkill_mid_episode_keeps_exactly_the_kept_demos(tmp_path: Path) -> None:
    """Keyboard teleop driven through stdin: three episodes kept, the fourth recording when the kill comes."""
    out, log = tmp_path / "kill.h5", tmp_path / "kill.log"
    proc = _record(out, log)
    try:
        for kept in range(1, 5):
            wait_for(lambda kept=kept: log.exists() and f"ready for episode {kept} of" in log.read_text(), 120, "ready")
            proc.stdin.write(b" w")
            proc.stdin.flush()
            wait_for(lambda kept=kept: f"recording episode {kept}" in log.read_text(), 60, "recording")
            time.sleep(0.3)
            if kept < 4:
                proc.stdin.write(b"\x1b[C")
                proc.stdin.flush()
                wait_for(lambda kept=kept: _saved_lines(log) == kept, 60, "saved")
        _sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert validate(out) == []
    assert _demo_count(out) == 3 == _saved_lines(log), log.read_text()[-2000:]


@pytest.mark.parametrize("after", [3, 6])
def test_sigkill_hands_free_loses_at_most_the_episode_in_progress(tmp_path: Path, after: int) -> None:
    """The scripted device as fast as the simulation goes (an episode every ~0.1 s): killed wherever it is, the
    file is valid and holds every demo the counter reported, plus at most the one being written."""
    out, log = tmp_path / "fast.h5", tmp_path / "fast.log"
    proc = _record(out, log, "--device", "scripted", "--auto-start", "--auto-keep", "--no-realtime")
    try:
        wait_for(lambda: _saved_lines(log) >= after, 120, f"{after} demos")
        _sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    reported, count = _saved_lines(log), _demo_count(out)
    assert validate(out) == []
    assert reported <= count <= reported + 1, f"{count} demos in the file, {reported} reported kept"
    # Running again resumes into the same file up to the new target (the killed writer's temporary is swept).
    proc = _record(
        out, log, "--device", "scripted", "--auto-start", "--auto-keep", "--no-realtime", "-n", str(count + 1)
    )
    proc.communicate(timeout=120)
    assert proc.returncode == 0 and validate(out) == [] and _demo_count(out) == count + 1
    assert not list(tmp_path.glob(".fast.h5.*.tmp"))
