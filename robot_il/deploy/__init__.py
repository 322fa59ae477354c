"""Deployment: the one fixed-rate control loop through the safety filter, and the one safe reset."""

from robot_il.deploy.loop import SafeController, Trajectory, control_loop

__all__ = ["SafeController", "Trajectory", "control_loop"]
