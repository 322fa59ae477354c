"""Closed configuration dataclasses.

Every config in robot-il is a frozen dataclass built with :func:`from_dict`,
which rejects unknown keys (a typo raises instead of being ignored) and calls
the dataclass's ``validate()`` so that bad values fail at construction, naming
the field.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from robot_il.errors import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], data: Mapping[str, Any] | None, prefix: str = "") -> T:
    """Build the dataclass ``cls`` from a mapping, recursing into nested dataclasses.

    Unknown keys raise :class:`ConfigError` naming the key and listing the valid ones.
    Tuples given as lists (as YAML writes them) are converted.
    """
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}",
            f"unknown field; valid fields of {cls.__name__} are: {', '.join(sorted(fields))}",
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            value = from_dict(hint, value, prefix=f"{prefix}{name}.")
        elif _is_tuple_hint(hint) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if prefix and not err.field.startswith(prefix):
            raise ConfigError(prefix + err.field, str(err).split(": ", 1)[1]) from None
        raise


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Load a config dataclass from a YAML file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "config file not found; check the path")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(str(path), f"not valid YAML: {err}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(str(path), "expected a mapping of field names to values at the top level")
    try:
        return from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"{path}:{err.field}", str(err).split(": ", 1)[1]) from None


def _is_tuple_hint(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_is_tuple_hint(a) for a in typing.get_args(hint))
    return origin is tuple


# Validation helpers used by the configs' ``validate`` methods.


def require_positive(field: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(field, f"must be a positive finite number, got {value!r}")


def require_non_negative(field: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(field, f"must be a non-negative finite number, got {value!r}")


def require_range(field: str, value: tuple[float, float]) -> None:
    """A closed interval ``(low, high)`` with ``low <= high``; zero width is allowed."""
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
    ):
        raise ConfigError(field, f"must be a pair of finite numbers (low, high), got {value!r}")
    if value[0] > value[1]:
        raise ConfigError(field, f"inverted range: low {value[0]} is above high {value[1]}")


def require_box(field: str, low: tuple[float, ...], high: tuple[float, ...], dim: int) -> None:
    for name, v in (("low", low), ("high", high)):
        if len(v) != dim or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in v):
            raise ConfigError(f"{field}_{name}", f"must be {dim} finite numbers, got {v!r}")
    for i, (lo, hi) in enumerate(zip(low, high, strict=True)):
        if lo >= hi:
            raise ConfigError(field, f"inverted or empty box on axis {i}: low {lo} >= high {hi}")
