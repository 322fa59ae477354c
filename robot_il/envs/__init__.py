"""Gymnasium environments. Importing ``robot_il`` registers them.

>>> import gymnasium, robot_il
>>> env = gymnasium.make("robot_il/PegInsertion-v0")
>>> env = gymnasium.make("robot_il/ClipInsertion-v0")  # observations include the joint efforts
"""

import gymnasium

from robot_il.envs.insertion import (
    InsertionEnv,
    PegInsertionEnv,
    flatten_observation,
    observation_layout,
)

PEG_INSERTION_ID = "robot_il/PegInsertion-v0"
CLIP_INSERTION_ID = "robot_il/ClipInsertion-v0"
POINT_REACH_ID = "robot_il/PointReach-v0"


def register_envs() -> None:
    if PEG_INSERTION_ID not in gymnasium.registry:
        gymnasium.register(
            id=PEG_INSERTION_ID,
            entry_point="robot_il.envs.insertion:PegInsertionEnv",
            # The task ends itself (success, workspace, 50 s); no TimeLimit wrapper is needed.
            max_episode_steps=None,
        )
    if CLIP_INSERTION_ID not in gymnasium.registry:
        gymnasium.register(
            id=CLIP_INSERTION_ID,
            entry_point="robot_il.envs.insertion:InsertionEnv",
            # The paper's clip task observes joint torques too: the clip's snap is felt, not seen.
            kwargs={"task": "clip", "include_efforts": True},
            max_episode_steps=None,
        )
    if POINT_REACH_ID not in gymnasium.registry:
        gymnasium.register(id=POINT_REACH_ID, entry_point="robot_il.envs.toy:PointReachEnv")


def task_includes_efforts(task: str) -> bool:
    """Whether the registered env of ``task`` observes joint efforts (the clip's does, as in the paper)."""
    from robot_il.tasks import task_entry

    return bool(gymnasium.registry[task_entry(task).env_id].kwargs.get("include_efforts", False))


def make_task_env(task: str = "peg", **kwargs) -> InsertionEnv:
    """The registered gymnasium env of ``task`` (its id's defaults, e.g. the clip's efforts), unwrapped: what the
    CLI, the main job and the recorders run, so a demo file's ``env_name`` rebuilds the same env."""
    from robot_il.tasks import task_entry

    return gymnasium.make(task_entry(task).env_id, **kwargs).unwrapped


register_envs()

__all__ = [
    "CLIP_INSERTION_ID",
    "PEG_INSERTION_ID",
    "POINT_REACH_ID",
    "InsertionEnv",
    "PegInsertionEnv",
    "flatten_observation",
    "make_task_env",
    "observation_layout",
    "register_envs",
    "task_includes_efforts",
]
