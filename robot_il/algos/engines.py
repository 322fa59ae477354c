"""Where a learner's rollouts run, behind one small module: ``local`` processes of this machine
(:mod:`robot_il.algos.actors`) or Ray actors (:mod:`robot_il.algos.ray_engine`). Both modules build on the
actors' episode types; neither imports the other's pool, and learners pick one here."""

from __future__ import annotations

from typing import Any

from robot_il.algos.actors import ActorPool, EnvFactory

ENGINES = ("local", "ray")
"""Where actors (and GAIL's environments) run: processes of this machine, or Ray actors (robot_il.algos.ray_engine)."""


def open_actor_pool(
    engine: str, num_actors: int, factory: EnvFactory, net_spec: dict, base_seed: int, address: str = ""
) -> Any:
    """An :class:`ActorPool` (``engine="local"``) or a Ray one joined to the cluster at ``address`` (``"ray"``)."""
    if engine == "ray":
        from robot_il.algos.ray_engine import RayActorPool

        return RayActorPool(num_actors, factory, net_spec, base_seed, address=address)
    return ActorPool(num_actors, factory, net_spec, base_seed)
