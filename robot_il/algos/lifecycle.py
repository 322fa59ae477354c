"""One training lifecycle for every learner with a loop (GAIL, AIRL, MGAIL, GPRIL, DAgger, AggreVaTeD).

:func:`train` owns what every run does around the algorithm, in this order (as SB3's ``learn()`` does):

1. resume: load the run directory's checkpoint, if any (a changed config is refused, :class:`RunDir`);
2. the clock (wall-clock time goes on from the checkpoint's) and the progress bar;
3. a fresh run's warm start (:meth:`Learner.warm_start`) and first evaluation;
4. the loop (:meth:`Learner.loop`): ``iteration()`` until ``finished()``, an evaluation whenever ``due()``;
5. at each evaluation: the policy's success on the validation seeds, a learning-curve point, policy.pt,
   policy_best.pt when it is the best so far, checkpoint.pt, and train_log.json with its plot.

A learner subclasses :class:`Learner`: it builds its networks, writes ``iteration()``, names the counter its
curve is indexed by and declares the state a checkpoint holds (``saved_modules``, ``saved_json``, and
``extra_state`` for what is neither), so that saving and resuming are written once. The shared parts of the
configs (evaluation, the policy, a BC warm start) are the dataclasses below, composed into each learner's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from robot_il.algos.common import RunDir, rng_state, set_rng_state
from robot_il.checkpoint import config_dict
from robot_il.config import require_non_negative, require_positive
from robot_il.errors import ConfigError
from robot_il.nn.policy import GaussianPolicy

# Shared config parts --------------------------------------------------------------------------------
# Each validates its own fields and passes on to the next part (a learner's config calls super().__post_init__()).


def _next_post_init(part: type, cfg: Any) -> None:
    after = super(part, cfg)
    if hasattr(after, "__post_init__"):
        after.__post_init__()


@dataclass(frozen=True)
class EvalConfig:
    eval_episodes: int = 20
    """Episodes per evaluation of the policy: the same seeds each time, or the next ones with ``eval_rotate``."""
    eval_seed: int = 10_000
    """Seed of the first evaluation episode (training episodes use other seeds)."""
    eval_rotate: bool = False
    """Each evaluation plays the next ``eval_episodes`` seeds (wrapping after ``EVAL_SEED_WINDOW``), not the same
    ones: a stopping rule confirmed over k evaluations in a row has then seen k × ``eval_episodes`` distinct
    poses, and a run is not stopped the first time it happens to pass one fixed set."""

    def __post_init__(self) -> None:
        require_non_negative("eval_episodes", self.eval_episodes)
        _next_post_init(EvalConfig, self)


@dataclass(frozen=True)
class PeriodicEvalConfig(EvalConfig):
    eval_every: int = 5
    """Iterations (GAIL's: rollouts) between evaluations of the policy (and checkpoints)."""

    def __post_init__(self) -> None:
        require_positive("eval_every", self.eval_every)
        super().__post_init__()


@dataclass(frozen=True)
class SigmaConfig:
    sigma_min: float = 0.01
    """Lower bound of the policy's σ, rad/s (the GPRIL paper's: 0.01)."""
    sigma_max: float = 0.1
    """Upper bound of the policy's σ, rad/s (the GPRIL paper's: 0.1)."""

    def __post_init__(self) -> None:
        if not 0 < self.sigma_min < self.sigma_max:
            raise ConfigError("sigma_min", f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")
        _next_post_init(SigmaConfig, self)


@dataclass(frozen=True)
class PolicyConfig(SigmaConfig):
    """The project's Gaussian policy (BC's and GPRIL's), so that every run's policy.pt deploys alike."""

    policy_hidden: tuple[int, ...] = (300, 200)
    """Policy hidden layers (the GPRIL paper's: 300, 200)."""


@dataclass(frozen=True)
class LikelihoodPolicyConfig(SigmaConfig):
    """The Gaussian policy as BC fits it (DAgger's and AggreVaTeD's too): maximum likelihood with an L2 penalty,
    on observations normalised by the demos."""

    hidden: tuple[int, ...] = (300, 200)
    """Policy hidden layers (the GPRIL paper's BC: 300, 200)."""
    l2: float = 1e-4
    """Weight of the L2 penalty on the weights in the likelihood steps (the GPRIL paper's BC: 1e-4)."""
    batch_size: int = 256
    """State-action pairs per likelihood step."""
    obs_std_floor: float = 1e-3
    """Smallest standard deviation used to normalise an observation dimension."""

    def __post_init__(self) -> None:
        require_non_negative("l2", self.l2)
        require_positive("batch_size", self.batch_size)
        require_positive("obs_std_floor", self.obs_std_floor)
        super().__post_init__()


@dataclass(frozen=True)
class BCWarmStartConfig:
    bc_warm_start_steps: int = 0
    """Steps of BC (maximum likelihood on the demonstrated pairs, batches of 256) before the first iteration; 0:
    from scratch. Needs demos with actions."""
    bc_lr: float = 1e-3
    """Adam learning rate of the BC warm start."""
    idm_explore_steps: int = 0
    """Env steps of random motion that teach an inverse dynamics model a = f(s, s'), which labels state-only
    demos with actions for the BC warm start (BCO: :mod:`robot_il.algos.inverse_dynamics`); 0: state-only demos
    start from scratch. On a robot this is robot time; counted as ``idm_env_steps``."""
    idm_steps: int = 4_000
    """Adam steps fitting the inverse dynamics model."""

    def __post_init__(self) -> None:
        require_non_negative("bc_warm_start_steps", self.bc_warm_start_steps)
        require_positive("bc_lr", self.bc_lr)
        require_non_negative("idm_explore_steps", self.idm_explore_steps)
        require_positive("idm_steps", self.idm_steps)
        _next_post_init(BCWarmStartConfig, self)


# The learner ----------------------------------------------------------------------------------------


class CurveLog(NamedTuple):
    """How a learner's train_log.json and learning-curve plot read."""

    title: str
    axes: tuple[tuple[str, str], ...]
    """(counter, axis label) of each plot."""
    practice_label: str
    extra: dict[str, Any] | None = None
    """Entries of train_log.json after the algorithm's name."""
    curve: list[dict[str, Any]] | None = None
    """The curve as logged, if not the learner's own."""


class Learner:
    """What :func:`train` needs of a learner; a subclass sets these and writes ``iteration()``."""

    algo: ClassVar[str]
    """The run directory's algorithm (policy files record it)."""
    label: ClassVar[str] = ""
    """The progress bar's name (default: ``algo`` in capitals)."""
    unit: ClassVar[str] = "it"
    x: ClassVar[str] = "iteration"
    """The counter a curve point is indexed by."""
    best_at: ClassVar[str] = "iteration"
    """The counter that checkpoints record the best evaluation at (``best_<counter>``)."""
    curve_counters: ClassVar[tuple[str, ...]] = ()
    """Counters a curve point shows besides ``x``, episodes and env steps."""
    first_evaluation: ClassVar[str] = "save"
    """What a fresh run does before its first iteration: 'save' (evaluate, and save the run), 'log' (evaluate
    only) or 'none'."""
    saved_modules: ClassVar[dict[str, str]] = {}
    """Checkpoint key -> attribute (a dotted path) of an object with ``state_dict()`` and ``load_state_dict()``
    (networks, optimisers, buffers); an attribute that is None is not saved."""
    saved_json: ClassVar[tuple[str, ...]] = ("counters", "curve")
    """Attributes saved as JSON (under their own names)."""

    cfg: Any
    policy: GaussianPolicy
    counters: dict[str, Any]
    curve: list[dict[str, Any]]
    recent: list[bool] | None = None
    """Outcomes of the last training episodes (a curve point's ``practice_success``); None: not kept."""
    rng: np.random.Generator

    # The loop ------------------------------------------------------------------------------------

    @property
    def deployed(self) -> GaussianPolicy:
        """The policy evaluated, saved as policy.pt and deployed."""
        return self.policy

    @property
    def done(self) -> int:
        """Progress so far, in ``total``'s units."""
        return self.counters[self.x]

    @property
    def total(self) -> int:
        return self.cfg.iterations

    def finished(self) -> bool:
        return self.done >= self.total

    def due(self) -> bool:
        """An evaluation (and a checkpoint) after this iteration."""
        return self.done % self.cfg.eval_every == 0 or self.done == self.total

    def warm_start(self) -> None:
        """A fresh run's start before its first evaluation (a resumed run has had it)."""

    def iteration(self) -> dict[str, Any]:
        """One iteration; its statistics (empty: nothing learnt yet, the iteration does not count)."""
        raise NotImplementedError

    def loop(self, training: Training) -> None:
        while not self.finished():
            stats = self.iteration()
            if not stats:
                continue
            if self.due():
                training.evaluate(stats)
            training.progress(1, stats)

    def evaluation_stats(self) -> dict[str, Any]:
        """What an evaluation adds to its curve point, besides the last iteration's statistics."""
        return {}

    def postfix(self, stats: dict[str, Any]) -> dict[str, Any]:
        """The progress bar's figures after an iteration."""
        return {"eval": f"{self.curve[-1]['eval_success']:.2f}" if self.curve else "-"}

    def save_extras(self, run: RunDir) -> None:
        """Files saved beside the policy at each evaluation."""

    def curve_log(self) -> CurveLog:
        raise NotImplementedError

    def close(self) -> None:
        """Release envs and actors."""

    # Checkpoints --------------------------------------------------------------------------------

    def extra_state(self) -> dict[str, Any]:
        """Checkpoint entries that are neither a module's state nor JSON."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state`'s entries (after the modules, the JSON values and the RNG states)."""

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"config": json.dumps(config_dict(self.cfg))}
        for key, path in self.saved_modules.items():
            if (obj := attrgetter(path)(self)) is not None:
                state[key] = obj.state_dict()
        state.update({name: json.dumps(getattr(self, name)) for name in self.saved_json})
        return {**state, **rng_state(self.rng), **self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, path in self.saved_modules.items():
            if (obj := attrgetter(path)(self)) is not None:
                obj.load_state_dict(state[key])
        for name in self.saved_json:
            setattr(self, name, json.loads(state[name]))
        set_rng_state(self.rng, state)
        self.load_extra_state(state)


# The lifecycle --------------------------------------------------------------------------------------


class Training:
    """A run in progress: its learner, directory and progress bar; what a learner's loop calls back."""

    def __init__(self, learner: Learner, run: RunDir, bar: tqdm) -> None:
        self.learner, self.run, self.bar = learner, run, bar

    def progress(self, n: int, stats: dict[str, Any]) -> None:
        self.bar.update(n)
        self.bar.set_postfix(**self.learner.postfix(stats))

    def evaluate(self, stats: dict[str, Any], save: bool = True) -> float:
        """Evaluate the deployed policy and log a curve point; with ``save``, save the run there."""
        learner, run = self.learner, self.run
        c = learner.counters
        c["wall_s"] = run.wall_s
        index = len(learner.curve)
        success = run.evaluate(learner.deployed, index)
        point = {learner.x: c[learner.x], "episodes": c["episodes"], "env_steps": c["env_steps"]}
        if getattr(learner.cfg, "eval_rotate", False):
            point["eval_first_seed"] = run.evaluation_seeds(index)[0]
        point.update({k: c[k] for k in learner.curve_counters})
        point.update(wall_s=c["wall_s"], eval_success=success)
        if learner.recent is not None:
            point["practice_success"] = float(np.mean(learner.recent)) if learner.recent else 0.0
        learner.curve.append({**point, **learner.evaluation_stats(), **stats})
        if save:
            learner.save_extras(run)
            run.save(learner, success, {f"best_{learner.best_at}": c[learner.best_at]}, policy=learner.deployed)
            write_curves(run, learner)
        return success


def write_curves(run: RunDir, learner: Learner) -> dict[str, Any]:
    """train_log.json and the learning-curve plot; returns the summary."""
    log = learner.curve_log()
    curve = learner.curve if log.curve is None else log.curve
    return run.write_curves(learner.counters, curve, log.axes, log.title, log.practice_label, **(log.extra or {}))


def train(learner: Learner, run: RunDir, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) ``learner`` into ``run``; returns the summary also written to train_log.json."""
    bar = None
    try:
        if (state := run.resume()) is not None:
            learner.load_state_dict(state)
        run.start_clock(learner.counters["wall_s"])
        label = learner.label or learner.algo.upper()
        bar = tqdm(total=learner.total, initial=learner.done, desc=label, unit=learner.unit, disable=not progress)
        training = Training(learner, run, bar)
        if not learner.curve:
            learner.warm_start()
            if learner.first_evaluation != "none":
                training.evaluate({}, save=learner.first_evaluation == "save")
        learner.loop(training)
    finally:
        if bar is not None:
            bar.close()
        learner.close()
        run.close()
    return write_curves(run, learner)
