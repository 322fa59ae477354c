"""Shared fixtures. Tests run the real MuJoCo simulation; nothing here is mocked."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# One math thread per process, inherited by the processes tests start (learners, actors): on a small machine
# shared with other jobs, OpenMP's spinning threads make a busy core's neighbour crawl.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

from robot_il.cell.config import PegConfig
from robot_il.tasks.peg_expert import ScriptedPegExpert


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


def _start(console_script: str, *args: str):
    import os
    import shutil
    import subprocess

    exe = shutil.which(console_script) or str(Path(sys.executable).parent / console_script)
    return subprocess.Popen([exe, *args], env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop(proc) -> None:
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def command_gate(ros2_domain: int):
    """The command gate as its own process, between the ROS 2 backend and the (simulated) controller."""
    proc = _start("robot-il-command-gate", "--ros-args", "-p", "rate:=20.0", "-p", "timeout_periods:=3.0")
    yield proc
    _stop(proc)


@pytest.fixture(scope="session")
def sim_bridge(ros2_domain: int, command_gate):
    """The sim bridge node as its own process (real DDS on loopback), for the ROS 2 backend, with the gate."""
    proc = _start("robot-il-sim-bridge")
    yield proc
    _stop(proc)


@pytest.fixture
def released_gate(sim_bridge):
    """Releases the command gate after a test that may have latched it (a kill, an e-stop)."""
    from robot_il.ros2.command_gate import RELEASE_SERVICE, call_gate_service

    yield
    call_gate_service(RELEASE_SERVICE)
