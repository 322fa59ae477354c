"""Scale-out: GPRIL's practice throughput and learner idle time, local actor pool vs Ray, 1 and 2 workers.

On sim peg insertion with the ``fast`` preset's learner (8 episodes per
iteration) and 5 scripted demos:

1. costs, in this process: one practice episode (``t_ep``), one learner update
   (``t_upd``: the preset's flow and policy steps), adding one episode to the
   replay buffer (``c_add``), and a Ray round trip carrying an episode's data;
2. throughput: ``--episodes`` granted at once to 1 and 2 workers of each engine
   (after a warm-up grant), episodes/s from grant to gather;
3. the learner loop: ``--iterations`` GPRIL iterations per engine and worker
   count, timing the learner's wait in ``gather`` (idle) and its updates.

The scaling model (in the JSON, ``scaling_model``): with ``W`` workers each
taking ``t_ep_eff`` (an episode plus the engine's per-episode overhead) and a
learner taking ``t_upd + E c_add`` per iteration of ``E`` episodes, collection
overlaps learning, so an iteration takes ``max(t_upd + E c_add, E t_ep_eff / W)``
and the learner is the bottleneck from ``W* = E t_ep_eff / (t_upd + E c_add)``
workers on; below that the learner idles a fraction ``1 - W / W*``. Measured on a
2-core machine shared with other jobs: more than two busy processes contend for
the cores, so the model (which assumes a core per worker) is the figure to
extrapolate from, not the 2-worker rows.

    python benchmarks/scale_out.py [--episodes 32] [--iterations 4] [--out benchmarks/results/scale_out]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from robot_il.algos.actors import ActorPool, EnvFactory
from robot_il.algos.common import DemoData
from robot_il.algos.gpril import GPRIL, PRESETS
from robot_il.envs import PEG_INSERTION_ID
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.record.expert import record_expert

ENGINES = ("local", "ray")
WORKERS = (1, 2)


def make_pool(engine: str, workers: int, spec: dict, base_seed: int):
    if engine == "ray":
        from robot_il.algos.ray_engine import RayActorPool

        return RayActorPool(workers, EnvFactory(PEG_INSERTION_ID), spec, base_seed)
    return ActorPool(workers, EnvFactory(PEG_INSERTION_ID), spec, base_seed)


def learner_for(demos: DemoData, episodes_per_iteration: int) -> GPRIL:
    cfg = dataclasses.replace(PRESETS["fast"], episodes_per_iteration=episodes_per_iteration, seed=0)
    return GPRIL(cfg, demos, EnvFactory(PEG_INSERTION_ID), {})


def measure_costs(demos: DemoData, episodes: int) -> dict:
    """t_ep, steps per episode, c_add and t_upd, each in this process."""
    learner = learner_for(demos, episodes)
    pool = ActorPool(0, EnvFactory(PEG_INSERTION_ID), learner.net_spec, base_seed=50_000)
    pool.grant(0, 1, 0, learner.policy.state_dict())
    pool.gather()  # builds the env and policy
    pool.grant(1, episodes, 0, learner.policy.state_dict())
    t0 = time.perf_counter()
    eps = pool.gather()
    t_ep = (time.perf_counter() - t0) / episodes
    pool.close()
    t0 = time.perf_counter()
    learner.add_episodes(eps)
    c_add = (time.perf_counter() - t0) / episodes
    learner.learn()  # the first update (normaliser, optimiser state) is not typical
    updates = []
    for _ in range(3):
        t0 = time.perf_counter()
        learner.learn()
        updates.append(time.perf_counter() - t0)
    return {
        "episode_s": t_ep,
        "steps_per_episode": float(np.mean([ep.steps for ep in eps])),
        "add_episode_s": c_add,
        "update_s": float(np.median(updates)),
        "update_s_all": updates,
        "flow_steps": learner.cfg.flow_steps,
        "policy_steps": learner.cfg.policy_steps,
        "episode_bytes": int(sum(ep.states.nbytes + ep.actions.nbytes for ep in eps) / len(eps)),
    }


def ray_round_trip(episode_bytes: int, n: int = 50) -> dict:
    """Ray's cost to carry one episode's data back from an actor: a no-op call returning as many bytes."""
    import ray

    @ray.remote(num_cpus=1)
    class Echo:
        def payload(self, nbytes: int) -> np.ndarray:
            return np.zeros(nbytes // 4, dtype=np.float32)

    echo = Echo.remote()
    ray.get(echo.payload.remote(episode_bytes))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        ray.get(echo.payload.remote(episode_bytes))
        times.append(time.perf_counter() - t0)
    ray.kill(echo)
    return {"median_s": float(np.median(times)), "p90_s": float(np.percentile(times, 90))}


def throughput(engine: str, workers: int, spec: dict, episodes: int, weights: dict) -> dict:
    t0 = time.perf_counter()
    pool = make_pool(engine, workers, spec, base_seed=60_000)
    pool.grant(0, 2 * workers, 0, weights)  # warm-up: workers started, env and policy built
    pool.gather(timeout=300)
    startup = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        pool.grant(1000, episodes, 0, weights)
        eps = pool.gather(timeout=600)
        wall = time.perf_counter() - t0
    finally:
        pool.close()
    return {
        "engine": engine,
        "workers": workers,
        "episodes": len(eps),
        "wall_s": wall,
        "episodes_per_s": len(eps) / wall,
        "startup_s": startup,
    }


class TimedPool:
    """A pool whose ``gather`` time is counted: the learner's idle time, waiting for its grant."""

    def __init__(self, pool) -> None:
        self.pool, self.idle_s = pool, 0.0

    @property
    def outstanding(self) -> int:
        return self.pool.outstanding

    def grant(self, *args) -> None:
        self.pool.grant(*args)

    def gather(self, timeout: float | None = None) -> list:
        t0 = time.perf_counter()
        try:
            return self.pool.gather(timeout)
        finally:
            self.idle_s += time.perf_counter() - t0


def learner_loop(engine: str, workers: int, demos: DemoData, iterations: int, per_iteration: int) -> dict:
    """``iterations`` of GPRIL.iteration after a first one (workers starting, the first update) that is not timed."""
    learner = learner_for(demos, per_iteration)
    pool = TimedPool(make_pool(engine, workers, learner.net_spec, base_seed=70_000))
    try:
        learner.iteration(pool)
        pool.idle_s = 0.0
        t_start = time.perf_counter()
        for _ in range(iterations):
            learner.iteration(pool)
        wall = time.perf_counter() - t_start
        idle, busy = pool.idle_s, wall - pool.idle_s
        pool.gather(timeout=600)
    finally:
        pool.pool.close()
    return {
        "engine": engine,
        "workers": workers,
        "iterations": iterations,
        "episodes_per_iteration": per_iteration,
        "wall_s": wall,
        "episodes_per_s": iterations * per_iteration / wall,
        "learner_idle_s": idle,
        "learner_busy_s": busy,
        "learner_idle_fraction": idle / wall,
    }


def scaling_model(t_ep_eff: float, t_upd: float, c_add: float, per_iteration: int) -> dict:
    learner_s = t_upd + per_iteration * c_add
    knee = per_iteration * t_ep_eff / learner_s
    workers = [1, 2, 4, 8, 16, 32, 64]
    return {
        "episode_s": t_ep_eff,
        "learner_s_per_iteration": learner_s,
        "episodes_per_iteration": per_iteration,
        "learner_bound_from_workers": knee,
        "max_episodes_per_s": per_iteration / learner_s,
        "per_worker_episodes_per_s": 1 / t_ep_eff,
        "predicted": [
            {
                "workers": w,
                "episodes_per_s": min(w / t_ep_eff, per_iteration / learner_s),
                "learner_idle_fraction": max(0.0, 1 - w / knee),
            }
            for w in workers
        ],
    }


def plot(record: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(14, 4))
    labels = [f"{r['engine']}\n{r['workers']} worker{'s' * (r['workers'] > 1)}" for r in record["throughput"]]
    colours = ["tab:blue" if r["engine"] == "local" else "tab:orange" for r in record["throughput"]]
    ax0.bar(labels, [r["episodes_per_s"] for r in record["throughput"]], color=colours)
    ax0.set_ylabel("episodes / s")
    ax0.set_title("practice throughput (granted at once)")
    loop = record["learner_loop"]
    ax1.bar([f"{r['engine']}\n{r['workers']}" for r in loop], [r["learner_idle_fraction"] for r in loop], color=colours)
    ax1.set_ylim(0, 1)
    ax1.set_ylabel("learner idle fraction")
    ax1.set_title(f"GPRIL loop, {loop[0]['episodes_per_iteration']} episodes / iteration")
    for engine, colour in (("local", "tab:blue"), ("ray", "tab:orange")):
        for (case, m), style in zip(record["scaling_model"][engine].items(), ("o-", "s--"), strict=True):
            pts = m["predicted"]
            label = f"{engine}, {case.replace('_', ' ')} (W* = {m['learner_bound_from_workers']:.2g})"
            ax2.plot([p["workers"] for p in pts], [p["episodes_per_s"] for p in pts], style, c=colour, label=label)
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("workers (a core each)")
    ax2.set_ylabel("episodes / s (model)")
    ax2.set_title("scaling model: flat where the learner bounds it")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=32, help="episodes per throughput measurement")
    parser.add_argument("--iterations", type=int, default=4, help="timed learner iterations per configuration")
    parser.add_argument("--per-iteration", type=int, default=8, help="episodes per iteration (fast preset: 8)")
    parser.add_argument("--demos", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scale_out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        env = PegInsertionEnv()
        max_steps = round(env.task.cfg.episode_seconds * env.task.cfg.control_rate_hz)  # the time limit
        record_expert(env, Path(tmp) / "demos.h5", args.demos, seed=0, progress=False)
        env.close()
        demos = DemoData.load(Path(tmp) / "demos.h5")

    import ray

    from robot_il.algos.ray_engine import init_ray

    init_ray(num_cpus=2)
    costs = measure_costs(demos, args.per_iteration)
    print(f"costs: {json.dumps(costs)}", flush=True)
    round_trip = ray_round_trip(costs["episode_bytes"])
    print(f"ray round trip: {round_trip}", flush=True)
    weights = learner_for(demos, 1).policy.state_dict()
    spec = learner_for(demos, 1).net_spec
    rows = []
    for engine in ENGINES:
        for w in WORKERS:
            rows.append(throughput(engine, w, spec, args.episodes, weights))
            print(json.dumps(rows[-1]), flush=True)
    loop = []
    for engine in ENGINES:
        for w in WORKERS:
            loop.append(learner_loop(engine, w, demos, args.iterations, args.per_iteration))
            print(json.dumps(loop[-1]), flush=True)
    ray.shutdown()

    one = {r["engine"]: r for r in rows if r["workers"] == 1}
    per_episode = {engine: 1 / one[engine]["episodes_per_s"] for engine in ENGINES}
    overhead = per_episode["ray"] - per_episode["local"]
    step_s = costs["episode_s"] / costs["steps_per_episode"]
    model = {
        engine: {
            "measured_episodes": scaling_model(
                per_episode[engine], costs["update_s"], costs["add_episode_s"], args.per_iteration
            ),
            f"full_length_episodes_{max_steps}_steps": scaling_model(
                max_steps * step_s + max(0.0, per_episode[engine] - costs["episode_s"]),
                costs["update_s"],
                costs["add_episode_s"],
                args.per_iteration,
            ),
        }
        for engine in ENGINES
    }
    command = "python benchmarks/scale_out.py " + " ".join(sys.argv[1:])
    record = {
        "benchmark": "scale_out",
        "command": command.strip(),
        "machine": {
            "cpu": platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "ray": ray.__version__,
            "load_average_1min_before_after": [load_before[0], os.getloadavg()[0]],
            "note": "2 cores shared with other jobs; Ray local cluster started with num_cpus=2",
        },
        "task": f"{PEG_INSERTION_ID}, GPRIL fast preset learner, {args.demos} scripted demos",
        "costs": costs,
        "ray_round_trip_per_episode_s": round_trip,
        "per_episode_s_one_worker": per_episode,
        "ray_overhead_per_episode_s": overhead,
        "throughput": rows,
        "learner_loop": loop,
        "scaling_model": model,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    plot(record, args.out.with_suffix(".png"))
    print(json.dumps({k: record[k] for k in ("per_episode_s_one_worker", "ray_overhead_per_episode_s")}, indent=1))
    for engine in ENGINES:
        for case, m in model[engine].items():
            print(
                f"{engine}, {case}: learner-bound from W* = {m['learner_bound_from_workers']:.2f} workers, "
                f"at most {m['max_episodes_per_s']:.2f} episodes/s"
            )


if __name__ == "__main__":
    main()
