"""HDF5 demonstrations in robomimic's layout: writer, reader, validator, transforms."""

from robot_il.data.reader import Demo, DemoLayoutError, DemoSet, check_task_layout, load_demos, validate
from robot_il.data.transforms import sparsify, strip_actions, summary
from robot_il.data.writer import DemoFileError, DemoWriter, EpisodeBuffer

__all__ = [
    "Demo",
    "DemoFileError",
    "DemoLayoutError",
    "DemoSet",
    "DemoWriter",
    "EpisodeBuffer",
    "check_task_layout",
    "load_demos",
    "sparsify",
    "strip_actions",
    "summary",
    "validate",
]
