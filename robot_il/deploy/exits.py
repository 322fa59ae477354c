"""Every way out of a process that can move the arm: signals become exceptions, stopping is not interrupted.

SIGINT and SIGTERM raise :class:`Stopped` (a ``BaseException``, so no ``except
Exception`` in a control loop can swallow it) in the main thread; the ``finally``
blocks of the deploy session then command zero and close the backend, and the
process exits with ``128 + signal``. While a stop is in progress
(:func:`stopping`), a further signal is remembered, not raised, so a second
Ctrl-C cannot cut the zero command short. ``kill -9`` runs no code at all: that
way out is the command gate's (:mod:`robot_il.ros2.command_gate`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_stopping = 0
_deferred: list[int] = []


class Stopped(BaseException):
    """The process was told to stop by a signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _on_signal(signum: int, _frame) -> None:
    if _stopping:
        _deferred.append(signum)
        return
    raise Stopped(signum)


@contextlib.contextmanager
def signals_raise_stopped() -> Iterator[None]:
    """Within this block SIGINT and SIGTERM raise :class:`Stopped` in the main thread; the previous handlers
    come back after it (a test runner calling the CLI in-process keeps its own). Elsewhere than in the main
    thread (which alone may install handlers) it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def stopping() -> Iterator[None]:
    """Run a stop (zero command, close) to the end; a signal that arrives meanwhile is raised afterwards."""
    global _stopping
    _stopping += 1
    try:
        yield
    finally:
        _stopping -= 1
        if not _stopping and _deferred:
            signum = _deferred.pop(0)
            _deferred.clear()
            raise Stopped(signum)
