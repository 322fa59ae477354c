"""Demo files to the flat arrays learners train on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from robot_il.data.reader import Demo, DemoSet
from robot_il.data.writer import DemoFileError


def flat_obs(obs: Mapping[str, np.ndarray], layout: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Rows of the env's flat observation vector, assembled from per-key datasets by ``layout``."""
    return np.concatenate([np.asarray(obs[row["field"]]).reshape(len(obs[row["field"]]), -1) for row in layout], axis=1)


def state_action_pairs(demos: DemoSet, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(observations, actions) of the demos with actions; ``split`` is 'train', 'valid' or None (all)."""
    chosen = demos.demos if split is None else demos.split(split)
    with_actions = [d for d in chosen if not d.state_only]
    if not with_actions:
        raise DemoFileError(
            f"{demos.path}: no demos with actions{f' in mask/{split}' if split else ''}; "
            "behavioural cloning needs actions (use GPRIL with --state-only for state-only or sparse demos)"
        )
    layout = demos.env_args["obs_layout"]
    x = np.concatenate([flat_obs(d.obs, layout) for d in with_actions])
    y = np.concatenate([d.actions for d in with_actions])
    return x, y


def all_states(demos: DemoSet, demo_list: Sequence[Demo] | None = None) -> np.ndarray:
    """Every state the demos hold (including final states), flat."""
    layout = demos.env_args["obs_layout"]
    return np.concatenate([flat_obs(d.states()[0], layout) for d in (demo_list or demos.demos)])
