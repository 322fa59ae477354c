"""Moved to robot_il.tasks.peg_expert; kept until the last callers move."""

from robot_il.tasks.peg_expert import ScriptedPegExpert  # noqa: F401
