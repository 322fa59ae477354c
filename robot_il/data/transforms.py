"""Derived demo files: sparse demos and state-only copies. The source file is never modified."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from robot_il.data import schema
from robot_il.data.reader import load_demos
from robot_il.data.writer import commit, create_file, write_demo


def sparsify(src: str | Path, dst: str | Path, every: int | None = None, final_only: bool = False) -> Path:
    """Keep every ``every``-th state (always including the last) or only the final state.

    The result is state-only (consecutive states no longer pair with actions)
    and each kept state carries its original step index in ``time_index``.
    """
    if (every is None) == (not final_only):
        raise ValueError("give exactly one of every=K or final_only=True")
    if every is not None and every < 1:
        raise ValueError(f"every must be >= 1, got {every}")

    def keep(n: int) -> np.ndarray:
        if final_only:
            return np.array([n - 1])
        idx = np.arange(0, n, every)
        return idx if idx[-1] == n - 1 else np.append(idx, n - 1)

    label = "final_only" if final_only else f"every_{every}"
    return _rewrite(src, dst, keep, label)


def strip_actions(src: str | Path, dst: str | Path) -> Path:
    """A state-only copy: all states of each demo, no actions (as kinesthetic teaching gives)."""
    return _rewrite(src, dst, lambda n: np.arange(n), None)


def _rewrite(src: str | Path, dst: str | Path, keep, sparsity: str | None) -> Path:
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"{dst}: output must differ from the input file")
    demos = load_demos(src)
    env_args = dict(demos.env_args)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")  # processes deriving one file at once do not mix
    dst.parent.mkdir(parents=True, exist_ok=True)
    create_file(tmp, env_args, state_only=True)
    with h5py.File(tmp, "a") as f:
        for demo in demos.demos:
            states, times = demo.states()
            rows = keep(len(times))
            final_done = int(demo.dones[-1]) if demo.dones is not None and len(demo.dones) else 0
            dones = np.zeros(len(rows), dtype=np.int64)
            dones[-1] = final_done
            attrs = {k: v for k, v in demo.attrs.items() if k not in ("num_samples", "state_only")}
            attrs["sparsity"] = sparsity or str(demo.attrs.get("sparsity", "full"))
            attrs["derived_from"] = f"{src.name}:{demo.name}"
            write_demo(
                f,
                demo.name,
                obs={k: v[rows] for k, v in states.items()},
                next_obs=None,
                actions=None,
                rewards=np.zeros(len(rows)),
                dones=dones,
                time_index=times[rows].astype(np.int64),
                attrs=attrs,
            )
        f["data"].attrs["derived"] = json.dumps({"from": str(src), "sparsity": sparsity or "state_only"})
    commit(tmp, dst)
    return dst


def summary(path: str | Path) -> dict:
    """What `robot-il demos info` prints."""
    demos = load_demos(path)
    lengths = [len(d) for d in demos.demos]
    spans = [int(d.states()[1][-1]) + 1 for d in demos.demos]
    rate = demos.env_args.get("control_rate_hz") or 0
    return {
        "file": str(demos.path),
        "env": demos.env_args.get("env_name"),
        "backend": demos.env_args.get("backend"),
        "demos": len(demos),
        "train": len(demos.train),
        "valid": len(demos.valid),
        "state_only": demos.state_only,
        "sparsity": sorted({str(d.attrs.get("sparsity", "full")) for d in demos.demos}),
        "sources": sorted({str(d.attrs.get("source", "?")) for d in demos.demos}),
        "samples": int(sum(lengths)),
        "rows_per_demo": {
            "min": min(lengths, default=0),
            "mean": float(np.mean(lengths)) if lengths else 0.0,
            "max": max(lengths, default=0),
        },
        "episode_seconds": {"mean": float(np.mean(spans)) / rate if spans and rate else None},
        "successes": sum(bool(d.attrs.get("success", False)) for d in demos.demos),
        "obs_keys": list(schema.OBS_KEYS),
        "action_dim": None if demos.state_only else demos.env_args.get("action_dim"),
        "size_bytes": demos.path.stat().st_size,
    }
