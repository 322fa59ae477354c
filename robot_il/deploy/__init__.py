"""Deployment: the fixed-rate control loop through the safety filter."""

from robot_il.deploy.loop import DeployResult, SafeController, deploy_episode

__all__ = ["DeployResult", "SafeController", "deploy_episode"]
