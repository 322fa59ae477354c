"""The clip failure-mode measures (benchmarks/clip_failure_modes.py) on tracks whose answer is known."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from clip_failure_modes import episode_modes

LIMITS = {"standoff": 0.02, "align_tol": 0.02, "leg_length": 0.03}


def track(depths, misalign=0.01, lateral=0.001):
    d = np.asarray(depths, dtype=float)
    return np.column_stack([d, np.full_like(d, lateral), np.full_like(d, misalign)])


def test_a_straight_insertion_enters_once_and_never_retries():
    m = episode_modes(track(np.linspace(-0.05, 0.015, 40)), success=True, **LIMITS)
    assert m["entered"] and m["retries"] == 0 and not m["slid_past"]
    assert m["entry_misalign"] == 0.01 and m["inside_misaligned"] == 0.0


def test_backing_out_past_half_the_standoff_counts_as_a_retry_and_a_shallow_wobble_does_not():
    wobble = [-0.03, 0.001, -0.005, 0.002, -0.004, 0.003]  # never back to -standoff/2 = -0.01
    retry = [-0.03, 0.002, -0.012, -0.02, 0.001, -0.015, 0.004]
    assert episode_modes(track(wobble), success=False, **LIMITS)["retries"] == 0
    assert episode_modes(track(retry), success=False, **LIMITS)["retries"] == 2


def test_deeper_than_the_legs_without_latching_slid_past_and_misaligned_steps_inside_are_counted():
    m = episode_modes(track([-0.02, 0.0, 0.02, 0.05, 0.08], misalign=0.3), success=False, **LIMITS)
    assert m["slid_past"] and m["max_depth"] == 0.08 and m["inside_misaligned"] == 1.0
    never = episode_modes(track([-0.09, -0.08]), success=False, **LIMITS)
    assert not never["entered"] and never["entry_misalign"] is None and never["inside_misaligned"] is None
