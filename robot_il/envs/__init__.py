"""Gymnasium environments. Importing ``robot_il`` registers them.

>>> import gymnasium, robot_il
>>> env = gymnasium.make("robot_il/PegInsertion-v0")
"""

import gymnasium

from robot_il.envs.insertion import (
    InsertionEnv,
    PegInsertionEnv,
    flatten_observation,
    observation_layout,
)

PEG_INSERTION_ID = "robot_il/PegInsertion-v0"
POINT_REACH_ID = "robot_il/PointReach-v0"


def register_envs() -> None:
    if PEG_INSERTION_ID not in gymnasium.registry:
        gymnasium.register(
            id=PEG_INSERTION_ID,
            entry_point="robot_il.envs.insertion:PegInsertionEnv",
            # The task ends itself (success, workspace, 50 s); no TimeLimit wrapper is needed.
            max_episode_steps=None,
        )
    if POINT_REACH_ID not in gymnasium.registry:
        gymnasium.register(id=POINT_REACH_ID, entry_point="robot_il.envs.toy:PointReachEnv")


register_envs()

__all__ = [
    "PEG_INSERTION_ID",
    "POINT_REACH_ID",
    "InsertionEnv",
    "PegInsertionEnv",
    "flatten_observation",
    "observation_layout",
    "register_envs",
]
