"""Shared fixtures. Tests run the real MuJoCo simulation; nothing here is mocked."""

from __future__ import annotations

import pytest

from robot_il.sim.config import PegConfig
from robot_il.sim.expert import ScriptedPegExpert


@pytest.fixture(scope="session")
def peg_config() -> PegConfig:
    return PegConfig()


@pytest.fixture(scope="session")
def expert(peg_config: PegConfig) -> ScriptedPegExpert:
    return ScriptedPegExpert(peg_config)


def pytest_configure(config) -> None:
    """Let tests import ``helpers`` (builders of demo files) without making tests a package."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
