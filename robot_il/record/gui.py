"""The recording window (PySide6): a live view of the cell, the episode counter, the phase and the task's
success signal, and the keys that keep, discard and re-record episodes.

Keys (the buttons do the same): Space starts an episode, Right ends it and keeps
it, Left discards it (the same socket pose is recorded again), Esc stops the arm
and closes the window. With the keyboard device, W/S, A/D and Q/E move the peg
tip along x, y and z of the arm's base (W towards the socket), I/K and J/L turn
the peg. Key events come from the window itself (no global keyboard hook), so the
window works over SSH with X forwarding, and in tests offscreen and under Xvfb.

The control loop runs in its own thread (:meth:`Recorder.run`, at the cell's
rate); the view is refreshed by a Qt timer at ``view_hz`` (at most 10 Hz, and
slower when a frame takes more than half the interval to draw: an OSMesa render
of 320 x 240 takes about 20 ms without shadows on a 2-core CPU, 80-120 ms with
them). In simulation the frame is
rendered from the live MuJoCo state: the scene is copied under the recorder's
lock (microseconds), and drawn outside it, so rendering never holds up a control
step. Other backends have no simulation to draw: the view says so, and the
panel (phase, success signal, tip depth) is the live state.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from robot_il.errors import RobotILError

try:
    from PySide6 import QtCore, QtGui, QtWidgets
except ImportError as err:  # the gui extra is optional: say how to get it
    raise RobotILError(
        "the recording GUI needs PySide6: pip install -e '.[gui]' (or record in a terminal: --terminal)"
    ) from err

from robot_il.record.recorder import MODES, Phase, Recorder
from robot_il.record.teleop import KeyboardTeleop

Qt = QtCore.Qt

PHASE_COLOURS = {
    Phase.RESETTING: "#8a6d00",
    Phase.READY: "#1d6fb8",
    Phase.RECORDING: "#c0392b",
    Phase.REVIEW: "#7d3c98",
    Phase.SAVED: "#1e8449",
    Phase.DISCARDED: "#7f8c8d",
    Phase.DONE: "#1e8449",
    Phase.STOPPED: "#444444",
}
ACTION_KEYS = {Qt.Key.Key_Space: "start", Qt.Key.Key_Right: "keep", Qt.Key.Key_Left: "discard"}
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}
"""The system libraries Qt's X11 (xcb) platform plugin loads and PySide6's wheel does not ship, with their
Debian packages (scripts/system-deps.sh installs them). Without one, Qt aborts the process (status 134)."""


def require_display() -> None:
    """Raise a one-line :class:`RobotILError` where Qt's X11 plugin would abort the process: no ``DISPLAY``,
    a system library missing (naming its package and the ``apt-get install`` line), or an X server that
    refuses the connection. Other Qt platforms (``QT_QPA_PLATFORM=offscreen``, a Wayland session) are
    left to Qt."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform.split(":")[0] not in ("", "xcb"):
        return
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return  # Qt takes its Wayland plugin
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise RobotILError(
            "the recording window needs a display and DISPLAY is not set: run it on the desktop or over "
            "ssh -X, or record in a terminal with --terminal"
        )
    missing = []
    for soname, package in XCB_LIBRARIES.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(package)
    if missing:
        raise RobotILError(
            f"the recording window needs Qt's X11 libraries; missing: {' '.join(missing)}; install them "
            f"with: sudo apt-get install {' '.join(missing)} (or make system-deps)"
        )
    xcb = ctypes.CDLL("libxcb.so.1")
    xcb.xcb_connect.restype = ctypes.c_void_p
    connection = ctypes.c_void_p(xcb.xcb_connect(None, None))
    refused = xcb.xcb_connection_has_error(connection)
    xcb.xcb_disconnect(connection)
    if refused:
        raise RobotILError(
            f"the recording window cannot connect to the X display {display!r} (DISPLAY): is the X server "
            "running, and may this user open windows on it (XAUTHORITY)? Or record in a terminal with --terminal"
        )


def sim_view(recorder: Recorder) -> Any:
    """The session's live view of the cell behind ``recorder`` (``frame()``, ``close()``), or None on a backend
    without a simulation to draw."""
    return recorder.cell.view()


class RecordWindow(QtWidgets.QWidget):
    """The recording window over a :class:`Recorder`; :meth:`start_recording` starts its control thread."""

    def __init__(
        self,
        recorder: Recorder,
        keyboard: KeyboardTeleop | None = None,
        view: Any = None,
        view_hz: float = 10.0,
        close_when_done: bool = False,
    ) -> None:
        super().__init__()
        self.recorder, self.keyboard, self.view = recorder, keyboard, view
        self.close_when_done = close_when_done
        self.frame_times: deque[float] = deque(maxlen=10_000)
        """perf_counter() of every frame shown, s: the live view's rate."""
        self.render_ms: deque[float] = deque(maxlen=10_000)
        self._thread: threading.Thread | None = None
        self._note_until = 0.0
        self.setWindowTitle(f"robot-il record: {recorder.out.name}")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()
        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.refresh)
        self._interval_ms = round(1000 / min(view_hz, 10.0))
        self._timer.start(self._interval_ms)
        self.refresh()

    # Layout -------------------------------------------------------------------------------------------

    def _build(self) -> None:
        r = self.recorder
        self.image = QtWidgets.QLabel()
        self.image.setFixedSize(640, 480)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setStyleSheet("background: #202020; color: #cccccc")

        self.mode = QtWidgets.QComboBox()
        self.mode.addItems(MODES)
        self.mode.setCurrentText(r.mode)
        self.mode.currentTextChanged.connect(self._switch_mode)
        device = r.device.name if r.device is not None else "none"
        self.device = QtWidgets.QLabel(device)
        self.phase = QtWidgets.QLabel()
        self.phase.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.phase.setMinimumHeight(56)
        self.counter = QtWidgets.QLabel()
        self.counter.setStyleSheet("font-size: 18px")
        self.success = QtWidgets.QLabel()
        self.success.setStyleSheet("font-size: 16px")
        self.episode = QtWidgets.QLabel()
        self.only_successes = QtWidgets.QCheckBox("keep only successful episodes")
        self.only_successes.setChecked(r.only_successes)
        self.only_successes.toggled.connect(lambda on: setattr(r, "only_successes", on))
        self.speed = QtWidgets.QDoubleSpinBox()
        self.speed.setRange(2.0, 100.0)
        self.speed.setSingleStep(5.0)
        self.speed.setSuffix(" mm/s")
        if self.keyboard is not None:
            self.speed.setValue(1e3 * self.keyboard.speed)
            self.speed.valueChanged.connect(lambda v: setattr(self.keyboard, "speed", v / 1e3))

        form = QtWidgets.QFormLayout()
        form.addRow("mode", self.mode)
        form.addRow("device", self.device)
        form.addRow("keyboard tip speed", self.speed)
        form.setRowVisible(self.speed, self.keyboard is not None)

        buttons = QtWidgets.QGridLayout()
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for i, (what, label) in enumerate(
            (("start", "Start  [Space]"), ("keep", "Keep  [→]"), ("discard", "Discard  [←]"), ("stop", "Stop  [Esc]"))
        ):
            button = QtWidgets.QPushButton(label)
            button.clicked.connect(lambda _=False, w=what: self.act(w))
            buttons.addWidget(button, i // 2, i % 2)
            self.buttons[what] = button

        help_text = QtWidgets.QLabel(
            "Space start · → keep · ← discard and re-record · Esc stop\n"
            "keyboard device: W/S ±x (W towards the socket), A/D ±y, Q/E up/down, I/K J/L turn the peg"
        )
        help_text.setWordWrap(True)
        help_text.setStyleSheet("color: #555555")

        side = QtWidgets.QVBoxLayout()
        side.addLayout(form)
        side.addWidget(self.phase)
        side.addWidget(self.counter)
        side.addWidget(self.success)
        side.addWidget(self.episode)
        side.addWidget(self.only_successes)
        side.addLayout(buttons)
        side.addWidget(help_text)
        side.addStretch(1)

        self.message = QtWidgets.QLabel()
        self.rates = QtWidgets.QLabel()
        self.rates.setAlignment(Qt.AlignmentFlag.AlignRight)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.rates)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.image)
        side_box = QtWidgets.QWidget()
        side_box.setLayout(side)
        side_box.setFixedWidth(330)
        top.addWidget(side_box)
        outer = QtWidgets.QVBoxLayout(self)
        outer.addLayout(top)
        outer.addLayout(bottom)
        # Keys belong to the window: no child takes focus (a focused button would swallow Space, a combo box
        # the arrows).
        for child in self.findChildren(QtWidgets.QWidget):
            child.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    # Control ------------------------------------------------------------------------------------------

    def start_recording(self) -> None:
        """Start the control loop in its own thread."""
        self._thread = threading.Thread(target=self._run, name="robot-il-record", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.recorder.run()
        except BaseException:  # kept in recorder.error, shown in the window and raised by run_gui
            return

    def act(self, what: str) -> None:
        """A key or button: start, keep, discard or stop (stop also closes the window)."""
        if what == "stop":
            self.close()
            return
        self.recorder.request(what)

    def _switch_mode(self, mode: str) -> None:
        try:
            self.recorder.set_mode(mode)
        except Exception as err:
            self.message.setText(f"mode not switched: {err}")
            self._note_until = time.monotonic() + 5.0  # the recorder's own messages wait until it has been read
            self.mode.blockSignals(True)
            self.mode.setCurrentText(self.recorder.mode)
            self.mode.blockSignals(False)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.act("stop")
        elif key in ACTION_KEYS:
            if not event.isAutoRepeat():
                self.act(ACTION_KEYS[key])
        elif self.keyboard is not None and event.text() and self.keyboard.press(event.text()):
            pass  # held until released; auto-repeat presses change nothing
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QtGui.QKeyEvent) -> None:
        if self.keyboard is not None and event.text() and not event.isAutoRepeat():
            self.keyboard.release(event.text())
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QtGui.QFocusEvent) -> None:
        if self.keyboard is not None:  # a key released in another window never reaches us: stop moving
            self.keyboard.release_all()
        super().focusOutEvent(event)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Stop the arm and the control loop before the window goes (the session closes after it)."""
        self._timer.stop()
        if self._thread is not None and self._thread.is_alive():
            self.recorder.request("stop")
            self._thread.join(timeout=30.0)
        if self.view is not None:
            self.view.close()
            self.view = None
        super().closeEvent(event)

    # View ---------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """One view tick: a new frame of the cell, and the labels from the recorder's status."""
        s = self.recorder.status
        if self.view is not None:
            t0 = time.perf_counter()
            rgb = np.ascontiguousarray(self.view.frame())
            took = time.perf_counter() - t0
            self.render_ms.append(1e3 * took)
            # Never more than half of the window's thread on drawing, so keys and buttons stay prompt.
            interval = max(self._interval_ms, round(2e3 * took))
            if interval != self._timer.interval():  # setInterval restarts a running timer: only on a change
                self._timer.setInterval(interval)
            h, w, _ = rgb.shape
            image = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
            self.image.setPixmap(
                QtGui.QPixmap.fromImage(image).scaled(
                    self.image.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )
            self.frame_times.append(time.perf_counter())
        elif not self.image.text():
            self.image.setText("no simulation to render on this backend\n(the arm's state is in the panel)")

        colour = PHASE_COLOURS[s.phase]
        title = "armed: move the arm" if s.waiting_for_motion else s.phase.value
        self.phase.setText(title.upper())
        self.phase.setStyleSheet(f"background: {colour}; color: white; font-size: 24px; font-weight: bold")
        self.counter.setText(f"kept {s.kept} / {s.target}   ·   discarded {s.discarded}")
        depth = "" if np.isnan(s.depth) else f"   depth {1e3 * s.depth:+.1f} mm"
        self.success.setText(f"peg in: {'YES' if s.success else 'no'}{depth}")
        self.success.setStyleSheet(f"font-size: 16px; color: {'#1e8449' if s.success else '#333333'}")
        self.episode.setText(f"episode seed {s.seed}   ·   {s.steps} steps, {s.elapsed:.1f} s")
        if time.monotonic() > self._note_until:
            self.message.setText(s.message)
        self.mode.setEnabled(s.phase == Phase.READY)
        self.buttons["start"].setEnabled(s.phase == Phase.READY)
        self.buttons["keep"].setEnabled(s.phase in (Phase.RECORDING, Phase.REVIEW))
        self.buttons["discard"].setEnabled(s.phase in (Phase.RECORDING, Phase.REVIEW))
        rates = self.recorder.rates(last=40)
        fps = self.view_fps()
        self.rates.setText(
            ("" if np.isnan(fps) else f"view {fps:.1f} fps · ")
            + ("" if np.isnan(rates["control_hz"]) else f"control {rates['control_hz']:.1f} Hz")
        )
        if self.close_when_done and self.recorder.done:
            self.close()

    def view_fps(self, last: int = 50) -> float:
        """Frames per second over the last ``last`` frames."""
        t = list(self.frame_times)[-last:]
        return float("nan") if len(t) < 2 else (len(t) - 1) / (t[-1] - t[0])

    def rate_summary(self) -> str:
        """One line: the live view's frame rate and render time, the control rate held while recording."""
        r = self.recorder.rates()
        frames = 1e3 * np.diff(np.asarray(self.frame_times))
        view = (
            f"live view {1e3 / np.median(frames):.1f} fps (frame interval p50 {np.median(frames):.0f} ms, "
            f"p90 {np.percentile(frames, 90):.0f} ms; render p50 {np.percentile(self.render_ms, 50):.1f} ms)"
            if len(frames)
            else "live view: none"
        )
        control = (
            f"control {r['control_hz']:.2f} Hz while recording (period p50 {r['period_p50_ms']:.1f} ms, "
            f"p99 {r['period_p99_ms']:.1f} ms)"
            if np.isfinite(r["control_hz"])
            else "control: nothing recorded"
        )
        return f"{view}; {control}"


def run_gui(
    recorder: Recorder,
    keyboard: KeyboardTeleop | None = None,
    view_hz: float = 10.0,
    close_when_done: bool = False,
) -> int:
    """Show the window and record until it closes; returns the exit code (128 + N after signal N).

    SIGINT and SIGTERM close the window as Esc does (the arm is stopped first); an error in the control loop
    is raised after the window has shown it and closed."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        require_display()
        app = QtWidgets.QApplication(sys.argv[:1])
    window = RecordWindow(recorder, keyboard, sim_view(recorder), view_hz, close_when_done)
    got: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        got.append(signum)
        window.close()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        window.show()
        window.activateWindow()
        window.start_recording()
        app.exec()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        window.close()
    print(window.rate_summary(), file=sys.stderr)
    if recorder.error is not None and not isinstance(recorder.error, KeyboardInterrupt):
        raise recorder.error
    return 128 + got[0] if got else 0
