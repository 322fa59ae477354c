"""Read and validate demo files.

:func:`validate` lists every problem in a file, one message each, naming the
demo and key; :func:`load_demos` validates and then loads the file into memory
(demo files are small), raising :class:`DemoFileError` naming the first problem.
A well-formed file whose observations are not the widths its task expects raises
:class:`DemoLayoutError` from both (:func:`check_task_layout`, which policies go
through too).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from robot_il.data import schema
from robot_il.data.writer import DemoFileError
from robot_il.tasks.base import task_observation_shapes

ARRAY_KEYS = ("actions", "rewards", "dones", "time_index")

DEMO_LAYOUT_FIX = (
    "the file was written for another observation layout: record the demos again for this task "
    "(`robot-il record`) or fix the program that wrote it"
)


class DemoLayoutError(DemoFileError):
    """Observations (in a demo file, or in the demos a policy learnt from) are not the widths their task expects."""


def check_task_layout(
    source: str, env_args: Mapping[str, Any], found: Iterable[tuple[str, str, tuple[int, ...]]], fix: str
) -> None:
    """Raise :class:`DemoLayoutError` at the first observation field whose row shape is not the task's.

    ``found`` holds (where, field, row shape) of stored data, e.g. ``("demo_0/obs", "joint_positions", (5,))``;
    ``env_args``' own ``obs_spec`` and ``obs_layout`` are checked after it. A file can be consistent with its own
    (wrong) declarations and still not fit the task's networks: this compares against the task itself.
    ``source`` names the file and ``fix`` says what to do.
    """
    env_name = env_args.get("env_name")
    # The arm's joint count: its recorded joint names (files of the first waves: the six-joint Jaco).
    expected = task_observation_shapes(env_name, len(env_args.get("joint_names") or ()) or 6)
    if expected is None:
        return
    spec, layout = env_args.get("obs_spec", {}), env_args.get("obs_layout", [])
    declared = [("its env_args obs_spec", k, tuple(v.get("shape", ()))) for k, v in spec.items()]
    declared += [("its env_args obs_layout", r["field"], (r["stop"] - r["start"],)) for r in layout]
    for where, name, shape in [*found, *declared]:
        want = expected.get(name)
        if want is not None and tuple(shape) != want:
            raise DemoLayoutError(
                f"{source}: {where} has {name} of {_width(tuple(shape))}, but the task {env_name} on its arm "
                f"({len(env_args.get('joint_names') or ()) or 6} joints) expects {_width(want)}; {fix}"
            )


def _width(row_shape: tuple[int, ...]) -> str:
    return f"width {row_shape[0]}" if len(row_shape) == 1 else f"row shape {row_shape}"


@dataclass
class Demo:
    """One demonstration, in memory. Rows of ``obs`` are states in time order."""

    name: str
    obs: dict[str, np.ndarray]
    time_index: np.ndarray
    """Step index of each row in the original episode (gaps in sparse demos)."""
    actions: np.ndarray | None = None
    next_obs: dict[str, np.ndarray] | None = None
    rewards: np.ndarray | None = None
    dones: np.ndarray | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def state_only(self) -> bool:
        return self.actions is None

    def __len__(self) -> int:
        return len(self.time_index)

    def states(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Every state the demo holds, in time order, with its step index.

        With actions this is ``obs`` plus the final ``next_obs`` (the state the last
        action reached); state-only demos hold all their states in ``obs``.
        """
        if self.next_obs is None:
            return self.obs, self.time_index
        states = {k: np.concatenate([v, self.next_obs[k][-1:]]) for k, v in self.obs.items()}
        return states, np.concatenate([self.time_index, self.time_index[-1:] + 1])


@dataclass
class DemoSet:
    path: Path
    env_args: dict[str, Any]
    demos: list[Demo]
    train: list[str]
    valid: list[str]

    @property
    def state_only(self) -> bool:
        return all(d.state_only for d in self.demos)

    def split(self, name: str) -> list[Demo]:
        names = set(self.train if name == "train" else self.valid)
        return [d for d in self.demos if d.name in names]

    def __len__(self) -> int:
        return len(self.demos)


def validate(path: str | Path) -> list[str]:
    """All schema violations in ``path``; an empty list means the file is valid.

    A file without violations whose observation widths are not its task's raises DemoLayoutError
    instead: every row would be wrong for one reason, which one line says.
    """
    path = Path(path)
    if path.is_dir():
        return [f"{path} is a directory, not an HDF5 demo file; pass the .h5 file itself"]
    if not path.is_file():
        return [f"{path}: file not found"]
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        return [f"{path}: not a readable HDF5 file (truncated or corrupted?): {err}"]
    problems: list[str] = []
    with f:
        try:
            _validate_open(f, problems)
            if not problems:
                data = f["data"]
                check_task_layout(str(path), json.loads(data.attrs["env_args"]), _row_shapes(data), DEMO_LAYOUT_FIX)
        except (OSError, KeyError, RuntimeError) as err:  # h5py raises these on damaged objects
            problems.append(f"damaged HDF5 object: {err}")
    return [f"{path}: {p}" for p in problems]


def _row_shapes(data: h5py.Group) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(demo_N/obs or demo_N/next_obs, key, row shape) of every observation dataset, in demo order."""
    for name in sorted((k for k in data if k.startswith("demo_")), key=schema.demo_index):
        for group_name in ("obs", "next_obs"):
            for key, ds in data[name].get(group_name, {}).items():
                yield f"{name}/{group_name}", key, ds.shape[1:]


def _validate_open(f: h5py.File, problems: list[str]) -> None:
    if "data" not in f:
        problems.append("missing group 'data'")
        return
    data = f["data"]
    env_args = _check_env_args(data, problems)
    demos = sorted((k for k in data if k.startswith("demo_")), key=schema.demo_index)
    for extra in sorted(set(data) - set(demos)):
        problems.append(f"data/{extra}: unexpected member (demos are named demo_N)")
    total = 0
    for name in demos:
        total += _check_demo(data[name], name, env_args, problems)
    if "total" not in data.attrs:
        problems.append("data: missing attribute 'total'")
    elif int(data.attrs["total"]) != total:
        problems.append(f"data: attribute total={int(data.attrs['total'])} but the demos hold {total} samples")
    if "mask" not in f:
        problems.append("missing group 'mask' (mask/train and mask/valid)")
        return
    for split in ("train", "valid"):
        if split not in f["mask"]:
            problems.append(f"mask/{split}: missing")
            continue
        for raw in f["mask"][split][()]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            if name not in demos:
                problems.append(f"mask/{split}: lists {name!r}, which is not in data")


def _check_env_args(data: h5py.Group, problems: list[str]) -> dict[str, Any] | None:
    if "env_args" not in data.attrs:
        problems.append("data: missing attribute 'env_args'")
        return None
    try:
        env_args = json.loads(data.attrs["env_args"])
    except (TypeError, ValueError) as err:
        problems.append(f"data: attribute env_args is not valid JSON: {err}")
        return None
    for key in ("env_name", "obs_spec", "action_dim"):
        if key not in env_args:
            problems.append(f"data: env_args has no {key!r}")
    return env_args


def _check_demo(g: h5py.Group, name: str, env_args: dict[str, Any] | None, problems: list[str]) -> int:
    if "num_samples" not in g.attrs:
        problems.append(f"{name}: missing attribute num_samples")
        n = None
    else:
        n = int(g.attrs["num_samples"])
    obs_spec = (env_args or {}).get("obs_spec", {})
    for group_name in ("obs", "next_obs"):
        if group_name not in g:
            if group_name == "obs":
                problems.append(f"{name}/obs: missing")
            continue
        grp = g[group_name]
        for key in obs_spec or schema.OBS_KEYS:
            if key not in grp:
                problems.append(f"{name}/{group_name}/{key}: missing")
                continue
            arr = grp[key][()]
            want = tuple(obs_spec.get(key, {}).get("shape", arr.shape[1:]))
            _check_array(arr, f"{name}/{group_name}/{key}", n, want, problems)
    if "actions" in g:
        adim = (env_args or {}).get("action_dim")
        _check_array(g["actions"][()], f"{name}/actions", n, None if adim is None else (adim,), problems)
        if "next_obs" not in g:
            problems.append(f"{name}/next_obs: missing (demos with actions store the state each action reached)")
    elif not bool(g.attrs.get("state_only", False)):
        problems.append(f"{name}/actions: missing, and the demo is not marked state_only")
    for key in ("rewards", "dones", "time_index"):
        if key not in g:
            problems.append(f"{name}/{key}: missing")
            continue
        arr = g[key][()]
        _check_array(arr, f"{name}/{key}", n, (), problems)
        if key == "time_index" and arr.ndim == 1 and len(arr) > 1 and np.any(np.diff(arr) <= 0):
            problems.append(f"{name}/time_index: not strictly increasing")
    return n or 0


def _check_array(arr: np.ndarray, where: str, n: int | None, row_shape: tuple | None, problems: list[str]) -> None:
    if n is not None and (arr.ndim == 0 or arr.shape[0] != n):
        rows = arr.shape[0] if arr.ndim else "no"
        problems.append(f"{where}: {rows} rows but num_samples is {n} (inconsistent lengths)")
    if row_shape is not None and arr.ndim >= 1 and tuple(arr.shape[1:]) != tuple(row_shape):
        problems.append(f"{where}: each row has shape {tuple(arr.shape[1:])}, expected {tuple(row_shape)}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        problems.append(f"{where}: NaN or inf at row {int(bad[0])}")


def load_demos(path: str | Path) -> DemoSet:
    """Validate and load a demo file; raises DemoFileError, one line naming the first problem."""
    problems = validate(path)
    if problems:
        more = f" (and {len(problems) - 1} more: `robot-il demos validate {path}` lists them)"
        raise DemoFileError(problems[0] + (more if len(problems) > 1 else ""))
    path = Path(path)
    with h5py.File(path, "r") as f:
        data = f["data"]
        env_args = json.loads(data.attrs["env_args"])
        demos = []
        for name in sorted((k for k in data if k.startswith("demo_")), key=schema.demo_index):
            g = data[name]
            demos.append(
                Demo(
                    name=name,
                    obs={k: v[()] for k, v in g["obs"].items()},
                    next_obs={k: v[()] for k, v in g["next_obs"].items()} if "next_obs" in g else None,
                    actions=g["actions"][()] if "actions" in g else None,
                    rewards=g["rewards"][()],
                    dones=g["dones"][()],
                    time_index=g["time_index"][()],
                    attrs={k: _plain(v) for k, v in g.attrs.items()},
                )
            )
        masks = {s: [n.decode() for n in f["mask"][s][()]] for s in ("train", "valid")}
    return DemoSet(path=path, env_args=env_args, demos=demos, train=masks["train"], valid=masks["valid"])


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value
