"""Recorders: scripted expert in simulation (here), kinesthetic and teleop (ROS 2 issue)."""

from robot_il.record.expert import record_expert

__all__ = ["record_expert"]
