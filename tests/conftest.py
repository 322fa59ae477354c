"""Shared fixtures. Tests run the real MuJoCo simulation; nothing here is mocked."""

from __future__ import annotations

import sys
from pathlib import Path

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
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def ros2_domain() -> int:
    """A ROS domain of our own, so parallel runs and other graphs on the machine do not cross-talk."""
    import os

    domain = 100 + os.getpid() % 100
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return domain


@pytest.fixture(scope="session")
def sim_bridge(ros2_domain: int):
    """The sim bridge node as its own process (real DDS on loopback), for the ROS 2 backend."""
    import os
    import shutil
    import subprocess

    exe = shutil.which("robot-il-sim-bridge") or str(Path(sys.executable).parent / "robot-il-sim-bridge")
    proc = subprocess.Popen([exe], env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
