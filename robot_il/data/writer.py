"""Crash-safe demo writer: each episode lands in the file whole, or not at all.

HDF5 is not journaled: a process killed in the middle of a write can leave a
file that no longer opens. So the writer never modifies the live file. For
each finished episode it copies the file, appends the episode to the copy,
flushes it to disk and renames it over the original (an atomic replace on
POSIX). A recorder killed at any moment leaves the last complete file; the
episode in progress is lost, earlier ones are intact. The copy costs time
proportional to the file (milliseconds for demo files of a few MB).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from robot_il.data import schema
from robot_il.errors import RobotILError
from robot_il.hal.base import Observation


class DemoFileError(RobotILError):
    """A demo file is missing, unreadable or does not follow the schema."""


class ArmMismatchError(DemoFileError):
    """Demos or a policy recorded on another arm (other joints) than the one at hand."""


def bare_joint_name(name: str) -> str:
    """A joint's name without a simulator's namespace (files of the first waves wrote ``jaco_arm/joint_1``)."""
    return name.rsplit("/", 1)[-1]


def check_arm(source: str, env_args: Mapping[str, Any], joint_names: Sequence[str], arm: str = "") -> None:
    """Refuse data (a demo file, a policy) recorded on another arm than the one at hand, naming ``source`` and
    both arms' joints: a policy's vector positions mean joints, and another arm's joints are other joints."""
    recorded = [bare_joint_name(n) for n in env_args.get("joint_names") or []]
    here = [bare_joint_name(n) for n in joint_names]
    if recorded and recorded != here:
        was = env_args.get("arm") or "an arm"
        now = arm or "this arm"
        raise ArmMismatchError(
            f"{source}: recorded on {was} with joints {recorded} ({len(recorded)}); {now} has joints {here} "
            f"({len(here)}). Use data from this arm: record demos on it, or train a policy from them"
        )


@dataclass
class EpisodeBuffer:
    """States (and actions, when known) of one episode, kept in memory until it ends."""

    states: list[Observation] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)

    def add(self, obs: Observation, action: np.ndarray | None = None) -> None:
        """Record a state and, for teleop or expert demos, the action applied from it."""
        self.states.append(obs)
        if action is not None:
            self.actions.append(np.asarray(action, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.states)


class DemoWriter:
    """Append episodes to a demo file, atomically per episode.

    ``env_args`` describes the env (see :func:`schema.make_env_args`); on an
    existing file it must match the file's, so one file never mixes tasks.
    """

    def __init__(self, path: str | Path, env_args: Mapping[str, Any], state_only: bool = False) -> None:
        self.path = Path(path)
        self.env_args = dict(env_args)
        self.state_only = state_only
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        if self.path.exists():
            self._check_compatible()
        else:
            self._create()

    def _create(self) -> None:
        tmp = self._tmp_path()
        create_file(tmp, self.env_args, self.state_only)
        commit(tmp, self.path)

    def _check_compatible(self) -> None:
        try:
            with h5py.File(self.path, "r") as f:
                existing = f["data"].attrs["env_args"]
                state_only = bool(f["data"].attrs.get("state_only", False))
        except (OSError, KeyError) as err:
            raise DemoFileError(
                f"{self.path}: exists but is not a robot-il demo file ({err}); choose another output path"
            ) from None
        here = self.env_args
        check_arm(str(self.path), json.loads(existing), here.get("joint_names", []), here.get("arm", ""))
        if existing != schema.dumps(self.env_args):
            raise DemoFileError(
                f"{self.path}: holds demos of a different env configuration; write to a new file "
                "(one file never mixes tasks or settings)"
            )
        if state_only != self.state_only:
            kind = "state-only" if state_only else "with actions"
            raise DemoFileError(f"{self.path}: holds demos {kind}; write the other kind to a new file")

    @property
    def num_demos(self) -> int:
        with h5py.File(self.path, "r") as f:
            return sum(1 for k in f["data"] if k.startswith("demo_"))

    def write_episode(
        self,
        episode: EpisodeBuffer,
        *,
        terminated: bool,
        rewards: np.ndarray | None = None,
        attrs: Mapping[str, Any] | None = None,
        extras: Mapping[str, np.ndarray] | None = None,
    ) -> str:
        """Append a finished episode; returns its demo name.

        With actions (teleop, expert): ``len(states) == len(actions) + 1``, the last
        state being the one reached by the last action. State-only: any number of states.
        ``extras`` are further per-row datasets stored in the demo group (deploy logs keep
        the requested commands and the safety interventions there).
        """
        n_states = len(episode.states)
        if n_states == 0:
            raise ValueError("cannot write an empty episode")
        if self.state_only:
            if episode.actions:
                raise ValueError("this writer is state-only; record states without actions")
            obs_rows, next_rows, actions = episode.states, None, None
        else:
            if len(episode.actions) != n_states - 1 or n_states < 2:
                raise ValueError(
                    f"an episode with actions needs one more state than actions, got {n_states} states "
                    f"and {len(episode.actions)} actions"
                )
            obs_rows, next_rows = episode.states[:-1], episode.states[1:]
            actions = np.stack(episode.actions)
        n = len(obs_rows)
        rew = np.zeros(n) if rewards is None else np.asarray(rewards, dtype=np.float64)
        if rew.shape != (n,):
            raise ValueError(f"rewards have shape {rew.shape}, expected ({n},)")
        dones = np.zeros(n, dtype=np.int64)
        dones[-1] = int(terminated)

        tmp = self._tmp_path()
        shutil.copyfile(self.path, tmp)
        with h5py.File(tmp, "a") as f:
            name = schema.demo_name(_next_index(f["data"]))
            write_demo(
                f,
                name,
                obs=_stack_states(obs_rows),
                next_obs=None if next_rows is None else _stack_states(next_rows),
                actions=actions,
                rewards=rew,
                dones=dones,
                time_index=np.arange(n, dtype=np.int64),
                attrs={"sparsity": "full", **(attrs or {})},
            )
            for key, values in (extras or {}).items():
                if len(values) != n:
                    raise ValueError(f"extra dataset {key!r} has {len(values)} rows, the episode {n}")
                f["data"][name].create_dataset(key, data=values)
        commit(tmp, self.path)
        return name

    def _remove_stale_temporaries(self) -> None:
        """Delete half-written copies left by writers that were killed (their process is gone)."""
        for tmp in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            pid = tmp.name[len(self.path.name) + 2 : -len(".tmp")]
            if pid.isdigit() and not _alive(int(pid)):
                tmp.unlink(missing_ok=True)

    def _tmp_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _next_index(data: h5py.Group) -> int:
    names = [k for k in data if k.startswith("demo_")]
    return 1 + max((schema.demo_index(k) for k in names), default=-1)


def _stack_states(rows: list[Observation]) -> dict[str, np.ndarray]:
    return {key: np.stack([np.asarray(getattr(o, key), dtype=np.float64) for o in rows]) for key in schema.OBS_KEYS}


def write_demo(
    f: h5py.File,
    name: str,
    *,
    obs: Mapping[str, np.ndarray],
    next_obs: Mapping[str, np.ndarray] | None,
    actions: np.ndarray | None,
    rewards: np.ndarray,
    dones: np.ndarray,
    time_index: np.ndarray,
    attrs: Mapping[str, Any],
) -> None:
    """Add one demo group, update ``data.attrs["total"]`` and the train/valid masks."""
    data = f["data"]
    g = data.create_group(name)
    for group_name, values in (("obs", obs), ("next_obs", next_obs)):
        if values is not None:
            grp = g.create_group(group_name)
            for key, arr in values.items():
                grp.create_dataset(key, data=arr)
    if actions is not None:
        g.create_dataset("actions", data=actions)
    g.create_dataset("rewards", data=rewards)
    g.create_dataset("dones", data=dones)
    g.create_dataset("time_index", data=time_index)
    n = len(time_index)
    g.attrs["num_samples"] = n
    g.attrs["state_only"] = actions is None
    for key, value in attrs.items():
        g.attrs[key] = value
    data.attrs["total"] = int(data.attrs["total"]) + n
    index = schema.demo_index(name)
    split = "valid" if index % schema.VALID_EVERY == schema.VALID_EVERY - 1 else "train"
    ds = f["mask"][split]
    ds.resize((ds.shape[0] + 1,))
    ds[-1] = name.encode()


def create_file(path: Path, env_args: Mapping[str, Any], state_only: bool) -> None:
    """An empty demo file (the ``data`` group, its attrs and empty masks) at ``path``."""
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = 0
        data.attrs["env_args"] = schema.dumps(env_args)
        data.attrs["state_only"] = state_only
        data.attrs["robot_il_schema"] = schema.SCHEMA_VERSION
        mask = f.create_group("mask")
        for split in ("train", "valid"):
            mask.create_dataset(split, data=np.array([], dtype="S16"), maxshape=(None,))


def commit(tmp: Path, path: Path) -> None:
    """Flush ``tmp`` to disk and rename it over ``path`` (atomic on POSIX)."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
