"""Moved to robot_il.cell.config; kept until the last callers move."""

from robot_il.cell.config import *  # noqa: F403
from robot_il.cell.config import JACO_HOME, JACO_MAX_VELOCITY, PegConfig  # noqa: F401
