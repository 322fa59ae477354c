"""Recording without a display: the recorder's keys read from the terminal, its progress printed as lines.

The same keys as the window: Space starts an episode, Right arrow keeps it, Left
arrow discards it, Esc stops. With the keyboard device, W/S, A/D, Q/E move the
peg tip and I/K, J/L turn it; a terminal reports no key releases, so each press
moves for :data:`PULSE` seconds (a tap nudges; a held key moves steadily once
the terminal's auto-repeat starts). On a terminal the keys act without Enter
(cbreak mode, restored on exit; Ctrl-C still stops); from a pipe the same bytes
are read as they come.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from typing import TextIO

import numpy as np

from robot_il.record.recorder import Phase, Recorder
from robot_il.record.teleop import KeyboardTeleop

PULSE = 0.1
"""How long one key press moves the arm in a terminal, s."""
ESCAPE_WAIT = 0.05
"""How long a lone Esc byte waits for the rest of an arrow key's sequence, s."""
ARROWS = {b"\x1b[C": "keep", b"\x1bOC": "keep", b"\x1b[D": "discard", b"\x1bOD": "discard"}


class KeyReader(threading.Thread):
    """Reads key bytes from ``fd`` and turns them into recorder requests and keyboard-device presses."""

    def __init__(self, fd: int, recorder: Recorder, keyboard: KeyboardTeleop | None) -> None:
        super().__init__(daemon=True, name="robot-il-record-keys")
        self.fd, self.recorder, self.keyboard = fd, recorder, keyboard

    def run(self) -> None:
        pending = b""
        while not self.recorder.done:
            try:
                ready, _, _ = select.select([self.fd], [], [], ESCAPE_WAIT if pending else 0.2)
                chunk = os.read(self.fd, 64) if ready else None
            except OSError:  # the terminal went away (closed, hung up): as the end of input
                chunk = b""
            if chunk is None:
                if pending:  # a lone Esc: nothing followed it
                    self._escape()
                    pending = b""
                continue
            if not chunk:  # end of input: nobody can press a key any more
                if not (self.recorder.auto_start and self.recorder.auto_keep):  # hands-free runs go on
                    self.recorder.request("stop")
                return
            pending = self._feed(pending + chunk)

    def _feed(self, data: bytes) -> bytes:
        """Act on every complete key in ``data``; return an incomplete escape sequence to wait on."""
        while data:
            if data[:1] == b"\x1b":
                if len(data) < 3 and (len(data) == 1 or data[1:2] in b"[O"):
                    return data
                if data[:3] in ARROWS:
                    self.recorder.request(ARROWS[data[:3]])
                    data = data[3:]
                else:
                    self._escape()
                    data = data[1:]
                continue
            key, data = data[:1].decode("latin-1"), data[1:]
            if key == " ":
                self.recorder.request("start")
            elif self.keyboard is not None:
                self.keyboard.press(key)
        return b""

    def _escape(self) -> None:
        self.recorder.request("stop")


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Keys without Enter, no echo, while in this block, where ``fd`` is a terminal."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class Printer(threading.Thread):
    """Prints each phase change as a line (the counter with it), and a live line while recording."""

    def __init__(self, recorder: Recorder, stream: TextIO) -> None:
        super().__init__(daemon=True, name="robot-il-record-print")
        self.recorder, self.stream = recorder, stream
        self.live = stream.isatty()
        self.shown = 0

    def run(self) -> None:
        while True:
            finished = self.recorder.done
            self.flush()
            if finished:
                return
            time.sleep(0.1)

    def flush(self) -> None:
        r = self.recorder
        events = r.events[self.shown :]
        self.shown += len(events)
        for e in events:
            line = f"[kept {e.kept}/{e.target}, discarded {e.discarded}] {e.message}"
            print(f"\r{line}\033[K" if self.live else line, file=self.stream, flush=True)
        s = r.status
        if self.live and s.phase == Phase.RECORDING and not events:
            print(
                f"\r  {s.elapsed:5.1f} s  peg in: {'YES' if s.success else 'no '}  depth {1e3 * s.depth:+6.1f} mm",
                end="",
                file=self.stream,
                flush=True,
            )


def run_terminal(
    recorder: Recorder, keyboard: KeyboardTeleop | None = None, fd: int | None = None, stream: TextIO | None = None
) -> int:
    """Record with keys from ``fd`` (default: standard input) and lines on ``stream`` (default: standard error)
    until done or stopped; returns 0. The arm is stopped however it ends (the recorder's own ``finally``)."""
    fd = sys.stdin.fileno() if fd is None else fd
    stream = stream or sys.stderr
    if keyboard is not None:
        keyboard.pulse = PULSE
    print(
        "keys: Space start · Right keep · Left discard and re-record · Esc stop"
        + ("; W/S A/D Q/E move the tip, I/K J/L turn the peg" if keyboard is not None else ""),
        file=stream,
        flush=True,
    )
    printer = Printer(recorder, stream)
    with cbreak(fd):
        KeyReader(fd, recorder, keyboard).start()
        printer.start()
        try:
            recorder.run()
        finally:
            printer.join(timeout=1.0)
            printer.flush()
    r = recorder.rates()
    if np.isfinite(r["control_hz"]):
        print(
            f"control {r['control_hz']:.2f} Hz while recording (period p50 {r['period_p50_ms']:.1f} ms, "
            f"p99 {r['period_p99_ms']:.1f} ms)",
            file=stream,
            flush=True,
        )
    return 0
