"""The import layers: no module of robot_il imports from a layer above its own (function-level imports count).

Lowest first. A unit is a subpackage (robot_il/hal) or a top-level module (robot_il/cli.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYERS: list[set[str]] = [
    {"errors"},
    {"config", "stats"},
    {"hal"},  # the Robot / PanTilt interfaces
    {"arm"},  # the arm model from its own description: joints, limits, kinematics; the simulated arms
    {"cell", "safety", "nn"},  # the cell model (geometry, scene, kinematics); the safety filter; networks
    {"tasks"},  # task rules over any backend, and their registry
    {"data"},  # HDF5 demos, checked against the task's layout
    {"envs", "sim", "ros2"},  # gymnasium envs; the backends
    {"checkpoint"},
    {"rollout", "policies"},
    {"report", "deploy"},  # reports; the one safety-filtered control loop, its safe reset, the deploy session
    {"record"},  # recorders: a state machine over the control loop; teleop devices; the recording window
    {"evaluation", "algos"},  # learners
    {"practice", "pipeline", "calibrate", "check"},  # practice on a robot; the `make run` job; bring-up tools
    {"cli"},
]
LAYER = {unit: level for level, units in enumerate(LAYERS) for unit in units}
ROOT = Path(__file__).parents[1] / "robot_il"


def _unit(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return rel.parts[0]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
        found |= {n.split(".")[1] for n in names if n.startswith("robot_il.") and len(n.split(".")) > 1}
    return found


MODULES = sorted(p for p in ROOT.rglob("*.py") if _unit(p) not in ("__init__", "__main__", "sim_assets"))


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in MODULES}
    assert units <= set(LAYER), f"place {sorted(units - set(LAYER))} in LAYERS"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_reaches_up(path: Path) -> None:
    unit = _unit(path)
    up = sorted(t for t in _imports(path) - {unit} if LAYER.get(t, -1) >= LAYER[unit])
    assert not up, f"{path.relative_to(ROOT)} (layer {LAYER[unit]}) imports {up} from its own layer or above"
