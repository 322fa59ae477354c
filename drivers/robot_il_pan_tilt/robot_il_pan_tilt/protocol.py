"""The FLIR / Directed Perception PTU ASCII protocol over pyserial. No ROS import here.

Commands are ``<cmd><param>`` followed by a delimiter; the unit answers ``*``
(done), ``* <value>`` (a query's answer) or ``! <message>`` (refused), one line
each, possibly preceded by the echo of the command when echo is on. ``!P`` and
``!T`` may arrive on their own when an axis hits a limit. Positions are counts
of ``resolution`` arc-seconds; this module speaks radians and converts.

>>> with PanTiltUnit("/dev/ttyUSB0") as ptu:      # terse feedback, echo off, resolution and limits read
...     ptu.set_speed(0.5, 0.3)                     # rad/s; outside the speed limits raises before sending
...     ptu.move_to(0.2, -0.1)                      # rad; outside the limits raises before sending
...     ptu.position()                              # (pan, tilt) in rad
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

ARCSEC_TO_RAD = math.pi / (180.0 * 3600.0)
DELIMITER = b" "


class PTUError(RuntimeError):
    """The unit refused a command, answered garbage, did not answer, or the port is gone."""


class PTULimitError(PTUError, ValueError):
    """A requested position or speed is outside the unit's limits; nothing was sent."""


class PTURefused(PTUError):
    """The unit answered ``! <message>``: it refused the command (or does not know it)."""


FALLBACK_SPEED_RANGE_RAD = (0.1, 1.0)
"""Slowest and fastest slew speed (rad/s) assumed for a unit that does not answer the speed-limit queries
(PL/PU, TL/TU; older firmware): well inside a PTU-D46's factory limits, 57 to 2902 (pan) and 1500 (tilt)
counts/s of 185.1428 arc-seconds, so that a speed passing the check is one a unit at factory settings accepts."""


@dataclass(frozen=True)
class AxisLimits:
    """One axis as the unit reports it: position limits (counts), resolution (arc-seconds per count) and
    speed limits (counts/s; the unit refuses a speed outside them; assumed when the unit does not say)."""

    min_counts: int
    max_counts: int
    resolution_arcsec: float
    min_speed_counts: int
    max_speed_counts: int

    def to_rad(self, counts: float) -> float:
        return counts * self.resolution_arcsec * ARCSEC_TO_RAD

    def to_counts(self, radians: float) -> int:
        return round(radians / (self.resolution_arcsec * ARCSEC_TO_RAD))

    @property
    def range_rad(self) -> tuple[float, float]:
        return self.to_rad(self.min_counts), self.to_rad(self.max_counts)

    @property
    def speed_range_rad(self) -> tuple[float, float]:
        """Slowest and fastest slew speed, rad/s."""
        return self.to_rad(self.min_speed_counts), self.to_rad(self.max_speed_counts)


class PanTiltUnit:
    """One pan-tilt unit on a serial port (9600 8N1 by default)."""

    def __init__(self, port: str, baudrate: int = 9600, timeout: float = 0.5, serial_factory=None) -> None:
        self.port, self.baudrate, self.timeout = port, baudrate, timeout
        self._factory = serial_factory
        self._serial = None
        self.pan: AxisLimits | None = None
        self.tilt: AxisLimits | None = None
        self.limit_hits: list[str] = []
        self.warnings: list[str] = []
        """What :meth:`open` had to assume (speed limits the unit did not report); the node logs them."""

    # Connection ---------------------------------------------------------------------------------

    def open(self) -> None:
        import serial

        factory = self._factory or serial.Serial
        try:
            self._serial = factory(self.port, self.baudrate, timeout=self.timeout, write_timeout=self.timeout)
        except (OSError, serial.SerialException) as err:
            raise PTUError(
                f"cannot open pan-tilt port {self.port}: {err}; check the device path and permissions"
            ) from None
        self._serial.reset_input_buffer()
        self.command("FT")  # terse feedback
        self.command("ED")  # echo off (replies may still carry an echo until this lands)
        self.pan, self.tilt = self._read_axis("P"), self._read_axis("T")
        for name, axis in (("pan", self.pan), ("tilt", self.tilt)):
            if (
                not axis.min_counts < axis.max_counts
                or not axis.resolution_arcsec > 0
                or not 0 <= axis.min_speed_counts <= axis.max_speed_counts
                or not axis.max_speed_counts > 0
            ):
                raise PTUError(f"{self.port}: the unit reported nonsense {name} limits or resolution: {axis}")

    def _read_axis(self, axis: str) -> AxisLimits:
        """Position limits (N, X), resolution (R) and the lower and upper speed limits (L, U) of ``axis``.

        A unit that refuses the speed-limit queries gets :data:`FALLBACK_SPEED_RANGE_RAD`, with a warning:
        the speed check then errs on the slow side rather than refusing the unit."""
        q = self._query_int
        low, high, resolution = q(f"{axis}N"), q(f"{axis}X"), self._query_float(f"{axis}R")
        try:
            slow, fast = q(f"{axis}L"), q(f"{axis}U")
        except PTURefused as err:
            # (a resolution that is not positive gives no speeds; open() refuses it)
            lo, hi = (r / (resolution * ARCSEC_TO_RAD) if resolution > 0 else 0.0 for r in FALLBACK_SPEED_RANGE_RAD)
            slow, fast = math.ceil(lo), math.floor(hi)
            self.warnings.append(
                f"{err}: the unit does not report its {'pan' if axis == 'P' else 'tilt'} speed limits; "
                f"assuming {FALLBACK_SPEED_RANGE_RAD[0]:g} to {FALLBACK_SPEED_RANGE_RAD[1]:g} rad/s"
            )
        return AxisLimits(low, high, resolution, slow, fast)

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # Motion, in radians -------------------------------------------------------------------------

    @property
    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        self._require_open()
        return self.pan.range_rad, self.tilt.range_rad

    def move_to(self, pan: float, tilt: float) -> None:
        """Absolute move (rad). Checked against the unit's limits before anything is sent."""
        self._require_open()
        counts = {}
        for name, axis, value in (("pan", self.pan, pan), ("tilt", self.tilt, tilt)):
            if not math.isfinite(value):
                raise PTULimitError(f"{name} target {value!r} is not a finite angle")
            c = axis.to_counts(value)
            if not axis.min_counts <= c <= axis.max_counts:
                lo, hi = axis.range_rad
                raise PTULimitError(
                    f"{name} target {value:.4f} rad is outside the unit's range [{lo:.4f}, {hi:.4f}] rad"
                )
            counts[name] = c
        self.command(f"PP{counts['pan']}")
        self.command(f"TP{counts['tilt']}")

    def set_speed(self, pan_speed: float, tilt_speed: float) -> None:
        """Slew speeds, rad/s (positive). Both are checked against the unit's speed limits before either is
        sent, so a refused tilt speed never leaves the pan speed changed."""
        self._require_open()
        counts = {}
        for name, axis, value in (("pan", self.pan, pan_speed), ("tilt", self.tilt, tilt_speed)):
            if not (math.isfinite(value) and value > 0):
                raise PTULimitError(f"{name} speed {value!r} rad/s must be positive and finite")
            c = max(1, axis.to_counts(value))
            if not axis.min_speed_counts <= c <= axis.max_speed_counts:
                lo, hi = axis.speed_range_rad
                raise PTULimitError(
                    f"{name} speed {value:.4f} rad/s is outside the unit's range [{lo:.4f}, {hi:.4f}] rad/s"
                )
            counts[name] = c
        self.command(f"PS{counts['pan']}")
        self.command(f"TS{counts['tilt']}")

    def position(self) -> tuple[float, float]:
        """Measured (pan, tilt), rad."""
        self._require_open()
        return self.pan.to_rad(self._query_int("PP")), self.tilt.to_rad(self._query_int("TP"))

    def await_completion(self) -> None:
        self.command("A", timeout=30.0)

    # The wire -----------------------------------------------------------------------------------

    def command(self, cmd: str, timeout: float | None = None) -> str:
        """Send one command; return the value of its ``*`` reply ('' when none). ``!`` replies raise."""
        if self._serial is None:
            raise PTUError(f"pan-tilt on {self.port} is not open")
        try:
            self._serial.write(cmd.encode("ascii") + DELIMITER)
        except Exception as err:  # pyserial raises SerialException, OSError or its timeout type
            raise PTUError(f"writing {cmd!r} to the pan-tilt on {self.port} failed: {err}; is it unplugged?") from None
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            line = self._readline(cmd, deadline)
            if line in ("!P", "!T"):  # asynchronous limit hit, not the answer to this command
                self.limit_hits.append(line)
                continue
            if line.upper().startswith(cmd.upper()):  # echo of the command (echo on)
                line = line[len(cmd) :].strip()
                if not line:
                    continue
            if line.startswith("*"):
                return line[1:].strip()
            if line.startswith("!"):
                raise PTURefused(f"pan-tilt on {self.port} refused {cmd!r}: {line[1:].strip() or 'no reason given'}")
            raise PTUError(f"pan-tilt on {self.port} answered {cmd!r} with garbage {line!r}; check the baud rate")

    def _readline(self, cmd: str, deadline: float) -> str:
        buf = bytearray()
        while True:
            if time.monotonic() > deadline:
                got = f" (partial {bytes(buf)!r})" if buf else ""
                raise PTUError(f"no reply from the pan-tilt on {self.port} to {cmd!r}{got}; check power and cable")
            try:
                chunk = self._serial.read(1)
            except Exception as err:
                raise PTUError(f"reading from the pan-tilt on {self.port} failed: {err}; is it unplugged?") from None
            if not chunk:
                continue
            if chunk in (b"\r", b"\n"):
                if buf:
                    try:
                        return buf.decode("ascii").strip()
                    except UnicodeDecodeError:
                        raise PTUError(
                            f"pan-tilt on {self.port} answered {cmd!r} with garbage {bytes(buf)!r}; check the baud rate"
                        ) from None
                continue
            buf += chunk

    def _query_int(self, cmd: str) -> int:
        value = self.command(cmd)
        try:
            return int(value.split()[-1])
        except (ValueError, IndexError):
            raise PTUError(f"pan-tilt on {self.port} answered {cmd!r} with {value!r}, not a number") from None

    def _query_float(self, cmd: str) -> float:
        value = self.command(cmd)
        try:
            return float(value.split()[-1])
        except (ValueError, IndexError):
            raise PTUError(f"pan-tilt on {self.port} answered {cmd!r} with {value!r}, not a number") from None

    def _require_open(self) -> None:
        if self.pan is None or self._serial is None:
            raise PTUError(f"pan-tilt on {self.port} is not open; call open() or use it in a `with` block")
