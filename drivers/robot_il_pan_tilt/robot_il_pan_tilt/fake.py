"""A fake PTU on a pseudo-terminal: the lowest layer, speaking the real protocol.

The driver opens ``fake.port`` with pyserial as it would open /dev/ttyUSB0. Faults
can be switched on to test the driver's error paths: garbled replies, silence,
an unplugged port, firmware that refuses the speed-limit queries. Used by the
tests and handy for trying the node without hardware.
"""

from __future__ import annotations

import os
import pty
import select
import threading
import tty


class FakePTU:
    def __init__(
        self,
        echo: bool = True,
        resolution: float = 185.1428,
        pan_limits: tuple[int, int] = (-3090, 3090),
        tilt_limits: tuple[int, int] = (-907, 604),
        pan_speed_limits: tuple[int, int] = (57, 2902),
        tilt_speed_limits: tuple[int, int] = (57, 1500),
        answers_speed_limits: bool = True,
    ) -> None:
        """Limits in counts and speed limits in counts/s (a PTU-D46's factory settings, roughly).
        ``answers_speed_limits=False``: the speed-limit queries (PL, PU, TL, TU) are refused with
        ``! Illegal command``, as by firmware without them; the unit still refuses speeds outside its limits."""
        self.echo = echo
        self.answers_speed_limits = answers_speed_limits
        self.resolution = resolution
        self.limits = {"P": pan_limits, "T": tilt_limits}
        self.speed_limits = {"P": pan_speed_limits, "T": tilt_speed_limits}
        self.position = {"P": 0, "T": 0}
        self.speed = {"P": 1000, "T": 1000}
        self.terse = False
        self.garble = False
        self.silent = False
        self.received: list[str] = []
        self._master, slave = pty.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fake-ptu")
        self._thread.start()

    def unplug(self) -> None:
        """Close the device end, as pulling the USB adapter does."""
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    close = unplug

    def send_async(self, text: str) -> None:
        """An unsolicited line from the unit, e.g. ``!P`` on a pan limit hit."""
        os.write(self._master, text.encode() + b"\r\n")

    def _serve(self) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 256)
            except OSError:
                return
            for byte in data:
                if bytes([byte]) in (b" ", b"\r", b"\n"):
                    if buf:
                        self._handle(buf.decode("ascii", "replace"))
                    buf = b""
                else:
                    buf += bytes([byte])

    def _handle(self, cmd: str) -> None:
        self.received.append(cmd)
        if self.silent:
            return
        reply = self._reply(cmd.upper())
        if self.garble:
            reply = "\x8f\x13#garbage"
        out = (cmd + " " if self.echo else "") + reply + "\r\n"
        os.write(self._master, out.encode("latin-1"))

    def _reply(self, cmd: str) -> str:
        if cmd == "FT":
            self.terse = True
            return "*"
        if cmd == "FV":
            self.terse = False
            return "*"
        if cmd == "ED":
            self.echo = False
            return "*"
        if cmd == "EE":
            self.echo = True
            return "*"
        if cmd in ("A", "R"):
            return "*"
        axis, op, arg = cmd[:1], cmd[1:2], cmd[2:]
        if axis not in "PT" or not op:
            return "! Illegal command"
        lo, hi = self.limits[axis]
        if op == "R" and not arg:
            return f"* {self.resolution}"
        if op == "N" and not arg:
            return f"* {lo}"
        if op == "X" and not arg:
            return f"* {hi}"
        if op == "P":
            if not arg:
                return f"* {self.position[axis]}"
            try:
                target = int(arg)
            except ValueError:
                return "! Illegal argument"
            if not lo <= target <= hi:
                return f"! {'Pan' if axis == 'P' else 'Tilt'} position out of range"
            self.position[axis] = target
            return "*"
        slow, fast = self.speed_limits[axis]
        if op in "LU" and not arg and not self.answers_speed_limits:
            return "! Illegal command"
        if op == "L" and not arg:
            return f"* {slow}"
        if op == "U" and not arg:
            return f"* {fast}"
        if op == "S":
            if not arg:
                return f"* {self.speed[axis]}"
            try:
                speed = int(arg)
            except ValueError:
                return "! Illegal argument"
            if not slow <= speed <= fast:  # as the real unit: a refused speed leaves the axis' speed as it was
                return f"! {'Pan' if axis == 'P' else 'Tilt'} speed out of range"
            self.speed[axis] = speed
            return "*"
        return "! Illegal command"
