"""Tasks: randomisation, success and termination over any Robot + PanTilt backend."""

from robot_il.tasks.peg_insertion import PegInsertionTask, StepOutcome

__all__ = ["PegInsertionTask", "StepOutcome"]
