"""`robot-il`'s command line: the config dataclasses are the flags; consistent names across verbs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from robot_il.algos.registry import ALGORITHMS
from robot_il.cli import build_parser, main, train_config
from robot_il.config import field_docs

ALGOS = tuple(ALGORITHMS)


def _config_class(algo: str) -> type:
    return ALGORITHMS[algo].config_class


def _help(argv: list[str], capsys, monkeypatch) -> str:
    """``--help`` of a verb, unwrapped (one line per option), as a user reads it."""
    monkeypatch.setenv("COLUMNS", "10000")
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, "--help"])
    assert exit_.value.code == 0, f"{' '.join(argv)} --help exited {exit_.value.code}"
    return capsys.readouterr().out


@pytest.mark.parametrize("algo", ALGOS)
def test_train_help_lists_every_config_field_with_its_docstring(algo: str, capsys, monkeypatch) -> None:
    text = _help(["train", algo], capsys, monkeypatch)
    flat = " ".join(text.split())
    cls = _config_class(algo)
    docs = field_docs(cls)
    for field in dataclasses.fields(cls):
        flag = "--" + field.name.replace("_", "-")
        assert re.search(rf"^ +{flag}[ ,]", text, re.M), f"train {algo} --help has no {flag} ({cls.__name__})"
        if field.name in docs:
            assert f"{docs[field.name]} (default: " in flat, f"{flag}: its help is not the field's docstring"
    for flag in ("--demos", "--out", "--config"):
        assert re.search(rf"^ +{flag} ", text, re.M), f"train {algo} --help lacks {flag}"


def test_every_gpril_field_has_a_docstring_for_its_help() -> None:
    from robot_il.algos.gpril import GPRILConfig

    missing = [f.name for f in dataclasses.fields(GPRILConfig) if f.name not in field_docs(GPRILConfig)]
    assert not missing, f"GPRILConfig fields without a docstring (their --help is empty): {missing}"


def _train_args(tmp_path: Path, algo: str, *extra: str) -> list[str]:
    return ["train", algo, "--demos", str(tmp_path / "none.h5"), "--out", str(tmp_path / "run"), *extra]


def test_a_flag_overrides_the_yaml_which_overrides_the_preset(tmp_path: Path) -> None:
    from robot_il.algos.gpril import PRESETS

    fast = PRESETS["fast"]
    yaml = tmp_path / "run.yaml"
    yaml.write_text("flow_steps: 7\npolicy_lr: 0.001\nflow_hidden: [64, 32]\n")
    args = build_parser().parse_args(_train_args(tmp_path, "gpril", "--config", str(yaml), "--flow-steps", "9"))
    cfg = train_config(args)
    assert cfg.flow_steps == 9, "the flag did not override the YAML"
    assert cfg.policy_lr == 0.001 and cfg.flow_hidden == (64, 32), "the YAML did not override the preset"
    assert cfg.generated_pool == fast.generated_pool == 4096, "a field set nowhere lost the preset's value"
    assert fast.flow_steps == 100 and fast.policy_lr == 3e-4  # what the YAML replaced

    peg_real = train_config(build_parser().parse_args(_train_args(tmp_path, "gpril", "--preset", "peg_real")))
    assert peg_real == PRESETS["peg_real"]
    flags = build_parser().parse_args(_train_args(tmp_path, "gpril", "--actors", "0", "--policy-hidden", "8"))
    assert train_config(flags).num_actors == 0 and train_config(flags).policy_hidden == (8,)


def test_train_flags_reach_bc_and_gail_fields(tmp_path: Path) -> None:
    bc = train_config(build_parser().parse_args(_train_args(tmp_path, "bc", "--patience", "3", "--hidden", "5", "4")))
    assert bc.patience == 3 and bc.hidden == (5, 4)
    argv = _train_args(
        tmp_path,
        "gail",
        "--envs",
        "3",
        "--generator",
        "ppo",
        "--target-kl",
        "none",
        "--reward",
        "logit",
        "--gae-lambda",
        "0.9",
    )
    gail = train_config(build_parser().parse_args(argv))
    assert (gail.num_envs, gail.target_kl, gail.reward, gail.gae_lambda) == (3, None, "logit", 0.9)
    assert (gail.n_steps, gail.terminal) == (2048, "absorbing"), "the fast preset is not the default"


@pytest.mark.parametrize("algo", ALGOS)
def test_a_typo_in_the_yaml_names_the_key_and_the_file(algo: str, tmp_path: Path, capsys) -> None:
    yaml = tmp_path / "run.yaml"
    yaml.write_text("seed: 3\nlearnig_rate: 0.001\n")
    assert main(_train_args(tmp_path, algo, "--config", str(yaml))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"robot-il: error: {yaml}:learnig_rate: unknown field"), err
    assert len(err.splitlines()) == 1, f"not one line: {err}"
    assert not (tmp_path / "run").exists(), "training started despite the bad config"


@pytest.mark.parametrize(
    ("algo", "flags", "message"),
    [
        ("bc", ["--lr", "-1"], "lr: must be a positive finite number, got -1.0"),
        ("gpril", ["--gamma", "1.5"], "gamma: must be in (0, 1), got 1.5"),
        ("gpril", ["--beta-pi", "0", "--beta-d", "0"], "beta_d: beta_pi and beta_d are both 0"),
        ("gail", ["--reward", "typo"], "reward: must be one of"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_field(algo: str, flags: list[str], message: str, tmp_path, capsys) -> None:
    assert main(_train_args(tmp_path, algo, *flags)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"robot-il: error: {message}"), err
    assert len(err.splitlines()) == 1, f"not one line: {err}"


def test_a_bad_value_in_the_yaml_names_the_file(tmp_path: Path, capsys) -> None:
    yaml = tmp_path / "run.yaml"
    yaml.write_text("lr: 0\n")
    assert main(_train_args(tmp_path, "bc", "--config", str(yaml))) == 2
    assert capsys.readouterr().err.startswith(f"robot-il: error: {yaml}:lr: must be a positive")


def test_practice_is_a_verb_of_its_own(capsys, monkeypatch) -> None:
    text = _help(["practice"], capsys, monkeypatch)
    for flag in ("--policy", "--episodes", "--out", "--demos", "--seed", "--backend", "--limits", "--estop-keys"):
        assert f"  {flag}" in text, f"practice --help lacks {flag}"
    args = build_parser().parse_args(["practice", "--policy", "runs/gpril", "--episodes", "3", "-o", "p"])
    assert (args.episodes, args.out, args.seed) == (3, Path("p"), 30_000)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["practice", "--policy", "runs/gpril", "--episodes", "0"])


def test_deploy_practice_still_works_with_a_note(tmp_path: Path, capsys) -> None:
    """The deprecated `deploy --practice N` reaches practice (here: refused, as the run holds no checkpoint)."""
    code = main(["deploy", "--policy", str(tmp_path), "--practice", "2", "--practice-out", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert "`deploy --practice N` is deprecated; use `robot-il practice --episodes 2`" in err
    assert code == 2 and "robot-il: error:" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--num-demos", "3", "-o", "o", "--episodes", "2", "--seed", "1"], {"num_demos": 3, "out": "o"}),
        (["record", "--num-demos", "3", "--out", "d.h5", "--seed", "1"], {"num_demos": 3, "out": Path("d.h5")}),
        (["record", "-n", "3", "-o", "d.h5"], {"num_demos": 3, "out": Path("d.h5"), "seed": 0}),
        (["demos", "sparsify", "d.h5", "--every", "2", "--out", "s.h5"], {"out": Path("s.h5")}),
        (["demos", "strip-actions", "d.h5", "-o", "s.h5"], {"out": Path("s.h5")}),
        (["eval", "--policy", "p", "--episodes", "2", "--seed", "1", "-o", "e"], {"out": Path("e"), "seed": 1}),
        (["rollout", "--episodes", "2", "--seed", "1", "-o", "e"], {"out": Path("e"), "episodes": 2}),
        (["deploy", "--policy", "p", "--episodes", "2", "--seed", "1"], {"episodes": 2, "seed": 1}),
        (["practice", "--policy", "p", "--episodes", "2", "-o", "o", "--demos", "d.h5"], {"demos": Path("d.h5")}),
    ],
    ids=lambda x: " ".join(x[:2]) if isinstance(x, list) else "",
)
def test_the_same_flags_across_verbs(argv: list[str], expected: dict) -> None:
    args = vars(build_parser().parse_args(argv))
    assert {k: args[k] for k in expected} == expected


def test_demos_is_a_file_everywhere() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--demos", "25"])
