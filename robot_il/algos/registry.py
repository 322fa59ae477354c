"""Every learner in one table: its config class, presets, training entry and a one-line summary.

The table drives ``robot-il train ALGO`` (the sub-command, its flags and the line it prints), the
pipeline behind ``make run`` and the benchmarks, so a new algorithm is one module plus one line here.
Modules are imported on first use: the table itself imports nothing heavier than the standard library,
and ``robot-il --help`` stays fast.

A training entry is a function ``(demos_path, out, cfg, *, state_only, overrides, progress) -> summary``,
or any subset of those keywords (BC takes none of the optional ones); :meth:`Algorithm.train` passes only
what the entry accepts and refuses what it cannot honour (``state_only`` to a learner that needs actions).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Algorithm:
    """One learner: where its code lives and what the CLI says of it."""

    name: str
    summary: str
    module: str
    config: str
    """Name of the config dataclass in ``module`` (every field is a ``train`` flag)."""
    entry: str
    """Name of the training function in ``module`` (see the module docstring for its signature)."""
    presets: str | None = None
    """Name of the ``{name: config}`` dict in ``module``; None: the dataclass's defaults are the only preset."""
    state_only: str | None = None
    """What ``--state-only`` means for this learner; None: it needs demonstrated actions and has no such flag."""
    flag_aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Short names the train verbs took before every config field was a flag; they still work."""
    default_preset: str = "fast"
    describe: str | None = None
    """A format string over the run's summary naming the variant trained (``"D on {disc_input}"``)."""

    @cached_property
    def _module(self) -> Any:
        return importlib.import_module(self.module)

    @property
    def config_class(self) -> type:
        return getattr(self._module, self.config)

    @property
    def preset_table(self) -> dict[str, Any] | None:
        return getattr(self._module, self.presets) if self.presets else None

    def preset(self, name: str | None = None) -> Any:
        """The named preset's config (default: ``default_preset``), or the dataclass's defaults."""
        table = self.preset_table
        if table is None:
            if name not in (None, "defaults"):
                raise KeyError(f"{self.name} has no presets (asked for {name!r}); its config's defaults are used")
            return self.config_class()
        name = name or self.default_preset
        if name not in table:
            raise KeyError(f"{self.name} has no preset {name!r}; choose one of {sorted(table)}")
        return table[name]

    def train(
        self,
        demos: str | Path,
        out: str | Path,
        cfg: Any = None,
        *,
        preset: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        state_only: bool = False,
        progress: bool = True,
    ) -> dict[str, Any]:
        """Train on ``demos`` into the run directory ``out``; a killed run resumes from it.

        ``cfg`` (default: ``preset``'s config) with ``overrides`` applied. Learners whose entry takes the
        overrides themselves (GPRIL's sparse-demo defaults give way to what the user set) receive them so."""
        if state_only and self.state_only is None:
            raise ValueError(f"{self.name} learns from demonstrated actions; it has no state-only mode")
        cfg = self.preset(preset) if cfg is None else cfg
        entry: Callable[..., dict[str, Any]] = getattr(self._module, self.entry)
        takes = inspect.signature(entry).parameters
        kwargs: dict[str, Any] = {"progress": progress} if "progress" in takes else {}
        if state_only:
            kwargs["state_only"] = True
        if overrides:
            if "overrides" in takes:
                kwargs["overrides"] = dict(overrides)
            else:
                cfg = dataclasses.replace(cfg, **overrides)
        return entry(demos, out, cfg, **kwargs)

    def report(self, summary: Mapping[str, Any], out: str | Path) -> str:
        """The line ``robot-il train`` prints when a run ends: what it cost and how well it did."""
        counters = summary.get("counters", {})
        parts = [
            f"{counters[key]} {label}"
            for key, label in (
                ("iteration", "iterations"),
                ("round", "rounds"),
                ("env_steps", "env steps"),
                ("episodes", "episodes"),
                ("expert_queries", "expert queries"),
            )
            if key in counters
        ]
        if "steps" in summary:
            parts.append(
                f"{summary['steps']} steps" + (f" ({summary['stopped_by']})" if "stopped_by" in summary else "")
            )
        if "best_step" in summary:  # a learner that keeps its best policy says which and by what
            kept = summary.get("best_eval_success")
            how = f"validation success {kept:.0%}" if isinstance(kept, float) else None
            if how is None and isinstance(summary.get("best_valid_nll"), float):
                how = f"validation NLL {summary['best_valid_nll']:.3f}"
            acting = f", acting with its {summary['act']}" if "act" in summary else ""
            parts.append(f"kept step {summary['best_step']}" + (f" ({how}{acting})" if how else ""))
        for key, label in (("final_eval_success", "final evaluation success"), ("selected_success", "selected on")):
            if isinstance(summary.get(key), float):
                parts.append(f"{label} {summary[key]:.0%}")
        if "best_valid_nll" in summary and "best_step" not in summary:
            parts.append(f"best validation NLL {summary['best_valid_nll']:.3f}")
        wall = counters.get("wall_s", summary.get("wall_clock_s"))
        if wall is not None:
            parts.append(f"{wall:.0f} s")
        name = self.name.upper()
        if self.describe:
            name += f" ({self.describe.format_map(summary)})"
        return f"{name}: {', '.join(parts)} -> {Path(out) / 'policy.pt'}"


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("bc", "behavioural cloning", "robot_il.algos.bc", "BCConfig", "train_bc"),
        Algorithm(
            "gpril",
            "generative predecessor models (states only and sparse demos work)",
            "robot_il.algos.gpril",
            "GPRILConfig",
            "train_gpril_from_file",
            presets="PRESETS",
            state_only="ignore demonstrated actions (beta_pi = 0)",
            flag_aliases={"num_actors": ["--actors"]},
        ),
        Algorithm(
            "gail",
            "GAIL baseline: TRPO (or PPO) generator against a discriminator, N env processes",
            "robot_il.algos.gail",
            "GAILConfig",
            "train_gail_from_file",
            presets="PRESETS",
            state_only="ignore demonstrated actions (D on (s, s') or s)",
            flag_aliases={"num_envs": ["--envs"], "total_steps": ["--steps"]},
            describe="D on {disc_input}",
        ),
        Algorithm(
            "airl",
            "AIRL: GAIL's machinery with D = exp f / (exp f + π), f = g(s) + γh(s') - h(s)",
            "robot_il.algos.airl",
            "AIRLConfig",
            "train_airl_from_file",
            presets="PRESETS",
            flag_aliases={"num_envs": ["--envs"], "total_steps": ["--steps"]},
            describe="g on {disc_input}",
        ),
        Algorithm(
            "mgail",
            "MGAIL: the policy trained through a learnt forward model with D's exact gradient",
            "robot_il.algos.mgail",
            "MGAILConfig",
            "train_mgail_from_file",
            presets="PRESETS",
        ),
        Algorithm(
            "dagger",
            "DAgger: the scripted expert labels the learner's own states (simulation)",
            "robot_il.algos.dagger",
            "DAggerConfig",
            "train_dagger_from_file",
        ),
        Algorithm(
            "aggrevated",
            "AggreVaTeD: policy gradient on the scripted expert's cost-to-go, regular or natural (simulation)",
            "robot_il.algos.aggrevated",
            "AggreVaTeDConfig",
            "train_aggrevated_from_file",
            describe="{config[update]}",
        ),
    )
}


def algorithm(name: str) -> Algorithm:
    """The registry entry called ``name``, or an error that lists the ones there are."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise KeyError(f"no algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}") from None
