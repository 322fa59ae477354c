"""Closed configuration dataclasses, and the command line made from them.

Every config in robot-il is a frozen dataclass built with :func:`from_dict`,
which rejects unknown keys (a typo raises instead of being ignored) and calls
the dataclass's ``__post_init__`` so that bad values fail at construction,
naming the field.

:func:`add_config_flags` turns each field of such a dataclass into a command-line
flag (``beta_pi`` -> ``--beta-pi``) whose help is the docstring under the field;
:func:`build_config` layers a preset, a YAML file and the flags a user gave.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import math
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Mapping
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
    required = [
        f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    absent = [name for name in required if name not in kwargs]
    if absent:
        raise ConfigError(f"{prefix}{absent[0]}", f"required; {cls.__name__} has no default for it")
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if prefix and not err.field.startswith(prefix):
            raise ConfigError(prefix + err.field, str(err).split(": ", 1)[1]) from None
        raise


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping at the top of a YAML file; a missing file or bad YAML raises naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "config file not found; check the path")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(str(path), f"not valid YAML: {err}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(str(path), "expected a mapping of field names to values at the top level")
    return dict(data)


def load_yaml(cls: type[T], path: str | Path, base: T | None = None) -> T:
    """Load a config dataclass from a YAML file, over ``base`` (default: the dataclass's defaults).

    Errors name the file and the field (``run.yaml:lr``)."""
    data = read_yaml(path)
    try:
        return from_dict(cls, _merge(to_dict(base), data) if base is not None else data)
    except ConfigError as err:
        raise ConfigError(f"{path}:{err.field}", str(err).split(": ", 1)[1]) from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """The fields of a config dataclass as a mapping that :func:`from_dict` rebuilds it from."""
    return {
        f.name: to_dict(v) if dataclasses.is_dataclass(v := getattr(cfg, f.name)) else v
        for f in dataclasses.fields(cfg)
        if f.init
    }


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, recursing where both hold a mapping (a nested dataclass)."""
    out = dict(base)
    for key, value in top.items():
        below = out.get(key)
        out[key] = _merge(below, value) if isinstance(below, Mapping) and isinstance(value, Mapping) else value
    return out


def _is_tuple_hint(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_is_tuple_hint(a) for a in typing.get_args(hint))
    return origin is tuple


# The command line: one flag per field. ---------------------------------------------------------------

_DEST = "config:"
"""Namespace attributes of config flags start with this, so that they cannot collide with a verb's own."""


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (a string literal right after the annotation)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # defined where no source can be read
            continue
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, doc in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)
            ):
                docs[node.target.id] = " ".join(doc.value.value.split())
    return docs


def add_config_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    defaults: Any = None,
    prefix: str = "",
    aliases: Mapping[str, Iterable[str]] | None = None,
    exclude: Iterable[str] = (),
) -> None:
    """Add one flag per field of the dataclass ``cls`` to ``parser``.

    ``beta_pi`` becomes ``--{prefix}beta-pi``; a nested dataclass's fields become
    ``--{prefix}cell.control-rate-hz``. Bools are ``--flag/--no-flag``, tuples take
    several values, ``X | None`` also takes ``none``. The help is the field's
    docstring and its value in ``defaults`` (a preset; default: the dataclass's
    defaults). A flag the user does not give leaves no attribute in the namespace
    (argparse.SUPPRESS), so :func:`given_flags` sees only what was typed.
    ``aliases`` maps a field name to extra flags for it (``{"num_actors": ["--actors"]}``).
    """
    defaults = defaults if defaults is not None else cls()
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    aliases = aliases or {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name in exclude:
            continue
        hint, value = hints[f.name], getattr(defaults, f.name)
        flag = f"--{prefix}{f.name.replace('_', '-')}"
        if dataclasses.is_dataclass(hint):
            add_config_flags(parser, hint, defaults=value, prefix=flag[2:] + ".")
            continue
        spec = _flag_spec(cls, f.name, hint)
        doc = docs.get(f.name, "")
        shown = f"--{flag[2:] if value else 'no-' + flag[2:]}" if spec.get("action") else _show(value)
        help_text = f"{doc} (default: {shown})" if doc else f"default: {shown}"
        parser.add_argument(
            flag,
            *aliases.get(f.name, ()),
            dest=_DEST + prefix + f.name,
            default=argparse.SUPPRESS,
            help=help_text.replace("%", "%%"),
            **spec,
        )


def given_flags(cls: type, args: argparse.Namespace, *, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` given as flags (see :func:`add_config_flags`), nested as :func:`from_dict` takes them."""
    given: dict[str, Any] = {}
    seen = vars(args)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        dest = _DEST + prefix + f.name
        if dataclasses.is_dataclass(hints[f.name]):
            flag_name = f"{prefix}{f.name.replace('_', '-')}."
            if nested := given_flags(hints[f.name], args, prefix=flag_name):
                given[f.name] = nested
        elif dest in seen:
            given[f.name] = seen[dest]
    return given


def build_config(
    cls: type[T],
    *,
    preset: T | None = None,
    config_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
) -> T:
    """The config a command line asks for: ``preset`` <- the YAML ``config_file`` <- ``flags``.

    Each layer is closed and validated by the dataclass: an unknown key or a bad value
    raises :class:`ConfigError`, naming the file for the YAML's (``run.yaml:lr``)."""
    cfg = preset if preset is not None else cls()
    if config_file is not None:
        cfg = load_yaml(cls, config_file, base=cfg)
    if flags:
        cfg = from_dict(cls, _merge(to_dict(cfg), flags))
    return cfg


def _flag_spec(cls: type, name: str, hint: Any) -> dict[str, Any]:
    """argparse keywords (type, nargs, action, choices, metavar) for a field's type hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if hint in (int, float, str, Path):
        return {"type": hint, "metavar": hint.__name__.upper()}
    if origin is typing.Literal:
        return {"type": type(args[0]), "choices": args}
    if origin is tuple and args:
        item = args[0]
        if item not in (int, float, str) or any(a not in (item, Ellipsis) for a in args[1:]):
            raise TypeError(f"{cls.__name__}.{name}: no command-line flag for {hint}")
        nargs = "+" if len(args) == 2 and args[1] is Ellipsis else len(args)
        return {"type": item, "nargs": nargs, "metavar": item.__name__.upper()}
    if origin in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        inner = next(a for a in args if a is not type(None))
        if inner in (int, float, str):
            return {"type": _optional(inner), "metavar": f"{inner.__name__.upper()}|none"}
    raise TypeError(f"{cls.__name__}.{name}: no command-line flag for {hint}")


def _optional(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "null") else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")  # argparse names it in "invalid ... value"
    return parse


def _show(value: Any) -> str:
    """A default as one would type it on the command line."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return " ".join(map(str, value)) or "(empty)"
    if value == "":
        return "''"
    return str(value)


# Validation helpers used by the configs' ``validate`` methods.


def require_positive(field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(field, f"must be a positive finite number, got {value!r}")


def require_non_negative(field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
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
