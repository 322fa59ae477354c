"""Conditional masked autoregressive flows (zuko) with a floor on each layer's σ."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import zuko
from zuko.transforms import MonotonicAffineTransform


def conditional_maf(
    features: int, context: int, hidden: Sequence[int] = (500, 500), mades: int = 2, min_sigma: float = 0.1
) -> zuko.flows.MAF:
    """p(x | c): ``mades`` stacked MADEs (alternating orders) with Gaussian conditionals.

    Each MADE's affine step has its scale bounded to (min_sigma, 1/min_sigma), so
    no conditional collapses below ``min_sigma`` (in the normalised units the
    flow is trained in): the paper's "min(σ_i)".
    """
    if not 0 < min_sigma < 1:
        raise ValueError(f"min_sigma must be in (0, 1), got {min_sigma}")
    return zuko.flows.MAF(
        features,
        context,
        transforms=mades,
        hidden_features=tuple(hidden),
        univariate=partial(MonotonicAffineTransform, slope=min_sigma),
    )
