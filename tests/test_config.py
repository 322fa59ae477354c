"""Bad names and bad values fail at construction with one message naming the field."""

from __future__ import annotations

import pytest

from robot_il.cell.config import PegConfig
from robot_il.config import from_dict, load_yaml
from robot_il.errors import ConfigError
from robot_il.hal import make_backend


def test_unknown_backend_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"backend: unknown backend 'sim:nope'; available: .*sim:peg") as err:
        make_backend("sim:nope")
    assert err.value.field == "backend"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"control_rate_hz": -20}, "control_rate_hz", "positive"),
        ({"control_rate_hz": 0}, "control_rate_hz", "positive"),
        ({"control_rate_hz": float("nan")}, "control_rate_hz", "positive"),
        ({"physics_timestep": 0.003}, "physics_timestep", "does not divide"),
        ({"pan_range": (0.4, -0.4)}, "pan_range", "inverted range"),
        ({"tilt_range": [0.2, 0.1]}, "tilt_range", "inverted range"),
        ({"tilt_range": (0.1,)}, "tilt_range", "pair"),
        ({"workspace_low": (0.9, -0.3, 0.1)}, "workspace", "inverted"),
        ({"clearance": -0.001}, "clearance", "non-negative"),
        ({"success_depth": 0.2}, "success_depth", "deeper than the hole"),
        ({"episode_seconds": -1}, "episode_seconds", "positive"),
        ({"max_joint_velocity": (1.0, 1.0)}, "max_joint_velocity", "6 values"),
        ({"contol_rate_hz": 20}, "contol_rate_hz", "unknown field"),
    ],
)
def test_bad_values_name_the_field(fields: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        make_backend("sim:peg", fields)
    assert err.value.field == field


def test_zero_width_ranges_are_allowed() -> None:
    cfg = from_dict(PegConfig, {"pan_range": [0.0, 0.0], "tilt_range": [0.05, 0.05]})
    assert cfg.pan_range == (0.0, 0.0) and cfg.tilt_range == (0.05, 0.05)


def test_missing_config_file_names_the_path(tmp_path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match="not found") as err:
        load_yaml(PegConfig, path)
    assert str(path) in str(err.value)


def test_yaml_errors_name_file_and_field(tmp_path) -> None:
    path = tmp_path / "cell.yaml"
    path.write_text("control_rate_hz: 20\npan_range: [0.5, -0.5]\n")
    with pytest.raises(ConfigError, match="inverted range") as err:
        load_yaml(PegConfig, path)
    assert err.value.field == f"{path}:pan_range"
    path.write_text("pan_range: [0.1, 0.2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(PegConfig, path)


def test_yaml_round_trip(tmp_path) -> None:
    path = tmp_path / "cell.yaml"
    path.write_text("control_rate_hz: 50\nphysics_timestep: 0.002\npan_range: [-0.8, 0.8]\n")
    cfg = load_yaml(PegConfig, path)
    assert cfg.control_rate_hz == 50 and cfg.substeps == 10 and cfg.pan_range == (-0.8, 0.8)
