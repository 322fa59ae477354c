"""Small statistics used in reports."""

from __future__ import annotations

import math


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (sensible at 0 and 1, unlike the normal one)."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def seed_summary(records: list[dict]) -> dict:
    """Success over a method's runs, one per seed: ``records`` each hold ``seed`` and ``final`` (an evaluation's
    ``success_rate``, ``successes``, ``episodes``). Mean and minimum over seeds, and the Wilson interval of all
    episodes pooled."""
    rates = [r["final"]["success_rate"] for r in records]
    k, n = sum(r["final"]["successes"] for r in records), sum(r["final"]["episodes"] for r in records)
    return {
        "seeds": [r["seed"] for r in records],
        "mean_success": sum(rates) / len(rates),
        "min_success": min(rates),
        "success_per_seed": rates,
        "pooled_ci95": list(wilson_interval(k, n)),
    }
