"""`robot-il calibrate`: the fixture's mount pose from touched points, on a deliberately offset simulated fixture."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from robot_il.arm import rpy_matrix
from robot_il.calibrate import MountFit, angle_between, solve_mount, targets, write_cell_yaml
from robot_il.cell.config import PegConfig
from robot_il.cli import main as cli
from robot_il.errors import ConfigError


def test_the_fit_recovers_a_known_mount_from_exact_points_and_refuses_too_few() -> None:
    truth_r, truth_t = rpy_matrix(0.03, -0.02, 0.4), np.array([0.7, -0.05, 0.31])
    points = np.array([t.point for t in targets(PegConfig())])
    fit = solve_mount(points, points @ truth_r.T + truth_t)
    assert np.allclose(fit.tilt_center, truth_t, atol=1e-12)
    assert angle_between(rpy_matrix(*fit.fixture_rpy), truth_r) < 1e-9 and fit.residuals_mm.max() < 1e-9
    with pytest.raises(ConfigError, match="at least 3 points not on one line"):
        solve_mount(points[:2], points[:2])
    line = np.array([[0, 0, 0], [0.1, 0, 0], [0.2, 0, 0]])
    with pytest.raises(ConfigError, match="not on one line"):
        solve_mount(line, line)


def test_calibrating_an_offset_simulated_fixture_finds_it_within_1_mm_and_half_a_degree(tmp_path: Path) -> None:
    """The simulated fixture sits 8 mm, 13 mm and 8 mm off the nominal (0.74, 0, 0.35) and turned by 0.7, 1.0 and
    3.4 degrees; the scripted hand touches 16 points through the safety filter, the fit is written over the
    nominal values of the cell YAML, whose other lines and comments stay."""
    truth = {"tilt_center": [0.748, 0.013, 0.358], "fixture_rpy": [0.012, -0.018, 0.06]}
    true_cell = tmp_path / "true.yaml"
    true_cell.write_text(yaml.safe_dump(truth))
    out = tmp_path / "cell.yaml"
    out.write_text(
        "arm:\n  tip_link: flange  # the flange\ncell:\n  tilt_center: [0.74, 0.0, 0.35]\n  hole_offset: 0.09\n"
        "control_rate_hz: 20.0\n"
    )
    code = cli(
        ["calibrate", "--backend", "sim:peg", "--config", str(true_cell), "--device", "scripted", "-o", str(out)]
    )
    assert code == 0
    text = out.read_text()
    written = yaml.safe_load(text)
    assert "tip_link: flange  # the flange" in text and written["control_rate_hz"] == 20.0
    center = np.array(written["tilt_center"] if "tilt_center" in written else written["cell"]["tilt_center"])
    rpy = written.get("fixture_rpy") or written["cell"]["fixture_rpy"]
    position_error = np.linalg.norm(center - truth["tilt_center"]) * 1e3
    angle_error = math.degrees(angle_between(rpy_matrix(*rpy), rpy_matrix(*truth["fixture_rpy"])))
    assert position_error < 1.0, f"the fixture was found {position_error:.2f} mm from where it is"
    assert angle_error < 0.5, f"the fixture's orientation was found {angle_error:.3f} deg off"
    assert "residual rms" in text


def test_the_fit_goes_into_a_backend_configs_cell_section(tmp_path: Path) -> None:
    path = tmp_path / "ur5e.yaml"
    path.write_text("arm:\n  tip_link: tool0\ncell:            # measured\n  tilt_center: [0.74, 0.0, 0.35]\n"
                    "  workspace_low: [0.25, -0.35, 0.1]\nlimits: ur5e_limits.yaml\n")  # fmt: skip
    fit = MountFit((0.7, 0.01, 0.3), (0.0, 0.01, -0.02), np.array([0.1, 0.2]))
    write_cell_yaml(path, fit, section="cell")
    loaded = yaml.safe_load(path.read_text())
    assert loaded["cell"]["tilt_center"] == [0.7, 0.01, 0.3] and loaded["cell"]["fixture_rpy"] == [0.0, 0.01, -0.02]
    assert loaded["cell"]["workspace_low"] == [0.25, -0.35, 0.1] and loaded["limits"] == "ur5e_limits.yaml"
    assert "cell:            # measured" in path.read_text()
