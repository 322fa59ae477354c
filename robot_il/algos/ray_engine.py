"""The Ray engine: GPRIL's actors and GAIL's environments as Ray actors, on one machine or a cluster.

``--engine ray`` (needs the optional extra: ``pip install 'robot-il[ray]'``)
puts the workers that the ``local`` engine runs as processes of this machine
into Ray actors, so that they can span a cluster:

* :class:`RayActorPool` has the :class:`~robot_il.algos.actors.ActorPool`
  interface (``grant`` / ``gather`` / ``outstanding`` / ``close``). Each policy
  version is put once into Ray's object store (``ray.put``) and the workers
  fetch it only when a permit needs a version they do not hold; finished
  episodes are collected with ``ray.wait``. At most ``in_flight_per_actor``
  permits per actor are submitted at a time (the rest wait in the pool), a
  bounded queue that keeps an idle worker from being starved by a slow one and
  keeps the object store small. What runs is exactly what the learner granted:
  episode ``e`` with seed ``base_seed + e`` and its version's weights, so the
  data is the same as the local engine's, bit for bit, however many workers
  there are and wherever they run.
* :class:`RayVecEnv` is a stable-baselines3 ``VecEnv`` whose environments live
  in Ray actors (GAIL's ``engine="ray"``). PPO steps its environments in lock
  step, as with ``SubprocVecEnv``.

A worker that dies (its process killed, its node lost) is replaced by a new
actor. GPRIL's permit is run again from the start by the new actor with the same
seed and weights (the partial episode is discarded, the data unchanged); a
GAIL environment's episode ends there as a truncation (PPO bootstraps from the
last state it saw) and is not counted as a success or failure. The learner
goes on either way.

:func:`init_ray` joins the cluster at ``address`` (``ray.init(address=...)``;
``"auto"`` finds a local head started with ``ray start --head``, and Ray's own
``RAY_ADDRESS`` variable works too) or, with ``address=""``, starts a local one.
Every node of a cluster needs robot-il installed in the same Python version.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections import deque
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv
from stable_baselines3.common.vec_env.util import obs_space_info

from robot_il.algos.actors import EnvFactory, EpisodeData, run_episode
from robot_il.errors import ConfigError

INSTALL_HINT = "the ray engine needs Ray: pip install 'robot-il[ray]' (or pick --engine local)"


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("engine", INSTALL_HINT) from None
    return ray


def init_ray(address: str = "", num_cpus: int | None = None) -> None:
    """Join the Ray cluster at ``address``, or start a local one with ``num_cpus`` CPUs (default: all cores).

    Does nothing if this process is already connected (a test's or a user's own ``ray.init``). A local cluster
    runs its workers at the learner's priority: at Ray's default (nice 15) other jobs on a shared machine take
    their CPU (measured in ``docs/scale_out.md``, ``benchmarks/scale_out.py``). A cluster joined by address
    keeps its own setting (start its nodes with ``RAY_worker_niceness=0`` for the same).
    """
    ray = _ray()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "configure_logging": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus, _system_config={"worker_niceness": 0}, **kwargs)


def _warn_if_too_few_cpus(ray, wanted: int, what: str) -> None:
    """Each worker asks Ray for one CPU: more workers than the cluster's CPUs would wait unscheduled."""
    cpus = ray.cluster_resources().get("CPU", 0)
    if cpus < wanted:
        warnings.warn(
            f"{wanted} {what} each need a CPU and the Ray cluster has {cpus:g}: the rest wait until the "
            "cluster grows (start the local cluster with more num_cpus, or add nodes)",
            stacklevel=3,
        )


def _kill_and_wait(ray, actor, timeout_s: float = 30.0) -> None:
    """``ray.kill`` returns before the actor is dead; wait until a call to it fails."""
    ray.kill(actor, no_restart=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get(actor.pid.remote(), timeout=1.0)
        except ray.exceptions.RayActorError:
            return
        except ray.exceptions.GetTimeoutError:
            continue
        time.sleep(0.05)
    raise TimeoutError(f"Ray actor {actor} still answers {timeout_s} s after ray.kill")


# GPRIL's actors ------------------------------------------------------------------------------------


class EpisodeWorker:
    """One Ray actor: an env and a policy, running granted episodes (as the local pool's processes do)."""

    def __init__(self, actor: int, factory: EnvFactory, net_spec: dict) -> None:
        import torch

        from robot_il.nn.policy import make_policy

        torch.set_num_threads(1)
        self.actor = actor
        self.env = factory.make()
        # Arrays arrive read-only from the object store; torch wants its own writable copies.
        self.policy = make_policy(**{k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in net_spec.items()})
        self.version = -1

    def pid(self) -> int:
        return os.getpid()

    def run(self, index: int, seed: int, version: int, weights: list) -> EpisodeData:
        """Episode ``index`` with the policy of ``version``; ``weights`` is ``[ObjectRef]``, fetched only when
        this worker does not hold that version yet (a ref inside a list is not resolved by Ray on the call)."""
        import ray
        import torch

        if version != self.version:
            state = ray.get(weights[0])
            self.policy.load_state_dict({k: torch.tensor(v) for k, v in state.items()})  # store arrays: read-only
            self.version = version
        gen = torch.Generator().manual_seed(seed)
        states, actions, success = run_episode(self.env, self.policy, seed, deterministic=False, generator=gen)
        return EpisodeData(states, actions, success, seed, self.actor, version, index)


class RayActorPool:
    """Granted episodes run by ``num_actors`` Ray actors; the interface of :class:`ActorPool` (module text)."""

    def __init__(
        self,
        num_actors: int,
        factory: EnvFactory,
        net_spec: dict,
        base_seed: int,
        address: str = "",
        in_flight_per_actor: int = 2,
    ) -> None:
        if num_actors < 1:
            raise ConfigError("num_actors", f"the ray engine needs at least 1 actor, got {num_actors}")
        if in_flight_per_actor < 1:
            raise ConfigError("in_flight_per_actor", f"must be at least 1, got {in_flight_per_actor}")
        ray = _ray()
        init_ray(address, num_cpus=None if address else max(os.cpu_count() or 1, num_actors))
        _warn_if_too_few_cpus(ray, num_actors, "GPRIL actors")
        self._ray = ray
        self._remote = ray.remote(num_cpus=1, max_restarts=0)(EpisodeWorker)
        self.num_actors, self.factory, self.net_spec, self.base_seed = num_actors, factory, net_spec, base_seed
        self.in_flight_per_actor = in_flight_per_actor
        self.replaced = 0
        """Workers that died and were replaced."""
        self._workers = [self._new_worker(k) for k in range(num_actors)]
        self._granted: list[tuple[int, int]] = []  # (index, version) not yet gathered
        self._waiting: deque[tuple[int, int]] = deque()  # permits not yet submitted
        self._in_flight: dict[Any, tuple[int, int, int]] = {}  # ObjectRef -> (worker slot, index, version)
        self._done: dict[int, EpisodeData] = {}
        self._weights: dict[int, Any] = {}  # version -> ObjectRef of its numpy state dict
        self._error: BaseException | None = None
        self._lock = threading.Condition()
        self._closed = False
        self._collector = threading.Thread(target=self._collect, name="ray-actor-pool", daemon=True)
        self._collector.start()

    def _new_worker(self, slot: int):
        return self._remote.remote(slot, self.factory, self.net_spec)

    @property
    def outstanding(self) -> int:
        """Episodes granted and not yet gathered."""
        return len(self._granted)

    def worker_pids(self) -> list[int]:
        """The process id of each worker (on its node)."""
        return self._ray.get([w.pid.remote() for w in self._workers])

    def kill_worker(self, slot: int) -> None:
        """Kill worker ``slot`` as a node failure would (for tests and drills); the pool replaces it."""
        _kill_and_wait(self._ray, self._workers[slot])

    def grant(self, first: int, count: int, version: int, state_dict: dict) -> None:
        """Episodes ``first .. first + count - 1``, to be run with the policy ``state_dict`` of ``version``."""
        with self._lock:
            if version not in self._weights:
                weights = {k: v.detach().cpu().numpy().copy() for k, v in state_dict.items()}
                self._weights[version] = self._ray.put(weights)
            for index in range(first, first + count):
                self._granted.append((index, version))
                self._waiting.append((index, version))
            self._submit()

    def gather(self, timeout: float | None = None) -> list[EpisodeData]:
        """Every granted episode, in index order (waiting for them)."""
        wanted = [index for index, _ in self._granted]
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not all(i in self._done for i in wanted):
                if self._error is not None:
                    raise RuntimeError(f"a Ray actor failed running an episode: {self._error}") from self._error
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"granted episodes not back from the Ray actors within {timeout} s")
                self._lock.wait(timeout=1.0 if left is None else min(left, 1.0))
            episodes = [self._done.pop(i) for i in wanted]
            self._granted.clear()
            self._forget_old_weights()
        return episodes

    def _forget_old_weights(self) -> None:
        """Drop object-store refs of versions no permit needs any more (called with the lock held)."""
        needed = {v for _, v in self._waiting} | {v for _, _, v in self._in_flight.values()}
        needed |= {v for _, v in self._granted}
        latest = max(self._weights, default=None)
        for version in [v for v in self._weights if v not in needed and v != latest]:
            del self._weights[version]

    def _submit(self) -> None:
        """Hand waiting permits to the least-busy workers, up to ``in_flight_per_actor`` each (lock held)."""
        busy = [0] * self.num_actors
        for slot, _, _ in self._in_flight.values():
            busy[slot] += 1
        while self._waiting:
            slot = int(np.argmin(busy))
            if busy[slot] >= self.in_flight_per_actor:
                return
            index, version = self._waiting.popleft()
            ref = self._workers[slot].run.remote(index, self.base_seed + index, version, [self._weights[version]])
            self._in_flight[ref] = (slot, index, version)
            busy[slot] += 1

    def _collect(self) -> None:
        """The pool's thread: take finished episodes, replace dead workers, keep the workers fed."""
        try:
            while not self._closed:
                self._collect_once()
        except Exception as err:  # Ray itself failed (shut down, head lost): gather reports it
            with self._lock:
                self._error = err
                self._lock.notify_all()

    def _collect_once(self) -> None:
        ray = self._ray
        with self._lock:
            refs = list(self._in_flight)
        if not refs:
            time.sleep(0.01)
            return
        ready, _ = ray.wait(refs, num_returns=1, timeout=0.2)
        with self._lock:
            for ref in ready:
                if ref not in self._in_flight:  # its worker died and its permit went back to the queue
                    continue
                slot, index, version = self._in_flight.pop(ref)
                try:
                    self._done[index] = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError):
                    self._replace(slot)
                    self._waiting.appendleft((index, version))
                except Exception as err:  # the episode itself raised: a bug or a bad env, not a lost worker
                    self._error = err
            if not self._closed:
                self._submit()
            self._lock.notify_all()

    def _replace(self, slot: int) -> None:
        """A new worker in ``slot``; the permits the dead one still held are run again (lock held)."""
        self._ray.kill(self._workers[slot], no_restart=True)
        self._workers[slot] = self._new_worker(slot)
        self.replaced += 1
        for ref, (s, index, version) in list(self._in_flight.items()):
            if s == slot:
                del self._in_flight[ref]
                self._waiting.appendleft((index, version))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._collector.join(timeout=5)
        for worker in self._workers:
            self._ray.kill(worker, no_restart=True)
        self._workers.clear()
        self._in_flight.clear()
        self._weights.clear()


# GAIL's environments -------------------------------------------------------------------------------


class EnvWorker:
    """One Ray actor holding one env; steps as stable-baselines3's subprocess worker does (auto-reset)."""

    def __init__(self, env_fn) -> None:
        self.env = env_fn()

    def pid(self) -> int:
        return os.getpid()

    def reset(self, seed: int | None, options: dict | None) -> tuple[Any, dict]:
        return self.env.reset(seed=seed, options=options or {})

    def step(self, action) -> tuple[Any, float, bool, dict, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        done = terminated or truncated
        info["TimeLimit.truncated"] = truncated and not terminated
        reset_info: dict = {}
        if done:
            info["terminal_observation"] = obs
            obs, reset_info = self.env.reset()
        return obs, reward, done, info, reset_info

    def call(self, method: str, args: tuple, kwargs: dict) -> Any:
        return getattr(self.env, method)(*args, **kwargs)

    def get_attr(self, name: str) -> Any:
        return getattr(self.env, name)

    def set_attr(self, name: str, value: Any) -> None:
        setattr(self.env, name, value)

    def is_wrapped(self, wrapper_class: type) -> bool:
        from stable_baselines3.common.env_util import is_wrapped

        return is_wrapped(self.env, wrapper_class)

    def spaces(self) -> tuple[Any, Any]:
        return self.env.observation_space, self.env.action_space


class RayVecEnv(VecEnv):
    """``num_envs`` envs in Ray actors, stepped in lock step (a drop-in for ``SubprocVecEnv``; module text).

    Observations must be arrays (a Box space), as every robot-il env's are.
    """

    def __init__(self, env_fns: list, address: str = "") -> None:
        ray = _ray()
        init_ray(address, num_cpus=None if address else max(os.cpu_count() or 1, len(env_fns)))
        _warn_if_too_few_cpus(ray, len(env_fns), "GAIL environments")
        self._ray = ray
        self._remote = ray.remote(num_cpus=1, max_restarts=0)(EnvWorker)
        self.env_fns = list(env_fns)
        self.workers = [self._remote.remote(fn) for fn in self.env_fns]
        obs_space, act_space = ray.get(self.workers[0].spaces.remote())
        super().__init__(len(env_fns), obs_space, act_space)
        self.closed = False
        obs_space_info(obs_space)  # raises for spaces this vec env cannot stack
        self.replaced = 0
        """Envs whose worker died and was replaced."""
        self._last_obs: list[Any] = [None] * self.num_envs
        self._pending: list[Any] = []

    def reset(self):
        refs = [w.reset.remote(self._seeds[i], self._options[i]) for i, w in enumerate(self.workers)]
        out = [self._get_or_replace(i, ref) for i, ref in enumerate(refs)]
        obs = [o for o, _ in out]
        self.reset_infos = [info for _, info in out]
        self._reset_seeds()
        self._reset_options()
        self._last_obs = obs
        return np.stack(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._pending = [w.step.remote(a) for w, a in zip(self.workers, actions, strict=True)]

    def step_wait(self):
        obs, rewards, dones, infos = [], [], [], []
        for i, ref in enumerate(self._pending):
            try:
                o, r, d, info, reset_info = self._ray.get(ref)
            except (self._ray.exceptions.RayActorError, self._ray.exceptions.ObjectLostError):
                o, reset_info = self._replace(i)
                r, d = 0.0, True
                info = {"TimeLimit.truncated": True, "terminal_observation": self._last_obs[i], "worker_replaced": True}
            self.reset_infos[i] = reset_info
            obs.append(o)
            rewards.append(r)
            dones.append(d)
            infos.append(info)
        self._pending = []
        self._last_obs = obs
        return np.stack(obs), np.asarray(rewards, dtype=np.float32), np.asarray(dones), infos

    def _get_or_replace(self, i: int, ref) -> tuple[Any, dict]:
        try:
            return self._ray.get(ref)
        except (self._ray.exceptions.RayActorError, self._ray.exceptions.ObjectLostError):
            return self._replace(i)

    def _replace(self, i: int) -> tuple[Any, dict]:
        """A new actor for env ``i``, reset; its reset observation."""
        self._ray.kill(self.workers[i], no_restart=True)
        self.workers[i] = self._remote.remote(self.env_fns[i])
        self.replaced += 1
        return self._ray.get(self.workers[i].reset.remote(None, None))

    def worker_pids(self) -> list[int]:
        return self._ray.get([w.pid.remote() for w in self.workers])

    def kill_worker(self, i: int) -> None:
        """Kill env ``i``'s worker as a node failure would (for tests and drills); the next step replaces it."""
        _kill_and_wait(self._ray, self.workers[i])

    def close(self) -> None:
        if self.closed:
            return
        for w in self.workers:
            try:
                self._ray.get(w.call.remote("close", (), {}), timeout=5)
            except Exception:  # a worker already gone has nothing to close
                pass
            self._ray.kill(w, no_restart=True)
        self.closed = True

    def _targets(self, indices) -> list[int]:
        return list(self._get_indices(indices))

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return self._ray.get([self.workers[i].get_attr.remote(attr_name) for i in self._targets(indices)])

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        self._ray.get([self.workers[i].set_attr.remote(attr_name, value) for i in self._targets(indices)])

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        refs = [self.workers[i].call.remote(method_name, method_args, method_kwargs) for i in self._targets(indices)]
        return self._ray.get(refs)

    def env_is_wrapped(self, wrapper_class: type, indices=None) -> list[bool]:
        return self._ray.get([self.workers[i].is_wrapped.remote(wrapper_class) for i in self._targets(indices)])
