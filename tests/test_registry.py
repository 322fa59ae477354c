"""The algorithm registry: every learner in one table that drives `robot-il train`, and a new one is one line."""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from pathlib import Path

import pytest

from robot_il.algos.registry import ALGORITHMS, Algorithm, algorithm
from robot_il.cli import main as cli

PAPERS = {"bc", "gpril", "gail", "airl", "mgail", "dagger", "aggrevated"}


def test_every_learner_of_the_seed_papers_is_registered() -> None:
    assert set(ALGORITHMS) == PAPERS


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_an_entry_loads_its_config_presets_and_training_function(name: str) -> None:
    algo = ALGORITHMS[name]
    assert dataclasses.is_dataclass(algo.config_class)
    assert isinstance(algo.preset(), algo.config_class), f"{name}'s default preset is not a {algo.config}"
    for preset in (algo.preset_table or {}).values():
        assert isinstance(preset, algo.config_class)
    params = list(inspect.signature(getattr(algo._module, algo.entry)).parameters)
    assert len(params) >= 3, f"{algo.entry} does not take (demos, out, cfg)"
    assert algo.summary and "\n" not in algo.summary


def test_the_cli_has_one_train_verb_per_entry_with_its_summary(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "10000")
    with pytest.raises(SystemExit):
        cli(["train", "--help"])
    text = capsys.readouterr().out
    for algo in ALGORITHMS.values():
        assert algo.name in text and algo.summary in text


def test_an_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(KeyError, match="choose one of bc, gpril"):
        algorithm("ppo")
    with pytest.raises(KeyError, match="no preset 'slow'"):
        ALGORITHMS["gpril"].preset("slow")


def test_state_only_is_refused_by_a_learner_that_needs_actions(tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match="airl learns from demonstrated actions"):
        ALGORITHMS["airl"].train(tmp_path / "d.h5", tmp_path / "run", state_only=True)
    with pytest.raises(SystemExit) as exit_:
        cli(["train", "airl", "--demos", "d.h5", "--out", str(tmp_path / "run"), "--state-only"])
    assert exit_.value.code == 2 and "--state-only" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


TOY = '''
"""A learner that is one file: its config, and a training entry that writes its run directory."""
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ToyConfig:
    steps: int = 3
    """How many steps to take."""
    rate: float = 0.5
    """Its step size."""


PRESETS = {"fast": ToyConfig(), "slow": ToyConfig(steps=30, rate=0.1)}


def train_toy(demos_path, out, cfg, overrides=None):
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "seen.txt").write_text(f"{Path(demos_path).name} {cfg.steps} {cfg.rate} {sorted(overrides or {})}")
    return {"counters": {"iteration": cfg.steps, "wall_s": 0.0}, "final_eval_success": 0.25}
'''


def test_a_new_algorithm_is_one_module_plus_one_registry_line(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "toy_learner.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    toy = Algorithm("toy", "a toy learner", "toy_learner", "ToyConfig", "train_toy", presets="PRESETS")
    monkeypatch.setitem(ALGORITHMS, "toy", toy)

    run = tmp_path / "run"
    assert cli(["train", "toy", "--demos", "d.h5", "--out", str(run), "--preset", "slow", "--rate", "0.2"]) == 0
    assert (run / "seen.txt").read_text() == "d.h5 30 0.2 ['rate']", "preset, flag or overrides did not arrive"
    line = capsys.readouterr().out.strip()
    assert line == f"TOY: 30 iterations, final evaluation success 25%, 0 s -> {run}/policy.pt"
