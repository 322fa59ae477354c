"""Typed ROS 2 parameters for a node that reads them once at start, checked, with one-line errors.

rclpy gives a parameter the type of its default and refuses any other: ``-p rate:=20`` (an integer) stops a
node whose ``rate`` defaults to ``20.0`` with a traceback, and an empty-list default becomes a byte array that
no YAML list of numbers matches. :func:`declare` takes what the user wrote (a ``dynamic_typing`` declaration),
converts it to the parameter's type (an integer where a double is expected, integers where doubles are),
checks it, and declares the parameter again with its type and read-only, so that ``ros2 param describe``
tells the truth and a ``ros2 param set`` that the started node would never read is refused. A value it
cannot use raises :class:`ParameterError`, whose message names the parameter and what to give; the node logs
that one line and exits with status 2. :func:`init` does the same for arguments rcl cannot parse.

    PARAMS = (Param("rate", 20.0, "Hz", positive=True), Param("names", ["a"], "joints", length=1))
    try:
        init(argv)
    except ParameterError as err: ...                   # print it, exit 2
    node = Node("name")
    try:
        p = declare(node, PARAMS)                       # {"rate": 20.0, "names": ["a"]}
    except ParameterError as err: ...                   # log it, exit 2

The pan-tilt driver package does not depend on robot-il, so it carries a copy of this module
(``robot_il_pan_tilt/params.py``); tests/test_node_parameters.py keeps the two identical. rclpy is imported
inside the functions: ``--help`` and the tests of the parameter lists need no ROS.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

TYPES = ("bool", "integer", "double", "string", "topic", "double_array", "string_array")
"""A parameter's type; ``topic`` is a string that must be a valid ROS topic (or node) name."""


class ParameterError(ValueError):
    """A parameter value the node cannot start with; the message names the parameter and what to give."""


@dataclass(frozen=True)
class Param:
    """One parameter: its name, default, meaning (with its unit), type and bounds."""

    name: str
    default: Any
    description: str
    type: str = ""
    """One of :data:`TYPES`; empty: the default's (a list default must name its type)."""
    positive: bool = False
    """Numbers (each element of an array) must be > 0."""
    minimum: float | None = None
    """Numbers (each element of an array) must be >= this."""
    length: int | None = None
    """Arrays must have exactly this many elements."""
    choices: tuple[Any, ...] = ()
    """The value must be one of these."""

    @property
    def kind(self) -> str:
        if self.type:
            if self.type not in TYPES:
                raise ValueError(f"parameter {self.name}: unknown type {self.type!r}, expected one of {TYPES}")
            return self.type
        if isinstance(self.default, bool):
            return "bool"
        if isinstance(self.default, int):
            return "integer"
        if isinstance(self.default, float):
            return "double"
        if isinstance(self.default, str):
            return "string"
        if isinstance(self.default, list) and self.default and all(isinstance(x, str) for x in self.default):
            return "string_array"
        if isinstance(self.default, list) and self.default and all(isinstance(x, float) for x in self.default):
            return "double_array"
        raise ValueError(f"parameter {self.name}: give its type; the default {self.default!r} does not tell it")

    def convert(self, value: Any) -> Any:
        """``value`` as given (None: not given, the default) in this parameter's type, checked."""
        kind = self.kind
        if value is None:
            value = self.default
        if kind.endswith("_array"):
            if isinstance(value, str | bytes) or not isinstance(value, Sequence):
                raise self._error(value, f"must be a list of {kind.removesuffix('_array')}s")
            value = [self._scalar(kind.removesuffix("_array"), x, value) for x in value]
            if self.length is not None and len(value) != self.length:
                raise self._error(value, f"must have {self.length} elements, not {len(value)}")
        else:
            value = self._scalar(kind, value, value)
        if self.choices and value not in self.choices:
            raise self._error(value, f"must be one of {', '.join(map(repr, self.choices))}")
        return value

    def _scalar(self, kind: str, x: Any, whole: Any) -> Any:
        if kind in ("double", "integer"):
            if isinstance(x, bool) or not isinstance(x, int | float) or (kind == "integer" and isinstance(x, float)):
                raise self._error(whole, f"must be {'an integer' if kind == 'integer' else 'a number'}")
            x = float(x) if kind == "double" else x
            if not math.isfinite(x):
                raise self._error(whole, "must be finite")
            if self.positive and not x > 0:
                raise self._error(whole, "must be positive")
            if self.minimum is not None and not x >= self.minimum:
                raise self._error(whole, f"must be at least {self.minimum:g}")
            return x
        if kind == "bool":
            if not isinstance(x, bool):
                raise self._error(whole, "must be true or false")
            return x
        if not isinstance(x, str):
            raise self._error(whole, "must be a string (quote it)")
        if kind == "topic":
            from rclpy.exceptions import InvalidTopicNameException
            from rclpy.validate_topic_name import validate_topic_name

            try:
                validate_topic_name(x)
            except InvalidTopicNameException as err:
                reason = str(err).splitlines()[0].removeprefix("Invalid topic name: ").rstrip(":")
                raise self._error(whole, f"is not a valid ROS name: {reason}") from None
        return x

    def _error(self, value: Any, what: str) -> ParameterError:
        return ParameterError(f"parameter {self.name}:={value!r} {what}; {self.name}: {self.description}")


def declare(node: Any, params: Iterable[Param]) -> dict[str, Any]:
    """Declare ``params`` on ``node`` (an rclpy Node) from its overrides (``-p``, ``--params-file``), each
    converted and checked, then re-declared read-only with its type; returns {name: value}."""
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.parameter import Parameter

    empty = {"double_array": Parameter.Type.DOUBLE_ARRAY, "string_array": Parameter.Type.STRING_ARRAY}
    values = {}
    for param in params:
        given = node.declare_parameter(param.name, None, ParameterDescriptor(dynamic_typing=True)).value
        value = values[param.name] = param.convert(given)
        node.undeclare_parameter(param.name)
        descriptor = ParameterDescriptor(description=param.description, read_only=True)
        # rclpy types an empty list as a byte array: an empty array is declared by its type (and not set).
        node.declare_parameter(
            param.name, empty[param.kind] if value == [] else value, descriptor, ignore_override=True
        )
    return values


def init(argv: list[str], signal_handler_options: Any = None) -> None:
    """``rclpy.init(args=argv)``; arguments rcl cannot parse (a missing or malformed ``--params-file``, a list
    of mixed types) raise :class:`ParameterError` with rcl's reason on one line. ``signal_handler_options``:
    rclpy's (``SignalHandlerOptions.NO`` for a node that handles SIGINT and SIGTERM itself)."""
    import rclpy
    from rclpy.impl.implementation_singleton import rclpy_implementation

    try:
        rclpy.init(args=argv, signal_handler_options=signal_handler_options)
    except rclpy_implementation.RCLError as err:
        reason = re.sub(r",? at [^,]*\.c:\d+", "", " ".join(str(err).split()))
        raise ParameterError(f"{reason}; check the --ros-args") from None
