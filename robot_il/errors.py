"""Errors a user can hit. Each names the file, field or port and what to do."""

from __future__ import annotations


class RobotILError(Exception):
    """Base class for errors raised by robot-il."""


class ConfigError(RobotILError, ValueError):
    """A configuration value is missing, unknown or out of range.

    ``field`` is the dotted name of the offending field (``"sim.control_rate_hz"``)
    so that a message can be traced to the line of the YAML file or the keyword
    argument that caused it.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class NotConnectedError(RobotILError, RuntimeError):
    """A backend method that needs a live connection was called before ``connect()``."""


class StaleStateError(RobotILError):
    """A backend's state stream has gone quiet: the state is too old to act on, so motion is refused."""


class EStopError(RobotILError):
    """An e-stop (or a latched command gate) ended the run: nothing moves until a person releases it."""

    exit_code = 4


class OperatorNeeded(RobotILError):
    """The run cannot go on without a person (a safe reset the filter blocked); progress is kept."""

    exit_code = 3
