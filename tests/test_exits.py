"""Signals become a clean stop: SIGINT/SIGTERM raise Stopped, and a stop in progress is not cut short."""

from __future__ import annotations

import os
import signal
import time

import pytest

from robot_il.deploy.exits import Stopped, signals_raise_stopped, stopping


def _signal_self(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.1)  # the handler runs at the next bytecode boundary


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_raises_stopped_with_the_shell_exit_code(signum: int, code: int) -> None:
    before = signal.getsignal(signum)
    with pytest.raises(Stopped) as stop, signals_raise_stopped():
        _signal_self(signum)
    assert stop.value.exit_code == code
    assert signal.getsignal(signum) is before, "the previous handler was not restored"


def test_a_signal_during_a_stop_is_raised_after_it() -> None:
    finished = []
    with pytest.raises(Stopped, match="SIGTERM"), signals_raise_stopped():
        with stopping():
            _signal_self(signal.SIGTERM)
            finished.append("zero sent")  # the stop is not interrupted
        finished.append("after the stop")
    assert finished == ["zero sent"]


def test_stopped_is_not_an_exception_a_control_loop_could_swallow() -> None:
    assert not issubclass(Stopped, Exception)
