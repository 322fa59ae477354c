"""Launch files (no `launch` package here): each defines generate_launch_description, and every program it
starts exists as a console script, so what they start is what the other tests exercise."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

LAUNCH_FILES = sorted(Path(__file__).parents[1].glob("drivers/*/launch/*.launch.py"))
CONSOLE_SCRIPTS = {"robot-il", "robot-il-sim-bridge", "robot-il-command-gate", "pan-tilt-node"}
ROS_TOOLS = {"ros2"}
"""Programs of the user's ROS 2 install (``ros2 control switch_controllers``), not of this project: there is no
ros2cli on this machine, so they are named, not run."""
CONFIG = Path(__file__).parents[1] / "drivers" / "robot_il_bringup" / "config"
ARMS = ("ur5e", "fr3")


def test_the_bringup_launch_files_exist() -> None:
    names = {p.name for p in LAUNCH_FILES}
    assert {"sim.launch.py", "real.launch.py", "record.launch.py", "deploy.launch.py", "pan_tilt.launch.py"} <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_starts_only_installed_programs(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    started = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "executable" and isinstance(node.value, ast.Constant):
            started.add(node.value.value)
        if isinstance(node, ast.keyword) and node.arg == "cmd" and isinstance(node.value, ast.List):
            first = node.value.elts[0]
            assert isinstance(first, ast.Constant), f"{path.name}: the program must be named literally"
            started.add(first.value)
    assert started, f"{path.name} starts nothing"
    assert started <= CONSOLE_SCRIPTS | ROS_TOOLS, f"{path.name} starts {started - CONSOLE_SCRIPTS - ROS_TOOLS}"
    for program in started - ROS_TOOLS:
        assert shutil.which(program) or (Path(sys.executable).parent / program).exists(), f"{program} not installed"


@pytest.mark.parametrize("name", ["sim.launch.py", "real.launch.py"])
def test_the_cell_launch_files_start_the_command_gate(name: str) -> None:
    path = next(p for p in LAUNCH_FILES if p.name == name)
    assert "robot-il-command-gate" in path.read_text(), f"{name} does not start the command gate"


def test_the_gate_parameters_do_not_undercut_the_safety_limits() -> None:
    """A command the safety filter allows must not latch the gate: its bounds are at least the limits file's."""
    import yaml

    root = Path(__file__).parents[1]
    gate = yaml.safe_load((root / "drivers/robot_il_bringup/config/command_gate.yaml").read_text())
    params = gate["robot_il_command_gate"]["ros__parameters"]
    limits = yaml.safe_load((root / "robot_il/safety/arms/jaco.yaml").read_text())["joint_limits"]
    for name, bound in zip(params["joint_names"], params["max_velocity"], strict=True):
        assert bound >= limits[name]["max_velocity"], f"{name}: gate {bound} < limits {limits[name]['max_velocity']}"


@pytest.mark.parametrize("arm", ARMS)
def test_each_shipped_arm_has_a_backend_config_limits_within_its_description_and_a_gate_that_fits(arm: str) -> None:
    """The per-arm bring-up files: robot-il's backend YAML loads, its limits file is within the arm's description
    (the simulated arm's URDF, written from the maker's own parameters), and the gate's bounds do not undercut
    the limits (a command the filter allows must not latch the gate) nor name other joints."""
    import math

    import yaml

    from robot_il.arm import sim_arm
    from robot_il.ros2.config import load_ros2_config
    from robot_il.safety import load_limits

    cfg = load_ros2_config(CONFIG / f"{arm}.yaml")
    model = sim_arm(arm).model()
    assert cfg.arm.tip_link == sim_arm(arm).tip_link and cfg.limits == str(CONFIG / f"{arm}_limits.yaml")
    limits = load_limits(cfg.limits, model.joint_names, model.limits, "the arm's description")
    gate = yaml.safe_load((CONFIG / f"command_gate_{arm}.yaml").read_text())["robot_il_command_gate"]
    params = gate["ros__parameters"]
    assert tuple(params["joint_names"]) == model.joint_names
    assert params["controller"] == cfg.controller
    for name, bound, joint in zip(params["joint_names"], params["max_velocity"], limits.joints, strict=True):
        assert bound >= joint.max_velocity, f"{arm} {name}: gate {bound} < limits {joint.max_velocity}"
        assert math.isfinite(joint.max_velocity)
    assert tuple(cfg.cell.workspace_low) == tuple(limits.cartesian.workspace_min)
