"""The recording window, driven offscreen through its real widgets (pytest-qt): keys and buttons keep, discard
and re-record; the counter resumes from the file; a scripted teleop episode inserts the peg and is saved; the
view and control rates; kinesthetic recording over ROS 2; the window on a real X server (Xvfb), and one line
instead of Qt's abort where it cannot start."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication: no X server needed

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6", reason="the gui extra (PySide6) is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed")

from PySide6.QtCore import Qt

from robot_il.data import load_demos, validate
from robot_il.deploy.run import DeploySession, open_session
from robot_il.record.gui import RecordWindow, sim_view
from robot_il.record.recorder import Phase, Recorder
from robot_il.record.teleop import KeyboardTeleop, ScriptedTeleop

WAIT_MS = 60_000


@pytest.fixture
def session() -> Iterator[DeploySession]:
    with open_session("sim:peg", 20.0) as s:
        yield s


@pytest.fixture
def open_window(qtbot) -> Iterator:
    """Builds a window over a recorder, shows it and starts its control thread; closes it after the test."""
    windows: list[RecordWindow] = []

    def make(recorder: Recorder, keyboard: KeyboardTeleop | None = None, **kw) -> RecordWindow:
        window = RecordWindow(recorder, keyboard, sim_view(recorder), **kw)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.start_recording()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def phase_is(recorder: Recorder, phase: Phase):
    return lambda: recorder.status.phase == phase


def recording(recorder: Recorder, steps: int) -> bool:
    return recorder.status.phase == Phase.RECORDING and recorder.status.steps >= steps


def test_keys_and_buttons_keep_discard_and_rerecord(qtbot, open_window, session: DeploySession, tmp_path: Path) -> None:
    out = tmp_path / "gui.h5"
    keys = KeyboardTeleop(speed=0.02)
    recorder = Recorder(session, out, device=keys, target=3)
    window = open_window(recorder, keys)

    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(phase_is(recorder, Phase.RECORDING), timeout=WAIT_MS)
    qtbot.keyPress(window, "w")  # held: the tip moves towards the socket until released
    qtbot.waitUntil(lambda: recording(recorder, steps=12), timeout=WAIT_MS)
    qtbot.keyRelease(window, "w")
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: recorder.status.kept == 1, timeout=WAIT_MS)
    window.refresh()
    assert "kept 1 / 3" in window.counter.text() and "discarded 0" in window.counter.text()

    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: recording(recorder, steps=3), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: recorder.status.discarded == 1, timeout=WAIT_MS)
    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)
    assert recorder.status.seed == 1, "the discarded episode's socket pose is recorded again"

    # The buttons do what the keys do (enabled in the phases where they mean something, at the next refresh).
    qtbot.waitUntil(window.buttons["start"].isEnabled, timeout=WAIT_MS)
    assert not window.buttons["keep"].isEnabled()
    qtbot.mouseClick(window.buttons["start"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: recording(recorder, steps=3) and window.buttons["keep"].isEnabled(), timeout=WAIT_MS)
    qtbot.mouseClick(window.buttons["keep"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: recorder.status.kept == 2, timeout=WAIT_MS)
    window.refresh()
    assert "kept 2 / 3" in window.counter.text() and "discarded 1" in window.counter.text()

    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Escape)  # stop: the loop ends and the window closes
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert recorder.status.phase == Phase.STOPPED

    assert validate(out) == []
    demos = load_demos(out).demos
    assert [d.attrs["seed"] for d in demos] == [0, 1] and all(d.attrs["device"] == "keyboard" for d in demos)
    moved = demos[0].obs["ee_position"][-1] - demos[0].obs["ee_position"][0]
    assert moved[0] > 0.004 and np.abs(moved[1:]).max() < 0.003, f"W moves the tip along +x: {moved}"


def test_resume_counts_the_file_and_a_scripted_episode_inserts_the_peg(
    qtbot, open_window, session: DeploySession, tmp_path: Path
) -> None:
    out = tmp_path / "resume.h5"
    device = ScriptedTeleop(session.task.cfg)
    Recorder(session, out, device=device, target=2, auto_start=True, auto_keep=True, realtime=False).run()

    recorder = Recorder(session, out, device=device, target=3, realtime=False)
    window = open_window(recorder)
    window.refresh()
    assert "kept 2 / 3" in window.counter.text()
    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(phase_is(recorder, Phase.REVIEW), timeout=WAIT_MS)  # the task says the peg is in
    window.refresh()
    assert window.success.text().startswith("peg in: YES")
    shot = tmp_path / "window.png"
    assert window.grab().save(str(shot)) and shot.stat().st_size > 10_000
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(phase_is(recorder, Phase.DONE), timeout=WAIT_MS)
    window.refresh()
    assert "kept 3 / 3" in window.counter.text() and window.phase.text() == "DONE"

    assert validate(out) == []
    demo = load_demos(out).demos[2]
    assert demo.attrs["source"] == "teleop" and demo.attrs["success"] and demo.attrs["seed"] == 2


def test_only_successes_checkbox_and_mode_switch(qtbot, open_window, session: DeploySession, tmp_path: Path) -> None:
    out = tmp_path / "modes.h5"
    keys = KeyboardTeleop()
    recorder = Recorder(session, out, device=keys, target=2)
    window = open_window(recorder, keys)
    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)

    window.mode.setCurrentText("kinesthetic")  # no file yet: either kind may start it
    assert recorder.mode == "kinesthetic"
    window.mode.setCurrentText("teleop")
    assert recorder.mode == "teleop"

    qtbot.mouseClick(window.only_successes, Qt.MouseButton.LeftButton)
    assert recorder.only_successes
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: recording(recorder, steps=3), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Right)  # not a success: discarded
    qtbot.waitUntil(lambda: recorder.status.discarded == 1, timeout=WAIT_MS)
    assert recorder.status.kept == 0 and not out.exists()

    qtbot.mouseClick(window.only_successes, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: recording(recorder, steps=3), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: recorder.status.kept == 1, timeout=WAIT_MS)
    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)
    window.mode.setCurrentText("kinesthetic")  # the file now holds teleop demos (with actions): refused
    assert recorder.mode == "teleop" and window.mode.currentText() == "teleop"
    window.refresh()  # the note stays up over the recorder's own messages
    assert "mode not switched" in window.message.text() and "with actions" in window.message.text()


def test_live_view_stays_at_most_10_fps_while_control_holds_20_hz(
    qtbot, open_window, session: DeploySession, tmp_path: Path
) -> None:
    keys = KeyboardTeleop()
    recorder = Recorder(session, tmp_path / "rates.h5", device=keys, target=1)
    window = open_window(recorder, keys)
    qtbot.waitUntil(phase_is(recorder, Phase.READY), timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.keyPress(window, "a")
    qtbot.waitUntil(lambda: recording(recorder, steps=60), timeout=WAIT_MS)  # 3 s at 20 Hz
    qtbot.keyRelease(window, "a")
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(phase_is(recorder, Phase.DONE), timeout=WAIT_MS)
    print(window.rate_summary())
    rates = recorder.rates()
    assert 18.0 < rates["control_hz"] < 21.0, window.rate_summary()
    assert 1.0 < window.view_fps() < 10.5, window.rate_summary()


@pytest.mark.slow
def test_kinesthetic_mode_over_ros2_records_states_only(
    qtbot, open_window, tmp_path: Path, ros2_domain: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sim bridge's scripted hand guides the arm; the window records it, commanding nothing."""
    from test_kinesthetic import start_guided_cell

    monkeypatch.setenv("ROS_DOMAIN_ID", str(ros2_domain + 2))  # a graph of its own: this bridge is guided
    bridge, gate = start_guided_cell(dict(os.environ))
    out = tmp_path / "kinesthetic.h5"
    try:
        with open_session("ros2", 20.0) as ros_session:
            recorder = Recorder(ros_session, out, mode="kinesthetic", target=1, auto_start=True, auto_keep=True)
            window = open_window(recorder)
            assert window.view is None and "no simulation" in window.image.text()
            qtbot.waitUntil(lambda: recorder.done, timeout=120_000)
            window.close()
    finally:
        for proc in (bridge, gate):
            proc.terminate()
            proc.wait(timeout=10)
    assert recorder.status.phase == Phase.DONE, recorder.status.message
    assert validate(out) == []
    demos = load_demos(out)
    assert demos.state_only and len(demos) == 1
    demo = demos.demos[0]
    assert demo.attrs["source"] == "kinesthetic" and demo.attrs["success"] and len(demo) > 20


def test_cli_gui_runs_offscreen_hands_free(tmp_path: Path) -> None:
    """`robot-il record --gui` end to end: the window records two scripted demos, closes and reports rates."""
    import sys

    out = tmp_path / "cli.h5"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "robot-il"), "record", "--source", "teleop", "--gui", "--device",
         "scripted", "--auto-start", "--auto-keep", "--no-realtime", "--no-speech", "-n", "2", "-o", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "live view" in run.stderr and "control" in run.stderr
    assert validate(out) == [] and len(load_demos(out)) == 2


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A real X server (Xvfb) on a display number it picks free; yields its DISPLAY."""
    import shutil

    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (package xvfb; make system-deps installs it)")
    read, write = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write)
    with os.fdopen(read) as ready:
        number = ready.readline().strip()  # written once the server accepts connections; EOF if it died
    if not number:
        proc.wait(timeout=10)
        pytest.fail(f"Xvfb did not start: {proc.stderr.read().decode()}")
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def desktop_env(display: str) -> dict[str, str]:
    """A user's environment on an X desktop: DISPLAY set, Qt and MuJoCo left to pick their defaults."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "MUJOCO_GL")}
    return {**env, "DISPLAY": display}


def test_cli_gui_records_on_a_real_x_server(xvfb: str, tmp_path: Path) -> None:
    """`robot-il record --gui` where a user has a display: Qt's own X11 (xcb) plugin, not offscreen; a
    missing system library would abort it (status 134)."""
    import sys

    out = tmp_path / "x11.h5"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "robot-il"), "record", "--source", "teleop", "--gui", "--device",
         "scripted", "--auto-start", "--auto-keep", "--no-realtime", "--no-speech", "-n", "1", "-o", str(out)],
        capture_output=True, text=True, timeout=300, env=desktop_env(xvfb),
    )  # fmt: skip
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert "live view" in run.stderr, run.stderr[-2000:]
    assert validate(out) == [] and len(load_demos(out)) == 1


def _record_gui(capsys: pytest.CaptureFixture, tmp_path: Path) -> tuple[int, list[str]]:
    """`robot-il record --gui` in this process: (exit status, lines on stderr)."""
    from robot_il.cli import main

    status = main(["record", "--source", "teleop", "--gui", "--device", "scripted", "-o", str(tmp_path / "no.h5")])
    captured = capsys.readouterr()
    assert not (tmp_path / "no.h5").exists()
    return status, captured.err.splitlines()


def test_a_missing_x11_library_is_one_line_with_the_apt_get_line(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from robot_il.record import gui

    monkeypatch.setenv("DISPLAY", ":0")  # the libraries are checked first
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(gui, "XCB_LIBRARIES", {"libxcb-robot-il-test.so.4": "libxcb-robot-il-test4"})
    status, err = _record_gui(capsys, tmp_path)
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith("robot-il: error: the recording window needs Qt's X11 libraries"), err
    assert err[0].endswith("sudo apt-get install libxcb-robot-il-test4 (or make system-deps)"), err


@pytest.mark.parametrize(
    ("display", "why"),
    [(None, "DISPLAY is not set"), (":4321", "cannot connect to the X display ':4321'")],
    ids=["no_display", "no_x_server"],
)
def test_no_usable_display_is_one_line_not_qts_abort(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, display: str | None, why: str
) -> None:
    from robot_il.record import gui

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display is None:
        monkeypatch.delenv("DISPLAY", raising=False)
    else:
        assert not Path(f"/tmp/.X11-unix/X{display[1:]}").exists(), f"an X server runs on {display}"
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.setattr(gui, "XCB_LIBRARIES", {"libxcb.so.1": "libxcb1"})  # whatever else is installed
    status, err = _record_gui(capsys, tmp_path)
    assert status == 2 and len(err) == 1 and why in err[0], err
    assert "--terminal" in err[0]
