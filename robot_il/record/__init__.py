"""Recorders: the scripted expert in simulation (expert.py), kinesthetic teaching over ROS 2 (kinesthetic.py),
and interactive recording (recorder.py: teleop devices in teleop.py, the Qt window in gui.py, the terminal
fallback in terminal.py)."""

from robot_il.record.expert import record_expert

__all__ = ["record_expert"]
